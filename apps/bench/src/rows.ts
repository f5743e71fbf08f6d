/**
 * Recording a suite's rows: every suite measures quantities, some beside the PyTorch peer's value
 * of the same quantity, and writes them as {@link Row}s in one shape. This is that one shape's
 * constructor (the suites used to each carry a copy).
 */
import { type Row, ratioOf } from './report.js';
import { progress } from './timing.js';

/** How one row is recorded. */
export interface RowOptions {
  /** A free-form note printed with the row. Omitted from the row when empty. */
  note?: string | undefined;
  /**
   * The peer's value of the same quantity. Recorded (with the peer's name) only when a peer ran;
   * `undefined` (the peer skipped it, or no peer) records `peer: null`.
   */
  peer?: number | undefined;
  /**
   * Whether `value / peer` is a meaningful ratio (a cost or a throughput measured in the same
   * run). Default true; false records the peer's value without a ratio (e.g. its own test NLL).
   */
  ratio?: boolean;
}

/** The peer's label in rows, `pytorch-<version>-1thread`, or null when it did not run. */
export function peerLabel(peer: { torch: string } | null | undefined): string | null {
  return peer ? `pytorch-${peer.torch}-1thread` : null;
}

/**
 * A suite's rows, in the order recorded.
 *
 * @example
 * ```ts
 * const results = new RowTable({ peer: peerLabel(peer), echo: 2 });
 * results.add('mlp-step', 12.3, 'ms', { peer: peer?.mlp_step_ms, note: 'batch 128' });
 * return { suite: 'kernels', profile, backend, date, rows: results.rows, notes };
 * ```
 */
export class RowTable {
  readonly rows: Row[] = [];
  private readonly peerName: string | null;
  private readonly echo: number | undefined;

  /**
   * @param opts.peer the peer's label (see {@link peerLabel}); null when no peer ran.
   * @param opts.echo when set, each row is also printed as a progress line with this many decimals.
   */
  constructor(opts: { peer?: string | null; echo?: number } = {}) {
    this.peerName = opts.peer ?? null;
    this.echo = opts.echo;
  }

  /** Records one row and returns it. */
  add(name: string, value: number, unit: string, opts: RowOptions = {}): Row {
    const peer =
      this.peerName !== null && opts.peer !== undefined
        ? { name: this.peerName, value: opts.peer }
        : null;
    const row: Row = {
      name,
      value,
      unit,
      peer,
      ratio: peer && opts.ratio !== false ? ratioOf(value, peer.value) : null,
    };
    if (opts.note) row.note = opts.note;
    this.rows.push(row);
    if (this.echo !== undefined) {
      const d = this.echo;
      progress(
        `${name}: ${value.toFixed(d)} ${unit}${peer ? ` (peer ${peer.value.toFixed(d)})` : ''}`,
      );
    }
    return row;
  }
}
