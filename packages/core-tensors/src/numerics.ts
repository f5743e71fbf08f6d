/**
 * Numerically stable building blocks. Each works at extreme inputs (logits of +-1e4, -Infinity
 * log-probabilities) and has a gradient that stays finite where the true one is finite.
 */
import { ValueError } from './errors.js';
import type { Rng } from './rng.js';
import { tf } from './tf.js';

type Tensor = tf.Tensor;

/** The shape of a custom-gradient body: forward value plus the backward function. */
export interface CustomGradResult {
  value: Tensor;
  gradFunc: (dy: Tensor, saved: Tensor[]) => Tensor | Tensor[];
}

/**
 * A typed wrapper of `tf.customGrad` (whose own signature mixes inputs and the save function):
 * `body` receives the input tensors followed by `save`.
 *
 * @example
 * ```ts
 * const square = customGrad((x: tf.Tensor, save: tf.GradSaveFunc) => {
 *   save([x]);
 *   return { value: tf.square(x), gradFunc: (dy, [s]) => tf.mul(dy, tf.mul(2, s!)) };
 * });
 * ```
 */
export function customGrad<A extends Tensor[]>(
  body: (...args: [...A, tf.GradSaveFunc]) => CustomGradResult,
): (...args: A) => Tensor {
  const f = tf.customGrad(body as unknown as Parameters<typeof tf.customGrad>[0]);
  return (...args: A) => f(...args);
}

function normAxis(axis: number, rank: number, fn: string): number {
  const a = axis < 0 ? axis + rank : axis;
  if (!Number.isInteger(a) || a < 0 || a >= rank) {
    throw new ValueError(`${fn}: axis ${axis} is out of range for a tensor of rank ${rank}.`);
  }
  return a;
}

/** The maximum along `axis` with -Infinity rows replaced by 0, so `x - m` never gives NaN. */
function safeMax(x: Tensor, axis: number): Tensor {
  const m = tf.max(x, axis, true);
  return tf.where(tf.isFinite(m), m, tf.zerosLike(m));
}

/**
 * log(sum(exp(x))) along `axis`, max-shifted so it neither overflows nor underflows. A slice of
 * all -Infinity gives -Infinity (not NaN). Gradient: softmax(x) along `axis`.
 *
 * @example
 * ```ts
 * logSumExp(tf.tensor1d([1e4, 1e4])).print(); // 1e4 + ln 2
 * ```
 */
export function logSumExp(x: Tensor, axis = -1, keepDims = false): Tensor {
  const ax = normAxis(axis, x.rank, 'logSumExp');
  const f = customGrad<[Tensor]>((xi, save) => {
    const m = safeMax(xi, ax);
    const e = tf.exp(tf.sub(xi, m));
    const s = tf.sum(e, ax, true);
    const lseKeep = tf.add(tf.log(s), m);
    save([e, s]);
    const value = keepDims ? lseKeep : tf.squeeze(lseKeep, [ax]);
    return {
      value,
      gradFunc: (dy: Tensor, saved: Tensor[]) => {
        const [es, ss] = saved as [Tensor, Tensor];
        const dyK = keepDims ? dy : tf.expandDims(dy, ax);
        // softmax from the max-shifted exponentials (exact even for |x| ~ 1e4); a slice of
        // all -Infinity has s = 0 and gets a zero gradient.
        const p = tf.where(tf.greater(ss, 0), tf.div(es, ss), tf.zerosLike(es));
        return tf.mul(dyK, p);
      },
    };
  });
  return f(x);
}

/**
 * log(softmax(x)) along `axis`, computed as x - logSumExp(x), with the exact gradient
 * dy - softmax(x) * sum(dy). Stable for logits of any magnitude.
 *
 * @example
 * ```ts
 * logSoftmax(tf.tensor1d([1e4, 0])).print(); // [0, -1e4]
 * ```
 */
export function logSoftmax(x: Tensor, axis = -1): Tensor {
  const ax = normAxis(axis, x.rank, 'logSoftmax');
  const f = customGrad<[Tensor]>((xi, save) => {
    const m = safeMax(xi, ax);
    const shifted = tf.sub(xi, m);
    const value = tf.sub(shifted, tf.log(tf.sum(tf.exp(shifted), ax, true)));
    save([value]);
    return {
      value,
      gradFunc: (dy: Tensor, saved: Tensor[]) => {
        const [ls] = saved as [Tensor];
        return tf.sub(dy, tf.mul(tf.exp(ls), tf.sum(dy, ax, true)));
      },
    };
  });
  return f(x);
}

/**
 * Backends whose Softplus kernel is numerically stable at every input (they use
 * max(x, 0) + log1p(exp(-|x|)) or thresholds on x): cpu, tfjs-node, and wasm (dgm.js's native
 * kernel when @dgm-js/kernels-native loads, <= 2 ulp; else the stock one, within 8 ulp).
 */
const STABLE_SOFTPLUS = new Set(['cpu', 'wasm', 'tensorflow']);

/**
 * softplus as max(x, 0) + log1p(exp(-|x|)) in separate ops with gradient sigmoid(x), for
 * backends whose own Softplus kernel is not known to be stable. Internal (tested directly).
 */
export function softplusComposite(x: Tensor): Tensor {
  const f = customGrad<[Tensor]>((xi, save) => {
    save([xi]);
    return {
      value: tf.add(tf.relu(xi), tf.log1p(tf.exp(tf.neg(tf.abs(xi))))),
      gradFunc: (dy: Tensor, saved: Tensor[]) => tf.mul(dy, tf.sigmoid(saved[0] as Tensor)),
    };
  });
  return f(x);
}

/**
 * softplus(x) = log(1 + exp(x)) = max(x, 0) + log1p(exp(-|x|)); gradient sigmoid(x). One
 * Softplus kernel on the cpu, wasm and tensorflow backends (their kernels are stable), the
 * composite of stable ops elsewhere.
 *
 * @example
 * ```ts
 * softplus(tf.tensor1d([-1e4, 0, 1e4])).print(); // [0, 0.6931, 1e4]
 * ```
 */
export function softplus(x: Tensor): Tensor {
  if (x.dtype === 'float32' && STABLE_SOFTPLUS.has(tf.getBackend())) return tf.softplus(x);
  return softplusComposite(x);
}

/**
 * log(sigmoid(x)) = -softplus(-x), finite for every finite x.
 *
 * @example
 * ```ts
 * logSigmoid(tf.tensor1d([-1e4])).print(); // [-1e4]
 * ```
 */
export function logSigmoid(x: Tensor): Tensor {
  return tf.tidy(() => tf.neg(softplus(tf.neg(x))));
}

/**
 * log(1 - exp(x)) for x <= 0 (Maechler 2012): log(-expm1(x)) near 0, log1p(-exp(x)) below -ln 2.
 * Positive x gives NaN, as the true value is undefined. Gradient -1 / expm1(-x).
 *
 * @example
 * ```ts
 * log1mexp(tf.tensor1d([-1e-10, -50])).print(); // [-23.03, -1.9e-22]
 * ```
 */
export function log1mexp(x: Tensor): Tensor {
  const f = customGrad<[Tensor]>((xi, save) => {
    save([xi]);
    const near = tf.greater(xi, -Math.LN2);
    // Evaluate each branch only where it is accurate; feed the other a harmless value.
    const xNear = tf.where(near, xi, tf.fill(xi.shape, -1));
    const xFar = tf.where(near, tf.fill(xi.shape, -1), xi);
    const a = tf.log(tf.neg(expm1(xNear)));
    const b = tf.log1p(tf.neg(tf.exp(xFar)));
    const value = tf.where(tf.greater(xi, 0), tf.fill(xi.shape, Number.NaN), tf.where(near, a, b));
    return {
      value,
      gradFunc: (dy: Tensor, saved: Tensor[]) =>
        tf.div(tf.neg(dy), expm1(tf.neg(saved[0] as Tensor))),
    };
  });
  return f(x);
}

/**
 * exp(x) - 1, accurate near 0 in float32 (Kahan's trick: (u - 1) * x / log(u) with u = exp(x)),
 * on every backend. Gradient exp(x).
 *
 * @example
 * ```ts
 * expm1(tf.scalar(1e-7)).print(); // 1e-7, where exp(x) - 1 gives 1.19e-7
 * ```
 */
export function expm1(x: Tensor): Tensor {
  const f = customGrad<[Tensor]>((xi, save) => {
    save([xi]);
    // Kahan's formula on |x| < 1 (x clipped so inf/inf never occurs), plain exp(x) - 1 beyond.
    const small = tf.less(tf.abs(xi), 1);
    const xs = tf.clipByValue(xi, -1, 1);
    const u = tf.exp(xs);
    const um1 = tf.sub(u, 1);
    const one = tf.equal(u, 1);
    const kahan = tf.div(tf.mul(um1, xs), tf.where(one, tf.onesLike(u), tf.log(u)));
    const value = tf.where(small, tf.where(one, xs, kahan), tf.sub(tf.exp(xi), 1));
    return {
      value,
      gradFunc: (dy: Tensor, saved: Tensor[]) => tf.mul(dy, tf.exp(saved[0] as Tensor)),
    };
  });
  return f(x);
}

/**
 * Identity in the forward pass, zero gradient in the backward pass (tfjs has no stopGradient).
 *
 * @example
 * ```ts
 * const g = tf.grad((x) => tf.mul(x, stopGradient(x)))(tf.scalar(3)); // 3, not 6
 * ```
 */
export function stopGradient<T extends Tensor>(x: T): T {
  const f = customGrad<[Tensor]>((xi) => ({
    value: tf.clone(xi),
    gradFunc: (dy: Tensor) => tf.zerosLike(dy),
  }));
  return f(x) as T;
}

/**
 * The straight-through estimator: the value of `hard`, the gradient of `soft`. Gradients flow
 * only into `soft` (e.g. a hard one-hot sample forward, the relaxed sample backward).
 *
 * @example
 * ```ts
 * const y = straightThrough(tf.round(p), p); // value round(p), d y / d p = 1
 * ```
 */
export function straightThrough<T extends Tensor>(hard: T, soft: Tensor): T {
  if (!tf.util.arraysEqual(hard.shape, soft.shape)) {
    throw new ValueError(
      `straightThrough: hard ${JSON.stringify(hard.shape)} and soft ${JSON.stringify(soft.shape)} must have the same shape.`,
    );
  }
  const f = customGrad<[Tensor, Tensor]>((h) => ({
    value: tf.clone(h),
    gradFunc: (dy: Tensor) => [tf.zerosLike(dy), tf.clone(dy)],
  }));
  return f(hard, soft) as T;
}

/** Options of {@link clampedUniform}. */
export interface ClampedUniformOptions {
  /** Distance kept from 0 and 1. Default 1e-6 (float32 resolves 1 - 1e-6). */
  eps?: number;
}

/**
 * Uniform noise on [eps, 1 - eps], so `log(u)`, `log(-log(u))` and `log1p(-u)` are finite: the
 * noise that Gumbel and logistic samplers need.
 *
 * @example
 * ```ts
 * const u = clampedUniform([2, 3], new Rng(0));
 * ```
 */
export function clampedUniform(
  shape: number[],
  rng: Rng,
  opts: ClampedUniformOptions = {},
): Tensor {
  const eps = opts.eps ?? 1e-6;
  if (!(eps > 0 && eps < 0.5)) {
    throw new ValueError(`clampedUniform: eps must be in (0, 0.5), got ${eps}.`);
  }
  return tf.tidy(() =>
    tf.clipByValue(tf.randomUniform(shape, 0, 1, 'float32', rng.next()), eps, 1 - eps),
  );
}

/**
 * Standard Gumbel noise, -log(-log(u)) with clamped uniforms u: finite everywhere.
 *
 * @example
 * ```ts
 * const g = gumbelNoise([1000], new Rng(1)); // mean near the Euler–Mascheroni constant
 * ```
 */
export function gumbelNoise(shape: number[], rng: Rng): Tensor {
  return tf.tidy(() => tf.neg(tf.log(tf.neg(tf.log(clampedUniform(shape, rng))))));
}
