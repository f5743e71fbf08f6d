/**
 * The state of a training run (position, seed stream, history, time) and the handle the
 * callbacks get ({@link TrainerHandle}): what the Trainer's loop advances and checkpoints hold.
 */
import { Rng } from '../rng.js';
import type { tf } from '../tf.js';
import type {
  Callback,
  CallbackEvents,
  Checkpointer,
  LoopState,
  TrainerHandle,
} from './callback.js';
import type { StepOutcome } from './step.js';
import { type Accumulator, emptyAcc, type HistoryEntry, type StopReason } from './types.js';

function now(): number {
  return typeof performance !== 'undefined' ? performance.now() : Date.now();
}

/** What a run is set up with. */
export interface RunSetup {
  params: [string, tf.Variable][];
  buffers: [string, tf.Variable][];
  optimizer: tf.Optimizer;
  callbacks: Callback[];
  checkpointer: Checkpointer | undefined;
  seed: number;
  maxSteps: number | undefined;
  epochs: number | undefined;
  /** Batches per epoch, when known before the first epoch ends (an array's length). */
  stepsPerEpoch: number | undefined;
  /** Record a history row every this many steps. */
  historyEvery: number;
}

/** A run's state; it is the {@link TrainerHandle} the callbacks get (internal to the Trainer). */
export class RunState implements TrainerHandle {
  readonly params: [string, tf.Variable][];
  readonly buffers: [string, tf.Variable][];
  readonly optimizer: tf.Optimizer;
  readonly callbacks: Callback[];
  readonly checkpointer: Checkpointer | undefined;
  readonly epochs: number | undefined;
  readonly maxSteps: number | undefined;
  step = 0;
  epoch = 0;
  batchInEpoch = 0;
  skippedSteps = 0;
  history: HistoryEntry[] = [];
  stopping: StopReason | undefined;
  rng: Rng;
  stepsPerEpoch: number | undefined;
  private seed: number;
  private acc: Accumulator = emptyAcc();
  private readonly historyEvery: number;
  private elapsedBefore = 0;
  private sessionStart = 0;
  private running = false;

  constructor(s: RunSetup) {
    this.params = s.params;
    this.buffers = s.buffers;
    this.optimizer = s.optimizer;
    this.callbacks = s.callbacks;
    this.checkpointer = s.checkpointer;
    this.epochs = s.epochs;
    this.maxSteps = s.maxSteps;
    this.stepsPerEpoch = s.stepsPerEpoch;
    this.historyEvery = s.historyEvery;
    this.seed = s.seed;
    this.rng = new Rng(s.seed);
  }

  /** The seed the data source's per-epoch streams derive from (restored on resume). */
  get dataSeed(): number {
    return this.seed;
  }

  get totalSteps(): number | undefined {
    const { maxSteps, epochs, stepsPerEpoch } = this;
    const byEpochs =
      epochs !== undefined && stepsPerEpoch !== undefined ? epochs * stepsPerEpoch : undefined;
    if (maxSteps !== undefined && byEpochs !== undefined) return Math.min(maxSteps, byEpochs);
    return maxSteps ?? byEpochs;
  }

  /** Starts (true) or ends (false) a session of `fit`: the clock, and stop requests. */
  session(running: boolean): void {
    if (running) {
      this.sessionStart = now();
      this.stopping = undefined;
    } else this.elapsedBefore += now() - this.sessionStart;
    this.running = running;
  }

  elapsedMs(): number {
    return this.elapsedBefore + (this.running ? now() - this.sessionStart : 0);
  }

  say(message: string): void {
    for (const c of this.callbacks) c.onMessage?.(this, message);
  }

  stop(reason: StopReason): void {
    this.stopping ??= reason;
  }

  async emit<K extends keyof CallbackEvents>(hook: K, event: CallbackEvents[K]): Promise<void> {
    for (const c of this.callbacks) {
      const f = c[hook] as
        | ((t: TrainerHandle, e: CallbackEvents[K]) => void | Promise<void>)
        | undefined;
      if (f) await f.call(c, this, event);
    }
  }

  loopState(): LoopState {
    return {
      step: this.step,
      epoch: this.epoch,
      batchInEpoch: this.batchInEpoch,
      seed: this.seed,
      rngState: this.rng.getState(),
      elapsedMs: this.elapsedMs(),
      skippedSteps: this.skippedSteps,
      history: this.history,
      acc: this.acc,
    };
  }

  setLoopState(s: LoopState): void {
    this.step = s.step;
    this.epoch = s.epoch;
    this.batchInEpoch = s.batchInEpoch;
    this.seed = s.seed;
    this.rng = Rng.fromState(s.rngState);
    this.elapsedBefore = s.elapsedMs;
    this.skippedSteps = s.skippedSteps;
    this.history = s.history.map((h) => ({ ...h }));
    this.acc = { ...s.acc, metrics: { ...s.acc.metrics } };
  }

  /** Counts a finished step: position, the history's means, skipped steps; may add a row. */
  async record(o: StepOutcome): Promise<void> {
    this.step++;
    this.batchInEpoch++;
    if (o.applied) {
      const a = this.acc;
      a.n++;
      a.loss += o.loss;
      for (const [k, v] of Object.entries(o.metrics)) a.metrics[k] = (a.metrics[k] ?? 0) + v;
    } else {
      this.skippedSteps++;
      this.acc.skipped++;
    }
    if (this.step % this.historyEvery === 0) await this.flushHistory(false);
  }

  /** Records a history row of the steps since the last one (and tells the callbacks). */
  async flushHistory(final: boolean): Promise<void> {
    const a = this.acc;
    if (a.n === 0 && a.skipped === 0) return;
    if (final && this.history[this.history.length - 1]?.step === this.step) return;
    const n = Math.max(a.n, 1);
    const entry: HistoryEntry = {
      step: this.step,
      epoch: this.epoch,
      elapsedMs: Math.round(this.elapsedMs()),
      loss: a.n > 0 ? a.loss / n : Number.NaN,
      metrics: Object.fromEntries(Object.entries(a.metrics).map(([k, v]) => [k, v / n])),
      steps: a.n,
      skipped: a.skipped,
    };
    this.history.push(entry);
    this.acc = emptyAcc();
    await this.emit('onHistory', entry);
  }
}
