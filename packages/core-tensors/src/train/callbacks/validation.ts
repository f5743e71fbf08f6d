/**
 * Periodic validation and early stopping as a Trainer callback.
 */
import { ValueError } from '../../errors.js';
import type { Callback, CallbackState, StepEndEvent, TrainerHandle } from '../callback.js';
import { validateValidationState } from '../checkpoint-meta.js';
import { fmtNum } from '../progress.js';
import type { BestMetric, ValidationEntry, ValidationOptions } from '../types.js';

/**
 * The Trainer's validation (`TrainerOptions.validation`): every `every` steps it calls
 * `evaluate`, records the result, tracks the best value of the monitored metric (sending
 * `onValidation` to every callback: checkpointing then saves the best one with `saveBest`) and
 * stops training after `patience` validations without improvement. Its results and the best
 * metric are checkpointed.
 *
 * @example
 * ```ts
 * new Trainer({ ...opts, validation: { every: 100, evaluate: () => ({ nll: heldOutNll() }),
 *   monitor: 'nll', patience: 5 } });
 * ```
 */
export class ValidationCallback implements Callback {
  readonly name = 'validation';
  /** Every validation result so far (across resumes). */
  entries: ValidationEntry[] = [];
  /** The best monitored value so far. */
  best: BestMetric | undefined;
  private sinceBest = 0;
  private readonly opts: ValidationOptions;

  constructor(opts: ValidationOptions) {
    this.opts = opts;
  }

  async onStepEnd(t: TrainerHandle, _e: StepEndEvent): Promise<void> {
    if (t.step % this.opts.every !== 0) return;
    const v = this.opts;
    const metrics = await v.evaluate({ step: t.step, epoch: t.epoch });
    const entry: ValidationEntry = {
      step: t.step,
      epoch: t.epoch,
      elapsedMs: Math.round(t.elapsedMs()),
      metrics: { ...metrics },
    };
    this.entries.push(entry);
    const key = v.monitor ?? Object.keys(metrics)[0];
    const value = key === undefined ? undefined : metrics[key];
    const improved =
      typeof value === 'number' &&
      Number.isFinite(value) &&
      (this.best === undefined ||
        (v.mode === 'max' ? value > this.best.value : value < this.best.value));
    t.say(
      `validation at step ${t.step}: ${Object.entries(metrics)
        .map(([k, x]) => `${k} ${fmtNum(x)}`)
        .join(' ')}`,
    );
    if (key !== undefined && typeof value !== 'number') {
      await t.emit('onValidation', { entry, monitor: key, improved: false });
      throw new ValueError(
        `Trainer: validation.monitor '${key}' is not among the validation metrics (${Object.keys(metrics).join(', ')}).`,
      );
    }
    if (improved) {
      this.best = { metric: key!, value: value as number, step: t.step };
      this.sinceBest = 0;
    } else if (key !== undefined) this.sinceBest++;
    await t.emit('onValidation', { entry, monitor: key, improved });
    if (improved || key === undefined) return;
    if (v.patience !== undefined && this.sinceBest >= v.patience) {
      t.say(
        `early stopping at step ${t.step}: ${key} has not improved for ${this.sinceBest} validations (best ${fmtNum(this.best!.value)} at step ${this.best!.step}).`,
      );
      t.stop('early-stopped');
    }
  }

  saveState(): CallbackState {
    return {
      json: { validation: this.entries, best: this.best ?? null, sinceBest: this.sinceBest },
    };
  }

  /** On resume; a rollback keeps the results and the best value seen. */
  loadState(_t: TrainerHandle, s: CallbackState, mode: 'resume' | 'rollback'): void {
    if (mode !== 'resume') return;
    const v = validateValidationState(s.json, 'checkpoint');
    this.entries = v.validation;
    this.best = v.best;
    this.sinceBest = v.sinceBest;
  }
}
