/**
 * Native memory-bound kernels over the wasm backend (reductions, broadcast adds, relu gradients):
 * registered by native.ts together with the GEMM / convolution kernels.
 */
import type { tf } from '../tf.js';
import type { NativeContext } from './native.js';

/** The memory-bound kernels served natively (none yet). */
export function nativeOpsKernels(_ctx: NativeContext): Record<string, tf.KernelFunc> {
  return {};
}
