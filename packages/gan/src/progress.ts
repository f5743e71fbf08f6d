/**
 * Progress output for GAN training through core-tensors' `ProgressReporter` (the Trainer's own
 * progress lines: the same format, throttling and TTY bar), as a GAN callback.
 */
import { type ProgressOptions, ProgressReporter } from '@dgm-js/core-tensors';
import type { GanCallback, GanHandle, GanStepInfo } from './callbacks.js';

/**
 * Prints a progress line (core's `formatProgress`: step / budget, the generator's loss as
 * `loss`, the other metrics, steps per second, ETA) every `everySteps` steps or `everySeconds`
 * seconds (default 10), averaging the metrics over the steps since the last line. The trainer
 * adds one with `progress: true` (or `progress: { stream, everySteps, everySeconds }`).
 *
 * @example
 * ```ts
 * const lines: string[] = [];
 * new GanTrainer({ generator, critic, loss: 'hinge', data,
 *   progress: { everySteps: 100, stream: { write: (s) => lines.push(s) } } });
 * // 'step 100/1000 | loss 0.71 lossD 1.32 ... | 9.6 steps/s | ETA 1:34'
 * ```
 */
export class GanProgress implements GanCallback {
  readonly name = 'progress';
  private readonly reporter: ProgressReporter;
  private sums: Record<string, number> = {};
  private n = 0;
  private first: { step: number; ms: number } | undefined;

  constructor(opts: ProgressOptions = {}) {
    this.reporter = new ProgressReporter(opts);
  }

  onStepEnd(_t: GanHandle, e: GanStepInfo): void {
    this.n++;
    for (const [k, v] of Object.entries(e.metrics)) this.sums[k] = (this.sums[k] ?? 0) + v;
    // the rate is over the steps since the first one seen, on the trainer's clock (its training
    // time: the time between fit calls does not count)
    this.first ??= { step: e.step, ms: e.elapsedMs };
    const total = e.totalSteps;
    const last = e.step === total;
    if (!last && !this.reporter.due(e.step)) return;
    const mean = Object.fromEntries(Object.entries(this.sums).map(([k, v]) => [k, v / this.n]));
    const { lossG, ...metrics } = mean;
    const sec = (e.elapsedMs - this.first.ms) / 1000;
    const rate = sec > 0 ? (e.step - this.first.step) / sec : 0;
    const info = {
      step: e.step,
      totalSteps: total,
      epoch: 0,
      epochs: undefined,
      loss: lossG ?? Number.NaN,
      metrics,
      stepsPerSec: rate,
      examplesPerSec: undefined,
      etaSec: total !== undefined && rate > 0 ? (total - e.step) / rate : undefined,
      skipped: 0,
    };
    if (last) this.reporter.finish(info);
    else this.reporter.update(info);
    this.sums = {};
    this.n = 0;
  }
}
