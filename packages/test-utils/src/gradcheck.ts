import { tf } from '@dgm-js/core-tensors';
import { allclose } from './allclose.js';

/** Options of {@link checkGradient}. */
export interface GradCheckOptions {
  /** Finite-difference step. Default 1e-2 (float32 needs a large step). */
  eps?: number;
  rtol?: number;
  atol?: number;
}

/** The autodiff and finite-difference gradients, and whether they agree. */
export interface GradCheckResult {
  analytic: number[];
  numeric: number[];
  pass: boolean;
  message: string;
}

/**
 * Compares tf's gradient of the scalar function `f` at `x` with central finite differences
 * (f(x + eps e_i) - f(x - eps e_i)) / 2 eps, each evaluated in float32 and accumulated in float64.
 * Disposes everything it creates.
 */
export function checkGradient(
  f: (x: tf.Tensor) => tf.Scalar | tf.Tensor,
  x: tf.Tensor,
  opts: GradCheckOptions = {},
): GradCheckResult {
  const eps = opts.eps ?? 1e-2;
  const analytic = tf.tidy(() =>
    Array.from(
      tf
        .grad((v: tf.Tensor) => tf.sum(f(v)))(x)
        .dataSync(),
    ),
  );
  const base = Array.from(x.dataSync());
  const numeric: number[] = [];
  for (let i = 0; i < base.length; i++) {
    const at = (delta: number) =>
      tf.tidy(() => {
        const v = base.slice();
        v[i] = v[i]! + delta;
        return tf.sum(f(tf.tensor(v, x.shape, 'float32'))).dataSync()[0]!;
      });
    numeric.push((at(eps) - at(-eps)) / (2 * eps));
  }
  const r = allclose(analytic, numeric, { rtol: opts.rtol ?? 2e-2, atol: opts.atol ?? 2e-3 });
  return { analytic, numeric, pass: r.pass, message: r.message };
}
