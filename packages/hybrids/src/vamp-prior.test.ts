/**
 * VampPrior: log p(z) against the mixture written out by hand in float64 from the encoder's own
 * means and scales; samples against the mixture's analytic mean and second moment; gradients
 * reaching both the pseudo-inputs and the shared encoder; the VAE counts the encoder once;
 * a training step without leaks; typed errors.
 */
import { adam, mlp, Rng, ShapeError, tf, ValueError } from '@dgm-js/core-tensors';
import { disposeAll, expectNoLeaks } from '@dgm-js/test-utils';
import { bernoulliDecoder, gaussianEncoder, VAE } from '@dgm-js/vae';
import { describe, expect, it } from 'vitest';
import { type VampPrior, vampPrior } from './index.js';

const D = 6; // input size
const L = 2; // latent size
const K = 3; // pseudo-inputs

function parts(seed = 0) {
  const rng = new Rng(seed);
  const encoder = gaussianEncoder(mlp([D, 8, 2 * L], { rng, activation: 'tanh' }));
  const prior = vampPrior(encoder, { components: K, inputShape: [D], rng });
  return { rng, encoder, prior };
}

/** The encoder's means at the pseudo-inputs, `[K * L]` as numbers. */
function componentMeans(prior: VampPrior, encoder: ReturnType<typeof parts>['encoder']): number[] {
  const u = prior.pseudoInputs();
  const q = encoder.condition(u);
  const mean = q.mean;
  const mu = Array.from(mean.dataSync(), Number);
  disposeAll([u, mean]);
  q.dispose();
  return mu;
}

describe('VampPrior', () => {
  it('log p(z) equals log (1/K) sum_k N(z; mu_k, sigma_k) computed by hand', () => {
    const { encoder, prior } = parts(1);
    const u = prior.pseudoInputs();
    const q = encoder.condition(u);
    // sigma_k,j from the Normal's log density at mu +- 1 along each axis (exact for a Gaussian)
    const mean = q.mean;
    const mu = Array.from(mean.dataSync(), Number);
    const sig: number[] = [];
    for (let j = 0; j < L; j++) {
      const shifted = tf.tidy(() => tf.add(mean, tf.oneHot(tf.fill([K], j, 'int32'), L)));
      const a = q.logProb(mean).dataSync();
      const b = q.logProb(shifted).dataSync();
      for (let k = 0; k < K; k++) sig[k * L + j] = Math.sqrt(0.5 / (a[k]! - b[k]!));
      shifted.dispose();
    }
    disposeAll([u, mean]);
    q.dispose();
    const z = [
      [0.3, -1.2],
      [2.0, 0.5],
      [-0.7, 0.1],
      [0, 0],
    ];
    const got = prior.logProb(tf.tensor2d(z));
    const vals = Array.from(got.dataSync());
    got.dispose();
    z.forEach((zz, n) => {
      const terms: number[] = [];
      for (let k = 0; k < K; k++) {
        let lp = 0;
        for (let j = 0; j < L; j++) {
          const s = sig[k * L + j]!;
          const d = (zz[j]! - mu[k * L + j]!) / s;
          lp += -0.5 * d * d - Math.log(s) - 0.5 * Math.log(2 * Math.PI);
        }
        terms.push(lp);
      }
      const m = Math.max(...terms);
      const want = m + Math.log(terms.reduce((a, t) => a + Math.exp(t - m), 0)) - Math.log(K);
      expect(vals[n]).toBeCloseTo(want, 4);
    });
    prior.dispose();
    encoder.dispose();
  });

  it('samples have the mixture mean (1/K) sum_k mu_k', () => {
    const { encoder, prior, rng } = parts(2);
    const mu = componentMeans(prior, encoder);
    const n = 20000;
    const s = prior.sample({ sampleShape: [n], rng });
    expect(s.shape).toEqual([n, L]);
    const m = tf.mean(s, 0);
    const got = Array.from(m.dataSync());
    disposeAll([s, m]);
    for (let j = 0; j < L; j++) {
      let want = 0;
      for (let k = 0; k < K; k++) want += mu[k * L + j]! / K;
      // the components' scales are O(1): the standard error of the mean is below 0.01
      expect(Math.abs(got[j]! - want)).toBeLessThan(0.04);
    }
    const pm = prior.mean;
    const pmv = Array.from(pm.dataSync());
    pm.dispose();
    for (let j = 0; j < L; j++) {
      let want = 0;
      for (let k = 0; k < K; k++) want += mu[k * L + j]! / K;
      expect(pmv[j]).toBeCloseTo(want, 5);
    }
    prior.dispose();
    encoder.dispose();
  });

  it('gradients of log p(z) reach the pseudo-inputs and the shared encoder', () => {
    const { encoder, prior } = parts(3);
    const z = tf.tensor2d([[0.2, -0.4]]);
    const vars = [...prior.trainableParameters(), ...encoder.trainableParameters()];
    const { grads, value } = tf.variableGrads(() => tf.sum(prior.logProb(z)) as tf.Scalar, vars);
    for (const v of vars) {
      const g = grads[v.name]!;
      const norm = tf.norm(g).dataSync()[0]!;
      expect(Number.isFinite(norm)).toBe(true);
      expect(norm).toBeGreaterThan(0);
    }
    disposeAll([z, value, ...Object.values(grads)]);
    prior.dispose();
    encoder.dispose();
  });

  it('in a VAE: the encoder is counted once, a training step leaks nothing', async () => {
    const rng = new Rng(4);
    const encoder = gaussianEncoder(mlp([D, 8, 2 * L], { rng, activation: 'tanh' }));
    const decoder = bernoulliDecoder(mlp([L, 8, D], { rng, activation: 'tanh' }));
    const prior = vampPrior(encoder, { components: K, inputShape: [D], rng });
    const vae = new VAE({ encoder, decoder, prior });
    const expected = encoder.numParams() + decoder.numParams() + K * D;
    expect(vae.numParams()).toBe(expected);
    const x = tf.tensor2d([
      [1, 0, 1, 1, 0, 0],
      [0, 0, 1, 0, 1, 1],
    ]);
    const opt = adam(1e-2);
    const step = () => {
      const loss = opt.minimize(() => tf.neg(tf.mean(vae.elbo(x, { rng }))) as tf.Scalar, true);
      loss?.dispose();
    };
    step(); // optimiser slots are created on the first step
    await expectNoLeaks(step, 'a VampPrior VAE training step');
    disposeAll([x]);
    opt.dispose();
    vae.dispose();
  });

  it('rejects bad options with typed errors naming the argument', () => {
    const rng = new Rng(5);
    const encoder = gaussianEncoder(mlp([D, 8, 2 * L], { rng }));
    expect(() => vampPrior(encoder, { components: 0, inputShape: [D], rng })).toThrow(/components/);
    expect(() => vampPrior({} as never, { inputShape: [D], rng })).toThrow(ValueError);
    const init = tf.zeros([3, D]);
    expect(() => vampPrior(encoder, { components: 2, inputShape: [D], rng, init })).toThrow(
      ShapeError,
    );
    init.dispose();
    const prior = vampPrior(encoder, { components: 2, inputShape: [D], rng });
    const bad = tf.zeros([4, L + 1]);
    expect(() => prior.logProb(bad)).toThrow(/latent \[2\]/);
    expect(() => prior.rsample({ rng })).toThrow(ValueError);
    bad.dispose();
    prior.dispose();
    encoder.dispose();
  });
});
