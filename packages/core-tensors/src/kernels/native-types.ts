/**
 * The types the native kernel files share (native.ts and the native-loss / -math / -ops kernel
 * sets it registers), in their own module so none of them imports another for a type.
 */
import type { tf } from '../tf.js';

type TensorInfo = tf.TensorInfo;

/** The wasm backend as the native kernels use it: output allocation and heap views. */
export interface WasmBackend extends tf.KernelBackend {
  makeOutput(shape: number[], dtype: tf.DataType): TensorInfo;
  typedArrayFromHeap(t: TensorInfo): Float32Array | Int32Array | Uint8Array;
  disposeData(dataId: object, force?: boolean): boolean;
}

/**
 * What the kernel files that extend this one (native-math.ts, native-ops.ts) get: the loaded
 * addon (typed by them, structurally), the kernel that was registered before a native one (for
 * cases they do not handle), heap views and a check that the backend is the wasm one.
 */
export interface NativeContext {
  /** The loaded addon, or null. */
  addon(): Record<string, unknown> | null;
  /** Runs the kernel registered before the native `name` (TypeScript override or stock). */
  fallback(name: string, args: Parameters<tf.KernelFunc>[0]): TensorInfo | TensorInfo[];
  /** A Float32Array view of a float32 tensor's data on the wasm heap (no copy). */
  heap(be: WasmBackend, t: TensorInfo): Float32Array;
  /** Whether `backend` is the wasm backend (has heap views and makeOutput). */
  usable(backend: unknown): backend is WasmBackend;
  /** Whether the native kernels are registered now (loaded and not unloaded). */
  active(): boolean;
}
