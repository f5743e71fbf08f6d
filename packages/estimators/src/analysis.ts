/**
 * Variance and bias analysis of estimators on problems with known gradients, vectorised over
 * repeats: R independent copies of the parameters form the instance axis, so one call yields R
 * independent gradient estimates (one per row of the parameter gradient).
 */
import {
  Bernoulli,
  type GradientEstimator as CoreGradientEstimator,
  checkInt,
  Normal,
  OneHotCategorical,
  type Rng,
  tf,
  ValueError,
} from '@dgm-js/core-tensors';
import { exactExpectation } from './exact.js';
import { isEnumerable } from './latent.js';
import type { GradientEstimator, LatentInput } from './types.js';

type Tensor = tf.Tensor;

/**
 * A problem grad_theta E_{q_theta}[f_theta] at a fixed theta, written for R copies of theta at
 * once (`params` is `[R, P]`, the instance axis is R).
 */
export interface EstimationProblem {
  /** Name used in reports. */
  readonly name: string;
  /** theta, the point where the gradient is estimated (P numbers). */
  readonly params: readonly number[];
  /**
   * q for R copies of the parameters: `params` [R, P], instance shape [R] (a core distribution,
   * created inside the caller's tidy scope).
   */
  latent(params: Tensor): LatentInput;
  /** f for samples [S, R, ...] -> [S, R]; it may use the parameters. */
  objective(z: Tensor, params: Tensor): Tensor;
  /** The exact gradient at theta, if known; discrete problems without it are enumerated. */
  readonly exactGradient?: readonly number[];
  /** Context for learned baselines, [R, features]. */
  context?(repeats: number): Tensor;
}

/** Options of {@link gradientStats}. */
export interface GradientStatsOptions {
  /** Samples per estimate (K). */
  samples: number;
  /** Independent estimates (R). */
  repeats: number;
  rng: Rng;
  /** Repeats per vectorised call. Default: as many as keep samples * chunk near 2e6. */
  chunk?: number;
}

/** What {@link gradientStats} measured. */
export interface GradientStats {
  estimator: string;
  problem: string;
  samples: number;
  repeats: number;
  /** Mean of the R estimates, per parameter. */
  mean: number[];
  /** Unbiased variance of one estimate (over the R repeats), per parameter. */
  variance: number[];
  /** Sum of the per-parameter variances (the trace of the covariance). */
  totalVariance: number;
  /** Standard error of `mean`: sqrt(variance / R). */
  stderr: number[];
  /** The exact gradient (given, or by enumeration), or null. */
  exact: number[] | null;
  /** mean - exact, or null. */
  bias: number[] | null;
  /** Euclidean norm of the bias, or null. */
  biasNorm: number | null;
  /** max |bias / stderr|: the largest z-score (about N(0, 1) per parameter when unbiased). */
  maxAbsZ: number | null;
  /** Mean surrogate value over the repeats (the estimate of E_q[f]). */
  value: number;
  /** Wall time of all estimates (forward + backward + read-back), ms. */
  wallMs: number;
  /** R / wall time. */
  estimatesPerSecond: number;
}

/**
 * The exact gradient of a problem at its params: `problem.exactGradient` when given, else by
 * enumerating every configuration of its discrete latent.
 *
 * @example
 * ```ts
 * exactGradientOf(relaxToyProblem(0)); // [0.0005]
 * ```
 */
export function exactGradientOf(problem: EstimationProblem): number[] {
  if (problem.exactGradient) return [...problem.exactGradient];
  return tf.tidy(() => {
    const p = tf.tensor2d([[...problem.params]]);
    const g = tf.grad((t: Tensor) =>
      tf.sum(exactExpectation(problem.latent(t), (z) => problem.objective(z, t))),
    )(p);
    return Array.from(g.dataSync());
  });
}

/**
 * Mean, variance, bias and speed of an estimator (any core-tensors `GradientEstimator`) on a
 * problem: `repeats` independent estimates, each from `samples` samples, computed `chunk` repeats
 * per vectorised call. The estimator's state is used as it is and not advanced (`update: false`).
 *
 * @example
 * ```ts
 * const s = gradientStats(reinforce(), lectureProblem(), { samples: 1000, repeats: 200, rng: new Rng(0) });
 * s.variance[0] * 1000; // near 87
 * ```
 */
export function gradientStats(
  estimator: CoreGradientEstimator,
  problem: EstimationProblem,
  opts: GradientStatsOptions,
): GradientStats {
  const { samples, repeats } = opts;
  checkInt(repeats, 'repeats', 'gradientStats', { min: 2 });
  checkInt(samples, 'samples', 'gradientStats');
  const pn = problem.params.length;
  const chunk = Math.max(1, Math.min(repeats, opts.chunk ?? Math.floor(2e6 / samples)));
  const grads = new Float64Array(repeats * pn);
  let valueSum = 0;
  const t0 = performance.now();
  for (let start = 0; start < repeats; start += chunk) {
    const r = Math.min(chunk, repeats - start);
    const [gv, vs] = tf.tidy(() => {
      const p = tf.tile(tf.tensor2d([[...problem.params]]), [r, 1]);
      const context = problem.context?.(r);
      const { value, grad } = tf.valueAndGrad((t: Tensor) =>
        tf.sum(
          // a problem may still give the { kind, logits } form, which this package's estimators take
          (estimator as GradientEstimator).estimate(
            problem.latent(t),
            (z) => problem.objective(z, t),
            {
              samples,
              rng: opts.rng,
              update: false,
              diagnostics: false,
              ...(context ? { context } : {}),
            },
          ).surrogate,
        ),
      )(p);
      return [grad.dataSync(), value.dataSync()[0] as number] as const;
    });
    grads.set(gv, start * pn);
    valueSum += vs;
  }
  const wallMs = performance.now() - t0;
  const mean = new Array<number>(pn).fill(0);
  const variance = new Array<number>(pn).fill(0);
  for (let j = 0; j < pn; j++) {
    let m = 0;
    for (let i = 0; i < repeats; i++) m += grads[i * pn + j] as number;
    m /= repeats;
    let v = 0;
    for (let i = 0; i < repeats; i++) v += ((grads[i * pn + j] as number) - m) ** 2;
    mean[j] = m;
    variance[j] = v / (repeats - 1);
  }
  const stderr = variance.map((v) => Math.sqrt(v / repeats));
  let exactG: number[] | null = null;
  if (problem.exactGradient) exactG = [...problem.exactGradient];
  else {
    const lat = tf.tidy(() => isEnumerable(problem.latent(tf.tensor2d([[...problem.params]]))));
    if (lat) exactG = exactGradientOf(problem);
  }
  const bias = exactG ? mean.map((m, j) => m - (exactG![j] as number)) : null;
  return {
    estimator: estimator.name,
    problem: problem.name,
    samples,
    repeats,
    mean,
    variance,
    totalVariance: variance.reduce((a, b) => a + b, 0),
    stderr,
    exact: exactG,
    bias,
    biasNorm: bias ? Math.sqrt(bias.reduce((a, b) => a + b * b, 0)) : null,
    maxAbsZ: bias
      ? Math.max(...bias.map((b, j) => Math.abs(b) / Math.max(stderr[j] as number, 1e-300)))
      : null,
    value: valueSum / repeats,
    wallMs,
    estimatesPerSecond: repeats / (wallMs / 1000),
  };
}

/**
 * The lecture's example: d/dtheta E_{x ~ N(theta, 1)}[x^2] = 2 theta (4 at theta = 2). The
 * per-sample variance is 87 for REINFORCE (theta = 2) and 4 for the reparameterization estimator.
 *
 * @example
 * ```ts
 * gradientStats(reparam(), lectureProblem(), { samples: 1000, repeats: 100, rng: new Rng(0) });
 * ```
 */
export function lectureProblem(theta = 2): EstimationProblem {
  return {
    name: `lecture(theta=${theta})`,
    params: [theta],
    latent: (p) => new Normal(tf.squeeze(p, [1]), 1, { validate: false }),
    objective: (z) => tf.square(z),
    exactGradient: [2 * theta],
  };
}

/**
 * A Bernoulli problem: q = Bernoulli(sigmoid(logits)) over D bits, f(z [S, R, D]) -> [S, R].
 *
 * @example
 * ```ts
 * const p = bernoulliProblem('sum-sq', [0.5, -1], (z) => tf.square(tf.sub(tf.sum(z, -1), 0.7)));
 * ```
 */
export function bernoulliProblem(
  name: string,
  logits: readonly number[],
  f: (z: Tensor, params: Tensor) => Tensor,
): EstimationProblem {
  return {
    name,
    params: [...logits],
    latent: (p) => new Bernoulli({ logits: p }, { validate: false }),
    objective: f,
  };
}

/**
 * A categorical problem: D latents of C categories, logits `[D][C]` (flattened into theta),
 * f(z [S, R, D, C] one-hot) -> [S, R].
 *
 * @example
 * ```ts
 * const p = categoricalProblem('table', [[0, 1, -1]], (z) => tf.sum(tf.mul(z, tf.tensor1d([1, 3, 2])), [-2, -1]));
 * ```
 */
export function categoricalProblem(
  name: string,
  logits: readonly (readonly number[])[],
  f: (z: Tensor, params: Tensor) => Tensor,
): EstimationProblem {
  const d = logits.length;
  const c = logits[0]?.length ?? 0;
  if (d < 1 || c < 2 || logits.some((row) => row.length !== c)) {
    throw new ValueError(
      'categoricalProblem: logits must be D >= 1 rows of the same C >= 2 entries.',
    );
  }
  return {
    name,
    params: logits.flat(),
    latent: (p) =>
      new OneHotCategorical(
        { logits: tf.reshape(p, [p.shape[0] as number, d, c]) },
        { validate: false },
      ),
    objective: f,
  };
}

/**
 * The toy of the RELAX paper (Grathwohl et al. 2018, section 6.1, after Tucker et al. 2017):
 * minimise E_{b ~ Bernoulli(sigmoid(theta))}[(b - target)^2], target 0.499. The exact gradient
 * is sigmoid'(theta) ((1 - t)^2 - t^2) = 0.002 sigmoid'(theta): tiny next to the noise.
 *
 * @example
 * ```ts
 * gradientStats(relax(), relaxToyProblem(0), { samples: 1, repeats: 1000, rng: new Rng(0) });
 * ```
 */
export function relaxToyProblem(theta = 0, target = 0.499): EstimationProblem {
  const s = 1 / (1 + Math.exp(-theta));
  return {
    name: `relax-toy(theta=${theta}, t=${target})`,
    params: [theta],
    latent: (p) => new Bernoulli({ logits: p }, { validate: false }),
    objective: (z) => tf.sum(tf.square(tf.sub(z, target)), -1),
    exactGradient: [s * (1 - s) * ((1 - target) ** 2 - target ** 2)],
  };
}
