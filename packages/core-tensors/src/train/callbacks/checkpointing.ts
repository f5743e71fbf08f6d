/**
 * Checkpoints and resume as a Trainer callback: resumes (or refuses to overwrite another run)
 * when `fit` starts, saves every `every` steps, on a new best validation result (`saveBest`) and
 * at the end, keeps the newest `keep`, and rolls back for the non-finite guard.
 */
import { ValueError } from '../../errors.js';
import { CheckpointError } from '../../nn/serialize.js';
import type {
  Callback,
  Checkpointer,
  FitEndEvent,
  StepEndEvent,
  TrainerHandle,
  ValidationEvent,
} from '../callback.js';
import {
  type CheckpointStore,
  checkpointName,
  DirectoryCheckpointStore,
  listCheckpoints,
  readCheckpointDir,
} from '../checkpoint.js';
import { applyCheckpoint, decodeCheckpoint, encodeCheckpoint } from '../checkpoint-state.js';
import { listNames } from '../variables.js';

/** Options of {@link CheckpointCallback}. */
export interface CheckpointCallbackOptions {
  /** Where checkpoints go (without one, only `resume` from a path works: nothing is saved). */
  store?: CheckpointStore | undefined;
  /** Save every this many steps (and always at the end). Default: only at the end. */
  every?: number;
  /** Keep the newest this many step checkpoints. Default 3. */
  keep?: number;
  /** Also keep the checkpoint with the best validation metric as `best`. Default false. */
  saveBest?: boolean;
  /** `true`: continue from the newest checkpoint of `store`; a string: from that directory. */
  resume?: boolean | string;
  /** Free-form JSON stored in every checkpoint. */
  metadata?: Record<string, unknown>;
  /** Called after each checkpoint is written. */
  onCheckpoint?: (info: { step: number; location: string; reason: string }) => void;
}

/**
 * The Trainer's checkpointing (built from `TrainerOptions.checkpoint` and `resume`). A
 * checkpoint holds the model's parameters and buffers, the optimizer's state, the loop's
 * position and seed stream, and every callback's `saveState`, so a resumed run continues exactly
 * where the interrupted one stopped. Checkpoints with NaN/Inf state are never written.
 *
 * @example
 * ```ts
 * const trainer = new Trainer({ model, objective, data, optimizer, maxSteps: 1000,
 *   checkpoint: { dir: 'runs/a', every: 100, keep: 3 }, resume: true });
 * ```
 */
export class CheckpointCallback implements Callback, Checkpointer {
  readonly name = 'checkpointing';
  readonly store: CheckpointStore | undefined;
  private readonly opts: CheckpointCallbackOptions;
  private prepared = false;
  private warnedOptimizer = false;
  private lastSavedStep = -1;
  private _lastCheckpoint: string | undefined;
  private _resumedFrom: string | undefined;

  constructor(opts: CheckpointCallbackOptions) {
    this.opts = opts;
    this.store = opts.store;
  }

  get lastCheckpoint(): string | undefined {
    return this._lastCheckpoint;
  }

  get resumedFrom(): string | undefined {
    return this._resumedFrom;
  }

  /** Resumes, or checks that the store holds no other run. Once per Trainer. */
  async onFitStart(t: TrainerHandle): Promise<void> {
    // A second fit() on the same trainer (after an abort) continues from the trainer's own
    // state: nothing to restore, and its own checkpoints are not another run's.
    if (this.prepared) return;
    const { resume } = this.opts;
    const store = this.store;
    if (store instanceof DirectoryCheckpointStore) await store.recover();
    if (typeof resume === 'string') {
      await this.load(t, await readCheckpointDir(resume), resume, 'resume');
      this._resumedFrom = resume;
      this._lastCheckpoint = resume;
    } else if (resume === true && store) {
      const all = await listCheckpoints(store);
      for (let i = all.length - 1; i >= 0 && !this._resumedFrom; i--) {
        const loc = store.locate(all[i]!.name);
        try {
          await this.load(t, await store.read(all[i]!.name), loc, 'resume');
          this._resumedFrom = loc;
          this._lastCheckpoint = loc;
          this.lastSavedStep = t.step;
        } catch (e) {
          if (!(e instanceof CheckpointError)) throw e;
          t.say(
            `warning: cannot resume from ${loc} (${e.message}); trying the previous checkpoint.`,
          );
        }
      }
      if (this._resumedFrom) t.say(`resumed from ${this._resumedFrom} at step ${t.step}`);
      else if (all.length > 0) {
        throw new CheckpointError(
          `Trainer: none of the ${all.length} checkpoints in ${store.location} could be read (see the warnings above).`,
          store.location,
        );
      }
    } else if (store) {
      const existing = await listCheckpoints(store);
      if (existing.length > 0) {
        throw new ValueError(
          `Trainer: ${store.location} already holds checkpoints (${listNames(
            existing.map((c) => c.name),
            3,
          )}). Pass resume: true to continue that run, or use another directory; nothing was overwritten.`,
        );
      }
    }
    this.prepared = true;
  }

  async onStepEnd(t: TrainerHandle, _e: StepEndEvent): Promise<void> {
    const every = this.opts.every;
    if (this.store && every !== undefined && t.step % every === 0) await this.save(t, 'periodic');
  }

  async onValidation(t: TrainerHandle, e: ValidationEvent): Promise<void> {
    if (this.store && e.improved && this.opts.saveBest) await this.save(t, 'best', 'best');
  }

  async onFitEnd(t: TrainerHandle, e: FitEndEvent): Promise<void> {
    if (!this.store || e.stopReason === undefined || this.lastSavedStep === t.step) return;
    await this.save(t, e.stopReason === 'aborted' ? 'aborted' : 'final');
  }

  /** Writes a checkpoint now (step checkpoints beyond `keep` are removed); returns its location. */
  async save(t: TrainerHandle, reason = 'manual', name = checkpointName(t.step)): Promise<string> {
    const store = this.store;
    if (!store)
      throw new ValueError('Trainer.saveCheckpoint: no checkpoint dir or store configured.');
    const { files, optimizerError } = await encodeCheckpoint(
      t,
      reason,
      this.opts.metadata ?? {},
      this._lastCheckpoint,
    );
    if (optimizerError !== undefined && !this.warnedOptimizer) {
      this.warnedOptimizer = true;
      t.say(
        `warning: ${t.optimizer.getClassName()} cannot export its state (${optimizerError}); checkpoints hold no optimizer state, so a resumed run restarts it. Adam, SGD, momentum, RMSProp, Adagrad and Adadelta can.`,
      );
    }
    const location = await store.write(name, files);
    if (name !== 'best') {
      this._lastCheckpoint = location;
      this.lastSavedStep = t.step;
      const all = await listCheckpoints(store);
      const keep = this.opts.keep ?? 3;
      for (const c of all.slice(0, Math.max(all.length - keep, 0))) {
        if (c.name !== name) await store.remove(c.name);
      }
    }
    await t.emit('onCheckpoint', { step: t.step, location, reason });
    this.opts.onCheckpoint?.({ step: t.step, location, reason });
    return location;
  }

  async rollback(t: TrainerHandle): Promise<string | undefined> {
    const store = this.store;
    if (!store) return undefined;
    const all = await listCheckpoints(store);
    for (let i = all.length - 1; i >= 0; i--) {
      const loc = store.locate(all[i]!.name);
      try {
        await this.load(t, await store.read(all[i]!.name), loc, 'rollback');
      } catch (e) {
        if (e instanceof CheckpointError) continue;
        throw e;
      }
      return loc;
    }
    return undefined;
  }

  private async load(
    t: TrainerHandle,
    files: Record<string, Uint8Array>,
    source: string,
    mode: 'resume' | 'rollback',
  ): Promise<void> {
    const decoded = decodeCheckpoint(files, source);
    if (!decoded.metadataChecked) {
      t.say(
        `warning: ${source} has no CRC-32 of its metadata (written by an older dgm.js): its model.json is trusted as it is; the next checkpoint will have one.`,
      );
    }
    try {
      const { optimizerSaved } = await applyCheckpoint(t, decoded, source, mode);
      if (!optimizerSaved) {
        t.say(`warning: ${source} holds no optimizer state; the optimizer starts afresh.`);
      }
    } finally {
      for (const x of Object.values(decoded.tensors)) x.dispose();
    }
    await t.emit('onRestore', { source, mode });
  }
}
