/**
 * One training loop for every model family. The Trainer runs the loop (batches, steps, the
 * history) and hands everything else to callbacks (see `callback.ts`): checkpoints and resume,
 * the non-finite guard, the leak check, validation and early stopping, progress, the JSONL log.
 * The model family supplies an `Objective` (`loss(batch, ctx) -> { loss, metrics }`).
 */
import { ShapeError, ValueError } from '../errors.js';
import { Rng } from '../rng.js';
import { batchRows, releaseBatch } from './batch.js';
import type { FitEndEvent, StepEndEvent } from './callback.js';
import type { CheckpointCallback } from './callbacks/checkpointing.js';
import type { ValidationCallback } from './callbacks/validation.js';
import { DirectoryCheckpointStore } from './checkpoint.js';
import {
  buildCallbacks,
  checkpointStoreOf,
  checkTrainerOptions,
  handlesSignals,
  type TrainerOptions,
} from './options.js';
import { ParallelEngine } from './parallel.js';
import { RunState } from './run-state.js';
import { watchStopSignals } from './signals.js';
import { computeParallelStep, computeStep, type StepOutcome, type StepSetup } from './step.js';
import type { Objective, StepContext, StopReason, TrainResult } from './types.js';
import { collectVariables } from './variables.js';

export type { TrainerOptions } from './options.js';
export type {
  AnyModule,
  BestMetric,
  CheckpointOptions,
  DataSource,
  HistoryEntry,
  LossOutput,
  NanGuardOptions,
  Objective,
  StepContext,
  StepInfo,
  StopReason,
  TensorBatch,
  Trainable,
  TrainResult,
  ValidationEntry,
  ValidationOptions,
} from './types.js';
export { collectVariables } from './variables.js';

/** A per-epoch seed stream that depends only on (seed, epoch). */
function epochRng(seed: number, epoch: number): Rng {
  return new Rng((seed >>> 0) + 0x100000000 * (epoch + 1));
}

function now(): number {
  return typeof performance !== 'undefined' ? performance.now() : Date.now();
}

function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => {
    if (typeof setImmediate === 'function') setImmediate(resolve);
    else setTimeout(resolve, 0);
  });
}

/**
 * The training loop. Give it the model's parameters, an objective, batches, a tfjs optimizer
 * and a budget; `fit()` runs until the budget is spent (or early stopping, or an abort) and
 * returns the history.
 *
 * Each step runs in `tf.tidy`: gradients come from `tf.variableGrads`, are checked for NaN/Inf
 * together with the loss (one read-back per step), and only then applied with
 * `optimizer.applyGradients`. Everything around the step is a {@link Callback} (add your own
 * with `callbacks`). Checkpoints hold the model's parameters and buffers, the optimizer's state
 * (`getWeights()`, e.g. Adam's moments), the step, epoch and position in the epoch, the seed
 * stream's state, the history and every callback's state, so a resumed run continues exactly
 * where the interrupted one stopped.
 *
 * @example
 * ```ts
 * import { Trainer, mlp, Rng, tf } from '@dgm-js/core-tensors';
 * const net = mlp([1, 16, 1], { rng: new Rng(0), activation: 'tanh' });
 * const xs = tf.reshape(tf.linspace(-1, 1, 64), [64, 1]);
 * const ys = tf.sin(tf.mul(xs, 3));
 * const trainer = new Trainer({
 *   model: net,
 *   objective: () => ({ loss: tf.mean(tf.square(tf.sub(net.apply(xs), ys))) }),
 *   data: [null],                      // one full batch per epoch
 *   optimizer: tf.train.adam(0.01),
 *   epochs: 500,
 *   checkpoint: { dir: 'runs/sine', every: 100 },
 *   resume: true,                      // continue if runs/sine has a checkpoint
 * });
 * const { history } = await trainer.fit();
 * ```
 */
export class Trainer<B> {
  private readonly opts: TrainerOptions<B>;
  private readonly setup: StepSetup<B>;
  private readonly run: RunState;
  private readonly checkpointing: CheckpointCallback | undefined;
  private readonly validation: ValidationCallback | undefined;
  private readonly probe: Promise<{ e: unknown } | undefined> | undefined;
  private running = false;
  private engine: ParallelEngine | undefined;

  constructor(opts: TrainerOptions<B>) {
    if (!opts || typeof opts !== 'object') throw new ValueError('Trainer: options are required.');
    const { params, buffers } = collectVariables(opts.model);
    let lossFn: Objective<B>['loss'];
    if (typeof opts.objective === 'function') lossFn = opts.objective;
    else if (opts.objective && typeof opts.objective.loss === 'function') {
      const o = opts.objective;
      lossFn = (b, c) => o.loss(b, c);
    } else throw new ValueError('Trainer: objective must be { loss(batch, ctx) } or a function.');
    const o = opts as TrainerOptions<unknown>;
    checkTrainerOptions(o);
    const store = checkpointStoreOf(o);
    const built = buildCallbacks(o, store);
    this.opts = opts;
    this.setup = { lossFn, params, optimizer: opts.optimizer };
    this.checkpointing = built.checkpointing;
    this.validation = built.validation;
    this.run = new RunState({
      params,
      buffers,
      optimizer: opts.optimizer,
      callbacks: built.list,
      checkpointer: built.checkpointing,
      seed: opts.seed ?? 0,
      maxSteps: opts.maxSteps,
      epochs: opts.epochs,
      stepsPerEpoch: Array.isArray(opts.data) ? opts.data.length : undefined,
      historyEvery: opts.historyEvery ?? 1,
    });
    // Finds an unwritable checkpoint directory now (fit throws it before the first step), not
    // at the first checkpoint after the training.
    if (store instanceof DirectoryCheckpointStore) {
      this.probe = store.probeWritable().then(
        () => undefined,
        (e: unknown) => ({ e }),
      );
    }
  }

  /** Steps completed (across resumes). */
  get step(): number {
    return this.run.step;
  }

  /** The current epoch (0-based). */
  get epoch(): number {
    return this.run.epoch;
  }

  /**
   * Runs training until the budget is spent, early stopping triggers, or `signal` aborts
   * (`opts.signal`, else the constructor's; an aborted signal stops before the first step).
   * Calling `fit` again after an abort continues the same run.
   * Throws a {@link NonFiniteError} when the non-finite guard gives up, a
   * {@link MemoryLeakError} when tensors leak across steps (with `memoryCheck: 'throw'`), and a
   * `CheckpointError` when the checkpoint directory cannot be written.
   */
  async fit(opts: { signal?: AbortSignal } = {}): Promise<TrainResult> {
    if (this.running) throw new ValueError('Trainer.fit: this trainer is already running.');
    const probeFailure = await this.probe;
    if (probeFailure) throw probeFailure.e;
    if (this.opts.resume === true && !this.checkpointing?.store) {
      throw new ValueError(
        'Trainer: resume: true needs checkpoint.dir or checkpoint.store to resume from.',
      );
    }
    const run = this.run;
    this.running = true;
    run.session(true);
    const stops = watchStopSignals(
      opts.signal ?? this.opts.signal,
      handlesSignals(this.opts as TrainerOptions<unknown>, !!this.checkpointing?.store),
      (m) => run.say(m),
    );
    let ended = false;
    try {
      for (const c of run.callbacks) await c.onFitStart?.(run);
      if (this.opts.parallel) {
        this.engine = await ParallelEngine.start(this.opts.parallel, run.params, run.buffers);
      }
      const stopReason = await this.loop(stops.signal);
      if (stopReason !== 'aborted') await run.flushHistory(true);
      ended = true;
      await this.fitEnd({ stopReason });
      return {
        step: run.step,
        epoch: run.epoch,
        stopReason,
        history: run.history,
        validation: this.validation?.entries ?? [],
        best: this.validation?.best,
        lastCheckpoint: this.checkpointing?.lastCheckpoint,
        resumedFrom: this.checkpointing?.resumedFrom,
        skippedSteps: run.skippedSteps,
        elapsedMs: run.elapsedMs(),
      };
    } catch (error) {
      if (!ended) await this.fitEnd({ stopReason: undefined, error });
      throw error;
    } finally {
      const engine = this.engine;
      this.engine = undefined;
      await engine?.close();
      run.session(false);
      this.running = false;
      stops.release();
    }
  }

  /** Every callback's onFitEnd; after an error, their own errors are ignored. */
  private async fitEnd(e: FitEndEvent): Promise<void> {
    for (const c of this.run.callbacks) {
      if (!c.onFitEnd) continue;
      if (e.error === undefined) await c.onFitEnd(this.run, e);
      else await Promise.resolve(c.onFitEnd(this.run, e)).catch(() => undefined);
    }
  }

  private openEpoch(epoch: number): Iterator<B> | AsyncIterator<B> {
    const d = this.opts.data;
    const src = typeof d === 'function' ? d(epoch, epochRng(this.run.dataSeed, epoch)) : d;
    const a = (src as AsyncIterable<B>)[Symbol.asyncIterator];
    if (typeof a === 'function') return a.call(src);
    const s = (src as Iterable<B>)[Symbol.iterator];
    if (typeof s === 'function') return s.call(src);
    throw new ValueError(
      'Trainer: data must be an iterable, an async iterable, or a function returning one.',
    );
  }

  private release(batch: B): void {
    releaseBatch(batch, this.opts.disposeBatch, Array.isArray(this.opts.data));
  }

  /** Epochs of batches until the budget is spent or a stop is asked for. */
  private async loop(signal: AbortSignal): Promise<StopReason> {
    const run = this.run;
    const { maxSteps, epochs } = this.opts;
    let lastYield = now();
    for (;;) {
      if (epochs !== undefined && run.epoch >= epochs) return 'epochs';
      if (maxSteps !== undefined && run.step >= maxSteps) return 'max-steps';
      const iter = this.openEpoch(run.epoch);
      let finished = false;
      let got = run.batchInEpoch > 0;
      let stop: StopReason | undefined;
      try {
        // A resumed run skips the batches of this epoch the interrupted run already used.
        for (let i = 0; i < run.batchInEpoch; i++) {
          const r = await iter.next();
          if (r.done) {
            run.say(
              `warning: the data source has fewer batches in epoch ${run.epoch} than the checkpoint had used (${run.batchInEpoch}); starting the next epoch.`,
            );
            finished = true;
            break;
          }
          this.release(r.value);
        }
        while (!finished) {
          if (signal.aborted) {
            stop = 'aborted';
            break;
          }
          if (maxSteps !== undefined && run.step >= maxSteps) {
            stop = 'max-steps';
            break;
          }
          const r = await iter.next();
          if (r.done) {
            finished = true;
            break;
          }
          got = true;
          await this.trainOne(r.value);
          if (run.stopping) {
            stop = run.stopping;
            break;
          }
          if (now() - lastYield > 25) {
            await yieldToEventLoop();
            lastYield = now();
          }
        }
      } finally {
        if (!finished) await iter.return?.();
      }
      if (stop !== undefined) return stop;
      if (!got) {
        if (maxSteps !== undefined && run.step < maxSteps) {
          run.say(
            `warning: the data source yielded no batches in epoch ${run.epoch}; stopping at step ${run.step} of ${maxSteps}. Pass a function (epoch, rng) => iterable to get fresh batches each epoch.`,
          );
        }
        return 'data-exhausted';
      }
      run.stepsPerEpoch ??= run.batchInEpoch;
      run.epoch++;
      run.batchInEpoch = 0;
    }
  }

  /** One step on one batch, its bookkeeping, then every callback's onStepEnd. */
  private async trainOne(batch: B): Promise<void> {
    const run = this.run;
    const examples = this.opts.batchSize ? this.opts.batchSize(batch) : batchRows(batch);
    if (examples === 0) {
      this.release(batch);
      throw new ShapeError(
        `Trainer: batch ${run.batchInEpoch} of epoch ${run.epoch} has 0 rows (step ${run.step + 1}); a loss averaged over no examples is NaN, or on wasm a meaningless tiny number that would be trained on. Drop empty batches from the data source (a last partial batch of size 0, a filter that removed every row); nothing was applied.`,
      );
    }
    const ctx: StepContext = {
      step: run.step,
      epoch: run.epoch,
      batchIndex: run.batchInEpoch,
      rng: run.rng.split(),
    };
    let outcome: StepOutcome;
    try {
      outcome = this.engine
        ? await computeParallelStep(this.setup, batch, ctx, this.engine)
        : computeStep(this.setup, batch, ctx);
    } finally {
      this.release(batch);
    }
    await run.record(outcome);
    const e: StepEndEvent = {
      step: run.step,
      epoch: run.epoch,
      batchIndex: ctx.batchIndex,
      loss: outcome.loss,
      metrics: outcome.metrics,
      applied: outcome.applied,
      badGradients: outcome.badGradients,
      badMetrics: outcome.badMetrics,
      examples,
    };
    for (const c of run.callbacks) await c.onStepEnd?.(run, e);
  }

  /**
   * Writes a checkpoint now (the Trainer also does this every `checkpoint.every` steps, at the
   * end and on abort). Returns its location.
   */
  async saveCheckpoint(reason = 'manual', name?: string): Promise<string> {
    if (!this.checkpointing?.store)
      throw new ValueError('Trainer.saveCheckpoint: no checkpoint dir or store configured.');
    return this.checkpointing.save(this.run, reason, name);
  }
}
