/**
 * VAEs with discrete latents: Bernoulli units and categorical variables with uniform priors,
 * trained with any gradient estimator of `@dgm-js/estimators` (one option), evaluated with exact
 * discrete samples.
 */
import {
  type Distribution,
  fmtShape,
  gumbelNoise,
  logSigmoid,
  logSoftmax,
  type Rng,
  ShapeError,
  softplus,
  tf,
  ValueError,
} from '@dgm-js/core-tensors';
import {
  bernoulliLatent,
  categoricalLatent,
  type DiscreteLatent,
  detach,
  exponentialTemperature,
  type GradientEstimator,
  gumbelSoftmax,
  nvil,
  rebar,
  reinforce,
  relax,
  straightThrough,
  straightThroughGumbelSoftmax,
  type TemperatureSchedule,
  vimco,
} from '@dgm-js/estimators';
import { ownedBernoulli, ownedOneHot } from './distributions.js';
import type { LossOptions, VaeLoss } from './types.js';
import { checkInt, type MlpVaeOptions, mlpPair, VAE, type VaeOptions } from './vae.js';

type Tensor = tf.Tensor;

/** The estimators {@link estimatorByName} knows, by the names the benchmarks use. */
export type EstimatorName =
  | 'score-function'
  | 'nvil'
  | 'vimco'
  | 'straight-through'
  | 'gumbel-softmax'
  | 'st-gumbel-softmax'
  | 'rebar'
  | 'relax';

/** The names {@link estimatorByName} accepts. */
export const ESTIMATOR_NAMES: readonly EstimatorName[] = [
  'score-function',
  'nvil',
  'vimco',
  'straight-through',
  'gumbel-softmax',
  'st-gumbel-softmax',
  'rebar',
  'relax',
];

/** Options of {@link estimatorByName}. */
export interface EstimatorByNameOptions {
  /**
   * Temperature of the Gumbel-Softmax estimators. Default: the annealing of Jang et al. (2017),
   * tau = max(0.5, exp(-1e-5 t)) updated every 1000 steps.
   */
  temperature?: number | TemperatureSchedule;
  /** Hidden units of NVIL's baseline network (default 100) and RELAX's control variate (default 16). */
  hidden?: number;
  /** Seed of the estimator's own networks. Default 0. */
  seed?: number;
}

/**
 * A gradient estimator from `@dgm-js/estimators` by name, configured as in the papers the
 * benchmarks reproduce: 'score-function' (REINFORCE with a moving-average baseline), 'nvil'
 * (learned input-dependent baseline, Mnih & Gregor 2014), 'vimco' (needs k >= 2), 'straight-through',
 * 'gumbel-softmax' and 'st-gumbel-softmax' (Jang et al. 2017, annealed temperature), 'rebar',
 * 'relax'. Any other `GradientEstimator` can be passed to a VAE directly.
 *
 * @example
 * ```ts
 * const vae = CategoricalVAE.mlp({ inputDim: 784, hidden: [512, 256], latents: 20, categories: 10,
 *   estimator: estimatorByName('gumbel-softmax'), rng: new Rng(0) });
 * ```
 */
export function estimatorByName(
  name: EstimatorName,
  opts: EstimatorByNameOptions = {},
): GradientEstimator {
  const seed = opts.seed ?? 0;
  const temperature =
    opts.temperature ?? exponentialTemperature({ rate: 1e-5, min: 0.5, every: 1000 });
  switch (name) {
    case 'score-function':
      return reinforce({ baseline: 'movingAverage' });
    case 'nvil':
      return nvil({ hidden: opts.hidden ?? 100, seed });
    case 'vimco':
      return vimco();
    case 'straight-through':
      return straightThrough();
    case 'gumbel-softmax':
      return gumbelSoftmax({ temperature });
    case 'st-gumbel-softmax':
      return straightThroughGumbelSoftmax({ temperature });
    case 'rebar':
      return rebar({ seed });
    case 'relax':
      return relax({ hidden: opts.hidden ?? 16, seed });
    default:
      throw new ValueError(
        `estimatorByName: unknown estimator '${String(name)}'; use one of ${ESTIMATOR_NAMES.join(', ')}, or pass any GradientEstimator.`,
      );
  }
}

/** Options of the discrete-latent VAEs. */
export interface DiscreteVaeOptions extends VaeOptions {
  /**
   * How the encoder is trained through the discrete samples: any `GradientEstimator` from
   * `@dgm-js/estimators`, or a name of {@link estimatorByName}. The VAE owns it (disposes it).
   * With 'vimco' the loss is the k-sample IWAE bound; with every other estimator it is the ELBO
   * with the analytic KL, the estimator differentiating E_q[log p(x | z)].
   */
  estimator: GradientEstimator | EstimatorName;
}

function resolveEstimator(e: GradientEstimator | EstimatorName, who: string): GradientEstimator {
  if (typeof e === 'string') return estimatorByName(e);
  if (!e || typeof e.estimate !== 'function') {
    throw new ValueError(
      `${who}: estimator must be a GradientEstimator from @dgm-js/estimators or one of ${ESTIMATOR_NAMES.join(', ')}.`,
    );
  }
  return e;
}

/** One-hot float32 vectors of int indices (built as int32 and cast: wasm's float OneHot is wrong). */
function oneHot(indices: Tensor, depth: number): Tensor {
  return tf.tidy(() => tf.cast(tf.oneHot(tf.cast(indices, 'int32'), depth), 'float32'));
}

/**
 * The base of the discrete-latent VAEs: the training loss through a gradient estimator.
 */
export abstract class DiscreteVAE extends VAE {
  /** The gradient estimator (owned: disposed with the VAE). */
  readonly estimator: GradientEstimator;

  protected constructor(kind: string, opts: DiscreteVaeOptions) {
    super(kind, opts);
    this.estimator = resolveEstimator(opts.estimator, kind);
  }

  /** The estimator's view of q's parameters. */
  protected abstract latent(params: Tensor): DiscreteLatent;

  /**
   * The training loss. Every estimator but VIMCO: E_q[-log p(x | z)] through the estimator
   * (its surrogate) + w KL(q || p) analytic (free bits optional); VIMCO: -IWAE_k with k = `k`
   * (default 5). `k` is the estimator's number of samples. Metrics: `recon` (the estimator's
   * value, for relaxed estimators at relaxed z), `kl`, `elbo` = recon - kl, `klWeight`, and the
   * estimator's diagnostics (`temperature`, ...).
   */
  loss(x: Tensor, opts: LossOptions): VaeLoss {
    const who = `${this.kind}.loss`;
    const { rng, weight } = this.trainSetup(opts, who);
    const isVimco = this.estimator.name === 'vimco';
    if ((opts.objective ?? 'elbo') === 'iwae' && !isVimco) {
      throw new ValueError(
        `${who}: the 'iwae' objective with discrete latents needs the 'vimco' estimator (got '${this.estimator.name}').`,
      );
    }
    const k = checkInt(opts.k ?? (isVimco ? 5 : 1), 'k', who);
    const p = this.qParams(x, who);
    const b = x.shape[0] as number;
    try {
      return tf.tidy(() => {
        const ctx = tf.reshape(x, [b, x.size / b]);
        if (isVimco) {
          const f = (z: Tensor) =>
            tf.sub(
              tf.add(this.logLikelihood(this.decodeParams(z, who), x), this.logPrior(z)),
              this.logQ(p, z),
            );
          const r = this.estimator.estimate(this.latent(p), f, { samples: k, rng, context: ctx });
          const bound = tf.mean(r.surrogate);
          const kl = tf.mean(tf.sum(this.klGroups(p), -1));
          return {
            loss: tf.neg(bound) as tf.Scalar,
            metrics: { iwae: tf.add(bound, 0), kl, klWeight: 1, ...r.diagnostics },
          };
        }
        const f = (z: Tensor) => tf.neg(this.logLikelihood(this.decodeParams(z, who), x));
        const r = this.estimator.estimate(this.latent(p), f, { samples: k, rng, context: ctx });
        const klg = this.klGroups(p);
        const nll = tf.mean(r.surrogate);
        const kl = tf.mean(tf.sum(klg, -1));
        const loss = tf.add(nll, tf.mul(weight, this.klTerm(klg, opts, who)));
        return {
          loss: loss as tf.Scalar,
          metrics: {
            elbo: tf.neg(tf.add(nll, kl)),
            recon: tf.neg(nll),
            kl,
            klWeight: weight,
            ...r.diagnostics,
          },
        };
      });
    } finally {
      p.dispose();
    }
  }

  /** Disposes the parameters and the estimator's state. */
  override dispose(): void {
    if (this.isDisposed) return;
    super.dispose();
    this.estimator.dispose();
  }
}

/** Options of {@link BernoulliVAE}. */
export interface BernoulliVaeOptions extends DiscreteVaeOptions {
  /** Number of Bernoulli latent units d; the encoder returns `[B, d]` logits. */
  latentDim: number;
}

/**
 * A VAE with d Bernoulli latent units, p(z) = Bernoulli(1/2)^d, q(z | x) = prod_j
 * Bernoulli(sigmoid(logit_j(x))), trained with any gradient estimator (the Bernoulli VAE of
 * Jang et al. 2017 has d = 200).
 *
 * @example
 * ```ts
 * const vae = BernoulliVAE.mlp({ inputDim: 784, hidden: [512, 256], latentDim: 200,
 *   estimator: 'st-gumbel-softmax', rng: new Rng(0) });
 * ```
 */
export class BernoulliVAE extends DiscreteVAE {
  readonly latentShape: readonly number[];
  readonly latentDim: number;

  constructor(opts: BernoulliVaeOptions) {
    super('BernoulliVAE', opts);
    this.latentDim = checkInt(opts.latentDim, 'latentDim', 'BernoulliVAE');
    this.latentShape = [this.latentDim];
  }

  /** An MLP Bernoulli VAE: encoder `[inputDim, ...hidden, latentDim]`, decoder mirrored. */
  static mlp(
    opts: MlpVaeOptions & { latentDim: number; estimator: GradientEstimator | EstimatorName },
  ): BernoulliVAE {
    const { enc, dec } = mlpPair(opts, opts.latentDim, opts.latentDim);
    return new BernoulliVAE({
      latentDim: opts.latentDim,
      encoder: enc,
      decoder: dec,
      estimator: opts.estimator,
      ...(opts.likelihood === undefined ? {} : { likelihood: opts.likelihood }),
    });
  }

  protected latent(p: Tensor): DiscreteLatent {
    return bernoulliLatent(p);
  }

  protected posteriorParams(h: Tensor): Tensor {
    if (h.rank !== 2 || h.shape[1] !== this.latentDim) {
      throw new ShapeError(
        `BernoulliVAE: the encoder returned ${fmtShape(h.shape)}; it must return [batch, latentDim] = [batch, ${this.latentDim}] logits.`,
      );
    }
    return tf.clone(h);
  }

  protected sampleQ(p: Tensor, s: number, rng: Rng): Tensor {
    return tf.tidy(() => {
      const u = tf.randomUniform([s, ...p.shape], 0, 1, 'float32', rng.next());
      return tf.cast(tf.less(u, tf.sigmoid(detach(p))), 'float32');
    });
  }

  protected logQ(p: Tensor, z: Tensor): Tensor {
    return tf.tidy(() => tf.sum(tf.sub(tf.mul(z, p), softplus(p)), -1));
  }

  protected logPrior(z: Tensor): Tensor {
    return tf.fill(z.shape.slice(0, -1), -this.latentDim * Math.LN2);
  }

  protected klGroups(p: Tensor): Tensor {
    return tf.tidy(() => {
      // KL(Bern(q) || Bern(1/2)) = q log q + (1 - q) log(1 - q) + log 2
      const q = tf.sigmoid(p);
      return tf.add(
        tf.add(tf.mul(q, logSigmoid(p)), tf.mul(tf.sub(1, q), logSigmoid(tf.neg(p)))),
        Math.LN2,
      );
    });
  }

  protected modeQ(p: Tensor): Tensor {
    return tf.tidy(() => tf.cast(tf.greater(detach(p), 0), 'float32'));
  }

  protected latentCode(p: Tensor): Tensor {
    return tf.sigmoid(p);
  }

  protected samplePrior(n: number, rng: Rng): Tensor {
    return tf.tidy(() =>
      tf.cast(
        tf.less(tf.randomUniform([n, this.latentDim], 0, 1, 'float32', rng.next()), 0.5),
        'float32',
      ),
    );
  }

  protected posteriorDistribution(p: Tensor): Distribution {
    return ownedBernoulli(p, 1);
  }

  prior(): Distribution {
    return ownedBernoulli(tf.zeros([this.latentDim]), 1);
  }
}

/** Options of {@link CategoricalVAE}. */
export interface CategoricalVaeOptions extends DiscreteVaeOptions {
  /** Number of categorical latent variables n. */
  latents: number;
  /** Categories C of each; the encoder returns `[B, n * C]` logits. */
  categories: number;
}

/**
 * A VAE with n C-way categorical latents (one-hot), uniform prior, q(z | x) = prod_i
 * Cat(softmax(logits_i(x))), trained with any gradient estimator (Jang et al. 2017: n = 20, C = 10).
 * The decoder sees the n one-hot vectors flattened (`[N, n C]`), so relaxed estimators can feed
 * it points of the simplex.
 *
 * @example
 * ```ts
 * const vae = CategoricalVAE.mlp({ inputDim: 784, hidden: [512, 256], latents: 20, categories: 10,
 *   estimator: 'gumbel-softmax', rng: new Rng(0) });
 * ```
 */
export class CategoricalVAE extends DiscreteVAE {
  readonly latentShape: readonly number[];
  readonly latents: number;
  readonly categories: number;

  constructor(opts: CategoricalVaeOptions) {
    super('CategoricalVAE', opts);
    this.latents = checkInt(opts.latents, 'latents', 'CategoricalVAE');
    this.categories = checkInt(opts.categories, 'categories', 'CategoricalVAE');
    if (this.categories < 2) throw new ValueError('CategoricalVAE: categories must be >= 2.');
    this.latentShape = [this.latents, this.categories];
  }

  /** An MLP categorical VAE: encoder `[inputDim, ...hidden, latents * categories]`, decoder mirrored. */
  static mlp(
    opts: MlpVaeOptions & {
      latents: number;
      categories: number;
      estimator: GradientEstimator | EstimatorName;
    },
  ): CategoricalVAE {
    const nc = opts.latents * opts.categories;
    const { enc, dec } = mlpPair(opts, nc, nc);
    return new CategoricalVAE({
      latents: opts.latents,
      categories: opts.categories,
      encoder: enc,
      decoder: dec,
      estimator: opts.estimator,
      ...(opts.likelihood === undefined ? {} : { likelihood: opts.likelihood }),
    });
  }

  protected latent(p: Tensor): DiscreteLatent {
    return categoricalLatent(p);
  }

  protected posteriorParams(h: Tensor): Tensor {
    const nc = this.latents * this.categories;
    if (h.rank !== 2 || h.shape[1] !== nc) {
      throw new ShapeError(
        `CategoricalVAE: the encoder returned ${fmtShape(h.shape)}; it must return [batch, latents * categories] = [batch, ${nc}] logits.`,
      );
    }
    return tf.reshape(h, [h.shape[0] as number, this.latents, this.categories]);
  }

  protected sampleQ(p: Tensor, s: number, rng: Rng): Tensor {
    return tf.tidy(() => {
      const g = gumbelNoise([s, ...p.shape], rng);
      return oneHot(tf.argMax(tf.add(detach(p), g), -1), this.categories);
    });
  }

  protected logQ(p: Tensor, z: Tensor): Tensor {
    return tf.tidy(() => tf.sum(tf.mul(z, logSoftmax(p)), [-2, -1]));
  }

  protected logPrior(z: Tensor): Tensor {
    return tf.fill(z.shape.slice(0, -2), -this.latents * Math.log(this.categories));
  }

  protected klGroups(p: Tensor): Tensor {
    return tf.tidy(() => {
      // KL(Cat(q) || uniform) = sum_c q_c (log q_c + log C)
      const lq = logSoftmax(p);
      return tf.sum(tf.mul(tf.exp(lq), tf.add(lq, Math.log(this.categories))), -1);
    });
  }

  protected modeQ(p: Tensor): Tensor {
    return tf.tidy(() => oneHot(tf.argMax(detach(p), -1), this.categories));
  }

  protected latentCode(p: Tensor): Tensor {
    return tf.softmax(p);
  }

  protected samplePrior(n: number, rng: Rng): Tensor {
    return tf.tidy(() =>
      oneHot(tf.argMax(gumbelNoise([n, this.latents, this.categories], rng), -1), this.categories),
    );
  }

  protected posteriorDistribution(p: Tensor): Distribution {
    return ownedOneHot(p, 1);
  }

  prior(): Distribution {
    return ownedOneHot(tf.zeros([this.latents, this.categories]), 1);
  }
}
