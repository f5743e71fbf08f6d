/**
 * The Trainer's JSONL metrics log (Node): one JSON object per line, appended in batches. On
 * resume the lines after the resumed step (written by the interrupted run after its last
 * checkpoint) are dropped, so the log reads as one uninterrupted run.
 */
import { joinPath, nodeFs, writeFileAtomic } from '../nn/io.js';

/** A buffered JSONL writer (internal). */
export class JsonlLog {
  readonly path: string;
  private pending: string[] = [];

  constructor(path: string) {
    this.path = path;
  }

  /** Starts the log: empty for a fresh run; truncated to steps <= `resumeStep` on resume. */
  async open(resumeStep: number | undefined): Promise<void> {
    const fs = await nodeFs('Trainer log');
    const slash = this.path.lastIndexOf('/');
    if (slash > 0) await fs.mkdir(this.path.slice(0, slash), { recursive: true });
    let keep = '';
    if (resumeStep !== undefined) {
      try {
        const old = await fs.readFile(this.path, 'utf8');
        keep = old
          .split('\n')
          .filter((l) => {
            if (!l.trim()) return false;
            try {
              return (JSON.parse(l) as { step?: number }).step! <= resumeStep;
            } catch {
              return false; // a line cut short by a kill
            }
          })
          .map((l) => `${l}\n`)
          .join('');
      } catch {
        keep = '';
      }
    }
    await writeFileAtomic(
      fs,
      this.path.includes('/') ? this.path : joinPath('.', this.path),
      new TextEncoder().encode(keep),
    );
  }

  /** Queues one record. */
  push(record: Record<string, unknown>): void {
    this.pending.push(`${JSON.stringify(record)}\n`);
  }

  /** Appends the queued records. */
  async flush(): Promise<void> {
    if (this.pending.length === 0) return;
    const text = this.pending.join('');
    this.pending = [];
    const fs = await nodeFs('Trainer log');
    await fs.appendFile(this.path, text);
  }
}
