/**
 * The parts of a multimodal VAE, one set per modality: a Gaussian expert q(z | x_m) (an encoder
 * that also hands out its mean and scale, for the product of experts), a decoder p(x_m | z) (any
 * `ConditionalDistribution`: `bernoulliDecoder` / `gaussianDecoder` of `@dgm-js/vae` for
 * images, {@link categoricalDecoder} for labels) and a likelihood weight.
 */
import {
  checkInt,
  type Distribution,
  fmtShape,
  mlp,
  OneHotCategorical,
  type Rng,
  ShapeError,
  softplus,
  tf,
  ValueError,
} from '@dgm-js/core-tensors';
import {
  bernoulliDecoder,
  ConditionalModule,
  gaussianDecoder,
  type TensorModule,
} from '@dgm-js/vae';
import { diagNormal, type GaussianParams } from './poe.js';

type Tensor = tf.Tensor;

/**
 * A diagonal Gaussian encoder expert q(z | x_m): the network maps x `[B, ...]` to `[B, 2d]`
 * (means, then pre-softplus scales; scale = softplus(.) + minScale). `gaussian(x)` gives the mean
 * and scale the product of experts needs; `condition(x)` the distribution itself.
 *
 * @example
 * ```ts
 * import { mlp, Rng } from '@dgm-js/core-tensors';
 * const expert = new GaussianExpert(mlp([784, 256, 2 * 16], { rng: new Rng(0) }), { latentDim: 16 });
 * const { loc, scale } = expert.gaussian(x); // [B, 16] each
 * ```
 */
export class GaussianExpert extends ConditionalModule {
  readonly latentDim: number;
  readonly minScale: number;

  constructor(net: TensorModule, opts: { latentDim: number; minScale?: number }) {
    super('GaussianExpert', net);
    this.latentDim = checkInt(opts?.latentDim, 'latentDim', this.kind);
    this.minScale = opts.minScale ?? 1e-4;
    if (!(Number.isFinite(this.minScale) && this.minScale >= 0)) {
      throw new ValueError(
        `${this.kind}: minScale must be a finite number >= 0, got ${this.minScale}.`,
      );
    }
  }

  /** Means and scales `[B, latentDim]` for x `[B, ...]` (new tensors the caller owns). */
  gaussian(x: Tensor): GaussianParams {
    const [loc, scale] = tf.tidy(() => {
      const h = this.output(
        tf.reshape(x, [x.shape[0] as number, -1]),
        2 * this.latentDim,
        '(means, then pre-softplus scales)',
      );
      const [l, raw] = tf.split(h, 2, 1) as [Tensor, Tensor];
      return [l, tf.add(softplus(raw), this.minScale)];
    });
    return { loc: loc as Tensor, scale: scale as Tensor };
  }

  condition(x: Tensor): Distribution {
    const { loc, scale } = this.gaussian(x);
    return diagNormal(loc, scale);
  }
}

class OwnedOneHot extends OneHotCategorical {
  constructor(logits: Tensor) {
    super({ logits }, { validate: false });
    this.own(logits);
  }
}

/**
 * p(y | z) = Cat(softmax(logits(z))) over one-hot labels; see {@link categoricalDecoder}.
 *
 * @example
 * ```ts
 * const dec = new CategoricalDecoder(mlp([16, 64, 10], { rng }), { numClasses: 10 });
 * ```
 */
export class CategoricalDecoder extends ConditionalModule {
  readonly numClasses: number;

  constructor(net: TensorModule, opts: { numClasses: number }) {
    super('CategoricalDecoder', net);
    this.numClasses = checkInt(opts?.numClasses, 'numClasses', this.kind, { min: 2 });
  }

  condition(z: Tensor): Distribution {
    const logits = tf.tidy(() =>
      this.output(
        tf.reshape(z, [z.shape[0] as number, -1]),
        this.numClasses,
        `(one logit per class)`,
      ),
    );
    return new OwnedOneHot(logits);
  }
}

/**
 * A decoder for one-hot labels: the network maps latents `[N, d]` to `[N, K]` logits;
 * p(y | z) = OneHotCategorical(logits), batch `[N]`, event `[K]` (its `logProb` takes one-hot
 * rows, its `mean` is the class probabilities).
 *
 * @example
 * ```ts
 * import { mlp, Rng } from '@dgm-js/core-tensors';
 * const dec = categoricalDecoder(mlp([16, 64, 10], { rng: new Rng(0) }), { numClasses: 10 });
 * const py = dec.condition(z); // batch [N], event [10]
 * py.dispose();
 * ```
 */
export function categoricalDecoder(
  net: TensorModule,
  opts: { numClasses: number },
): CategoricalDecoder {
  return new CategoricalDecoder(net, opts);
}

/** One modality of a multimodal VAE. */
export interface Modality {
  /** The key of this modality's tensor in a batch (letters, digits, '_' or '-'). */
  readonly name: string;
  /** q(z | x_m), a Gaussian expert. */
  readonly encoder: GaussianExpert;
  /** p(x_m | z): batch `[N]`, one distribution per latent; its event holds one example. */
  readonly decoder: ConditionalModule;
  /** The weight lambda_m of log p(x_m | z) in the training objective. Default 1. */
  readonly weight?: number;
}

/** Options of {@link mlpModality}. */
export interface MlpModalityOptions {
  /** The key of this modality's tensor in a batch. */
  readonly name: string;
  /** Features per example (784 for flat MNIST, 10 for one-hot labels). */
  readonly inputDim: number;
  /** Hidden widths of the encoder and (reversed) the decoder. */
  readonly hidden: readonly number[];
  readonly latentDim: number;
  /**
   * The likelihood: 'bernoulli' (binary pixels), { type: 'gaussian', scale } (real values) or
   * 'categorical' (one-hot labels; `inputDim` classes).
   */
  readonly likelihood: 'bernoulli' | 'categorical' | { type: 'gaussian'; scale: number };
  /** lambda_m. Default 1. */
  readonly weight?: number;
  readonly rng: Rng;
  /** Hidden activation. Default 'relu'. */
  readonly activation?: 'relu' | 'tanh' | 'elu';
}

/**
 * A modality with MLP expert and decoder: encoder inputDim-hidden-2d, decoder d-reversed
 * hidden-inputDim, with the likelihood named.
 *
 * @example
 * ```ts
 * import { Rng } from '@dgm-js/core-tensors';
 * const rng = new Rng(0);
 * const image = mlpModality({ name: 'image', inputDim: 784, hidden: [512], latentDim: 32, likelihood: 'bernoulli', rng });
 * const label = mlpModality({ name: 'label', inputDim: 10, hidden: [64], latentDim: 32, likelihood: 'categorical', weight: 50, rng });
 * ```
 */
export function mlpModality(o: MlpModalityOptions): Modality {
  const who = 'mlpModality';
  if (!o || typeof o.name !== 'string' || !/^[A-Za-z0-9_-]+$/.test(o.name)) {
    throw new ValueError(
      `${who}: name must be letters, digits, '_' or '-', got ${JSON.stringify(o?.name)}.`,
    );
  }
  const inputDim = checkInt(o.inputDim, 'inputDim', who);
  const d = checkInt(o.latentDim, 'latentDim', who);
  if (!Array.isArray(o.hidden)) {
    throw new ValueError(`${who}: hidden must be an array of layer widths, e.g. [512].`);
  }
  const hidden = o.hidden.map((h) => checkInt(h, 'every hidden width', who));
  const act = { rng: o.rng, activation: o.activation ?? 'relu' } as const;
  const encoder = new GaussianExpert(mlp([inputDim, ...hidden, 2 * d], act), { latentDim: d });
  const decNet = mlp([d, ...[...hidden].reverse(), inputDim], act);
  const lik = o.likelihood;
  let decoder: ConditionalModule;
  if (lik === 'bernoulli') decoder = bernoulliDecoder(decNet);
  else if (lik === 'categorical') decoder = categoricalDecoder(decNet, { numClasses: inputDim });
  else if (lik && typeof lik === 'object' && lik.type === 'gaussian')
    decoder = gaussianDecoder(decNet, { scale: lik.scale });
  else {
    encoder.dispose();
    decNet.dispose();
    throw new ValueError(
      `${who}: likelihood must be 'bernoulli', 'categorical' or { type: 'gaussian', scale }, got ${JSON.stringify(lik)}.`,
    );
  }
  return {
    name: o.name,
    encoder,
    decoder,
    ...(o.weight === undefined ? {} : { weight: o.weight }),
  };
}

/** Checks a modality list (names unique and valid, experts of one latent size); returns d. */
export function checkModalities(modalities: readonly Modality[], who: string): number {
  if (!Array.isArray(modalities) || modalities.length === 0) {
    throw new ValueError(
      `${who}: modalities must be a non-empty array of { name, encoder, decoder, weight? } (see mlpModality).`,
    );
  }
  const seen = new Set<string>();
  let d: number | undefined;
  modalities.forEach((m, i) => {
    if (!m || typeof m.name !== 'string' || !/^[A-Za-z0-9_-]+$/.test(m.name)) {
      throw new ValueError(
        `${who}: modalities[${i}].name must be letters, digits, '_' or '-', got ${JSON.stringify(m?.name)}.`,
      );
    }
    if (seen.has(m.name))
      throw new ValueError(`${who}: two modalities are named '${m.name}'; names must be unique.`);
    seen.add(m.name);
    if (!(m.encoder instanceof GaussianExpert)) {
      throw new ValueError(
        `${who}: modalities[${i}] ('${m.name}').encoder must be a GaussianExpert (the product of experts needs its mean and scale).`,
      );
    }
    if (!(m.decoder instanceof ConditionalModule)) {
      throw new ValueError(
        `${who}: modalities[${i}] ('${m.name}').decoder must be a ConditionalModule (e.g. bernoulliDecoder(net), categoricalDecoder(net, ...)).`,
      );
    }
    if (d !== undefined && m.encoder.latentDim !== d) {
      throw new ShapeError(
        `${who}: modalities[${i}] ('${m.name}') has a latent size ${m.encoder.latentDim}, the first ${d}; every expert must give the same latentDim.`,
      );
    }
    d = m.encoder.latentDim;
    const w = m.weight ?? 1;
    if (!(Number.isFinite(w) && w >= 0)) {
      throw new ValueError(
        `${who}: modalities[${i}] ('${m.name}').weight must be a finite number >= 0, got ${w}.`,
      );
    }
  });
  return d as number;
}

/** Checks `x` is a live float32 `[B, ...]` tensor for modality `name`. */
export function checkInput(x: unknown, name: string, b: number | undefined, who: string): Tensor {
  if (!(x instanceof tf.Tensor) || x.isDisposed) {
    throw new ValueError(`${who}: data.${name} must be a live tf.Tensor [batch, ...].`);
  }
  if (x.rank < 2 || (b !== undefined && x.shape[0] !== b)) {
    throw new ShapeError(
      `${who}: data.${name} has shape ${fmtShape(x.shape)}; every modality's tensor must be [batch, ...] with the same batch${b === undefined ? '' : ` (${b})`}.`,
    );
  }
  if (x.dtype !== 'float32') {
    throw new ValueError(
      `${who}: data.${name} must be float32 (one-hot rows for labels), got ${x.dtype}.`,
    );
  }
  return x;
}
