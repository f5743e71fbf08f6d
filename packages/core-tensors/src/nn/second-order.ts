/**
 * Activations that are correct to the second derivative ("double backprop"): sigmoid, tanh, exp,
 * softmax and leaky ReLU.
 *
 * Second derivatives are what a gradient penalty (WGAN-GP, R1, R2: the critic's input gradient
 * differentiated again with respect to its parameters) and a learned control variate (REBAR,
 * RELAX: the estimator differentiated with respect to a temperature or a network) need. tfjs-core
 * 4.22 gets them wrong in two ways:
 *
 * 1. Ops whose gradient reads their own *output* (sigmoid, tanh, exp, softmax, elu) save a clone
 *    of the output, and that clone is recorded on the tape *before* the op that makes the output.
 *    The second backward pass never reaches it, so every term through f''(x) is silently dropped:
 *    a wrong number, no error (`d/dx [sigmoid'(x)]` comes out 0, or the gradient call throws when
 *    no other path is left).
 * 2. Leaky ReLU's gradient selects with `greater(x, 0)`, and `Greater` has no gradient, so the
 *    second backward pass throws "gradient function not found for Greater".
 *
 * The versions here are `customGrad`s that save their *input* (which is on the tape) and write the
 * backward with differentiable ops of it, so the second backward pass differentiates them like
 * any other ops. Values and first derivatives equal tfjs's own. (The first derivative inside the
 * backward uses the stock op once, so third derivatives are not covered.) ReLU, softplus and GELU
 * are correct as they are (their gradients read the input through differentiable ops).
 */
import { ValueError } from '../errors.js';
import { customGrad } from '../numerics.js';
import { tf } from '../tf.js';

type Tensor = tf.Tensor;

const sigmoidOp = customGrad<[Tensor]>((x, save) => {
  save([x]);
  return {
    value: tf.sigmoid(x),
    // sigmoid'(x) = sigmoid(x) sigmoid(-x): no cancellation in 1 - sigmoid(x) for large x
    gradFunc: (dy, [xs]) =>
      tf.mul(dy, tf.mul(tf.sigmoid(xs as Tensor), tf.sigmoid(tf.neg(xs as Tensor)))),
  };
});

const tanhOp = customGrad<[Tensor]>((x, save) => {
  save([x]);
  return {
    value: tf.tanh(x),
    gradFunc: (dy, [xs]) => tf.mul(dy, tf.sub(1, tf.square(tf.tanh(xs as Tensor)))),
  };
});

const expOp = customGrad<[Tensor]>((x, save) => {
  save([x]);
  return { value: tf.exp(x), gradFunc: (dy, [xs]) => tf.mul(dy, tf.exp(xs as Tensor)) };
});

const softmaxOp = customGrad<[Tensor]>((x, save) => {
  save([x]);
  return {
    value: tf.softmax(x),
    gradFunc: (dy, [xs]) => {
      const s = tf.softmax(xs as Tensor);
      return tf.mul(s, tf.sub(dy, tf.sum(tf.mul(dy, s), -1, true)));
    },
  };
});

/**
 * Logistic sigmoid whose backward pass is differentiable again: d/dx = sigmoid(x) sigmoid(-x),
 * recomputed from x. Use it instead of `tf.sigmoid` wherever a second derivative flows through
 * the sigmoid (gradient penalties, REBAR / RELAX temperatures).
 *
 * @example
 * ```ts
 * import { safeSigmoid, tf } from '@dgm-js/core-tensors';
 * const d2 = tf.grad((v: tf.Tensor) => tf.sum(tf.grad((u: tf.Tensor) => tf.sum(safeSigmoid(u)))(v)));
 * d2(tf.tensor1d([0.5])).print(); // sigmoid''(0.5) = -0.0564
 * ```
 */
export function safeSigmoid(x: Tensor): Tensor {
  return sigmoidOp(x);
}

/**
 * tanh whose backward pass is differentiable again: d/dx = 1 - tanh(x)^2, recomputed from x.
 *
 * @example
 * ```ts
 * import { safeTanh, tf } from '@dgm-js/core-tensors';
 * safeTanh(tf.tensor1d([0, 1])).print(); // [0, 0.7616]
 * ```
 */
export function safeTanh(x: Tensor): Tensor {
  return tanhOp(x);
}

/**
 * exp whose backward pass is differentiable again: d/dx = exp(x), recomputed from x.
 *
 * @example
 * ```ts
 * import { safeExp, tf } from '@dgm-js/core-tensors';
 * const temperature = safeExp(tf.scalar(-1)); // a positive parameter that REBAR differentiates twice
 * ```
 */
export function safeExp(x: Tensor): Tensor {
  return expOp(x);
}

/**
 * softmax along the last axis whose backward pass is differentiable again:
 * dx = s * (dy - sum(dy * s)), with s recomputed from x.
 *
 * @example
 * ```ts
 * import { safeSoftmax, tf } from '@dgm-js/core-tensors';
 * safeSoftmax(tf.tensor2d([[0, Math.log(3)]])).print(); // [[0.25, 0.75]]
 * ```
 */
export function safeSoftmax(x: Tensor): Tensor {
  return softmaxOp(x);
}

/**
 * Returns `alpha` when it is a valid leaky ReLU negative slope (a finite number in [0, 1)), else
 * throws a `ValueError` naming `who`.
 *
 * @example
 * ```ts
 * import { checkLeakySlope } from '@dgm-js/core-tensors';
 * checkLeakySlope(0.1, 'myCritic'); // 0.1; checkLeakySlope(1.5, 'myCritic') throws
 * ```
 */
export function checkLeakySlope(alpha: unknown, who: string): number {
  if (!(typeof alpha === 'number' && Number.isFinite(alpha) && alpha >= 0 && alpha < 1)) {
    throw new ValueError(
      `${who}: the leaky ReLU slope must be a number in [0, 1), got ${String(alpha)}.`,
    );
  }
  return alpha;
}

/**
 * Leaky ReLU whose backward pass is differentiable again: the slope is alpha + (1 - alpha)
 * step(x), and `step` has a (zero) gradient, where tfjs's own backward uses `greater`, which has
 * none. The default negative slope is 0.2 (DCGAN critics, and tfjs's own default), not the 0.01
 * of `leakyRelu`.
 *
 * @example
 * ```ts
 * import { safeLeakyRelu, tf } from '@dgm-js/core-tensors';
 * safeLeakyRelu(tf.tensor1d([-1, 2])).print(); // [-0.2, 2]
 * ```
 */
export function safeLeakyRelu(x: Tensor, alpha = 0.2): Tensor {
  checkLeakySlope(alpha, 'safeLeakyRelu');
  const f = customGrad<[Tensor]>((xi, save) => {
    save([xi]);
    return {
      value: tf.leakyRelu(xi, alpha),
      gradFunc: (dy, [xs]) => tf.mul(dy, tf.add(alpha, tf.mul(1 - alpha, tf.step(xs as Tensor)))),
    };
  });
  return f(x);
}
