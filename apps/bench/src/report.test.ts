import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expectNoLeaks } from '@dgm-js/test-utils';
import { describe, expect, it } from 'vitest';
import { ratioOf, type SuiteResult, writeFigure, writeSuite } from './report.js';
import { makeConvStep, makeMlpStep } from './suites/kernels.js';

describe('results files and REPORT.md', () => {
  it('writes <suite>.json in the documented schema and a report table', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'dgm-bench-'));
    const result: SuiteResult = {
      suite: 'demo',
      profile: 'quick',
      backend: 'wasm',
      date: '2026-01-01T00:00:00.000Z',
      rows: [
        {
          name: 'a-step',
          value: 20,
          unit: 'ms',
          peer: { name: 'pytorch', value: 5 },
          ratio: ratioOf(20, 5),
        },
        { name: 'b-step', value: 3, unit: 'ms', peer: null, ratio: null },
      ],
      notes: ['a note'],
    };
    // another tool's JSON in the same folder (the kernels speed guard's) is skipped by the report
    await writeFile(join(dir, 'check-kernels.json'), '{"ok": true, "levels": []}');
    await writeSuite(dir, result);
    const back = JSON.parse(await readFile(join(dir, 'demo.json'), 'utf8'));
    expect(back).toEqual(result);
    expect(back.rows[0].ratio).toBe(4);
    const md = await readFile(join(dir, 'REPORT.md'), 'utf8');
    expect(md).toContain('| `a-step` | 20.000 | ms | pytorch | 5.000 | 4.000 |');
    expect(md).toContain('| `b-step` | 3.000 | ms | — | — | — |');
    expect(md).toContain('- a note');
    await rm(dir, { recursive: true });
  });
  it('writeFigure writes <dir>/figures/<file> and returns the entry for `figures`', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'dgm-bench-'));
    const svg = '<svg xmlns="http://www.w3.org/2000/svg"></svg>\n';
    const fig = await writeFigure(dir, 'a.svg', 'A', svg);
    expect(fig).toEqual({ title: 'A', path: 'figures/a.svg' });
    expect(await readFile(join(dir, fig.path), 'utf8')).toBe(svg);
    await rm(dir, { recursive: true });
  });
  it('ratioOf is null without a positive peer value', () => {
    expect(ratioOf(1, null)).toBeNull();
    expect(ratioOf(1, 0)).toBeNull();
    expect(ratioOf(Number.NaN, 2)).toBeNull();
    expect(ratioOf(3, 2)).toBe(1.5);
  });
});

describe('the benchmarked training steps', () => {
  it('MLP step lowers its loss and leaks nothing', async () => {
    await expectNoLeaks(() => {
      const m = makeMlpStep(1);
      const first = m.step();
      let last = first;
      for (let i = 0; i < 5; i++) last = m.step();
      m.dispose();
      expect(last).toBeLessThan(first);
    }, 'mlp step');
  });
  it('conv-net step trains on the default backend (loss falls) and leaks nothing', async () => {
    await expectNoLeaks(() => {
      const m = makeConvStep(2);
      const first = m.step();
      let last = first;
      for (let i = 0; i < 3; i++) last = m.step();
      m.dispose();
      expect(Number.isFinite(last)).toBe(true);
      expect(last).toBeLessThan(first);
    }, 'conv step');
  });
});
