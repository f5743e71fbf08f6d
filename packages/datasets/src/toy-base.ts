/**
 * The toy densities' names and their common interface, and the base class that implements
 * sampling and log-density over interleaved points for every one of them.
 */
import {
  checkInt,
  type Rng,
  ShapeError,
  type Tensor1D,
  type Tensor2D,
  tf,
} from '@dgm-js/core-tensors';

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

/** The shared part of the toy densities: sampling and log-density over interleaved points (internal). */
export abstract class BaseToy implements ToyDensity {
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
