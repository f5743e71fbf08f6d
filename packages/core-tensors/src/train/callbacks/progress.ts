/**
 * Progress output as a Trainer callback: a bar redrawn in place on a terminal, plain lines
 * elsewhere (see {@link ProgressReporter}), and the messages other callbacks `say`.
 */
import type { Callback, FitEndEvent, StepEndEvent, TrainerHandle } from '../callback.js';
import { type ProgressInfo, type ProgressOptions, ProgressReporter } from '../progress.js';
import { type Accumulator, emptyAcc } from '../types.js';

/** Options of {@link ProgressCallback}. */
export interface ProgressCallbackOptions extends ProgressOptions {
  /** Print nothing (`onProgress` is still called). */
  quiet?: boolean;
  /** Called whenever a progress line is due (also when quiet). */
  onProgress?: (info: ProgressInfo) => void;
}

function now(): number {
  return typeof performance !== 'undefined' ? performance.now() : Date.now();
}

/**
 * The Trainer's progress output (`TrainerOptions.quiet`, `progress`, `onProgress`): mean loss
 * and metrics since the last line, steps and examples per second, ETA; and every message the
 * Trainer and its callbacks `say` (warnings, validation results), unless quiet.
 *
 * @example
 * ```ts
 * new Trainer({ ...opts, progress: { stream: process.stdout, everySteps: 100 } });
 * ```
 */
export class ProgressCallback implements Callback {
  readonly name = 'progress';
  private readonly opts: ProgressCallbackOptions;
  private reporter: ProgressReporter | undefined;
  private acc: Accumulator = emptyAcc();
  private sessionStart = 0;
  private sessionStartStep = 0;
  private examples = 0;
  private examplesKnown = true;
  /** The last mean loss and metrics shown, for a closing line with no step since. */
  private lastLoss = Number.NaN;
  private lastMetrics: Record<string, number> = {};

  constructor(opts: ProgressCallbackOptions = {}) {
    this.opts = opts;
  }

  /** One reporter per `fit` (messages may come before `onFitStart`, e.g. while resuming). */
  private get out(): ProgressReporter {
    this.reporter ??= new ProgressReporter(this.opts);
    return this.reporter;
  }

  onFitStart(t: TrainerHandle): void {
    void this.out;
    this.sessionStart = now();
    this.sessionStartStep = t.step;
    this.examples = 0;
    this.examplesKnown = true;
  }

  onMessage(_t: TrainerHandle, message: string): void {
    if (!this.opts.quiet) this.out.log(message);
  }

  onStepEnd(t: TrainerHandle, e: StepEndEvent): void {
    if (e.examples === undefined) this.examplesKnown = false;
    else this.examples += e.examples;
    if (e.applied) {
      const a = this.acc;
      a.n++;
      a.loss += e.loss;
      for (const [k, v] of Object.entries(e.metrics)) a.metrics[k] = (a.metrics[k] ?? 0) + v;
    }
    if (t.stopping) return;
    if (this.out.due(t.step)) this.show(t, false);
  }

  onFitEnd(t: TrainerHandle, e: FitEndEvent): void {
    if (e.stopReason !== undefined) this.show(t, true);
    this.reporter = undefined;
  }

  private show(t: TrainerHandle, final: boolean): void {
    const sec = Math.max((now() - this.sessionStart) / 1000, 1e-9);
    const steps = t.step - this.sessionStartStep;
    const total = t.totalSteps;
    const sps = steps / sec;
    const a = this.acc;
    const n = Math.max(a.n, 1);
    const info: ProgressInfo = {
      step: t.step,
      totalSteps: total,
      epoch: t.epoch,
      epochs: t.epochs,
      // no applied step since the last line (e.g. the closing line right after one): repeat the
      // last means rather than show NaN
      loss: a.n > 0 ? a.loss / n : this.lastLoss,
      metrics:
        a.n > 0
          ? Object.fromEntries(Object.entries(a.metrics).map(([k, v]) => [k, v / n]))
          : { ...this.lastMetrics },
      stepsPerSec: sps,
      examplesPerSec: this.examplesKnown && steps > 0 ? this.examples / sec : undefined,
      etaSec: total !== undefined && sps > 0 ? Math.max(total - t.step, 0) / sps : undefined,
      skipped: t.skippedSteps,
    };
    if (a.n > 0) {
      this.lastLoss = info.loss;
      this.lastMetrics = { ...info.metrics };
    }
    if (a.n > 0 || final) this.acc = emptyAcc();
    this.opts.onProgress?.(info);
    if (this.opts.quiet) return;
    if (final) this.out.finish(info);
    else this.out.update(info);
  }
}
