/**
 * Improved precision and recall (Kynkäänniemi et al. 2019): each set's manifold is the union of
 * balls around its points, each ball's radius the distance to that point's k-th nearest
 * neighbour within the set. Precision is the fraction of generated samples inside the real
 * manifold (quality), recall the fraction of real samples inside the generated manifold
 * (coverage). Float64 JavaScript, one row of distances at a time (memory O(n)).
 */
import { ValueError } from '@dgm-js/core-tensors';

function sqDist(a: Float64Array, i: number, b: Float64Array, j: number, d: number): number {
  let s = 0;
  const ai = i * d;
  const bj = j * d;
  for (let k = 0; k < d; k++) {
    const t = a[ai + k]! - b[bj + k]!;
    s += t * t;
  }
  return s;
}

/**
 * Squared distance from each row to its k-th nearest neighbour among the other rows of the
 * same set (`n x d`, row-major). Needs n > k.
 *
 * @example
 * ```ts
 * knnRadii(new Float64Array([0, 1, 3]), 3, 1, 1); // [1, 1, 4]
 * ```
 */
export function knnRadii(x: Float64Array, n: number, d: number, k: number): Float64Array {
  if (!Number.isInteger(k) || k < 1 || k >= n) {
    throw new ValueError(`knnRadii: k must be an integer in [1, n - 1 = ${n - 1}], got ${k}.`);
  }
  const out = new Float64Array(n);
  const best = new Float64Array(k); // the k smallest so far, ascending
  for (let i = 0; i < n; i++) {
    best.fill(Number.POSITIVE_INFINITY);
    for (let j = 0; j < n; j++) {
      if (j === i) continue;
      const v = sqDist(x, i, x, j, d);
      if (v >= best[k - 1]!) continue;
      let p = k - 1;
      while (p > 0 && best[p - 1]! > v) {
        best[p] = best[p - 1]!;
        p--;
      }
      best[p] = v;
    }
    out[i] = best[k - 1]!;
  }
  return out;
}

/** Fraction of rows of `q` inside the union of balls (centres `c`, squared radii `r2`). */
function coverage(
  q: Float64Array,
  nq: number,
  c: Float64Array,
  nc: number,
  r2: Float64Array,
  d: number,
): number {
  let inside = 0;
  for (let i = 0; i < nq; i++) {
    for (let j = 0; j < nc; j++) {
      if (sqDist(q, i, c, j, d) <= r2[j]!) {
        inside++;
        break;
      }
    }
  }
  return inside / nq;
}

/** What {@link precisionRecall} returns. */
export interface PrecisionRecallResult {
  /** Fraction of generated samples inside the real manifold. */
  precision: number;
  /** Fraction of real samples inside the generated manifold. */
  recall: number;
  /** Binomial standard errors sqrt(p (1 - p) / n), given the manifolds. */
  precisionStderr: number;
  recallStderr: number;
  k: number;
  nReal: number;
  nFake: number;
}

/**
 * Improved precision and recall of generated features `fake` (`nf x d`) against real features
 * `real` (`nr x d`) with k-NN radii (default k = 3, the paper's choice). O((nr + nf)^2 d) time.
 *
 * @example
 * ```ts
 * const pr = precisionRecall(real.features, real.n, fake.features, fake.n, 64); // { precision, recall, ... }
 * ```
 */
export function precisionRecall(
  real: Float64Array,
  nr: number,
  fake: Float64Array,
  nf: number,
  d: number,
  opts: { k?: number } = {},
): PrecisionRecallResult {
  const k = opts.k ?? 3;
  if (!Number.isInteger(d) || d < 1 || real.length !== nr * d || fake.length !== nf * d) {
    throw new ValueError(
      `precisionRecall: real must hold nr*d = ${nr * d} and fake nf*d = ${nf * d} values, got ${real.length} and ${fake.length}.`,
    );
  }
  const rReal = knnRadii(real, nr, d, k);
  const rFake = knnRadii(fake, nf, d, k);
  const precision = coverage(fake, nf, real, nr, rReal, d);
  const recall = coverage(real, nr, fake, nf, rFake, d);
  return {
    precision,
    recall,
    precisionStderr: Math.sqrt((precision * (1 - precision)) / nf),
    recallStderr: Math.sqrt((recall * (1 - recall)) / nr),
    k,
    nReal: nr,
    nFake: nf,
  };
}
