/** Summary statistics of per-example values, in float64. */
import { ValueError } from '@dgm-js/core-tensors';

/** Mean, sample standard deviation and standard error of the mean. */
export interface MeanStderr {
  mean: number;
  /** Sample standard deviation (divisor n - 1; 0 when n = 1). */
  std: number;
  /** std / sqrt(n) (0 when n = 1). */
  stderr: number;
  n: number;
}

/**
 * The mean of `values` and its standard error, std / sqrt(n) with the unbiased (n - 1) sample
 * standard deviation. Computed in float64 with Welford's update (stable for large n and offsets).
 *
 * @example
 * ```ts
 * meanStderr([1, 2, 3, 4]); // { mean: 2.5, std: 1.2910, stderr: 0.6455, n: 4 }
 * ```
 */
export function meanStderr(values: ArrayLike<number>): MeanStderr {
  const n = values.length;
  if (n === 0) throw new ValueError('meanStderr: no values (evaluate on at least one example).');
  let mean = 0;
  let m2 = 0;
  for (let i = 0; i < n; i++) {
    const v = values[i] as number;
    const d = v - mean;
    mean += d / (i + 1);
    m2 += d * (v - mean);
  }
  const std = n > 1 ? Math.sqrt(m2 / (n - 1)) : 0;
  return { mean, std, stderr: n > 1 ? std / Math.sqrt(n) : 0, n };
}

/**
 * log sum_i exp(a_i), max-shifted, in float64. -Infinity for an empty or all -Infinity input.
 *
 * @example
 * ```ts
 * logSumExpArray([Math.log(1), Math.log(3)]); // log 4
 * ```
 */
export function logSumExpArray(a: ArrayLike<number>): number {
  let m = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < a.length; i++) m = Math.max(m, a[i] as number);
  if (m === Number.NEGATIVE_INFINITY || Number.isNaN(m)) return m;
  if (m === Number.POSITIVE_INFINITY) return m;
  let s = 0;
  for (let i = 0; i < a.length; i++) s += Math.exp((a[i] as number) - m);
  return m + Math.log(s);
}
