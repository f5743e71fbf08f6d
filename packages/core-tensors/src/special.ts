/**
 * Special functions that no tfjs backend has: lgamma, digamma and trigamma, as differentiable
 * composite ops (they run on every backend). Accuracy is that of float32: about 1e-6 relative
 * away from the poles at 0, -1, -2, ...
 */
import { customGrad } from './numerics.js';
import { tf } from './tf.js';
import { HALF_LOG_2PI } from './validate.js';

type Tensor = tf.Tensor;

const LANCZOS_G = 7;
const LANCZOS = [
  0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313,
  -176.61502916214059, 12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6,
  1.5056327351493116e-7,
];

/** lgamma for x >= 0.5 (Lanczos, g = 7, n = 9). */
function lgammaRight(x: Tensor): Tensor {
  const xm1 = tf.sub(x, 1);
  let a: Tensor = tf.fill(x.shape, LANCZOS[0] as number);
  for (let i = 1; i < LANCZOS.length; i++) {
    a = tf.add(a, tf.div(LANCZOS[i] as number, tf.add(xm1, i)));
  }
  const t = tf.add(xm1, LANCZOS_G + 0.5);
  return tf.add(tf.sub(tf.mul(tf.add(xm1, 0.5), tf.log(t)), t), tf.add(tf.log(a), HALF_LOG_2PI));
}

/** Digamma for x >= 0.5: recurrence up to x + 6, then the asymptotic series. */
function digammaRight(x: Tensor): Tensor {
  let shift: Tensor = tf.zerosLike(x);
  for (let k = 0; k < 6; k++) shift = tf.add(shift, tf.reciprocal(tf.add(x, k)));
  const y = tf.add(x, 6);
  const iy2 = tf.reciprocal(tf.square(y));
  // ln y - 1/(2y) - 1/(12y^2) + 1/(120y^4) - 1/(252y^6) + 1/(240y^8)
  const series = tf.mul(
    iy2,
    tf.add(
      -1 / 12,
      tf.mul(iy2, tf.add(1 / 120, tf.mul(iy2, tf.add(-1 / 252, tf.mul(iy2, 1 / 240))))),
    ),
  );
  return tf.sub(tf.add(tf.sub(tf.log(y), tf.div(0.5, y)), series), shift);
}

/** Trigamma for x >= 0.5: recurrence up to x + 6, then the asymptotic series. */
function trigammaRight(x: Tensor): Tensor {
  let shift: Tensor = tf.zerosLike(x);
  for (let k = 0; k < 6; k++) shift = tf.add(shift, tf.reciprocal(tf.square(tf.add(x, k))));
  const y = tf.add(x, 6);
  const iy = tf.reciprocal(y);
  const iy2 = tf.square(iy);
  // 1/y + 1/(2y^2) + 1/(6y^3) - 1/(30y^5) + 1/(42y^7) - 1/(30y^9)
  const tail = tf.mul(
    tf.mul(iy, iy2),
    tf.add(1 / 6, tf.mul(iy2, tf.add(-1 / 30, tf.mul(iy2, tf.add(1 / 42, tf.mul(iy2, -1 / 30)))))),
  );
  return tf.add(shift, tf.add(tf.add(iy, tf.mul(0.5, iy2)), tail));
}

/** Splits x at 0.5: the right branch sees max(x, 0.5)-safe values, the left one 1 - x. */
function reflect(
  x: Tensor,
  right: (t: Tensor) => Tensor,
  left: (x: Tensor, r1mx: Tensor) => Tensor,
): Tensor {
  const isRight = tf.greaterEqual(x, 0.5);
  const xr = tf.where(isRight, x, tf.onesLike(x));
  const xl = tf.where(isRight, tf.zerosLike(x), x); // reflected argument 1 - xl >= 0.5
  return tf.where(isRight, right(xr), left(xl, right(tf.sub(1, xl))));
}

function lgammaValue(x: Tensor): Tensor {
  return reflect(x, lgammaRight, (xl, r) =>
    // log(pi / |sin(pi x)|) - lgamma(1 - x)
    tf.sub(tf.sub(Math.log(Math.PI), tf.log(tf.abs(tf.sin(tf.mul(Math.PI, xl))))), r),
  );
}

function digammaValue(x: Tensor): Tensor {
  return reflect(x, digammaRight, (xl, r) =>
    // psi(1 - x) - pi / tan(pi x)
    tf.sub(r, tf.div(Math.PI, tf.tan(tf.mul(Math.PI, xl)))),
  );
}

function trigammaValue(x: Tensor): Tensor {
  return reflect(x, trigammaRight, (xl, r) =>
    // pi^2 / sin^2(pi x) - psi1(1 - x)
    tf.sub(tf.div(Math.PI * Math.PI, tf.square(tf.sin(tf.mul(Math.PI, xl)))), r),
  );
}

/**
 * Elementwise trigamma psi'(x), the derivative of digamma. Not differentiable further.
 *
 * @example
 * ```ts
 * trigamma(tf.scalar(1)).print(); // pi^2 / 6
 * ```
 */
export function trigamma(x: Tensor): Tensor {
  return tf.tidy(() => trigammaValue(tf.cast(x, 'float32')));
}

/**
 * Elementwise digamma psi(x) = d/dx log Gamma(x). Gradient: trigamma.
 *
 * @example
 * ```ts
 * digamma(tf.scalar(1)).print(); // -0.5772 (minus the Euler–Mascheroni constant)
 * ```
 */
export function digamma(x: Tensor): Tensor {
  const f = customGrad<[Tensor]>((xi, save) => {
    save([xi]);
    return {
      value: digammaValue(xi),
      gradFunc: (dy: Tensor, saved: Tensor[]) => tf.mul(dy, trigammaValue(saved[0] as Tensor)),
    };
  });
  return tf.tidy(() => f(tf.cast(x, 'float32')));
}

/**
 * Elementwise log|Gamma(x)|. Gradient: digamma.
 *
 * @example
 * ```ts
 * lgamma(tf.tensor1d([0.5, 1, 10])).print(); // [0.5724, 0, 12.8018]
 * ```
 */
export function lgamma(x: Tensor): Tensor {
  const f = customGrad<[Tensor]>((xi, save) => {
    save([xi]);
    return {
      value: lgammaValue(xi),
      gradFunc: (dy: Tensor, saved: Tensor[]) => tf.mul(dy, digammaValue(saved[0] as Tensor)),
    };
  });
  return tf.tidy(() => f(tf.cast(x, 'float32')));
}
