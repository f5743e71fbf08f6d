/**
 * One training loop for every model family. The Trainer owns the loop, progress output,
 * checkpoints and resume, the non-finite guard, memory checks and the metrics history; the model
 * family supplies an `Objective` (`loss(batch, ctx) -> { loss, metrics }`).
 */
import { fmtShape, ShapeError, ValueError } from '../errors.js';
import { isNode } from '../nn/io.js';
import {
  Module,
  type NamedTensors,
  StateMismatchError,
  type StateShapeMismatch,
} from '../nn/module.js';
import {
  CheckpointError,
  decodeState,
  encodeState,
  MANIFEST_FILE,
  parseManifest,
} from '../nn/serialize.js';
import { Rng } from '../rng.js';
import { tf } from '../tf.js';
import {
  type CheckpointStore,
  checkpointName,
  DirectoryCheckpointStore,
  listCheckpoints,
  readCheckpointDir,
} from './checkpoint.js';
import { MemoryLeakError, NonFiniteError } from './errors.js';
import { JsonlLog } from './log.js';
import { ParallelEngine, type ParallelOptions, type ShardInfo } from './parallel.js';
import { flatData, hasNonFinite } from './parallel-protocol.js';
import { fmtNum, type ProgressInfo, ProgressReporter, type ProgressStream } from './progress.js';

/** Any module, whatever its input and output types. */
export type AnyModule = Module<never, unknown>;

/**
 * What the Trainer trains and checkpoints: a module, a record of modules and variables (names
 * are prefixed by the key: `{ gen, disc }` gives `gen.0.kernel`, ...), or an array of variables.
 */
export type Trainable = AnyModule | tf.Variable[] | Record<string, AnyModule | tf.Variable>;

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
 * a resumed run see exactly the batches the interrupted one would have.
 */
export type DataSource<B> =
  | Iterable<B>
  | AsyncIterable<B>
  | ((epoch: number, rng: Rng) => Iterable<B> | AsyncIterable<B>);

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

/** Options of {@link Trainer}. */
export interface TrainerOptions<B> {
  /** The parameters to train and checkpoint. */
  model: Trainable;
  /** The objective, or just its `loss` function. */
  objective: Objective<B> | Objective<B>['loss'];
  /** The batches. */
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
  /** Dispose every tensor in each batch after its step (for sources that make fresh tensors). */
  disposeBatch?: boolean;
  /** Examples in a batch, for examples/s. Default: the first axis of the first tensor found. */
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
}

interface Accumulator {
  n: number;
  loss: number;
  metrics: Record<string, number>;
  skipped: number;
}

/** What a checkpoint's manifest metadata holds. */
interface CheckpointMeta {
  kind: 'dgmjs-trainer-checkpoint';
  version: 1;
  step: number;
  epoch: number;
  batchInEpoch: number;
  seed: number;
  rngState: number;
  elapsedMs: number;
  skippedSteps: number;
  history: HistoryEntry[];
  validation: ValidationEntry[];
  best: BestMetric | null;
  sinceBest: number;
  acc: Accumulator;
  optimizer: {
    className: string;
    saved: boolean;
    count: number;
    names: string[];
    extras: string[];
  };
  reason: string;
  savedAt: string;
  metadata: Record<string, unknown>;
}

interface StepOutcome {
  loss: number;
  metrics: Record<string, number>;
  badGradients: string[];
  badMetrics: string[];
  applied: boolean;
}

/** tfjs's optimizer weight entry. */
interface NamedTensor {
  name: string;
  tensor: tf.Tensor;
}

const OPTIMIZER_EXTRAS = ['accBeta1', 'accBeta2'] as const;

/** The scalar variables an optimizer keeps outside getWeights (Adam's accBeta1/accBeta2). */
function optimizerExtras(opt: tf.Optimizer): [string, tf.Variable][] {
  const out: [string, tf.Variable][] = [];
  for (const k of OPTIMIZER_EXTRAS) {
    const v = (opt as unknown as Record<string, unknown>)[k];
    if (v instanceof tf.Variable) out.push([k, v]);
  }
  return out;
}

function emptyAcc(): Accumulator {
  return { n: 0, loss: 0, metrics: {}, skipped: 0 };
}

/** The named parameters and buffers of a Trainable, in the Trainer's (checkpoint) order. */
export function collectVariables(model: Trainable): {
  params: [string, tf.Variable][];
  buffers: [string, tf.Variable][];
} {
  const params: [string, tf.Variable][] = [];
  const buffers: [string, tf.Variable][] = [];
  const addVar = (name: string, v: unknown) => {
    if (!(v instanceof tf.Variable)) {
      throw new ValueError(
        `Trainer: model entry '${name}' is neither a Module nor a tf.Variable; wrap tensors with tf.variable(...).`,
      );
    }
    params.push([name, v]);
  };
  if (model instanceof Module) {
    params.push(...model.namedParameters());
    buffers.push(...model.namedBuffers());
  } else if (Array.isArray(model)) {
    model.forEach((v, i) => {
      addVar(String(i), v);
    });
  } else if (model && typeof model === 'object') {
    for (const [k, m] of Object.entries(model)) {
      if (m instanceof Module) {
        params.push(
          ...m.namedParameters().map(([n, v]): [string, tf.Variable] => [`${k}.${n}`, v]),
        );
        buffers.push(...m.namedBuffers().map(([n, v]): [string, tf.Variable] => [`${k}.${n}`, v]));
      } else addVar(k, m);
    }
  } else {
    throw new ValueError(
      'Trainer: model must be a Module, an array of tf.Variables or a record of them.',
    );
  }
  const seen = new Set<tf.Variable>();
  for (const [n, v] of [...params, ...buffers]) {
    if (seen.has(v)) throw new ValueError(`Trainer: variable '${n}' appears twice in model.`);
    seen.add(v);
  }
  if (params.length === 0) throw new ValueError('Trainer: model has no parameters.');
  return { params, buffers };
}

function autoBatchSize(b: unknown): number | undefined {
  const first = (t: unknown) => (t instanceof tf.Tensor && t.rank > 0 ? t.shape[0] : undefined);
  if (b instanceof tf.Tensor) return first(b);
  const vals = Array.isArray(b) ? b : b && typeof b === 'object' ? Object.values(b) : [];
  for (const v of vals) {
    const n = first(v);
    if (n !== undefined) return n;
  }
  return undefined;
}

function disposeTensors(x: unknown): void {
  if (x instanceof tf.Tensor) x.dispose();
  else if (Array.isArray(x)) x.forEach(disposeTensors);
  else if (x && typeof x === 'object') Object.values(x).forEach(disposeTensors);
}

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

function checkCount(v: number | undefined, what: string, min: number): void {
  if (v !== undefined && (!Number.isInteger(v) || v < min)) {
    throw new ValueError(`Trainer: ${what} must be an integer >= ${min}, got ${v}.`);
  }
}

function listNames(names: string[], max = 8): string {
  return names.length <= max
    ? names.join(', ')
    : `${names.slice(0, max).join(', ')} and ${names.length - max} more`;
}

/**
 * The training loop. Give it the model's parameters, an objective, batches, a tfjs optimizer
 * and a budget; `fit()` runs until the budget is spent (or early stopping, or an abort) and
 * returns the history.
 *
 * Each step runs in `tf.tidy`: gradients come from `tf.variableGrads`, are checked for NaN/Inf
 * together with the loss (one read-back per step), and only then applied with
 * `optimizer.applyGradients`. Checkpoints hold the model's parameters and buffers, the
 * optimizer's state (`getWeights()`, e.g. Adam's moments), the step, epoch and position in the
 * epoch, the seed stream's state, the history and the best metric, so a resumed run continues
 * exactly where the interrupted one stopped.
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
  private readonly lossFn: Objective<B>['loss'];
  private readonly params: [string, tf.Variable][];
  private readonly buffers: [string, tf.Variable][];
  private readonly optimizer: tf.Optimizer;
  private readonly store: CheckpointStore | undefined;
  private readonly historyEvery: number;
  private readonly maxConsecutive: number;
  private readonly keep: number;
  private seed: number;
  private rng: Rng;
  private _step = 0;
  private _epoch = 0;
  private batchInEpoch = 0;
  private elapsedBefore = 0;
  private sessionStart = 0;
  private skippedSteps = 0;
  private consecutiveBad = 0;
  private rollbacks = 0;
  private history: HistoryEntry[] = [];
  private validation: ValidationEntry[] = [];
  private best: BestMetric | undefined;
  private sinceBest = 0;
  private acc: Accumulator = emptyAcc();
  private progressAcc: Accumulator = emptyAcc();
  private lastCheckpoint: string | undefined;
  private lastSavedStep = -1;
  private resumedFrom: string | undefined;
  private running = false;
  private reporter: ProgressReporter | undefined;
  private log: JsonlLog | undefined;
  private stepsPerEpoch: number | undefined;
  private warnedOptimizer = false;
  private prepared = false;
  private engine: ParallelEngine | undefined;

  constructor(opts: TrainerOptions<B>) {
    if (!opts || typeof opts !== 'object') throw new ValueError('Trainer: options are required.');
    const { params, buffers } = collectVariables(opts.model);
    this.params = params;
    this.buffers = buffers;
    if (typeof opts.objective === 'function') this.lossFn = opts.objective;
    else if (opts.objective && typeof opts.objective.loss === 'function') {
      const o = opts.objective;
      this.lossFn = (b, c) => o.loss(b, c);
    } else throw new ValueError('Trainer: objective must be { loss(batch, ctx) } or a function.');
    if (!opts.optimizer || typeof opts.optimizer.applyGradients !== 'function') {
      throw new ValueError(
        'Trainer: optimizer must be a tfjs optimizer, e.g. tf.train.adam(1e-3).',
      );
    }
    if (opts.data === undefined || opts.data === null)
      throw new ValueError('Trainer: data is required.');
    if (opts.maxSteps === undefined && opts.epochs === undefined) {
      throw new ValueError('Trainer: give a budget: maxSteps, epochs, or both.');
    }
    checkCount(opts.maxSteps, 'maxSteps', 0);
    checkCount(opts.epochs, 'epochs', 0);
    checkCount(opts.checkpoint?.every, 'checkpoint.every', 1);
    checkCount(opts.checkpoint?.keep, 'checkpoint.keep', 1);
    checkCount(opts.historyEvery, 'historyEvery', 1);
    checkCount(opts.nanGuard?.maxConsecutive, 'nanGuard.maxConsecutive', 1);
    checkCount(opts.validation?.every, 'validation.every', 1);
    if (opts.parallel !== undefined) {
      const p = opts.parallel;
      if (!p || typeof p !== 'object') {
        throw new ValueError('Trainer: parallel must be { workers, module, ... }.');
      }
      if (p.workers === undefined) throw new ValueError('Trainer: parallel.workers is required.');
      checkCount(p.workers, 'parallel.workers', 1);
      if (!(p.module instanceof URL) && (typeof p.module !== 'string' || p.module === '')) {
        throw new ValueError(
          "Trainer: parallel.module must be the replica module's URL (new URL('./replica.mjs', import.meta.url)) or path.",
        );
      }
    }
    const seed = opts.seed ?? 0;
    if (!Number.isInteger(seed))
      throw new ValueError(`Trainer: seed must be an integer, got ${seed}.`);
    this.opts = opts;
    this.optimizer = opts.optimizer;
    this.seed = seed;
    this.rng = new Rng(seed);
    this.historyEvery = opts.historyEvery ?? 1;
    this.maxConsecutive = opts.nanGuard?.maxConsecutive ?? 3;
    this.keep = opts.checkpoint?.keep ?? 3;
    if (opts.checkpoint?.store) this.store = opts.checkpoint.store;
    else if (opts.checkpoint?.dir) this.store = new DirectoryCheckpointStore(opts.checkpoint.dir);
    if (opts.checkpoint && !this.store) {
      throw new ValueError('Trainer: checkpoint needs a dir (Node) or a store.');
    }
    if (Array.isArray(opts.data)) this.stepsPerEpoch = opts.data.length;
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

  private say(message: string): void {
    if (!this.opts.quiet) this.reporter?.log(message);
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
    this.running = true;
    this.sessionStart = now();
    this.reporter = new ProgressReporter(this.opts.progress ?? {});
    const internal = new AbortController();
    const userSignal = opts.signal ?? this.opts.signal;
    const onUserAbort = () => internal.abort();
    if (userSignal?.aborted) internal.abort();
    userSignal?.addEventListener('abort', onUserAbort);
    let caught: NodeJS.Signals | undefined;
    const handleSignals = (this.opts.handleSignals ?? this.store !== undefined) && isNode();
    const onSignal = (sig: NodeJS.Signals) => {
      if (caught) {
        process.stderr.write(`\n${sig} again: exiting without a checkpoint.\n`);
        process.exit(130);
      }
      caught = sig;
      this.say(
        `${sig}: finishing this step and saving a checkpoint (send it again to exit at once).`,
      );
      internal.abort();
    };
    if (handleSignals) {
      process.on('SIGINT', onSignal);
      process.on('SIGTERM', onSignal);
    }
    try {
      await this.prepare();
      if (this.opts.parallel) {
        this.engine = await ParallelEngine.start(this.opts.parallel, this.params, this.buffers);
      }
      return await this.loop(internal.signal);
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
      await this.log?.flush().catch(() => undefined);
      if (caught) process.kill(process.pid, caught);
    }
  }

  private async prepare(): Promise<void> {
    // A second fit() on the same trainer (after an abort) continues from the trainer's own
    // state: nothing to restore, and its own checkpoints are not another run's.
    if (this.prepared) return;
    const { resume } = this.opts;
    if (this.store instanceof DirectoryCheckpointStore) await this.store.recover();
    if (typeof resume === 'string') {
      await this.restore(await readCheckpointDir(resume), resume, 'resume');
      this.resumedFrom = resume;
      this.lastCheckpoint = resume;
    } else if (resume === true) {
      if (!this.store) {
        throw new ValueError(
          'Trainer: resume: true needs checkpoint.dir or checkpoint.store to resume from.',
        );
      }
      const all = await listCheckpoints(this.store);
      for (let i = all.length - 1; i >= 0 && !this.resumedFrom; i--) {
        const loc = this.store.locate(all[i]!.name);
        try {
          await this.restore(await this.store.read(all[i]!.name), loc, 'resume');
          this.resumedFrom = loc;
          this.lastCheckpoint = loc;
          this.lastSavedStep = this._step;
        } catch (e) {
          if (!(e instanceof CheckpointError)) throw e;
          this.say(
            `warning: cannot resume from ${loc} (${e.message}); trying the previous checkpoint.`,
          );
        }
      }
      if (this.resumedFrom) this.say(`resumed from ${this.resumedFrom} at step ${this._step}`);
      else if (all.length > 0) {
        throw new CheckpointError(
          `Trainer: none of the ${all.length} checkpoints in ${this.store.location} could be read (see the warnings above).`,
          this.store.location,
        );
      }
    } else if (this.store) {
      const existing = await listCheckpoints(this.store);
      if (existing.length > 0) {
        throw new ValueError(
          `Trainer: ${this.store.location} already holds checkpoints (${listNames(
            existing.map((c) => c.name),
            3,
          )}). Pass resume: true to continue that run, or use another directory; nothing was overwritten.`,
        );
      }
    }
    if (this.opts.logFile) {
      this.log = new JsonlLog(this.opts.logFile);
      await this.log.open(this.resumedFrom ? this._step : undefined);
    }
    this.prepared = true;
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

  private async loop(signal: AbortSignal): Promise<TrainResult> {
    const { maxSteps, epochs } = this.opts;
    const memoryCheck = this.opts.memoryCheck ?? 'throw';
    const sessionStartStep = this._step;
    let examples = 0;
    let examplesKnown = true;
    let baseline: number | undefined;
    let baselineStep = 0;
    let lastYield = now();
    let stopReason: StopReason | undefined;

    while (stopReason === undefined) {
      if (epochs !== undefined && this._epoch >= epochs) {
        stopReason = 'epochs';
        break;
      }
      if (maxSteps !== undefined && this._step >= maxSteps) {
        stopReason = 'max-steps';
        break;
      }
      const iter = this.openEpoch(this._epoch);
      let finished = false;
      let got = this.batchInEpoch > 0;
      try {
        // A resumed run skips the batches of this epoch the interrupted run already used.
        for (let i = 0; i < this.batchInEpoch; i++) {
          const r = await iter.next();
          if (r.done) {
            this.say(
              `warning: the data source has fewer batches in epoch ${this._epoch} than the checkpoint had used (${this.batchInEpoch}); starting the next epoch.`,
            );
            finished = true;
            break;
          }
          if (this.opts.disposeBatch) disposeTensors(r.value);
        }
        while (!finished) {
          if (signal.aborted) {
            stopReason = 'aborted';
            break;
          }
          if (maxSteps !== undefined && this._step >= maxSteps) {
            stopReason = 'max-steps';
            break;
          }
          const r = await iter.next();
          if (r.done) {
            finished = true;
            break;
          }
          got = true;
          const batch = r.value;
          const n = this.opts.batchSize ? this.opts.batchSize(batch) : autoBatchSize(batch);
          if (n === undefined) examplesKnown = false;
          else examples += n;
          const outcome = await this.trainOne(batch);
          if (!outcome.applied && this.consecutiveBad >= this.maxConsecutive) {
            // throws, or rolls back parameters and optimizer state to the last checkpoint
            if (await this.onNonFiniteLimit(outcome)) baseline = undefined;
          }

          // Memory discipline: after the first applied step (optimizer slots now exist) the
          // number of live tensors must stay put.
          if (memoryCheck !== 'off') {
            const live = tf.memory().numTensors;
            if (baseline === undefined) {
              if (outcome.applied) {
                baseline = live;
                baselineStep = this._step;
              }
            } else if (live > baseline) {
              const grew = live - baseline;
              const msg = `Trainer: ${grew} tensor(s) leaked between step ${baselineStep} and step ${this._step} (tf.memory().numTensors ${baseline} -> ${live}). Something keeps tensors across steps: a data source that makes a fresh tensor per batch (set disposeBatch: true), tensors kept in onStep/validation callbacks, or tf.keep in the objective. Set memoryCheck: 'warn' or 'off' to go on anyway.`;
              if (memoryCheck === 'throw') throw new MemoryLeakError(msg, grew, this._step);
              this.say(`warning: ${msg}`);
              baseline = live;
              baselineStep = this._step;
            }
          }

          if (this.opts.onStep) {
            await this.opts.onStep({
              step: this._step,
              epoch: this._epoch,
              batchIndex: this.batchInEpoch - 1,
              loss: outcome.loss,
              metrics: outcome.metrics,
              skipped: !outcome.applied,
              badGradients: outcome.badGradients,
              elapsedMs: this.elapsedMs(),
            });
          }

          const every = this.opts.checkpoint?.every;
          if (this.store && every !== undefined && this._step % every === 0) {
            await this.saveCheckpoint('periodic');
          }

          const v = this.opts.validation;
          if (v && this._step % v.every === 0 && (await this.validate(v))) {
            stopReason = 'early-stopped';
            break;
          }

          if (this.reporter?.due(this._step)) {
            this.showProgress(sessionStartStep, examplesKnown ? examples : undefined);
            await this.log?.flush();
          }
          if (now() - lastYield > 25) {
            await yieldToEventLoop();
            lastYield = now();
          }
        }
      } finally {
        if (!finished) await iter.return?.();
      }
      if (stopReason !== undefined) break;
      if (!got) {
        stopReason = 'data-exhausted';
        if (maxSteps !== undefined && this._step < maxSteps) {
          this.say(
            `warning: the data source yielded no batches in epoch ${this._epoch}; stopping at step ${this._step} of ${maxSteps}. Pass a function (epoch, rng) => iterable to get fresh batches each epoch.`,
          );
        }
        break;
      }
      if (this.stepsPerEpoch === undefined) this.stepsPerEpoch = this.batchInEpoch;
      this._epoch++;
      this.batchInEpoch = 0;
    }

    if (stopReason !== 'aborted') this.flushHistory(true);
    if (this.store && this.lastSavedStep !== this._step) {
      await this.saveCheckpoint(stopReason === 'aborted' ? 'aborted' : 'final');
    }
    this.showProgress(sessionStartStep, examplesKnown ? examples : undefined, true);
    return {
      step: this._step,
      epoch: this._epoch,
      stopReason,
      history: this.history,
      validation: this.validation,
      best: this.best,
      lastCheckpoint: this.lastCheckpoint,
      resumedFrom: this.resumedFrom,
      skippedSteps: this.skippedSteps,
      elapsedMs: this.elapsedMs(),
    };
  }

  private showProgress(
    sessionStartStep: number,
    examples: number | undefined,
    final = false,
  ): void {
    const sec = Math.max((now() - this.sessionStart) / 1000, 1e-9);
    const steps = this._step - sessionStartStep;
    const total = this.budgetSteps();
    const sps = steps / sec;
    const a = this.progressAcc;
    const n = Math.max(a.n, 1);
    const info: ProgressInfo = {
      step: this._step,
      totalSteps: total,
      epoch: this._epoch,
      epochs: this.opts.epochs,
      loss: a.n > 0 ? a.loss / n : Number.NaN,
      metrics: Object.fromEntries(Object.entries(a.metrics).map(([k, v]) => [k, v / n])),
      stepsPerSec: sps,
      examplesPerSec: examples !== undefined && steps > 0 ? examples / sec : undefined,
      etaSec: total !== undefined && sps > 0 ? Math.max(total - this._step, 0) / sps : undefined,
      skipped: this.skippedSteps,
    };
    if (a.n > 0 || final) this.progressAcc = emptyAcc();
    this.opts.onProgress?.(info);
    if (this.opts.quiet || !this.reporter) return;
    if (final) this.reporter.finish(info);
    else this.reporter.update(info);
  }

  private async trainOne(batch: B): Promise<StepOutcome> {
    const ctx: StepContext = {
      step: this._step,
      epoch: this._epoch,
      batchIndex: this.batchInEpoch,
      rng: this.rng.split(),
    };
    let outcome: StepOutcome;
    try {
      outcome = this.engine
        ? await this.computeParallelStep(batch, ctx, this.engine)
        : this.computeStep(batch, ctx);
    } finally {
      if (this.opts.disposeBatch) disposeTensors(batch);
    }
    this._step++;
    this.batchInEpoch++;
    if (outcome.applied) {
      this.consecutiveBad = 0;
      for (const a of [this.acc, this.progressAcc]) {
        a.n++;
        a.loss += outcome.loss;
        for (const [k, v] of Object.entries(outcome.metrics))
          a.metrics[k] = (a.metrics[k] ?? 0) + v;
      }
    } else {
      this.consecutiveBad++;
      this.skippedSteps++;
      this.acc.skipped++;
      this.say(
        `step ${this._step}: ${this.describeBad(outcome)}; step skipped (${this.consecutiveBad} consecutive, limit ${this.maxConsecutive}).`,
      );
    }
    if (this._step % this.historyEvery === 0) this.flushHistory(false);
    return outcome;
  }

  private describeBad(o: StepOutcome): string {
    const parts: string[] = [];
    if (!Number.isFinite(o.loss)) parts.push(`loss is ${o.loss}`);
    if (o.badGradients.length) parts.push(`non-finite gradient of ${listNames(o.badGradients)}`);
    if (o.badMetrics.length) parts.push(`non-finite metric ${listNames(o.badMetrics)}`);
    return parts.join('; ');
  }

  private flushHistory(final: boolean): void {
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
    this.log?.push({ type: 'train', ...entry });
    this.acc = emptyAcc();
  }

  /** Calls the objective and validates what it returns (inside the gradient tape). */
  private runObjective(
    batch: B,
    ctx: StepContext,
    numberMetrics: Record<string, number>,
    tensorMetricNames: string[],
    setPacked: (t: tf.Tensor) => void,
  ): tf.Scalar {
    const r = this.lossFn(batch, ctx);
    if (!r || !(r.loss instanceof tf.Tensor)) {
      throw new ValueError(
        'Trainer: the objective must return { loss: tf.Scalar, metrics? }; got something else.',
      );
    }
    if (r.loss.size !== 1) {
      throw new ShapeError(
        `Trainer: the objective's loss must be a scalar, got shape ${fmtShape(r.loss.shape)}; reduce it (e.g. tf.mean) first.`,
      );
    }
    const ts: tf.Tensor[] = [];
    for (const [k, v] of Object.entries(r.metrics ?? {})) {
      if (typeof v === 'number') numberMetrics[k] = v;
      else if (v instanceof tf.Tensor && v.size === 1) {
        tensorMetricNames.push(k);
        ts.push(tf.cast(tf.reshape(v, []), 'float32'));
      } else {
        throw new ValueError(
          `Trainer: metric '${k}' must be a number or a one-element tensor, got ${v instanceof tf.Tensor ? `shape ${fmtShape(v.shape)}` : typeof v}.`,
        );
      }
    }
    if (ts.length) setPacked(tf.keep(tf.stack(ts)));
    return (r.loss.rank === 0 ? r.loss : tf.reshape(r.loss, [])) as tf.Scalar;
  }

  /** One step: forward + backward under the tape, the finiteness probe, then apply. */
  private computeStep(batch: B, ctx: StepContext): StepOutcome {
    const trainable = this.params.filter(([, v]) => v.trainable);
    if (trainable.length === 0) {
      throw new ValueError(
        'Trainer: no trainable parameters (all are frozen); unfreeze some with setTrainable(true).',
      );
    }
    const numberMetrics: Record<string, number> = {};
    const tensorMetricNames: string[] = [];
    let packed: tf.Tensor | undefined;
    try {
      return tf.tidy(() => {
        const { value, grads } = this.tapeGradients(
          batch,
          ctx,
          trainable,
          numberMetrics,
          tensorMetricNames,
          (t) => {
            packed = t;
          },
        );
        const probes: tf.Tensor[] = [tf.reshape(tf.cast(value, 'float32'), [1])];
        if (packed) probes.push(packed);
        // On wasm and cpu the gradients' finiteness is checked in JS over their data (a view of
        // the heap, no copy): ~4x cheaper than two tfjs passes per gradient. Elsewhere (tfjs-node)
        // 0 * g summed on the device is 0 when every entry is finite and NaN otherwise.
        const jsProbe = tf.getBackend() === 'wasm' || tf.getBackend() === 'cpu';
        const gradNames: string[] = [];
        const gradTensors: tf.Tensor[] = [];
        for (const [n, v] of trainable) {
          const g = grads[v.name];
          if (!g) continue;
          gradNames.push(n);
          gradTensors.push(g);
          if (!jsProbe) probes.push(tf.reshape(tf.sum(tf.mul(g, 0)), [1]));
        }
        const vals = tf.concat(probes).dataSync();
        const loss = vals[0]!;
        const metrics: Record<string, number> = {};
        const badMetrics: string[] = [];
        tensorMetricNames.forEach((k, i) => {
          metrics[k] = vals[1 + i]!;
        });
        Object.assign(metrics, numberMetrics);
        for (const [k, v] of Object.entries(metrics)) if (!Number.isFinite(v)) badMetrics.push(k);
        const off = 1 + tensorMetricNames.length;
        const badGradients = gradNames.filter((_, i) =>
          jsProbe ? hasNonFinite(flatData(gradTensors[i]!)) : Number.isNaN(vals[off + i]!),
        );
        const applied = Number.isFinite(loss) && badGradients.length === 0;
        if (applied) {
          // Every parameter in a fixed order (null gradient when frozen or unused): tfjs
          // optimizers index their slots by position, so the order must never change.
          const list = this.params.map(([, v]) => ({
            name: v.name,
            tensor: grads[v.name] ?? null,
          }));
          this.optimizer.applyGradients(list as unknown as NamedTensor[]);
        }
        return { loss, metrics, badGradients, badMetrics, applied };
      });
    } finally {
      packed?.dispose();
    }
  }

  /** The objective's loss and its gradients (call inside tf.tidy). */
  private tapeGradients(
    batch: B,
    ctx: StepContext,
    trainable: [string, tf.Variable][],
    numberMetrics: Record<string, number>,
    tensorMetricNames: string[],
    setPacked: (t: tf.Tensor) => void,
    scale?: number,
  ): { value: tf.Scalar; grads: tf.NamedTensorMap } {
    let out: { value: tf.Scalar; grads: tf.NamedTensorMap };
    // An exception inside the taped function would strand the tensors the tape saved for
    // the backward pass (tfjs frees them only in the backward pass). So errors are caught,
    // a constant is returned (tfjs then frees the tape), and the error is rethrown below.
    let objectiveError: { e: unknown } | undefined;
    try {
      out = tf.variableGrads(
        () => {
          try {
            const l = this.runObjective(batch, ctx, numberMetrics, tensorMetricNames, setPacked);
            return scale === undefined ? l : (tf.mul(l, scale) as tf.Scalar);
          } catch (e) {
            objectiveError = { e };
            return tf.scalar(0);
          }
        },
        trainable.map(([, v]) => v),
      );
    } catch (e) {
      if (objectiveError) throw objectiveError.e;
      if (e instanceof Error && /Cannot find a connection/.test(e.message)) {
        throw new ValueError(
          `Trainer: the loss does not depend on any trainable parameter (${listNames(
            trainable.map(([n]) => n),
            4,
          )}); does the objective use the model passed to the Trainer?`,
        );
      }
      throw e;
    }
    if (objectiveError) {
      tf.dispose([out.value, ...Object.values(out.grads)]);
      throw objectiveError.e;
    }
    return out;
  }

  /**
   * One data-parallel step: the workers start on their rows; the main thread meanwhile computes
   * its own shard's weighted loss, gradients and their finiteness probes (one read-back); after
   * the barrier the shards' gradients are summed (each came out weighted by its rows) and, when
   * the loss and every shard's gradients are finite, applied by the main thread's optimizer.
   */
  private async computeParallelStep(
    batch: B,
    ctx: StepContext,
    engine: ParallelEngine,
  ): Promise<StepOutcome> {
    const trainable = this.params.filter(([, v]) => v.trainable);
    if (trainable.length === 0) {
      throw new ValueError(
        'Trainer: no trainable parameters (all are frozen); unfreeze some with setTrainable(true).',
      );
    }
    const plan = engine.plan(batch);
    engine.dispatch(batch, plan, ctx);
    const numberMetrics: Record<string, number> = {};
    const tensorMetricNames: string[] = [];
    let packed: tf.Tensor | undefined;
    let main: { value: tf.Scalar; grads: tf.NamedTensorMap } | undefined;
    let mainLoss = 0;
    const mainMetrics: Record<string, number> = {};
    const mainBad = new Set<string>();
    try {
      if (plan.mainRows > 0) {
        const shard = engine.mainShard(batch, plan);
        try {
          const shardCtx: StepContext = {
            ...ctx,
            shard: {
              index: 0,
              count: plan.workerRows.length + 1,
              offset: 0,
              rows: plan.mainRows,
              batchRows: plan.total,
            },
          };
          main = tf.tidy(() =>
            this.tapeGradients(
              shard.batch as B,
              shardCtx,
              trainable,
              numberMetrics,
              tensorMetricNames,
              (t) => {
                packed = t;
              },
              // the main shard's weight: its loss value and gradients come out weighted
              engine.mainWeight(plan),
            ),
          );
        } finally {
          tf.dispose(shard.owned);
        }
        const m = main;
        const vals = tf.tidy(() =>
          tf
            .concat([tf.reshape(tf.cast(m.value, 'float32'), [1]), ...(packed ? [packed] : [])])
            .dataSync(),
        );
        mainLoss = vals[0]!;
        tensorMetricNames.forEach((k, i) => {
          mainMetrics[k] = vals[1 + i]!;
        });
        Object.assign(mainMetrics, numberMetrics);
        // The finiteness probe of the main shard's gradients, in JS over their data (a view
        // of the wasm heap: no copy); the workers probe theirs.
        for (const [n, v] of trainable) {
          const g = m.grads[v.name];
          if (g && hasNonFinite(flatData(g))) mainBad.add(n);
        }
      }
      await engine.wait();
      const workers = engine.workerScalars(plan);
      const loss = workers.loss + mainLoss;
      // Metrics: the main shard's and the workers', weighted by rows.
      const sums = workers.metrics;
      for (const [k, v] of Object.entries(mainMetrics)) {
        const acc = sums.get(k) ?? [0, 0];
        acc[0] += plan.mainRows * v;
        acc[1] += plan.mainRows;
        sums.set(k, acc);
      }
      const metrics: Record<string, number> = {};
      const badMetrics: string[] = [];
      for (const [k, [sum, w]] of sums) {
        metrics[k] = w > 0 ? sum / w : Number.NaN;
        if (!Number.isFinite(metrics[k]!)) badMetrics.push(k);
      }
      const badGradients = this.params
        .filter(
          ([n, v], e) => v.trainable && (mainBad.has(n) || engine.workerGradNonFinite(e, plan)),
        )
        .map(([n]) => n);
      const applied = Number.isFinite(loss) && badGradients.length === 0;
      if (applied) {
        tf.tidy(() => {
          // Every parameter in a fixed order (null gradient when frozen or unused), as in
          // computeStep: tfjs optimizers index their slots by position.
          const list = this.params.map(([, v], e) => ({
            name: v.name,
            tensor: v.trainable ? engine.combineGrad(e, main?.grads[v.name], plan) : null,
          }));
          this.optimizer.applyGradients(list as unknown as NamedTensor[]);
        });
      }
      return { loss, metrics, badGradients, badMetrics, applied };
    } finally {
      packed?.dispose();
      if (main) tf.dispose([main.value, ...Object.values(main.grads)]);
    }
  }

  private async onNonFiniteLimit(o: StepOutcome): Promise<boolean> {
    const guard = this.opts.nanGuard ?? {};
    const what = this.describeBad(o);
    if (guard.onLimit === 'rollback' && this.store && this.rollbacks < (guard.maxRollbacks ?? 3)) {
      const all = await listCheckpoints(this.store);
      for (let i = all.length - 1; i >= 0; i--) {
        const loc = this.store.locate(all[i]!.name);
        try {
          await this.restore(await this.store.read(all[i]!.name), loc, 'rollback');
        } catch (e) {
          if (e instanceof CheckpointError) continue;
          throw e;
        }
        this.rollbacks++;
        this.consecutiveBad = 0;
        this.say(
          `step ${this._step}: ${this.maxConsecutive} consecutive non-finite steps (${what}); rolled back parameters and optimizer state to ${loc} (rollback ${this.rollbacks}).`,
        );
        return true;
      }
    }
    const last = this.lastCheckpoint;
    throw new NonFiniteError(
      `Trainer: step ${this._step}: ${what}. ${this.consecutiveBad} consecutive non-finite steps (limit nanGuard.maxConsecutive = ${this.maxConsecutive}); none of them was applied. ${last ? `The last good checkpoint is ${last} (kept).` : 'No checkpoint had been written.'} Lower the learning rate, check the batch for NaN/Inf, or use a numerically stable loss (log-space, logSumExp).`,
      {
        step: this._step,
        loss: o.loss,
        badGradients: o.badGradients,
        badMetrics: o.badMetrics,
        lastCheckpoint: last,
      },
    );
  }

  /** Runs validation; returns true when early stopping should stop training. */
  private async validate(v: ValidationOptions): Promise<boolean> {
    const metrics = await v.evaluate({ step: this._step, epoch: this._epoch });
    const entry: ValidationEntry = {
      step: this._step,
      epoch: this._epoch,
      elapsedMs: Math.round(this.elapsedMs()),
      metrics: { ...metrics },
    };
    this.validation.push(entry);
    this.log?.push({ type: 'validation', ...entry });
    this.say(
      `validation at step ${this._step}: ${Object.entries(metrics)
        .map(([k, x]) => `${k} ${fmtNum(x)}`)
        .join(' ')}`,
    );
    const key = v.monitor ?? Object.keys(metrics)[0];
    if (key === undefined) return false;
    const value = metrics[key];
    if (typeof value !== 'number') {
      throw new ValueError(
        `Trainer: validation.monitor '${key}' is not among the validation metrics (${Object.keys(metrics).join(', ')}).`,
      );
    }
    const better =
      Number.isFinite(value) &&
      (this.best === undefined ||
        (v.mode === 'max' ? value > this.best.value : value < this.best.value));
    if (better) {
      this.best = { metric: key, value, step: this._step };
      this.sinceBest = 0;
      if (this.opts.checkpoint?.saveBest && this.store) await this.saveCheckpoint('best', 'best');
      return false;
    }
    this.sinceBest++;
    if (v.patience !== undefined && this.sinceBest >= v.patience) {
      this.say(
        `early stopping at step ${this._step}: ${key} has not improved for ${this.sinceBest} validations (best ${fmtNum(this.best!.value)} at step ${this.best!.step}).`,
      );
      return true;
    }
    return false;
  }

  /**
   * Writes a checkpoint now (the Trainer also does this every `checkpoint.every` steps, at the
   * end and on abort). Returns its location.
   */
  async saveCheckpoint(reason = 'manual', name = checkpointName(this._step)): Promise<string> {
    if (!this.store)
      throw new ValueError('Trainer.saveCheckpoint: no checkpoint dir or store configured.');
    const byVarName = new Map(this.params.map(([n, v]) => [v.name, n]));
    let optWeights: NamedTensor[] = [];
    let optimizerSaved = true;
    try {
      optWeights = await this.optimizer.getWeights();
    } catch (e) {
      optimizerSaved = false;
      if (!this.warnedOptimizer) {
        this.warnedOptimizer = true;
        this.say(
          `warning: ${this.optimizer.getClassName()} cannot export its state (${e instanceof Error ? e.message : String(e)}); checkpoints hold no optimizer state, so a resumed run restarts it. Adam, SGD, momentum, RMSProp, Adagrad and Adadelta can.`,
        );
      }
    }
    let files: Record<string, Uint8Array>;
    try {
      const entries: [string, tf.Tensor][] = [...this.params, ...this.buffers].map(([n, v]) => [
        `model/${n}`,
        v,
      ]);
      optWeights.forEach((w, i) => {
        entries.push([`optimizer/${i}`, w.tensor]);
      });
      // Scalars some optimizers keep outside getWeights (Adam's running beta powers): setWeights
      // recomputes them as pow(beta, t), which differs from the running product in the last
      // bit; saving them makes a resumed run bit-identical.
      const extras = optimizerSaved ? optimizerExtras(this.optimizer) : [];
      for (const [k, v] of extras) entries.push([`optimizer-extra/${k}`, v]);
      const names = optWeights.map((w) => {
        const slash = w.name.lastIndexOf('/');
        const owner = slash > 0 ? byVarName.get(w.name.slice(0, slash)) : undefined;
        return owner ? `${owner}${w.name.slice(slash)}` : w.name;
      });
      const meta: CheckpointMeta = {
        kind: 'dgmjs-trainer-checkpoint',
        version: 1,
        step: this._step,
        epoch: this._epoch,
        batchInEpoch: this.batchInEpoch,
        seed: this.seed,
        rngState: this.rng.getState(),
        elapsedMs: Math.round(this.elapsedMs()),
        skippedSteps: this.skippedSteps,
        history: this.history,
        validation: this.validation,
        best: this.best ?? null,
        sinceBest: this.sinceBest,
        acc: this.acc,
        optimizer: {
          className: this.optimizer.getClassName(),
          saved: optimizerSaved,
          count: optWeights.length,
          names,
          extras: extras.map(([k]) => k),
        },
        reason,
        savedAt: new Date().toISOString(),
        metadata: this.opts.metadata ?? {},
      };
      const { manifest, data } = await encodeState(
        entries,
        meta as unknown as Record<string, unknown>,
      );
      files = {
        [MANIFEST_FILE]: new TextEncoder().encode(JSON.stringify(manifest)),
        [manifest.weightsManifest[0].paths[0]]: data,
      };
    } finally {
      // getWeights returns the optimizer's own slot variables plus a fresh 'iter' scalar.
      for (const w of optWeights) if (!(w.tensor instanceof tf.Variable)) w.tensor.dispose();
    }
    const location = await this.store.write(name, files);
    if (name !== 'best') {
      this.lastCheckpoint = location;
      this.lastSavedStep = this._step;
      const all = await listCheckpoints(this.store);
      for (const c of all.slice(0, Math.max(all.length - this.keep, 0))) {
        if (c.name !== name) await this.store.remove(c.name);
      }
    }
    await this.log?.flush();
    this.opts.onCheckpoint?.({ step: this._step, location, reason });
    return location;
  }

  /**
   * Restores model, optimizer and (for 'resume') trainer state from checkpoint files. Everything
   * is checked before anything is assigned.
   */
  private async restore(
    files: Record<string, Uint8Array>,
    source: string,
    mode: 'resume' | 'rollback',
  ): Promise<void> {
    const mBytes = files[MANIFEST_FILE];
    if (!mBytes)
      throw new CheckpointError(`${source}: no ${MANIFEST_FILE}; not a checkpoint.`, source);
    const manifest = parseManifest(mBytes, `${source}/${MANIFEST_FILE}`);
    const binName = manifest.weightsManifest[0].paths[0];
    const data = files[binName];
    if (!data)
      throw new CheckpointError(`${source}/${binName}: the weights file is missing.`, source);
    const { tensors, metadata } = decodeState(manifest, data, source);
    try {
      const meta = metadata as unknown as CheckpointMeta;
      if (meta.kind !== 'dgmjs-trainer-checkpoint' || meta.version !== 1) {
        throw new CheckpointError(
          `${source}: not a Trainer checkpoint (metadata.kind is ${JSON.stringify(meta.kind)}); load plain saved states with loadModule.`,
          source,
        );
      }
      const model = new Map<string, tf.Tensor>();
      for (const [n, t] of Object.entries(tensors))
        if (n.startsWith('model/')) model.set(n.slice(6), t);
      const own = [...this.params, ...this.buffers];
      const ownNames = new Set(own.map(([n]) => n));
      const missing: string[] = [];
      const wrong: StateShapeMismatch[] = [];
      for (const [n, v] of own) {
        const t = model.get(n);
        if (!t) missing.push(n);
        else if (t.shape.join() !== v.shape.join() || t.dtype !== v.dtype) {
          wrong.push({
            name: n,
            expected: [...v.shape],
            got: [...t.shape],
            expectedDtype: v.dtype,
            gotDtype: t.dtype,
          });
        }
      }
      const unexpected = [...model.keys()].filter((n) => !ownNames.has(n));
      if (missing.length || unexpected.length || wrong.length) {
        throw new StateMismatchError(
          `Trainer: checkpoint ${source}`,
          missing,
          unexpected,
          wrong,
          'It was written for a different model: resume with the same model, or start a fresh run in another directory.',
        );
      }
      const className = this.optimizer.getClassName();
      if (meta.optimizer.className !== className) {
        throw new ValueError(
          `Trainer: checkpoint ${source} holds ${meta.optimizer.className} optimizer state, but the optimizer is ${className}; resume with the same optimizer type.`,
        );
      }
      const optList: NamedTensor[] = [];
      for (let i = 0; i < meta.optimizer.count; i++) {
        const t = tensors[`optimizer/${i}`];
        if (!t) throw new CheckpointError(`${source}: optimizer slot ${i} is missing.`, source);
        optList.push({ name: meta.optimizer.names[i] ?? String(i), tensor: t });
      }
      const extras = optimizerExtras(this.optimizer);
      for (const k of meta.optimizer.extras) {
        const t = tensors[`optimizer-extra/${k}`];
        const v = extras.find(([n]) => n === k)?.[1];
        if (!t || !v || t.shape.join() !== v.shape.join()) {
          throw new CheckpointError(
            `${source}: optimizer scalar '${k}' is missing or does not fit.`,
            source,
          );
        }
      }
      for (const [n, v] of own) v.assign(model.get(n)!);
      if (optList.length > 0) {
        const old = await this.optimizer.getWeights();
        await this.optimizer.setWeights(optList);
        for (const w of old) w.tensor.dispose();
      }
      for (const k of meta.optimizer.extras) {
        extras.find(([n]) => n === k)![1].assign(tensors[`optimizer-extra/${k}`]!);
      }
      if (!meta.optimizer.saved) {
        this.say(`warning: ${source} holds no optimizer state; the optimizer starts afresh.`);
      }
      if (mode === 'resume') {
        this._step = meta.step;
        this._epoch = meta.epoch;
        this.batchInEpoch = meta.batchInEpoch;
        this.seed = meta.seed;
        this.rng = Rng.fromState(meta.rngState);
        this.elapsedBefore = meta.elapsedMs;
        this.skippedSteps = meta.skippedSteps;
        // JSON has no NaN: a window of only skipped steps comes back with loss null
        this.history = meta.history.map((h) => ({ ...h, loss: h.loss ?? Number.NaN }));
        this.validation = meta.validation;
        this.best = meta.best ?? undefined;
        this.sinceBest = meta.sinceBest;
        this.acc = meta.acc;
      }
    } finally {
      for (const t of Object.values(tensors as NamedTensors)) t.dispose();
    }
  }
}
