import { checkInt, Rng, type Tensor, ValueError } from '@dgm-js/core-tensors';
import {
  allocBuffer,
  type BatchTensors,
  type Dataset,
  type FieldSpecs,
  type FillBuffers,
  resolveFields,
  tensorFromBuffer,
} from './dataset.js';
import { hashKey } from './hash.js';

/** Options of {@link batches} and {@link forEachBatch}. */
export interface BatchOptions<K extends string = string> {
  /** Examples per batch (the last batch of an epoch may be smaller unless `dropLast`). */
  readonly batchSize: number;
  /** Seed of the shuffling (epoch `e`'s order is a pure function of (seed, e)). Default 0. */
  readonly seed?: number;
  /** Shuffle each epoch. Default true; false serves examples in order. */
  readonly shuffle?: boolean;
  /** Skip an epoch's last, incomplete batch. Default false. */
  readonly dropLast?: boolean;
  /** Number of epochs (`Infinity` for an endless stream). Default 1. */
  readonly epochs?: number;
  /** The first epoch's number (to resume a run: same orders, same dynamic binarization). Default 0. */
  readonly startEpoch?: number;
  /** The fields to make tensors of (default: all the dataset's fields). */
  readonly fields?: readonly K[];
}

/** One batch: its tensors (the caller disposes them, or calls `dispose()`) and where it is. */
export interface Batch<S extends FieldSpecs> {
  /** One tensor per requested field, `[size, ...fieldShape]`. */
  readonly tensors: BatchTensors<S>;
  /** The epoch number (counting from `startEpoch`). */
  readonly epoch: number;
  /** The batch's index within its epoch. */
  readonly index: number;
  /** The batch's index since the iteration started. */
  readonly step: number;
  /** Number of examples in the batch. */
  readonly size: number;
  /** The dataset indices of the batch's examples: a view, valid until the next batch. */
  readonly indices: Int32Array;
  /** Disposes every tensor of the batch. */
  dispose(): void;
}

/**
 * A seeded, shuffled, typed batch iterator over a dataset. Iterating it yields {@link Batch}es
 * whose tensors the caller disposes (or use {@link forEachBatch}). The JS staging buffers are
 * allocated once per iteration and reused for every batch; each iteration (each `for...of`)
 * restarts from `startEpoch` with the same orders, so a run is reproducible from its seed.
 *
 * @example
 * ```ts
 * import { toyDataset, batches } from '@dgm-js/datasets';
 * const ds = toyDataset('8gaussians', { size: 10000, seed: 0 });
 * for (const batch of batches(ds, { batchSize: 256, seed: 1, epochs: 2 })) {
 *   const { x } = batch.tensors; // [256, 2] (the last batch of an epoch: 16)
 *   // ... train on x ...
 *   batch.dispose();
 * }
 * ```
 */
export class BatchIterator<S extends FieldSpecs, K extends keyof S & string>
  implements Iterable<Batch<Pick<S, K>>>
{
  /** Batches in each epoch. */
  readonly batchesPerEpoch: number;
  readonly batchSize: number;
  readonly epochs: number;
  readonly fields: readonly K[];
  private readonly ds: Dataset<S>;
  private readonly seed: number;
  private readonly shuffle: boolean;
  private readonly dropLast: boolean;
  private readonly startEpoch: number;

  constructor(ds: Dataset<S>, opts: BatchOptions<K>) {
    checkInt(opts.batchSize, 'batchSize', 'batches');
    const seed = opts.seed ?? 0;
    if (!Number.isInteger(seed))
      throw new ValueError(`batches: seed must be an integer, got ${seed}.`);
    const epochs = opts.epochs ?? 1;
    checkInt(epochs, 'epochs', 'batches', { min: 0, allowInfinity: true });
    const startEpoch = opts.startEpoch ?? 0;
    checkInt(startEpoch, 'startEpoch', 'batches', { min: 0 });
    this.ds = ds;
    this.fields = resolveFields(ds, opts.fields, 'batches');
    this.batchSize = opts.batchSize;
    this.seed = seed;
    this.shuffle = opts.shuffle ?? true;
    this.dropLast = opts.dropLast ?? false;
    this.epochs = epochs;
    this.startEpoch = startEpoch;
    this.batchesPerEpoch = this.dropLast
      ? Math.floor(ds.size / this.batchSize)
      : Math.ceil(ds.size / this.batchSize);
  }

  /** Total number of batches (`Infinity` for an endless stream). */
  get length(): number {
    return this.epochs === 0 ? 0 : this.batchesPerEpoch * this.epochs;
  }

  /**
   * The order in which epoch `epoch` visits the examples (a permutation of `0..size-1`, or the
   * identity without shuffling). Writes into `out` when given.
   */
  epochOrder(epoch: number, out: Int32Array = new Int32Array(this.ds.size)): Int32Array {
    const n = this.ds.size;
    for (let i = 0; i < n; i++) out[i] = i;
    if (this.shuffle) {
      const rng = new Rng(hashKey(this.seed, epoch, 0x5eed));
      for (let i = n - 1; i > 0; i--) {
        const j = Math.floor(rng.float() * (i + 1));
        const t = out[i]!;
        out[i] = out[j]!;
        out[j] = t;
      }
    }
    return out;
  }

  *[Symbol.iterator](): Generator<Batch<Pick<S, K>>, void, undefined> {
    const ds = this.ds;
    const specs = ds.fields;
    const bufs: Record<string, Float32Array | Int32Array> = {};
    for (const f of this.fields) bufs[f] = allocBuffer(specs[f]!, this.batchSize);
    const order = new Int32Array(ds.size);
    let step = 0;
    if (this.batchesPerEpoch === 0) return;
    for (let e = 0; e < this.epochs; e++) {
      const epoch = this.startEpoch + e;
      this.epochOrder(epoch, order);
      for (let b = 0; b < this.batchesPerEpoch; b++) {
        const start = b * this.batchSize;
        const size = Math.min(this.batchSize, ds.size - start);
        const indices = order.subarray(start, start + size);
        ds.fill(indices, bufs as FillBuffers<S>, { epoch });
        const tensors: Record<string, Tensor> = {};
        for (const f of this.fields) tensors[f] = tensorFromBuffer(bufs[f]!, specs[f]!, size);
        yield {
          tensors: tensors as BatchTensors<Pick<S, K>>,
          epoch,
          index: b,
          step: step++,
          size,
          indices,
          dispose: () => {
            for (const t of Object.values(tensors)) t.dispose();
          },
        };
      }
    }
  }
}

/**
 * A seeded, shuffled batch iterator over `ds` (see {@link BatchIterator}).
 *
 * @example
 * ```ts
 * import { loadMnist, batches } from '@dgm-js/datasets';
 * const { train } = await loadMnist({ flat: true });
 * for (const b of batches(train, { batchSize: 100, seed: 0, fields: ['x'], dropLast: true })) {
 *   b.tensors.x; // [100, 784]
 *   b.dispose();
 * }
 * ```
 */
export function batches<S extends FieldSpecs, K extends keyof S & string = keyof S & string>(
  ds: Dataset<S>,
  opts: BatchOptions<K>,
): BatchIterator<S, K> {
  return new BatchIterator<S, K>(ds, opts);
}

/**
 * Runs `fn` on every batch of {@link batches}`(ds, opts)` and disposes the batch's tensors
 * after `fn` returns (or its promise settles, or it throws). Returns the number of batches.
 *
 * @example
 * ```ts
 * import { toyDataset, forEachBatch } from '@dgm-js/datasets';
 * const ds = toyDataset('checkerboard', { size: 4096, seed: 0 });
 * await forEachBatch(ds, { batchSize: 512, seed: 0, epochs: 10 }, async ({ tensors, epoch }) => {
 *   // await trainStep(tensors.x); nothing to dispose
 * });
 * ```
 */
export async function forEachBatch<
  S extends FieldSpecs,
  K extends keyof S & string = keyof S & string,
>(
  ds: Dataset<S>,
  opts: BatchOptions<K>,
  fn: (batch: Batch<Pick<S, K>>) => void | Promise<void>,
): Promise<number> {
  let n = 0;
  for (const batch of batches(ds, opts)) {
    try {
      await fn(batch);
    } finally {
      batch.dispose();
    }
    n++;
  }
  return n;
}
