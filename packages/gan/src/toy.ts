/**
 * The 2-D Gaussian-mixture toys of the mode-collapse literature (Metz et al. 2017's Unrolled
 * GAN, Srivastava et al. 2017's VEEGAN, Lin et al. 2018's PacGAN) and VEEGAN's two metrics:
 * modes covered and the percentage of high-quality samples.
 */
import { checkInt, fmtShape, type Rng, ShapeError, tf, ValueError } from '@dgm-js/core-tensors';
import type { GanData } from './train-options.js';

/** An equal-weight mixture of isotropic 2-D Gaussians: its centres and common std. */
export interface GaussianModes {
  readonly name: string;
  readonly centres: readonly (readonly [number, number])[];
  readonly std: number;
}

function checkPositive(v: number, what: string, who: string): number {
  if (!(typeof v === 'number' && Number.isFinite(v) && v > 0)) {
    throw new ValueError(`${who}: ${what} must be a finite number > 0, got ${v}.`);
  }
  return v;
}

/**
 * `count` Gaussians on a circle (centres at angles 2 pi k / count). The defaults, 8 modes at
 * radius 2 with std 0.02, are the ring of Unrolled GAN / VEEGAN / PacGAN; `@dgm-js/datasets`'s
 * `eightGaussians({ radius: 2, std: 0.02 })` samples the same density.
 *
 * @example
 * ```ts
 * import { ringModes } from '@dgm-js/gan';
 * ringModes().centres.length; // 8
 * ```
 */
export function ringModes(
  opts: { count?: number; radius?: number; std?: number } = {},
): GaussianModes {
  const who = 'ringModes';
  const count = opts.count ?? 8;
  checkInt(count, 'count', who);
  const radius = checkPositive(opts.radius ?? 2, 'radius', who);
  const std = checkPositive(opts.std ?? 0.02, 'std', who);
  const centres = Array.from(
    { length: count },
    (_, k) =>
      [
        radius * Math.cos((2 * Math.PI * k) / count),
        radius * Math.sin((2 * Math.PI * k) / count),
      ] as const,
  );
  return { name: `ring${count}`, centres, std };
}

/**
 * `side` x `side` Gaussians on a square grid with `spacing` between neighbours, centred on the
 * origin. The defaults, 25 modes at (-4 + 2i, -4 + 2j) with std 0.05 (variance 0.0025), are the
 * grid of the mode-collapse papers (PacGAN states this std; VEEGAN's grid has the same centres).
 *
 * @example
 * ```ts
 * import { gridModes } from '@dgm-js/gan';
 * gridModes().centres[0]; // [-4, -4]
 * ```
 */
export function gridModes(
  opts: { side?: number; spacing?: number; std?: number } = {},
): GaussianModes {
  const who = 'gridModes';
  const side = opts.side ?? 5;
  checkInt(side, 'side', who);
  const spacing = checkPositive(opts.spacing ?? 2, 'spacing', who);
  const std = checkPositive(opts.std ?? 0.05, 'std', who);
  const off = ((side - 1) * spacing) / 2;
  const centres: (readonly [number, number])[] = [];
  for (let i = 0; i < side; i++)
    for (let j = 0; j < side; j++) centres.push([i * spacing - off, j * spacing - off]);
  return { name: `grid${side * side}`, centres, std };
}

/**
 * `n` points of the mixture, interleaved `[x0, y0, x1, y1, ...]`, reproducible from `rng`
 * (component uniform, then Box-Muller normals).
 *
 * @example
 * ```ts
 * import { Rng } from '@dgm-js/core-tensors';
 * import { gridModes, sampleModes } from '@dgm-js/gan';
 * const pts = sampleModes(gridModes(), 2500, new Rng(0)); // Float32Array(5000)
 * ```
 */
export function sampleModes(modes: GaussianModes, n: number, rng: Rng): Float32Array {
  checkInt(n, 'n', 'sampleModes', { min: 0 });
  const out = new Float32Array(2 * n);
  const k = modes.centres.length;
  for (let i = 0; i < n; i++) {
    const c = modes.centres[Math.min(k - 1, Math.floor(rng.float() * k))]!;
    const u1 = 1 - rng.float(); // (0, 1]
    const u2 = rng.float();
    const r = Math.sqrt(-2 * Math.log(u1));
    out[2 * i] = c[0] + modes.std * r * Math.cos(2 * Math.PI * u2);
    out[2 * i + 1] = c[1] + modes.std * r * Math.sin(2 * Math.PI * u2);
  }
  return out;
}

/**
 * A {@link GanData} function that draws fresh batches `[batchSize, 2]` of the mixture from the
 * loop's seed stream (so a resumed run sees the same batches).
 *
 * @example
 * ```ts
 * new GanTrainer({ generator, critic, loss: 'non-saturating', data: modeSampler(ringModes(), 256) });
 * ```
 */
export function modeSampler(modes: GaussianModes, batchSize: number): GanData {
  checkInt(batchSize, 'batchSize', 'modeSampler');
  return (rng) => tf.tensor2d(sampleModes(modes, batchSize, rng), [batchSize, 2]);
}

/** What {@link modeCoverage} returns. */
export interface ModeCoverage {
  /** Modes whose centre is the nearest centre of at least `minSamples` high-quality samples. */
  modesCovered: number;
  totalModes: number;
  /** The fraction of samples within `threshold` std of their nearest centre, in [0, 1]. */
  highQualityFraction: number;
  /** High-quality samples per mode. */
  perMode: number[];
  /** Samples evaluated. */
  n: number;
}

/**
 * VEEGAN's mode-collapse metrics (Srivastava et al. 2017, section 5.1, "Synthetic Dataset"): "We
 * sample points from the generator network, and count a sample as high quality, if it is within
 * three standard deviations of the nearest mode [...]. Then, we report the number of modes
 * captured as the number of mixture components whose mean is nearest to at least one high
 * quality sample. We also report the percentage of high quality samples [...]. We generate 2500
 * samples from each trained model and average the numbers over five runs."
 *
 * Implemented exactly so: a sample x is high quality when min_k ||x - mu_k||_2 <= threshold * std
 * (threshold 3); mode k is covered when at least `minSamples` (default 1, VEEGAN's rule) high-
 * quality samples have mu_k as their nearest centre. Pass 2500 samples to match the paper.
 * Note: for an exact sample of a 2-D isotropic Gaussian, P(||x - mu|| <= 3 std) = 1 - e^{-4.5}
 * = 0.9889, so a perfect generator scores ~98.9%, not 100%.
 *
 * @example
 * ```ts
 * import { Rng } from '@dgm-js/core-tensors';
 * import { modeCoverage, ringModes, sampleModes } from '@dgm-js/gan';
 * const modes = ringModes();
 * const r = modeCoverage(sampleModes(modes, 2500, new Rng(0)), modes); // { modesCovered: 8, highQualityFraction: ~0.989, ... }
 * ```
 */
export function modeCoverage(
  samples: tf.Tensor | ArrayLike<number>,
  modes: GaussianModes,
  opts: { threshold?: number; minSamples?: number } = {},
): ModeCoverage {
  const who = 'modeCoverage';
  let pts: ArrayLike<number>;
  if (samples instanceof tf.Tensor) {
    if (samples.rank !== 2 || samples.shape[1] !== 2) {
      throw new ShapeError(
        `${who}: samples must have shape [n, 2], got ${fmtShape(samples.shape)}.`,
      );
    }
    pts = samples.dataSync();
  } else {
    if (samples.length % 2 !== 0) {
      throw new ShapeError(
        `${who}: samples must be interleaved [x0, y0, x1, y1, ...], got an odd length ${samples.length}.`,
      );
    }
    pts = samples;
  }
  const threshold = checkPositive(opts.threshold ?? 3, 'threshold', who);
  const minSamples = opts.minSamples ?? 1;
  checkInt(minSamples, 'minSamples', who);
  const n = pts.length / 2;
  if (n === 0) throw new ValueError(`${who}: no samples.`);
  const radius2 = (threshold * modes.std) ** 2;
  const perMode = new Array<number>(modes.centres.length).fill(0);
  let hq = 0;
  for (let i = 0; i < n; i++) {
    const x = pts[2 * i]!;
    const y = pts[2 * i + 1]!;
    let best = Number.POSITIVE_INFINITY;
    let arg = -1;
    modes.centres.forEach(([cx, cy], k) => {
      const d = (x - cx) ** 2 + (y - cy) ** 2;
      if (d < best) {
        best = d;
        arg = k;
      }
    });
    if (best <= radius2) {
      hq++;
      perMode[arg]!++;
    }
  }
  return {
    modesCovered: perMode.filter((c) => c >= minSamples).length,
    totalModes: modes.centres.length,
    highQualityFraction: hq / n,
    perMode,
    n,
  };
}
