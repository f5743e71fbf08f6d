/**
 * Activations that are correct to the second derivative, for critics.
 *
 * A gradient penalty (WGAN-GP, R1, R2) differentiates the critic's input gradient again with
 * respect to the critic's parameters: "double backprop". tfjs records the backward pass on the
 * tape for that, but two things break it (tfjs-core 4.22):
 *
 * 1. Ops whose gradient reads their own *output* (sigmoid, tanh, exp, elu, softmax) save a clone
 *    of the output, and that clone is recorded on the tape *before* the op that makes the output.
 *    The second backward pass never reaches it, so the terms through f''(x) are silently dropped:
 *    a wrong number, no error.
 * 2. Leaky ReLU's gradient selects with `greater(x, 0)`, and `Greater` has no gradient, so the
 *    second backward pass throws "gradient function not found for Greater".
 *
 * The versions here are `customGrad`s whose backward is written with differentiable ops of the
 * saved *input* (which is on the tape), so the second backward pass differentiates them like any
 * other ops. ReLU, softplus and GELU are correct as they are (their gradients read the input
 * through differentiable ops) and are used directly.
 */
import {
  type ActivationFn,
  customGrad,
  gelu,
  softplus,
  tf,
  ValueError,
} from '@dgm-js/core-tensors';

type Tensor = tf.Tensor;

/** The activations a critic may use with a gradient penalty (each tested to second order). */
export type CriticActivationName =
  | 'leakyRelu'
  | 'relu'
  | 'tanh'
  | 'sigmoid'
  | 'softplus'
  | 'gelu'
  | 'identity';

/** A critic activation given by name, or `['leakyRelu', slope]` for another negative slope. */
export type CriticActivation = CriticActivationName | ['leakyRelu', number];

/**
 * Sigmoid with a backward pass that is differentiable again: d/dx = sigmoid(x) sigmoid(-x),
 * recomputed from x. Use it instead of `tf.sigmoid` in a critic trained with a gradient penalty.
 *
 * @example
 * ```ts
 * import { tf } from '@dgm-js/core-tensors';
 * import { safeSigmoid } from '@dgm-js/gan';
 * const d2 = tf.grad((v: tf.Tensor) => tf.sum(tf.grad((u: tf.Tensor) => tf.sum(safeSigmoid(u)))(v)));
 * d2(tf.tensor1d([0.5])).print(); // sigmoid''(0.5) = -0.0564
 * ```
 */
export function safeSigmoid(x: Tensor): Tensor {
  const f = customGrad<[Tensor]>((xi, save) => {
    save([xi]);
    return {
      value: tf.sigmoid(xi),
      gradFunc: (dy: Tensor, [s]: Tensor[]) =>
        tf.mul(dy, tf.mul(tf.sigmoid(s as Tensor), tf.sigmoid(tf.neg(s as Tensor)))),
    };
  });
  return f(x);
}

/**
 * tanh with a backward pass that is differentiable again: d/dx = 1 - tanh(x)^2, recomputed from x.
 *
 * @example
 * ```ts
 * import { tf } from '@dgm-js/core-tensors';
 * import { safeTanh } from '@dgm-js/gan';
 * safeTanh(tf.tensor1d([0, 1])).print(); // [0, 0.7616]
 * ```
 */
export function safeTanh(x: Tensor): Tensor {
  const f = customGrad<[Tensor]>((xi, save) => {
    save([xi]);
    return {
      value: tf.tanh(xi),
      gradFunc: (dy: Tensor, [s]: Tensor[]) =>
        tf.mul(dy, tf.sub(1, tf.square(tf.tanh(s as Tensor)))),
    };
  });
  return f(x);
}

function checkSlope(alpha: number, who: string): void {
  if (!(typeof alpha === 'number' && Number.isFinite(alpha) && alpha >= 0 && alpha < 1)) {
    throw new ValueError(`${who}: the leaky ReLU slope must be a number in [0, 1), got ${alpha}.`);
  }
}

/**
 * Leaky ReLU (negative slope `alpha`, default 0.2 as in DCGAN critics) whose backward pass is
 * differentiable again: the slope is alpha + (1 - alpha) step(x), and `step` has a (zero)
 * gradient, where tfjs's own backward uses `greater`, which has none.
 *
 * @example
 * ```ts
 * import { tf } from '@dgm-js/core-tensors';
 * import { safeLeakyRelu } from '@dgm-js/gan';
 * safeLeakyRelu(tf.tensor1d([-1, 2])).print(); // [-0.2, 2]
 * ```
 */
export function safeLeakyRelu(x: Tensor, alpha = 0.2): Tensor {
  checkSlope(alpha, 'safeLeakyRelu');
  const f = customGrad<[Tensor]>((xi, save) => {
    save([xi]);
    return {
      value: tf.leakyRelu(xi, alpha),
      gradFunc: (dy: Tensor, [s]: Tensor[]) =>
        tf.mul(dy, tf.add(alpha, tf.mul(1 - alpha, tf.step(s as Tensor)))),
    };
  });
  return f(x);
}

const NAMES: readonly CriticActivationName[] = [
  'leakyRelu',
  'relu',
  'tanh',
  'sigmoid',
  'softplus',
  'gelu',
  'identity',
];

/**
 * The names {@link criticActivation} accepts.
 *
 * @example
 * ```ts
 * import { criticActivationNames } from '@dgm-js/gan';
 * criticActivationNames.includes('tanh'); // true
 * ```
 */
export const criticActivationNames: readonly CriticActivationName[] = NAMES;

/**
 * The double-backprop-safe function for a critic activation: `leakyRelu` (slope 0.2 unless given
 * as `['leakyRelu', slope]`), `tanh` and `sigmoid` are the safe versions of this module; `relu`,
 * `softplus`, `gelu` and `identity` are core-tensors' own (already correct to second order).
 * Anything else is a ValueError: critics of this package take no arbitrary functions, so a
 * gradient penalty can never be silently wrong.
 *
 * @example
 * ```ts
 * import { tf } from '@dgm-js/core-tensors';
 * import { criticActivation } from '@dgm-js/gan';
 * const act = criticActivation(['leakyRelu', 0.1]);
 * act(tf.tensor1d([-1])).print(); // [-0.1]
 * ```
 */
export function criticActivation(a: CriticActivation): ActivationFn {
  if (Array.isArray(a) && a[0] === 'leakyRelu') {
    const alpha = a[1];
    checkSlope(alpha, 'criticActivation');
    return (x) => safeLeakyRelu(x, alpha);
  }
  switch (a) {
    case 'leakyRelu':
      return (x) => safeLeakyRelu(x, 0.2);
    case 'relu':
      return (x) => tf.relu(x);
    case 'tanh':
      return safeTanh;
    case 'sigmoid':
      return safeSigmoid;
    case 'softplus':
      return softplus;
    case 'gelu':
      return gelu;
    case 'identity':
      return (x) => tf.clone(x);
    default:
      throw new ValueError(
        `criticActivation: unknown activation ${JSON.stringify(a)}; use one of ${NAMES.join(', ')} or ['leakyRelu', slope]. Critics take only activations whose second derivative is tested (gradient penalties differentiate twice).`,
      );
  }
}
