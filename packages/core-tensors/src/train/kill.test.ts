import { spawn } from 'node:child_process';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tf } from '../tf.js';
import { DirectoryCheckpointStore, listCheckpoints } from './checkpoint.js';
import { paramValues, toyTrainer } from './fixtures/toy.js';

const fixtures = fileURLToPath(new URL('./fixtures/', import.meta.url));
const pkgRoot = fileURLToPath(new URL('../../', import.meta.url));

let root: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'dgm-kill-'));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

interface ChildRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  steps: number[];
  stderr: string;
}

/** Runs the child trainer and sends `signal` once it has printed step `killAt`. */
function runChild(dir: string, signal: NodeJS.Signals, killAt: number): Promise<ChildRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        '--import',
        join(fixtures, 'register-hooks.mjs'),
        join(fixtures, 'child.ts'),
        dir,
        '40',
        '30', // ms of sleep per step: time for the parent to send the signal mid-run
      ],
      // the child must compute with the same backend as this process for a bit-exact comparison
      {
        cwd: pkgRoot,
        stdio: ['ignore', 'pipe', 'pipe'],
        env: { ...process.env, DGM_BACKEND: tf.getBackend() },
      },
    );
    let out = '';
    let stderr = '';
    let sent = false;
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      const steps = [...out.matchAll(/step (\d+)\n/g)].map((m) => Number(m[1]));
      if (!sent && steps.length && steps[steps.length - 1]! >= killAt) {
        sent = true;
        child.kill(signal);
      }
    });
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    child.on('error', reject);
    child.on('exit', (code, sig) =>
      resolve({
        code,
        signal: sig,
        steps: [...out.matchAll(/step (\d+)\n/g)].map((m) => Number(m[1])),
        stderr,
      }),
    );
  });
}

describe('Trainer: a real process killed mid-run', () => {
  it('SIGINT saves a checkpoint and exits; SIGKILL loses only the steps since the last one; both resume to the uninterrupted result', async () => {
    const full = toyTrainer({ maxSteps: 40 });
    await full.trainer.fit();
    const expected = paramValues(full.net);

    const dirInt = join(root, 'sigint');
    const dirKill = join(root, 'sigkill');
    const [int, kill] = await Promise.all([
      runChild(dirInt, 'SIGINT', 12),
      runChild(dirKill, 'SIGKILL', 12),
    ]);

    // SIGINT: the trainer finished its step, saved a checkpoint at it, then died of the signal
    expect(int.signal, int.stderr).toBe('SIGINT');
    const lastInt = int.steps[int.steps.length - 1]!;
    expect(lastInt).toBeGreaterThanOrEqual(12);
    expect(lastInt).toBeLessThan(40);
    const ckInt = await listCheckpoints(new DirectoryCheckpointStore(dirInt));
    expect(ckInt[ckInt.length - 1]!.step).toBe(lastInt);

    // SIGKILL: no chance to save; the newest checkpoint is a periodic one (or none if the kill
    // came before step 5), and no partial checkpoint is visible
    expect(kill.signal, kill.stderr).toBe('SIGKILL');
    const ckKill = await listCheckpoints(new DirectoryCheckpointStore(dirKill));
    expect(ckKill.every((c) => c.step % 5 === 0)).toBe(true);
    expect(ckKill[ckKill.length - 1]!.step).toBeGreaterThanOrEqual(10);

    for (const dir of [dirInt, dirKill]) {
      const t = toyTrainer({ maxSteps: 40, dir, resume: true, keep: 100 });
      const r = await t.trainer.fit();
      expect(r.step).toBe(40);
      expect(paramValues(t.net), dir).toEqual(expected);
      expect((await readdir(dir)).some((f) => f.startsWith('.'))).toBe(false);
      t.net.dispose();
      t.optimizer.dispose();
    }
    full.net.dispose();
    full.optimizer.dispose();
  });
});
