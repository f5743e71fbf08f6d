/**
 * Internal helpers of the distributions (not exported from the package).
 */
import { tf } from '../tf.js';

type Tensor = tf.Tensor;

/** float32 machine epsilon (torch's `finfo(float32).eps`): the clamp of relaxed samples. */
export const EPS32 = 1.1920928955078125e-7;

/** The Euler–Mascheroni constant. */
export const EULER_GAMMA = 0.5772156649015329;

/**
 * Runs a non-differentiable computation (comparisons, casts to bool) on possibly differentiated
 * tensors. tfjs has no gradient for Greater, Less, Equal, ...; on the tape they break `tf.grad`
 * even when their result only selects values. Inside a custom op the tape is off, and the op's
 * gradient is zero for every input.
 */
export function noGrad(f: (...xs: Tensor[]) => Tensor, ...xs: Tensor[]): Tensor {
  const op = tf.customGrad((...args: Array<Tensor | tf.GradSaveFunc>) => {
    const ins = args.slice(0, xs.length) as Tensor[];
    return {
      value: f(...ins),
      gradFunc: () => ins.map((t) => tf.zeros(t.shape, 'float32')),
    };
  });
  return op(...xs);
}

/** Clamps the value to [lo, hi]; the gradient passes through unchanged (straight-through). */
export function clampST(x: Tensor, lo: number, hi: number): Tensor {
  const op = tf.customGrad((...args: Array<Tensor | tf.GradSaveFunc>) => ({
    value: tf.clipByValue(args[0] as Tensor, lo, hi),
    gradFunc: (dy: Tensor) => tf.clone(dy),
  }));
  return op(x);
}

/**
 * Binary logits from probabilities, as torch's `probs_to_logits(p, is_binary=True)`:
 * log(p) - log1p(-p) with p clamped to [eps, 1 - eps], so p = 0 or 1 gives finite logits (+-15.9).
 */
export function binaryLogits(probs: Tensor): Tensor {
  return tf.tidy(() => {
    const p = tf.clipByValue(probs, EPS32, 1 - EPS32);
    return tf.sub(tf.log(p), tf.log1p(tf.neg(p)));
  });
}

/**
 * Log of (unnormalized, non-negative) probabilities along the last axis, normalized: exactly
 * -Infinity where p = 0, with a finite (zero) gradient there.
 */
export function logOfProbs(probs: Tensor): Tensor {
  return tf.tidy(() => {
    const p = tf.div(probs, tf.sum(probs, -1, true));
    const pos = noGrad((a) => tf.greater(a, 0), p);
    const safe = tf.where(pos, p, tf.onesLike(p));
    return tf.where(pos, tf.log(safe), tf.fill(p.shape, Number.NEGATIVE_INFINITY));
  });
}

/** Appends a trailing axis of size 1 to a tensor of rank > 0 (a scalar stays a scalar). */
export function expandLast(t: Tensor): Tensor {
  return t.rank === 0 ? tf.clone(t) : tf.expandDims(t, -1);
}

/** ln Γ(n) for a positive integer n, in float64. */
export function lgammaInt(n: number): number {
  let s = 0;
  for (let k = 2; k < n; k++) s += Math.log(k);
  return s;
}
