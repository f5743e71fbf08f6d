/**
 * One training loop for every model family. The Trainer runs the loop (batches, steps, the
 * history) and hands everything else to callbacks (see `callback.ts`): checkpoints and resume,
 * the non-finite guard, the leak check, validation and early stopping, progress, the JSONL log.
 * The model family supplies an `Objective` (`loss(batch, ctx) -> { loss, metrics }`).
 */
import { ValueError } from '../errors.js';
import { Rng } from '../rng.js';
import type { tf } from '../tf.js';
import { batchRows, releaseBatch } from './batch.js';
import type {
  Callback,
  CallbackEvents,
  FitEndEvent,
  LoopState,
  StepEndEvent,
  TrainerHandle,
} from './callback.js';
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
import { computeParallelStep, computeStep, type StepOutcome, type StepSetup } from './step.js';
import {
  type Accumulator,
  emptyAcc,
  type HistoryEntry,
  type Objective,
  type StepContext,
  type StopReason,
  type TrainResult,
} from './types.js';
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
  private readonly params: [string, tf.Variable][];
  private readonly buffers: [string, tf.Variable][];
  private readonly callbacks: Callback[];
  private readonly checkpointing: CheckpointCallback | undefined;
  private readonly validation: ValidationCallback | undefined;
  private readonly handle: TrainerHandle;
  private readonly probe: Promise<unknown> | undefined;
  private readonly historyEvery: number;
  private seed: number;
  private rng: Rng;
  private _step = 0;
  private _epoch = 0;
  private batchInEpoch = 0;
  private elapsedBefore = 0;
  private sessionStart = 0;
  private skippedSteps = 0;
  private history: HistoryEntry[] = [];
  private acc: Accumulator = emptyAcc();
  private stepsPerEpoch: number | undefined;
  private running = false;
  private stopping: StopReason | undefined;
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
    this.params = params;
    this.buffers = buffers;
    this.setup = { lossFn, params, optimizer: opts.optimizer };
    this.callbacks = built.list;
    this.checkpointing = built.checkpointing;
    this.validation = built.validation;
    this.seed = opts.seed ?? 0;
    this.rng = new Rng(this.seed);
    this.historyEvery = opts.historyEvery ?? 1;
    if (Array.isArray(opts.data)) this.stepsPerEpoch = opts.data.length;
    this.handle = this.makeHandle();
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
    return this._step;
  }

  /** The current epoch (0-based). */
  get epoch(): number {
    return this._epoch;
  }

  private elapsedMs(): number {
    return this.elapsedBefore + (this.running ? now() - this.sessionStart : 0);
  }

  private makeHandle(): TrainerHandle {
    const self = this;
    return {
      get step() {
        return self._step;
      },
      get epoch() {
        return self._epoch;
      },
      get batchInEpoch() {
        return self.batchInEpoch;
      },
      get skippedSteps() {
        return self.skippedSteps;
      },
      get history() {
        return self.history;
      },
      get totalSteps() {
        return self.budgetSteps();
      },
      get epochs() {
        return self.opts.epochs;
      },
      get stopping() {
        return self.stopping;
      },
      get rng() {
        return self.rng;
      },
      params: this.params,
      buffers: this.buffers,
      optimizer: this.opts.optimizer,
      callbacks: this.callbacks,
      checkpointer: this.checkpointing,
      elapsedMs: () => this.elapsedMs(),
      say: (message) => {
        for (const c of this.callbacks) c.onMessage?.(this.handle, message);
      },
      stop: (reason) => {
        this.stopping ??= reason;
      },
      emit: async <K extends keyof CallbackEvents>(hook: K, event: CallbackEvents[K]) => {
        for (const c of this.callbacks) {
          const f = c[hook] as
            | ((t: TrainerHandle, e: CallbackEvents[K]) => void | Promise<void>)
            | undefined;
          if (f) await f.call(c, this.handle, event);
        }
      },
      loopState: (): LoopState => ({
        step: this._step,
        epoch: this._epoch,
        batchInEpoch: this.batchInEpoch,
        seed: this.seed,
        rngState: this.rng.getState(),
        elapsedMs: this.elapsedMs(),
        skippedSteps: this.skippedSteps,
        history: this.history,
        acc: this.acc,
      }),
      setLoopState: (s) => {
        this._step = s.step;
        this._epoch = s.epoch;
        this.batchInEpoch = s.batchInEpoch;
        this.seed = s.seed;
        this.rng = Rng.fromState(s.rngState);
        this.elapsedBefore = s.elapsedMs;
        this.skippedSteps = s.skippedSteps;
        this.history = s.history.map((h) => ({ ...h }));
        this.acc = { ...s.acc, metrics: { ...s.acc.metrics } };
      },
    };
  }

  /**
   * Runs training until the budget is spent, early stopping triggers, or `signal` aborts
   * (`opts.signal`, else the constructor's; an aborted signal stops before the first step).
   * Calling `fit` again after an abort continues the same run.
   * Throws a {@link NonFiniteError} when the non-finite guard gives up and a
   * {@link MemoryLeakError} when tensors leak across steps (with `memoryCheck: 'throw'`).
   */
  async fit(opts: { signal?: AbortSignal } = {}): Promise<TrainResult> {
    if (this.running) throw new ValueError('Trainer.fit: this trainer is already running.');
    const probeFailure = (await this.probe) as { e: unknown } | undefined;
    if (probeFailure) throw probeFailure.e;
    if (this.opts.resume === true && !this.checkpointing?.store) {
      throw new ValueError(
        'Trainer: resume: true needs checkpoint.dir or checkpoint.store to resume from.',
      );
    }
    this.running = true;
    this.stopping = undefined;
    this.sessionStart = now();
    const internal = new AbortController();
    const userSignal = opts.signal ?? this.opts.signal;
    const onUserAbort = () => internal.abort();
    if (userSignal?.aborted) internal.abort();
    userSignal?.addEventListener('abort', onUserAbort);
    let caught: NodeJS.Signals | undefined;
    const handleSignals = handlesSignals(
      this.opts as TrainerOptions<unknown>,
      !!this.checkpointing?.store,
    );
    const onSignal = (sig: NodeJS.Signals) => {
      if (caught) {
        process.stderr.write(`\n${sig} again: exiting without a checkpoint.\n`);
        process.exit(130);
      }
      caught = sig;
      this.handle.say(
        `${sig}: finishing this step and saving a checkpoint (send it again to exit at once).`,
      );
      internal.abort();
    };
    if (handleSignals) {
      process.on('SIGINT', onSignal);
      process.on('SIGTERM', onSignal);
    }
    let ended = false;
    try {
      for (const c of this.callbacks) await c.onFitStart?.(this.handle);
      if (this.opts.parallel) {
        this.engine = await ParallelEngine.start(this.opts.parallel, this.params, this.buffers);
      }
      const stopReason = await this.loop(internal.signal);
      if (stopReason !== 'aborted') await this.flushHistory(true);
      ended = true;
      await this.fitEnd({ stopReason });
      return {
        step: this._step,
        epoch: this._epoch,
        stopReason,
        history: this.history,
        validation: this.validation?.entries ?? [],
        best: this.validation?.best,
        lastCheckpoint: this.checkpointing?.lastCheckpoint,
        resumedFrom: this.checkpointing?.resumedFrom,
        skippedSteps: this.skippedSteps,
        elapsedMs: this.elapsedMs(),
      };
    } catch (error) {
      if (!ended) await this.fitEnd({ stopReason: undefined, error });
      throw error;
    } finally {
      const engine = this.engine;
      this.engine = undefined;
      await engine?.close();
      this.elapsedBefore += now() - this.sessionStart;
      this.running = false;
      userSignal?.removeEventListener('abort', onUserAbort);
      if (handleSignals) {
        process.off('SIGINT', onSignal);
        process.off('SIGTERM', onSignal);
      }
      if (caught) process.kill(process.pid, caught);
    }
  }

  /** Every callback's onFitEnd; after an error, their own errors are ignored. */
  private async fitEnd(e: FitEndEvent): Promise<void> {
    for (const c of this.callbacks) {
      if (!c.onFitEnd) continue;
      if (e.error === undefined) await c.onFitEnd(this.handle, e);
      else await Promise.resolve(c.onFitEnd(this.handle, e)).catch(() => undefined);
    }
  }

  private openEpoch(epoch: number): Iterator<B> | AsyncIterator<B> {
    const d = this.opts.data;
    const src = typeof d === 'function' ? d(epoch, epochRng(this.seed, epoch)) : d;
    const a = (src as AsyncIterable<B>)[Symbol.asyncIterator];
    if (typeof a === 'function') return a.call(src);
    const s = (src as Iterable<B>)[Symbol.iterator];
    if (typeof s === 'function') return s.call(src);
    throw new ValueError(
      'Trainer: data must be an iterable, an async iterable, or a function returning one.',
    );
  }

  private budgetSteps(): number | undefined {
    const { maxSteps, epochs } = this.opts;
    const byEpochs =
      epochs !== undefined && this.stepsPerEpoch !== undefined
        ? epochs * this.stepsPerEpoch
        : undefined;
    if (maxSteps !== undefined && byEpochs !== undefined) return Math.min(maxSteps, byEpochs);
    return maxSteps ?? byEpochs;
  }

  private release(batch: B): void {
    releaseBatch(batch, this.opts.disposeBatch, Array.isArray(this.opts.data));
  }

  /** Epochs of batches until the budget is spent or a stop is asked for. */
  private async loop(signal: AbortSignal): Promise<StopReason> {
    const { maxSteps, epochs } = this.opts;
    let lastYield = now();
    for (;;) {
      if (epochs !== undefined && this._epoch >= epochs) return 'epochs';
      if (maxSteps !== undefined && this._step >= maxSteps) return 'max-steps';
      const iter = this.openEpoch(this._epoch);
      let finished = false;
      let got = this.batchInEpoch > 0;
      let stop: StopReason | undefined;
      try {
        // A resumed run skips the batches of this epoch the interrupted run already used.
        for (let i = 0; i < this.batchInEpoch; i++) {
          const r = await iter.next();
          if (r.done) {
            this.handle.say(
              `warning: the data source has fewer batches in epoch ${this._epoch} than the checkpoint had used (${this.batchInEpoch}); starting the next epoch.`,
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
          if (maxSteps !== undefined && this._step >= maxSteps) {
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
          if (this.stopping) {
            stop = this.stopping;
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
        if (maxSteps !== undefined && this._step < maxSteps) {
          this.handle.say(
            `warning: the data source yielded no batches in epoch ${this._epoch}; stopping at step ${this._step} of ${maxSteps}. Pass a function (epoch, rng) => iterable to get fresh batches each epoch.`,
          );
        }
        return 'data-exhausted';
      }
      if (this.stepsPerEpoch === undefined) this.stepsPerEpoch = this.batchInEpoch;
      this._epoch++;
      this.batchInEpoch = 0;
    }
  }

  /** One step on one batch, its bookkeeping, then every callback's onStepEnd. */
  private async trainOne(batch: B): Promise<void> {
    const examples = this.opts.batchSize ? this.opts.batchSize(batch) : batchRows(batch);
    const ctx: StepContext = {
      step: this._step,
      epoch: this._epoch,
      batchIndex: this.batchInEpoch,
      rng: this.rng.split(),
    };
    let outcome: StepOutcome;
    try {
      outcome = this.engine
        ? await computeParallelStep(this.setup, batch, ctx, this.engine)
        : computeStep(this.setup, batch, ctx);
    } finally {
      this.release(batch);
    }
    this._step++;
    this.batchInEpoch++;
    if (outcome.applied) {
      const a = this.acc;
      a.n++;
      a.loss += outcome.loss;
      for (const [k, v] of Object.entries(outcome.metrics)) a.metrics[k] = (a.metrics[k] ?? 0) + v;
    } else {
      this.skippedSteps++;
      this.acc.skipped++;
    }
    if (this._step % this.historyEvery === 0) await this.flushHistory(false);
    const e: StepEndEvent = {
      step: this._step,
      epoch: this._epoch,
      batchIndex: this.batchInEpoch - 1,
      loss: outcome.loss,
      metrics: outcome.metrics,
      applied: outcome.applied,
      badGradients: outcome.badGradients,
      badMetrics: outcome.badMetrics,
      examples,
    };
    for (const c of this.callbacks) await c.onStepEnd?.(this.handle, e);
  }

  /** Records a history row of the steps since the last one (and tells the callbacks). */
  private async flushHistory(final: boolean): Promise<void> {
    const a = this.acc;
    if (a.n === 0 && a.skipped === 0) return;
    if (final && this.history[this.history.length - 1]?.step === this._step) return;
    const n = Math.max(a.n, 1);
    const entry: HistoryEntry = {
      step: this._step,
      epoch: this._epoch,
      elapsedMs: Math.round(this.elapsedMs()),
      loss: a.n > 0 ? a.loss / n : Number.NaN,
      metrics: Object.fromEntries(Object.entries(a.metrics).map(([k, v]) => [k, v / n])),
      steps: a.n,
      skipped: a.skipped,
    };
    this.history.push(entry);
    this.acc = emptyAcc();
    await this.handle.emit('onHistory', entry);
  }

  /**
   * Writes a checkpoint now (the Trainer also does this every `checkpoint.every` steps, at the
   * end and on abort). Returns its location.
   */
  async saveCheckpoint(reason = 'manual', name?: string): Promise<string> {
    if (!this.checkpointing?.store)
      throw new ValueError('Trainer.saveCheckpoint: no checkpoint dir or store configured.');
    return this.checkpointing.save(this.handle, reason, name);
  }
}
