import {
  checkInt,
  LOG_2PI,
  Rng,
  ShapeError,
  type Tensor1D,
  type Tensor2D,
  tf,
  ValueError,
} from '@dgm-js/core-tensors';
import type { Dataset, DatasetMeta, FieldSpec, FillBuffers, FillContext } from './dataset.js';
import { Gaussian, LogSumExp, logI0e, logNormCdfDiff, lse } from './toy-math.js';

/** The 2-D toy densities of the flow / GAN literature (FFJORD's definitions). */
export type ToyName =
  | '8gaussians'
  | 'checkerboard'
  | 'moons'
  | 'circles'
  | 'rings'
  | 'pinwheel'
  | '2spirals'
  | 'swissroll';

/**
 * Every toy density's name.
 *
 * @example
 * ```ts
 * import { TOY_NAMES, toyDensity, toyEntropy } from '@dgm-js/datasets';
 * for (const name of TOY_NAMES) console.log(name, toyEntropy(toyDensity(name)).value);
 * ```
 */
export const TOY_NAMES: readonly ToyName[] = [
  '8gaussians',
  'checkerboard',
  'moons',
  'circles',
  'rings',
  'pinwheel',
  '2spirals',
  'swissroll',
];

/** How a toy density's log-density is computed. */
export type LogDensityMethod = 'closed-form' | 'quadrature' | 'root-finding';

/**
 * A 2-D toy density: an exact sampler (reproducible from an {@link Rng}) and its exact
 * log-density, so a model's test NLL can be compared with the best achievable one (the
 * density's entropy, see {@link toyEntropy}).
 *
 * Points are passed as interleaved `[x0, y0, x1, y1, ...]` arrays or `[n, 2]` tensors.
 *
 * @example
 * ```ts
 * import { Rng } from '@dgm-js/core-tensors';
 * import { toyDensity } from '@dgm-js/datasets';
 * const d = toyDensity('moons');
 * const pts = d.sample(10000, new Rng(0));
 * const lp = d.logDensity(pts);
 * const nll = -lp.reduce((a, v) => a + v, 0) / lp.length; // ~ the entropy, 2.39 nats
 * ```
 */
export interface ToyDensity {
  readonly name: ToyName;
  /** One line: what the density is, with its parameters. */
  readonly description: string;
  readonly params: Readonly<Record<string, number>>;
  /** `[xmin, xmax, ymin, ymax]`: a box holding all but a negligible (< 1e-6) part of the mass. */
  readonly bounds: readonly [number, number, number, number];
  /** The density's finest length scale (a noise std or a square's side). */
  readonly scale: number;
  /**
   * `'closed-form'`; `'quadrature'` (a 1-D integral over a curve: relative error of the density
   * ~1e-5 within a few noise std of the data, ~1e-4 out to 12 std, ~1e-2 farther, where
   * log p < -70); `'root-finding'` (pinwheel: roots found to 1e-13; only where they pile up,
   * > 20 radial std out, is their sum replaced by its integral).
   */
  readonly logDensityMethod: LogDensityMethod;
  /** The entropy in nats where known in closed form (checkerboard: ln 32), else null. */
  readonly exactEntropy: number | null;
  /** `n` points as interleaved float32 `[x0, y0, x1, y1, ...]`. */
  sample(n: number, rng: Rng): Float32Array;
  /** `n` points as a `[n, 2]` tensor (the caller disposes it). */
  sampleTensor(n: number, rng: Rng): Tensor2D;
  /** log p at interleaved points `[x0, y0, ...]` (length 2n), float64 (`-Infinity` off the support). */
  logDensity(points: ArrayLike<number>): Float64Array;
  /** log p of a `[n, 2]` tensor, as a `[n]` tensor. A reference value: not differentiable. */
  logProb(x: Tensor2D): Tensor1D;
}

abstract class BaseToy implements ToyDensity {
  abstract readonly name: ToyName;
  abstract readonly description: string;
  abstract readonly params: Readonly<Record<string, number>>;
  abstract readonly bounds: readonly [number, number, number, number];
  abstract readonly scale: number;
  abstract readonly logDensityMethod: LogDensityMethod;
  readonly exactEntropy: number | null = null;
  protected abstract draw(out: Float32Array, n: number, rng: Rng): void;
  protected abstract logDensityAt(x: number, y: number): number;

  sample(n: number, rng: Rng): Float32Array {
    checkInt(n, 'n', `${this.name}.sample`, { min: 0 });
    const out = new Float32Array(2 * n);
    this.draw(out, n, rng);
    return out;
  }

  sampleTensor(n: number, rng: Rng): Tensor2D {
    return tf.tensor2d(this.sample(n, rng), [n, 2]);
  }

  logDensity(points: ArrayLike<number>): Float64Array {
    if (points.length % 2 !== 0) {
      throw new ShapeError(
        `${this.name}.logDensity: points must be interleaved [x0, y0, x1, y1, ...], got an odd length ${points.length}.`,
      );
    }
    const n = points.length / 2;
    const out = new Float64Array(n);
    for (let i = 0; i < n; i++) out[i] = this.logDensityAt(points[2 * i]!, points[2 * i + 1]!);
    return out;
  }

  logProb(x: Tensor2D): Tensor1D {
    if (x.rank !== 2 || x.shape[1] !== 2) {
      throw new ShapeError(
        `${this.name}.logProb: x must have shape [n, 2], got [${x.shape.join(', ')}].`,
      );
    }
    return tf.tensor1d(Float32Array.from(this.logDensity(x.dataSync())));
  }
}

// ---------------------------------------------------------------------------------------------
// 8 gaussians

// FFJORD scales its 8 gaussians by 1 / 1.414 (the literal, not sqrt 2).
// biome-ignore lint/suspicious/noApproximativeNumericConstant: FFJORD's literal, deliberately
const FFJORD_DIVISOR = 1.414;

class EightGaussians extends BaseToy {
  readonly name = '8gaussians' as const;
  readonly description: string;
  readonly params: Readonly<Record<string, number>>;
  readonly bounds: readonly [number, number, number, number];
  readonly scale: number;
  readonly logDensityMethod = 'closed-form' as const;
  private readonly cx: Float64Array;
  private readonly cy: Float64Array;

  constructor(
    readonly radius: number,
    readonly std: number,
  ) {
    super();
    if (!(radius >= 0 && Number.isFinite(radius) && std > 0 && Number.isFinite(std))) {
      throw new ValueError(
        `eightGaussians: radius must be finite and >= 0 and std finite and > 0, got radius ${radius}, std ${std}.`,
      );
    }
    this.description = `Equal mixture of 8 isotropic Gaussians, centres on a circle of radius ${radius} at angles k*pi/4, std ${std}.`;
    this.params = { radius, std, components: 8 };
    const b = radius + 7 * std;
    this.bounds = [-b, b, -b, b];
    this.scale = std;
    this.cx = Float64Array.from({ length: 8 }, (_, k) => radius * Math.cos((k * Math.PI) / 4));
    this.cy = Float64Array.from({ length: 8 }, (_, k) => radius * Math.sin((k * Math.PI) / 4));
  }
  private readonly tmp = new Float64Array(8);

  protected draw(out: Float32Array, n: number, rng: Rng): void {
    const g = new Gaussian(rng);
    for (let i = 0; i < n; i++) {
      const k = Math.floor(rng.float() * 8);
      out[2 * i] = this.cx[k]! + this.std * g.next();
      out[2 * i + 1] = this.cy[k]! + this.std * g.next();
    }
  }

  protected logDensityAt(x: number, y: number): number {
    const s2 = this.std * this.std;
    const c = -Math.log(8) - LOG_2PI - Math.log(s2);
    for (let k = 0; k < 8; k++) {
      const dx = x - this.cx[k]!;
      const dy = y - this.cy[k]!;
      this.tmp[k] = c - (dx * dx + dy * dy) / (2 * s2);
    }
    return lse(this.tmp, 8);
  }
}

// ---------------------------------------------------------------------------------------------
// checkerboard

class Checkerboard extends BaseToy {
  readonly name = 'checkerboard' as const;
  readonly description =
    'Uniform on the 8 dark squares (side 2, area 4 each) of a 4x4 checkerboard on [-4, 4]^2; entropy ln 32 ~ 3.4657 nats (FFJORD).';
  readonly params = { squares: 8, side: 2, halfWidth: 4 };
  readonly bounds = [-4, 4, -4, 4] as const;
  readonly scale = 2;
  readonly logDensityMethod = 'closed-form' as const;
  override readonly exactEntropy = Math.log(32);

  protected draw(out: Float32Array, n: number, rng: Rng): void {
    for (let i = 0; i < n; i++) {
      const x1 = rng.float() * 4 - 2;
      const x2 = rng.float() - (rng.float() < 0.5 ? 0 : 2) + (((Math.floor(x1) % 2) + 2) % 2);
      out[2 * i] = x1 * 2;
      out[2 * i + 1] = x2 * 2;
    }
  }

  protected logDensityAt(x: number, y: number): number {
    const a = x / 2;
    const b = y / 2;
    if (!(a >= -2 && a < 2 && b >= -2 && b < 2)) return Number.NEGATIVE_INFINITY;
    const pa = ((Math.floor(a) % 2) + 2) % 2;
    const pb = ((Math.floor(b) % 2) + 2) % 2;
    return pa === pb ? -Math.log(32) : Number.NEGATIVE_INFINITY;
  }
}

// ---------------------------------------------------------------------------------------------
// circles and rings: uniform angle on circles + isotropic Gaussian noise, closed form with I0:
// p(x) = sum_c w_c / (2 pi s^2) exp(-(r - R_c)^2 / (2 s^2)) I0e(r R_c / s^2).

class Circles extends BaseToy {
  readonly logDensityMethod = 'closed-form' as const;
  readonly params: Readonly<Record<string, number>>;
  readonly bounds: readonly [number, number, number, number];
  readonly scale: number;
  private readonly tmp: Float64Array;

  constructor(
    readonly name: 'circles' | 'rings',
    readonly description: string,
    private readonly radii: readonly number[],
    private readonly std: number,
  ) {
    super();
    this.scale = std;
    const b = Math.max(...radii) + 7 * std;
    this.bounds = [-b, b, -b, b];
    this.params = Object.fromEntries([
      ['std', std],
      ...radii.map((r, i) => [`radius${i}`, r] as const),
    ]);
    this.tmp = new Float64Array(radii.length);
  }

  protected draw(out: Float32Array, n: number, rng: Rng): void {
    const g = new Gaussian(rng);
    const k = this.radii.length;
    for (let i = 0; i < n; i++) {
      const r = this.radii[Math.floor(rng.float() * k)]!;
      const t = 2 * Math.PI * rng.float();
      out[2 * i] = r * Math.cos(t) + this.std * g.next();
      out[2 * i + 1] = r * Math.sin(t) + this.std * g.next();
    }
  }

  protected logDensityAt(x: number, y: number): number {
    const s2 = this.std * this.std;
    const r = Math.hypot(x, y);
    const k = this.radii.length;
    const c = -Math.log(k) - LOG_2PI - Math.log(s2);
    for (let i = 0; i < k; i++) {
      const R = this.radii[i]!;
      this.tmp[i] = c - ((r - R) * (r - R)) / (2 * s2) + logI0e((r * R) / s2);
    }
    return lse(this.tmp, k);
  }
}

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

function moons(): ToyDensity {
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

function twoSpirals(): ToyDensity {
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

function swissRoll(): ToyDensity {
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

// ---------------------------------------------------------------------------------------------
// pinwheel (FFJORD, after Johnson et al. 2016): f = (1 + 0.3 z1, 0.1 z2), class k uniform in
// 0..4, angle a = 2 pi k / 5 + 0.25 exp(f1), x = 2 R(-a) f. In polar coordinates f = rho
// (cos b, sin b): |x| = 2 rho and arg x = b - a(rho cos b), so for each class the density is a
// sum over the roots b of b - 0.25 exp(rho cos b) = arg x + 2 pi k / 5 (mod 2 pi):
// p(x) = (1/5) sum_k sum_roots N(f1; 1, 0.3) N(f2; 0, 0.1) / (4 |1 + 0.25 exp(f1) f2|).

class Pinwheel extends BaseToy {
  readonly name = 'pinwheel' as const;
  readonly classes = 5;
  readonly radialStd = 0.3;
  readonly tangentialStd = 0.1;
  readonly rate = 0.25;
  readonly description =
    'Pinwheel with 5 arms (FFJORD): radial std 0.3, tangential std 0.1, rate 0.25, scaled by 2.';
  readonly params = { classes: 5, radialStd: 0.3, tangentialStd: 0.1, rate: 0.25, scaleFactor: 2 };
  readonly bounds = [-6, 6, -6, 6] as const;
  readonly scale = 0.2;
  readonly logDensityMethod = 'root-finding' as const;
  private readonly grid = 64;
  private readonly h = new Float64Array(65);
  private readonly acc = new LogSumExp();

  protected draw(out: Float32Array, n: number, rng: Rng): void {
    const g = new Gaussian(rng);
    for (let i = 0; i < n; i++) {
      const k = Math.floor(rng.float() * this.classes);
      const f1 = 1 + this.radialStd * g.next();
      const f2 = this.tangentialStd * g.next();
      const a = (2 * Math.PI * k) / this.classes + this.rate * Math.exp(f1);
      const c = Math.cos(a);
      const s = Math.sin(a);
      out[2 * i] = 2 * (f1 * c + f2 * s);
      out[2 * i + 1] = 2 * (-f1 * s + f2 * c);
    }
  }

  protected logDensityAt(x: number, y: number): number {
    const rho = Math.hypot(x, y) / 2;
    const psi = Math.atan2(y, x);
    const G = this.grid;
    const TWO_PI = 2 * Math.PI;
    const rate = this.rate;
    const lr = this.radialStd;
    const lt = this.tangentialStd;
    // log of (1/5) (1/4) N(f1; 1, lr) N(f2; 0, lt) at f = rho (cos b, sin b)
    const c0 = -Math.log(this.classes) - Math.log(4) - LOG_2PI - Math.log(lr * lt);
    const logG = (b: number) => {
      const z1 = (rho * Math.cos(b) - 1) / lr;
      const z2 = (rho * Math.sin(b)) / lt;
      return c0 - 0.5 * (z1 * z1 + z2 * z2);
    };
    const acc = this.acc;
    acc.reset();
    if (rho > 30) {
      // Far out (> 90 radial std) the angle winds so fast that it is uniform: the sum over
      // roots is (1/2pi) int g db per class.
      this.addWoundIntegral(0, TWO_PI, 16384, logG);
      return acc.value();
    }
    const hfun = (b: number) => b - rate * Math.exp(rho * Math.cos(b));
    for (let j = 0; j <= G; j++) this.h[j] = hfun((TWO_PI * j) / G);
    for (let j = 0; j < G; j++) {
      const bl = (TWO_PI * j) / G;
      const br = (TWO_PI * (j + 1)) / G;
      if (Math.abs(this.h[j + 1]! - this.h[j]!) > TWO_PI * 1000) {
        // More than 1000 roots per class here: their sum is a Riemann sum of (1/2pi) int g.
        this.addWoundIntegral(bl, br, 256, logG);
        continue;
      }
      for (let k = 0; k < this.classes; k++) {
        const target = psi + (TWO_PI * k) / this.classes;
        const a = this.h[j]! - target;
        const b = this.h[j + 1]! - target;
        const rising = b > a;
        const lo = Math.min(a, b);
        const hi = Math.max(a, b);
        for (let m = Math.ceil(lo / TWO_PI); TWO_PI * m < hi; m++) {
          // Safeguarded Newton for hfun(beta) = target + 2 pi m on [bl, br].
          const off = target + TWO_PI * m;
          let l = bl;
          let r = br;
          let beta = 0.5 * (l + r);
          for (let it = 0; it < 60; it++) {
            const e = rate * Math.exp(rho * Math.cos(beta));
            const f = beta - e - off;
            if (f === 0) break;
            if (f < 0 === rising) l = beta;
            else r = beta;
            let next = beta - f / (1 + e * rho * Math.sin(beta));
            if (!(next > l && next < r)) next = 0.5 * (l + r);
            const done = Math.abs(next - beta) < 1e-13 || r - l < 1e-13;
            beta = next;
            if (done) break;
          }
          const jac = Math.abs(1 + rate * Math.exp(rho * Math.cos(beta)) * rho * Math.sin(beta));
          acc.add(logG(beta) - Math.log(jac));
        }
      }
    }
    return acc.value();
  }

  /** Adds classes * (1/2pi) * int_bl^br g(b) db (Simpson, n intervals) to the accumulator. */
  private addWoundIntegral(bl: number, br: number, n: number, logG: (b: number) => number): void {
    const h = (br - bl) / n;
    const c = Math.log(this.classes) - LOG_2PI + Math.log(h / 3);
    for (let i = 0; i <= n; i++) {
      const w = i === 0 || i === n ? 1 : i % 2 ? 4 : 2;
      this.acc.add(c + Math.log(w) + logG(bl + i * h));
    }
  }
}

const FACTORIES: Record<ToyName, () => ToyDensity> = {
  '8gaussians': () => new EightGaussians(4 / FFJORD_DIVISOR, 0.5 / FFJORD_DIVISOR),
  checkerboard: () => new Checkerboard(),
  moons,
  circles: () =>
    new Circles(
      'circles',
      'Two concentric circles of radii 3 and 1.5 (sklearn make_circles(factor=0.5, noise=0.08) * 3; FFJORD), uniform angle, Gaussian noise std 0.24.',
      [3, 1.5],
      0.24,
    ),
  rings: () =>
    new Circles(
      'rings',
      'Four concentric rings of radii 3, 2.25, 1.5, 0.75 (FFJORD), equal weights, uniform angle, Gaussian noise std 0.08.',
      [3, 2.25, 1.5, 0.75],
      0.08,
    ),
  pinwheel: () => new Pinwheel(),
  '2spirals': twoSpirals,
  swissroll: swissRoll,
};

const instances = new Map<ToyName, ToyDensity>();

/**
 * A 2-D toy density by name, with FFJORD's (Grathwohl et al. 2019) definitions and scales.
 * Every one has an exact sampler and an exact log-density:
 * - `8gaussians`: equal mixture of 8 Gaussians, centres at radius 4/1.414 ~ 2.829 (angles
 *   k pi/4), std 0.5/1.414 ~ 0.3536. Entropy 2.8319 nats by numerical integration (the
 *   well-separated approximation ln 8 + ln(2 pi e s^2) = 2.8383 ignores the ~0.006 nats the
 *   neighbouring components' overlap removes). Other settings: {@link eightGaussians}.
 * - `checkerboard`: uniform on 8 squares of area 4 in [-4, 4]^2, entropy ln 32 ~ 3.4657.
 * - `moons`, `2spirals`, `swissroll`: a curve plus noise; log-density by quadrature over the
 *   curve (relative error ~1e-5 near the data).
 * - `circles`, `rings`: circles plus Gaussian noise; closed form (Bessel I0).
 * - `pinwheel`: change of variables with root-finding.
 *
 * @example
 * ```ts
 * import { Rng } from '@dgm-js/core-tensors';
 * import { toyDensity } from '@dgm-js/datasets';
 * const d = toyDensity('checkerboard');
 * const pts = d.sample(1000, new Rng(0));         // Float32Array [x0, y0, x1, y1, ...]
 * const lp = d.logDensity(pts);                    // all -ln 32 = -3.4657
 * ```
 */
export function toyDensity(name: ToyName): ToyDensity {
  const make = FACTORIES[name];
  if (!make) {
    throw new ValueError(
      `toyDensity: unknown density '${name}'; use one of ${TOY_NAMES.join(', ')}.`,
    );
  }
  let d = instances.get(name);
  if (!d) {
    d = make();
    instances.set(name, d);
  }
  return d;
}

/**
 * The 8-gaussians density with another radius and std. The default of
 * `toyDensity('8gaussians')` is FFJORD's (radius 4/1.414, std 0.5/1.414); the GAN
 * mode-collapse papers (Unrolled GAN, VEEGAN, PacGAN) use radius 2, std 0.02, whose entropy is
 * ln 8 + ln(2 pi e 0.02^2) ~ -2.907 nats (components do not overlap).
 *
 * @example
 * ```ts
 * import { eightGaussians, toyEntropy } from '@dgm-js/datasets';
 * const d = eightGaussians({ radius: 2, std: 0.02 });
 * toyEntropy(d).value; // ~ -2.907
 * ```
 */
export function eightGaussians(
  opts: { readonly radius?: number; readonly std?: number } = {},
): ToyDensity {
  return new EightGaussians(opts.radius ?? 4 / FFJORD_DIVISOR, opts.std ?? 0.5 / FFJORD_DIVISOR);
}

/** The result of {@link toyEntropy}. */
export interface EntropyEstimate {
  /** Entropy in nats: the best achievable expected test NLL of any model of the density. */
  readonly value: number;
  /** Standard error (Monte Carlo), 0 when exact, null for grid integration. */
  readonly stderr: number | null;
  readonly method: 'exact' | 'grid' | 'mc';
  /** For `'grid'`: the probability mass the grid captured (should be ~1). */
  readonly mass: number | null;
}

/** Options of {@link toyEntropy}. */
export interface EntropyOptions {
  /**
   * `'grid'`: midpoint rule of -p log p over `bounds` (deterministic; default);
   * `'mc'`: -mean log p(x) over `samples` exact samples. A known closed form wins over both
   * unless `method` is given.
   */
  readonly method?: 'grid' | 'mc';
  /** Grid step (default `scale / 4`; the midpoint rule is spectrally accurate here). */
  readonly step?: number;
  /** Monte Carlo sample count (default 100000). */
  readonly samples?: number;
  /** Monte Carlo seed (default 0). */
  readonly seed?: number;
}

/**
 * The entropy of a toy density in nats: the floor of the expected test NLL, so benchmarks
 * can report a model's gap to it. Closed form when known (checkerboard ln 32), else numerical
 * integration on a grid, or Monte Carlo with exact samples.
 *
 * @example
 * ```ts
 * import { toyDensity, toyEntropy } from '@dgm-js/datasets';
 * toyEntropy(toyDensity('checkerboard')).value;   // 3.4657 (ln 32, exact)
 * toyEntropy(toyDensity('8gaussians')).value;     // 2.8319
 * toyEntropy(toyDensity('moons'), { method: 'mc', samples: 50000, seed: 1 }); // { value, stderr }
 * ```
 */
export function toyEntropy(d: ToyDensity, opts: EntropyOptions = {}): EntropyEstimate {
  if (opts.method === undefined && d.exactEntropy !== null) {
    return { value: d.exactEntropy, stderr: 0, method: 'exact', mass: null };
  }
  if ((opts.method ?? 'grid') === 'mc') {
    const n = opts.samples ?? 100_000;
    if (!(Number.isInteger(n) && n >= 2)) {
      throw new ValueError(`toyEntropy: samples must be an integer >= 2, got ${n}.`);
    }
    const lp = d.logDensity(d.sample(n, new Rng(opts.seed ?? 0)));
    let s = 0;
    let s2 = 0;
    for (let i = 0; i < n; i++) {
      s += lp[i]!;
      s2 += lp[i]! * lp[i]!;
    }
    const mean = s / n;
    const variance = Math.max(0, (s2 - n * mean * mean) / (n - 1));
    return { value: -mean, stderr: Math.sqrt(variance / n), method: 'mc', mass: null };
  }
  const step = opts.step ?? d.scale / 4;
  if (!(step > 0)) throw new ValueError(`toyEntropy: step must be > 0, got ${step}.`);
  const [x0, x1, y0, y1] = d.bounds;
  const nx = Math.ceil((x1 - x0) / step);
  const ny = Math.ceil((y1 - y0) / step);
  const row = new Float64Array(2 * nx);
  let h = 0;
  let mass = 0;
  for (let j = 0; j < ny; j++) {
    const y = y0 + (j + 0.5) * step;
    for (let i = 0; i < nx; i++) {
      row[2 * i] = x0 + (i + 0.5) * step;
      row[2 * i + 1] = y;
    }
    const lp = d.logDensity(row);
    for (let i = 0; i < nx; i++) {
      const l = lp[i]!;
      if (l === Number.NEGATIVE_INFINITY) continue;
      const p = Math.exp(l);
      mass += p;
      h -= p * l;
    }
  }
  return { value: h * step * step, stderr: null, method: 'grid', mass: mass * step * step };
}

/** Fields of a toy dataset: `x`, float32 points `[2]`. */
export type ToyFields = { readonly x: FieldSpec<readonly [2], 'float32'> };

/** Options of {@link toyDataset}. */
export interface ToyDatasetOptions {
  /** Number of points. */
  readonly size: number;
  /** Seed of the draw. Default 0. */
  readonly seed?: number;
  /** Split name for `meta` (default `'train'`); use different seeds for different splits. */
  readonly split?: string;
}

/**
 * A fixed sample of a toy density as a dataset (for {@link batches}); the points are in
 * `points` (interleaved float32) and the density in `density`.
 *
 * @example
 * ```ts
 * import { ToyDataset, toyDensity } from '@dgm-js/datasets';
 * const ds = new ToyDataset(toyDensity('rings'), { size: 1000, seed: 0 });
 * ds.points.length; // 2000
 * ```
 */
export class ToyDataset implements Dataset<ToyFields> {
  readonly size: number;
  readonly fields: ToyFields = { x: { shape: [2] as const, dtype: 'float32' } };
  readonly meta: DatasetMeta;
  readonly points: Float32Array;
  constructor(
    readonly density: ToyDensity,
    opts: ToyDatasetOptions,
  ) {
    checkInt(opts.size, 'size', 'toyDataset', { min: 0 });
    const seed = opts.seed ?? 0;
    if (!Number.isInteger(seed))
      throw new ValueError(`toyDataset: seed must be an integer, got ${seed}.`);
    this.size = opts.size;
    this.points = density.sample(opts.size, new Rng(seed));
    this.meta = {
      name: `toy-${density.name}`,
      split: opts.split ?? 'train',
      size: opts.size,
      binarization: null,
      seed,
      source: null,
      params: { ...density.params },
    };
  }

  fill(indices: ArrayLike<number>, out: FillBuffers<ToyFields>, _ctx: FillContext): void {
    const x = out.x;
    if (!x) return;
    for (let k = 0; k < indices.length; k++) {
      const i = indices[k]!;
      x[2 * k] = this.points[2 * i]!;
      x[2 * k + 1] = this.points[2 * i + 1]!;
    }
  }
}

/**
 * A fixed, seeded sample of `size` points of a toy density, as a dataset.
 *
 * @example
 * ```ts
 * import { toyDataset, toyEntropy } from '@dgm-js/datasets';
 * const train = toyDataset('8gaussians', { size: 50000, seed: 0 });
 * const test = toyDataset('8gaussians', { size: 10000, seed: 1, split: 'test' });
 * const floor = toyEntropy(train.density).value; // compare the model's test NLL with this
 * ```
 */
export function toyDataset(density: ToyName | ToyDensity, opts: ToyDatasetOptions): ToyDataset {
  return new ToyDataset(typeof density === 'string' ? toyDensity(density) : density, opts);
}
