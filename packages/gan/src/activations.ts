/**
 * The critic activation policy: which activations a critic of this package may use, by name.
 *
 * A gradient penalty (WGAN-GP, R1, R2) differentiates the critic's input gradient again with
 * respect to the critic's parameters: "double backprop". tfjs-core 4.22 gets that wrong for ops
 * whose gradient reads their own output (sigmoid, tanh, exp, elu, softmax: the f''(x) terms are
 * silently dropped) and cannot do it at all for `tf.leakyRelu` (its gradient uses `Greater`,
 * which has no gradient). core-tensors' `safeSigmoid`, `safeTanh` and `safeLeakyRelu` fix both
 * (see its `nn/second-order.ts`); ReLU, softplus and GELU are correct as they are. A critic here
 * takes only the names below, each tested to second order, so a penalty is never silently wrong.
 */
import {
  type ActivationFn,
  checkLeakySlope,
  gelu,
  safeLeakyRelu,
  safeSigmoid,
  safeTanh,
  softplus,
  tf,
  ValueError,
} from '@dgm-js/core-tensors';

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
 * The double-backprop-safe primitives live in core-tensors (`nn/second-order.ts`); they are
 * re-exported here so `import { safeSigmoid } from '@dgm-js/gan'` keeps working.
 */
export { safeLeakyRelu, safeSigmoid, safeTanh };

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
 * as `['leakyRelu', slope]`), `tanh` and `sigmoid` are core-tensors' safe versions; `relu`,
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
    const alpha = checkLeakySlope(a[1], 'criticActivation');
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
