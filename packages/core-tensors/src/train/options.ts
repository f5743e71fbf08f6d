/**
 * The Trainer's options, their validation, and the built-in callbacks they configure.
 */

import type { StatefulPart } from '../contracts.js';
import { ValueError } from '../errors.js';
import { isNode } from '../nn/io.js';
import type { tf } from '../tf.js';
import { checkInt } from '../validate.js';
import type { Callback } from './callback.js';
import { CheckpointCallback } from './callbacks/checkpointing.js';
import { JsonlLogCallback } from './callbacks/jsonl-log.js';
import { LeakCheckCallback } from './callbacks/leak-check.js';
import { NanGuardCallback } from './callbacks/nan-guard.js';
import { PartStateCallback, statefulParts } from './callbacks/part-state.js';
import { ProgressCallback } from './callbacks/progress.js';
import { ValidationCallback } from './callbacks/validation.js';
import { type CheckpointStore, DirectoryCheckpointStore } from './checkpoint.js';
import type { ParallelOptions } from './parallel-options.js';
import type { ProgressInfo, ProgressStream } from './progress.js';
import type {
  CheckpointOptions,
  DataSource,
  NanGuardOptions,
  Objective,
  StepInfo,
  Trainable,
  ValidationOptions,
} from './types.js';

/** Options of {@link Trainer}. */
export interface TrainerOptions<B> {
  /** The parameters to train and checkpoint. */
  model: Trainable;
  /** The objective, or just its `loss` function. */
  objective: Objective<B> | Objective<B>['loss'];
  /**
   * The batches. Batches that own their tensors ({@link TensorBatch}: `@dgm-js/datasets`'
   * `batches(ds, ...)`) are disposed after their step.
   */
  data: DataSource<B>;
  /** A tfjs optimizer, e.g. `tf.train.adam(1e-3)`. */
  optimizer: tf.Optimizer;
  /** Stop after this many steps in total (across resumes). */
  maxSteps?: number;
  /** Stop after this many epochs. At least one of maxSteps and epochs is required. */
  epochs?: number;
  /** Seeds `ctx.rng` and the data source's per-epoch streams. Default 0. */
  seed?: number;
  /** Where and how often to checkpoint. */
  checkpoint?: CheckpointOptions;
  /**
   * Continue from a checkpoint: `true` for the newest one in `checkpoint` (a fresh start if there
   * is none), or the path of a checkpoint directory.
   */
  resume?: boolean | string;
  nanGuard?: NanGuardOptions;
  /**
   * What to do when the number of live tensors grows across steps after the first applied step:
   * 'throw' a MemoryLeakError (default), 'warn' once per growth, or 'off'.
   */
  memoryCheck?: 'throw' | 'warn' | 'off';
  /** No progress output. */
  quiet?: boolean;
  /** Progress output options. */
  progress?: { stream?: ProgressStream; everySteps?: number; everySeconds?: number };
  /** Called after every step (awaited). */
  onStep?: (info: StepInfo) => void | Promise<void>;
  /** Called whenever a progress line is shown (also when quiet). */
  onProgress?: (info: ProgressInfo) => void;
  /** Called after each checkpoint is written. */
  onCheckpoint?: (info: { step: number; location: string; reason: string }) => void;
  /** Record a history row every this many steps (means over the window). Default 1. */
  historyEvery?: number;
  /** Also append history and validation rows to this JSONL file (Node). */
  logFile?: string;
  /** Stops training after the current step; a checkpoint is saved (when configured). */
  signal?: AbortSignal;
  /**
   * In Node, catch SIGINT/SIGTERM while training: finish the step, save a checkpoint, then
   * re-raise the signal so the process exits as it would have. Default true when checkpointing.
   */
  handleSignals?: boolean;
  validation?: ValidationOptions;
  /**
   * Dispose each batch after its step: `true` disposes every tensor in it (for sources that make
   * fresh tensors), `false` none. Default: batches that own their tensors ({@link TensorBatch},
   * e.g. from `@dgm-js/datasets`' `batches`) are disposed unless `data` is an array.
   */
  disposeBatch?: boolean;
  /** Examples in a batch, for examples/s. Default: `size`, or the first axis of the first tensor. */
  batchSize?: (batch: B) => number | undefined;
  /** Free-form JSON stored in every checkpoint. */
  metadata?: Record<string, unknown>;
  /**
   * Opt-in data parallelism over worker threads (Node): each batch is split along axis 0 across
   * the workers (and the main thread), the gradients are combined weighted by rows, and the
   * optimizer step, checkpoints and NaN guard stay on the main thread. The workers start when
   * `fit` starts and are terminated when it returns or throws. See {@link ParallelOptions}.
   */
  parallel?: ParallelOptions;
  /**
   * More {@link Callback}s: their hooks run after the built-in ones (non-finite guard, leak
   * check, `onStep`, checkpointing, validation, JSONL log, progress), and their `saveState`
   * goes into every checkpoint.
   */
  callbacks?: Callback[];
  /**
   * Training state outside the parameters, by key (a gradient estimator used by the objective,
   * when the model does not list it in `trainingState()`): checkpointed with the model, restored
   * on resume and on rollback, checked for NaN/Inf after every step. The parts
   * `model.trainingState()` returns (a VAE's estimator) are added without this.
   */
  state?: Record<string, StatefulPart>;
}

/** Checks the options that do not need the model (types, counts, budget, parallel). */
export function checkTrainerOptions(opts: TrainerOptions<unknown>): void {
  if (!opts.optimizer || typeof opts.optimizer.applyGradients !== 'function') {
    throw new ValueError('Trainer: optimizer must be a tfjs optimizer, e.g. tf.train.adam(1e-3).');
  }
  if (opts.data === undefined || opts.data === null)
    throw new ValueError('Trainer: data is required.');
  if (opts.maxSteps === undefined && opts.epochs === undefined) {
    throw new ValueError('Trainer: give a budget: maxSteps, epochs, or both.');
  }
  const counts: [number | undefined, string, number][] = [
    [opts.maxSteps, 'maxSteps', 0],
    [opts.epochs, 'epochs', 0],
    [opts.checkpoint?.every, 'checkpoint.every', 1],
    [opts.checkpoint?.keep, 'checkpoint.keep', 1],
    [opts.historyEvery, 'historyEvery', 1],
    [opts.nanGuard?.maxConsecutive, 'nanGuard.maxConsecutive', 1],
    [opts.validation?.every, 'validation.every', 1],
  ];
  for (const [v, name, min] of counts) if (v !== undefined) checkInt(v, name, 'Trainer', { min });
  if (opts.parallel !== undefined) {
    const p = opts.parallel;
    if (!p || typeof p !== 'object') {
      throw new ValueError('Trainer: parallel must be { workers, module, ... }.');
    }
    if (p.workers === undefined) throw new ValueError('Trainer: parallel.workers is required.');
    checkInt(p.workers, 'parallel.workers', 'Trainer');
    if (!(p.module instanceof URL) && (typeof p.module !== 'string' || p.module === '')) {
      throw new ValueError(
        "Trainer: parallel.module must be the replica module's URL (new URL('./replica.mjs', import.meta.url)) or path.",
      );
    }
  }
  const seed = opts.seed ?? 0;
  if (!Number.isInteger(seed))
    throw new ValueError(`Trainer: seed must be an integer, got ${seed}.`);
  if (opts.callbacks !== undefined) {
    if (!Array.isArray(opts.callbacks)) {
      throw new ValueError('Trainer: callbacks must be an array of { name, on...() } objects.');
    }
    opts.callbacks.forEach((c, i) => {
      if (!c || typeof c !== 'object' || typeof c.name !== 'string' || c.name === '') {
        throw new ValueError(`Trainer: callbacks[${i}] must be an object with a non-empty name.`);
      }
    });
  }
}

/** The checkpoint store the options ask for (a ValueError when `checkpoint` names none). */
export function checkpointStoreOf(opts: TrainerOptions<unknown>): CheckpointStore | undefined {
  const c = opts.checkpoint;
  if (!c) return undefined;
  if (c.store) return c.store;
  if (c.dir) return new DirectoryCheckpointStore(c.dir);
  throw new ValueError('Trainer: checkpoint needs a dir (Node) or a store.');
}

/** The built-in callbacks, in hook order. */
export interface BuiltinCallbacks {
  list: Callback[];
  checkpointing: CheckpointCallback | undefined;
  validation: ValidationCallback | undefined;
}

/** Builds the built-in callbacks the options configure, then the user's, checking names. */
export function buildCallbacks(
  opts: TrainerOptions<unknown>,
  store: CheckpointStore | undefined,
): BuiltinCallbacks {
  const list: Callback[] = [new NanGuardCallback(opts.nanGuard)];
  const parts = statefulParts(opts.model);
  for (const [k, p] of Object.entries(opts.state ?? {})) {
    if (!parts.some(([, q]) => q === p)) parts.push([k, p]);
  }
  for (const [k, p] of parts) list.push(new PartStateCallback(k, p));
  const memoryCheck = opts.memoryCheck ?? 'throw';
  if (memoryCheck !== 'off') list.push(new LeakCheckCallback(memoryCheck));
  const onStep = opts.onStep;
  if (onStep) {
    list.push({
      name: 'on-step',
      onStepEnd: (t, e) =>
        onStep({
          step: t.step,
          epoch: t.epoch,
          batchIndex: e.batchIndex,
          loss: e.loss,
          metrics: { ...e.metrics },
          skipped: !e.applied,
          badGradients: [...e.badGradients],
          elapsedMs: t.elapsedMs(),
        }),
    });
  }
  let checkpointing: CheckpointCallback | undefined;
  if (store || (opts.resume !== undefined && opts.resume !== false)) {
    checkpointing = new CheckpointCallback({
      store,
      ...opts.checkpoint,
      ...(opts.resume !== undefined ? { resume: opts.resume } : {}),
      ...(opts.metadata ? { metadata: opts.metadata } : {}),
      ...(opts.onCheckpoint ? { onCheckpoint: opts.onCheckpoint } : {}),
    });
    list.push(checkpointing);
  }
  const validation = opts.validation ? new ValidationCallback(opts.validation) : undefined;
  if (validation) list.push(validation);
  if (opts.logFile) list.push(new JsonlLogCallback(opts.logFile));
  list.push(
    new ProgressCallback({
      ...opts.progress,
      ...(opts.quiet ? { quiet: true } : {}),
      ...(opts.onProgress ? { onProgress: opts.onProgress } : {}),
    }),
  );
  list.push(...(opts.callbacks ?? []));
  const seen = new Set<string>();
  for (const c of list) {
    if (seen.has(c.name)) {
      throw new ValueError(
        `Trainer: two callbacks are named '${c.name}'; names key their state in checkpoints, so they must differ.`,
      );
    }
    seen.add(c.name);
  }
  return { list, checkpointing, validation };
}

/** Whether to catch SIGINT/SIGTERM (default: when checkpointing, in Node). */
export function handlesSignals(opts: TrainerOptions<unknown>, checkpointing: boolean): boolean {
  return (opts.handleSignals ?? checkpointing) && isNode();
}
