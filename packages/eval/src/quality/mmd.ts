/**
 * Kernel maximum mean discrepancy (Gretton et al. 2012): the unbiased estimate of MMD^2
 * between two samples, with an RBF or an inverse-multiquadric kernel, and a permutation
 * two-sample test giving a p-value. Float64 JavaScript on row-major vectors.
 */
import { checkInt, Rng, ValueError } from '@dgm-js/core-tensors';

/** A kernel on vectors, as a function of the squared distance. */
export type MmdKernel =
  | {
      /** exp(-||x - y||^2 / (2 sigma^2)). */
      type: 'rbf';
      /** The bandwidth sigma; default: the median heuristic sigma^2 = median ||x - y||^2 / 2. */
      sigma?: number;
    }
  | {
      /**
       * C / (C + ||x - y||^2) (inverse multiquadric, as InfoVAE / WAE use it; heavier tails
       * than the RBF, so it keeps a gradient for far-apart samples).
       */
      type: 'imq';
      /** The scale C; default: the median of ||x - y||^2 over the pooled sample. */
      c?: number;
    };

/** Options of {@link mmdTest}. */
export interface MmdTestOptions {
  /** Default `{ type: 'rbf' }` with the median-heuristic bandwidth. */
  kernel?: MmdKernel;
  /** Permutations for the p-value (0: no test). Default 200. */
  permutations?: number;
  /** Seed of the permutations. Default 0. */
  seed?: number;
}

/** What {@link mmdTest} returns. */
export interface MmdTestResult {
  /** The unbiased estimate of MMD^2 (may be slightly negative when the samples match). */
  mmd2: number;
  /**
   * The permutation p-value (1 + #{permuted >= observed}) / (1 + permutations): valid at every
   * sample size (P(p <= a) <= a under H0). NaN with 0 permutations.
   */
  pValue: number;
  /** The kernel with its resolved scale. */
  kernel: { type: 'rbf'; sigma: number } | { type: 'imq'; c: number };
  /** Mean and standard deviation of MMD^2 over the permutations (the null distribution). */
  nullMean: number;
  nullStd: number;
  permutations: number;
}

/** Squared distances between all pooled rows, N x N (internal). */
function pooledSqDist(z: Float64Array, nn: number, d: number): Float64Array {
  const dist = new Float64Array(nn * nn);
  for (let i = 0; i < nn; i++) {
    for (let j = i + 1; j < nn; j++) {
      let s = 0;
      for (let k = 0; k < d; k++) {
        const t = z[i * d + k]! - z[j * d + k]!;
        s += t * t;
      }
      dist[i * nn + j] = s;
      dist[j * nn + i] = s;
    }
  }
  return dist;
}

/** The median of the off-diagonal entries of a symmetric N x N matrix (internal). */
function medianOffDiagonal(dist: Float64Array, nn: number): number {
  const vals = new Float64Array((nn * (nn - 1)) / 2);
  let k = 0;
  for (let i = 0; i < nn; i++) for (let j = i + 1; j < nn; j++) vals[k++] = dist[i * nn + j]!;
  vals.sort();
  const h = vals.length >> 1;
  return vals.length % 2 ? vals[h]! : 0.5 * (vals[h - 1]! + vals[h]!);
}

/**
 * Unbiased MMD^2 of the split `inX` (true: first sample) of a pooled kernel matrix, from the
 * row sums over the first sample (internal).
 */
function mmd2FromSplit(
  K: Float64Array,
  nn: number,
  inX: Uint8Array,
  n: number,
  m: number,
  total: number,
  rowX: Float64Array,
): number {
  rowX.fill(0);
  for (let i = 0; i < nn; i++) {
    let s = 0;
    const off = i * nn;
    for (let j = 0; j < nn; j++) if (inX[j]) s += K[off + j]!;
    rowX[i] = s;
  }
  let xxAll = 0;
  let xy = 0;
  let diagX = 0;
  let diagY = 0;
  for (let i = 0; i < nn; i++) {
    if (inX[i]) {
      xxAll += rowX[i]!;
      diagX += K[i * nn + i]!;
    } else {
      xy += rowX[i]!;
      diagY += K[i * nn + i]!;
    }
  }
  const yyAll = total - xxAll - 2 * xy;
  return (xxAll - diagX) / (n * (n - 1)) + (yyAll - diagY) / (m * (m - 1)) - (2 * xy) / (n * m);
}

/**
 * The unbiased MMD^2 between samples x (`n x d`, row-major) and y (`m x d`) and its permutation
 * test. The kernel scale (median heuristic when not given) is computed on the pooled sample, so
 * it is the same under every permutation and the test stays exact. Memory: one (n + m)^2
 * float64 kernel matrix (keep n + m below a few thousand).
 *
 * @example
 * ```ts
 * const r = mmdTest(x, 200, y, 200, 2, { kernel: { type: 'imq' }, permutations: 500 });
 * if (r.pValue < 0.05) console.log('the samples differ');
 * ```
 */
export function mmdTest(
  x: Float64Array,
  n: number,
  y: Float64Array,
  m: number,
  d: number,
  opts: MmdTestOptions = {},
): MmdTestResult {
  if (!Number.isInteger(n) || !Number.isInteger(m) || n < 2 || m < 2) {
    throw new ValueError(`mmdTest: each sample needs at least 2 vectors, got n=${n}, m=${m}.`);
  }
  if (!Number.isInteger(d) || d < 1 || x.length !== n * d || y.length !== m * d) {
    throw new ValueError(
      `mmdTest: x must hold n*d = ${n * d} and y m*d = ${m * d} values, got ${x.length} and ${y.length}.`,
    );
  }
  const perms = opts.permutations ?? 200;
  checkInt(perms, 'permutations', 'mmdTest', { min: 0 });
  const nn = n + m;
  const z = new Float64Array(nn * d);
  z.set(x, 0);
  z.set(y, n * d);
  const K = pooledSqDist(z, nn, d);
  const spec = opts.kernel ?? { type: 'rbf' };
  let kernel: MmdTestResult['kernel'];
  if (spec.type === 'rbf') {
    const sigma = spec.sigma ?? Math.sqrt(medianOffDiagonal(K, nn) / 2);
    if (!(sigma > 0)) {
      throw new ValueError(`mmdTest: the RBF bandwidth must be positive, got ${sigma}.`);
    }
    const g = 1 / (2 * sigma * sigma);
    for (let i = 0; i < K.length; i++) K[i] = Math.exp(-g * K[i]!);
    kernel = { type: 'rbf', sigma };
  } else if (spec.type === 'imq') {
    const c = spec.c ?? medianOffDiagonal(K, nn);
    if (!(c > 0)) throw new ValueError(`mmdTest: the IMQ scale c must be positive, got ${c}.`);
    for (let i = 0; i < K.length; i++) K[i] = c / (c + K[i]!);
    kernel = { type: 'imq', c };
  } else {
    throw new ValueError(
      `mmdTest: kernel.type must be 'rbf' or 'imq', got '${(spec as { type: string }).type}'.`,
    );
  }
  let total = 0;
  for (let i = 0; i < K.length; i++) total += K[i]!;
  const inX = new Uint8Array(nn);
  inX.fill(1, 0, n);
  const rowX = new Float64Array(nn);
  const mmd2 = mmd2FromSplit(K, nn, inX, n, m, total, rowX);
  if (perms === 0) {
    return {
      mmd2,
      pValue: Number.NaN,
      kernel,
      nullMean: Number.NaN,
      nullStd: Number.NaN,
      permutations: 0,
    };
  }
  const rng = new Rng(opts.seed ?? 0);
  const idx = Int32Array.from({ length: nn }, (_, i) => i);
  let above = 0;
  let s1 = 0;
  let s2 = 0;
  for (let p = 0; p < perms; p++) {
    for (let i = nn - 1; i > 0; i--) {
      const j = Math.floor(rng.float() * (i + 1));
      const t = idx[i]!;
      idx[i] = idx[j]!;
      idx[j] = t;
    }
    inX.fill(0);
    for (let i = 0; i < n; i++) inX[idx[i]!] = 1;
    const v = mmd2FromSplit(K, nn, inX, n, m, total, rowX);
    if (v >= mmd2) above++;
    s1 += v;
    s2 += v * v;
  }
  const nullMean = s1 / perms;
  const nullStd =
    perms > 1 ? Math.sqrt(Math.max(0, (s2 - perms * nullMean ** 2) / (perms - 1))) : 0;
  return {
    mmd2,
    pValue: (1 + above) / (1 + perms),
    kernel,
    nullMean,
    nullStd,
    permutations: perms,
  };
}
