import { expectNoLeaks } from '@dgm-js/test-utils';
import { describe, expect, it } from 'vitest';
import { DgmError, ShapeError, ValueError } from '../errors.js';
import { Rng } from '../rng.js';
import { tf } from '../tf.js';
import { Bernoulli } from './bernoulli.js';
import { Categorical, OneHotCategorical } from './categorical.js';
import { Independent } from './independent.js';
import { MixtureSameFamily } from './mixture.js';
import { Normal } from './normal.js';
import { expectDistributionLeakFree, expectMoments, fixture, T, take } from './test-helpers.js';

const fx = fixture('composite');
const TOL = { rtol: 2e-5, atol: 2e-5 };

describe('MixtureSameFamily against torch.distributions fixtures', () => {
  it('scalar components: logProb, mean, variance and logProb gradients match', () => {
    const c = fx.scalarMixture;
    tf.tidy(() => {
      const make = (loc: tf.Tensor, scale: tf.Tensor) =>
        new MixtureSameFamily(new Categorical({ probs: T(c.probs) }), new Normal(loc, scale));
      const m = make(T(c.loc), T(c.scale));
      expect(m.batchShape).toEqual([2]);
      expect(m.eventShape).toEqual([]);
      expect(m.logProb(T(c.x))).toBeAllclose(c.logProb, TOL);
      expect(m.mean).toBeAllclose(c.mean, TOL);
      expect(m.variance).toBeAllclose(c.variance, TOL);
      const [gl, gs] = tf.grads((l: tf.Tensor, s: tf.Tensor) => tf.sum(make(l, s).logProb(T(c.x))))(
        [T(c.loc), T(c.scale)],
      );
      expect(gl).toBeAllclose(c.gradLoc, { rtol: 1e-4, atol: 1e-4 });
      expect(gs).toBeAllclose(c.gradScale, { rtol: 1e-4, atol: 1e-4 });
    });
  });

  it('vector components (Independent Normal): logProb, mean and variance match', () => {
    const c = fx.vectorMixture;
    tf.tidy(() => {
      const m = new MixtureSameFamily(
        new Categorical({ probs: T(c.probs) }),
        new Independent(new Normal(T(c.loc), T(c.scale)), 1),
      );
      expect(m.batchShape).toEqual([]);
      expect(m.eventShape).toEqual([2]);
      expect(m.logProb(T(c.x))).toBeAllclose(c.logProb, TOL);
      expect(m.mean).toBeAllclose(c.mean, TOL);
      expect(m.variance).toBeAllclose(c.variance, TOL);
    });
  });

  it('a mixture of categoricals sums to 1 over its support (exact enumeration)', () => {
    tf.tidy(() => {
      const m = new MixtureSameFamily(
        new Categorical({ probs: [0.25, 0.75] }),
        new Categorical({
          logits: [
            [0, 1, 2],
            [2, 0, -1],
          ],
        }),
      );
      const all = m.logProb(tf.tensor1d([0, 1, 2], 'int32'));
      expect(tf.sum(tf.exp(all))).toBeAllclose(1, { rtol: 1e-6 });
      const s = m.sample({ sampleShape: [50], rng: new Rng(3) });
      expect(s.shape).toEqual([50]);
      expect(s.dtype).toBe('int32');
      expect(Array.from(s.dataSync()).every((v) => v >= 0 && v <= 2)).toBe(true);
    });
  });
});

describe('MixtureSameFamily sampling', () => {
  it('moments of a two-Gaussian mixture match (5 standard errors)', () => {
    const pi = [0.3, 0.7];
    const mu = [-2, 2];
    const sd = [0.5, 1];
    const m = new MixtureSameFamily(new Categorical({ probs: pi }), new Normal(mu, sd));
    const mean = pi[0]! * mu[0]! + pi[1]! * mu[1]!;
    let variance = 0;
    let mu4 = 0;
    for (let k = 0; k < 2; k++) {
      variance += pi[k]! * (sd[k]! ** 2 + mu[k]! ** 2);
      const d = mu[k]! - mean;
      mu4 += pi[k]! * (d ** 4 + 6 * d * d * sd[k]! ** 2 + 3 * sd[k]! ** 4);
    }
    variance -= mean * mean;
    const v = take(m.sample({ sampleShape: [20000], rng: new Rng(41) }));
    expectMoments(v, mean, variance, mu4 / variance ** 2 - 3);
    // power: the same draws are not from the equal-weight mixture
    expect(() => expectMoments(v, 0, variance, mu4 / variance ** 2 - 3)).toThrow();
    m.dispose();
  });

  it('vector mixture samples have shape [...sample, ...batch, ...event] and the right mean', () => {
    const m = new MixtureSameFamily(
      new Categorical({ probs: [0.5, 0.5] }),
      new Independent(
        new Normal(
          [
            [-5, 0],
            [5, 1],
          ],
          0.1,
        ),
        1,
      ),
    );
    const s = m.sample({ sampleShape: [4000, 1], rng: new Rng(42) });
    expect(s.shape).toEqual([4000, 1, 2]);
    const v = take(s);
    // coordinates come from the same component: x0 = -5 goes with x1 = 0, x0 = 5 with x1 = 1
    for (let i = 0; i < v.length; i += 2) {
      expect(Math.abs(v[i + 1]! - (v[i]! > 0 ? 1 : 0))).toBeLessThan(1);
    }
    const share = v.filter((x, i) => i % 2 === 0 && x > 0).length / 4000;
    expect(Math.abs(share - 0.5)).toBeLessThan(5 * Math.sqrt(0.25 / 4000));
    m.dispose();
  });

  it('is not reparameterized; mode and entropy have no closed form', () => {
    const m = new MixtureSameFamily(new Categorical({ probs: [0.5, 0.5] }), new Normal([0, 1], 1));
    expect(m.hasRsample).toBe(false);
    expect(() => m.rsample({ rng: new Rng(0) })).toThrow(/no reparameterized sampler/);
    expect(() => m.mode).toThrow(DgmError);
    expect(() => m.entropy()).toThrow(/no closed form/);
    m.dispose();
  });

  it('rejects mismatched component batch shapes and non-Categorical mixtures', async () => {
    await expectNoLeaks(() => {
      const mix = new Categorical({ probs: [0.5, 0.5] });
      const comp3 = new Normal([0, 1, 2], 1);
      expect(() => new MixtureSameFamily(mix, comp3)).toThrow(ShapeError);
      expect(() => new MixtureSameFamily(mix, comp3)).toThrow(/\[3\].*must be \[2\]/);
      const oh = new OneHotCategorical({ probs: [0.5, 0.5] });
      const comp2 = new Normal([0, 1], 1);
      expect(() => new MixtureSameFamily(oh as unknown as Categorical, comp2)).toThrow(ValueError);
      // a rejected wrapper does not take ownership: the caller still disposes
      [mix, comp3, oh, comp2].forEach((d) => {
        d.dispose();
      });
    }, 'rejected mixtures');
  });
});

describe('Independent', () => {
  it('reinterprets batch dims as event dims; logProb and entropy match torch', () => {
    const c = fx.independent;
    tf.tidy(() => {
      const d = new Independent(new Normal(T(c.loc), T(c.scale)), 1);
      expect(d.batchShape).toEqual([2]);
      expect(d.eventShape).toEqual([3]);
      expect(d.logProb(T(c.x))).toBeAllclose(c.logProb, TOL);
      expect(d.entropy()).toBeAllclose(c.entropy, TOL);
      const all = new Independent(new Normal(T(c.loc), T(c.scale)), 2);
      expect(all.batchShape).toEqual([]);
      expect(all.logProb(T(c.x))).toBeAllclose(
        (c.logProb as number[]).reduce((a, b) => a + b, 0),
        TOL,
      );
      const none = new Independent(new Normal(T(c.loc), T(c.scale)), 0);
      expect(none.batchShape).toEqual([2, 3]);
    });
  });

  it('delegates sampling (with gradients) and moments to the base', () => {
    tf.tidy(() => {
      const loc = tf.tensor2d([
        [0, 1],
        [2, 3],
      ]);
      const d = new Independent(new Normal(loc, 0.5), 1);
      expect(d.hasRsample).toBe(true);
      expect(d.sample({ sampleShape: [5], rng: new Rng(0) }).shape).toEqual([5, 2, 2]);
      expect(d.mean).toBeAllclose(loc);
      expect(d.mode).toBeAllclose(loc);
      expect(d.variance).toBeAllclose([
        [0.25, 0.25],
        [0.25, 0.25],
      ]);
      const g = tf.grad((l: tf.Tensor) =>
        tf.sum(
          new Independent(new Normal(l, 0.5), 1).rsample({ sampleShape: [3], rng: new Rng(1) }),
        ),
      )(loc);
      expect(g).toBeAllclose([
        [3, 3],
        [3, 3],
      ]);
      const b = new Independent(new Bernoulli({ probs: [0.5, 0.25] }), 1);
      expect(b.hasRsample).toBe(false);
      expect(b.logProb(tf.tensor1d([1, 1]))).toBeAllclose(Math.log(0.125), TOL);
    });
  });

  it('rejects out-of-range reinterpretedBatchNdims and event-shape mismatches in logProb', () => {
    const base = new Normal(tf.zeros([2, 3]), 1);
    expect(() => new Independent(base, 3)).toThrow(/integer in \[0, 2\]/);
    expect(() => new Independent(base, -1)).toThrow(ValueError);
    const d = new Independent(base, 1);
    const x = tf.zeros([2, 4]);
    expect(() => d.logProb(x)).toThrow(/event shape \[3\]/);
    x.dispose();
    d.dispose();
  });
});

describe('leaks', () => {
  it('Independent and MixtureSameFamily: every method leaks nothing; dispose frees the wrapped distributions', async () => {
    const x1 = tf.tensor2d([[0.5, 1.5, -1]]);
    const x2 = tf.tensor1d([0.5, -1]);
    await expectNoLeaks(async () => {
      const ind = new Independent(new Normal([[0, 1, 2]], [[1, 2, 3]]), 1);
      await expectDistributionLeakFree(ind, x1, new Rng(0), 'Independent');
      const base = ind.base as Normal;
      ind.dispose();
      expect(base.isDisposed).toBe(true);
      const mix = new MixtureSameFamily(
        new Categorical({
          probs: [
            [0.2, 0.8],
            [0.5, 0.5],
          ],
        }),
        new Normal(
          [
            [0, 1],
            [2, 3],
          ],
          [
            [1, 2],
            [1, 1],
          ],
        ),
      );
      await expectDistributionLeakFree(mix, x2, new Rng(0), 'MixtureSameFamily');
      await expectNoLeaks(
        () =>
          tf
            .tidy(() =>
              tf.grad((l: tf.Tensor) =>
                tf.sum(
                  new MixtureSameFamily(
                    new Categorical({ logits: l }),
                    new Normal([0, 1], 1),
                  ).logProb(x2),
                ),
              )(tf.tensor1d([0.1, 0.2])),
            )
            .dispose(),
        'mixture logProb gradient',
      );
      mix.dispose();
      expect(mix.mixture.isDisposed && (mix.components as Normal).isDisposed).toBe(true);
    }, 'composite lifecycle');
    tf.dispose([x1, x2]);
  });
});
