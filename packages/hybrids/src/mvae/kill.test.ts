/**
 * A real process training an MVAE (missing modalities, random subsets, KL warm-up) killed with
 * SIGKILL mid-run, then resumed from its last periodic checkpoint: the parameters equal an
 * uninterrupted run's exactly (the Trainer restores Adam's moments, the step, the data order and
 * the per-step random streams).
 */
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DirectoryCheckpointStore, listCheckpoints, tf } from '@dgm-js/core-tensors';
import { runUntilKilled } from '@dgm-js/test-utils';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { toyMvae } from './fixtures/toy-mvae.js';

const fixtures = fileURLToPath(new URL('./fixtures/', import.meta.url));
const pkgRoot = fileURLToPath(new URL('../../', import.meta.url));
let root: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'mvae-kill-'));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

/** Runs the child trainer and SIGKILLs it once it has printed step `killAt`. */
function runChild(dir: string, steps: number, killAt: number) {
  return runUntilKilled(join(fixtures, 'mvae-child.ts'), [dir, String(steps), '40'], {
    killAt,
    cwd: pkgRoot,
    backend: tf.getBackend(),
  });
}

it('SIGKILL mid-run, then resume: the same MVAE parameters as an uninterrupted run', async () => {
  const steps = 14;
  const full = toyMvae({ steps });
  await full.trainer.fit();
  const expected = full.state();
  full.dispose();

  const dir = join(root, 'run');
  const child = await runChild(dir, steps, 7);
  expect(child.signal, child.stderr).toBe('SIGKILL');
  const last = child.steps[child.steps.length - 1]!;
  expect(last).toBeGreaterThanOrEqual(7);
  expect(last).toBeLessThan(steps);
  const cks = await listCheckpoints(new DirectoryCheckpointStore(dir));
  expect(cks.length).toBeGreaterThan(0);
  expect(cks.every((c) => c.step % 3 === 0)).toBe(true);
  expect(cks[cks.length - 1]!.step).toBeLessThanOrEqual(last);

  const resumed = toyMvae({ steps, dir });
  const r = await resumed.trainer.fit();
  expect(r.resumedFrom).toBe(
    join(dir, `step-${String(cks[cks.length - 1]!.step).padStart(8, '0')}`),
  );
  expect(r.step).toBe(steps);
  const got = resumed.state();
  expect(Object.keys(got)).toEqual(Object.keys(expected));
  for (const k of Object.keys(expected)) expect(got[k], k).toEqual(expected[k]);
  expect((await readdir(dir)).some((f) => f.startsWith('.'))).toBe(false);
  resumed.dispose();
}, 120_000);
