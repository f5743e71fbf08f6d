/**
 * The leak check as a Trainer callback: after the first applied step (when the optimizer's slots
 * exist) the number of live tensors must stay put from step to step.
 */
import { tf } from '../../tf.js';
import type { Callback, StepEndEvent, TrainerHandle } from '../callback.js';
import { MemoryLeakError } from '../errors.js';

/**
 * The Trainer's memory check (`TrainerOptions.memoryCheck`): 'throw' a {@link MemoryLeakError}
 * (default) or 'warn' when `tf.memory().numTensors` grows between steps. The baseline is taken
 * after the first applied step of each `fit`, and again after a checkpoint is restored.
 *
 * @example
 * ```ts
 * new Trainer({ ...opts, memoryCheck: 'warn' }); // or add `new LeakCheckCallback('warn')` yourself
 * ```
 */
export class LeakCheckCallback implements Callback {
  readonly name = 'leak-check';
  private readonly mode: 'throw' | 'warn';
  private baseline: number | undefined;
  private baselineStep = 0;

  constructor(mode: 'throw' | 'warn' = 'throw') {
    this.mode = mode;
  }

  onFitStart(): void {
    this.baseline = undefined;
  }

  /** A restore (resume, rollback) replaces the optimizer's slots: measure afresh. */
  onRestore(): void {
    this.baseline = undefined;
  }

  onStepEnd(t: TrainerHandle, e: StepEndEvent): void {
    const live = tf.memory().numTensors;
    if (this.baseline === undefined) {
      if (e.applied) {
        this.baseline = live;
        this.baselineStep = t.step;
      }
      return;
    }
    if (live <= this.baseline) return;
    const grew = live - this.baseline;
    const msg = `Trainer: ${grew} tensor(s) leaked between step ${this.baselineStep} and step ${t.step} (tf.memory().numTensors ${this.baseline} -> ${live}). Something keeps tensors across steps: a data source that makes a fresh tensor per batch (set disposeBatch: true), tensors kept in onStep/validation callbacks, or tf.keep in the objective. Set memoryCheck: 'warn' or 'off' to go on anyway.`;
    if (this.mode === 'throw') throw new MemoryLeakError(msg, grew, t.step);
    t.say(`warning: ${msg}`);
    this.baseline = live;
    this.baselineStep = t.step;
  }
}
