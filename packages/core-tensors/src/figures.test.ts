import { describe, expect, expectTypeOf, it } from 'vitest';
import { ValueError } from './errors.js';
import { type PlotOptions, type PlotSeries, plotSvg } from './figures.js';
import type { LinePlotOptions, Series } from './train/plot.js';

/** The vertices of each `<path>`, with its attributes. */
function paths(svg: string): { pts: [number, number][]; attrs: string }[] {
  return [...svg.matchAll(/<path d="([^"]+)"([^>]*)\/>/g)].map((m) => ({
    pts: m[1]!
      .split(/ ?[ML]/)
      .filter(Boolean)
      .map((p) => p.split(' ').map(Number) as [number, number]),
    attrs: m[2]!,
  }));
}

function circles(svg: string, color: string): [number, number][] {
  return [...svg.matchAll(/<circle cx="([^"]+)" cy="([^"]+)" r="[^"]+" fill="([^"]+)"\/>/g)]
    .filter((m) => m[3] === color)
    .map((m) => [Number(m[1]), Number(m[2])]);
}

describe('plotSvg', () => {
  it('maps points into the frame: x grows rightwards, y upwards, linear spacing kept', () => {
    const svg = plotSvg(
      [
        {
          name: 'a',
          points: [
            [0, 0],
            [1, 2],
            [2, 4],
            [4, 8],
          ],
        },
      ],
      {
        width: 400,
        height: 300,
      },
    );
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg" width="400" height="300"')).toBe(
      true,
    );
    const [p] = paths(svg);
    expect(p!.pts).toHaveLength(4);
    const [a, b, c, d] = p!.pts as [
      [number, number],
      [number, number],
      [number, number],
      [number, number],
    ];
    // equal steps in x give equal pixel steps; y = 2x is a straight line
    expect(b[0] - a[0]).toBeCloseTo(c[0] - b[0], 0);
    expect(d[0] - c[0]).toBeCloseTo(2 * (c[0] - b[0]), 0);
    expect((d[1] - a[1]) / (d[0] - a[0])).toBeCloseTo((b[1] - a[1]) / (b[0] - a[0]), 2);
    expect(b[1]).toBeLessThan(a[1]);
    for (const [x, y] of p!.pts) {
      expect(x).toBeGreaterThan(0);
      expect(x).toBeLessThan(400);
      expect(y).toBeGreaterThan(0);
      expect(y).toBeLessThan(300);
    }
    // the markers sit on the vertices (<= 40 points: markers by default)
    expect(circles(svg, '#1f77b4')).toEqual(p!.pts);
  });

  it('log axes: decades equally spaced, decade ticks, non-positive points dropped and break the line', () => {
    const svg = plotSvg(
      [
        {
          name: 'v',
          points: [
            [10, 8.7],
            [100, 0.87],
            [0, 1],
            [1000, 0.087],
            [10000, 0.0087],
          ],
        },
      ],
      { logX: true, logY: true, xLabel: 'N', yLabel: 'variance' },
    );
    const ps = paths(svg);
    expect(ps.map((p) => p.pts.length)).toEqual([2, 2]);
    const [[a, b], [c, d]] = ps.map((p) => p.pts) as [[number, number][], [number, number][]];
    const dx = b![0] - a![0];
    expect(d![0] - c![0]).toBeCloseTo(dx, 0);
    expect(c![0] - b![0]).toBeCloseTo(dx, 0);
    expect(b![1] - a![1]).toBeCloseTo(d![1] - c![1], 0);
    for (const t of ['>10<', '>100<', '>1000<', '>1e4<', '>0.01<', '>0.1<', '>1<']) {
      expect(svg).toContain(t);
    }
    expect(svg).toContain('N (log)');
    expect(svg).toContain('variance (log)');
  });

  it('draws each series in its style: dashed, markers only, line only, fixed colour', () => {
    const svg = plotSvg([
      {
        name: 'measured',
        points: [
          [1, 1],
          [2, 2],
          [3, 3],
        ],
        line: false,
        color: '#d62728',
      },
      {
        name: 'analytic',
        points: [
          [1, 1],
          [3, 3],
        ],
        dashed: true,
        markers: false,
        color: '#000',
      },
    ]);
    const ps = paths(svg);
    expect(ps).toHaveLength(1);
    expect(ps[0]!.attrs).toContain('stroke="#000"');
    expect(ps[0]!.attrs).toContain('stroke-dasharray="6 4"');
    expect(circles(svg, '#d62728')).toHaveLength(3);
    expect(circles(svg, '#000')).toHaveLength(0);
    // the legend shows both, the dashed one dashed
    expect(svg).toMatch(/<line [^>]*stroke="#000" stroke-width="2" stroke-dasharray="6 4"\/>/);
    expect(svg).toMatch(/<line [^>]*stroke="#d62728" stroke-width="2"\/>/);
  });

  it('puts the legend in the corner asked for and escapes text', () => {
    const legendX = (svg: string) =>
      Number(
        /<rect x="([^"]+)" y="[^"]+" width="[^"]+" height="[^"]+" fill="white" fill-opacity/.exec(
          svg,
        )![1],
      );
    const s = [
      {
        name: 'a<b & "c"',
        points: [
          [1, 1],
          [2, 2],
        ] as [number, number][],
      },
    ];
    const left = plotSvg(s, { legend: 'bottom-left', title: 'x & y' });
    const right = plotSvg(s, { legend: 'top-right' });
    expect(legendX(left)).toBeLessThan(legendX(right));
    expect(left).toContain('a&#60;b &#38; &#34;c&#34;');
    expect(left).toContain('x &#38; y');
  });

  it('rejects a plot too small to draw with a ValueError naming the sizes', () => {
    expect(() => plotSvg([], { width: 50, height: 300 })).toThrow(ValueError);
    expect(() => plotSvg([], { width: 50, height: 300 })).toThrow(/50 x 300/);
    expect(plotSvg([])).toContain('</svg>');
  });

  it('takes what linePlotSvg takes (one renderer for both)', () => {
    expectTypeOf<Series>().toMatchTypeOf<PlotSeries>();
    expectTypeOf<LinePlotOptions>().toMatchTypeOf<PlotOptions>();
  });
});
