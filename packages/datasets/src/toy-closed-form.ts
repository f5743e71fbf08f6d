/**
 * The toy densities with a closed-form log-density: 8 gaussians, checkerboard, circles / rings.
 */
import { LOG_2PI, type Rng, ValueError } from '@dgm-js/core-tensors';
import { BaseToy } from './toy-base.js';
import { Gaussian, logI0e, lse } from './toy-math.js';

// ---------------------------------------------------------------------------------------------
// 8 gaussians

// FFJORD scales its 8 gaussians by 1 / 1.414 (the literal, not sqrt 2).
// biome-ignore lint/suspicious/noApproximativeNumericConstant: FFJORD's literal, deliberately
export const FFJORD_DIVISOR = 1.414;

/** An equal mixture of 8 isotropic Gaussians on a circle (internal: see `eightGaussians`). */
export class EightGaussians extends BaseToy {
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

/** Uniform on the dark squares of a 4x4 checkerboard (internal). */
export class Checkerboard extends BaseToy {
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

/** Concentric circles plus Gaussian noise, closed form with I0 (internal). */
export class Circles extends BaseToy {
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
