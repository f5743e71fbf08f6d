/**
 * The product of Gaussian experts against a numerical product of densities on a grid (1-D and
 * 2-D, float64 in plain JS): the normalised product of the present experts' densities (and the
 * prior expert's) has the closed form's mean and (co)variance, and its density at every grid
 * point is the closed-form Gaussian's. Dropped experts (mask 0) leave the product.
 */
import { Rng, ShapeError, tf, ValueError } from '@dgm-js/core-tensors';
import { disposeAll, expectNoLeaks } from '@dgm-js/test-utils';
import { describe, expect, it } from 'vitest';
import { diagNormal, productOfGaussians } from './poe.js';

const logN = (z: number, m: number, s: number) =>
  -0.5 * ((z - m) / s) ** 2 - Math.log(s) - 0.5 * Math.log(2 * Math.PI);

/** Experts [e][b] as plain numbers per dimension [d]. */
interface Plain {
  loc: number[][][];
  scale: number[][][];
}

const toTensors = (p: Plain) =>
  p.loc.map((l, e) => ({ loc: tf.tensor2d(l), scale: tf.tensor2d(p.scale[e]!) }));

describe('productOfGaussians', () => {
  // 2 experts, 3 examples, 1-D; example 1 drops expert 1, example 2 drops expert 0
  const p1: Plain = {
    loc: [
      [[1.5], [-0.7], [2.0]],
      [[-2.0], [3.0], [0.4]],
    ],
    scale: [
      [[0.8], [1.7], [0.5]],
      [[1.3], [0.6], [2.2]],
    ],
  };
  const masks1 = [
    [1, 1, 0],
    [1, 0, 1],
  ];

  /** Mean, variance and normalised log density on a 1-D grid of the product for example b. */
  function grid1d(b: number, prior: boolean) {
    const n = 40001;
    const lo = -15;
    const h = 30 / (n - 1);
    const zs = Array.from({ length: n }, (_, i) => lo + i * h);
    const logp = zs.map((z) => {
      let s = prior ? logN(z, 0, 1) : 0;
      for (let e = 0; e < 2; e++) {
        if (masks1[e]![b]) s += logN(z, p1.loc[e]![b]![0]!, p1.scale[e]![b]![0]!);
      }
      return s;
    });
    const mx = Math.max(...logp);
    const w = logp.map((l) => Math.exp(l - mx));
    const Z = w.reduce((a, c) => a + c, 0) * h;
    const mean = (zs.reduce((a, z, i) => a + z * w[i]!, 0) * h) / Z;
    const v = (zs.reduce((a, z, i) => a + (z - mean) ** 2 * w[i]!, 0) * h) / Z;
    const logDensity = logp.map((l) => l - mx - Math.log(Z));
    return { zs, mean, v, logDensity };
  }

  for (const prior of [true, false]) {
    it(`1-D: equals the normalised numerical product of densities ${prior ? 'with' : 'without'} the prior expert, experts dropped by masks`, () => {
      const ex = toTensors(p1);
      const masks = masks1.map((m) => tf.tensor1d(m));
      const { loc, scale } = productOfGaussians(ex, { masks, ...(prior ? {} : { prior: null }) });
      const L = loc.arraySync() as number[][];
      const S = scale.arraySync() as number[][];
      for (let b = 0; b < 3; b++) {
        const g = grid1d(b, prior);
        expect(L[b]![0]!).toBeCloseTo(g.mean, 5);
        expect(S[b]![0]! ** 2).toBeCloseTo(g.v, 5);
        // the density itself, at every 100th grid point within 4 sd of the mean
        for (let i = 0; i < g.zs.length; i += 100) {
          const z = g.zs[i]!;
          if (Math.abs(z - g.mean) > 4 * Math.sqrt(g.v)) continue;
          expect(logN(z, L[b]![0]!, S[b]![0]!)).toBeCloseTo(g.logDensity[i]!, 4);
        }
      }
      disposeAll([ex, masks, loc, scale]);
    });
  }

  it('2-D: mean vector and full covariance of the grid product match (off-diagonal 0), prior included, an expert dropped', () => {
    // 3 experts, 2 examples, 2-D; example 1 drops expert 2
    const p: Plain = {
      loc: [
        [
          [1, -1],
          [0.5, 2],
        ],
        [
          [-0.5, 0.3],
          [2, -1],
        ],
        [
          [2, 2],
          [-3, 3],
        ],
      ],
      scale: [
        [
          [0.9, 1.4],
          [1.1, 0.7],
        ],
        [
          [1.6, 0.5],
          [0.8, 1.9],
        ],
        [
          [0.7, 1.2],
          [1.0, 1.0],
        ],
      ],
    };
    const m = [
      [1, 1],
      [1, 1],
      [1, 0],
    ];
    const ex = toTensors(p);
    const masks = m.map((r) => tf.tensor1d(r));
    const { loc, scale } = productOfGaussians(ex, { masks, prior: { loc: 0.5, scale: 2 } });
    const L = loc.arraySync() as number[][];
    const S = scale.arraySync() as number[][];
    const n = 601;
    const lo = -8;
    const h = 16 / (n - 1);
    for (let b = 0; b < 2; b++) {
      const pts: [number, number, number][] = [];
      let mx = -Infinity;
      for (let i = 0; i < n; i++) {
        for (let j = 0; j < n; j++) {
          const z = [lo + i * h, lo + j * h];
          let s = logN(z[0]!, 0.5, 2) + logN(z[1]!, 0.5, 2);
          for (let e = 0; e < 3; e++) {
            if (!m[e]![b]) continue;
            for (let d = 0; d < 2; d++) s += logN(z[d]!, p.loc[e]![b]![d]!, p.scale[e]![b]![d]!);
          }
          pts.push([z[0]!, z[1]!, s]);
          if (s > mx) mx = s;
        }
      }
      let Z = 0;
      const mu = [0, 0];
      for (const [a, c, s] of pts) {
        const w = Math.exp(s - mx);
        Z += w;
        mu[0]! += a * w;
        mu[1]! += c * w;
      }
      mu[0]! /= Z;
      mu[1]! /= Z;
      const cov = [0, 0, 0];
      for (const [a, c, s] of pts) {
        const w = Math.exp(s - mx) / Z;
        cov[0]! += (a - mu[0]!) ** 2 * w;
        cov[1]! += (a - mu[0]!) * (c - mu[1]!) * w;
        cov[2]! += (c - mu[1]!) ** 2 * w;
      }
      expect(L[b]![0]!).toBeCloseTo(mu[0]!, 4);
      expect(L[b]![1]!).toBeCloseTo(mu[1]!, 4);
      expect(S[b]![0]! ** 2).toBeCloseTo(cov[0]!, 4);
      expect(cov[1]!).toBeCloseTo(0, 5);
      expect(S[b]![1]! ** 2).toBeCloseTo(cov[2]!, 4);
      // the normalised grid density equals the closed-form density (checked at a few points)
      const logZ = mx + Math.log(Z * h * h);
      for (const k of [0, 150_000, 180_300, 200_000, 250_000]) {
        const [a, c, s] = pts[k]!;
        const closed = logN(a, L[b]![0]!, S[b]![0]!) + logN(c, L[b]![1]!, S[b]![1]!);
        expect(closed).toBeCloseTo(s - logZ, 3);
      }
    }
    disposeAll([ex, masks, loc, scale]);
  });

  it('an expert with mask 0 everywhere is the product without it; a single expert without the prior is itself', () => {
    const rng = new Rng(3);
    const mk = () => ({
      loc: tf.randomNormal([4, 3], 0, 1, 'float32', rng.next()),
      scale: tf.randomUniform([4, 3], 0.3, 2, 'float32', rng.next()),
    });
    const a = mk();
    const b = mk();
    const zero = tf.zeros([4]);
    const dropped = productOfGaussians([a, b], { masks: [undefined, zero] });
    const alone = productOfGaussians([a]);
    expect(dropped.loc).toBeAllclose(alone.loc, { rtol: 1e-6, atol: 1e-6 });
    expect(dropped.scale).toBeAllclose(alone.scale, { rtol: 1e-6, atol: 1e-6 });
    const self = productOfGaussians([a], { prior: null, eps: 0 });
    expect(self.loc).toBeAllclose(a.loc, { rtol: 1e-5, atol: 1e-6 });
    expect(self.scale).toBeAllclose(a.scale, { rtol: 1e-5, atol: 1e-6 });
    disposeAll([a, b, zero, dropped, alone, self]);
  });

  it('does not leak (values and gradients)', async () => {
    const a = { loc: tf.ones([2, 2]), scale: tf.ones([2, 2]) };
    const b = { loc: tf.zeros([2, 2]), scale: tf.ones([2, 2]) };
    const m = tf.tensor1d([1, 0]);
    await expectNoLeaks(() => {
      const r = productOfGaussians([a, b], { masks: [m, undefined] });
      tf.dispose([r.loc, r.scale]);
      const g = tf.grads((l: tf.Tensor, s: tf.Tensor) => {
        const o = productOfGaussians([{ loc: l, scale: s }, b], { masks: [m, undefined] });
        return tf.add(tf.sum(o.loc), tf.sum(o.scale));
      })([a.loc, a.scale]);
      tf.dispose(g);
      diagNormal(tf.zeros([2, 2]), tf.ones([2, 2])).dispose();
    }, 'productOfGaussians');
    disposeAll([a, b, m]);
  });

  it('typed errors name the argument', () => {
    const a = { loc: tf.zeros([2, 3]), scale: tf.ones([2, 3]) };
    const bad = { loc: tf.zeros([3, 3]), scale: tf.ones([3, 3]) };
    const m = tf.zeros([5]);
    expect(() => productOfGaussians([])).toThrow(ValueError);
    expect(() => productOfGaussians([])).toThrow(/experts/);
    expect(() => productOfGaussians([a, bad])).toThrow(ShapeError);
    expect(() => productOfGaussians([a, bad])).toThrow(/experts\[1\]\.loc/);
    expect(() => productOfGaussians([a], { masks: [m] })).toThrow(/masks\[0\] has shape \[5\]/);
    expect(() => productOfGaussians([a], { masks: [] })).toThrow(/masks must have one entry/);
    expect(() => productOfGaussians([{ loc: tf.zeros([3]), scale: a.scale }])).toThrow(
      /experts\[0\]\.loc has shape \[3\]/,
    );
    expect(() => productOfGaussians([a], { eps: -1 })).toThrow(/eps/);
    disposeAll([a, bad, m]);
  });
});
