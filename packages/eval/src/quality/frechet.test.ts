/**
 * Float64 linear algebra and the Fréchet distance against closed forms: eigendecomposition
 * invariants, the PSD square root, tr((A B)^{1/2}) for 2x2 matrices by the Cayley-Hamilton
 * formula, and FID of a set against itself, shifted, scaled and rotated copies of it.
 */
import { Rng, ValueError } from '@dgm-js/core-tensors';
import { describe, expect, it } from 'vitest';
import { frechetDistance, frechetFromFeatures } from './frechet.js';
import { matMulSquare, moments, sqrtPsd, symmetricEigen, traceSqrtProduct } from './linalg.js';

/** A random symmetric PSD matrix B B^T / d + jitter I (seeded). */
function randomPsd(d: number, seed: number, rank = d): Float64Array {
  const rng = new Rng(seed);
  const b = Float64Array.from({ length: d * rank }, () => rng.float() * 2 - 1);
  const a = new Float64Array(d * d);
  for (let i = 0; i < d; i++) {
    for (let j = 0; j < d; j++) {
      let s = 0;
      for (let k = 0; k < rank; k++) s += b[i * rank + k]! * b[j * rank + k]!;
      a[i * d + j] = s;
    }
  }
  return a;
}

/** n Gaussian-ish rows (sums of uniforms) of dimension d with a random linear mixing. */
function randomRows(n: number, d: number, seed: number): Float64Array {
  const rng = new Rng(seed);
  const mix = Float64Array.from({ length: d * d }, () => rng.float() * 2 - 1);
  const out = new Float64Array(n * d);
  const z = new Float64Array(d);
  for (let i = 0; i < n; i++) {
    for (let k = 0; k < d; k++) z[k] = rng.float() + rng.float() + rng.float() - 1.5;
    for (let j = 0; j < d; j++) {
      let s = 0;
      for (let k = 0; k < d; k++) s += mix[j * d + k]! * z[k]!;
      out[i * d + j] = s + j;
    }
  }
  return out;
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

describe('symmetricEigen', () => {
  it('reconstructs A = V diag(l) V^T with orthonormal V (d = 1, 2, 7, 40)', () => {
    for (const d of [1, 2, 7, 40]) {
      const a = randomPsd(d, d);
      // make it indefinite too: subtract a multiple of I
      for (let i = 0; i < d; i++) a[i * d + i]! -= 0.3 * d;
      const { values, vectors } = symmetricEigen(a, d);
      const rec = new Float64Array(d * d);
      const vtv = new Float64Array(d * d);
      for (let i = 0; i < d; i++) {
        for (let j = 0; j < d; j++) {
          let s = 0;
          let o = 0;
          for (let k = 0; k < d; k++) {
            s += vectors[i * d + k]! * values[k]! * vectors[j * d + k]!;
            o += vectors[k * d + i]! * vectors[k * d + j]!;
          }
          rec[i * d + j] = s;
          vtv[i * d + j] = o;
        }
      }
      expect(maxAbsDiff(rec, a)).toBeLessThan(1e-10 * d);
      const eye = new Float64Array(d * d);
      for (let i = 0; i < d; i++) eye[i * d + i] = 1;
      expect(maxAbsDiff(vtv, eye)).toBeLessThan(1e-12 * d);
      for (let i = 1; i < d; i++) expect(values[i]!).toBeGreaterThanOrEqual(values[i - 1]!);
    }
  });

  it('gets the known eigenvalues of [[2, 1], [1, 2]] and of a diagonal matrix', () => {
    expect([...symmetricEigen(new Float64Array([2, 1, 1, 2]), 2).values]).toEqual([
      expect.closeTo(1, 14),
      expect.closeTo(3, 14),
    ]);
    const diag = new Float64Array([5, 0, 0, 0, -1, 0, 0, 0, 2]);
    expect([...symmetricEigen(diag, 3).values]).toEqual([-1, 2, 5]);
  });

  it('rejects non-finite entries and wrong sizes with ValueError / ShapeError', () => {
    expect(() => symmetricEigen(new Float64Array([1, Number.NaN, Number.NaN, 1]), 2)).toThrow(
      ValueError,
    );
    expect(() => symmetricEigen(new Float64Array(3), 2)).toThrow(/expected 2x2/);
  });
});

describe('sqrtPsd and traceSqrtProduct', () => {
  it('sqrtPsd(A)^2 = A, also for a singular A (rank 3 of 10)', () => {
    for (const [d, rank] of [
      [6, 6],
      [10, 3],
    ] as const) {
      const a = randomPsd(d, 11, rank);
      const r = sqrtPsd(a, d);
      expect(maxAbsDiff(matMulSquare(r, r, d), a)).toBeLessThan(1e-9);
    }
  });

  it('tr((A B)^{1/2}) for 2x2 equals sqrt(tr(AB) + 2 sqrt(det(AB))) (Cayley-Hamilton)', () => {
    for (let s = 0; s < 5; s++) {
      const a = randomPsd(2, 100 + s);
      const b = randomPsd(2, 200 + s);
      const ab = matMulSquare(a, b, 2);
      const tr = ab[0]! + ab[3]!;
      const det = ab[0]! * ab[3]! - ab[1]! * ab[2]!;
      const expected = Math.sqrt(tr + 2 * Math.sqrt(det));
      expect(traceSqrtProduct(a, b, 2)).toBeCloseTo(expected, 11);
    }
  });

  it('for commuting (diagonal) matrices is sum sqrt(a_i b_i)', () => {
    const a = new Float64Array([4, 0, 0, 0, 1, 0, 0, 0, 0]);
    const b = new Float64Array([9, 0, 0, 0, 16, 0, 0, 0, 7]);
    expect(traceSqrtProduct(a, b, 3)).toBeCloseTo(6 + 4 + 0, 12);
  });
});

describe('frechetDistance', () => {
  const n = 400;
  const d = 12;
  const x = randomRows(n, d, 3);
  const mx = moments(x, n, d);

  it('moments match a direct computation', () => {
    const m = moments(new Float64Array([0, 0, 2, 2, 4, 1]), 3, 2);
    expect([...m.mean]).toEqual([2, 1]);
    // cov: x = [0, 2, 4], y = [0, 2, 1] -> var x 4, var y 1, cov 1
    expect([...m.cov]).toEqual([4, 1, 1, 1]);
  });

  it('a set against itself is 0 (to round-off)', () => {
    const r = frechetDistance(mx, mx);
    expect(Math.abs(r.value)).toBeLessThan(1e-9 * (1 + Math.abs(r.covTerm) + 100));
    expect(r.meanTerm).toBe(0);
  });

  it('against a shifted copy x + delta is exactly ||delta||^2', () => {
    const delta = Float64Array.from({ length: d }, (_, j) => 0.1 * (j - 5));
    const y = x.map((v, i) => v + delta[i % d]!);
    const r = frechetDistance(mx, moments(y, n, d));
    const want = delta.reduce((s, v) => s + v * v, 0);
    expect(r.value).toBeCloseTo(want, 8);
    expect(r.meanTerm).toBeCloseTo(want, 10);
    expect(Math.abs(r.covTerm)).toBeLessThan(1e-8);
  });

  it('against a scaled shifted copy a x + delta is ||(a - 1) mu + delta||^2 + (1 - a)^2 tr(S)', () => {
    const a = 1.7;
    const delta = Float64Array.from({ length: d }, (_, j) => Math.sin(j));
    const y = x.map((v, i) => a * v + delta[i % d]!);
    let mean = 0;
    let tr = 0;
    for (let j = 0; j < d; j++) {
      mean += ((a - 1) * mx.mean[j]! + delta[j]!) ** 2;
      tr += mx.cov[j * d + j]!;
    }
    const r = frechetDistance(mx, moments(y, n, d));
    expect(r.value).toBeCloseTo(mean + (1 - a) ** 2 * tr, 7);
  });

  it('between two 2-D Gaussians matches the closed form (rotated, non-commuting covariances)', () => {
    // N(0, A) vs N(m, B) given as exact moments.
    const a = new Float64Array([2, 0.5, 0.5, 1]);
    const b = new Float64Array([1, -0.3, -0.3, 3]);
    const ab = matMulSquare(a, b, 2);
    const trSqrt = Math.sqrt(ab[0]! + ab[3]! + 2 * Math.sqrt(ab[0]! * ab[3]! - ab[1]! * ab[2]!));
    const want = 1 + 4 + (2 + 1) + (1 + 3) - 2 * trSqrt;
    const r = frechetDistance(
      { n: 2, dim: 2, mean: new Float64Array([0, 0]), cov: a },
      { n: 2, dim: 2, mean: new Float64Array([1, 2]), cov: b },
    );
    expect(r.value).toBeCloseTo(want, 12);
  });

  it('frechetFromFeatures: bootstrap stderr is seeded, positive for differing sets', () => {
    const y = x.map((v, i) => v + (i % d === 0 ? 0.5 : 0));
    const r1 = frechetFromFeatures(x, n, y, n, d, { bootstrap: 5, seed: 1 });
    const r2 = frechetFromFeatures(x, n, y, n, d, { bootstrap: 5, seed: 1 });
    expect(r1.replicates).toEqual(r2.replicates);
    expect(r1.stderr).toBeGreaterThan(0);
    expect(r1.value).toBeCloseTo(0.25, 8);
    expect(frechetFromFeatures(x, n, y, n, d).stderr).toBeUndefined();
  });

  it('rejects mismatched dimensions and too few vectors', () => {
    expect(() => frechetDistance(mx, moments(new Float64Array(6), 2, 3))).toThrow(ValueError);
    expect(() => moments(new Float64Array(3), 1, 3)).toThrow(/at least 2/);
  });
});
