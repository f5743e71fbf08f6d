/**
 * The commands run in this process through `main` (the package entry), to count tensors: train,
 * eval and sample of a VAE, a flow and a GAN free every tensor they make (the first run of each
 * warms tfjs's caches; the second is measured).
 */

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expectNoLeaks } from '@dgm-js/test-utils';
import { afterAll, describe, expect, it } from 'vitest';
import { main } from './index.js';

const dir = mkdtempSync(join(tmpdir(), 'dgm-cli-inproc-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function dgm(args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await main(args, {
    out: (s) => {
      out += s;
    },
    err: (s) => {
      err += s;
    },
    cwd: dir,
  });
  return { code, out, err };
}

const SMALL = ['--train-size', '64', '--batch-size', '16', '--hidden', '8', '--steps', '3'];

describe('in process', () => {
  it.each([
    ['gaussian-vae', ['--latent-dim', '2'], 'elbo,iwae,fid'],
    ['realnvp', ['--couplings', '2'], 'nll,bpd,fid'],
    ['mlp-gan', ['--latent-dim', '4'], 'fid'],
  ])('%s: train, eval and sample leak no tensors', async (model, extra, metrics) => {
    for (const round of ['warm', 'measured']) {
      const run = join(dir, `${model}-${round}`);
      const steps = async () => {
        const t = await dgm(['train', model, ...SMALL, ...extra, '--out', run]);
        expect(t.err).toBe('');
        expect(t.code).toBe(0);
        const e = await dgm([
          'eval',
          run,
          '--metrics',
          metrics,
          '-n',
          '16',
          '-k',
          '3',
          '--fid-samples',
          '16',
          '--json',
        ]);
        expect(e.err).toBe('');
        expect(e.code).toBe(0);
        const rows = (JSON.parse(e.out) as { metrics: { value: number }[] }).metrics;
        for (const r of rows) expect(Number.isFinite(r.value)).toBe(true);
        const s = await dgm(['sample', run, '-n', '4', '--png', join(run, 'g.png')]);
        expect(s.code).toBe(0);
      };
      if (round === 'warm') await steps();
      else await expectNoLeaks(steps, `dgm train/eval/sample ${model}`);
    }
  });
});
