/**
 * The AAE killed with SIGKILL mid-run, then resumed: the encoder's, the decoder's and the
 * critic's parameters equal an uninterrupted run's exactly (through them, all three optimizers'
 * state and the seed stream), and so do the three optimizers' slots.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DirectoryCheckpointStore, listCheckpoints, tf } from '@dgm-js/core-tensors';
import { runUntilKilled } from '@dgm-js/test-utils';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { toyAae } from './aae-fixture.js';

const here = fileURLToPath(new URL('./', import.meta.url));
const pkgRoot = fileURLToPath(new URL('../', import.meta.url));
let root: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'aae-kill-'));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

/** Every optimizer slot of the three players, by player and index. */
async function optimizerState(t: ReturnType<typeof toyAae>['trainer']) {
  const out: Record<string, number[]> = {};
  for (const [name, p] of Object.entries(t.loop.players)) {
    const ws = (await p.optimizer.getWeights()) as { tensor: tf.Tensor }[];
    ws.forEach((w, i) => {
      out[`${name}/${i}`] = Array.from(w.tensor.dataSync());
    });
    for (const w of ws) if (!(w.tensor instanceof tf.Variable)) w.tensor.dispose();
  }
  return out;
}

it('SIGKILL mid-run, then resume: the same encoder, decoder, critic and optimizers as an uninterrupted run', async () => {
  const steps = 10;
  const full = toyAae();
  await full.trainer.fit({ steps });
  const expected = full.state();
  const expectedOpt = await optimizerState(full.trainer);
  full.dispose();

  const dir = join(root, 'run');
  const child = await runUntilKilled(join(here, 'aae-child.ts'), [dir, String(steps), '40'], {
    killAt: 5,
    cwd: pkgRoot,
    backend: tf.getBackend(),
  });
  expect(child.signal, child.stderr).toBe('SIGKILL');
  const last = child.steps[child.steps.length - 1]!;
  expect(last).toBeGreaterThanOrEqual(5);
  expect(last).toBeLessThan(steps);
  const cks = await listCheckpoints(new DirectoryCheckpointStore(dir));
  expect(cks.length).toBeGreaterThan(0);
  expect(cks.every((c) => c.step % 3 === 0)).toBe(true);

  const resumed = toyAae({ dir, seed: 99 }); // other initial weights: all must come from the checkpoint
  const r = await resumed.trainer.fit({ steps });
  expect(r.resumedFrom).toBe(
    join(dir, `step-${String(cks[cks.length - 1]!.step).padStart(8, '0')}`),
  );
  expect(r.step).toBe(steps);
  const got = resumed.state();
  expect(Object.keys(got)).toEqual(Object.keys(expected));
  expect(Object.keys(got).some((k) => k.startsWith('critic'))).toBe(true);
  for (const k of Object.keys(expected)) expect(got[k], k).toEqual(expected[k]);
  const gotOpt = await optimizerState(resumed.trainer);
  expect(Object.keys(gotOpt)).toEqual(Object.keys(expectedOpt));
  for (const k of Object.keys(expectedOpt)) expect(gotOpt[k], k).toEqual(expectedOpt[k]);
  resumed.dispose();
}, 120_000);
