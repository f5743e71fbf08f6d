/**
 * The Trainer's callback interface. The Trainer itself only runs the loop (batches, steps,
 * history); everything else it does (checkpoints and resume, the non-finite guard, the leak
 * check, validation and early stopping, progress output, the JSONL log) is a {@link Callback},
 * and users can add their own with `TrainerOptions.callbacks`.
 */
import type { Rng } from '../rng.js';
import type { tf } from '../tf.js';
import type { NonFiniteComponent } from './errors.js';
import type { Accumulator, HistoryEntry, StopReason, ValidationEntry } from './types.js';

/** What one step did (the argument of `onStepEnd`). */
export interface StepEndEvent {
  /** Steps completed, this one included. */
  readonly step: number;
  readonly epoch: number;
  /** The batch's index within its epoch. */
  readonly batchIndex: number;
  readonly loss: number;
  readonly metrics: Readonly<Record<string, number>>;
  /** Whether the update was applied (false: a non-finite loss, gradient or metric; skipped). */
  readonly applied: boolean;
  /** Parameters whose gradient had a NaN or Inf entry. */
  readonly badGradients: readonly string[];
  /** Metrics that were NaN or Inf. */
  readonly badMetrics: readonly string[];
  /** Examples in the batch, when known. */
  readonly examples: number | undefined;
}

/** A validation result (the argument of `onValidation`). */
export interface ValidationEvent {
  readonly entry: ValidationEntry;
  /** The monitored metric and whether this result is the best so far. */
  readonly monitor: string | undefined;
  readonly improved: boolean;
}

/** A checkpoint was written (the argument of `onCheckpoint`). */
export interface CheckpointEvent {
  readonly step: number;
  readonly location: string;
  /** 'periodic', 'final', 'aborted', 'best', 'manual', ... */
  readonly reason: string;
}

/** A checkpoint was loaded (the argument of `onRestore`). */
export interface RestoreEvent {
  readonly source: string;
  /** 'resume': everything; 'rollback': model, optimizer and tensor state only. */
  readonly mode: 'resume' | 'rollback';
}

/** The events a callback can send to every callback with {@link TrainerHandle.emit}. */
export interface CallbackEvents {
  onHistory: HistoryEntry;
  onValidation: ValidationEvent;
  onCheckpoint: CheckpointEvent;
  onRestore: RestoreEvent;
}

/** How `fit` ended (the argument of `onFitEnd`). */
export interface FitEndEvent {
  /** Why the loop stopped; undefined when it threw. */
  readonly stopReason: StopReason | undefined;
  /** The error `fit` is about to throw, if any (errors of `onFitEnd` are then ignored). */
  readonly error?: unknown;
}

/**
 * What a callback saves in every checkpoint and gets back on resume: JSON, and tensors (e.g. a
 * control variate's network, an EMA copy). The Trainer writes the tensors into the checkpoint's
 * weights file and checks them for NaN/Inf before writing.
 */
export interface CallbackState {
  json?: unknown;
  tensors?: Record<string, tf.Tensor>;
  /**
   * `saveState` made `tensors` for this checkpoint only: the Trainer disposes them once they are
   * written (or refused). Default false (the tensors are the callback's and are only read).
   */
  owned?: boolean;
}

/** What a callback's {@link Callback.checkFinite} found: its non-finite state, and what to do. */
export interface NonFiniteState {
  /** Which part of the training state it is (e.g. 'estimator state'). */
  component: NonFiniteComponent;
  /** The non-finite tensors, as `<callback name>.<tensor name>`. */
  names: string[];
  /** What the user should change, e.g. "lower relax's own learningRate". */
  hint: string;
}

/** The loop's own state, as a checkpoint holds it. */
export interface LoopState {
  step: number;
  epoch: number;
  batchInEpoch: number;
  seed: number;
  rngState: number;
  elapsedMs: number;
  skippedSteps: number;
  history: HistoryEntry[];
  acc: Accumulator;
}

/** The checkpointing callback's services, for other callbacks (the NaN guard's rollback). */
export interface Checkpointer {
  /** The last checkpoint written or resumed from. */
  readonly lastCheckpoint: string | undefined;
  readonly resumedFrom: string | undefined;
  /** Writes a checkpoint now; returns its location. */
  save(t: TrainerHandle, reason: string, name?: string): Promise<string>;
  /**
   * Restores the model, the optimizer and the callbacks' state (mode 'rollback') from the newest
   * readable checkpoint; returns its location, or undefined when there is none.
   */
  rollback(t: TrainerHandle): Promise<string | undefined>;
}

/** What a callback sees of the run: its state, and a few actions. */
export interface TrainerHandle {
  /** Steps completed (across resumes). */
  readonly step: number;
  /** The current epoch (0-based). */
  readonly epoch: number;
  /** Batches of the current epoch used so far. */
  readonly batchInEpoch: number;
  /** Non-finite steps skipped (across resumes). */
  readonly skippedSteps: number;
  /** The history rows so far. */
  readonly history: readonly HistoryEntry[];
  /** The step budget when known (`maxSteps`, or `epochs` times the batches per epoch). */
  readonly totalSteps: number | undefined;
  /** The epoch budget (`epochs`). */
  readonly epochs: number | undefined;
  /** The named trainable parameters and the buffers, in checkpoint order. */
  readonly params: readonly (readonly [string, tf.Variable])[];
  readonly buffers: readonly (readonly [string, tf.Variable])[];
  readonly optimizer: tf.Optimizer;
  /** Every callback, built-in ones first, in the order their hooks run. */
  readonly callbacks: readonly Callback[];
  /** The checkpointing callback, when checkpoints are configured. */
  readonly checkpointer: Checkpointer | undefined;
  /** Set once the loop was asked to stop (abort, early stopping). */
  readonly stopping: StopReason | undefined;
  /** The seed stream of the steps (split once per step). */
  readonly rng: Rng;
  /** Training time so far, across resumes. */
  elapsedMs(): number;
  /** A message for the user: every callback's `onMessage` gets it (progress prints it). */
  say(message: string): void;
  /** Stops the loop after the current step. */
  stop(reason: StopReason): void;
  /** Sends an event to every callback, in order (awaited). */
  emit<K extends keyof CallbackEvents>(hook: K, event: CallbackEvents[K]): Promise<void>;
  /** The loop's state (for checkpointing callbacks). */
  loopState(): LoopState;
  /** Restores the loop's state (on resume). */
  setLoopState(state: LoopState): void;
}

/**
 * A piece of training behaviour plugged into the Trainer's loop. Every hook is optional and may
 * be async (it is awaited). Hooks run in the order of `TrainerHandle.callbacks`: the built-in
 * ones (non-finite guard, leak check, `onStep`, checkpointing, validation, JSONL log, progress)
 * first, then `TrainerOptions.callbacks`. A callback that keeps state across steps saves it with
 * `saveState` so that a resumed run (and the NaN guard's rollback) gets it back.
 *
 * @example
 * ```ts
 * // Anneal a temperature by step; checkpointed, so a resumed run continues the schedule.
 * let tau = 1;
 * const anneal: Callback = {
 *   name: 'anneal',
 *   onStepEnd: (t) => { tau = Math.max(0.1, Math.exp(-1e-3 * t.step)); },
 *   saveState: () => ({ json: { tau } }),
 *   loadState: (_t, s) => { tau = (s.json as { tau: number }).tau; },
 * };
 * new Trainer({ model, objective, data, optimizer, maxSteps: 1000, callbacks: [anneal] });
 * ```
 */
export interface Callback {
  /** A unique name: its state's key in checkpoints. */
  readonly name: string;
  /** Before the first step of `fit` (resume happens here, in the checkpointing callback). */
  onFitStart?(t: TrainerHandle): void | Promise<void>;
  /** After every step, applied or skipped. */
  onStepEnd?(t: TrainerHandle, e: StepEndEvent): void | Promise<void>;
  /** A history row was recorded. */
  onHistory?(t: TrainerHandle, e: HistoryEntry): void | Promise<void>;
  /** A validation ran. */
  onValidation?(t: TrainerHandle, e: ValidationEvent): void | Promise<void>;
  /** A checkpoint was written. */
  onCheckpoint?(t: TrainerHandle, e: CheckpointEvent): void | Promise<void>;
  /** A checkpoint was loaded (resume or rollback). */
  onRestore?(t: TrainerHandle, e: RestoreEvent): void | Promise<void>;
  /** A message for the user (synchronous). */
  onMessage?(t: TrainerHandle, message: string): void;
  /** When `fit` returns or throws. */
  onFitEnd?(t: TrainerHandle, e: FitEndEvent): void | Promise<void>;
  /** The part of the training state `saveState` holds, for messages. Default 'callback state'. */
  readonly stateComponent?: NonFiniteComponent;
  /**
   * The non-finite guard's probe of this callback's own state, called after every step: its
   * NaN/Inf tensors (undefined or no names when all are finite).
   */
  checkFinite?(t: TrainerHandle): NonFiniteState | undefined;
  /**
   * The state to save with a checkpoint (tensors are read, not kept or disposed, unless the
   * state says `owned: true`).
   */
  saveState?(t: TrainerHandle): CallbackState | undefined | Promise<CallbackState | undefined>;
  /**
   * Restores what `saveState` returned. Its tensors are disposed when this returns: assign or
   * clone them. With mode 'rollback' (the NaN guard) keep bookkeeping that should survive it.
   */
  loadState?(
    t: TrainerHandle,
    state: CallbackState,
    mode: 'resume' | 'rollback',
  ): void | Promise<void>;
}
