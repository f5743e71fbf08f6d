/**
 * `@dgm-js/core-tensors/kernels`: the kernels dgm.js registers over the wasm backend, the
 * TypeScript ones (transposed matmuls, conv gradients, slices) and the optional native ones
 * (`@dgm-js/kernels-native`, OpenBLAS). `initBackend()` (from the package root) installs both;
 * this entry is for code that inspects or toggles them, such as benchmarks. The same functions
 * are exported from the root: both import paths share one kernel registry and one native state.
 *
 * @example
 * ```ts
 * import { initBackend } from '@dgm-js/core-tensors';
 * import { nativeKernelsStatus, wasmKernelOverrides } from '@dgm-js/core-tensors/kernels';
 * await initBackend({ quiet: true });
 * console.log(wasmKernelOverrides(), nativeKernelsStatus().loaded);
 * ```
 */

export {
  registerWasmKernels,
  restoreStockWasmKernels,
  wasmKernelOverrides,
} from '../kernels/index.js';
export type { NativeKernelsStatus } from '../kernels/native.js';
export {
  loadNativeKernels,
  nativeKernelsStatus,
  setNativeThreads,
  unloadNativeKernels,
} from '../kernels/native.js';
