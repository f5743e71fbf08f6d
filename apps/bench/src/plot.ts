/**
 * A small SVG line-plot helper for benchmark figures: linear or log axes, several series with
 * markers and/or lines (dashed for analytic curves), a legend. No dependencies; the SVG is
 * self-contained text.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/** One curve. */
export interface Series {
  name: string;
  points: readonly (readonly [number, number])[];
  /** Draw a dashed line (analytic references). Default false. */
  dashed?: boolean;
  /** Draw markers at the points. Default true when there are <= 40 points. */
  markers?: boolean;
  /** Draw the connecting line. Default true. */
  line?: boolean;
  /** CSS colour; default from a palette. */
  color?: string;
}

/** A line plot. */
export interface PlotSpec {
  title: string;
  xLabel: string;
  yLabel: string;
  xLog?: boolean;
  yLog?: boolean;
  series: readonly Series[];
  width?: number;
  height?: number;
  /** Corner of the legend. Default 'top-right'. */
  legend?: 'top-right' | 'top-left' | 'bottom-right' | 'bottom-left';
}

const PALETTE = [
  '#1f77b4',
  '#d62728',
  '#2ca02c',
  '#ff7f0e',
  '#9467bd',
  '#8c564b',
  '#e377c2',
  '#17becf',
];

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function fmtTick(v: number): string {
  if (v === 0) return '0';
  const a = Math.abs(v);
  if (a >= 1e4 || a < 1e-3) {
    const e = Math.floor(Math.log10(a));
    const m = v / 10 ** e;
    return Math.abs(m - 1) < 1e-9 ? `1e${e}` : `${+m.toFixed(2)}e${e}`;
  }
  return String(+v.toPrecision(4));
}

/** Tick positions for [lo, hi] (data units). */
function ticks(lo: number, hi: number, log: boolean): number[] {
  if (log) {
    const a = Math.floor(Math.log10(lo));
    const b = Math.ceil(Math.log10(hi));
    const out: number[] = [];
    const mult = b - a <= 2 ? [1, 2, 5] : [1];
    for (let e = a; e <= b; e++) {
      for (const m of mult) {
        const v = m * 10 ** e;
        if (v >= lo * (1 - 1e-9) && v <= hi * (1 + 1e-9)) out.push(v);
      }
    }
    return out;
  }
  const span = hi - lo || Math.abs(hi) || 1;
  const raw = span / 5;
  const p = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * p).find((s) => span / s <= 6) ?? 10 * p;
  const out: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step)
    out.push(+v.toPrecision(12));
  return out;
}

/**
 * Renders a line plot as SVG text. Non-finite points, and non-positive ones on log axes, are
 * skipped.
 *
 * @example
 * ```ts
 * const svg = linePlot({ title: 'var vs N', xLabel: 'N', yLabel: 'variance', xLog: true, yLog: true,
 *   series: [{ name: 'measured', points: [[10, 8.7], [100, 0.87]] }] });
 * ```
 */
export function linePlot(spec: PlotSpec): string {
  const W = spec.width ?? 640;
  const H = spec.height ?? 420;
  const m = { l: 70, r: 20, t: 40, b: 55 };
  const ok = (x: number, y: number) =>
    Number.isFinite(x) && Number.isFinite(y) && (!spec.xLog || x > 0) && (!spec.yLog || y > 0);
  const pts = spec.series.flatMap((s) => s.points.filter(([x, y]) => ok(x, y)));
  let [x0, x1] = [Math.min(...pts.map((p) => p[0])), Math.max(...pts.map((p) => p[0]))];
  let [y0, y1] = [Math.min(...pts.map((p) => p[1])), Math.max(...pts.map((p) => p[1]))];
  if (!pts.length) [x0, x1, y0, y1] = [1, 10, 1, 10];
  const pad = (lo: number, hi: number, log: boolean): [number, number] => {
    if (log) {
      const a = Math.log10(lo);
      const b = Math.log10(hi);
      const d = Math.max(b - a, 0.3) * 0.05;
      return [10 ** (a - d), 10 ** (b + d)];
    }
    const d = (hi - lo || Math.abs(hi) || 1) * 0.05;
    return [lo - d, hi + d];
  };
  [x0, x1] = pad(x0, x1, !!spec.xLog);
  [y0, y1] = pad(y0, y1, !!spec.yLog);
  const tx = (x: number) => {
    const u = spec.xLog
      ? (Math.log10(x) - Math.log10(x0)) / (Math.log10(x1) - Math.log10(x0))
      : (x - x0) / (x1 - x0);
    return m.l + u * (W - m.l - m.r);
  };
  const ty = (y: number) => {
    const u = spec.yLog
      ? (Math.log10(y) - Math.log10(y0)) / (Math.log10(y1) - Math.log10(y0))
      : (y - y0) / (y1 - y0);
    return H - m.b - u * (H - m.t - m.b);
  };
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${W / 2}" y="22" text-anchor="middle" font-size="15">${esc(spec.title)}</text>`,
  ];
  for (const v of ticks(x0, x1, !!spec.xLog)) {
    const x = tx(v).toFixed(1);
    out.push(
      `<line x1="${x}" y1="${m.t}" x2="${x}" y2="${H - m.b}" stroke="#e5e5e5"/>`,
      `<text x="${x}" y="${H - m.b + 16}" text-anchor="middle">${fmtTick(v)}</text>`,
    );
  }
  for (const v of ticks(y0, y1, !!spec.yLog)) {
    const y = ty(v).toFixed(1);
    out.push(
      `<line x1="${m.l}" y1="${y}" x2="${W - m.r}" y2="${y}" stroke="#e5e5e5"/>`,
      `<text x="${m.l - 6}" y="${(+y + 4).toFixed(1)}" text-anchor="end">${fmtTick(v)}</text>`,
    );
  }
  out.push(
    `<rect x="${m.l}" y="${m.t}" width="${W - m.l - m.r}" height="${H - m.t - m.b}" fill="none" stroke="#333"/>`,
    `<text x="${(m.l + W - m.r) / 2}" y="${H - 14}" text-anchor="middle">${esc(spec.xLabel)}${spec.xLog ? ' (log)' : ''}</text>`,
    `<text transform="translate(16 ${(m.t + H - m.b) / 2}) rotate(-90)" text-anchor="middle">${esc(spec.yLabel)}${spec.yLog ? ' (log)' : ''}</text>`,
  );
  spec.series.forEach((s, i) => {
    const color = s.color ?? PALETTE[i % PALETTE.length]!;
    const p = s.points.filter(([x, y]) => ok(x, y));
    if (p.length && s.line !== false) {
      const d = p
        .map(([x, y], j) => `${j ? 'L' : 'M'}${tx(x).toFixed(1)} ${ty(y).toFixed(1)}`)
        .join(' ');
      out.push(
        `<path d="${d}" fill="none" stroke="${color}" stroke-width="1.8"${s.dashed ? ' stroke-dasharray="6 4"' : ''}/>`,
      );
    }
    if (s.markers ?? p.length <= 40) {
      for (const [x, y] of p) {
        out.push(
          `<circle cx="${tx(x).toFixed(1)}" cy="${ty(y).toFixed(1)}" r="3.2" fill="${color}"/>`,
        );
      }
    }
  });
  // legend
  const corner = spec.legend ?? 'top-right';
  const lw = Math.max(...spec.series.map((s) => s.name.length)) * 6.6 + 40;
  const lh = spec.series.length * 18 + 8;
  const lx = corner.endsWith('right') ? W - m.r - lw - 8 : m.l + 8;
  const ly = corner.startsWith('top') ? m.t + 8 : H - m.b - lh - 8;
  out.push(
    `<rect x="${lx}" y="${ly}" width="${lw}" height="${lh}" fill="white" fill-opacity="0.85" stroke="#999"/>`,
  );
  spec.series.forEach((s, i) => {
    const color = s.color ?? PALETTE[i % PALETTE.length]!;
    const y = ly + 14 + i * 18;
    out.push(
      `<line x1="${lx + 8}" y1="${y - 4}" x2="${lx + 30}" y2="${y - 4}" stroke="${color}" stroke-width="2"${s.dashed ? ' stroke-dasharray="6 4"' : ''}/>`,
      `<text x="${lx + 36}" y="${y}">${esc(s.name)}</text>`,
    );
  });
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}

/**
 * Writes `svg` to `<resultsDir>/figures/<file>` and returns the entry for a suite's `figures`
 * (path relative to the results directory).
 */
export async function writeFigure(
  resultsDir: string,
  file: string,
  title: string,
  svg: string,
): Promise<{ title: string; path: string }> {
  const dir = join(resultsDir, 'figures');
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, file), svg);
  return { title, path: `figures/${file}` };
}
