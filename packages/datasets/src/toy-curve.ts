/**
 * The curve-plus-noise toy densities (moons, 2 spirals, swiss roll) and the quadrature over the
 * curve that gives their log-density.
 */
import { LOG_2PI, type Rng } from '@dgm-js/core-tensors';
import { BaseToy, type ToyDensity, type ToyName } from './toy-base.js';
import { Gaussian, logNormCdfDiff, lse } from './toy-math.js';

// ---------------------------------------------------------------------------------------------
// Curve + noise densities (moons, 2 spirals, swiss roll): x = c(t) + noise, t ~ p(t) on
// [t0, t1]. p(x) = sum_comp w int p(t) K(x - c(t)) dt by composite Simpson with nodes spaced
// at most scale/5 apart along the curve (finer far from the curve), summed in log space over
// the nodes that matter (found with a uniform grid).

interface Curve {
  readonly weight: number;
  readonly t0: number;
  readonly t1: number;
  /** Normalised density of t on [t0, t1]. */
  pt(t: number): number;
  /** The node centre for parameter t (curve point plus the kernel's centre offset). */
  at(t: number): [number, number];
  /** An upper bound of |dc/dt| on [t0, t1]. */
  readonly maxSpeed: number;
}

type Kernel =
  | { readonly kind: 'gauss'; readonly std: number }
  | { readonly kind: 'boxgauss'; readonly half: number; readonly std: number };

const LOG_TABLE_RANGE = 12;

/**
 * log(Phi((a - d)/s) - Phi((-a - d)/s)) for d >= 0, the 1-D box-Gaussian kernel (box half-width
 * a, noise s) without its 1/(2a), tabulated on [0, 12] with step s/500 (linear interpolation of
 * a smooth, nearly quadratic function: error < 1e-6); exact beyond.
 */
class LogBoxGauss {
  private readonly step: number;
  private readonly tab: Float64Array;
  constructor(
    private readonly half: number,
    private readonly std: number,
  ) {
    this.step = std / 500;
    this.tab = new Float64Array(Math.ceil(LOG_TABLE_RANGE / this.step) + 2);
    for (let j = 0; j < this.tab.length; j++) {
      this.tab[j] = logNormCdfDiff((half - j * this.step) / std, (-half - j * this.step) / std);
    }
  }
  at(d: number): number {
    if (d >= LOG_TABLE_RANGE)
      return logNormCdfDiff((this.half - d) / this.std, (-this.half - d) / this.std);
    const f = d / this.step;
    const j = f | 0;
    return this.tab[j]! + (f - j) * (this.tab[j + 1]! - this.tab[j]!);
  }
}

/** A uniform grid over points, for nearest-point and within-radius queries. */
class PointGrid {
  private readonly x0: number;
  private readonly y0: number;
  private readonly nx: number;
  private readonly ny: number;
  private readonly start: Int32Array;
  private readonly items: Int32Array;
  private readonly cells: Int32Array;

  constructor(
    private readonly px: Float64Array,
    private readonly py: Float64Array,
    private readonly cell: number,
  ) {
    let x0 = Number.POSITIVE_INFINITY;
    let y0 = Number.POSITIVE_INFINITY;
    let x1 = Number.NEGATIVE_INFINITY;
    let y1 = Number.NEGATIVE_INFINITY;
    for (let i = 0; i < px.length; i++) {
      x0 = Math.min(x0, px[i]!);
      x1 = Math.max(x1, px[i]!);
      y0 = Math.min(y0, py[i]!);
      y1 = Math.max(y1, py[i]!);
    }
    this.x0 = x0;
    this.y0 = y0;
    this.nx = Math.floor((x1 - x0) / cell) + 1;
    this.ny = Math.floor((y1 - y0) / cell) + 1;
    const counts = new Int32Array(this.nx * this.ny + 1);
    const cellOf = new Int32Array(px.length);
    for (let i = 0; i < px.length; i++) {
      const c = Math.floor((py[i]! - y0) / cell) * this.nx + Math.floor((px[i]! - x0) / cell);
      cellOf[i] = c;
      counts[c + 1]! += 1;
    }
    for (let c = 0; c < this.nx * this.ny; c++)
      counts[c + 1] = (counts[c + 1] ?? 0) + (counts[c] ?? 0);
    this.start = counts;
    this.cells = new Int32Array(4 * (Math.max(this.nx, this.ny) + 1) + 4);
    this.items = new Int32Array(px.length);
    const fillAt = counts.slice(0, -1);
    for (let i = 0; i < px.length; i++) this.items[fillAt[cellOf[i]!]!++] = i;
  }

  private clampX(x: number): number {
    return Math.min(this.nx - 1, Math.max(0, Math.floor((x - this.x0) / this.cell)));
  }

  private clampY(y: number): number {
    return Math.min(this.ny - 1, Math.max(0, Math.floor((y - this.y0) / this.cell)));
  }

  /** Squared distance to the nearest point. */
  nearest2(x: number, y: number): number {
    const ci = this.clampX(x);
    const cj = this.clampY(y);
    let best = Number.POSITIVE_INFINITY;
    const maxRing = Math.max(this.nx, this.ny);
    const px = this.px;
    const py = this.py;
    const start = this.start;
    const items = this.items;
    for (let k = 0; k <= maxRing; k++) {
      const lb = (k - 1) * this.cell;
      if (lb > 0 && lb * lb > best) break;
      const nc = this.ringCells(ci, cj, k);
      for (let q = 0; q < nc; q++) {
        const c = this.cells[q]!;
        for (let p = start[c]!; p < start[c + 1]!; p++) {
          const i = items[p]!;
          const dx = x - px[i]!;
          const dy = y - py[i]!;
          const d2 = dx * dx + dy * dy;
          if (d2 < best) best = d2;
        }
      }
    }
    return best;
  }

  /** Writes the indices of the points within distance r of (x, y) into out; returns the count. */
  within(x: number, y: number, r: number, out: Int32Array): number {
    const ci = this.clampX(x);
    const cj = this.clampY(y);
    const r2 = r * r;
    let n = 0;
    const maxRing = Math.max(this.nx, this.ny);
    const px = this.px;
    const py = this.py;
    const start = this.start;
    const items = this.items;
    for (let k = 0; k <= maxRing; k++) {
      if ((k - 1) * this.cell > r) break;
      const nc = this.ringCells(ci, cj, k);
      for (let q = 0; q < nc; q++) {
        const c = this.cells[q]!;
        for (let p = start[c]!; p < start[c + 1]!; p++) {
          const i = items[p]!;
          const dx = x - px[i]!;
          const dy = y - py[i]!;
          if (dx * dx + dy * dy <= r2) out[n++] = i;
        }
      }
    }
    return n;
  }

  /** Writes the ids of the grid cells on ring k around (ci, cj) into `cells`; returns the count. */
  private ringCells(ci: number, cj: number, k: number): number {
    const i0 = ci - k;
    const i1 = ci + k;
    const j0 = cj - k;
    const j1 = cj + k;
    const nx = this.nx;
    let n = 0;
    for (let j = Math.max(0, j0); j <= Math.min(this.ny - 1, j1); j++) {
      if (j === j0 || j === j1) {
        for (let i = Math.max(0, i0); i <= Math.min(nx - 1, i1); i++) this.cells[n++] = j * nx + i;
      } else {
        if (i0 >= 0) this.cells[n++] = j * nx + i0;
        if (i1 <= nx - 1 && k > 0) this.cells[n++] = j * nx + i1;
      }
    }
    return n;
  }
}

class CurveNodes {
  readonly cx: Float64Array;
  readonly cy: Float64Array;
  readonly logw: Float64Array;
  private readonly grid: PointGrid;
  private readonly idx: Int32Array;
  private readonly vals: Float64Array;
  private readonly reach: number;
  private readonly logNorm: number;
  private readonly logBox: LogBoxGauss | null = null;

  constructor(
    curves: readonly Curve[],
    private readonly kernel: Kernel,
    spacing: number,
  ) {
    const cx: number[] = [];
    const cy: number[] = [];
    const lw: number[] = [];
    for (const c of curves) {
      let m = Math.ceil(((c.t1 - c.t0) * c.maxSpeed) / spacing);
      if (m % 2) m++;
      const h = (c.t1 - c.t0) / m;
      for (let i = 0; i <= m; i++) {
        const t = c.t0 + i * h;
        const simpson = i === 0 || i === m ? 1 : i % 2 ? 4 : 2;
        const w = (c.weight * c.pt(t) * simpson * h) / 3;
        if (!(w > 0)) continue;
        const [x, y] = c.at(t);
        cx.push(x);
        cy.push(y);
        lw.push(Math.log(w));
      }
    }
    this.cx = Float64Array.from(cx);
    this.cy = Float64Array.from(cy);
    this.logw = Float64Array.from(lw);
    this.grid = new PointGrid(this.cx, this.cy, 2 * kernel.std);
    this.idx = new Int32Array(cx.length);
    this.vals = new Float64Array(cx.length);
    this.reach = kernel.kind === 'boxgauss' ? kernel.half * Math.SQRT2 : 0;
    this.logNorm =
      kernel.kind === 'gauss'
        ? -LOG_2PI - 2 * Math.log(kernel.std)
        : -2 * Math.log(2 * kernel.half);
    if (kernel.kind === 'boxgauss') this.logBox = new LogBoxGauss(kernel.half, kernel.std);
  }

  /** Squared distance from (x, y) to the nearest node. */
  nearest2(x: number, y: number): number {
    return this.grid.nearest2(x, y);
  }

  logDensityAt(x: number, y: number): number {
    const dmin = Math.sqrt(this.grid.nearest2(x, y));
    // Nodes with (d - r)^2 > (dmin + r)^2 + 80 s^2 contribute < e^-40 of the nearest one
    // (r: the kernel's box half-diagonal, 0 for a Gaussian).
    const r = this.reach;
    const s = this.kernel.std;
    const lim = r + Math.sqrt((dmin + r) ** 2 + 80 * s * s);
    const n = this.grid.within(x, y, lim, this.idx);
    const lb = this.logBox;
    for (let k = 0; k < n; k++) {
      const i = this.idx[k]!;
      const dx = x - this.cx[i]!;
      const dy = y - this.cy[i]!;
      const lk = lb
        ? lb.at(Math.abs(dx)) + lb.at(Math.abs(dy))
        : -(dx * dx + dy * dy) / (2 * s * s);
      this.vals[k] = this.logw[i]! + lk;
    }
    return this.logNorm + lse(this.vals, n);
  }
}

class CurveToy extends BaseToy {
  readonly logDensityMethod = 'quadrature' as const;
  // levels[L] has nodes spaced scale / 5 / 2^L apart along the curve. Far from the curve the
  // integrand over t narrows (its width shrinks like scale^2 / distance), so points farther
  // than 2 scale use finer levels (up to 8x), keeping the relative error ~1e-4 out to 12 scale.
  private readonly levels: (CurveNodes | undefined)[] = [];

  constructor(
    readonly name: ToyName,
    readonly description: string,
    readonly params: Readonly<Record<string, number>>,
    readonly bounds: readonly [number, number, number, number],
    readonly scale: number,
    private readonly curves: readonly Curve[],
    private readonly kernel: Kernel,
    private readonly drawFn: (out: Float32Array, n: number, rng: Rng) => void,
  ) {
    super();
  }

  private level(l: number): CurveNodes {
    let nodes = this.levels[l];
    if (!nodes) {
      nodes = new CurveNodes(this.curves, this.kernel, this.scale / 5 / 2 ** l);
      this.levels[l] = nodes;
    }
    return nodes;
  }

  protected draw(out: Float32Array, n: number, rng: Rng): void {
    this.drawFn(out, n, rng);
  }

  protected logDensityAt(x: number, y: number): number {
    const base = this.level(0);
    const d = Math.sqrt(base.nearest2(x, y));
    const r = d / this.scale;
    // Beyond 12 noise std (log p below ~ -70) a coarser level keeps evaluation cheap; the
    // relative error there grows to ~1e-2.
    const l = r <= 2 ? 0 : r > 12 ? 1 : Math.min(3, Math.ceil(Math.log2(r / 2)));
    return this.level(l).logDensityAt(x, y);
  }
}

/** FFJORD's two moons (internal: see `toyDensity('moons')`). */
export function moons(): ToyDensity {
  const std = 0.2;
  const uniform = () => 1 / Math.PI;
  const curves: Curve[] = [
    {
      weight: 0.5,
      t0: 0,
      t1: Math.PI,
      pt: uniform,
      maxSpeed: 2,
      at: (t) => [2 * Math.cos(t) - 1, 2 * Math.sin(t) - 0.2],
    },
    {
      weight: 0.5,
      t0: 0,
      t1: Math.PI,
      pt: uniform,
      maxSpeed: 2,
      at: (t) => [1 - 2 * Math.cos(t), 0.8 - 2 * Math.sin(t)],
    },
  ];
  return new CurveToy(
    'moons',
    'Two interleaved half circles (radius 2; sklearn make_moons(noise=0.1) * 2 + (-1, -0.2)), t uniform on [0, pi], Gaussian noise std 0.2 (FFJORD).',
    { radius: 2, std, offsetX: -1, offsetY: -0.2 },
    [-4.5, 4.5, -2.6, 3.2],
    std,
    curves,
    { kind: 'gauss', std },
    (out, n, rng) => {
      const g = new Gaussian(rng);
      for (let i = 0; i < n; i++) {
        const c = curves[rng.float() < 0.5 ? 0 : 1]!;
        const [x, y] = c.at(Math.PI * rng.float());
        out[2 * i] = x + std * g.next();
        out[2 * i + 1] = y + std * g.next();
      }
    },
  );
}

/** FFJORD's two spirals (internal). */
export function twoSpirals(): ToyDensity {
  const T = 3 * Math.PI; // 540 degrees
  const std = 0.1;
  const half = 1 / 12; // the uniform jitter U[0, 0.5] / 3 is a box of side 1/6
  const arm = (sign: number): Curve => ({
    weight: 0.5,
    t0: 0,
    t1: T,
    pt: (t) => (2 * t) / (T * T), // t = sqrt(U) * T
    maxSpeed: Math.sqrt(1 + T * T) / 3,
    at: (t) => [sign * ((-Math.cos(t) * t) / 3 + half), sign * ((Math.sin(t) * t) / 3 + half)],
  });
  return new CurveToy(
    '2spirals',
    'Two interleaved spirals (FFJORD): t = sqrt(U) * 3 pi, point +-(-t cos t + U[0, 0.5], t sin t + U[0, 0.5]) / 3 + Gaussian noise std 0.1.',
    { turns: 1.5, std, jitter: 0.5 / 3 },
    [-4.2, 4.2, -4.2, 4.2],
    std,
    [arm(1), arm(-1)],
    { kind: 'boxgauss', half, std },
    (out, n, rng) => {
      const g = new Gaussian(rng);
      for (let i = 0; i < n; i++) {
        const s = rng.float() < 0.5 ? 1 : -1;
        const t = Math.sqrt(rng.float()) * T;
        const x = (-Math.cos(t) * t + 0.5 * rng.float()) / 3;
        const y = (Math.sin(t) * t + 0.5 * rng.float()) / 3;
        out[2 * i] = s * x + std * g.next();
        out[2 * i + 1] = s * y + std * g.next();
      }
    },
  );
}

/** FFJORD's swiss roll (internal). */
export function swissRoll(): ToyDensity {
  const std = 0.2;
  const t0 = 1.5 * Math.PI;
  const t1 = 4.5 * Math.PI;
  const curve: Curve = {
    weight: 1,
    t0,
    t1,
    pt: () => 1 / (t1 - t0),
    maxSpeed: Math.sqrt(1 + t1 * t1) / 5,
    at: (t) => [(t * Math.cos(t)) / 5, (t * Math.sin(t)) / 5],
  };
  return new CurveToy(
    'swissroll',
    'Swiss roll (sklearn make_swiss_roll(noise=1), coordinates x, z, / 5; FFJORD): t uniform on [1.5 pi, 4.5 pi], point (t cos t, t sin t) / 5 + Gaussian noise std 0.2.',
    { tMin: t0, tMax: t1, std, divisor: 5 },
    [-4.2, 4.2, -4.2, 4.2],
    std,
    [curve],
    { kind: 'gauss', std },
    (out, n, rng) => {
      const g = new Gaussian(rng);
      for (let i = 0; i < n; i++) {
        const [x, y] = curve.at(t0 + (t1 - t0) * rng.float());
        out[2 * i] = x + std * g.next();
        out[2 * i + 1] = y + std * g.next();
      }
    },
  );
}
