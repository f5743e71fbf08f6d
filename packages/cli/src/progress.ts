/**
 * The CLI's progress display: on a terminal one bar redrawn in place, fitted to the terminal's
 * width by dropping the metrics rather than the rate and ETA at the end of the line; elsewhere
 * core-tensors' `ProgressReporter` (plain lines). The text of a line is core's `formatProgress`.
 */
import {
  formatProgress,
  type ProgressInfo,
  ProgressReporter,
  type ProgressStream,
} from '@dgm-js/core-tensors';

/** The bar's fixed part: `[` + 10 to 30 marks + `] 100% `, and the terminal's last column. */
const BAR_ROOM = 10 + 8 + 1;

/**
 * The info to show: on a terminal, without its metrics when they would push the rate and ETA
 * past the terminal's width; a non-finite mean loss (a line with no new step) shows the last
 * finite one.
 */
export function fitProgress(
  p: ProgressInfo,
  columns: number | undefined,
  lastLoss: number,
): ProgressInfo {
  const q = Number.isFinite(p.loss) || !Number.isFinite(lastLoss) ? p : { ...p, loss: lastLoss };
  if (columns === undefined) return q;
  return formatProgress(q).length + BAR_ROOM <= columns - 1 ? q : { ...q, metrics: {} };
}

/** A progress display on `stream`: `update` for each line the trainer makes, `finish` once. */
export class CliProgress {
  private readonly reporter: ProgressReporter;
  private last: ProgressInfo | undefined;
  private lastLoss = Number.NaN;

  constructor(
    private readonly stream: ProgressStream,
    totalSteps: number,
  ) {
    this.reporter = new ProgressReporter({
      stream,
      ...(stream.isTTY ? {} : { everySteps: Math.max(1, Math.round(totalSteps / 20)) }),
    });
  }

  /** Whether a line is due at `step` (the reporter's own schedule). */
  due(step: number): boolean {
    return this.reporter.due(step);
  }

  /** Shows a line (not the trainer's closing repeat of the last step, which has no new loss). */
  update(p: ProgressInfo): void {
    if (!Number.isFinite(p.loss) && this.last?.step === p.step) return;
    const q = fitProgress(p, this.columns(), this.lastLoss);
    if (Number.isFinite(p.loss)) this.lastLoss = p.loss;
    this.last = q;
    if (this.stream.isTTY) this.stream.write(`\r\u001b[2K${this.bar(q)}`);
    else this.reporter.update(q);
  }

  /** A message on its own line (the bar stays intact on a terminal). */
  log(message: string): void {
    if (!this.stream.isTTY) this.reporter.log(message);
    else this.stream.write(`\r\u001b[2K${message}\n${this.last ? this.bar(this.last) : ''}`);
  }

  /** The final line (the last one shown, or `p`). */
  finish(p?: ProgressInfo): void {
    const q = p ? fitProgress(p, this.columns(), this.lastLoss) : this.last;
    if (!q) return;
    if (this.stream.isTTY) this.stream.write(`\r\u001b[2K${this.bar(q)}\n`);
    else this.reporter.finish(q);
  }

  /** `[####......]  40% <text>`, at most the terminal's width less one column. */
  private bar(p: ProgressInfo): string {
    const text = formatProgress(p);
    const cols = this.columns() ?? 80;
    const total = p.totalSteps;
    if (total === undefined || total <= 0) return text.slice(0, cols - 1);
    const frac = Math.min(1, p.step / total);
    const width = Math.max(10, Math.min(30, cols - 1 - text.length - 8));
    const full = Math.round(frac * width);
    const pct = String(Math.floor(frac * 100)).padStart(3);
    return `[${'#'.repeat(full)}${'.'.repeat(width - full)}] ${pct}% ${text}`.slice(0, cols - 1);
  }

  /** The terminal's width (80 when it does not say), or undefined when not a terminal. */
  private columns(): number | undefined {
    if (!this.stream.isTTY) return undefined;
    const c = this.stream.columns;
    return c !== undefined && c > 0 ? c : 80;
  }
}
