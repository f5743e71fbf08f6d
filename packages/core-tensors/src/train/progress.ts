/**
 * Progress output of the Trainer: a one-line bar redrawn in place on a terminal, plain periodic
 * lines elsewhere (CI logs, files, the browser console).
 */

/** Where progress goes: anything with `write` (process.stderr, a test buffer). */
export interface ProgressStream {
  write(text: string): unknown;
  /** A terminal: redraw one line with '\r' instead of printing lines. */
  isTTY?: boolean;
  /** Terminal width, to fit the bar. */
  columns?: number;
}

/** What a progress line shows. */
export interface ProgressInfo {
  /** Steps completed. */
  step: number;
  /** The step budget, when known. */
  totalSteps: number | undefined;
  /** The current epoch (0-based) and the epoch budget. */
  epoch: number;
  epochs: number | undefined;
  /**
   * The mean loss over the steps since the last line (applied steps only); the previous line's
   * when no step was applied since. NaN when no step was ever applied (the line then omits it).
   */
  loss: number;
  /** Mean metrics over the same steps. */
  metrics: Record<string, number>;
  /** Steps per second over this session. */
  stepsPerSec: number;
  /** Examples per second, when batch sizes are known. */
  examplesPerSec: number | undefined;
  /** Seconds to the end of the budget, when it is known. */
  etaSec: number | undefined;
  /** Non-finite steps skipped so far. */
  skipped: number;
}

/**
 * A number in 4 significant digits, switching to exponent form when very large or small.
 *
 * @example
 * ```ts
 * fmtNum(0.000123456); // '1.235e-4'
 * fmtNum(88.41234); // '88.41'
 * ```
 */
export function fmtNum(x: number): string {
  if (!Number.isFinite(x)) return String(x);
  if (x === 0) return '0';
  const a = Math.abs(x);
  if (a >= 1e5 || a < 1e-3) return x.toExponential(3).replace('e+', 'e');
  return Number(x.toPrecision(4)).toString();
}

/**
 * Seconds as `h:mm:ss` or `m:ss`.
 *
 * @example
 * ```ts
 * fmtDuration(3725); // '1:02:05'
 * ```
 */
export function fmtDuration(sec: number): string {
  if (!Number.isFinite(sec) || sec < 0) return '?';
  const s = Math.round(sec);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const r = String(s % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${r}` : `${m}:${r}`;
}

/**
 * The text of a progress line (no bar): step, epoch, loss, metrics, speed, ETA.
 *
 * @example
 * ```ts
 * formatProgress({ step: 120, totalSteps: 1000, epoch: 0, epochs: undefined, loss: 0.5, metrics: { kl: 3 },
 *   stepsPerSec: 40, examplesPerSec: 1280, etaSec: 22, skipped: 0 });
 * // 'step 120/1000 | loss 0.5 kl 3 | 40 steps/s 1280 ex/s | ETA 0:22'
 * ```
 */
export function formatProgress(p: ProgressInfo): string {
  return formatParts(p, FULL);
}

/** Which optional parts a progress line shows (the bar drops them to fit a narrow terminal). */
interface LineParts {
  /** How many metrics to show (in insertion order). */
  metrics: number;
  loss: boolean;
  examples: boolean;
  epoch: boolean;
  skipped: boolean;
}

const FULL: LineParts = {
  metrics: Number.POSITIVE_INFINITY,
  loss: true,
  examples: true,
  epoch: true,
  skipped: true,
};

function formatParts(p: ProgressInfo, w: LineParts): string {
  const parts: string[] = [];
  let head = `step ${p.step}${p.totalSteps !== undefined ? `/${p.totalSteps}` : ''}`;
  if (w.epoch && p.epochs !== undefined) {
    head += ` epoch ${Math.min(p.epoch + 1, p.epochs)}/${p.epochs}`;
  }
  parts.push(head);
  // a NaN loss means no step was averaged (e.g. nothing ran since the last line): show none
  if (w.loss && Number.isFinite(p.loss)) {
    const m = Object.entries(p.metrics)
      .slice(0, w.metrics)
      .map(([k, v]) => `${k} ${fmtNum(v)}`);
    parts.push([`loss ${fmtNum(p.loss)}`, ...m].join(' '));
  }
  let speed = `${fmtNum(p.stepsPerSec)} steps/s`;
  if (w.examples && p.examplesPerSec !== undefined) {
    speed += ` ${Math.round(p.examplesPerSec)} ex/s`;
  }
  parts.push(speed);
  if (p.etaSec !== undefined) parts.push(`ETA ${fmtDuration(p.etaSec)}`);
  if (w.skipped && p.skipped > 0) parts.push(`${p.skipped} skipped (non-finite)`);
  return parts.join(' | ');
}

/**
 * The progress bar line for a terminal `columns` wide (undefined: no limit, a 20-wide bar). The
 * line is at most `columns - 1` characters (a full-width line wraps on some terminals, and a
 * wrapped line cannot be redrawn with '\r'). To fit, it drops metrics first (last first), then
 * the bar (keeping the percentage), then examples/s, the loss, the epoch, the skipped count and
 * the percentage; the step rate and the ETA are always kept (on a terminal too narrow even for
 * them the line keeps its end, so rate and ETA stay visible).
 *
 * @example
 * ```ts
 * progressBarLine(info, 80).length <= 79; // true
 * ```
 */
export function progressBarLine(p: ProgressInfo, columns: number | undefined): string {
  const hasBar = p.totalSteps !== undefined && p.totalSteps > 0;
  const frac = hasBar ? Math.min(1, p.step / p.totalSteps!) : 0;
  const pct = `${String(Math.floor(frac * 100)).padStart(3)}%`;
  const withBar = (text: string, width: number): string => {
    const full = Math.round(frac * width);
    return `[${'#'.repeat(full)}${'.'.repeat(width - full)}] ${pct} ${text}`;
  };
  if (columns === undefined) return hasBar ? withBar(formatProgress(p), 20) : formatProgress(p);
  const avail = Math.max(columns - 1, 1);
  const nMetrics = Object.keys(p.metrics).length;
  // 1. the bar (10 to 30 wide) with as many metrics as fit
  if (hasBar) {
    for (let k = nMetrics; k >= 0; k--) {
      const text = formatParts(p, { ...FULL, metrics: k });
      const width = Math.min(30, avail - text.length - 8);
      if (width >= 10) return withBar(text, width);
    }
  }
  // 2. no bar: drop metrics, then examples/s, loss, epoch, skipped, the percentage
  const prefix = hasBar ? `${pct} ` : '';
  const tries: LineParts[] = [];
  for (let k = nMetrics; k >= 0; k--) tries.push({ ...FULL, metrics: k });
  const lean = { ...FULL, metrics: 0 };
  for (const drop of ['examples', 'loss', 'epoch', 'skipped'] as const) {
    lean[drop] = false;
    tries.push({ ...lean });
  }
  for (const w of tries) {
    const line = `${prefix}${formatParts(p, w)}`;
    if (line.length <= avail) return line;
  }
  const bare = formatParts(p, lean);
  // 3. too narrow even for that: keep the end (rate and ETA)
  return bare.length <= avail ? bare : bare.slice(bare.length - avail);
}

/** Options of {@link ProgressReporter}. */
export interface ProgressOptions {
  /** Default: process.stderr in Node, console.log lines elsewhere. */
  stream?: ProgressStream;
  /** Plain mode: a line every this many steps (default: time-based only). */
  everySteps?: number;
  /** Plain mode: a line at most every this many seconds. Default 10. */
  everySeconds?: number;
}

function defaultStream(): ProgressStream {
  if (
    typeof process !== 'undefined' &&
    process.stderr &&
    typeof process.stderr.write === 'function'
  ) {
    return process.stderr;
  }
  return { write: (s: string) => console.log(s.replace(/\n$/, '')), isTTY: false };
}

/**
 * Writes progress: on a TTY a bar redrawn at most 10 times a second; otherwise a plain line at
 * the first step, then every `everySteps` steps or `everySeconds` seconds, and at the end.
 *
 * @example
 * ```ts
 * const r = new ProgressReporter({ stream: process.stdout });
 * r.update(info);
 * r.finish(info);
 * ```
 */
export class ProgressReporter {
  private readonly stream: ProgressStream;
  private readonly tty: boolean;
  private readonly everySteps: number | undefined;
  private readonly everyMs: number;
  private lastAt = Number.NEGATIVE_INFINITY;
  private lastStep = -1;
  private drawn = false;

  constructor(opts: ProgressOptions = {}) {
    this.stream = opts.stream ?? defaultStream();
    this.tty = this.stream.isTTY === true;
    this.everySteps = opts.everySteps;
    this.everyMs = (opts.everySeconds ?? 10) * 1000;
  }

  /** Whether a line is due at `step` (the caller then computes the info and calls `update`). */
  due(step: number, now = Date.now()): boolean {
    if (this.tty) return now - this.lastAt >= 100;
    if (this.lastStep < 0) return true;
    if (this.everySteps !== undefined && step - this.lastStep >= this.everySteps) return true;
    return now - this.lastAt >= this.everyMs;
  }

  /** Shows `p` (call when `due`). */
  update(p: ProgressInfo, now = Date.now()): void {
    this.lastAt = now;
    this.lastStep = p.step;
    if (this.tty) {
      this.stream.write(`\r\x1b[2K${this.bar(p)}`);
      this.drawn = true;
    } else {
      this.stream.write(`${formatProgress(p)}\n`);
    }
  }

  /** A message on its own line (keeps the bar intact on a TTY). */
  log(message: string): void {
    if (this.tty && this.drawn) {
      this.stream.write(`\r\x1b[2K${message}\n`);
      this.drawn = false;
    } else {
      this.stream.write(`${message}\n`);
    }
  }

  /** The final line. */
  finish(p: ProgressInfo): void {
    if (this.tty) {
      this.stream.write(`\r\x1b[2K${this.bar(p)}\n`);
      this.drawn = false;
    } else if (p.step !== this.lastStep) {
      this.stream.write(`${formatProgress(p)}\n`);
    }
    this.lastStep = p.step;
  }

  private bar(p: ProgressInfo): string {
    return progressBarLine(p, this.stream.columns);
  }
}
