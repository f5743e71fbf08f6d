/**
 * FlowGAN killed with SIGKILL mid-run, then resumed: the flow's and the critic's parameters equal
 * an uninterrupted run's exactly (through them, both optimizers' state and the seed stream).
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DirectoryCheckpointStore, listCheckpoints, tf } from '@dgm-js/core-tensors';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { toyFlowGan } from './flowgan-fixture.js';

const here = fileURLToPath(new URL('./', import.meta.url));
const pkgRoot = fileURLToPath(new URL('../', import.meta.url));
// tfjs's ESM resolution hooks, shared with core-tensors' Trainer kill test
const hooks = fileURLToPath(
  new URL('../../core-tensors/src/train/fixtures/register-hooks.mjs', import.meta.url),
);
let root: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'flowgan-kill-'));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

function runChild(dir: string, steps: number, killAt: number) {
  return new Promise<{ signal: NodeJS.Signals | null; steps: number[]; stderr: string }>(
    (resolve, reject) => {
      const child = spawn(
        process.execPath,
        [
          '--conditions=source',
          '--import',
          'tsx',
          '--import',
          hooks,
          join(here, 'flowgan-child.ts'),
          dir,
          String(steps),
          '40',
        ],
        {
          cwd: pkgRoot,
          stdio: ['ignore', 'pipe', 'pipe'],
          env: { ...process.env, DGM_BACKEND: tf.getBackend() },
        },
      );
      let out = '';
      let stderr = '';
      let sent = false;
      const seen = () => [...out.matchAll(/step (\d+)\n/g)].map((m) => Number(m[1]));
      child.stdout.on('data', (d: Buffer) => {
        out += d.toString();
        const s = seen();
        if (!sent && s.length && s[s.length - 1]! >= killAt) {
          sent = true;
          child.kill('SIGKILL');
        }
      });
      child.stderr.on('data', (d: Buffer) => {
        stderr += d.toString();
      });
      child.on('error', reject);
      child.on('exit', (_code, signal) => resolve({ signal, steps: seen(), stderr }));
    },
  );
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
