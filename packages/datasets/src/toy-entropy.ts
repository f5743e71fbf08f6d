/**
 * The entropy of a toy density: the floor of any model's expected test NLL on it.
 */
import { checkInt, Rng, ValueError } from '@dgm-js/core-tensors';
import type { ToyDensity } from './toy-base.js';

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
    checkInt(n, 'samples', 'toyEntropy', { min: 2 });
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
