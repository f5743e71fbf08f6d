/**
 * The single TensorFlow.js engine of dgm.js. Every other package imports `tf` from here,
 * so one engine, one kernel registry and one backend serve the whole process.
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
// tfjs-core registers no gradients by itself; this module does (the tfjs umbrella does the same).
import '@tensorflow/tfjs-core/dist/register_all_gradients';

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
