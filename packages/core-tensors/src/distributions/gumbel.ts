import { ValueError } from '../errors.js';
import { tf } from '../tf.js';
import type { DistributionOptions, ParamLike } from './distribution.js';
import { LocationScale, STANDARD_GUMBEL } from './location-scale.js';
import { EULER_GAMMA } from './util.js';

type Tensor = tf.Tensor;

/**
 * The Gumbel (type I extreme value) distribution, elementwise: the law of maxima of many
 * independent light-tailed variables, e.g. yearly maximum water levels, and the noise of the
 * Gumbel-Max trick. cdf exp(-exp(-(x - loc) / scale)). Reparameterized: `rsample` is
 * `loc + scale * g`, g = -log(-log u) standard Gumbel noise, u clamped uniform. A location-scale
 * `TransformedDistribution` (standard Gumbel base, `Affine(loc, scale)` bijector) with the
 * closed-form log-density -(z + exp(-z)) - log scale, z = (x - loc) / scale. Fit it to data
 * with {@link fitGumbel}.
 *
 * @example
 * ```ts
 * import { Gumbel, tf } from '@dgm-js/core-tensors';
 * const g = new Gumbel(3.2, 0.4); // yearly maximum level in metres
 * g.icdf(tf.scalar(1 - 1 / 100)).print(); // the 100-year level: 5.04 m
 * g.cdf(tf.scalar(4)).print(); // P(yearly max <= 4 m)
 * ```
 */
export class Gumbel extends LocationScale {
  /**
   * @param loc location (the mode), finite
   * @param scale scale (> 0), broadcastable with `loc`
   */
  constructor(loc: ParamLike, scale: ParamLike, opts: DistributionOptions = {}) {
    super(STANDARD_GUMBEL, loc, scale, opts);
  }

  /** The density exp(logProb(x)). */
  pdf(x: Tensor): Tensor {
    return tf.tidy(() => tf.exp(this.logProb(x)));
  }
}

/**
 * Options of {@link fitGumbel}.
 *
 * @example
 * ```ts
 * fitGumbel(maxima, { tol: 1e-10, maxIter: 50 });
 * ```
 */
export interface FitGumbelOptions {
  /** Relative tolerance on the scale. Default 1e-12. */
  tol?: number;
  /** Maximum Newton iterations. Default 100. */
  maxIter?: number;
}

/**
 * The maximum-likelihood Gumbel fit of {@link fitGumbel}.
 *
 * @example
 * ```ts
 * const { loc, scale, stderr } = fitGumbel(maxima); // loc +- 2 stderr.loc: a 95% interval
 * ```
 */
export interface GumbelFit {
  /** Location estimate. */
  loc: number;
  /** Scale estimate. */
  scale: number;
  /** Asymptotic standard errors from the inverse Fisher information at the estimate. */
  stderr: { loc: number; scale: number };
  /** Log-likelihood of the data at the estimate. */
  logLikelihood: number;
  /** Number of observations. */
  n: number;
  /** Newton iterations used. */
  iterations: number;
}

/**
 * Maximum-likelihood fit of a Gumbel distribution to data, e.g. block maxima (yearly maximum
 * water levels, wind speeds). Solves the likelihood equations in float64:
 * the scale from beta = mean(x) - sum(x e^{-x/beta}) / sum(e^{-x/beta}) by safeguarded Newton
 * (the equation has exactly one root), then loc = -beta log(mean(e^{-x/beta})). The data are
 * standardized first and the sums shifted, so nothing overflows. Reports standard errors from
 * the Fisher information (Var loc = 1.1087 beta^2 / n, Var scale = 0.6079 beta^2 / n).
 *
 * @param data observations (a tensor of any shape is flattened)
 * @example
 * ```ts
 * import { fitGumbel, Gumbel, tf } from '@dgm-js/core-tensors';
 * const maxima = [3.1, 3.6, 2.9, 4.2, 3.3, 3.8, 3.0, 3.5, 4.6, 3.2]; // yearly maxima, metres
 * const fit = fitGumbel(maxima);
 * const g = new Gumbel(fit.loc, fit.scale);
 * g.icdf(tf.scalar(0.99)).print(); // the 100-year level
 * ```
 */
export function fitGumbel(
  data: ArrayLike<number> | tf.Tensor,
  opts: FitGumbelOptions = {},
): GumbelFit {
  const tol = opts.tol ?? 1e-12;
  const maxIter = opts.maxIter ?? 100;
  const x = Float64Array.from(
    data instanceof tf.Tensor ? (data.dataSync() as ArrayLike<number>) : data,
  );
  const n = x.length;
  if (n < 2) {
    throw new ValueError(`fitGumbel: data needs at least 2 observations, got ${n}.`);
  }
  let sum = 0;
  for (let i = 0; i < n; i++) {
    const v = x[i] as number;
    if (!Number.isFinite(v)) {
      throw new ValueError(
        `fitGumbel: data must be finite, but element ${i} is ${v}; drop or fix it.`,
      );
    }
    sum += v;
  }
  const m = sum / n;
  let ss = 0;
  for (let i = 0; i < n; i++) ss += ((x[i] as number) - m) ** 2;
  const sd = Math.sqrt(ss / n);
  if (!(sd > 0) || sd <= 1e-12 * Math.max(1, Math.abs(m))) {
    throw new ValueError(
      `fitGumbel: all ${n} observations are (nearly) equal to ${m}, so the scale is 0 and no Gumbel fits; pass varying data.`,
    );
  }
  // Standardize: z has mean 0 and variance 1; the fit is location-scale equivariant.
  const z = x.map((v) => (v - m) / sd);
  let zmin = Number.POSITIVE_INFINITY;
  for (const v of z) zmin = Math.min(zmin, v);

  // Weighted moments of z under w_i = exp(-(z_i - zmin) / b) (shifted: w <= 1, no overflow).
  const moments = (b: number) => {
    let s0 = 0;
    let s1 = 0;
    let s2 = 0;
    for (const v of z) {
      const w = Math.exp(-(v - zmin) / b);
      s0 += w;
      s1 += w * v;
      s2 += w * v * v;
    }
    const e1 = s1 / s0;
    return { s0, e1, var: Math.max(0, s2 / s0 - e1 * e1) };
  };
  // g(b) = b - mean(z) + E_w[z] = b + E_w[z] (mean z = 0), increasing (g' = 1 + Var_w[z] / b^2),
  // with g(0+) = zmin < 0 and g(b) >= b + zmin > 0 for b > -zmin: exactly one root, bracketed
  // in (0, max(1, -zmin) * 2). Newton, falling back to bisection if a step leaves the bracket.
  let lo = 0;
  let hi = Math.max(1, -zmin) * 2;
  let b = Math.sqrt(6) / Math.PI; // method of moments for unit variance
  let iterations = 0;
  while (iterations < maxIter) {
    iterations++;
    const mo = moments(b);
    const g = b + mo.e1;
    if (g === 0) break;
    if (g > 0) hi = Math.min(hi, b);
    else lo = Math.max(lo, b);
    const step = g / (1 + mo.var / (b * b));
    let next = b - step;
    if (Math.abs(step) <= tol * b) {
      b = next;
      break;
    }
    if (!(next > lo && next < hi)) next = 0.5 * (lo + hi);
    b = next;
  }
  const mo = moments(b);
  const muZ = zmin - b * Math.log(mo.s0 / n);
  const loc = m + sd * muZ;
  const scale = sd * b;
  let ll = 0;
  for (let i = 0; i < n; i++) {
    const t = ((x[i] as number) - loc) / scale;
    ll += -t - Math.exp(-t);
  }
  ll -= n * Math.log(scale);
  const c = 1 - EULER_GAMMA;
  const pi2 = Math.PI * Math.PI;
  return {
    loc,
    scale,
    stderr: {
      loc: scale * Math.sqrt((1 + (6 * c * c) / pi2) / n),
      scale: scale * Math.sqrt(6 / pi2 / n),
    },
    logLikelihood: ll,
    n,
    iterations,
  };
}
