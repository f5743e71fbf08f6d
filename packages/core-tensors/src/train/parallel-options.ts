/**
 * The options of the Trainer's data parallelism (`TrainerOptions.parallel`), its error, and the
 * shape of a batch split (shared by the engine and the shard helpers).
 */
import { DgmError } from '../errors.js';

/**
 * Data-parallel training over worker threads (Node only), `TrainerOptions.parallel`.
 *
 * Each worker imports `module` and calls its factory (the default export, or `exportName`) to
 * build a replica: the same model (same parameter names, shapes and dtypes) and the same loss as
 * the Trainer's. The factory's initial values do not matter: before every step the workers copy
 * the main thread's parameters and buffers. Each batch (a tensor, or an array or record of
 * tensors with the same first axis) is split along axis 0 into `workers` shards, plus one for the
 * main thread with `mainShard` (default). Each shard's gradient is weighted by its share of the
 * rows, so for a loss that is a mean over the batch's rows the combined gradient equals the
 * full-batch one up to float rounding (use `reduction: 'sum'` for a sum over rows). Losses and
 * metrics are averaged the same way. The optimizer, checkpoints, NaN guard and resume all stay on
 * the main thread. Buffer updates a worker's loss makes are not gathered back.
 *
 * The workers run the package's `dist/parallel-worker.js` with plain Node, so `module` must be
 * JavaScript Node can import by itself (`.js`/`.mjs`, or a `data:` URL that imports packages by
 * absolute URL): loaders such as tsx, and vitest's transforms, do not carry over to worker
 * threads. Under vitest also pass `execArgv: []` (see below). Speed: the batch must be large
 * enough that each shard's forward and backward pass outweighs copying the parameters and
 * gradients through shared memory (about 3 MB each way per step for an 800k-parameter MLP) and
 * the optimizer step, which stays serial on the main thread; use at most as many compute threads
 * (workers, plus the main thread with `mainShard`) as there are idle cores.
 *
 * @example
 * ```ts
 * // replica.mjs: one place that builds the model and the loss
 * import { mlp, Rng, softplus, tf } from '@dgm-js/core-tensors';
 * export default function replica() {
 *   const net = mlp([784, 512, 784], { rng: new Rng(0) });
 *   const loss = (x) => {
 *     const logits = net.apply(x);
 *     return { loss: tf.mean(tf.sub(softplus(logits), tf.mul(x, logits))) };
 *   };
 *   return { model: net, loss };
 * }
 *
 * // train.mjs
 * import { adam, initBackend, Trainer } from '@dgm-js/core-tensors';
 * import replica from './replica.mjs';
 * await initBackend();
 * const { model, loss } = replica();
 * const trainer = new Trainer({
 *   model, objective: loss, data: batches, optimizer: adam(1e-3), maxSteps: 1000,
 *   parallel: { workers: 1, module: new URL('./replica.mjs', import.meta.url) },
 * });
 * await trainer.fit(); // main thread + 1 worker, each on half of every batch
 * ```
 */
export interface ParallelOptions {
  /** Worker threads (>= 1). With `mainShard`, the batch is split `workers + 1` ways. */
  workers: number;
  /** The module with the replica factory: a URL (`new URL('./m.mjs', import.meta.url)`) or a path. */
  module: URL | string;
  /** The factory's export name. Default 'default'. */
  exportName?: string;
  /** Passed (structured-cloned) to the factory as `ctx.options`. */
  options?: unknown;
  /** The main thread computes a shard too (it then sits idle less). Default true. */
  mainShard?: boolean;
  /** How the loss reduces over rows: 'mean' (default; shards weighted by rows) or 'sum'. */
  reduction?: 'mean' | 'sum';
  /** Give up when the workers are not ready after this long. Default 120000. */
  startupTimeoutMs?: number;
  /**
   * Fail the step (a {@link ParallelWorkerError}; the workers are then terminated) when a worker
   * has not finished it after this long, e.g. a loss that never returns. Default: no limit.
   */
  stepTimeoutMs?: number;
  /**
   * The workers' Node flags. Default: the main thread's (`process.execArgv`). Pass `[]` when the
   * main thread runs under flags the workers must not inherit (vitest adds
   * `--conditions source`, which would make the workers resolve packages to TypeScript sources).
   */
  execArgv?: string[];
}

/** A worker failed: while starting (module, factory, model mismatch) or in a step. */
export class ParallelWorkerError extends DgmError {
  constructor(
    /** 0-based worker index. */
    readonly worker: number,
    /** The worker's error message (with its error name). */
    readonly workerMessage: string,
    /** The worker's stack trace, when it had one. */
    readonly workerStack: string | undefined,
    /** The step that failed (undefined while starting). */
    readonly step: number | undefined,
    workers: number,
  ) {
    super(
      `Trainer: parallel worker ${worker} (of ${workers}) failed ${step === undefined ? 'while starting' : `at step ${step}`}: ${workerMessage}`,
    );
  }
}

/** How one batch is split: shard 0 is the main thread's when it computes one. */
export interface ShardPlan {
  total: number;
  /** Rows of the main thread's shard (0 without mainShard). */
  mainRows: number;
  /** First row and rows of each worker's shard. */
  workerStart: number[];
  workerRows: number[];
}
