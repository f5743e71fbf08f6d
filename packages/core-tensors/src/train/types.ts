/**
 * The types the Trainer, its callbacks, the data-parallel engine and the worker entry share.
 * It imports types only (and holds one tiny helper), so everything in `train/` can import it
 * without import cycles: the worker entry in particular imports no Trainer.
 */
import type { Module } from '../nn/module.js';
import type { Rng } from '../rng.js';
import type { tf } from '../tf.js';
import type { CheckpointStore } from './checkpoint.js';

/** Any module, whatever its input and output types. */
export type AnyModule = Module<never, unknown>;

/**
 * What the Trainer trains and checkpoints: a module, a record of modules and variables (names
 * are prefixed by the key: `{ gen, disc }` gives `gen.0.kernel`, ...), or an array of variables.
 */
export type Trainable = AnyModule | tf.Variable[] | Record<string, AnyModule | tf.Variable>;

/** Which rows of the batch a shard's loss sees (in `StepContext.shard` when training in parallel). */
export interface ShardInfo {
  /** This shard's index: 0 is the main thread's shard when it computes one. */
  readonly index: number;
  /** The number of shards (workers, plus one when the main thread computes a shard). */
  readonly count: number;
  /** The shard's first row in the batch. */
  readonly offset: number;
  /** The shard's rows. */
  readonly rows: number;
  /** The rows of the whole batch. */
  readonly batchRows: number;
}

/** What the objective gets besides the batch. */
export interface StepContext {
  /** Steps completed before this one (0 on the very first step; continues on resume). */
  readonly step: number;
  /** The epoch (0-based). */
  readonly epoch: number;
  /** This batch's index within the epoch (0-based). */
  readonly batchIndex: number;
  /** A seed stream for this step alone, derived from the trainer's seed (restored on resume). */
  readonly rng: Rng;
  /** With `parallel`: which rows of the batch this call sees (each shard has its own `rng`). */
  readonly shard?: ShardInfo;
}

/** What an objective returns for one batch. */
export interface LossOutput {
  /** The scalar to minimise. */
  loss: tf.Tensor;
  /** Anything to report (scalars or numbers): averaged into the history and progress. */
  metrics?: Record<string, tf.Tensor | number>;
}

/**
 * A model family's training objective. `loss` runs synchronously under the gradient tape:
 * create tensors freely (the Trainer disposes them), do not `await`.
 *
 * @example
 * ```ts
 * const objective: Objective<{ x: tf.Tensor; y: tf.Tensor }> = {
 *   loss: ({ x, y }) => {
 *     const mse = tf.mean(tf.square(tf.sub(net.apply(x), y)));
 *     return { loss: mse, metrics: { rmse: tf.sqrt(mse) } };
 *   },
 * };
 * ```
 */
export interface Objective<B> {
  loss(batch: B, ctx: StepContext): LossOutput;
}

/**
 * Batches: an iterable (re-iterated each epoch; an array works), an async iterable, or a
 * function of the epoch and a per-epoch seed stream, which makes shuffling reproducible and lets
 * a resumed run see exactly the batches the interrupted one would have. Batches that own their
 * tensors (a {@link TensorBatch}, as `@dgm-js/datasets`' `batches(...)` yields) are disposed by
 * the Trainer after their step.
 */
export type DataSource<B> =
  | Iterable<B>
  | AsyncIterable<B>
  | ((epoch: number, rng: Rng) => Iterable<B> | AsyncIterable<B>);

/**
 * A batch that owns its tensors: the structural type of what `@dgm-js/datasets`' `batches(ds, ...)`
 * yields (core-tensors does not depend on datasets; any object of this shape works). The Trainer
 * counts its examples from `size` and, after the step, calls `dispose()` (unless the data source
 * is an array, which is re-used across epochs, or `disposeBatch: false`).
 *
 * `data: batches(ds, opts)` works as it is; note that the Trainer re-iterates an iterable each
 * epoch and a `BatchIterator` restarts at its `startEpoch` each time (the same order every
 * Trainer epoch): give it `epochs: Infinity` and the Trainer `maxSteps`, or pass a function of
 * the epoch as below.
 *
 * @example
 * ```ts
 * import { batches, toyDataset } from '@dgm-js/datasets';
 * const ds = toyDataset('8gaussians', { size: 1024, seed: 0 });
 * const trainer = new Trainer({
 *   model: flow,
 *   objective: (b) => ({ loss: tf.neg(tf.mean(flow.logProb(b.tensors.x))) }),
 *   // a function of the epoch: a fresh order each epoch, and an exact resume (annotate `epoch`,
 *   // or TypeScript types `objective` before it has inferred the batch type)
 *   data: (epoch: number) => batches(ds, { batchSize: 128, seed: 1, startEpoch: epoch }),
 *   optimizer: tf.train.adam(1e-3),
 *   epochs: 10,
 * });
 * ```
 */
export interface TensorBatch<T extends object = { readonly [name: string]: tf.Tensor }> {
  /** The batch's tensors (a record of tensors), each `[size, ...]`. */
  readonly tensors: T;
  /** Examples in the batch. */
  readonly size: number;
  /** Disposes every tensor of the batch. */
  dispose(): void;
}

/** What a replica factory gets. */
export interface ReplicaContext {
  /** 0-based worker index (the main thread is not a worker). */
  readonly workerIndex: number;
  /** The number of workers. */
  readonly workers: number;
  /** `parallel.options`, structured-cloned. */
  readonly options: unknown;
  /** The worker's tfjs backend (the main thread's choice). */
  readonly backend: string;
}

/** What a replica factory returns: the same model (names, shapes) and loss as the main thread's. */
export interface Replica<B = unknown> {
  model: Trainable;
  loss: Objective<B>['loss'] | Objective<B>;
}

/** The export of a parallel module: builds a worker's replica (may be async). */
export type ReplicaFactory<B = unknown> = (ctx: ReplicaContext) => Replica<B> | Promise<Replica<B>>;

/** Passed to `onStep` after every step. */
export interface StepInfo {
  /** Steps completed, this one included. */
  step: number;
  epoch: number;
  batchIndex: number;
  loss: number;
  metrics: Record<string, number>;
  /** True when the step was not applied (non-finite loss or gradient). */
  skipped: boolean;
  /** Parameters with a non-finite gradient (empty when none). */
  badGradients: string[];
  /** Training time so far, across resumes. */
  elapsedMs: number;
}

/** One row of the history: means over `steps` applied steps ending at `step`. */
export interface HistoryEntry {
  step: number;
  epoch: number;
  elapsedMs: number;
  loss: number;
  metrics: Record<string, number>;
  /** Applied steps averaged. */
  steps: number;
  /** Steps skipped as non-finite in this window. */
  skipped: number;
}

/** One validation result. */
export interface ValidationEntry {
  step: number;
  epoch: number;
  elapsedMs: number;
  metrics: Record<string, number>;
}

/** The best monitored validation value so far. */
export interface BestMetric {
  metric: string;
  value: number;
  step: number;
}

/** Why `fit` returned. */
export type StopReason = 'max-steps' | 'epochs' | 'data-exhausted' | 'aborted' | 'early-stopped';

/** What `fit` returns. */
export interface TrainResult {
  /** Steps completed (across resumes). */
  step: number;
  epoch: number;
  stopReason: StopReason;
  history: HistoryEntry[];
  validation: ValidationEntry[];
  best: BestMetric | undefined;
  /** Location of the last checkpoint written or resumed from. */
  lastCheckpoint: string | undefined;
  /** Where this run resumed from, if it did. */
  resumedFrom: string | undefined;
  /** Non-finite steps skipped (across resumes). */
  skippedSteps: number;
  /** Training time (across resumes). */
  elapsedMs: number;
}

/** Checkpointing options. */
export interface CheckpointOptions {
  /** A directory (Node): checkpoints are its sub-directories `step-00000100`, ... */
  dir?: string;
  /** Or any store (e.g. `MemoryCheckpointStore` in a browser). */
  store?: CheckpointStore;
  /** Save every this many steps (and always at the end). Default: only at the end. */
  every?: number;
  /** Keep the newest this many step checkpoints. Default 3. */
  keep?: number;
  /** Also keep the checkpoint with the best validation metric as `best`. Default false. */
  saveBest?: boolean;
}

/** The non-finite guard. */
export interface NanGuardOptions {
  /**
   * Stop after this many consecutive non-finite steps (each is skipped, not applied). Default 3.
   */
  maxConsecutive?: number;
  /**
   * At the limit: 'throw' a NonFiniteError (default), or 'rollback' the parameters and optimizer
   * state to the last checkpoint and go on with the next batches (at most `maxRollbacks` times).
   */
  onLimit?: 'throw' | 'rollback';
  /** Default 3. */
  maxRollbacks?: number;
  /**
   * Also check the parameters after every applied update (one pass over them, like the gradient
   * probe): an update that makes a parameter NaN or infinite (a diverging learning rate) stops
   * training at once, or rolls back with `onLimit: 'rollback'`. Default true.
   */
  checkParameters?: boolean;
}

/** Periodic validation and early stopping. */
export interface ValidationOptions {
  /** Validate every this many steps. */
  every: number;
  /** Computes validation metrics (may be async; must not keep tensors). */
  evaluate: (ctx: {
    step: number;
    epoch: number;
  }) => Record<string, number> | Promise<Record<string, number>>;
  /** The metric to track as `best`. Default: the first one returned. */
  monitor?: string;
  /** Whether lower ('min', default) or higher ('max') is better. */
  mode?: 'min' | 'max';
  /** Stop after this many validations without improvement. Default: never. */
  patience?: number;
}

/**
 * The means the history (and progress) accumulate over a window of steps. Part of a checkpoint.
 * @internal
 */
export interface Accumulator {
  n: number;
  loss: number;
  metrics: Record<string, number>;
  skipped: number;
}

/** An empty accumulator. @internal */
export function emptyAcc(): Accumulator {
  return { n: 0, loss: 0, metrics: {}, skipped: 0 };
}
