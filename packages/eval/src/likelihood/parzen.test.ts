/**
 * Parzen-window log-likelihoods against exact values: a hand-computed mixture of three kernels,
 * the closed form of a Gaussian mixture convolved with the window, and the protocol (sigma on a
 * validation split) recovering a known mixture's exact test log-likelihood; leaks and errors.
 */
import { Rng, tf, ValueError } from '@dgm-js/core-tensors';
import { expectNoLeaks } from '@dgm-js/test-utils';
import { describe, expect, it } from 'vitest';
import { logSumExpArray, meanStderr } from '../stats.js';
import { parzenBandwidth, parzenLogLikelihoods, parzenMetric } from './parzen.js';

/** A 2-D mixture of isotropic Gaussians. */
const MIX = {
  weights: [0.5, 0.3, 0.2],
  means: [
    [0, 0],
    [3, 1],
    [-2, 2.5],
  ],
  sds: [0.5, 0.8, 0.3],
};

function sampleMix(n: number, rng: Rng): Float32Array {
  const out = new Float32Array(2 * n);
  for (let i = 0; i < n; i++) {
    const u = rng.float();
    const k = u < 0.5 ? 0 : u < 0.8 ? 1 : 2;
    for (let j = 0; j < 2; j++) {
      const r = Math.sqrt(-2 * Math.log(1 - rng.float())) * Math.cos(2 * Math.PI * rng.float());
      out[2 * i + j] = MIX.means[k]![j]! + MIX.sds[k]! * r;
    }
  }
  return out;
}

/** log of the mixture convolved with N(0, extra^2 I) at a 2-D point (exact). */
function logMix(x: number, y: number, extra = 0): number {
  return logSumExpArray(
    MIX.weights.map((w, k) => {
      const v = MIX.sds[k]! ** 2 + extra ** 2;
      const d2 = (x - MIX.means[k]![0]!) ** 2 + (y - MIX.means[k]![1]!) ** 2;
      return Math.log(w) - Math.log(2 * Math.PI * v) - d2 / (2 * v);
    }),
  );
}

describe('parzenLogLikelihoods', () => {
  it('equals the hand-computed kernel mixture for 3 centres (chunked or not)', () => {
    const c = tf.tensor2d([0, 0, 1, 2, -1, 0.5], [3, 2]);
    const x = tf.tensor2d([0.5, 0.5, -2, 1], [2, 2]);
    const sigma = 0.7;
    const want = [
      [0.5, 0.5],
      [-2, 1],
    ].map(([a, b]) =>
      logSumExpArray(
        [
          [0, 0],
          [1, 2],
          [-1, 0.5],
        ].map(
          ([p, q]) =>
            -((a! - p!) ** 2 + (b! - q!) ** 2) / (2 * sigma ** 2) -
            Math.log(3) -
            Math.log(2 * Math.PI * sigma ** 2),
        ),
      ),
    );
    const got = expectNoLeaks(() => parzenLogLikelihoods(c, x, sigma));
    return got.then((v) => {
      expect(v[0]).toBeCloseTo(want[0]!, 5);
      expect(v[1]).toBeCloseTo(want[1]!, 5);
      const chunked = parzenLogLikelihoods(c, x, sigma, { centreChunk: 1, batchSize: 1 });
      expect(chunked[0]).toBeCloseTo(want[0]!, 5);
      expect(chunked[1]).toBeCloseTo(want[1]!, 5);
      tf.dispose([c, x]);
    });
  });

  it('with 40000 mixture samples matches the exact log-density of mixture * N(0, sigma^2)', () => {
    const rng = new Rng(1);
    const centres = tf.tensor2d(sampleMix(40000, rng), [40000, 2]);
    const pts = sampleMix(300, rng);
    const x = tf.tensor2d(pts, [300, 2]);
    const sigma = 0.25;
    const ll = parzenLogLikelihoods(centres, x, sigma, { centreChunk: 7000 });
    const exact = Array.from({ length: 300 }, (_, i) =>
      logMix(pts[2 * i]!, pts[2 * i + 1]!, sigma),
    );
    const diff = meanStderr(Array.from(ll, (v, i) => v - exact[i]!));
    // Unbiased up to Monte Carlo error (the Jensen bias of log p-hat is ~1e-4 nats here)
    expect(diff.stderr).toBeLessThan(0.02);
    expect(Math.abs(diff.mean)).toBeLessThan(3 * diff.stderr);
    tf.dispose([centres, x]);
  });
});

describe('the Parzen protocol (sigma on a validation split)', () => {
  it("recovers a known mixture's exact mean test log-likelihood within its smoothing bias", async () => {
    const rng = new Rng(2);
    const samples = tf.tensor2d(sampleMix(20000, rng), [20000, 2]);
    const valid = tf.tensor2d(sampleMix(500, rng), [500, 2]);
    const testPts = sampleMix(1000, rng);
    const test = tf.tensor2d(testPts, [1000, 2]);
    const sigmas = [0.02, 0.05, 0.1, 0.2, 0.4, 0.8];
    const sampler = { sample: () => tf.clone(samples) }; // all 20000 centres in one draw
    const r = await expectNoLeaks(() =>
      parzenMetric({ validation: valid, sigmas, numSamples: 20000, chunk: 20000 }).compute(
        sampler,
        test,
      ),
    );
    const exact = meanStderr(
      Array.from({ length: 1000 }, (_, i) => logMix(testPts[2 * i]!, testPts[2 * i + 1]!)),
    );
    const smoothed = meanStderr(
      Array.from({ length: 1000 }, (_, i) =>
        logMix(testPts[2 * i]!, testPts[2 * i + 1]!, r.details.sigma as number),
      ),
    );
    // The selected sigma is interior, the estimate is close to the smoothed density, and the
    // smoothing costs at most a few hundredths of a nat against the exact density.
    expect(r.details.sigma).toBeGreaterThan(0.02);
    expect(r.details.sigma).toBeLessThan(0.8);
    expect(Math.abs(r.value - smoothed.mean)).toBeLessThan(0.03);
    expect(Math.abs(r.value - exact.mean)).toBeLessThan(0.06);
    expect(r.stderr).toBeCloseTo(exact.stderr, 1);
    const bw = parzenBandwidth(samples, valid, sigmas);
    expect(bw.sigma).toBe(r.details.sigma);
    tf.dispose([samples, valid, test]);
  });

  it('rejects bad sigma, shapes and missing validation (typed errors)', () => {
    const c = tf.zeros([3, 2]);
    expect(() => parzenLogLikelihoods(c, tf.zeros([2, 3]), 1)).toThrow(/values per row/);
    expect(() => parzenLogLikelihoods(c, c, 0)).toThrow(ValueError);
    expect(() => parzenBandwidth(c, c, [])).toThrow(/non-empty/);
    expect(() => parzenMetric({} as never)).toThrow(/validation/);
    tf.dispose(c);
  });
});
