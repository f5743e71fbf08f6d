/**
 * Line plots of metrics over steps as self-contained SVG (no dependencies; opens in any
 * browser, embeds in Markdown and the docs site).
 */
import { ValueError } from '../errors.js';
import { nodeFs, writeFileAtomic } from '../nn/io.js';
import type { HistoryEntry, ValidationEntry } from './types.js';

/** One line: (x, y) points; a non-finite y breaks the line. */
export interface Series {
  name: string;
  points: [number, number][];
}

/** Options of {@link linePlotSvg}. */
export interface LinePlotOptions {
  title?: string;
  xLabel?: string;
  yLabel?: string;
  /** Pixels. Default 640 x 400. */
  width?: number;
  height?: number;
  /** Logarithmic y axis (non-positive values are dropped). Default false. */
  logY?: boolean;
}

const COLORS = [
  '#1f77b4',
  '#d62728',
  '#2ca02c',
  '#ff7f0e',
  '#9467bd',
  '#8c564b',
  '#e377c2',
  '#7f7f7f',
];

function esc(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** "Nice" tick values covering [lo, hi] (steps of 1, 2 or 5 times a power of ten). */
function ticks(lo: number, hi: number, target = 6): number[] {
  if (hi === lo) return [lo];
  const raw = (hi - lo) / target;
  const p = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * p).find((s) => s >= raw) ?? 10 * p;
  const out: number[] = [];
  for (let t = Math.ceil(lo / step) * step; t <= hi + step * 1e-9; t += step)
    out.push(Number(t.toPrecision(12)));
  return out;
}

function fmtTick(v: number): string {
  const a = Math.abs(v);
  if (a !== 0 && (a >= 1e5 || a < 1e-3)) return v.toExponential(1).replace('e+', 'e');
  return String(Number(v.toPrecision(4)));
}

/**
 * An SVG line plot of one or more series, with axes, ticks, labels and a legend.
 *
 * @example
 * ```ts
 * const svg = linePlotSvg([{ name: 'loss', points: [[1, 2.3], [2, 1.7], [3, 1.2]] }], { xLabel: 'step' });
 * ```
 */
export function linePlotSvg(series: readonly Series[], opts: LinePlotOptions = {}): string {
  const W = opts.width ?? 640;
  const H = opts.height ?? 400;
  if (!(W >= 100 && H >= 80))
    throw new ValueError(`linePlotSvg: width and height must be >= 100 x 80, got ${W} x ${H}.`);
  const ty = (y: number) => (opts.logY ? (y > 0 ? Math.log10(y) : Number.NaN) : y);
  const pts = series.map((s) => s.points.map(([x, y]): [number, number] => [x, ty(y)]));
  const finite = pts.flat().filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y));
  let [x0, x1, y0, y1] = [0, 1, 0, 1];
  if (finite.length) {
    x0 = Math.min(...finite.map((p) => p[0]));
    x1 = Math.max(...finite.map((p) => p[0]));
    y0 = Math.min(...finite.map((p) => p[1]));
    y1 = Math.max(...finite.map((p) => p[1]));
  }
  if (x1 === x0) [x0, x1] = [x0 - 1, x1 + 1];
  if (y1 === y0) [y0, y1] = [y0 - (Math.abs(y0) || 1) * 0.1, y1 + (Math.abs(y1) || 1) * 0.1];
  const padY = (y1 - y0) * 0.05;
  y0 -= padY;
  y1 += padY;
  const m = { l: 64, r: 16, t: opts.title ? 32 : 16, b: opts.xLabel ? 48 : 32 };
  const pw = W - m.l - m.r;
  const ph = H - m.t - m.b;
  const sx = (x: number) => m.l + ((x - x0) / (x1 - x0)) * pw;
  const sy = (y: number) => m.t + (1 - (y - y0) / (y1 - y0)) * ph;
  const r = (v: number) => Number(v.toFixed(2));
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="11">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
  ];
  if (opts.title)
    out.push(
      `<text x="${W / 2}" y="20" text-anchor="middle" font-size="14">${esc(opts.title)}</text>`,
    );
  for (const t of ticks(x0, x1)) {
    const x = r(sx(t));
    out.push(`<line x1="${x}" y1="${m.t}" x2="${x}" y2="${m.t + ph}" stroke="#eee"/>`);
    out.push(`<text x="${x}" y="${m.t + ph + 14}" text-anchor="middle">${esc(fmtTick(t))}</text>`);
  }
  for (const t of ticks(y0, y1)) {
    const y = r(sy(t));
    out.push(`<line x1="${m.l}" y1="${y}" x2="${m.l + pw}" y2="${y}" stroke="#eee"/>`);
    const label = opts.logY ? fmtTick(10 ** t) : fmtTick(t);
    out.push(`<text x="${m.l - 6}" y="${y + 4}" text-anchor="end">${esc(label)}</text>`);
  }
  out.push(`<rect x="${m.l}" y="${m.t}" width="${pw}" height="${ph}" fill="none" stroke="#444"/>`);
  if (opts.xLabel) {
    out.push(
      `<text x="${m.l + pw / 2}" y="${H - 10}" text-anchor="middle">${esc(opts.xLabel)}</text>`,
    );
  }
  if (opts.yLabel) {
    out.push(
      `<text transform="translate(14 ${m.t + ph / 2}) rotate(-90)" text-anchor="middle">${esc(opts.yLabel)}${opts.logY ? ' (log)' : ''}</text>`,
    );
  }
  pts.forEach((p, i) => {
    const color = COLORS[i % COLORS.length]!;
    let seg: string[] = [];
    const flush = () => {
      if (seg.length === 1)
        out.push(
          `<circle cx="${seg[0]!.split(',')[0]}" cy="${seg[0]!.split(',')[1]}" r="1.5" fill="${color}"/>`,
        );
      else if (seg.length > 1) {
        out.push(
          `<polyline fill="none" stroke="${color}" stroke-width="1.5" points="${seg.join(' ')}"/>`,
        );
      }
      seg = [];
    };
    for (const [x, y] of p) {
      if (Number.isFinite(x) && Number.isFinite(y)) seg.push(`${r(sx(x))},${r(sy(y))}`);
      else flush();
    }
    flush();
    const ly = m.t + 14 + i * 14;
    out.push(
      `<line x1="${m.l + pw - 110}" y1="${ly - 4}" x2="${m.l + pw - 92}" y2="${ly - 4}" stroke="${color}" stroke-width="2"/>`,
    );
    out.push(`<text x="${m.l + pw - 88}" y="${ly}">${esc(series[i]!.name)}</text>`);
  });
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}

/**
 * Series from a Trainer result: the loss and each metric over steps, plus each validation
 * metric as `val <name>`. `metrics` selects which (by name; `val <name>` for validation).
 *
 * @example
 * ```ts
 * const series = historySeries(await trainer.fit(), ['loss', 'val nll']);
 * ```
 */
export function historySeries(
  result: { history: readonly HistoryEntry[]; validation?: readonly ValidationEntry[] },
  metrics?: readonly string[],
): Series[] {
  const all = new Map<string, [number, number][]>();
  const add = (k: string, x: number, y: number) => {
    if (!all.has(k)) all.set(k, []);
    all.get(k)!.push([x, typeof y === 'number' ? y : Number.NaN]);
  };
  for (const h of result.history) {
    add('loss', h.step, h.loss);
    for (const [k, v] of Object.entries(h.metrics)) add(k, h.step, v);
  }
  for (const v of result.validation ?? [])
    for (const [k, y] of Object.entries(v.metrics)) add(`val ${k}`, v.step, y);
  const names = metrics ?? [...all.keys()];
  return names.map((n) => {
    const points = all.get(n);
    if (!points) {
      throw new ValueError(
        `historySeries: no metric '${n}' in the history; it has ${[...all.keys()].join(', ')}.`,
      );
    }
    return { name: n, points };
  });
}

/**
 * An SVG plot of a Trainer result's loss and metrics over steps.
 *
 * @example
 * ```ts
 * const result = await trainer.fit();
 * await saveSvg('runs/vae/loss.svg', plotHistory(result, { metrics: ['loss'], logY: true }));
 * ```
 */
export function plotHistory(
  result: { history: readonly HistoryEntry[]; validation?: readonly ValidationEntry[] },
  opts: LinePlotOptions & { metrics?: readonly string[] } = {},
): string {
  const { metrics, ...plot } = opts;
  return linePlotSvg(historySeries(result, metrics), { xLabel: 'step', ...plot });
}

/**
 * Writes an SVG string to a file, atomically (Node). Creates the directory if needed.
 *
 * @example
 * ```ts
 * await saveSvg('runs/a/loss.svg', plotHistory(result));
 * ```
 */
export async function saveSvg(path: string, svg: string): Promise<void> {
  const fs = await nodeFs('saveSvg');
  const slash = path.lastIndexOf('/');
  if (slash > 0) await fs.mkdir(path.slice(0, slash), { recursive: true });
  await writeFileAtomic(fs, slash >= 0 ? path : `./${path}`, new TextEncoder().encode(svg));
}
