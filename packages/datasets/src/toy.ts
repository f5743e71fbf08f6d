/**
 * The 2-D toy densities of the flow / GAN literature by name (FFJORD's definitions), and fixed
 * samples of them as datasets. The densities live in `toy-closed-form.ts`, `toy-curve.ts` and
 * `toy-pinwheel.ts`, their interface in `toy-base.ts`, the entropy in `toy-entropy.ts`.
 */
import { checkInt, Rng, ValueError } from '@dgm-js/core-tensors';
import type { Dataset, DatasetMeta, FieldSpec, FillBuffers, FillContext } from './dataset.js';
import { TOY_NAMES, type ToyDensity, type ToyName } from './toy-base.js';
import { Checkerboard, Circles, EightGaussians, FFJORD_DIVISOR } from './toy-closed-form.js';
import { moons, swissRoll, twoSpirals } from './toy-curve.js';
import { Pinwheel } from './toy-pinwheel.js';

export type { LogDensityMethod, ToyDensity, ToyName } from './toy-base.js';
export { TOY_NAMES } from './toy-base.js';
export type { EntropyEstimate, EntropyOptions } from './toy-entropy.js';
export { toyEntropy } from './toy-entropy.js';

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
