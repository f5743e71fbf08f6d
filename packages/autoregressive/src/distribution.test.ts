/**
 * The autoregressive models through the core contracts only (`Distribution`,
 * `ConditionalDistribution`): shapes of `sample({ sampleShape })`, `logProb` agreeing with the
 * direct call, normalisation by exact enumeration, no leaks, and the errors of what has no
 * closed form. `nllObjective` on any core distribution.
 */
import {
  type ConditionalDistribution,
  DgmError,
  type Distribution,
  Independent,
  Normal,
  Rng,
  tf,
  ValueError,
} from '@dgm-js/core-tensors';
import { expectNoLeaks } from '@dgm-js/test-utils';
import { describe, expect, it } from 'vitest';
import type { DensityModel } from './density.js';
import { Made } from './made.js';
import { nllObjective } from './objective.js';
import { PixelCNN } from './pixelcnn.js';
import { allBinary } from './test-helpers.js';

type Tensor = tf.Tensor;

const step = { step: 0, epoch: 0, batchIndex: 0, rng: new Rng(0) };

/** Sample shape, finiteness, agreement with row-wise scoring, and leaks, through `d` only. */
async function checkContract(
  d: Distribution,
  direct: (rows: Tensor) => Tensor,
  event: number[],
): Promise<void> {
  expect(d.batchShape).toEqual([]);
  expect(d.eventShape).toEqual(event);
  expect(d.hasRsample).toBe(false);
  const rng = new Rng(3);
  const xs = d.sample({ sampleShape: [4, 3], rng });
  expect(xs.shape).toEqual([4, 3, ...event]);
  const lp = d.logProb(xs);
  expect(lp.shape).toEqual([4, 3]);
  const v = lp.dataSync();
  expect(Array.from(v).every(Number.isFinite)).toBe(true);
  const rows = tf.reshape(xs, [12, ...event]);
  const want = direct(rows);
  expect(lp).toBeAllclose(tf.reshape(want, [4, 3]), { rtol: 1e-6, atol: 1e-6 });
  // one draw (sampleShape []) is one example; its log-probability a scalar
  const one = d.sample({ rng });
  expect(one.shape).toEqual(event);
  const lpOne = d.logProb(one);
  expect(lpOne.shape).toEqual([]);
  await expectNoLeaks(() => d.sample({ sampleShape: [2], rng }).dispose(), 'sample');
  await expectNoLeaks(() => d.logProb(xs).dispose(), 'logProb');
  expect(() => d.entropy()).toThrow(DgmError);
  expect(() => d.entropy()).toThrow(/no closed form; estimate it/);
  expect(() => d.mean).toThrow(/no closed form; estimate it/);
  expect(() => d.mode).toThrow(/no closed form/);
  expect(() => d.rsample({ rng })).toThrow(/hasRsample is false/);
  tf.dispose([xs, lp, rows, want, one, lpOne]);
}

describe('MADE as a Distribution', () => {
  it('3 binary dims: probabilities from logProb sum to 1 over all 8 configurations', () => {
    const d: Distribution = new Made({
      dim: 3,
      hiddenSizes: [5],
      ordering: [1, 2, 0],
      directConnections: true,
      rng: new Rng(31),
    });
    const p = tf.tidy(() => Array.from(tf.exp(d.logProb(allBinary(3))).dataSync()));
    expect(p).toHaveLength(8);
    expect(p.reduce((a, b) => a + b, 0)).toBeAllclose(1, { rtol: 1e-6, atol: 0 });
    // a non-trivial distribution: not uniform
    expect(Math.max(...p) - Math.min(...p)).toBeGreaterThan(1e-3);
    d.dispose();
  });

  it('sample shape [...sampleShape, ...event], logProb finite and equal to the direct call, no leaks', async () => {
    const made = new Made({ dim: 5, hiddenSizes: [8], rng: new Rng(32) });
    await checkContract(made, (rows) => made.logProb(rows), [5]);
    const old: DensityModel = made; // the deprecated name is the core Distribution
    expect(old.eventShape).toEqual([5]);
    made.dispose();
  });

  it('a conditional MADE is a ConditionalDistribution: condition(c) sums to 1 per context, shapes, no leaks', async () => {
    const made = new Made({ dim: 3, hiddenSizes: [6], contextDim: 2, rng: new Rng(33) });
    const cd: ConditionalDistribution = made;
    const c = tf.tensor2d([
      [1, -1],
      [0.5, 2],
    ]);
    const p = cd.condition(c);
    expect(p.batchShape).toEqual([2]);
    expect(p.eventShape).toEqual([3]);
    // every configuration against both contexts: [8, 1, 3] broadcast with batch [2] -> [8, 2]
    const all = tf.reshape(allBinary(3), [8, 1, 3]);
    const lp = p.logProb(all);
    expect(lp.shape).toEqual([8, 2]);
    const mass = tf.tidy(() => tf.sum(tf.exp(lp), 0));
    expect(mass).toBeAllclose([1, 1], { rtol: 1e-6, atol: 0 });
    // the two contexts give two different distributions
    const diff = tf.tidy(() =>
      tf.max(tf.abs(tf.sub(tf.slice(lp, [0, 0], [8, 1]), tf.slice(lp, [0, 1], [8, 1])))),
    );
    expect(diff.dataSync()[0]!).toBeGreaterThan(1e-3);
    const rng = new Rng(4);
    const xs = p.sample({ sampleShape: [5], rng });
    expect(xs.shape).toEqual([5, 2, 3]);
    const lps = p.logProb(xs);
    expect(lps.shape).toEqual([5, 2]);
    // the direct call with one context row per example
    const direct = made.logProb(tf.reshape(xs, [10, 3]), tf.tile(c, [5, 1]));
    expect(lps).toBeAllclose(tf.reshape(direct, [5, 2]), { rtol: 1e-6, atol: 1e-6 });
    // contexts with two batch axes [k, B, 2]: a decoder conditioned on k latent samples
    const c3 = tf.stack([c, tf.neg(c), c]);
    const p3 = cd.condition(c3);
    expect(p3.batchShape).toEqual([3, 2]);
    const lp3 = p3.logProb(tf.slice(xs, [0, 0, 0], [1, 2, 3]));
    expect(lp3.shape).toEqual([3, 2]);
    expect(tf.slice(lp3, [0, 0], [1, 2])).toBeAllclose(tf.slice(lps, [0, 0], [1, 2]), {
      rtol: 1e-6,
      atol: 1e-6,
    });
    await expectNoLeaks(() => {
      const q = cd.condition(c);
      q.sample({ sampleShape: [2], rng }).dispose();
      q.logProb(all).dispose();
      q.dispose();
    }, 'condition, sample, logProb');
    expect(() => made.sample({ sampleShape: [2], rng })).toThrow(/conditional/);
    const un = new Made({ dim: 3, hiddenSizes: [4], rng: new Rng(0) });
    expect(() => un.condition(c)).toThrow(/unconditional/);
    expect(() => cd.condition(tf.zeros([2, 3]))).toThrow(/context must have shape \[...batch, 2\]/);
    tf.dispose([c, all, lp, mass, diff, xs, lps, direct, c3, lp3]);
    p.dispose();
    p3.dispose();
    un.dispose();
    made.dispose();
  });
});

describe('PixelCNN as a Distribution', () => {
  it('2x2 binary images: probabilities sum to 1 over all 16 images through logProb', () => {
    const d: Distribution = new PixelCNN({
      height: 2,
      width: 2,
      hiddenChannels: 4,
      numLayers: 1,
      firstKernelSize: 3,
      rng: new Rng(34),
    });
    expect(d.eventShape).toEqual([2, 2, 1]);
    const total = tf.tidy(
      () => tf.sum(tf.exp(d.logProb(tf.reshape(allBinary(4), [16, 2, 2, 1])))).dataSync()[0]!,
    );
    expect(total).toBeAllclose(1, { rtol: 1e-5, atol: 0 });
    d.dispose();
  });

  it('sample shape [...sampleShape, H, W, C], logProb finite and equal to the direct call, no leaks', async () => {
    const m = new PixelCNN({
      height: 3,
      width: 3,
      levels: 4,
      hiddenChannels: 4,
      numLayers: 1,
      firstKernelSize: 3,
      rng: new Rng(35),
    });
    await checkContract(m, (rows) => m.logProb(rows), [3, 3, 1]);
    m.dispose();
  });

  it('a vector-conditioned PixelCNN: condition(c) sums to 1 per context', async () => {
    const m = new PixelCNN({
      height: 2,
      width: 2,
      hiddenChannels: 4,
      numLayers: 1,
      firstKernelSize: 3,
      conditioning: { type: 'vector', dim: 3 },
      rng: new Rng(36),
    });
    const c = tf.tensor2d([
      [1, 0, 0],
      [0, 0, 1],
    ]);
    const p = m.condition(c);
    const all = tf.reshape(allBinary(4), [16, 1, 2, 2, 1]);
    const mass = tf.tidy(() => tf.sum(tf.exp(p.logProb(all)), 0));
    expect(mass).toBeAllclose([1, 1], { rtol: 1e-5, atol: 0 });
    const xs = p.sample({ sampleShape: [3], rng: new Rng(1) });
    expect(xs.shape).toEqual([3, 2, 2, 2, 1]);
    await expectNoLeaks(() => p.logProb(xs).dispose(), 'logProb');
    tf.dispose([c, all, mass, xs]);
    p.dispose();
    m.dispose();
  });

  it('sampleAsync takes the same options and shapes', async () => {
    const m = new PixelCNN({
      height: 2,
      width: 2,
      hiddenChannels: 4,
      numLayers: 1,
      firstKernelSize: 3,
      rng: new Rng(37),
    });
    const a = m.sample({ sampleShape: [2, 3], rng: new Rng(5) });
    const b = await m.sampleAsync({ sampleShape: [2, 3], rng: new Rng(5), yieldEveryMs: 0 });
    expect(b.shape).toEqual([2, 3, 2, 2, 1]);
    expect(b).toBeAllclose(a, { rtol: 0, atol: 0 });
    tf.dispose([a, b]);
    m.dispose();
  });
});

describe('nllObjective on any Distribution', () => {
  it('a core Normal: the loss is the mean NLL (analytic) and bitsPerDim is nll / (dims ln 2)', () => {
    const d = new Independent(new Normal(tf.zeros([2]), 1), 1);
    const x = tf.tensor2d([
      [0, 0],
      [1, -2],
    ]);
    const obj = nllObjective(d);
    const r = obj.loss(x, step);
    // NLL of N(0, I) in 2-D: ln(2 pi) + |x|^2 / 2
    const want = Math.log(2 * Math.PI) + (0 + 5 / 2) / 2;
    expect(r.loss).toBeAllclose(want, { rtol: 1e-6, atol: 0 });
    expect(r.metrics!.bitsPerDim!).toBeAllclose(want / (2 * Math.LN2), { rtol: 1e-6, atol: 0 });
    tf.dispose([r.loss, ...Object.values(r.metrics!)]);
    x.dispose();
    d.dispose();
  });

  it('a ConditionalDistribution: batches { x, context } are scored by condition(context)', () => {
    const shift: ConditionalDistribution = {
      condition: (c) => new Independent(new Normal(c, 1), 1),
    };
    const obj = nllObjective(shift);
    const x = tf.tensor2d([[1, 1]]);
    const c = tf.tensor2d([[1, 0]]);
    const r = obj.loss({ x, context: c }, step);
    expect(r.loss).toBeAllclose(Math.log(2 * Math.PI) + 0.5, { rtol: 1e-6, atol: 0 });
    expect(() => obj.loss(x, step)).toThrow(ValueError);
    tf.dispose([r.loss, ...Object.values(r.metrics!), x, c]);
  });
});
