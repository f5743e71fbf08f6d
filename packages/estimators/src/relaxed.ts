/**
 * Pathwise estimators: reparameterization, and the relaxed / straight-through estimators of
 * discrete latents.
 * - Reparameterization (Kingma & Welling 2014; Rezende, Mohamed & Wierstra 2014): z = g(eps, phi).
 * - Gumbel-Softmax / Concrete (Jang, Gu & Poole 2017; Maddison, Mnih & Teh 2017): the one-hot
 *   sample argmax(logits + G) is relaxed to softmax((logits + G) / tau); for Bernoulli latents
 *   the Binary Concrete sigmoid((logits + L) / tau), L logistic noise.
 * - Straight-through Gumbel-Softmax (Jang et al. 2017): the hard one-hot sample forward, the
 *   relaxed sample's gradient backward.
 * - Straight-through (Bengio, Leonard & Courville 2013): the hard sample forward, the gradient
 *   of the probabilities backward (d z / d p = identity).
 * The relaxed and straight-through estimators are biased (see each).
 */
import {
  DgmError,
  RelaxedBernoulli,
  RelaxedOneHotCategorical,
  straightThrough,
  tf,
} from '@dgm-js/core-tensors';
import { BaseEstimator, type RunContext, type RunResult } from './base.js';
import {
  type DiscreteResolved,
  detach,
  evalObjective,
  oneHot,
  resolve,
  resolveDiscrete,
} from './latent.js';
import { checkSchedule, type TemperatureSchedule, temperatureAt } from './schedule.js';
import type { Integrand, LatentInput, LatentKind } from './types.js';

type Tensor = tf.Tensor;

/**
 * The reparameterization (pathwise) estimator for distributions with `rsample`: the surrogate is
 * mean_k f(z_k) with z_k = rsample(), so autodiff gives E[grad_z f(z) d z / d phi]. Unbiased.
 * For x ~ N(theta, 1), f = x^2 its per-sample variance is 4 (REINFORCE: 87).
 */
export class ReparamEstimator extends BaseEstimator {
  readonly name = 'reparam';
  readonly unbiased = true;

  constructor() {
    super('reparam');
  }

  protected run(q: LatentInput, f: Integrand, ctx: RunContext): RunResult {
    const r = resolve(q, this.name);
    if (r.kind !== 'distribution' || !r.dist.hasRsample) {
      const what =
        r.kind === 'distribution'
          ? (r.dist.constructor?.name ?? 'this distribution')
          : `a ${r.kind} latent`;
      throw new DgmError(
        `reparam: ${what} has no reparameterized sampler (hasRsample is false). ` +
          'For discrete latents use a score-function estimator (reinforce, rloo, ...), gumbelSoftmax, rebar, relax or disarm.',
      );
    }
    const z = r.dist.rsample({ sampleShape: [ctx.samples], rng: ctx.rng });
    const { fz } = evalObjective(f, z, ctx.samples, r.batchShape, this.name);
    return { surrogate: tf.mean(fz, 0), diagnostics: { value: tf.mean(detach(fz)) } };
  }
}

/**
 * The reparameterization estimator (Kingma & Welling 2014).
 *
 * @example
 * ```ts
 * import { Normal, Rng, tf } from '@dgm-js/core-tensors';
 * const g = tf.grad((t) => reparam().estimate(new Normal(t, 1), (x) => tf.square(x), { samples: 1000, rng: new Rng(0) }).surrogate)(tf.scalar(2));
 * // near 4, with variance 4 / 1000
 * ```
 */
export function reparam(): ReparamEstimator {
  return new ReparamEstimator();
}

/**
 * The relaxed sample `[s, ...logits]` of core's Concrete distributions, differentiable in the
 * logits: `RelaxedOneHotCategorical` softmax((logits + G) / tau), `RelaxedBernoulli`
 * sigmoid((logits + L) / tau) (both clamped to [eps, 1 - eps] with a straight-through gradient).
 */
export function relaxedSample(
  r: DiscreteResolved,
  tau: number,
  s: number,
  ctx: RunContext,
): Tensor {
  const d =
    r.kind === 'bernoulli'
      ? new RelaxedBernoulli(tau, { logits: r.logits }, { validate: false })
      : new RelaxedOneHotCategorical(tau, { logits: r.logits }, { validate: false });
  return d.rsample({ sampleShape: [s], rng: ctx.rng });
}

/** The hard sample of a relaxed one (no gradient): argmax one-hot, or y > 1/2. */
export function hardOf(kind: LatentKind, y: Tensor): Tensor {
  return tf.tidy(() => {
    const yd = detach(y);
    if (kind === 'bernoulli') return tf.cast(tf.greater(yd, 0.5), 'float32');
    const c = y.shape[y.rank - 1] as number;
    return oneHot(tf.argMax(yd, -1), c);
  });
}

/** Options of {@link gumbelSoftmax} and {@link straightThroughGumbelSoftmax}. */
export interface GumbelSoftmaxOptions {
  /** A temperature > 0 or a schedule (constant / exponential annealing). Default 1. */
  temperature?: number | TemperatureSchedule;
}

/**
 * Gumbel-Softmax / Concrete and its straight-through variant. The temperature at each call
 * comes from the schedule at the estimator's step (advanced by updating calls).
 */
export class GumbelSoftmaxEstimator extends BaseEstimator {
  readonly name: string;
  readonly unbiased = false;
  readonly schedule: TemperatureSchedule;
  private readonly hard: boolean;

  constructor(opts: GumbelSoftmaxOptions, hard: boolean) {
    const name = hard ? 'st-gumbel-softmax' : 'gumbel-softmax';
    super(name);
    this.name = name;
    this.hard = hard;
    this.schedule = checkSchedule(opts.temperature ?? 1, name);
  }

  /** The temperature the next call uses. */
  get temperature(): number {
    return temperatureAt(this.schedule, this.step);
  }

  protected run(q: LatentInput, f: Integrand, ctx: RunContext): RunResult {
    const r = resolveDiscrete(q, this.name);
    const tau = temperatureAt(this.schedule, ctx.step);
    const y = relaxedSample(r, tau, ctx.samples, ctx);
    const z = this.hard ? straightThrough(hardOf(r.kind, y), y) : y;
    const { fz } = evalObjective(f, z, ctx.samples, r.batchShape, this.name);
    return {
      surrogate: tf.mean(fz, 0),
      diagnostics: { value: tf.mean(detach(fz)), temperature: tau },
    };
  }
}

/**
 * Gumbel-Softmax / Concrete (Jang et al. 2017; Maddison et al. 2017): f is evaluated at the
 * relaxed sample softmax((logits + G) / tau) (Bernoulli: sigmoid((logits + L) / tau)), so f must
 * accept points of the simplex (of [0, 1]). The surrogate's value estimates E[f(relaxed z)] and
 * its gradient is biased for E_q[f]; the bias vanishes as tau -> 0 while the variance grows.
 *
 * @example
 * ```ts
 * const est = gumbelSoftmax({ temperature: exponentialTemperature({ rate: 1e-4, min: 0.5, every: 1000 }) });
 * const r = est.estimate(categoricalLatent(logits), f, { samples: 1, rng });
 * ```
 */
export function gumbelSoftmax(opts: GumbelSoftmaxOptions = {}): GumbelSoftmaxEstimator {
  return new GumbelSoftmaxEstimator(opts, false);
}

/**
 * Straight-through Gumbel-Softmax (Jang et al. 2017): f sees the exact one-hot (0/1) sample, the
 * gradient is that of the relaxed sample. The value is an unbiased estimate of E_q[f]; the
 * gradient is biased.
 *
 * @example
 * ```ts
 * const r = straightThroughGumbelSoftmax({ temperature: 0.5 }).estimate(categoricalLatent(logits), f, { samples: 1, rng });
 * ```
 */
export function straightThroughGumbelSoftmax(
  opts: GumbelSoftmaxOptions = {},
): GumbelSoftmaxEstimator {
  return new GumbelSoftmaxEstimator(opts, true);
}

/**
 * Straight-through (Bengio et al. 2013): z is an exact sample forward; backward, d z / d p is the
 * identity, p = sigmoid(logits) (Bernoulli) or softmax(logits) (categorical). Biased; f must be
 * differentiable in z.
 */
export class StraightThroughEstimator extends BaseEstimator {
  readonly name = 'straight-through';
  readonly unbiased = false;

  constructor() {
    super('straight-through');
  }

  protected run(q: LatentInput, f: Integrand, ctx: RunContext): RunResult {
    const r = resolveDiscrete(q, this.name);
    const b = detach(r.dist.sample({ sampleShape: [ctx.samples], rng: ctx.rng }));
    const z = straightThrough(b, tf.mul(tf.onesLike(b), r.dist.probs));
    const { fz } = evalObjective(f, z, ctx.samples, r.batchShape, this.name);
    return { surrogate: tf.mean(fz, 0), diagnostics: { value: tf.mean(detach(fz)) } };
  }
}

/**
 * The straight-through estimator for Bernoulli and categorical latents (Bengio et al. 2013).
 * (Core's `straightThrough(hard, soft)` is the op it is built on.)
 *
 * @example
 * ```ts
 * const r = straightThroughEstimator().estimate(new Bernoulli({ logits }), f, { samples: 1, rng });
 * ```
 */
export function straightThroughEstimator(): StraightThroughEstimator {
  return new StraightThroughEstimator();
}
