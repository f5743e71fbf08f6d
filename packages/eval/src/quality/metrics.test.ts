/**
 * The sample-quality Metrics over samplers and precomputed images, with a small deterministic
 * classifier: values equal the array-level functions on the same outputs, chunking does not
 * change them, seeds reproduce them, nothing leaks, and bad input gets typed errors.
 */
import {
  logSoftmax,
  Rng,
  type SampleOptions,
  ShapeError,
  tf,
  ValueError,
} from '@dgm-js/core-tensors';
import { expectNoLeaks } from '@dgm-js/test-utils';
import { afterAll, describe, expect, it } from 'vitest';
import type { ImageClassifier } from '../classifier/classifier.js';
import { frechetFromFeatures } from './frechet.js';
import {
  classHistogramMetric,
  fidMetric,
  inceptionScoreMetric,
  mmdMetric,
  modeScoreMetric,
  precisionRecallMetric,
} from './metrics.js';
import { inceptionScore } from './scores.js';
import { classifierOutputs, flatSamples, type Sampler } from './source.js';

const D = 6;
const C = 3;
const W = tf.tensor2d(
  [1, -1, 0.5, 0.3, 2, -1, -0.5, 0.2, 1, 1, 0, -2, 0.7, -0.3, 0.1, -1, 1, 0.4],
  [D, C],
);
afterAll(() => W.dispose());

/** features = the flattened image; logits = features W (a deterministic toy "classifier"). */
const clf: ImageClassifier = {
  numClasses: C,
  featureDim: D,
  labelMarginal: [0.5, 0.3, 0.2],
  classify: (x) =>
    tf.tidy(() => {
      const f = tf.reshape(x, [x.shape[0] as number, D]);
      return { features: f, logProbs: logSoftmax(tf.matMul(f, W)) };
    }),
};

/** A Gaussian sampler of images [n, 2, 3] with a mean shift. */
function gaussSampler(shift: number): Sampler {
  return {
    sample: ({ sampleShape, rng }: SampleOptions) =>
      tf.tidy(() =>
        tf.add(tf.randomNormal([sampleShape![0]!, 2, 3], 0, 1, 'float32', rng.next()), shift),
      ),
  };
}

describe('classifierOutputs / flatSamples', () => {
  const x = tf.randomNormal([50, 2, 3], 0, 1, 'float32', 1);
  afterAll(() => x.dispose());

  it('gives the same numbers whatever the chunk, for a tensor and for batches', async () => {
    const a = await classifierOutputs(clf, x, { chunk: 7 });
    const b = await classifierOutputs(clf, x, { chunk: 500 });
    const parts = [tf.slice(x, [0], [20]), tf.slice(x, [20], [30])];
    const c = await classifierOutputs(clf, parts, { chunk: 8, numSamples: 45 });
    tf.dispose(parts);
    expect(a.n).toBe(50);
    expect([...a.features]).toEqual([...b.features]);
    expect([...a.logProbs]).toEqual([...b.logProbs]);
    expect(c.n).toBe(45);
    expect([...c.features]).toEqual([...a.features.slice(0, 45 * D)]);
  });

  it('draws numSamples from a sampler, reproducibly from the seed, without leaks', async () => {
    const s = gaussSampler(0);
    const a = await expectNoLeaks(() =>
      classifierOutputs(clf, s, { numSamples: 33, chunk: 10, seed: 4 }),
    );
    const b = await classifierOutputs(clf, s, { numSamples: 33, chunk: 10, seed: 4 });
    const c = await classifierOutputs(clf, s, { numSamples: 33, chunk: 10, seed: 5 });
    expect(a.n).toBe(33);
    expect([...a.features]).toEqual([...b.features]);
    expect([...a.features]).not.toEqual([...c.features]);
    const flat = await expectNoLeaks(() => flatSamples(x, { chunk: 9 }));
    expect(flat.dim).toBe(6);
    expect(flat.rows[7]).toBeCloseTo(x.dataSync()[7]!, 6);
  });

  it('rejects a sampler without numSamples, bad samples and non-images (typed errors, no leaks)', async () => {
    const s = gaussSampler(0);
    await expectNoLeaks(async () => {
      await expect(classifierOutputs(clf, s)).rejects.toThrow(/numSamples/);
      await expect(classifierOutputs(clf, s, { numSamples: 0 })).rejects.toThrow(ValueError);
      const bad: Sampler = { sample: () => tf.zeros([3]) };
      await expect(classifierOutputs(clf, bad, { numSamples: 5 })).rejects.toThrow(ShapeError);
      await expect(classifierOutputs(clf, 42 as never)).rejects.toThrow(/sampler/);
      await expect(classifierOutputs({} as never, x)).rejects.toThrow(/ImageClassifier/);
    });
  });
});

describe('sample-quality metrics', () => {
  const real = tf.randomNormal([300, 2, 3], 0, 1, 'float32', 2);
  afterAll(() => real.dispose());

  it('inception / MODE score / histogram equal the array functions, without leaks', async () => {
    const opts = { classifier: clf, numSamples: 200, chunk: 64, seed: 1 };
    const s = gaussSampler(0.3);
    const is = await expectNoLeaks(() => inceptionScoreMetric(opts).compute(s, []));
    const out = await classifierOutputs(clf, s, opts);
    const want = inceptionScore(out.logProbs, out.n, C, 10);
    expect(is.name).toBe('inception-score');
    expect(is.n).toBe(200);
    expect(is.value).toBeCloseTo(want.mean, 12);
    expect(is.stderr).toBeCloseTo(want.stderr, 12);
    const ms = await expectNoLeaks(() => modeScoreMetric(opts).compute(s, []));
    expect(ms.value).toBeCloseTo(is.value, 10); // the 'che' form equals IS
    expect(ms.details.marginal).toBe('train');
    expect(ms.details.marginalPenalty as number).toBeLessThan(is.value);
    const h = await expectNoLeaks(() => classHistogramMetric(opts).compute(s, []));
    expect((h.details.counts as number[]).reduce((a, b) => a + b, 0)).toBe(200);
    expect(h.value).toBeGreaterThanOrEqual(0);
    expect(h.value).toBeLessThanOrEqual(1);
  });

  it('FID: ~0 for a sample set against itself, ~shift^2 * D against a shifted copy', async () => {
    const fid = fidMetric({ classifier: clf, bootstrap: 4 });
    const self = await expectNoLeaks(() => fid.compute(real, real));
    expect(Math.abs(self.value)).toBeLessThan(1e-8);
    const shifted = tf.add(real, 0.5);
    const r = await expectNoLeaks(() => fid.compute(shifted, real));
    shifted.dispose();
    expect(r.value).toBeCloseTo(0.25 * D, 4); // x + delta: exactly ||delta||^2 (float32 inputs)
    expect(r.stderr).toBeGreaterThan(0);
    expect(r.details.nReal).toBe(300);
    // the same value from the array-level function
    const a = await classifierOutputs(clf, real);
    expect(frechetFromFeatures(a.features, a.n, a.features, a.n, D).value).toBeCloseTo(0, 8);
  });

  it('FID reuses precomputed reference outputs (data ignored)', async () => {
    const reference = await classifierOutputs(clf, real);
    const fid = fidMetric({ classifier: clf, numSamples: 100, seed: 3, reference, bootstrap: 0 });
    const r1 = await fid.compute(gaussSampler(0), []);
    const r2 = await fidMetric({ classifier: clf, numSamples: 100, seed: 3, bootstrap: 0 }).compute(
      gaussSampler(0),
      real,
    );
    expect(r1.value).toBe(r2.value);
    expect(r1.stderr).toBeUndefined();
  });

  it('MMD: no difference detected for the same distribution, detected for a shift', async () => {
    const same = await expectNoLeaks(() =>
      mmdMetric({ classifier: clf, numSamples: 150, seed: 1, permutations: 100 }).compute(
        gaussSampler(0),
        real,
      ),
    );
    expect(same.details.pValue as number).toBeGreaterThan(0.01);
    const diff = await expectNoLeaks(() =>
      mmdMetric({ numSamples: 150, seed: 1, permutations: 100, kernel: { type: 'imq' } }).compute(
        gaussSampler(0.5),
        real,
      ),
    );
    expect(diff.details.space).toBe('flattened');
    expect(diff.details.pValue as number).toBeLessThan(0.02);
    expect(diff.value).toBeGreaterThan(0);
    expect(() => mmdMetric({ maxSamples: 1 })).toThrow(ValueError);
  });

  it('precision / recall: 1 / 1 for a set against itself', async () => {
    const pr = await expectNoLeaks(() =>
      precisionRecallMetric({ classifier: clf }).compute(real, real),
    );
    expect(pr.value).toBe(1);
    expect(pr.details.recall).toBe(1);
    expect(pr.stderr).toBe(0);
  });

  it('requires a classifier (typed error)', () => {
    expect(() => inceptionScoreMetric({} as never)).toThrow(/classifier is required/);
    expect(() => fidMetric(undefined as never)).toThrow(ValueError);
    const noMarginal: ImageClassifier = { ...clf, labelMarginal: undefined as never };
    expect(() =>
      modeScoreMetric({
        classifier: { numClasses: C, featureDim: D, classify: noMarginal.classify },
      }),
    ).toThrow(/labelMarginal/);
  });
});

describe('seeded Rng streams', () => {
  it('a given rng wins over the seed', async () => {
    const s = gaussSampler(0);
    const a = await classifierOutputs(clf, s, { numSamples: 5, rng: new Rng(9), seed: 1 });
    const b = await classifierOutputs(clf, s, { numSamples: 5, seed: 1 });
    const c = await classifierOutputs(clf, s, { numSamples: 5, seed: 9 });
    expect([...a.features]).toEqual([...c.features]);
    expect([...a.features]).not.toEqual([...b.features]);
  });
});
