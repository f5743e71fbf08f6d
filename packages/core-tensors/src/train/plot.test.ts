import { describe, expect, it } from 'vitest';
import { historySeries, linePlotSvg, plotHistory } from './plot.js';
import type { HistoryEntry } from './trainer.js';

function polylines(svg: string): [number, number][][] {
  return [...svg.matchAll(/<polyline [^>]*points="([^"]+)"/g)].map((m) =>
    m[1]!.split(' ').map((p) => p.split(',').map(Number) as [number, number]),
  );
}

describe('linePlotSvg', () => {
  it('draws one polyline per finite run, scaled into the plot box', () => {
    const svg = linePlotSvg(
      [
        {
          name: 'a<b',
          points: [
            [0, 0],
            [1, 1],
            [2, Number.NaN],
            [3, 3],
            [4, 4],
          ],
        },
      ],
      { width: 300, height: 200, title: 'x & y' },
    );
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg" width="300" height="200"')).toBe(
      true,
    );
    expect(svg).toContain('a&#60;b');
    expect(svg).toContain('x &#38; y');
    const lines = polylines(svg);
    expect(lines.map((l) => l.length)).toEqual([2, 2]);
    const [first, second] = lines as [[number, number][], [number, number][]];
    // x increases left to right, y increases upwards, all inside the frame
    expect(first[1]![0]).toBeGreaterThan(first[0]![0]);
    expect(first[1]![1]).toBeLessThan(first[0]![1]);
    expect(second[0]![0]).toBeGreaterThan(first[1]![0]);
    for (const [x, y] of [...first, ...second]) {
      expect(x).toBeGreaterThanOrEqual(64);
      expect(x).toBeLessThanOrEqual(300 - 16);
      expect(y).toBeGreaterThanOrEqual(32);
      expect(y).toBeLessThanOrEqual(200 - 32);
    }
  });

  it('log axis drops non-positive values and spaces decades evenly', () => {
    const svg = linePlotSvg(
      [
        {
          name: 'loss',
          points: [
            [1, 100],
            [2, 10],
            [3, 1],
            [4, 0],
          ],
        },
      ],
      { logY: true },
    );
    const [line] = polylines(svg) as [[number, number][]];
    expect(line).toHaveLength(3);
    expect(line[1]![1] - line[0]![1]).toBeCloseTo(line[2]![1] - line[1]![1], 1);
  });
});

describe('historySeries / plotHistory', () => {
  const history: HistoryEntry[] = [1, 2, 3].map((step) => ({
    step,
    epoch: 0,
    elapsedMs: step,
    loss: 1 / step,
    metrics: { kl: step },
    steps: 1,
    skipped: 0,
  }));
  const validation = [{ step: 3, epoch: 0, elapsedMs: 3, metrics: { nll: 0.5 } }];

  it('turns a Trainer history into series and plots the chosen ones', () => {
    const s = historySeries({ history, validation });
    expect(s.map((x) => x.name)).toEqual(['loss', 'kl', 'val nll']);
    expect(s[0]!.points).toEqual([
      [1, 1],
      [2, 0.5],
      [3, 1 / 3],
    ]);
    const svg = plotHistory({ history, validation }, { metrics: ['loss', 'val nll'] });
    expect(polylines(svg)).toHaveLength(1); // 'val nll' has a single point: a dot
    expect(svg).toContain('<circle');
    expect(svg).toContain('>step</text>');
    expect(() => historySeries({ history }, ['elbo'])).toThrow(/no metric 'elbo'.*loss, kl/);
  });
});
