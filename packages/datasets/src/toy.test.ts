import { Rng, ShapeError, tf, ValueError } from '@dgm-js/core-tensors';
import { expectNoLeaks } from '@dgm-js/test-utils';
import { describe, expect, it } from 'vitest';
import {
  eightGaussians,
  TOY_NAMES,
  type ToyDensity,
  type ToyName,
  toyDataset,
  toyDensity,
  toyEntropy,
} from './toy.js';

/**
 * Bins `samples` on a 20x20 grid over the density's bounds and compares the counts with the
 * exact density's mass per bin (midpoint rule on a sub-grid finer than scale/2). Bins expected
 * to hold < 5 points are pooled with everything outside the box. Returns the chi-square
 * statistic, its degrees of freedom and the total mass the grid saw.
 */
function chiSquare(d: ToyDensity, samples: Float32Array, bins = 20) {
  const [x0, x1, y0, y1] = d.bounds;
  const bx = (x1 - x0) / bins;
  const by = (y1 - y0) / bins;
  const sub = Math.max(1, Math.ceil(Math.max(bx, by) / (d.scale / 2)));
  const mass = new Float64Array(bins * bins);
  const row = new Float64Array(2 * bins * sub);
  const cell = (bx / sub) * (by / sub);
  for (let j = 0; j < bins * sub; j++) {
    const y = y0 + ((j + 0.5) * by) / sub;
    for (let i = 0; i < bins * sub; i++) {
      row[2 * i] = x0 + ((i + 0.5) * bx) / sub;
      row[2 * i + 1] = y;
    }
    const lp = d.logDensity(row);
    const jb = Math.floor(j / sub);
    for (let i = 0; i < bins * sub; i++)
      mass[jb * bins + Math.floor(i / sub)]! += Math.exp(lp[i]!) * cell;
  }
  const n = samples.length / 2;
  const counts = new Float64Array(bins * bins);
  let outside = 0;
  for (let k = 0; k < n; k++) {
    const i = Math.floor((samples[2 * k]! - x0) / bx);
    const j = Math.floor((samples[2 * k + 1]! - y0) / by);
    if (i >= 0 && i < bins && j >= 0 && j < bins) counts[j * bins + i]! += 1;
    else outside++;
  }
  let chi2 = 0;
  let kept = 0;
  let eKept = 0;
  let oKept = 0;
  for (let b = 0; b < bins * bins; b++) {
    const e = n * mass[b]!;
    if (e < 5) continue;
    chi2 += (counts[b]! - e) ** 2 / e;
    kept++;
    eKept += e;
    oKept += counts[b]!;
  }
  const ePool = n - eKept;
  const oPool = n - oKept;
  if (ePool > 1e-9) {
    chi2 += (oPool - ePool) ** 2 / ePool;
    kept++;
  }
  const total = mass.reduce((a, v) => a + v, 0);
  return { chi2, dof: kept - 1, total, outside, oPool, ePool };
}

// FFJORD's 8 gaussians: radius 4 / 1.414, std 0.5 / 1.414 (the literal 1.414, not sqrt 2).
// biome-ignore lint/suspicious/noApproximativeNumericConstant: FFJORD's literal, deliberately
const DIV = 1.414;

const limit = (dof: number) => dof + 5 * Math.sqrt(2 * dof); // p ~ 1e-6

describe('toy densities', () => {
  for (const name of TOY_NAMES) {
    describe(name, () => {
      const d = toyDensity(name);
      it('samples reproducibly from an Rng', () => {
        const a = d.sample(300, new Rng(3));
        expect(a).toBeInstanceOf(Float32Array);
        expect(a.length).toBe(600);
        expect(Array.from(d.sample(300, new Rng(3)))).toEqual(Array.from(a));
        expect(Array.from(d.sample(300, new Rng(4)))).not.toEqual(Array.from(a));
      });

      it('has an exact density that integrates to 1 and matches its sampler (chi-square)', () => {
        const samples = d.sample(20000, new Rng(11));
        const r = chiSquare(d, samples);
        expect(Math.abs(r.total - 1)).toBeLessThan(2e-3);
        expect(r.dof).toBeGreaterThan(20);
        expect(r.chi2).toBeLessThan(limit(r.dof));
        // every sample lies where the density is positive
        const lp = d.logDensity(samples);
        expect(lp.every((v) => Number.isFinite(v))).toBe(true);
      });
    });
  }

  it('the chi-square check has power: a 5% wider 8-gaussians fails it', () => {
    const wrong = eightGaussians({ std: (0.5 / DIV) * 1.05 }).sample(20000, new Rng(11));
    const r = chiSquare(toyDensity('8gaussians'), wrong);
    expect(r.chi2).toBeGreaterThan(limit(r.dof));
    const moved = eightGaussians({ radius: (4 / DIV) * 1.03 }).sample(20000, new Rng(11));
    const r2 = chiSquare(toyDensity('8gaussians'), moved);
    expect(r2.chi2).toBeGreaterThan(limit(r2.dof));
  });

  it('checkerboard: uniform density 1/32 on the 8 dark squares, entropy ln 32', () => {
    const d = toyDensity('checkerboard');
    const lp = d.logDensity([1, 1, -1, -1, 3, 3, -3, 1, 1, -1, -1, 1, 4.5, 0, 0.5, 3.5]);
    const inside = -Math.log(32);
    expect(Array.from(lp)).toEqual([
      inside,
      inside,
      inside,
      inside,
      -Infinity,
      -Infinity,
      -Infinity,
      -Infinity,
    ]);
    expect(toyEntropy(d).value).toBeCloseTo(3.4657359, 6);
    expect(toyEntropy(d, { method: 'grid' }).value).toBeCloseTo(Math.log(32), 9);
    const mc = toyEntropy(d, { method: 'mc', samples: 1000 });
    expect(mc.value).toBeCloseTo(Math.log(32), 9);
  });

  it('8 gaussians: entropy 2.8319 nats, by an independent grid integration and by Monte Carlo', () => {
    const d = toyDensity('8gaussians');
    // independent implementation: direct mixture formula on a 0.02 grid over [-5, 5]^2
    const R = 4 / DIV;
    const s = 0.5 / DIV;
    let h = 0;
    const step = 0.02;
    for (let i = 0; i < 500; i++) {
      for (let j = 0; j < 500; j++) {
        const x = -5 + (i + 0.5) * step;
        const y = -5 + (j + 0.5) * step;
        let p = 0;
        for (let k = 0; k < 8; k++) {
          const dx = x - R * Math.cos((k * Math.PI) / 4);
          const dy = y - R * Math.sin((k * Math.PI) / 4);
          p += Math.exp(-(dx * dx + dy * dy) / (2 * s * s));
        }
        p /= 8 * 2 * Math.PI * s * s;
        if (p > 0) h -= p * Math.log(p) * step * step;
      }
    }
    const grid = toyEntropy(d);
    expect(grid.method).toBe('grid');
    expect(grid.mass).toBeCloseTo(1, 6);
    expect(grid.value).toBeCloseTo(h, 5);
    expect(grid.value).toBeCloseTo(2.8319, 4);
    // below the well-separated approximation ln 8 + ln(2 pi e s^2) = 2.8383 (overlap)
    expect(grid.value).toBeLessThan(Math.log(8) + Math.log(2 * Math.PI * Math.E * s * s) - 0.005);
    const mc = toyEntropy(d, { method: 'mc', samples: 100_000, seed: 5 });
    expect(Math.abs(mc.value - grid.value)).toBeLessThan(4 * mc.stderr!);
    // the GAN papers' setting (radius 2, std 0.02): separated components, closed form
    const gan = toyEntropy(eightGaussians({ radius: 2, std: 0.02 }));
    expect(gan.value).toBeCloseTo(Math.log(8) + Math.log(2 * Math.PI * Math.E * 0.02 * 0.02), 4);
  });

  it('circles / rings: the Bessel closed form equals a direct integral over the angle', () => {
    const cases: [ToyName, number[], number][] = [
      ['circles', [3, 1.5], 0.24],
      ['rings', [3, 2.25, 1.5, 0.75], 0.08],
    ];
    for (const [name, radii, s] of cases) {
      const pts = [0, 0, 3, 0, 0.1, 1.45, -2.2, 0.3, 2.5, 2.5, 5, 1, 0.7, 0.1];
      const lp = toyDensity(name).logDensity(pts);
      for (let k = 0; k < pts.length / 2; k++) {
        const [x, y] = [pts[2 * k]!, pts[2 * k + 1]!];
        let p = 0;
        const m = 20000;
        for (const R of radii) {
          for (let i = 0; i < m; i++) {
            const t = (2 * Math.PI * i) / m;
            const d2 = (x - R * Math.cos(t)) ** 2 + (y - R * Math.sin(t)) ** 2;
            p += Math.exp(-d2 / (2 * s * s)) / (2 * Math.PI * s * s) / m / radii.length;
          }
        }
        expect(lp[k]).toBeCloseTo(Math.log(p), 5);
      }
    }
  });

  it('moons / swiss roll: the quadrature equals a brute-force integral over the curve parameter', () => {
    const brute = (
      curves: ((t: number) => [number, number])[],
      t0: number,
      t1: number,
      s: number,
      x: number,
      y: number,
    ) => {
      const m = 200000;
      let p = 0;
      for (const c of curves) {
        for (let i = 0; i < m; i++) {
          const [cx, cy] = c(t0 + ((i + 0.5) * (t1 - t0)) / m);
          p +=
            Math.exp(-((x - cx) ** 2 + (y - cy) ** 2) / (2 * s * s)) /
            (2 * Math.PI * s * s) /
            m /
            curves.length;
        }
      }
      return Math.log(p);
    };
    const moonCurves: ((t: number) => [number, number])[] = [
      (t) => [2 * Math.cos(t) - 1, 2 * Math.sin(t) - 0.2],
      (t) => [1 - 2 * Math.cos(t), 0.8 - 2 * Math.sin(t)],
    ];
    const mp = [0, 1.8, 1, -1.2, -3, -0.2, 0.5, 0.3, 3.5, 2];
    const ml = toyDensity('moons').logDensity(mp);
    // relative error of the density ~1e-5 near the data, growing slowly in the far tails
    const close = (got: number, want: number) =>
      expect(Math.abs(got - want)).toBeLessThan(1e-5 * Math.max(1, Math.abs(want)));
    for (let k = 0; k < 5; k++)
      close(ml[k]!, brute(moonCurves, 0, Math.PI, 0.2, mp[2 * k]!, mp[2 * k + 1]!));
    const roll = (t: number): [number, number] => [(t * Math.cos(t)) / 5, (t * Math.sin(t)) / 5];
    const sp = [0, 0, 1, 1, -2.5, 0.4, 1.9, -1.1];
    const sl = toyDensity('swissroll').logDensity(sp);
    for (let k = 0; k < 4; k++) {
      close(sl[k]!, brute([roll], 1.5 * Math.PI, 4.5 * Math.PI, 0.2, sp[2 * k]!, sp[2 * k + 1]!));
    }
  });

  it('far from the data the log-density stays finite and falls off', () => {
    for (const name of TOY_NAMES) {
      if (name === 'checkerboard') continue;
      const lp = toyDensity(name).logDensity([9, 9, 30, -30]);
      expect(Number.isFinite(lp[0])).toBe(true);
      expect(Number.isFinite(lp[1]) || lp[1] === -Infinity).toBe(true);
      expect(lp[0]).toBeLessThan(-20);
      expect(lp[1]!).toBeLessThan(lp[0]!);
    }
  });

  it('entropy by grid and by Monte Carlo agree for a quadrature density (moons)', () => {
    const d = toyDensity('moons');
    const g = toyEntropy(d);
    const mc = toyEntropy(d, { method: 'mc', samples: 50_000, seed: 2 });
    expect(g.mass).toBeCloseTo(1, 4);
    expect(Math.abs(g.value - mc.value)).toBeLessThan(4 * mc.stderr!);
  });

  it('tensor API: sampleTensor / logProb, leak-free', async () => {
    const d = toyDensity('rings');
    await expectNoLeaks(() => {
      const x = d.sampleTensor(50, new Rng(1));
      expect(x.shape).toEqual([50, 2]);
      const lp = d.logProb(x);
      expect(lp.shape).toEqual([50]);
      expect(lp).toBeAllclose(Array.from(d.logDensity(x.dataSync())), { rtol: 1e-6, atol: 1e-6 });
      x.dispose();
      lp.dispose();
    }, 'toy tensors');
  });

  it('rejects bad input with typed errors', () => {
    const d = toyDensity('moons');
    expect(() => d.logDensity([1, 2, 3])).toThrow(ShapeError);
    expect(() => d.sample(-1, new Rng(0))).toThrow(ValueError);
    expect(() => toyDensity('spiral' as ToyName)).toThrow(/unknown density 'spiral'/);
    const x = tf.zeros([3, 3]) as never;
    expect(() => d.logProb(x)).toThrow(/shape \[n, 2\]/);
    tf.dispose(x);
    expect(() => eightGaussians({ std: 0 })).toThrow(ValueError);
  });

  it('toyDataset: a fixed seeded sample with metadata', () => {
    const ds = toyDataset('pinwheel', { size: 100, seed: 9, split: 'test' });
    expect(ds.size).toBe(100);
    expect(ds.meta).toMatchObject({
      name: 'toy-pinwheel',
      split: 'test',
      seed: 9,
      binarization: null,
    });
    expect(ds.meta.params).toMatchObject({ classes: 5, rate: 0.25 });
    expect(Array.from(ds.points)).toEqual(
      Array.from(toyDensity('pinwheel').sample(100, new Rng(9))),
    );
  });
});
