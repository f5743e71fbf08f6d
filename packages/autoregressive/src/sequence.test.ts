import { logSumExp, Rng, ShapeError, Trainer, tf, ValueError } from '@dgm-js/core-tensors';
import { expectNoLeaks } from '@dgm-js/test-utils';
import { describe, expect, it } from 'vitest';
import { nllObjective } from './objective.js';
import { SequenceModel } from './sequence.js';
import {
  allCategorical,
  chi2Critical001,
  chiSquare,
  countIndices,
  indexOf,
} from './test-helpers.js';

describe('SequenceModel', () => {
  it('is autoregressive: logits at t depend exactly on positions t-reach..t-1 (autodiff)', () => {
    const T = 12;
    const m = new SequenceModel({
      length: T,
      vocabSize: 3,
      hiddenChannels: 6,
      numLayers: 2,
      kernelSize: 3,
      contextDim: 2,
      rng: new Rng(1),
    });
    const reach = m.receptiveReach();
    expect(reach).toBe(7);
    const x = tf.randomUniform([2, T, 3], 0, 1, 'float32', 3);
    const c = tf.randomNormal([2, 2], 0, 1, 'float32', 4);
    for (let t = 0; t < T; t++) {
      const g = tf.tidy(() =>
        tf.grad((xi: tf.Tensor) =>
          tf.sum(tf.slice(m.logitsFromOneHot(xi, c), [0, t, 0], [-1, 1, -1])),
        )(x),
      );
      const v = g.dataSync();
      for (let u = 0; u < T; u++) {
        let nz = false;
        for (let s = 0; s < 2; s++) for (let k = 0; k < 3; k++) nz ||= v[(s * T + u) * 3 + k] !== 0;
        expect(nz, `position ${t} vs ${u}`).toBe(u < t && u >= t - reach);
      }
      g.dispose();
    }
    tf.dispose([x, c]);
    m.dispose();
  });

  it('sums to 1 over all 3^5 sequences (also conditionally) and accepts one-hot input', () => {
    const xs = allCategorical(5, 3);
    const m = new SequenceModel({
      length: 5,
      vocabSize: 3,
      hiddenChannels: 4,
      numLayers: 1,
      kernelSize: 2,
      contextDim: 1,
      rng: new Rng(2),
    });
    const c = tf.tensor2d([[0.7]]);
    const total = tf.tidy(() => logSumExp(m.logProb(xs, c), 0));
    expect(total).toBeAllclose(0, { rtol: 0, atol: 1e-5 });
    const oh = tf.tidy(() => tf.cast(tf.oneHot(tf.cast(xs, 'int32'), 3), 'float32'));
    const a = m.logProb(xs, c);
    const b = m.logProb(oh, c);
    expect(b).toBeAllclose(a, { rtol: 1e-6, atol: 1e-6 });
    tf.dispose([xs, c, total, oh, a, b]);
    m.dispose();
  });

  it('samples follow exp(logProb) (chi-square over 64 sequences), windowed == full passes', () => {
    const m = new SequenceModel({
      length: 3,
      vocabSize: 4,
      hiddenChannels: 4,
      numLayers: 1,
      kernelSize: 2,
      rng: new Rng(3),
    });
    const probs = tf.tidy(() => tf.exp(m.logProb(allCategorical(3, 4)))).dataSync();
    const s = m.sample({ sampleShape: [20000], rng: new Rng(4) });
    expect(s.dtype).toBe('int32');
    const { stat, df } = chiSquare(countIndices(indexOf(s.dataSync(), 3, 4), 64), probs);
    expect(stat).toBeLessThan(chi2Critical001(df));
    s.dispose();
    m.dispose();
    const long = new SequenceModel({
      length: 20,
      vocabSize: 4,
      hiddenChannels: 4,
      numLayers: 1,
      kernelSize: 2,
      rng: new Rng(5),
    });
    const a = long.sample({ sampleShape: [5], rng: new Rng(6) });
    long.windowedSampling = false;
    const b = long.sample({ sampleShape: [5], rng: new Rng(6) });
    expect(a).toBeAllclose(b, { rtol: 0, atol: 0 });
    tf.dispose([a, b]);
    long.dispose();
  });

  it('learns a periodic DNA-like pattern', async () => {
    // sequences ACGTACGT... with a random phase: after the first token everything is determined
    const n = 64;
    const T = 16;
    const rng = new Rng(7);
    const v = new Int32Array(n * T);
    for (let i = 0; i < n; i++) {
      const phase = Math.floor(rng.float() * 4);
      for (let t = 0; t < T; t++) v[i * T + t] = (phase + t) % 4;
    }
    const x = tf.tensor2d(v, [n, T], 'int32');
    const m = new SequenceModel({
      length: T,
      vocabSize: 4,
      hiddenChannels: 16,
      numLayers: 1,
      rng: new Rng(8),
    });
    await new Trainer({
      model: m,
      objective: nllObjective(m),
      data: [x],
      optimizer: tf.train.adam(0.02),
      maxSteps: 120,
      quiet: true,
    }).fit();
    const nll = tf.tidy(() => -tf.mean(m.logProb(x)).dataSync()[0]!);
    expect(nll).toBeLessThan(Math.log(4) + 0.3); // the floor is ln 4 (the phase)
    x.dispose();
    m.dispose();
  });

  it('leaks nothing and gives typed errors', async () => {
    const m = new SequenceModel({
      length: 6,
      vocabSize: 5,
      hiddenChannels: 4,
      numLayers: 1,
      contextDim: 2,
      rng: new Rng(9),
    });
    const x = tf.tensor2d([[0, 1, 2, 3, 4, 0]], [1, 6], 'int32');
    const c = tf.ones([1, 2]);
    await expectNoLeaks(() => m.logProb(x, c).dispose(), 'logProb');
    await expectNoLeaks(() => m.logits(x, c).dispose(), 'logits');
    await expectNoLeaks(
      () => m.sample({ sampleShape: [3], rng: new Rng(0), context: c }).dispose(),
      'sample',
    );
    const opt = tf.train.adam(1e-3);
    const obj = nllObjective(m);
    const step = () =>
      opt.minimize(
        () =>
          obj.loss({ x, context: c }, { step: 0, epoch: 0, batchIndex: 0, rng: new Rng(0) })
            .loss as tf.Scalar,
      );
    step();
    await expectNoLeaks(step, 'training step');
    expect(() => m.logProb(tf.zeros([1, 5]), c)).toThrow(ShapeError);
    expect(() => m.logProb(tf.fill([1, 6], 5), c)).toThrow(/\[0, 4\], got 5/);
    expect(() => m.logProb(tf.fill([1, 6, 5], 0.2), c)).toThrow(ValueError);
    expect(() => m.logProb(x)).toThrow(/conditional/);
    expect(() => new SequenceModel({ length: 4, vocabSize: 1, rng: new Rng(0) })).toThrow(
      /vocabSize/,
    );
    tf.dispose([x, c]);
    opt.dispose();
    m.dispose();
  });
});
