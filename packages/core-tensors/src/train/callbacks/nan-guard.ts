/**
 * The non-finite guard as a Trainer callback. The step itself never applies an update whose loss
 * or gradients are NaN/Inf (it skips it); this callback counts the skipped steps, stops (or rolls
 * back) after too many in a row, and checks the parameters after every applied update, so that
 * an update that diverges (a NaN or huge learning rate) is caught at once and never reaches a
 * checkpoint.
 */
import type { Callback, StepEndEvent, TrainerHandle } from '../callback.js';
import { NonFiniteError } from '../errors.js';
import { nonFiniteNames } from '../step.js';
import type { NanGuardOptions } from '../types.js';
import { listNames } from '../variables.js';

/** What went wrong in a step, in words. */
export function describeBadStep(e: Pick<StepEndEvent, 'loss' | 'badGradients' | 'badMetrics'>) {
  const parts: string[] = [];
  if (!Number.isFinite(e.loss)) parts.push(`loss is ${e.loss}`);
  if (e.badGradients.length) parts.push(`non-finite gradient of ${listNames(e.badGradients)}`);
  if (e.badMetrics.length) parts.push(`non-finite metric ${listNames(e.badMetrics)}`);
  return parts.join('; ');
}

/**
 * The Trainer's non-finite guard (built from `TrainerOptions.nanGuard`). Skipped steps are
 * counted; after `maxConsecutive` in a row it throws a {@link NonFiniteError}, or with
 * `onLimit: 'rollback'` restores the last checkpoint (model, optimizer and callback state) and
 * goes on. With `checkParameters` (default) the parameters are scanned after every applied
 * update (the same JS pass as the gradient probe): non-finite parameters stop or roll back at
 * once, naming them.
 *
 * @example
 * ```ts
 * new Trainer({ ...opts, nanGuard: { maxConsecutive: 5, onLimit: 'rollback', maxRollbacks: 2 } });
 * ```
 */
export class NanGuardCallback implements Callback {
  readonly name = 'nan-guard';
  private readonly maxConsecutive: number;
  private readonly opts: NanGuardOptions;
  private consecutiveBad = 0;
  private rollbacks = 0;

  constructor(opts: NanGuardOptions = {}) {
    this.opts = opts;
    this.maxConsecutive = opts.maxConsecutive ?? 3;
  }

  async onStepEnd(t: TrainerHandle, e: StepEndEvent): Promise<void> {
    if (this.opts.checkParameters !== false) await this.checkStates(t, e);
    if (!e.applied) {
      this.consecutiveBad++;
      t.say(
        `step ${t.step}: ${describeBadStep(e)}; step skipped (${this.consecutiveBad} consecutive, limit ${this.maxConsecutive}).`,
      );
      if (this.consecutiveBad < this.maxConsecutive) return;
      const what = describeBadStep(e);
      if (await this.rollback(t, `${this.maxConsecutive} consecutive non-finite steps (${what})`)) {
        return;
      }
      const last = t.checkpointer?.lastCheckpoint;
      throw new NonFiniteError(
        `Trainer: step ${t.step}: ${what}. ${this.consecutiveBad} consecutive non-finite steps (limit nanGuard.maxConsecutive = ${this.maxConsecutive}); none of them was applied. ${last ? `The last good checkpoint is ${last} (kept).` : 'No checkpoint had been written.'} Lower the learning rate, check the batch for NaN/Inf, or use a numerically stable loss (log-space, logSumExp).`,
        {
          step: t.step,
          loss: e.loss,
          badGradients: [...e.badGradients],
          badMetrics: [...e.badMetrics],
          lastCheckpoint: last,
        },
      );
    }
    this.consecutiveBad = 0;
    if (this.opts.checkParameters === false) return;
    const bad = nonFiniteNames([...t.params, ...t.buffers]);
    if (bad.length === 0) return;
    const what = `the update made model parameter(s) ${listNames(bad)} non-finite (the loss and the gradients were finite)`;
    if (await this.rollback(t, what)) return;
    const last = t.checkpointer?.lastCheckpoint;
    throw new NonFiniteError(
      `Trainer: step ${t.step}: ${what}. The optimizer's update diverged: check the optimizer's learning rate and hyper-parameters (${t.optimizer.getClassName()}). ${last ? `The last good checkpoint is ${last} (kept; no checkpoint with non-finite parameters is written).` : 'No checkpoint had been written.'}`,
      {
        step: t.step,
        loss: e.loss,
        badGradients: [],
        badMetrics: [...e.badMetrics],
        lastCheckpoint: last,
        component: 'model parameters',
        badState: bad,
      },
    );
  }

  /**
   * The callbacks' own state (a gradient estimator's control variate): once it is NaN/Inf,
   * skipping steps cannot help, so this rolls back (restoring it with the model) or stops at
   * once, naming the component and what to change.
   */
  private async checkStates(t: TrainerHandle, e: StepEndEvent): Promise<void> {
    for (const c of t.callbacks) {
      const bad = c.checkFinite?.(t);
      if (!bad || bad.names.length === 0) continue;
      const what = `the ${bad.component} ${listNames(bad.names)} went non-finite${e.applied ? '' : ` (and the step was skipped: ${describeBadStep(e)})`}`;
      if (await this.rollback(t, what)) {
        this.consecutiveBad = 0;
        return;
      }
      const last = t.checkpointer?.lastCheckpoint;
      throw new NonFiniteError(
        `Trainer: step ${t.step}: ${what}. ${bad.hint}. ${this.rollbacks > 0 ? `Rolled back ${this.rollbacks} time(s) (model, optimizer and ${bad.component} together); it diverged again. ` : ''}${last ? `The last good checkpoint is ${last} (kept; no checkpoint with non-finite state is written).` : 'No checkpoint had been written.'}`,
        {
          step: t.step,
          loss: e.loss,
          badGradients: [...e.badGradients],
          badMetrics: [...e.badMetrics],
          lastCheckpoint: last,
          component: bad.component,
          badState: bad.names,
        },
      );
    }
  }

  /** Rolls back when configured and possible; true when it did. */
  private async rollback(t: TrainerHandle, what: string): Promise<boolean> {
    const ck = t.checkpointer;
    if (
      this.opts.onLimit !== 'rollback' ||
      !ck ||
      this.rollbacks >= (this.opts.maxRollbacks ?? 3)
    ) {
      return false;
    }
    const loc = await ck.rollback(t);
    if (loc === undefined) return false;
    this.rollbacks++;
    this.consecutiveBad = 0;
    t.say(
      `step ${t.step}: ${what}; rolled back parameters and optimizer state to ${loc} (rollback ${this.rollbacks}; estimator and callback state with them).`,
    );
    return true;
  }
}
