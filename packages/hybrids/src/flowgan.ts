/**
 * FlowGAN (Grover, Dhar & Ermon, AAAI 2018): a normalizing flow used as a GAN generator, so every
 * model has an exact likelihood. The flow (RealNVP affine couplings from `@dgm-js/flows`, a
 * Gaussian or logistic prior, a logit transform into the unit cube) is trained by maximum
 * likelihood (MLE), adversarially against a WGAN-GP critic with 5 critic steps per generator step
 * (ADV, as the reference code), or by the hybrid
 *   min_theta  NLL(theta) + lambda * L_adv(theta),
 * where NLL is the mean negative log-likelihood per dimension of uniformly dequantised data (in
 * nats: KL(p_data || p_theta) up to the data's entropy, per dimension) and L_adv the Wasserstein
 * generator loss -E[D(G(z))].
 */
import {
  type Critic,
  checkInt,
  fmtShape,
  type Generator,
  Independent,
  Logistic,
  Module,
  type Rng,
  type SampleOptions,
  ShapeError,
  tf,
  ValueError,
} from '@dgm-js/core-tensors';
import {
  AffineCoupling,
  alternatingMask,
  dequantize,
  Flow,
  LogitTransform,
  standardNormal,
} from '@dgm-js/flows';
import { gradientPenalty, wasserstein } from '@dgm-js/gan';
import type { AnyModule, LoopContext } from './flowgan-loop.js';

type Tensor = tf.Tensor;
type Scalar = tf.Scalar;

/** How a FlowGAN's generator is trained. */
export type FlowGanMode = 'mle' | 'adv' | 'hybrid';
const MODES: readonly FlowGanMode[] = ['mle', 'adv', 'hybrid'];

/** Options of {@link flowGanFlow}. */
export interface FlowGanFlowOptions {
  /** Values per example (784 for MNIST). */
  dim: number;
  /** Seeds the initial weights. */
  rng: Rng;
  /** Affine coupling layers (alternating masks). Default 6. */
  layers?: number;
  /** Hidden widths of each coupling's conditioner. Default [256]. */
  hidden?: readonly number[];
  /** The prior of the flow's latent: 'logistic' (NICE, the reference code) or 'gaussian' (RealNVP). Default 'logistic'. */
  prior?: 'gaussian' | 'logistic';
  /** The logit transform's margin (see `LogitTransform`). Default 1e-6 (MNIST). */
  alpha?: number;
}

/**
 * A coupling flow over the unit cube `(0, 1)^dim`: u ~ prior, then affine couplings with
 * alternating masks, then the logit transform's sampling direction (sigmoid). `logProb(x)` is the
 * exact density of dequantised pixels in [0, 1).
 *
 * @example
 * ```ts
 * const flow = flowGanFlow({ dim: 784, rng: new Rng(0), layers: 6, hidden: [256] });
 * const nll = tf.neg(flow.logProb(dequantize(x, { rng }))); // [N], nats
 * ```
 */
export function flowGanFlow(opts: FlowGanFlowOptions): Flow {
  const who = 'flowGanFlow';
  const dim = checkInt(opts?.dim, 'dim', who, { min: 2 });
  if (!opts.rng) throw new ValueError(`${who}: pass the seed stream, e.g. { rng: new Rng(0) }.`);
  const layers = checkInt(opts.layers ?? 6, 'layers', who);
  const prior = opts.prior ?? 'logistic';
  if (prior !== 'gaussian' && prior !== 'logistic') {
    throw new ValueError(
      `${who}: prior must be 'gaussian' or 'logistic', got ${JSON.stringify(prior)}.`,
    );
  }
  const logit = new LogitTransform({ alpha: opts.alpha ?? 1e-6, validate: false });
  const couplings = Array.from(
    { length: layers },
    (_, i) =>
      new AffineCoupling(alternatingMask(dim, (i % 2) as 0 | 1), {
        rng: opts.rng,
        hidden: opts.hidden ?? [256],
      }),
  );
  const base =
    prior === 'gaussian'
      ? standardNormal(dim)
      : new Independent(
          new Logistic(new Array<number>(dim).fill(0), new Array<number>(dim).fill(1), {
            validate: false,
          }),
          1,
        );
  return new Flow([...couplings, logit], { dim, base });
}

/** Options of {@link FlowGan}. */
export interface FlowGanOptions {
  /** The generator: a flow over `[D]` vectors in the unit cube (e.g. {@link flowGanFlow}). */
  flow: Flow;
  /** The critic over `[D]` examples (e.g. `MlpCritic` of `@dgm-js/gan`); required for 'adv' and 'hybrid'. */
  critic?: AnyModule & Critic;
  /** 'mle', 'adv' or 'hybrid'. */
  mode: FlowGanMode;
  /** The adversarial term's weight in the hybrid objective (required there, >= 0). */
  lambda?: number;
  /** WGAN-GP penalty weight. Default 10. */
  gpWeight?: number;
  /** Critic updates per generator update. Default 5. */
  nCritic?: number;
}

/** The generator objective and its parts (scalars the caller owns). */
export interface FlowGanGeneratorLoss {
  /** What the generator minimises: nll (mle), adv (adv) or nll + lambda * adv (hybrid). */
  loss: Scalar;
  /** Mean NLL per dimension of the batch, nats. */
  nll: Scalar;
  /** The Wasserstein generator loss -E[D(G(z))] (0 without a critic). */
  adv: Scalar;
}

/**
 * FlowGAN: a flow generator, a WGAN-GP critic, and the three objectives. Train it with
 * {@link FlowGanTrainer}; its exact test NLL is {@link FlowGan.nllPerExample}.
 *
 * @example
 * ```ts
 * const rng = new Rng(0);
 * const model = new FlowGan({
 *   flow: flowGanFlow({ dim: 784, rng }),
 *   critic: new MlpCritic({ inputShape: 784, hidden: [256, 256], rng }),
 *   mode: 'hybrid', lambda: 1,
 * });
 * ```
 */
export class FlowGan extends Module implements Generator {
  readonly flow: Flow;
  readonly critic: (AnyModule & Critic) | undefined;
  readonly mode: FlowGanMode;
  readonly lambda: number;
  readonly gpWeight: number;
  readonly nCritic: number;
  readonly dim: number;

  constructor(opts: FlowGanOptions) {
    super('FlowGan');
    const who = 'FlowGan';
    if (!opts || !(opts.flow instanceof Flow)) {
      throw new ValueError(
        `${who}: options.flow must be a Flow of @dgm-js/flows (e.g. flowGanFlow({ dim, rng })).`,
      );
    }
    if (!MODES.includes(opts.mode)) {
      throw new ValueError(
        `${who}: mode must be one of ${MODES.join(', ')}, got ${JSON.stringify(opts.mode)}.`,
      );
    }
    if (opts.mode === 'hybrid') {
      if (!(typeof opts.lambda === 'number' && Number.isFinite(opts.lambda) && opts.lambda >= 0)) {
        throw new ValueError(
          `${who}: the hybrid objective needs lambda, a finite number >= 0 (the adversarial term's weight), got ${opts.lambda}.`,
        );
      }
    } else if (opts.lambda !== undefined) {
      throw new ValueError(
        `${who}: lambda applies to mode 'hybrid' only (mode is '${opts.mode}').`,
      );
    }
    const gp = opts.gpWeight ?? 10;
    if (!(Number.isFinite(gp) && gp >= 0)) {
      throw new ValueError(`${who}: gpWeight must be a finite number >= 0, got ${gp}.`);
    }
    this.nCritic = checkInt(opts.nCritic ?? 5, 'nCritic', who);
    if (opts.mode !== 'mle') {
      const c = opts.critic;
      if (!c || typeof c.score !== 'function' || typeof c.namedParameters !== 'function') {
        throw new ValueError(
          `${who}: mode '${opts.mode}' needs a critic module (e.g. new MlpCritic({ inputShape: ${opts.flow.dim}, hidden: [256, 256], rng })).`,
        );
      }
      if (c.inputShape.reduce((a, b) => a * b, 1) !== opts.flow.dim || c.numClasses !== undefined) {
        throw new ShapeError(
          `${who}: the critic takes ${fmtShape(c.inputShape)}${c.numClasses === undefined ? '' : ' with labels'} but the flow makes unconditional [${opts.flow.dim}] examples; build an unconditional critic with inputShape ${opts.flow.dim}.`,
        );
      }
    }
    this.flow = this.addModule(
      'flow',
      opts.flow as unknown as Module<never, unknown>,
    ) as unknown as Flow;
    this.critic = opts.critic ? this.addModule('critic', opts.critic) : undefined;
    this.mode = opts.mode;
    this.lambda = opts.lambda ?? 0;
    this.gpWeight = gp;
    this.dim = opts.flow.dim;
  }

  private checkX(x: Tensor, who: string): void {
    if (!(x instanceof tf.Tensor) || x.rank !== 2 || x.shape[1] !== this.dim) {
      throw new ShapeError(
        `${this.label}.${who}: x must be dequantised data of shape [N, ${this.dim}] in [0, 1), got ${x instanceof tf.Tensor ? fmtShape(x.shape) : typeof x}.`,
      );
    }
  }

  /** -log p(x) per example `[N]`, nats, for dequantised x `[N, D]` in [0, 1): exact. */
  nllPerExample(x: Tensor): Tensor {
    this.checkX(x, 'nllPerExample');
    return tf.tidy(() => tf.neg(this.flow.logProb(x)));
  }

  /** Mean NLL per dimension (nats), the likelihood part of the objective. */
  nll(x: Tensor): Scalar {
    this.checkX(x, 'nll');
    return tf.tidy(() => tf.div(tf.mean(tf.neg(this.flow.logProb(x))), this.dim) as Scalar);
  }

  private needCritic(who: string): AnyModule & Critic {
    if (!this.critic) {
      throw new ValueError(
        `${this.label}.${who}: this FlowGAN has no critic (mode 'mle' without one).`,
      );
    }
    return this.critic;
  }

  /**
   * The critic's WGAN-GP loss E[D(fake)] - E[D(real)] + gp * E[(||grad D(x_hat)|| - 1)^2]: the
   * total, the Wasserstein part and the penalty (scalars the caller owns).
   */
  criticLoss(real: Tensor, fake: Tensor, rng: Rng): { loss: Scalar; adv: Scalar; penalty: Scalar } {
    const critic = this.needCritic('criticLoss');
    this.checkX(real, 'criticLoss');
    this.checkX(fake, 'criticLoss');
    const score = (v: Tensor) => critic.score(v);
    const adv = wasserstein.critic(score(real), score(fake));
    const penalty = gradientPenalty(score, real, fake, { rng, weight: this.gpWeight });
    return { loss: tf.add(adv, penalty) as Scalar, adv, penalty };
  }

  /**
   * The generator's objective on a real batch `x` (dequantised, `[N, D]`) and N reparameterised
   * samples drawn with `rng`: see {@link FlowGanGeneratorLoss}.
   */
  generatorLoss(x: Tensor, rng: Rng): FlowGanGeneratorLoss {
    this.checkX(x, 'generatorLoss');
    const nll = this.nll(x);
    let adv: Scalar;
    if (this.mode === 'mle' || !this.critic) {
      adv = tf.scalar(0);
    } else {
      const critic = this.critic;
      adv = tf.tidy(() =>
        wasserstein.generator(critic.score(this.flow.rsample({ sampleShape: [x.shape[0]!], rng }))),
      );
    }
    const loss =
      this.mode === 'mle'
        ? tf.clone(nll)
        : this.mode === 'adv'
          ? tf.clone(adv)
          : (tf.tidy(() => tf.add(nll, tf.mul(this.lambda, adv))) as Scalar);
    return { loss, nll, adv };
  }

  /**
   * One training step through a loop's `update` (see {@link FlowGanTrainer}): `nCritic` critic
   * updates on fresh batches and flow samples (not in 'mle'), then one generator update.
   */
  trainStep(ctx: LoopContext, data: (rng: Rng) => Tensor): Record<string, number> {
    const out: Record<string, number> = {};
    if (this.mode !== 'mle') {
      let sums = [0, 0, 0];
      for (let k = 0; k < this.nCritic; k++) {
        const x = data(ctx.rng.split());
        const fake = tf.tidy(() => this.flow.sample({ sampleShape: [x.shape[0]!], rng: ctx.rng }));
        const penRng = ctx.rng.split();
        try {
          const s = ctx.update('critic', (parts) => {
            const r = this.criticLoss(x, fake, penRng);
            parts.push(r.adv, r.penalty);
            return r.loss;
          });
          sums = sums.map((v, i) => v + s[i]!);
        } finally {
          tf.dispose([x, fake]);
        }
      }
      out.lossD = sums[0]! / this.nCritic;
      out.wassersteinEstimate = -sums[1]! / this.nCritic;
      out.penalty = sums[2]! / this.nCritic;
    }
    const x = data(ctx.rng.split());
    const gRng = ctx.rng.split();
    try {
      const s = ctx.update('generator', (parts) => {
        const r = this.generatorLoss(x, gRng);
        parts.push(r.nll, r.adv);
        return r.loss;
      });
      out.lossG = s[0]!;
      out.nll = s[1]!;
      out.advG = s[2]!;
    } finally {
      x.dispose();
    }
    return out;
  }

  /** The `Generator` contract: the latent is the flow's base variable, `[D]`. */
  get latentDim(): number {
    return this.dim;
  }

  get outputShape(): readonly number[] {
    return [this.dim];
  }

  get numClasses(): undefined {
    return undefined;
  }

  /** u ~ the flow's prior, `[n, D]`. */
  sampleLatent(n: number, rng: Rng): Tensor {
    checkInt(n, 'n', `${this.label}.sampleLatent`);
    return this.flow.base.sample({ sampleShape: [n], rng });
  }

  /** G(u): the flow's sampling direction, differentiable in its parameters. */
  forward(z: Tensor): Tensor {
    const { y, logDetJ } = this.flow.transform.forward(z);
    logDetJ.dispose();
    return y;
  }

  /** `forward(sampleLatent(n, rng))`: the same draws as `sample({ sampleShape: [n], rng })`. */
  generate(n: number, rng: Rng): Tensor {
    return tf.tidy(() => this.forward(this.sampleLatent(n, rng)));
  }

  /** Draws `[...sampleShape, D]` images in the unit cube (a sampler for eval's metrics). */
  sample(opts: SampleOptions): Tensor {
    return this.flow.sample(opts);
  }

  /** The flow's log-density (nats) of dequantised x. */
  apply(x: Tensor): Tensor {
    return this.flow.logProb(x);
  }
}

/**
 * Random real batches for training: `batchSize` rows of `images` (`[N, D]`, grey levels
 * k / (levels - 1) in [0, 1]) drawn with replacement from the seed stream, then uniformly
 * dequantised. A function of the stream alone, so a resumed run sees the same batches.
 *
 * @example
 * ```ts
 * const data = dequantizedBatches(trainX, 64);
 * const x = data(new Rng(0)); // [64, 784] in [0, 1)
 * ```
 */
export function dequantizedBatches(
  images: Tensor,
  batchSize: number,
  levels = 256,
): (rng: Rng) => Tensor {
  const who = 'dequantizedBatches';
  if (!(images instanceof tf.Tensor) || images.rank !== 2) {
    throw new ShapeError(
      `${who}: images must be [N, D] (flatten them), got ${images instanceof tf.Tensor ? fmtShape(images.shape) : typeof images}.`,
    );
  }
  checkInt(batchSize, 'batchSize', who);
  const n = images.shape[0]!;
  return (rng) =>
    tf.tidy(() => {
      const idx = tf.floor(tf.randomUniform([batchSize], 0, n, 'float32', rng.next()));
      const x = tf.gather(images, tf.cast(tf.minimum(idx, n - 1), 'int32'));
      return dequantize(x, { rng, levels });
    });
}
