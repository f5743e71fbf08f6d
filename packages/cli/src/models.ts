/**
 * The model kinds `dgm train` knows: their options (flags, defaults, checks), how each is built
 * from a run's options, how it samples images, and which metrics `dgm eval` computes for it. All
 * are the dgm.js packages' own classes; nothing here is a model of its own.
 */
import { type Rng, type Tensor, tf } from '@dgm-js/core-tensors';
import { ESTIMATOR_NAMES } from '@dgm-js/estimators';
import { AffineCoupling, alternatingMask, Flow, LogitTransform } from '@dgm-js/flows';
import { MlpCritic, MlpGenerator } from '@dgm-js/gan';
import { BernoulliVAE, CategoricalVAE, GaussianVAE, type VAE } from '@dgm-js/vae';
import { CliError } from './errors.js';
import { MODELS, type ModelKind, type ModelOptions, OPTION_FLAGS } from './specs.js';

export type { Family, ModelKind, ModelOptions, ModelSpec } from './specs.js';
export { MODEL_KINDS, MODELS, modelKind, OPTION_FLAGS } from './specs.js';

/**
 * The options of a kind: its defaults overridden by the given flags; a CliError naming a flag
 * the kind does not take, or an estimator that does not exist.
 */
export function resolveOptions(kind: ModelKind, given: Partial<ModelOptions>): ModelOptions {
  const spec = MODELS[kind];
  const out: ModelOptions = { ...spec.defaults, hidden: [...spec.defaults.hidden] };
  for (const [k, v] of Object.entries(given) as [keyof ModelOptions, unknown][]) {
    if (v === undefined) continue;
    if (!(k in spec.defaults)) {
      const takes = Object.keys(spec.defaults)
        .map((o) => OPTION_FLAGS[o as keyof ModelOptions])
        .join(', ');
      throw new CliError(
        `${OPTION_FLAGS[k]}: ${kind} does not take this option (it takes ${takes}).`,
      );
    }
    (out as unknown as Record<string, unknown>)[k] = v;
  }
  if (
    out.estimator !== undefined &&
    !(ESTIMATOR_NAMES as readonly string[]).includes(out.estimator)
  ) {
    throw new CliError(
      `--estimator: unknown estimator '${out.estimator}'; choose one of ${ESTIMATOR_NAMES.join(', ')}.`,
    );
  }
  return out;
}

/** MNIST pixels per image. */
export const PIXELS = 784;
/** Images are `[n, 28, 28, 1]`. */
export const IMAGE_SHAPE = [28, 28, 1] as const;

/** A built model of one of the three families. */
export type BuiltModel =
  | { family: 'vae'; kind: ModelKind; vae: VAE }
  | { family: 'flow'; kind: ModelKind; flow: Flow }
  | { family: 'gan'; kind: ModelKind; generator: MlpGenerator; critic: MlpCritic };

/**
 * Builds the model a run describes, with fresh parameters drawn from `rng` (the Trainer or a
 * checkpoint then sets them).
 *
 * @example
 * ```ts
 * const m = buildModel('gaussian-vae', { hidden: [64], latentDim: 8 }, new Rng(0));
 * disposeModel(m);
 * ```
 */
export function buildModel(kind: ModelKind, o: ModelOptions, rng: Rng): BuiltModel {
  const hidden = o.hidden;
  switch (kind) {
    case 'gaussian-vae':
      return {
        family: 'vae',
        kind,
        vae: GaussianVAE.mlp({ inputDim: PIXELS, hidden, latentDim: o.latentDim!, rng }),
      };
    case 'bernoulli-vae':
      return {
        family: 'vae',
        kind,
        vae: BernoulliVAE.mlp({
          inputDim: PIXELS,
          hidden,
          latentDim: o.latentDim!,
          estimator: o.estimator as never,
          rng,
        }),
      };
    case 'categorical-vae':
      return {
        family: 'vae',
        kind,
        vae: CategoricalVAE.mlp({
          inputDim: PIXELS,
          hidden,
          latents: o.latents!,
          categories: o.categories!,
          estimator: o.estimator as never,
          rng,
        }),
      };
    case 'realnvp': {
      // base side first: couplings on alternating pixels, then the logit transform to [0, 1]
      const couplings = Array.from(
        { length: o.couplings! },
        (_, i) => new AffineCoupling(alternatingMask(PIXELS, (i % 2) as 0 | 1), { rng, hidden }),
      );
      return {
        family: 'flow',
        kind,
        flow: new Flow([...couplings, new LogitTransform({ alpha: 1e-6 })], { dim: PIXELS }),
      };
    }
    case 'mlp-gan':
      return {
        family: 'gan',
        kind,
        generator: new MlpGenerator({
          latentDim: o.latentDim!,
          outputShape: [...IMAGE_SHAPE],
          hidden,
          outputActivation: 'sigmoid',
          rng,
        }),
        critic: new MlpCritic({ inputShape: [...IMAGE_SHAPE], hidden: [...hidden].reverse(), rng }),
      };
  }
}

/**
 * `n` images `[n, 28, 28, 1]` in [0, 1] from the model: the mean of p(x | z) at z ~ p(z) for a
 * VAE, an exact flow sample (clipped to [0, 1]), the generator's output for a GAN.
 */
export function sampleImages(m: BuiltModel, n: number, rng: Rng): Tensor {
  if (m.family === 'vae') return m.vae.sample(n, { rng, shape: [...IMAGE_SHAPE] });
  if (m.family === 'gan') return m.generator.generate(n, rng);
  const flow = m.flow;
  return tf.tidy(() => {
    const x = flow.sample({ sampleShape: [n], rng });
    return tf.clipByValue(tf.reshape(x, [n, ...IMAGE_SHAPE]), 0, 1);
  });
}

/** Frees a built model's tensors. */
export function disposeModel(m: BuiltModel): void {
  if (m.family === 'vae') m.vae.dispose();
  else if (m.family === 'flow') m.flow.dispose();
  else {
    m.generator.dispose();
    m.critic.dispose();
  }
}
