/**
 * AIS against the exact log-likelihood and against IWAE_k on a tiny linear-Gaussian latent model
 * whose posterior is strongly correlated (two nearly collinear loading vectors):
 * z ~ N(0, I_2), x | z ~ N(W z + b, s^2 I_4). Everything the test compares with is computed
 * here in float64, independently of the AIS code: log p(x) = log N(x; b, W W^T + s^2 I) (closed
 * form, via the matrix determinant lemma / Woodbury with the 2x2 posterior precision), the exact
 * posterior N(mu(x), Sigma) with Sigma = (I + W^T W / s^2)^-1, and IWAE_k with the proposal a
 * trained VAE encoder converges to on this model: the ELBO-optimal mean-field Gaussian (the
 * posterior mean, precisions = the diagonal of Sigma^-1), which is too narrow along the
 * posterior's long axis — the situation where Wu et al. (2017) find AIS above IWAE.
 */
import { Rng, tf } from '@dgm-js/core-tensors';
import { afterAll, describe, expect, it } from 'vitest';
import { logSumExpArray, meanStderr } from '../stats.js';
import { aisLogLikelihood, type DecoderModel } from './ais.js';

const D = 4;
const S = 0.5;
// Columns w1, w2 of W, nearly collinear: the posterior of (z1, z2) is a thin ridge.
const W = [
  [1.0, 0.9],
  [0.8, 0.9],
  [-0.6, -0.5],
  [0.4, 0.5],
]; // [D][2]
const B = [0.2, -0.1, 0.3, 0.0];
const Wt = tf.tensor2d(W.flat(), [D, 2]);
const Bt = tf.tensor1d(B);
afterAll(() => tf.dispose([Wt, Bt]));

const LOG_2PI = Math.log(2 * Math.PI);

const model: DecoderModel = {
  latentDim: 2,
  logLikelihood: (x, z) =>
    tf.tidy(() => {
      const r = tf.sub(x, tf.add(tf.matMul(z, Wt, false, true), Bt));
      return tf.sub(
        tf.mul(-0.5 / (S * S), tf.sum(tf.square(r), 1)),
        D * Math.log(S) + 0.5 * D * LOG_2PI,
      );
    }),
};

// Posterior precision P = I + W^T W / s^2 (2x2) and its inverse Sigma.
const P = [
  [1, 0],
  [0, 1],
];
for (let a = 0; a < 2; a++) {
  for (let c = 0; c < 2; c++) {
    for (let i = 0; i < D; i++) P[a]![c]! += (W[i]![a]! * W[i]![c]!) / (S * S);
  }
}
const detP = P[0]![0]! * P[1]![1]! - P[0]![1]! * P[1]![0]!;
const Sigma = [
  [P[1]![1]! / detP, -P[0]![1]! / detP],
  [-P[1]![0]! / detP, P[0]![0]! / detP],
];

/** Posterior mean mu = Sigma W^T (x - b) / s^2. */
function postMean(x: number[]): [number, number] {
  const u = [0, 0];
  for (let a = 0; a < 2; a++) {
    for (let i = 0; i < D; i++) u[a]! += (W[i]![a]! * (x[i]! - B[i]!)) / (S * S);
  }
  return [
    Sigma[0]![0]! * u[0]! + Sigma[0]![1]! * u[1]!,
    Sigma[1]![0]! * u[0]! + Sigma[1]![1]! * u[1]!,
  ];
}

/**
 * Exact log N(x; b, W W^T + s^2 I): by Woodbury, (W W^T + s^2 I)^-1 = (I - W Sigma W^T / s^2) / s^2,
 * and by the determinant lemma log det = D log s^2 + log det P.
 */
function exactLogP(x: number[]): number {
  const r = x.map((v, i) => v - B[i]!);
  const u = [0, 0];
  for (let a = 0; a < 2; a++) for (let i = 0; i < D; i++) u[a]! += W[i]![a]! * r[i]!;
  let uSu = 0;
  for (let a = 0; a < 2; a++) for (let c = 0; c < 2; c++) uSu += u[a]! * Sigma[a]![c]! * u[c]!;
  const rr = r.reduce((s, v) => s + v * v, 0);
  const quad = rr / (S * S) - uSu / (S * S * S * S);
  return -0.5 * (quad + D * Math.log(S * S) + Math.log(detP) + D * LOG_2PI);
}

function normal(r: Rng): number {
  return Math.sqrt(-2 * Math.log(1 - r.float())) * Math.cos(2 * Math.PI * r.float());
}

/** log p(x | z) + log p(z) in float64. */
function logJoint(x: number[], z: [number, number]): number {
  let sq = 0;
  for (let i = 0; i < D; i++) {
    const m = B[i]! + W[i]![0]! * z[0] + W[i]![1]! * z[1];
    sq += (x[i]! - m) ** 2;
  }
  const ll = (-0.5 * sq) / (S * S) - D * Math.log(S) - 0.5 * D * LOG_2PI;
  return ll - 0.5 * (z[0] * z[0] + z[1] * z[1]) - LOG_2PI;
}

/** IWAE_k with the mean-field proposal N(mu(x), diag(1 / P_aa)), float64. */
function iwaeMeanField(x: number[], k: number, r: Rng): number {
  const mu = postMean(x);
  const sd = [1 / Math.sqrt(P[0]![0]!), 1 / Math.sqrt(P[1]![1]!)];
  const logW = new Float64Array(k);
  for (let j = 0; j < k; j++) {
    const e = [normal(r), normal(r)];
    const z: [number, number] = [mu[0] + sd[0]! * e[0]!, mu[1] + sd[1]! * e[1]!];
    const logQ =
      -0.5 * (e[0]! * e[0]! + e[1]! * e[1]!) - Math.log(sd[0]!) - Math.log(sd[1]!) - LOG_2PI;
    logW[j] = logJoint(x, z) - logQ;
  }
  return logSumExpArray(logW) - Math.log(k);
}

/** n examples x ~ p(x), simulated in float64. */
function simulate(n: number, seed: number): number[][] {
  const r = new Rng(seed);
  return Array.from({ length: n }, () => {
    const z = [normal(r), normal(r)];
    return B.map((b, i) => b + W[i]![0]! * z[0]! + W[i]![1]! * z[1]! + S * normal(r));
  });
}

describe('AIS on a linear-Gaussian model with exact log p(x)', () => {
  it('the exact reference is right: Woodbury form = a Monte Carlo average of p(x | z) over the prior', () => {
    // Independent check of exactLogP itself (the prior as proposal, 200k samples, float64).
    const x = simulate(1, 99)[0]!;
    const r = new Rng(5);
    const k = 200000;
    const logW = new Float64Array(k);
    for (let j = 0; j < k; j++) {
      const z: [number, number] = [normal(r), normal(r)];
      logW[j] = logJoint(x, z) + 0.5 * (z[0] * z[0] + z[1] * z[1]) + LOG_2PI;
    }
    expect(logSumExpArray(logW) - Math.log(k)).toBeCloseTo(exactLogP(x), 1);
  });

  it('AIS is within its error bars of the exact value, and above IWAE_k (same k) in expectation', () => {
    const n = 24;
    const chains = 8;
    const xs = simulate(n, 7);
    const exact = xs.map(exactLogP);
    const x = tf.tensor2d(xs.flat(), [n, D]);
    const ais = aisLogLikelihood(model, x, {
      steps: 200,
      chains,
      leapfrog: 5,
      stepSize: 0.1,
      seed: 3,
      batchSize: n,
    });
    x.dispose();
    // Per-example errors; their mean has a standard error from the spread over examples.
    const err = meanStderr(Array.from(ais.values, (v, i) => v - exact[i]!));
    expect(Math.abs(err.mean)).toBeLessThan(3 * err.stderr);

    // IWAE_k with the ELBO-optimal mean-field proposal and as many samples as AIS has chains,
    // averaged over 8 independent runs per example (its expectation), in float64.
    const r = new Rng(17);
    const iwae = xs.map((xi) => {
      let s = 0;
      for (let rep = 0; rep < 8; rep++) s += iwaeMeanField(xi, chains, r) / 8;
      return s;
    });
    const iwaeGap = meanStderr(iwae.map((v, i) => exact[i]! - v));
    // IWAE_k is a lower bound in expectation and strictly below on this ridge-shaped posterior.
    expect(iwaeGap.mean).toBeGreaterThan(3 * iwaeGap.stderr);
    // AIS - IWAE_k, paired by example: positive beyond 3 standard errors.
    const diff = meanStderr(Array.from(ais.values, (v, i) => v - iwae[i]!));
    expect(diff.mean).toBeGreaterThan(3 * diff.stderr);
  });
});
