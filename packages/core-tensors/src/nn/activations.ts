/**
 * Activations by name, so layers and the `mlp` builder can take `activation: 'relu'`.
 */
import { ValueError } from '../errors.js';
import { softplus } from '../numerics.js';
import { tf } from '../tf.js';

/** The built-in activations by name. */
export type ActivationName =
  | 'identity'
  | 'linear'
  | 'relu'
  | 'leakyRelu'
  | 'elu'
  | 'tanh'
  | 'sigmoid'
  | 'softplus'
  | 'gelu';

/** An elementwise function of a tensor. */
export type ActivationFn = (x: tf.Tensor) => tf.Tensor;

/** An activation given by name or as a function. */
export type Activation = ActivationName | ActivationFn;

const SQRT1_2 = Math.SQRT1_2;

/**
 * GELU, exact form: x * Phi(x) = 0.5 x (1 + erf(x / sqrt 2)) (Hendrycks and Gimpel 2016).
 *
 * @example
 * ```ts
 * gelu(tf.tensor1d([-1, 0, 1])).print(); // [-0.1587, 0, 0.8413]
 * ```
 */
export function gelu(x: tf.Tensor): tf.Tensor {
  return tf.tidy(() => tf.mul(tf.mul(x, 0.5), tf.add(1, tf.erf(tf.mul(x, SQRT1_2)))));
}

/**
 * Leaky ReLU with negative slope `alpha` (default 0.01, as PyTorch; tfjs's own default is 0.2).
 *
 * @example
 * ```ts
 * leakyRelu(tf.tensor1d([-1, 2])).print(); // [-0.01, 2]
 * ```
 */
export function leakyRelu(x: tf.Tensor, alpha = 0.01): tf.Tensor {
  return tf.leakyRelu(x, alpha);
}

const ACTIVATIONS: Record<ActivationName, ActivationFn> = {
  identity: (x) => x,
  linear: (x) => x,
  relu: (x) => tf.relu(x),
  leakyRelu: (x) => leakyRelu(x),
  elu: (x) => tf.elu(x),
  tanh: (x) => tf.tanh(x),
  sigmoid: (x) => tf.sigmoid(x),
  softplus: (x) => softplus(x),
  gelu,
};

/**
 * The names {@link getActivation} accepts.
 *
 * @example
 * ```ts
 * activationNames.includes('gelu'); // true
 * ```
 */
export const activationNames: readonly ActivationName[] = Object.keys(
  ACTIVATIONS,
) as ActivationName[];

/**
 * Resolves an activation given by name or as a function. `identity` returns its input (the same
 * tensor, not a copy).
 *
 * @example
 * ```ts
 * const act = getActivation('gelu');
 * act(tf.tensor1d([1])).print(); // [0.8413]
 * ```
 */
export function getActivation(activation: Activation): ActivationFn {
  if (typeof activation === 'function') return activation;
  const f = ACTIVATIONS[activation];
  if (!f) {
    throw new ValueError(
      `getActivation: unknown activation '${String(activation)}'; use one of ${activationNames.join(', ')} or a function (x: Tensor) => Tensor.`,
    );
  }
  return f;
}
