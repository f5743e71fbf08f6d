import {
  type Tensor,
  type Tensor1D,
  type Tensor2D,
  type Tensor3D,
  type Tensor4D,
  tf,
  ValueError,
} from '@dgm-js/core-tensors';

/** The tensor dtypes a dataset field can have. */
export type FieldDtype = 'float32' | 'int32';

/**
 * One field of a dataset's examples: its per-example shape (a batch of `b` examples has shape
 * `[b, ...shape]`) and dtype.
 */
export interface FieldSpec<
  S extends readonly number[] = readonly number[],
  D extends FieldDtype = FieldDtype,
> {
  readonly shape: S;
  readonly dtype: D;
}

/** A dataset's fields by name. */
export type FieldSpecs = { readonly [name: string]: FieldSpec };

/** The JS buffer a field is written into: `Int32Array` for int32, else `Float32Array`. */
export type BufferFor<F extends FieldSpec> = F['dtype'] extends 'int32' ? Int32Array : Float32Array;

/** The tensor type of a batch of a field (one rank more than the per-example shape). */
export type TensorFor<F extends FieldSpec> = F['shape'] extends readonly []
  ? Tensor1D
  : F['shape'] extends readonly [number]
    ? Tensor2D
    : F['shape'] extends readonly [number, number]
      ? Tensor3D
      : F['shape'] extends readonly [number, number, number]
        ? Tensor4D
        : Tensor;

/** A batch's tensors, one per requested field. */
export type BatchTensors<S extends FieldSpecs> = { [K in keyof S]: TensorFor<S[K]> };

/** Buffers a dataset fills, one per requested field (absent fields are skipped). */
export type FillBuffers<S extends FieldSpecs> = { -readonly [K in keyof S]?: BufferFor<S[K]> };

/** Context passed to {@link Dataset.fill}: the epoch (drives dynamic binarization). */
export interface FillContext {
  readonly epoch: number;
}

/** How image pixels are turned into values. */
export type Binarization = 'none' | 'dynamic' | 'fixed' | 'threshold';

/**
 * What a dataset is, recorded so a result can say exactly what it was computed on.
 * `binarization` and `seed` say which binarization (and its seed) an image dataset uses;
 * `null` where not applicable.
 */
export interface DatasetMeta {
  readonly name: string;
  readonly split: string;
  readonly size: number;
  readonly binarization: Binarization | null;
  readonly seed: number | null;
  /** The file or package the data came from, when it came from one. */
  readonly source: string | null;
  /** Anything else that defines the data (toy density parameters, missing-modality rates...). */
  readonly params: Readonly<Record<string, unknown>>;
}

/**
 * The contract every dataset implements: a size, typed fields, metadata, and `fill`, which
 * writes the examples `indices` into caller-owned buffers (row-major, example after example).
 * Data stays in JS typed arrays; tensors are made per batch by {@link batches} /
 * {@link getBatch}.
 *
 * @example
 * ```ts
 * import type { Dataset, FieldSpec, FillBuffers } from '@dgm-js/datasets';
 * import { batches } from '@dgm-js/datasets';
 * type F = { readonly x: FieldSpec<readonly [1], 'float32'> };
 * const squares: Dataset<F> = {
 *   size: 100,
 *   fields: { x: { shape: [1], dtype: 'float32' } },
 *   meta: { name: 'squares', split: 'train', size: 100, binarization: null, seed: null, source: null, params: {} },
 *   fill(indices, out: FillBuffers<F>) {
 *     for (let k = 0; k < indices.length; k++) if (out.x) out.x[k] = indices[k]! ** 2;
 *   },
 * };
 * for (const b of batches(squares, { batchSize: 10, seed: 0 })) b.dispose();
 * ```
 */
export interface Dataset<S extends FieldSpecs = FieldSpecs> {
  readonly size: number;
  readonly fields: S;
  readonly meta: DatasetMeta;
  /**
   * Writes examples `indices[0..indices.length)` into each buffer present in `out` (each at
   * least `indices.length * prod(shape)` long).
   */
  fill(indices: ArrayLike<number>, out: FillBuffers<S>, ctx: FillContext): void;
}

/**
 * The number of values per example of a field.
 *
 * @example
 * ```ts
 * import { fieldSize } from '@dgm-js/datasets';
 * fieldSize({ shape: [28, 28, 1], dtype: 'float32' }); // 784
 * ```
 */
export function fieldSize(spec: FieldSpec): number {
  let n = 1;
  for (const d of spec.shape) n *= d;
  return n;
}

/** A buffer for `count` examples of a field. */
export function allocBuffer<F extends FieldSpec>(spec: F, count: number): BufferFor<F> {
  const n = fieldSize(spec) * count;
  return (spec.dtype === 'int32' ? new Int32Array(n) : new Float32Array(n)) as BufferFor<F>;
}

/**
 * Makes a tensor from the first `count` examples in a reusable buffer. Backends that copy on
 * write (wasm) get a view of the buffer; others (cpu, webgl, tfjs-node keep a reference to the
 * array they are given) get a copy, so the buffer can be refilled without corrupting tensors
 * the caller still holds.
 */
export function tensorFromBuffer(
  buf: Float32Array | Int32Array,
  spec: FieldSpec,
  count: number,
): Tensor {
  const n = fieldSize(spec) * count;
  const values = tf.getBackend() === 'wasm' ? buf.subarray(0, n) : buf.slice(0, n);
  return tf.tensor(values, [count, ...spec.shape], spec.dtype);
}

/** Checks the fields a caller asked for exist; returns them (all fields when none given). */
export function resolveFields<S extends FieldSpecs, K extends keyof S & string>(
  ds: Dataset<S>,
  fields: readonly K[] | undefined,
  what: string,
): K[] {
  const all = Object.keys(ds.fields) as K[];
  if (fields === undefined) return all;
  if (fields.length === 0) {
    throw new ValueError(
      `${what}: fields is empty; list at least one of ${all.join(', ')} (or omit it for all).`,
    );
  }
  for (const f of fields) {
    if (!(f in ds.fields)) {
      throw new ValueError(
        `${what}: unknown field '${String(f)}' for dataset ${ds.meta.name}; its fields are ${all.join(', ')}.`,
      );
    }
  }
  return [...fields];
}

/** Options of {@link getBatch} and {@link toTensors}. */
export interface GetBatchOptions<K extends string> {
  /** Fields to return (default: all). */
  readonly fields?: readonly K[];
  /** Epoch passed to the dataset (selects the dynamic-binarization draw). Default 0. */
  readonly epoch?: number;
}

/**
 * The examples `indices` of a dataset as fresh tensors (the caller disposes them).
 *
 * @example
 * ```ts
 * import { loadMnist, getBatch } from '@dgm-js/datasets';
 * const { test } = await loadMnist();
 * const { x, y } = getBatch(test, [0, 1, 2], { fields: ['x', 'y'] });
 * // x: [3, 28, 28, 1] float32 in [0, 1]; y: [3] int32
 * x.dispose(); y.dispose();
 * ```
 */
export function getBatch<S extends FieldSpecs, K extends keyof S & string = keyof S & string>(
  ds: Dataset<S>,
  indices: ArrayLike<number>,
  opts: GetBatchOptions<K> = {},
): BatchTensors<Pick<S, K>> {
  const fields = resolveFields(ds, opts.fields, 'getBatch');
  const idx = Int32Array.from(indices as ArrayLike<number>);
  for (let i = 0; i < idx.length; i++) {
    const v = idx[i]!;
    if (!(v >= 0 && v < ds.size) || v !== (indices as ArrayLike<number>)[i]) {
      throw new ValueError(
        `getBatch: indices[${i}] = ${(indices as ArrayLike<number>)[i]} is not an integer in [0, ${ds.size}) for dataset ${ds.meta.name} (${ds.meta.split}).`,
      );
    }
  }
  const out: Record<string, Float32Array | Int32Array> = {};
  for (const f of fields) out[f] = allocBuffer(ds.fields[f]!, idx.length);
  ds.fill(idx, out as FillBuffers<S>, { epoch: opts.epoch ?? 0 });
  const tensors: Record<string, Tensor> = {};
  for (const f of fields) {
    tensors[f] = tf.tensor(out[f]!, [idx.length, ...ds.fields[f]!.shape], ds.fields[f]!.dtype);
  }
  return tensors as BatchTensors<Pick<S, K>>;
}

/**
 * A whole dataset as tensors (the caller disposes them). For big datasets prefer
 * {@link batches}: this materialises everything at once (full MNIST train as float32 is 188 MB).
 *
 * @example
 * ```ts
 * import { toyDataset, toTensors } from '@dgm-js/datasets';
 * const ds = toyDataset('moons', { size: 1000, seed: 0 });
 * const { x } = toTensors(ds); // [1000, 2]
 * x.dispose();
 * ```
 */
export function toTensors<S extends FieldSpecs, K extends keyof S & string = keyof S & string>(
  ds: Dataset<S>,
  opts: GetBatchOptions<K> = {},
): BatchTensors<Pick<S, K>> {
  const idx = new Int32Array(ds.size);
  for (let i = 0; i < idx.length; i++) idx[i] = i;
  return getBatch(ds, idx, opts);
}
