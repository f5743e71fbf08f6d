/**
 * FlowGAN killed with SIGKILL mid-run, then resumed: the flow's and the critic's parameters equal
 * an uninterrupted run's exactly (through them, both optimizers' state and the seed stream).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DirectoryCheckpointStore, listCheckpoints, tf } from '@dgm-js/core-tensors';
import { runUntilKilled } from '@dgm-js/test-utils';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { toyFlowGan } from './flowgan-fixture.js';

const here = fileURLToPath(new URL('./', import.meta.url));
const pkgRoot = fileURLToPath(new URL('../', import.meta.url));
let root: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'flowgan-kill-'));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

/** Runs the child trainer and SIGKILLs it once it has printed step `killAt`. */
function runChild(dir: string, steps: number, killAt: number) {
  return runUntilKilled(join(here, 'flowgan-child.ts'), [dir, String(steps), '40'], {
    killAt,
    cwd: pkgRoot,
    backend: tf.getBackend(),
  });
}

it('SIGKILL mid-run, then resume: the same flow and critic as an uninterrupted run', async () => {
  const steps = 10;
  const full = toyFlowGan();
  await full.trainer.fit({ steps });
  const expected = full.state();
  full.dispose();

  const dir = join(root, 'run');
  const child = await runChild(dir, steps, 5);
  expect(child.signal, child.stderr).toBe('SIGKILL');
  const last = child.steps[child.steps.length - 1]!;
  expect(last).toBeGreaterThanOrEqual(5);
  expect(last).toBeLessThan(steps);
  const cks = await listCheckpoints(new DirectoryCheckpointStore(dir));
  expect(cks.length).toBeGreaterThan(0);
  expect(cks.every((c) => c.step % 3 === 0)).toBe(true);

  const resumed = toyFlowGan({ dir, seed: 99 }); // other initial weights: all must come from the checkpoint
  const r = await resumed.trainer.fit({ steps });
  expect(r.resumedFrom).toBe(
    join(dir, `step-${String(cks[cks.length - 1]!.step).padStart(8, '0')}`),
  );
  expect(r.step).toBe(steps);
  const got = resumed.state();
  expect(Object.keys(got)).toEqual(Object.keys(expected));
  for (const k of Object.keys(expected)) expect(got[k], k).toEqual(expected[k]);
  resumed.dispose();
}, 120_000);
