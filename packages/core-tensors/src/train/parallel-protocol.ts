/**
 * The shared-memory protocol between the Trainer's data-parallel engine (main thread,
 * `parallel.ts`) and its worker threads (`parallel-worker.ts`). Internal: not part of the
 * public API. Both sides compute the same offsets from the same counts.
 *
 * Control block (`ctrl`, an Int32Array on a SharedArrayBuffer):
 * - header: generation counter (the main thread bumps it and notifies to start a command), the
 *   command, the number of workers done with the current generation (each worker adds 1 and
 *   notifies), the data layout version;
 * - the trainable mask (one int per synchronised entry);
 * - per worker: status, first row and row count of its shard, its seed, the length of its text
 *   (error message or metric names), then one flag per entry: "wrote a gradient".
 *
 * Numbers (`num`, a Float64Array): step, epoch, batch index, batch rows; then per worker its loss,
 * metric count and metric values.
 */
import { tf } from '../tf.js';

/** Bumped whenever the layout below changes; the worker refuses a different one. */
export const PROTOCOL_VERSION = 4;

export const GEN = 0;
export const CMD = 1;
export const DONE = 2;
export const LAYOUT = 3;
export const HEADER_I32 = 8;

export const CMD_STEP = 1;
export const CMD_STOP = 2;

/** Values of a worker's per-entry gradient flag. */
export const GRAD_NONE = 0;
export const GRAD_FINITE = 1;
export const GRAD_NONFINITE = 2;

export const STATUS_OK = 0;
export const STATUS_ERROR = 1;
/** Set by the main thread when it starts a step; the worker sets OK or ERROR when done. */
export const STATUS_RUNNING = 2;

/** Per-worker int fields (offsets within the worker's block). */
export const W_STATUS = 0;
export const W_ROW_START = 1;
export const W_ROWS = 2;
export const W_SEED = 3;
export const W_TEXT_LEN = 4;
export const W_FIELDS = 8;

/** Global numbers. */
export const N_STEP = 0;
export const N_EPOCH = 1;
export const N_BATCH_INDEX = 2;
export const N_BATCH_ROWS = 3;
export const N_HEADER = 4;

/**
 * Per-worker numbers: the weight of its shard (main -> worker; the worker scales its loss by it,
 * so its gradient comes out weighted), its weighted loss, the metric count, then up to
 * MAX_METRICS metric values (unweighted).
 */
export const NW_WEIGHT = 0;
export const NW_LOSS = 1;
export const NW_METRICS = 2;
export const MAX_METRICS = 64;
export const NW_FIELDS = 3 + MAX_METRICS;

/** UTF-16 code units of text per worker (error messages, metric names). */
export const TEXT_UNITS = 8192;

/** A synchronised tensor: a parameter (trainable or frozen) or a buffer of the model. */
export interface EntrySpec {
  name: string;
  shape: number[];
  dtype: 'float32' | 'int32';
  /** Parameters get gradient slots; buffers are only synchronised. */
  param: boolean;
}

/** Offsets of the control block for `entries` entries and `workers` workers. */
export class CtrlLayout {
  readonly i32Length: number;
  readonly f64Length: number;
  constructor(
    readonly entries: number,
    readonly workers: number,
  ) {
    this.i32Length = HEADER_I32 + entries + workers * (W_FIELDS + entries);
    this.f64Length = N_HEADER + workers * NW_FIELDS;
  }
  /** Index of the trainable flag of entry `e`. */
  mask(e: number): number {
    return HEADER_I32 + e;
  }
  /** Index of int field `f` of worker `w`. */
  w(w: number, f: number): number {
    return HEADER_I32 + this.entries + w * (W_FIELDS + this.entries) + f;
  }
  /** Index of worker `w`'s "gradient written" flag for entry `e`. */
  gradFlag(w: number, e: number): number {
    return this.w(w, W_FIELDS) + e;
  }
  /** Index of number field `f` of worker `w`. */
  num(w: number, f: number): number {
    return N_HEADER + w * NW_FIELDS + f;
  }
}

/** Byte offsets of each entry in the parameter (and each worker's gradient) buffer. */
export function entryOffsets(entries: readonly EntrySpec[]): { offsets: number[]; bytes: number } {
  const offsets: number[] = [];
  let bytes = 0;
  for (const e of entries) {
    offsets.push(bytes);
    bytes += align8(4 * sizeOf(e.shape));
  }
  return { offsets, bytes };
}

export function sizeOf(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

export function align8(n: number): number {
  return (n + 7) & ~7;
}

/** A typed view of `count` elements of `dtype` at `byteOffset`. */
export function viewOf(
  buffer: SharedArrayBuffer,
  dtype: 'float32' | 'int32' | 'bool',
  byteOffset: number,
  count: number,
): Float32Array | Int32Array | Uint8Array {
  if (dtype === 'float32') return new Float32Array(buffer, byteOffset, count);
  if (dtype === 'int32') return new Int32Array(buffer, byteOffset, count);
  return new Uint8Array(buffer, byteOffset, count);
}

export function bytesPer(dtype: 'float32' | 'int32' | 'bool'): number {
  return dtype === 'bool' ? 1 : 4;
}

/** A leaf of a batch: a tensor at `key` (null: the batch is the tensor itself). */
export interface LeafSpec {
  key: string | number | null;
  dtype: 'float32' | 'int32' | 'bool';
  /** The shape without the batch axis. */
  rowShape: number[];
  /** Byte offset of this leaf's rows in a worker's data buffer. */
  byteOffset: number;
}

/** The structure of a batch and where its leaves go in each worker's data buffer. */
export interface DataLayout {
  version: number;
  /** 'batch': a record of tensors handed to the loss as `{ tensors, size, ... }` (a TensorBatch). */
  kind: 'tensor' | 'array' | 'record' | 'batch';
  /** Array length, for kind 'array'. */
  length: number;
  leaves: LeafSpec[];
  /** Rows each worker's buffer holds. */
  capacityRows: number;
}

/** Main -> worker message (on the worker's port) announcing a new data layout. */
export interface LayoutMessage {
  type: 'layout';
  layout: DataLayout;
  buffer: SharedArrayBuffer;
}

/** What the worker gets at start (`workerData`). */
export interface WorkerInit {
  protocol: number;
  moduleUrl: string;
  exportName: string;
  options: unknown;
  index: number;
  workers: number;
  /** Whether the main thread computes shard 0 (then worker k computes shard k + 1). */
  mainShard: boolean;
  backend: string;
  ctrl: SharedArrayBuffer;
  num: SharedArrayBuffer;
  text: SharedArrayBuffer;
  params: SharedArrayBuffer;
  grads: SharedArrayBuffer;
  entries: EntrySpec[];
}

/** Worker -> main messages (startup only; steps go through shared memory). */
export type WorkerMessage =
  | { type: 'ready'; backend: string }
  | { type: 'error'; message: string; stack?: string };

/** Writes `s` (truncated) into a worker's text area; returns the number of code units written. */
export function writeText(text: Uint16Array, s: string): number {
  const n = Math.min(s.length, text.length);
  for (let i = 0; i < n; i++) text[i] = s.charCodeAt(i);
  return n;
}

/** Reads `n` code units from a worker's text area. */
export function readText(text: Uint16Array, n: number): string {
  let s = '';
  for (let i = 0; i < n; i += 1024) {
    s += String.fromCharCode(...text.subarray(i, Math.min(n, i + 1024)));
  }
  return s;
}

/**
 * The flat data of a tensor without a copy where the backend allows it: a view of the wasm heap
 * on the wasm backend, the backend's own array on cpu; a fresh copy elsewhere (tensorflow).
 * Read it before the tensor is disposed or the wasm heap grows.
 */
export function flatData(t: tf.Tensor): Float32Array | Int32Array | Uint8Array {
  if (tf.getBackend() === 'wasm') {
    const be = tf.backend() as unknown as {
      typedArrayFromHeap?: (t: tf.TensorInfo) => Float32Array | Int32Array | Uint8Array;
    };
    if (typeof be.typedArrayFromHeap === 'function') return be.typedArrayFromHeap(t);
  }
  return t.dataSync() as Float32Array | Int32Array | Uint8Array;
}

/**
 * Whether `a` holds a NaN or an infinity: `0 * x` is 0 for every finite x and NaN otherwise, so
 * the sum is NaN exactly when some entry is not finite (the Trainer's probe, here in JS over a
 * heap or shared view: about 4x faster than two tfjs passes and a read-back).
 */
export function hasNonFinite(a: Float32Array | Int32Array | Uint8Array): boolean {
  let a0 = 0;
  let a1 = 0;
  let a2 = 0;
  let a3 = 0;
  const n = a.length & ~3;
  for (let i = 0; i < n; i += 4) {
    a0 += a[i]! * 0;
    a1 += a[i + 1]! * 0;
    a2 += a[i + 2]! * 0;
    a3 += a[i + 3]! * 0;
  }
  for (let i = n; i < a.length; i++) a0 += a[i]! * 0;
  return Number.isNaN(a0 + a1 + a2 + a3);
}

/**
 * A tensor holding the values of a shared view. On the cpu backend the tensor would keep the
 * view itself (and see later writes), so it gets a copy; the other backends copy on creation.
 */
export function tensorFromShared(
  view: Float32Array | Int32Array | Uint8Array,
  shape: number[],
  dtype: 'float32' | 'int32' | 'bool',
): tf.Tensor {
  const values = tf.getBackend() === 'cpu' ? view.slice() : view;
  return tf.tensor(values, shape, dtype);
}

/** Atomics.waitAsync (ES2024; typed here because the lib target is ES2022). */
export type WaitAsync = (
  a: Int32Array,
  index: number,
  value: number,
  timeout?: number,
) => { async: false; value: 'not-equal' | 'timed-out' } | { async: true; value: Promise<string> };

export function waitAsyncFn(): WaitAsync | undefined {
  const f = (Atomics as unknown as { waitAsync?: WaitAsync }).waitAsync;
  return typeof f === 'function' ? f.bind(Atomics) : undefined;
}
