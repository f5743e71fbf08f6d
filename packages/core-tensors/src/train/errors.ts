import { DgmError } from '../errors.js';

/**
 * Training stopped because the loss or a gradient was NaN or +-Infinity for too many
 * consecutive steps. None of those steps was applied, and no checkpoint was removed or
 * overwritten: the last good checkpoint is where it was.
 *
 * @example
 * ```ts
 * try {
 *   await trainer.fit();
 * } catch (e) {
 *   if (e instanceof NonFiniteError) console.log(e.step, e.badGradients, e.lastCheckpoint);
 * }
 * ```
 */
export class NonFiniteError extends DgmError {
  /** The step (1-based count) at which training stopped. */
  readonly step: number;
  /** The loss of that step (may be finite when only gradients were not). */
  readonly loss: number;
  /** Parameters whose gradient had a NaN or Inf entry. */
  readonly badGradients: string[];
  /** Metrics that were NaN or Inf. */
  readonly badMetrics: string[];
  /** The last checkpoint written, if any. */
  readonly lastCheckpoint: string | undefined;

  constructor(
    message: string,
    info: {
      step: number;
      loss: number;
      badGradients: string[];
      badMetrics: string[];
      lastCheckpoint: string | undefined;
    },
  ) {
    super(message);
    this.step = info.step;
    this.loss = info.loss;
    this.badGradients = info.badGradients;
    this.badMetrics = info.badMetrics;
    this.lastCheckpoint = info.lastCheckpoint;
  }
}

/**
 * The number of live tensors grew across training steps: something keeps tensors it should not.
 *
 * @example
 * ```ts
 * try {
 *   await trainer.fit();
 * } catch (e) {
 *   if (e instanceof MemoryLeakError) console.log(`${e.leaked} tensors leaked by step ${e.step}`);
 * }
 * ```
 */
export class MemoryLeakError extends DgmError {
  /** Tensors more than after the warm-up step. */
  readonly leaked: number;
  /** The step at which it was noticed. */
  readonly step: number;
  constructor(message: string, leaked: number, step: number) {
    super(message);
    this.leaked = leaked;
    this.step = step;
  }
}
