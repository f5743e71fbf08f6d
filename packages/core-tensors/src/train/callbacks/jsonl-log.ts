/**
 * The JSONL metrics log as a Trainer callback: one line per history row and per validation.
 */
import type { Callback, FitEndEvent, TrainerHandle, ValidationEvent } from '../callback.js';
import { JsonlLog } from '../log.js';
import type { HistoryEntry } from '../types.js';

function now(): number {
  return typeof performance !== 'undefined' ? performance.now() : Date.now();
}

/**
 * The Trainer's JSONL log (`TrainerOptions.logFile`, Node): `{"type":"train",...}` per history
 * row and `{"type":"validation",...}` per validation, appended in batches (at least every two
 * seconds, before every checkpoint is written and at the end). Flushing in `saveState`, which
 * the checkpointing callback calls before it writes the checkpoint, makes the log durable up to
 * the checkpointed step: a kill right after a checkpoint cannot lose lines that checkpoint
 * covers. On resume the lines the interrupted run wrote after its last checkpoint are dropped,
 * so the file reads as one uninterrupted run with every step exactly once.
 *
 * @example
 * ```ts
 * new Trainer({ ...opts, logFile: 'runs/a/log.jsonl' });
 * ```
 */
export class JsonlLogCallback implements Callback {
  readonly name = 'jsonl-log';
  private readonly log: JsonlLog;
  private opened = false;
  private lastFlush = 0;

  constructor(path: string) {
    this.log = new JsonlLog(path);
  }

  /** Opens the log once per Trainer: after the checkpointing callback has resumed. */
  async onFitStart(t: TrainerHandle): Promise<void> {
    this.lastFlush = now();
    if (this.opened) return;
    await this.log.open(t.checkpointer?.resumedFrom ? t.step : undefined);
    this.opened = true;
  }

  onHistory(_t: TrainerHandle, e: HistoryEntry): void {
    this.log.push({ type: 'train', ...e });
  }

  onValidation(_t: TrainerHandle, e: ValidationEvent): void {
    this.log.push({ type: 'validation', ...e.entry });
  }

  /**
   * Runs while a checkpoint is being built, before it is written: flushes the queued lines so the
   * log on disk covers every step the checkpoint will cover. Saves no state of its own.
   */
  async saveState(): Promise<undefined> {
    await this.flush();
    return undefined;
  }

  async onCheckpoint(): Promise<void> {
    await this.flush();
  }

  async onStepEnd(): Promise<void> {
    if (now() - this.lastFlush >= 2000) await this.flush();
  }

  async onFitEnd(_t: TrainerHandle, e: FitEndEvent): Promise<void> {
    if (e.error === undefined) await this.flush();
    else await this.flush().catch(() => undefined);
  }

  private async flush(): Promise<void> {
    this.lastFlush = now();
    await this.log.flush();
  }
}
