import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { MemoryCheckpointStore } from '../checkpoint.js';
import { toyTrainer } from '../fixtures/toy.js';
import { JsonlLog } from '../log.js';

let root: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'dgm-jsonl-'));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});
afterEach(() => {
  vi.restoreAllMocks();
});

/**
 * A store that "dies" (as under SIGKILL) right after it has written the checkpoint named
 * `killAfter`: from then on nothing reaches storage, neither checkpoints nor log lines.
 */
class DyingStore extends MemoryCheckpointStore {
  dead = false;
  constructor(private readonly killAfter: string) {
    super();
  }
  override async write(name: string, files: Record<string, Uint8Array>): Promise<string> {
    if (this.dead) return `memory:${name}`;
    const location = await super.write(name, files);
    if (name === this.killAfter) this.dead = true;
    return location;
  }
}

describe('JsonlLogCallback durability', () => {
  it('keeps every step exactly once after a kill right after a checkpoint and a resume', async () => {
    const logFile = join(root, 'crash', 'log.jsonl');
    const store = new DyingStore('step-00000004');
    const flush = JsonlLog.prototype.flush;
    vi.spyOn(JsonlLog.prototype, 'flush').mockImplementation(async function (this: JsonlLog) {
      // the process is gone: queued lines never reach the file
      if (store.dead) {
        (this as unknown as { pending: string[] }).pending = [];
        return;
      }
      await flush.call(this);
    });
    const ctl = new AbortController();
    const a = toyTrainer({
      maxSteps: 12,
      store,
      every: 4,
      logFile,
      signal: ctl.signal,
      onStep: (i) => {
        if (i.step === 6) ctl.abort();
      },
    });
    await a.trainer.fit();
    vi.restoreAllMocks();
    store.dead = false;

    const b = toyTrainer({ maxSteps: 12, store, resume: true, logFile });
    const rb = await b.trainer.fit();
    expect(rb.resumedFrom).toBe('memory:step-00000004');
    const steps = (await readFile(logFile, 'utf8'))
      .trim()
      .split('\n')
      .map((l) => (JSON.parse(l) as { step: number }).step);
    expect(steps).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
    for (const t of [a, b]) {
      t.net.dispose();
      t.optimizer.dispose();
    }
  });
});
