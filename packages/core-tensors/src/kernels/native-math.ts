/**
 * Native elementwise transcendental kernels over the wasm backend (vectorised float32 exp, log,
 * ...): registered by native.ts together with the GEMM / convolution kernels.
 */
import type { tf } from '../tf.js';
import type { NativeContext } from './native.js';

/** The elementwise kernels served natively (none yet). */
export function nativeMathKernels(_ctx: NativeContext): Record<string, tf.KernelFunc> {
  return {};
}
