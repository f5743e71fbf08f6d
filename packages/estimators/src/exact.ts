/**
 * Exact enumeration over small discrete latent spaces: E_q[f] = sum_z q(z) f(z), whose autodiff
 * gradient is the true gradient (the ground truth the stochastic estimators are tested
 * against) and which is an estimator in its own right (marginalisation: zero variance, cost
 * linear in the number of configurations).
 */
import { Categorical, fmtShape, OneHotCategorical, tf, ValueError } from '@dgm-js/core-tensors';
import { BaseEstimator, type RunContext, type RunResult } from './base.js';
import {
  detach,
  evalObjective,
  oneHot,
  resolveDiscrete,
  sumLatent,
  unwrapDiscrete,
} from './latent.js';
import type { Integrand, LatentInput, LatentKind } from './types.js';

type Tensor = tf.Tensor;

/** Default cap on the number of configurations. */
export const DEFAULT_MAX_CONFIGS = 65536;

/**
 * Every configuration of a latent of shape `latentShape` (Bernoulli: 0/1 values; categorical:
 * one-hot along the last axis, `latentShape = [..., C]`), as a float32 tensor
 * `[M, ...latentShape]`, M = 2^D or C^D. The first latent element varies slowest.
 *
 * @example
 * ```ts
 * enumerateConfigs('bernoulli', [2]).print(); // [[0, 0], [0, 1], [1, 0], [1, 1]]
 * ```
 */
export function enumerateConfigs(
  kind: LatentKind,
  latentShape: readonly number[],
  maxConfigs = DEFAULT_MAX_CONFIGS,
): Tensor {
  const c = kind === 'bernoulli' ? 2 : (latentShape[latentShape.length - 1] as number);
  const dims = kind === 'bernoulli' ? latentShape : latentShape.slice(0, -1);
  const d = dims.reduce((a, b) => a * b, 1);
  const m = c ** d;
  if (!(m <= maxConfigs)) {
    throw new ValueError(
      `exact enumeration: a ${kind} latent of shape ${fmtShape(latentShape)} has ${c}^${d} = ${m} configurations, ` +
        `more than maxConfigs = ${maxConfigs}. Use a stochastic estimator, or raise maxConfigs if memory allows.`,
    );
  }
  const per = kind === 'bernoulli' ? d : d * c;
  const out = new Float32Array(m * per);
  for (let i = 0; i < m; i++) {
    let rest = i;
    for (let j = d - 1; j >= 0; j--) {
      const digit = rest % c;
      rest = Math.floor(rest / c);
      if (kind === 'bernoulli') out[i * per + j] = digit;
      else out[i * per + j * c + digit] = 1;
    }
  }
  return tf.tensor(out, [m, ...latentShape], 'float32');
}

/** Options of {@link exactExpectation} and {@link exact}. */
export interface ExactOptions {
  /** Refuse latent spaces with more configurations than this. Default 65536. */
  maxConfigs?: number;
}

/**
 * E_q[f] by summing over every configuration, shape `[...instanceShape]`; differentiable, so
 * `tf.grad` of it is the exact gradient. q is a `Bernoulli`, a `OneHotCategorical` or a
 * `Categorical` (f then receives int32 categories `[M, ...batchShape]`), or `Independent` of one. f is called once on a
 * single probe configuration (to read the instance shape) and once on all M configurations.
 *
 * @example
 * ```ts
 * const theta = tf.tensor1d([0.3, -1]);
 * const g = tf.grad((t) => exactExpectation(new Bernoulli({ logits: t }), (z) => tf.sum(z, -1)))(theta);
 * // g = sigmoid'(theta)
 * ```
 */
export function exactExpectation(
  input: LatentInput,
  f: Integrand,
  opts: ExactOptions = {},
): Tensor {
  const q = unwrapDiscrete(input);
  if (q instanceof Categorical) {
    // the same enumeration over one-hot configurations, f given their category indices
    return tf.tidy(() =>
      exactExpectation(
        new OneHotCategorical({ logits: q.logits }, { validate: false }),
        (z) => f(tf.argMax(z, -1)),
        opts,
      ),
    );
  }
  return tf.tidy(() => {
    const r = resolveDiscrete(q, 'exact');
    const shape = r.logits.shape;
    const probe =
      r.kind === 'bernoulli'
        ? tf.zeros([1, ...shape])
        : oneHot(tf.zeros([1, ...shape.slice(0, -1)], 'int32'), shape[shape.length - 1] as number);
    const { instRank } = evalObjective(f, probe, 1, r.batchShape, 'exact');
    const latentShape = shape.slice(instRank);
    const configs = enumerateConfigs(r.kind, latentShape, opts.maxConfigs ?? DEFAULT_MAX_CONFIGS);
    const m = configs.shape[0] as number;
    const z = tf.broadcastTo(
      tf.reshape(configs, [m, ...new Array<number>(instRank).fill(1), ...latentShape]),
      [m, ...shape],
    );
    const { fz } = evalObjective(f, z, m, r.batchShape, 'exact');
    const lq = sumLatent(r.dist.logProb(detach(z)), instRank);
    return tf.sum(tf.mul(tf.exp(lq), fz), 0);
  });
}

/** The marginalisation estimator: exact E_q[f] and its exact gradient; `samples` is ignored. */
export class ExactEstimator extends BaseEstimator {
  readonly name = 'exact';
  readonly unbiased = true;
  private readonly maxConfigs: number;

  constructor(opts: ExactOptions = {}) {
    super('exact');
    this.maxConfigs = opts.maxConfigs ?? DEFAULT_MAX_CONFIGS;
  }

  protected run(q: LatentInput, f: Integrand, _ctx: RunContext): RunResult {
    const surrogate = exactExpectation(q, f, { maxConfigs: this.maxConfigs });
    return { surrogate, diagnostics: { value: tf.mean(detach(surrogate)) } };
  }
}

/**
 * Exact enumeration as an estimator (marginalisation over all 2^D or C^D configurations).
 *
 * @example
 * ```ts
 * const r = exact().estimate(new Bernoulli({ logits }), f, { samples: 1, rng: new Rng(0) });
 * ```
 */
export function exact(opts: ExactOptions = {}): ExactEstimator {
  return new ExactEstimator(opts);
}
