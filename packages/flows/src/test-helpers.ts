/**
 * Test helpers (not exported from the package): full Jacobians by autodiff, log|det| in
 * float64, random parameters.
 */
import { type Module, type Rng, tf } from '@dgm-js/core-tensors';

type Tensor = tf.Tensor;

/**
 * The Jacobian of `f` at every example of `x` ([N, ...] -> [N, ...]), as N row-major E x E
 * float64 matrices (E = size of one example), by E reverse-mode passes. `f` must not mix
 * examples.
 */
export function jacobians(f: (x: Tensor) => Tensor, x: Tensor): Float64Array[] {
  const n = x.shape[0] as number;
  const e = x.size / n;
  const out = Array.from({ length: n }, () => new Float64Array(e * e));
  for (let j = 0; j < e; j++) {
    const g = tf.tidy(() => {
      const grad = tf.grad((v: Tensor) => {
        const y = tf.reshape(f(v), [n, e]);
        return tf.sum(tf.slice(y, [0, j], [n, 1]));
      });
      return grad(x).dataSync();
    });
    for (let i = 0; i < n; i++) {
      for (let k = 0; k < e; k++) (out[i] as Float64Array)[j * e + k] = g[i * e + k] as number;
    }
  }
  return out;
}

/** log|det A| of a row-major n x n matrix by Gaussian elimination with partial pivoting. */
export function logAbsDet(a: Float64Array, n: number): number {
  const m = Float64Array.from(a);
  let s = 0;
  for (let k = 0; k < n; k++) {
    let p = k;
    for (let i = k + 1; i < n; i++) if (Math.abs(m[i * n + k]!) > Math.abs(m[p * n + k]!)) p = i;
    if (p !== k) {
      for (let j = 0; j < n; j++) {
        const t = m[k * n + j]!;
        m[k * n + j] = m[p * n + j]!;
        m[p * n + j] = t;
      }
    }
    const d = m[k * n + k]!;
    s += Math.log(Math.abs(d));
    for (let i = k + 1; i < n; i++) {
      const f = m[i * n + k]! / d;
      for (let j = k; j < n; j++) m[i * n + j] = m[i * n + j]! - f * m[k * n + j]!;
    }
  }
  return s;
}

/** log|det J| per example of `f` at `x`, from the autodiff Jacobian. */
export function autodiffLogDet(f: (x: Tensor) => Tensor, x: Tensor): number[] {
  const n = x.shape[0] as number;
  const e = x.size / n;
  return jacobians(f, x).map((j) => logAbsDet(j, e));
}

/** Sets every trainable parameter of `m` to N(0, scale^2) draws. */
export function randomizeParameters(m: Module<never, unknown>, rng: Rng, scale = 0.5): void {
  for (const v of m.trainableParameters()) {
    const t = tf.randomNormal(v.shape, 0, scale, 'float32', rng.next());
    v.assign(t);
    t.dispose();
  }
}
