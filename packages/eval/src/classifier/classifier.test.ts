/**
 * The shipped MNIST classifier on real data: it loads offline from the package, classifies the
 * first 2000 MNIST test images with >= 98.5% accuracy (the training log records the full test
 * set), gives the same outputs for every accepted input layout, scores real digits near the
 * Inception-style maximum of 10, and leaks nothing.
 */
import { Rng, ShapeError, tf } from '@dgm-js/core-tensors';
import { getBatch, loadMnist } from '@dgm-js/datasets';
import { expectNoLeaks } from '@dgm-js/test-utils';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inceptionScoreMetric } from '../quality/metrics.js';
import { classifierOutputs } from '../quality/source.js';
import { loadMnistClassifier, type ShippedImageClassifier } from './classifier.js';
import { ConvClassifier } from './net.js';

const N = 2000;
let clf: ShippedImageClassifier;
let x: tf.Tensor;
let y: tf.Tensor;

beforeAll(async () => {
  clf = await loadMnistClassifier();
  const { test } = await loadMnist();
  const idx = Int32Array.from({ length: N }, (_, i) => i);
  const b = getBatch(test, idx, { fields: ['x', 'y'] });
  x = b.x;
  y = b.y;
});

afterAll(() => {
  tf.dispose([x, y]);
  clf?.dispose();
});

describe('the shipped MNIST classifier', () => {
  it('is described by its training run (>= 99% on the full test set when trained)', () => {
    expect(clf.dataset).toBe('mnist');
    expect(clf.numClasses).toBe(10);
    expect(clf.featureDim).toBe(64);
    expect(clf.meta.testImages).toBe(10000);
    expect(clf.meta.testAccuracy as number).toBeGreaterThanOrEqual(0.99);
    const total = clf.labelMarginal.reduce((a, b) => a + b, 0);
    expect(total).toBeCloseTo(1, 12);
    // MNIST's training labels: 5923 zeros, 6742 ones out of 60000
    expect(clf.labelMarginal[0]).toBeCloseTo(5923 / 60000, 12);
    expect(clf.labelMarginal[1]).toBeCloseTo(6742 / 60000, 12);
  });

  it(`classifies the first ${N} real test images with >= 98.5% accuracy`, () => {
    const acc = clf.accuracy(x, y);
    expect(acc).toBeGreaterThanOrEqual(0.985);
  });

  it('accepts [n, 28, 28, 1], [n, 28, 28] and [n, 784] alike; returns log-probabilities; no leaks', async () => {
    const xb = tf.slice(x, [0], [16]);
    const flat = tf.reshape(xb, [16, 784]);
    const sq = tf.reshape(xb, [16, 28, 28]);
    const ones = tf.ones([16]);
    await expectNoLeaks(() => {
      const a = clf.classify(xb);
      const b = clf.classify(flat);
      const c = clf.classify(sq);
      expect(a.features.shape).toEqual([16, 64]);
      expect(a.logProbs.shape).toEqual([16, 10]);
      expect(b.logProbs).toBeAllclose(a.logProbs, { rtol: 1e-6, atol: 1e-6 });
      expect(c.features).toBeAllclose(a.features, { rtol: 1e-6, atol: 1e-6 });
      const sums = tf.tidy(() => tf.sum(tf.exp(a.logProbs), 1));
      expect(sums).toBeAllclose(ones, { rtol: 1e-5, atol: 1e-5 });
      tf.dispose([a.features, a.logProbs, b.features, b.logProbs, c.features, c.logProbs, sums]);
    });
    expect(() => clf.classify(tf.zeros([2, 27, 27, 1]))).toThrow(ShapeError);
    expect(() => clf.accuracy(xb, tf.zeros([3]))).toThrow(/labels must be \[16\]/);
    tf.dispose([xb, flat, sq, ones]);
  });

  it('scores real test digits near the maximum Inception-style score of 10', async () => {
    // One split of all 2000 images (small splits bias the score down). A sanity floor: a broken
    // or unconfident classifier scores far lower; the bench records the 10000-image value.
    const r = await inceptionScoreMetric({ classifier: clf, chunk: 500, splits: 1 }).compute(x, []);
    expect(r.n).toBe(N);
    expect(r.value).toBeGreaterThan(9);
    expect(r.value).toBeLessThanOrEqual(10);
    const out = await expectNoLeaks(() => classifierOutputs(clf, x, { numSamples: 100 }));
    // ReLU features: non-negative
    expect(Math.min(...out.features)).toBeGreaterThanOrEqual(0);
  });

  it('ConvClassifier: dropout only with an rng; forward leaves nothing behind', async () => {
    const net = new ConvClassifier({ rng: new Rng(0) });
    const xb = tf.zeros([2, 784]);
    expect(() => net.forward(xb, { dropout: 0.5 })).toThrow(/rng/);
    expect(() => net.forward(xb, { dropout: 1 })).toThrow(/\[0, 1\)/);
    await expectNoLeaks(() => {
      const o = net.forward(xb, { dropout: 0.5, rng: new Rng(1) });
      expect(o.logits.shape).toEqual([2, 10]);
      tf.dispose([o.features, o.logits]);
    });
    expect(() => new ConvClassifier({ rng: new Rng(0), size: 30 })).toThrow(/multiple of 4/);
    tf.dispose(xb);
    net.dispose();
  });
});
