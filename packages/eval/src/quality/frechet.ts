/**
 * The Fréchet distance between Gaussians fitted to two sets of feature vectors (Heusel et al.
 * 2017): ||mu1 - mu2||^2 + tr(S1) + tr(S2) - 2 tr((S1 S2)^{1/2}). On the shipped MNIST
 * classifier's penultimate features it is "FID-MNIST" (not comparable with Inception FIDs).
 * Float64 throughout; the matrix square root goes through the symmetric eigendecomposition of
 * S1^{1/2} S2 S1^{1/2}, which is stable for singular (rank-deficient) covariances.
 *
 * Caveat: FID is biased upward at finite n (the bias shrinks like 1/n), so compare numbers
 * computed from the same number of samples.
 */
import { checkInt, Rng, ValueError } from '@dgm-js/core-tensors';
import { type Moments, moments, trace, traceSqrtProduct } from './linalg.js';

/** The terms of a Fréchet distance. */
export interface FrechetResult {
  /** The distance. */
  value: number;
  /** ||mu1 - mu2||^2. */
  meanTerm: number;
  /** tr(S1) + tr(S2) - 2 tr((S1 S2)^{1/2}). */
  covTerm: number;
}

/**
 * The Fréchet distance between N(mu1, S1) and N(mu2, S2) from their moments.
 *
 * @example
 * ```ts
 * frechetDistance(moments(a, n, d), moments(b, m, d)).value;
 * ```
 */
export function frechetDistance(a: Moments, b: Moments): FrechetResult {
  if (a.dim !== b.dim) {
    throw new ValueError(
      `frechetDistance: the feature dimensions differ (${a.dim} vs ${b.dim}); use one feature map for both sets.`,
    );
  }
  const d = a.dim;
  let meanTerm = 0;
  for (let i = 0; i < d; i++) meanTerm += (a.mean[i]! - b.mean[i]!) ** 2;
  const covTerm = trace(a.cov, d) + trace(b.cov, d) - 2 * traceSqrtProduct(a.cov, b.cov, d);
  return { value: meanTerm + covTerm, meanTerm, covTerm };
}

/** Rows `idx` of a row-major n x d array (internal). */
function pick(rows: Float64Array, d: number, idx: Int32Array): Float64Array {
  const out = new Float64Array(idx.length * d);
  for (let i = 0; i < idx.length; i++) {
    out.set(rows.subarray(idx[i]! * d, idx[i]! * d + d), i * d);
  }
  return out;
}

/** What {@link frechetFromFeatures} returns. */
export interface FrechetFeatureResult extends FrechetResult {
  /** Bootstrap standard deviation of the distance (both sets resampled), when `bootstrap > 0`. */
  stderr?: number;
  /** The bootstrap replicates. */
  replicates?: number[];
}

/**
 * The Fréchet distance between two sets of feature vectors (rows of `a`: `na x d`, of `b`:
 * `nb x d`), with an optional bootstrap standard error: both sets resampled with replacement
 * `bootstrap` times (seeded).
 *
 * @example
 * ```ts
 * const r = frechetFromFeatures(fake.features, fake.n, real.features, real.n, 64, { bootstrap: 10 });
 * ```
 */
export function frechetFromFeatures(
  a: Float64Array,
  na: number,
  b: Float64Array,
  nb: number,
  d: number,
  opts: { bootstrap?: number; seed?: number } = {},
): FrechetFeatureResult {
  const base = frechetDistance(moments(a, na, d), moments(b, nb, d));
  const reps = opts.bootstrap ?? 0;
  checkInt(reps, 'bootstrap', 'frechetFromFeatures', { min: 0 });
  if (reps === 0) return base;
  const rng = new Rng(opts.seed ?? 0);
  const draw = (n: number) => Int32Array.from({ length: n }, () => Math.floor(rng.float() * n));
  const replicates: number[] = [];
  for (let r = 0; r < reps; r++) {
    const ma = moments(pick(a, d, draw(na)), na, d);
    const mb = moments(pick(b, d, draw(nb)), nb, d);
    replicates.push(frechetDistance(ma, mb).value);
  }
  const mean = replicates.reduce((s, v) => s + v, 0) / reps;
  const sd =
    reps > 1 ? Math.sqrt(replicates.reduce((s, v) => s + (v - mean) ** 2, 0) / (reps - 1)) : 0;
  return { ...base, stderr: sd, replicates };
}
