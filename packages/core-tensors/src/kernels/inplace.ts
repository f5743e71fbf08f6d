/**
 * In-place writes on the wasm heap (dgm.js's native Adam update, the parallel Trainer's parameter
 * copies) must tell the wasm backend that a tensor's data changed: its C++ side caches
 * XNNPACK operators with the weights packed from a tensor (matmul and convolution filters),
 * keyed by the tensor's id, and drops them only when the tensor is disposed. A weight written in
 * place would otherwise keep feeding its old values to the stock kernels.
 */
import { tf } from '../tf.js';

interface WasmInternals {
  dataIdMap: {
    get(dataId: object): { id: number; memoryOffset: number; shape: number[] } | undefined;
  };
  wasm: {
    tfjs: {
      disposeData(id: number): void;
      registerTensor(id: number, size: number, offset: number): void;
    };
  };
}

/**
 * Drops the wasm backend's cached state for the tensor with `dataId` (its packed-weight
 * operators) after its data were written in place; the tensor itself stays as it is. A no-op on
 * other backends.
 */
export function markWrittenInPlace(dataId: object): void {
  if (tf.getBackend() !== 'wasm') return;
  const be = tf.engine().backend as unknown as Partial<WasmInternals>;
  const d = be.dataIdMap?.get(dataId);
  const tfjs = be.wasm?.tfjs;
  if (!d || !tfjs) return;
  // dispose_data drops the C++ record and the operators cached for this id (the JS side frees
  // the memory, not this call); registering the same id at the same address restores the record.
  tfjs.disposeData(d.id);
  tfjs.registerTensor(d.id, tf.util.sizeFromShape(d.shape), d.memoryOffset);
}
