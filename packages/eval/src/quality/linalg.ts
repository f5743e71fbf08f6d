/**
 * Small dense linear algebra in float64 (plain `Float64Array`s, row-major), for the Fréchet
 * distance: feature means and covariances, the symmetric eigendecomposition (Householder
 * tridiagonalisation + implicit QL, as EISPACK's tred2/tql2), and the square root of a
 * symmetric positive semi-definite matrix. Everything here is CPU JavaScript: exact enough to
 * compare scores across runs, independent of the tfjs backend's float32 arithmetic.
 */
import { ShapeError, ValueError } from '@dgm-js/core-tensors';

/** A square matrix, row-major: `data[i * n + j]`. */
export interface SquareMatrix {
  n: number;
  data: Float64Array;
}

/** The mean and covariance of a set of feature vectors (float64). */
export interface Moments {
  /** Number of vectors. */
  n: number;
  /** Dimension. */
  dim: number;
  /** The mean, length `dim`. */
  mean: Float64Array;
  /** The unbiased (divisor n - 1) covariance, `dim x dim` row-major. */
  cov: Float64Array;
}

/**
 * Mean and unbiased covariance of `n` row vectors of length `dim` stored row-major in `rows`.
 * Two passes (mean first, then centred products), so large offsets lose no precision.
 *
 * @example
 * ```ts
 * const m = moments(new Float64Array([0, 0, 2, 2]), 2, 2); // mean [1, 1], cov [[2, 2], [2, 2]]
 * ```
 */
export function moments(rows: Float64Array, n: number, dim: number): Moments {
  if (!Number.isInteger(n) || n < 2) {
    throw new ValueError(`moments: need at least 2 vectors for a covariance, got ${n}.`);
  }
  if (rows.length !== n * dim) {
    throw new ShapeError(`moments: rows has ${rows.length} values, expected n * dim = ${n * dim}.`);
  }
  const mean = new Float64Array(dim);
  for (let i = 0; i < n; i++) for (let j = 0; j < dim; j++) mean[j]! += rows[i * dim + j] as number;
  for (let j = 0; j < dim; j++) mean[j]! /= n;
  const cov = new Float64Array(dim * dim);
  const c = new Float64Array(dim);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < dim; j++) c[j] = rows[i * dim + j]! - mean[j]!;
    for (let a = 0; a < dim; a++) {
      const ca = c[a]!;
      if (ca === 0) continue;
      const off = a * dim;
      for (let b = a; b < dim; b++) cov[off + b]! += ca * c[b]!;
    }
  }
  for (let a = 0; a < dim; a++) {
    for (let b = a; b < dim; b++) {
      const v = cov[a * dim + b]! / (n - 1);
      cov[a * dim + b] = v;
      cov[b * dim + a] = v;
    }
  }
  return { n, dim, mean, cov };
}

/** What {@link symmetricEigen} returns: A = V diag(values) V^T. */
export interface Eigen {
  /** Eigenvalues, ascending. */
  values: Float64Array;
  /** Eigenvectors as columns of a row-major `n x n` matrix: vector k is `vectors[i * n + k]`. */
  vectors: Float64Array;
}

/**
 * Eigendecomposition of a real symmetric matrix (only its lower triangle is read; pass a
 * symmetric one). Householder reduction to tridiagonal form, then the implicit QL algorithm
 * with Wilkinson-style shifts (EISPACK tred2 / tql2, as in JAMA). Float64, O(n^3).
 *
 * @example
 * ```ts
 * const { values } = symmetricEigen(new Float64Array([2, 1, 1, 2]), 2); // [1, 3]
 * ```
 */
export function symmetricEigen(a: Float64Array, n: number): Eigen {
  if (a.length !== n * n) {
    throw new ShapeError(`symmetricEigen: matrix has ${a.length} values, expected ${n}x${n}.`);
  }
  for (let i = 0; i < a.length; i++) {
    if (!Number.isFinite(a[i]!)) {
      throw new ValueError(
        `symmetricEigen: the matrix has a non-finite entry (${a[i]}) at ${Math.floor(i / n)},${i % n}.`,
      );
    }
  }
  // V holds the matrix (then the eigenvectors), row-major V[i][j] = v[i * n + j].
  const v = Float64Array.from(a);
  const d = new Float64Array(n);
  const e = new Float64Array(n);
  if (n === 0) return { values: d, vectors: v };
  tred2(v, d, e, n);
  tql2(v, d, e, n);
  return { values: d, vectors: v };
}

function tred2(V: Float64Array, d: Float64Array, e: Float64Array, n: number): void {
  for (let j = 0; j < n; j++) d[j] = V[(n - 1) * n + j]!;
  for (let i = n - 1; i > 0; i--) {
    let scale = 0;
    let h = 0;
    for (let k = 0; k < i; k++) scale += Math.abs(d[k]!);
    if (scale === 0) {
      e[i] = d[i - 1]!;
      for (let j = 0; j < i; j++) {
        d[j] = V[(i - 1) * n + j]!;
        V[i * n + j] = 0;
        V[j * n + i] = 0;
      }
    } else {
      for (let k = 0; k < i; k++) {
        d[k]! /= scale;
        h += d[k]! * d[k]!;
      }
      let f = d[i - 1]!;
      let g = Math.sqrt(h);
      if (f > 0) g = -g;
      e[i] = scale * g;
      h -= f * g;
      d[i - 1] = f - g;
      for (let j = 0; j < i; j++) e[j] = 0;
      for (let j = 0; j < i; j++) {
        f = d[j]!;
        V[j * n + i] = f;
        g = e[j]! + V[j * n + j]! * f;
        for (let k = j + 1; k <= i - 1; k++) {
          g += V[k * n + j]! * d[k]!;
          e[k]! += V[k * n + j]! * f;
        }
        e[j] = g;
      }
      f = 0;
      for (let j = 0; j < i; j++) {
        e[j]! /= h;
        f += e[j]! * d[j]!;
      }
      const hh = f / (h + h);
      for (let j = 0; j < i; j++) e[j]! -= hh * d[j]!;
      for (let j = 0; j < i; j++) {
        f = d[j]!;
        g = e[j]!;
        for (let k = j; k <= i - 1; k++) V[k * n + j]! -= f * e[k]! + g * d[k]!;
        d[j] = V[(i - 1) * n + j]!;
        V[i * n + j] = 0;
      }
    }
    d[i] = h;
  }
  for (let i = 0; i < n - 1; i++) {
    V[(n - 1) * n + i] = V[i * n + i]!;
    V[i * n + i] = 1;
    const h = d[i + 1]!;
    if (h !== 0) {
      for (let k = 0; k <= i; k++) d[k] = V[k * n + i + 1]! / h;
      for (let j = 0; j <= i; j++) {
        let g = 0;
        for (let k = 0; k <= i; k++) g += V[k * n + i + 1]! * V[k * n + j]!;
        for (let k = 0; k <= i; k++) V[k * n + j]! -= g * d[k]!;
      }
    }
    for (let k = 0; k <= i; k++) V[k * n + i + 1] = 0;
  }
  for (let j = 0; j < n; j++) {
    d[j] = V[(n - 1) * n + j]!;
    V[(n - 1) * n + j] = 0;
  }
  V[(n - 1) * n + n - 1] = 1;
  e[0] = 0;
}

function tql2(V: Float64Array, d: Float64Array, e: Float64Array, n: number): void {
  for (let i = 1; i < n; i++) e[i - 1] = e[i]!;
  e[n - 1] = 0;
  let f = 0;
  let tst1 = 0;
  const eps = 2 ** -52;
  for (let l = 0; l < n; l++) {
    tst1 = Math.max(tst1, Math.abs(d[l]!) + Math.abs(e[l]!));
    let m = l;
    while (m < n) {
      if (Math.abs(e[m]!) <= eps * tst1) break;
      m++;
    }
    if (m > l) {
      let iter = 0;
      do {
        if (++iter > 60) {
          throw new ValueError('symmetricEigen: the QL iteration did not converge.');
        }
        let g = d[l]!;
        let p = (d[l + 1]! - g) / (2 * e[l]!);
        let r = Math.hypot(p, 1);
        if (p < 0) r = -r;
        d[l] = e[l]! / (p + r);
        d[l + 1] = e[l]! * (p + r);
        const dl1 = d[l + 1]!;
        let h = g - d[l]!;
        for (let i = l + 2; i < n; i++) d[i]! -= h;
        f += h;
        p = d[m]!;
        let c = 1;
        let c2 = c;
        let c3 = c;
        const el1 = e[l + 1]!;
        let s = 0;
        let s2 = 0;
        for (let i = m - 1; i >= l; i--) {
          c3 = c2;
          c2 = c;
          s2 = s;
          g = c * e[i]!;
          h = c * p;
          r = Math.hypot(p, e[i]!);
          e[i + 1] = s * r;
          s = e[i]! / r;
          c = p / r;
          p = c * d[i]! - s * g;
          d[i + 1] = h + s * (c * g + s * d[i]!);
          for (let k = 0; k < n; k++) {
            h = V[k * n + i + 1]!;
            V[k * n + i + 1] = s * V[k * n + i]! + c * h;
            V[k * n + i] = c * V[k * n + i]! - s * h;
          }
        }
        p = (-s * s2 * c3 * el1 * e[l]!) / dl1;
        e[l] = s * p;
        d[l] = c * p;
      } while (Math.abs(e[l]!) > eps * tst1);
    }
    d[l] = d[l]! + f;
    e[l] = 0;
  }
  // Sort eigenvalues (ascending) and vectors.
  for (let i = 0; i < n - 1; i++) {
    let k = i;
    let p = d[i]!;
    for (let j = i + 1; j < n; j++) {
      if (d[j]! < p) {
        k = j;
        p = d[j]!;
      }
    }
    if (k !== i) {
      d[k] = d[i]!;
      d[i] = p;
      for (let j = 0; j < n; j++) {
        const t = V[j * n + i]!;
        V[j * n + i] = V[j * n + k]!;
        V[j * n + k] = t;
      }
    }
  }
}

/**
 * The symmetric square root of a symmetric positive semi-definite matrix: V diag(sqrt(max(l,
 * 0))) V^T. Eigenvalues below zero (round-off of a singular matrix) are clamped to zero.
 *
 * @example
 * ```ts
 * sqrtPsd(new Float64Array([4, 0, 0, 9]), 2); // [2, 0, 0, 3]
 * ```
 */
export function sqrtPsd(a: Float64Array, n: number): Float64Array {
  const { values, vectors } = symmetricEigen(a, n);
  const s = values.map((l) => Math.sqrt(Math.max(l, 0)));
  const out = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = i; j < n; j++) {
      let acc = 0;
      for (let k = 0; k < n; k++) acc += vectors[i * n + k]! * s[k]! * vectors[j * n + k]!;
      out[i * n + j] = acc;
      out[j * n + i] = acc;
    }
  }
  return out;
}

/** C = A B for square n x n row-major matrices (internal). */
export function matMulSquare(a: Float64Array, b: Float64Array, n: number): Float64Array {
  const c = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let k = 0; k < n; k++) {
      const aik = a[i * n + k]!;
      if (aik === 0) continue;
      for (let j = 0; j < n; j++) c[i * n + j]! += aik * b[k * n + j]!;
    }
  }
  return c;
}

/** The trace of a square row-major matrix. */
export function trace(a: Float64Array, n: number): number {
  let t = 0;
  for (let i = 0; i < n; i++) t += a[i * n + i]!;
  return t;
}

/**
 * tr((A B)^{1/2}) for symmetric PSD A and B, as tr((A^{1/2} B A^{1/2})^{1/2}): the eigenvalues
 * of the symmetric PSD matrix A^{1/2} B A^{1/2} equal those of A B, and their square roots sum
 * to the trace wanted. Negative round-off eigenvalues are clamped to zero.
 *
 * @example
 * ```ts
 * traceSqrtProduct(new Float64Array([4, 0, 0, 1]), new Float64Array([1, 0, 0, 9]), 2); // 2 + 3
 * ```
 */
export function traceSqrtProduct(a: Float64Array, b: Float64Array, n: number): number {
  const ra = sqrtPsd(a, n);
  const m = matMulSquare(matMulSquare(ra, b, n), ra, n);
  // Symmetrise against round-off before the symmetric eigensolver.
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j++) {
      const s = 0.5 * (m[i * n + j]! + m[j * n + i]!);
      m[i * n + j] = s;
      m[j * n + i] = s;
    }
  }
  const { values } = symmetricEigen(m, n);
  let t = 0;
  for (const l of values) t += Math.sqrt(Math.max(l, 0));
  return t;
}
