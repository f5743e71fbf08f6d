/**
 * AIS and its reverse chain (BDMC) on a linear-Gaussian latent model, where log p(x) is exact
 * (x ~ N(b, W W^T + s^2 I), computed in float64 from an eigendecomposition): the forward
 * estimate and the reverse upper bound bracket the truth on simulated data, and the gap shrinks
 * as the number of intermediate distributions grows, and with as many particles it beats
 * IWAE_k with the prior as proposal. Also the schedule, leaks and errors.
 */
import { Rng, tf, ValueError } from '@dgm-js/core-tensors';
import { expectNoLeaks } from '@dgm-js/test-utils';
import { afterAll, describe, expect, it } from 'vitest';
import { symmetricEigen } from '../quality/linalg.js';
import { meanStderr } from '../stats.js';
import {
  aisLogLikelihood,
  aisMetric,
  aisSchedule,
  bdmcUpperBound,
  type DecoderModel,
} from './ais.js';

const D = 6; // observed
const L = 2; // latent
const S = 0.3; // observation noise sd
const rng0 = new Rng(11);
const Wv = Float64Array.from({ length: D * L }, () => rng0.float() * 2 - 1); // [D, L]
const bv = Float64Array.from({ length: D }, () => rng0.float() - 0.5);
const Wt = tf.tensor2d(Float32Array.from(Wv), [D, L]);
const bt = tf.tensor1d(Float32Array.from(bv));
afterAll(() => tf.dispose([Wt, bt]));

/** log N(x; W z + b, S^2 I) per row. */
const model: DecoderModel = {
  latentDim: L,
  logLikelihood: (x, z) =>
    tf.tidy(() => {
      const mean = tf.add(tf.matMul(z, Wt, false, true), bt);
      const r = tf.sub(x, mean);
      return tf.sub(
        tf.mul(-0.5 / (S * S), tf.sum(tf.square(r), 1)),
        D * Math.log(S) + 0.5 * D * Math.log(2 * Math.PI),
      );
    }),
};

/** Exact log p(x) = log N(x; b, W W^T + S^2 I), float64. */
function exactLogP(x: ArrayLike<number>): number {
  const cov = new Float64Array(D * D);
  for (let i = 0; i < D; i++) {
    for (let j = 0; j < D; j++) {
      let s = i === j ? S * S : 0;
      for (let k = 0; k < L; k++) s += Wv[i * L + k]! * Wv[j * L + k]!;
      cov[i * D + j] = s;
    }
  }
  const { values, vectors } = symmetricEigen(cov, D);
  let quad = 0;
  let logDet = 0;
  for (let k = 0; k < D; k++) {
    let proj = 0;
    for (let i = 0; i < D; i++) proj += vectors[i * D + k]! * (x[i]! - bv[i]!);
    quad += (proj * proj) / values[k]!;
    logDet += Math.log(values[k]!);
  }
  return -0.5 * (quad + logDet + D * Math.log(2 * Math.PI));
}

/** n simulated pairs (x, z): z ~ N(0, I), x ~ N(W z + b, S^2 I). */
function simulate(n: number, seed: number): { x: tf.Tensor2D; z: tf.Tensor2D; exact: number[] } {
  const r = new Rng(seed);
  const normal = () => Math.sqrt(-2 * Math.log(1 - r.float())) * Math.cos(2 * Math.PI * r.float());
  const zs = Float32Array.from({ length: n * L }, normal);
  const xs = new Float32Array(n * D);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < D; j++) {
      let m = bv[j]!;
      for (let k = 0; k < L; k++) m += Wv[j * L + k]! * zs[i * L + k]!;
      xs[i * D + j] = m + S * normal();
    }
  }
  const exact = Array.from({ length: n }, (_, i) => exactLogP(xs.subarray(i * D, i * D + D)));
  return { x: tf.tensor2d(xs, [n, D]), z: tf.tensor2d(zs, [n, L]), exact };
}

describe('aisSchedule', () => {
  it('runs from 0 to 1, increasing; sigmoid is denser at the ends', () => {
    for (const s of ['linear', 'sigmoid'] as const) {
      const b = aisSchedule(50, s);
      expect(b.length).toBe(51);
      expect(b[0]).toBe(0);
      expect(b[50]).toBe(1);
      for (let t = 1; t <= 50; t++) expect(b[t]!).toBeGreaterThan(b[t - 1]!);
    }
    const sig = aisSchedule(50, 'sigmoid');
    expect(sig[1]! - sig[0]!).toBeLessThan(1 / 50);
    expect(sig[26]! - sig[25]!).toBeGreaterThan(1 / 50);
    expect(() => aisSchedule(0)).toThrow(ValueError);
    expect(() => aisSchedule(5, 'cosine' as never)).toThrow(/sigmoid/);
  });
});

describe('AIS / BDMC on a linear-Gaussian model with exact log p(x)', () => {
  it('bracket the exact log-likelihood, and the gap shrinks with more intermediate distributions', () => {
    const { x, z, exact } = simulate(16, 3);
    const truth = meanStderr(exact).mean;
    const gaps: number[] = [];
    const lowers: number[] = [];
    for (const steps of [5, 40, 320]) {
      const opts = { steps, chains: 8, leapfrog: 5, stepSize: 0.3, seed: steps, batchSize: 16 };
      const lo = aisLogLikelihood(model, x, opts);
      const hi = bdmcUpperBound(model, x, z, opts);
      const lower = meanStderr(lo.values).mean;
      const upper = meanStderr(hi.values).mean;
      // Stochastic bounds: E[AIS] <= log p(x) <= E[BDMC]. The mean over 16 examples may cross the
      // truth only by Monte Carlo error: allow 3 standard errors of the per-example differences.
      const seLo = meanStderr(lo.values.map((v, i) => v - exact[i]!)).stderr;
      const seHi = meanStderr(hi.values.map((v, i) => v - exact[i]!)).stderr;
      expect(lower).toBeLessThan(truth + 3 * seLo);
      expect(upper).toBeGreaterThan(truth - 3 * seHi);
      expect(lo.acceptance).toBeGreaterThan(0.3);
      gaps.push(upper - lower);
      lowers.push(lower);
    }
    expect(gaps[1]!).toBeLessThan(gaps[0]!);
    expect(gaps[2]!).toBeLessThan(gaps[1]!);
    expect(gaps[2]!).toBeLessThan(gaps[0]! / 4);
    // With as many particles, AIS beats IWAE_k whose proposal is the prior (= AIS with T = 1):
    // log-mean-exp of 8 prior importance weights per example.
    const iwae = meanStderr(aisLogLikelihood(model, x, { steps: 1, chains: 8, seed: 9 }).values);
    expect(iwae.mean).toBeLessThan(lowers[2]!);
    tf.dispose([x, z]);
  });

  it('leaves no tensors behind; the Metric averages the per-example estimates', async () => {
    const { x, z } = simulate(4, 5);
    const opts = { steps: 3, chains: 2, leapfrog: 2, seed: 1 };
    const a = await expectNoLeaks(() => aisLogLikelihood(model, x, opts));
    await expectNoLeaks(() => bdmcUpperBound(model, x, z, opts));
    const r = await expectNoLeaks(() => aisMetric(opts).compute(model, x));
    expect(r.value).toBeCloseTo(meanStderr(a.values).mean, 10);
    expect(r.n).toBe(4);
    tf.dispose([x, z]);
  });

  it('rejects bad options, shapes and models with typed errors', () => {
    const x = tf.zeros([2, D]);
    expect(() => aisLogLikelihood(model, x, { steps: 0 })).toThrow(ValueError);
    expect(() => aisLogLikelihood(model, x, { steps: 2, stepSize: -1 })).toThrow(/stepSize/);
    expect(() => aisLogLikelihood({} as never, x, { steps: 2 })).toThrow(/logLikelihood/);
    expect(() => bdmcUpperBound(model, x, tf.zeros([3, L]), { steps: 2 })).toThrow(
      /exact posterior/,
    );
    const bad: DecoderModel = { latentDim: L, logLikelihood: (xx) => tf.zeros([xx.shape[0]!, 2]) };
    expect(() => aisLogLikelihood(bad, x, { steps: 2 })).toThrow(/must return/);
    x.dispose();
  });
});
