import { DgmError } from '@dgm-js/core-tensors';

/**
 * GAN training diverged: a loss or a gradient norm of one player became NaN / Infinity or blew
 * past the configured limit. The offending update was not applied and no checkpoint was removed
 * or overwritten: `lastCheckpoint` (when one was written) holds the last good state; resume from
 * it with other settings (a lower learning rate, a gradient penalty, more critic steps).
 *
 * @example
 * ```ts
 * try {
 *   await trainer.fit({ steps: 10000 });
 * } catch (e) {
 *   if (e instanceof GanDivergenceError) console.log(e.player, e.what, e.value, e.lastCheckpoint);
 * }
 * ```
 */
export class GanDivergenceError extends DgmError {
  /** The step (1-based) whose update was refused. */
  readonly step: number;
  /** Which player's update diverged. */
  readonly player: 'critic' | 'generator';
  /** What was out of bounds: 'loss' or 'gradient norm'. */
  readonly what: 'loss' | 'gradient norm';
  /** Its value (NaN, +-Infinity or past the limit). */
  readonly value: number;
  /** The last checkpoint written (or resumed from), if any. */
  readonly lastCheckpoint: string | undefined;

  constructor(
    message: string,
    info: {
      step: number;
      player: 'critic' | 'generator';
      what: 'loss' | 'gradient norm';
      value: number;
      lastCheckpoint: string | undefined;
    },
  ) {
    super(message);
    this.step = info.step;
    this.player = info.player;
    this.what = info.what;
    this.value = info.value;
    this.lastCheckpoint = info.lastCheckpoint;
  }
}
