/**
 * Helpers of this package's tests (not exported): exhaustive inputs, a chi-square goodness of
 * fit, and dependency maps from autodiff.
 */
import { tf } from '@dgm-js/core-tensors';

/** Every binary vector of length d, `[2^d, d]` float32, in counting order (bit 0 first). */
export function allBinary(d: number): tf.Tensor2D {
  return allCategorical(d, 2) as tf.Tensor2D;
}

/** Every vector of d values in 0..k-1, `[k^d, d]` float32; row i encodes i in base k (dim 0 least). */
export function allCategorical(d: number, k: number): tf.Tensor2D {
  const n = k ** d;
  const v = new Float32Array(n * d);
  for (let i = 0; i < n; i++) {
    let r = i;
    for (let j = 0; j < d; j++) {
      v[i * d + j] = r % k;
      r = Math.floor(r / k);
    }
  }
  return tf.tensor2d(v, [n, d]);
}

/** The row index of each sample in the {@link allCategorical} enumeration. */
export function indexOf(samples: ArrayLike<number>, d: number, k: number): number[] {
  const out: number[] = [];
  for (let s = 0; s < samples.length / d; s++) {
    let idx = 0;
    for (let j = d - 1; j >= 0; j--) idx = idx * k + samples[s * d + j]!;
    out.push(idx);
  }
  return out;
}

/**
 * Pearson's chi-square statistic of observed counts against probabilities, pooling cells with
 * expected count < 5 into one cell; returns the statistic and the degrees of freedom.
 */
export function chiSquare(
  counts: number[],
  probs: ArrayLike<number>,
): { stat: number; df: number } {
  const n = counts.reduce((a, b) => a + b, 0);
  let stat = 0;
  let cells = 0;
  let poolO = 0;
  let poolE = 0;
  for (let i = 0; i < counts.length; i++) {
    const e = n * probs[i]!;
    if (e < 5) {
      poolO += counts[i]!;
      poolE += e;
      continue;
    }
    stat += (counts[i]! - e) ** 2 / e;
    cells++;
  }
  if (poolE > 0) {
    stat += (poolO - poolE) ** 2 / Math.max(poolE, 1e-12);
    cells++;
  }
  return { stat, df: cells - 1 };
}

/** The chi-square upper 0.001 quantile (Wilson-Hilferty approximation, good for df >= 2). */
export function chi2Critical001(df: number): number {
  const z = 3.090232;
  const a = 2 / (9 * df);
  return df * (1 - a + z * Math.sqrt(a)) ** 3;
}

/** Counts of each enumeration index among the samples. */
export function countIndices(idx: number[], cells: number): number[] {
  const c = new Array<number>(cells).fill(0);
  for (const i of idx) c[i]!++;
  return c;
}

/**
 * Which inputs each output depends on, from autodiff: for output group g (selected by
 * `pick(out, g)`, summed over the batch), `deps[g][i]` is true when the gradient with respect
 * to input unit i (last axis of the flattened x) is nonzero for some example.
 */
export function dependencies(
  f: (x: tf.Tensor) => tf.Tensor,
  x: tf.Tensor,
  groups: number,
  pick: (out: tf.Tensor, g: number) => tf.Tensor,
): boolean[][] {
  const out: boolean[][] = [];
  for (let g = 0; g < groups; g++) {
    const grad = tf.tidy(() => tf.grad((xi: tf.Tensor) => tf.sum(pick(f(xi), g)))(x));
    const v = grad.dataSync();
    grad.dispose();
    const width = x.size / x.shape[0]!;
    const row: boolean[] = new Array(width).fill(false);
    for (let i = 0; i < v.length; i++) if (v[i] !== 0) row[i % width] = true;
    out.push(row);
  }
  return out;
}
