/**
 * Figures with styled series: an SVG line plot with log x and/or y axes, per-series style
 * (dashed analytic references, markers without lines, fixed colours) and a legend in any corner.
 * It accepts everything `linePlotSvg` accepts (same `Series`, same options), so plots of training
 * histories and the benchmark's figures come from one renderer. Self-contained SVG text, no
 * dependencies; write it with `saveSvg`.
 */
import { ValueError } from './errors.js';

/** One curve and how to draw it. A plain `Series` of the training plots is one. */
export interface PlotSeries {
  name: string;
  /** (x, y) points; a non-finite one (or a non-positive one on a log axis) breaks the line. */
  points: readonly (readonly [number, number])[];
  /** Dashed line (analytic references). Default false. */
  dashed?: boolean;
  /** Markers at the points. Default: when the series has at most 40 drawable points. */
  markers?: boolean;
  /** The connecting line. Default true. */
  line?: boolean;
  /** CSS colour. Default: a palette colour by the series' position. */
  color?: string;
}

/** Options of {@link plotSvg}: `linePlotSvg`'s options plus a log x axis and the legend corner. */
export interface PlotOptions {
  title?: string;
  xLabel?: string;
  yLabel?: string;
  /** Pixels. Default 640 x 420. */
  width?: number;
  height?: number;
  /** Logarithmic x axis (points with x <= 0 are dropped). Default false. */
  logX?: boolean;
  /** Logarithmic y axis (points with y <= 0 are dropped). Default false. */
  logY?: boolean;
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
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
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

/** Tick positions covering [lo, hi] in data units: 1-2-5 steps, or decades on a log axis. */
function ticks(lo: number, hi: number, log: boolean): number[] {
  const out: number[] = [];
  if (log) {
    const a = Math.floor(Math.log10(lo));
    const b = Math.ceil(Math.log10(hi));
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
  const p = 10 ** Math.floor(Math.log10(span / 5));
  const step = [1, 2, 5, 10].map((m) => m * p).find((s) => span / s <= 6) ?? 10 * p;
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) {
    out.push(+v.toPrecision(12));
  }
  return out;
}

/** [lo, hi] widened by 5% (of the decades on a log axis) so no point sits on the frame. */
function padRange(lo: number, hi: number, log: boolean): [number, number] {
  if (log) {
    const a = Math.log10(lo);
    const b = Math.log10(hi);
    const d = Math.max(b - a, 0.3) * 0.05;
    return [10 ** (a - d), 10 ** (b + d)];
  }
  const d = (hi - lo || Math.abs(hi) || 1) * 0.05;
  return [lo - d, hi + d];
}

/**
 * Renders a line plot as SVG text: axes with ticks (linear or log), labels, a title, each series
 * as a line and/or markers in its style, and a legend.
 *
 * @example
 * ```ts
 * const svg = plotSvg(
 *   [
 *     { name: 'measured', points: [[10, 8.9], [100, 0.85], [1000, 0.088]], line: false },
 *     { name: 'analytic 87/N', points: [[10, 8.7], [1000, 0.087]], dashed: true, markers: false },
 *   ],
 *   { title: 'variance vs N', xLabel: 'N', yLabel: 'variance', logX: true, logY: true },
 * );
 * await saveSvg('figures/variance.svg', svg);
 * ```
 */
export function plotSvg(series: readonly PlotSeries[], opts: PlotOptions = {}): string {
  const W = opts.width ?? 640;
  const H = opts.height ?? 420;
  if (!(W >= 100 && H >= 80)) {
    throw new ValueError(`plotSvg: width and height must be >= 100 x 80, got ${W} x ${H}.`);
  }
  const logX = opts.logX ?? false;
  const logY = opts.logY ?? false;
  const m = { l: 70, r: 20, t: 40, b: 55 };
  const ok = (x: number, y: number) =>
    Number.isFinite(x) && Number.isFinite(y) && (!logX || x > 0) && (!logY || y > 0);
  const pts = series.flatMap((s) => s.points.filter(([x, y]) => ok(x, y)));
  let [x0, x1, y0, y1] = [1, 10, 1, 10];
  if (pts.length) {
    x0 = Math.min(...pts.map((p) => p[0]));
    x1 = Math.max(...pts.map((p) => p[0]));
    y0 = Math.min(...pts.map((p) => p[1]));
    y1 = Math.max(...pts.map((p) => p[1]));
  }
  [x0, x1] = padRange(x0, x1, logX);
  [y0, y1] = padRange(y0, y1, logY);
  const unit = (v: number, lo: number, hi: number, log: boolean) =>
    log
      ? (Math.log10(v) - Math.log10(lo)) / (Math.log10(hi) - Math.log10(lo))
      : (v - lo) / (hi - lo);
  const tx = (x: number) => m.l + unit(x, x0, x1, logX) * (W - m.l - m.r);
  const ty = (y: number) => H - m.b - unit(y, y0, y1, logY) * (H - m.t - m.b);
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
  ];
  if (opts.title) {
    out.push(
      `<text x="${W / 2}" y="22" text-anchor="middle" font-size="15">${esc(opts.title)}</text>`,
    );
  }
  for (const v of ticks(x0, x1, logX)) {
    const x = tx(v).toFixed(1);
    out.push(
      `<line x1="${x}" y1="${m.t}" x2="${x}" y2="${H - m.b}" stroke="#e5e5e5"/>`,
      `<text x="${x}" y="${H - m.b + 16}" text-anchor="middle">${fmtTick(v)}</text>`,
    );
  }
  for (const v of ticks(y0, y1, logY)) {
    const y = ty(v).toFixed(1);
    out.push(
      `<line x1="${m.l}" y1="${y}" x2="${W - m.r}" y2="${y}" stroke="#e5e5e5"/>`,
      `<text x="${m.l - 6}" y="${(+y + 4).toFixed(1)}" text-anchor="end">${fmtTick(v)}</text>`,
    );
  }
  out.push(
    `<rect x="${m.l}" y="${m.t}" width="${W - m.l - m.r}" height="${H - m.t - m.b}" fill="none" stroke="#333"/>`,
  );
  if (opts.xLabel) {
    out.push(
      `<text x="${(m.l + W - m.r) / 2}" y="${H - 14}" text-anchor="middle">${esc(opts.xLabel)}${logX ? ' (log)' : ''}</text>`,
    );
  }
  if (opts.yLabel) {
    out.push(
      `<text transform="translate(16 ${(m.t + H - m.b) / 2}) rotate(-90)" text-anchor="middle">${esc(opts.yLabel)}${logY ? ' (log)' : ''}</text>`,
    );
  }
  const colorOf = (s: PlotSeries, i: number) => s.color ?? PALETTE[i % PALETTE.length]!;
  const dash = (s: PlotSeries) => (s.dashed ? ' stroke-dasharray="6 4"' : '');
  series.forEach((s, i) => {
    const color = colorOf(s, i);
    const drawable = s.points.filter(([x, y]) => ok(x, y));
    if (s.line !== false) {
      // One path per run of drawable points: a dropped point breaks the line.
      let d: string[] = [];
      const flush = () => {
        if (d.length > 1) {
          out.push(
            `<path d="${d.join(' ')}" fill="none" stroke="${color}" stroke-width="1.8"${dash(s)}/>`,
          );
        }
        d = [];
      };
      for (const [x, y] of s.points) {
        if (ok(x, y)) d.push(`${d.length ? 'L' : 'M'}${tx(x).toFixed(1)} ${ty(y).toFixed(1)}`);
        else flush();
      }
      flush();
    }
    if (s.markers ?? drawable.length <= 40) {
      for (const [x, y] of drawable) {
        out.push(
          `<circle cx="${tx(x).toFixed(1)}" cy="${ty(y).toFixed(1)}" r="3.2" fill="${color}"/>`,
        );
      }
    }
  });
  if (series.length) {
    const corner = opts.legend ?? 'top-right';
    const lw = Math.max(...series.map((s) => s.name.length)) * 6.6 + 40;
    const lh = series.length * 18 + 8;
    const lx = corner.endsWith('right') ? W - m.r - lw - 8 : m.l + 8;
    const ly = corner.startsWith('top') ? m.t + 8 : H - m.b - lh - 8;
    out.push(
      `<rect x="${lx}" y="${ly}" width="${lw}" height="${lh}" fill="white" fill-opacity="0.85" stroke="#999"/>`,
    );
    series.forEach((s, i) => {
      const y = ly + 14 + i * 18;
      out.push(
        `<line x1="${lx + 8}" y1="${y - 4}" x2="${lx + 30}" y2="${y - 4}" stroke="${colorOf(s, i)}" stroke-width="2"${dash(s)}/>`,
        `<text x="${lx + 36}" y="${y}">${esc(s.name)}</text>`,
      );
    });
  }
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}
