/**
 * The single TensorFlow.js engine of dgm.js. Every other package imports `tf` from here,
 * so one engine, one kernel registry and one backend serve the whole process. Gradients and
 * the chained tensor methods are registered, as with the `@tensorflow/tfjs` umbrella.
 *
 * @example
 * ```ts
 * import { tf } from '@dgm-js/core-tensors';
 * const y = tf.ones([2]).add(1).mul(3); // [6, 6]: chained methods work
 * ```
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
// tfjs-core registers no gradients by itself; this module does (the tfjs umbrella does the same).
import '@tensorflow/tfjs-core/dist/register_all_gradients';
// Nor the chained tensor methods (`x.add(y)`, `x.slice(...)`, `x.reshape(...)`): this module
// patches them onto the one Tensor class and, through its declaration files, adds them to the
// `Tensor` type (the tfjs umbrella imports it too). Bundled into dist like the gradients.
import '@tensorflow/tfjs-core/dist/public/chained_ops/register_all_chained_ops';

export { tf };
export type {
  DataType,
  GradSaveFunc,
  NamedTensorMap,
  Rank,
  Scalar,
  Tensor,
  Tensor1D,
  Tensor2D,
  Tensor3D,
  Tensor4D,
  TensorLike,
  Variable,
} from '@tensorflow/tfjs-core';
