import { expectNoLeaks } from '@dgm-js/test-utils';
import { describe, expect, it } from 'vitest';
import { DgmError, ShapeError, ValueError } from '../errors.js';
import { Rng } from '../rng.js';
import { tf } from '../tf.js';
import { Bernoulli } from './bernoulli.js';
import { Categorical, gumbelMax, OneHotCategorical } from './categorical.js';
import {
  chi2Critical,
  chiSquare,
  expectDistributionLeakFree,
  fixture,
  T,
  take,
} from './test-helpers.js';

const TOL = { rtol: 2e-5, atol: 2e-5 };

function softmax(l: number[]): number[] {
  const m = Math.max(...l);
  const e = l.map((v) => Math.exp(v - m));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / s);
}

/** Counts of each category in one-hot rows [N, K] (or int indices when k is given). */
function countOneHot(v: number[], k: number): number[] {
  const c = new Array(k).fill(0);
  for (let i = 0; i < v.length; i++) if (v[i] === 1) c[i % k]++;
  return c;
}

describe('Bernoulli against torch.distributions fixtures', () => {
  it('logProb (also for x in (0, 1)), entropy, mean, variance and gradients match', () => {
    for (const c of fixture('bernoulli').cases) {
      tf.tidy(() => {
        const kind = 'logits' in c ? 'logits' : 'probs';
        const param = T(c[kind]);
        const d = new Bernoulli(kind === 'logits' ? { logits: param } : { probs: param });
        const x = T(c.x);
        expect(d.logProb(x)).toBeAllclose(c.logProb, { rtol: 2e-5, atol: 1e-4 });
        expect(d.entropy()).toBeAllclose(c.entropy, { rtol: 2e-5, atol: 1e-5 });
        expect(d.mean).toBeAllclose(c.mean, TOL);
        expect(d.variance).toBeAllclose(c.variance, TOL);
        const g = tf.grad((p: tf.Tensor) =>
          tf.sum(new Bernoulli(kind === 'logits' ? { logits: p } : { probs: p }).logProb(x)),
        )(param);
        // float32 cannot hold 1 - 0.9999 to better than 2e-4 relative
        expect(g).toBeAllclose(c.grad, { rtol: 5e-4, atol: 1e-4 });
      });
    }
  });

  it('probabilities 0 and 1 are clamped at float32 eps: logits -+15.94, finite logProb', () => {
    tf.tidy(() => {
      const d = new Bernoulli({ probs: [0, 1] });
      const l = Math.log(1.1920928955078125e-7) - Math.log1p(-1.1920928955078125e-7);
      expect(d.logits).toBeAllclose([l, -l], { rtol: 1e-5 });
      expect(d.logProb(tf.tensor1d([1, 0]))).toBeAllclose([l, l], { rtol: 1e-4 });
      expect(d.logProb(tf.tensor1d([0, 1]))).toBeAllclose([0, 0], { atol: 2e-7 });
      expect(d.entropy()).toBeAllclose([0, 0], { atol: 3e-6 });
    });
  });

  it('mode is 1 where probs > 0.5', () => {
    const d = new Bernoulli({ probs: [0.2, 0.5, 0.51, 1] });
    expect(take(d.mode)).toEqual([0, 0, 1, 1]);
    d.dispose();
  });
});

describe('Categorical and OneHotCategorical against torch.distributions fixtures', () => {
  const fx = fixture('categorical');
  it('logProb, one-hot logProb, entropy, probs and gradients match', () => {
    for (const c of fx.cases) {
      tf.tidy(() => {
        const kind = 'logits' in c ? 'logits' : 'probs';
        const param = T(c[kind]);
        const make = (p: tf.Tensor) => (kind === 'logits' ? { logits: p } : { probs: p });
        const d = new Categorical(make(param));
        const oh = new OneHotCategorical(make(param));
        const x = tf.tensor(c.x, undefined, 'int32');
        expect(d.logProb(x)).toBeAllclose(c.logProb, TOL);
        expect(d.logProb(tf.cast(x, 'float32'))).toBeAllclose(c.logProb, TOL);
        expect(oh.logProb(tf.cast(tf.oneHot(x, d.numCategories), 'float32'))).toBeAllclose(
          c.oneHotLogProb,
          TOL,
        );
        expect(d.entropy()).toBeAllclose(c.entropy, TOL);
        expect(oh.entropy()).toBeAllclose(c.entropy, TOL);
        expect(d.probs).toBeAllclose(c.normalizedProbs, TOL);
        expect(oh.mean).toBeAllclose(c.normalizedProbs, TOL);
        const g = tf.grad((p: tf.Tensor) => tf.sum(new Categorical(make(p)).logProb(x)))(param);
        expect(g).toBeAllclose(c.grad, { rtol: 1e-4, atol: 1e-4 });
      });
    }
  });

  it('a zero-probability category adds 0 to the entropy and has logProb -Infinity', () => {
    tf.tidy(() => {
      const d = new Categorical({ probs: T(fx.zeroProb.probs) });
      expect(d.entropy()).toBeAllclose(fx.zeroProb.entropy, TOL);
      expect(d.logProb(tf.tensor1d([0, 1], 'int32'))).toBeAllclose([
        Number.NEGATIVE_INFINITY,
        Number.NEGATIVE_INFINITY,
      ]);
      const g = tf.grad((p: tf.Tensor) => tf.sum(new Categorical({ probs: p }).entropy()))(
        T(fx.zeroProb.probs),
      );
      expect(tf.all(tf.isFinite(g)).dataSync()[0]).toBe(1);
    });
  });

  it('mode is the most probable category', () => {
    tf.tidy(() => {
      const l = tf.tensor2d([
        [0, 3, 1],
        [5, -1, 2],
      ]);
      expect(new Categorical({ logits: l }).mode).toBeAllclose([1, 0]);
      expect(new OneHotCategorical({ logits: l }).mode).toBeAllclose([
        [0, 1, 0],
        [1, 0, 0],
      ]);
      expect(() => new Categorical({ logits: l }).mean).toThrow(DgmError);
    });
  });
});

describe('sampling frequencies (chi-square at alpha = 1e-4, fixed seeds)', () => {
  const N = 20000;
  const logits = [1.0, -0.5, 0.3, 2.0, -2.0];
  const pi = softmax(logits);

  it('gumbelMax frequencies match softmax(logits)', () => {
    const l = tf.tile(tf.tensor2d([logits]), [N, 1]);
    const v = take(gumbelMax(l, new Rng(21)));
    l.dispose();
    const counts = countOneHot(v, 5);
    expect(counts.reduce((a, b) => a + b, 0)).toBe(N); // one 1 per row
    expect(chiSquare(counts, pi)).toBeLessThan(chi2Critical(4));
    // power: the same counts are far from a slightly different distribution
    const wrong = softmax(logits.map((x, i) => (i === 0 ? x + 0.1 : x)));
    expect(chiSquare(counts, wrong)).toBeGreaterThan(chi2Critical(4));
  });

  it('Categorical.sample frequencies match probs for each batch member', () => {
    const rows = [logits, [0, 0, 0, Math.log(3), Number.NEGATIVE_INFINITY]];
    const d = new Categorical({ logits: tf.tensor2d(rows) });
    const s = d.sample({ sampleShape: [N], rng: new Rng(22) });
    expect(s.shape).toEqual([N, 2]);
    expect(s.dtype).toBe('int32');
    const v = take(s);
    for (let r = 0; r < 2; r++) {
      const counts = new Array(5).fill(0);
      for (let i = r; i < v.length; i += 2) counts[v[i] as number]++;
      const p = softmax(rows[r] as number[]);
      if (r === 1) {
        expect(counts[4]).toBe(0); // the impossible category never appears
        expect(chiSquare(counts.slice(0, 4), p.slice(0, 4))).toBeLessThan(chi2Critical(3));
      } else {
        expect(chiSquare(counts, p)).toBeLessThan(chi2Critical(4));
      }
    }
    d.dispose();
  });

  it('OneHotCategorical.sample frequencies match probs', () => {
    const d = new OneHotCategorical({ probs: [0.1, 0.2, 0.3, 0.4] });
    const v = take(d.sample({ sampleShape: [N], rng: new Rng(23) }));
    expect(chiSquare(countOneHot(v, 4), [0.1, 0.2, 0.3, 0.4])).toBeLessThan(chi2Critical(3));
    d.dispose();
  });

  it('Bernoulli.sample means match probs within 5 standard errors', () => {
    const p = [0.02, 0.3, 0.5, 0.97];
    const d = new Bernoulli({ probs: p });
    const v = take(d.sample({ sampleShape: [N], rng: new Rng(24) }));
    expect(v.every((x) => x === 0 || x === 1)).toBe(true);
    p.forEach((pj, j) => {
      const m = v.filter((_, i) => i % 4 === j).reduce((a, b) => a + b, 0) / N;
      expect(Math.abs(m - pj)).toBeLessThan(5 * Math.sqrt((pj * (1 - pj)) / N));
    });
    d.dispose();
    // probabilities 0 and 1 are honoured exactly
    const e = new Bernoulli({ probs: [0, 1] });
    expect(
      take(e.sample({ sampleShape: [500], rng: new Rng(25) })).every((x, i) => x === i % 2),
    ).toBe(true);
    e.dispose();
  });
});

describe('extreme logits (+-1e4) and impossible categories', () => {
  const finite = (t: tf.Tensor) => tf.all(tf.isFinite(t)).dataSync()[0] === 1;

  it('Bernoulli: logProb, entropy and gradients are finite and right', () => {
    tf.tidy(() => {
      const l = tf.tensor1d([1e4, -1e4, 1e4, -1e4]);
      const x = tf.tensor1d([1, 0, 0, 1]);
      const d = new Bernoulli({ logits: l });
      expect(d.logProb(x)).toBeAllclose([0, 0, -1e4, -1e4]);
      expect(d.entropy()).toBeAllclose([0, 0, 0, 0]);
      const g = tf.grad((p: tf.Tensor) => tf.sum(new Bernoulli({ logits: p }).logProb(x)))(l);
      expect(g).toBeAllclose([0, 0, -1, 1]);
      const ge = tf.grad((p: tf.Tensor) => tf.sum(new Bernoulli({ logits: p }).entropy()))(l);
      expect(finite(ge)).toBe(true);
    });
  });

  it('Categorical / OneHot: logProb, entropy, gradients finite; Gumbel-Max picks the 1e4 logit', () => {
    tf.tidy(() => {
      const l = tf.tensor2d([
        [1e4, -1e4, 0],
        [-1e4, 1e4, 1e4],
      ]);
      const d = new Categorical({ logits: l });
      expect(d.logProb(tf.tensor1d([0, 0], 'int32'))).toBeAllclose([0, -2e4 - Math.LN2]);
      expect(d.entropy()).toBeAllclose([0, Math.LN2], { rtol: 1e-5, atol: 1e-5 });
      const g = tf.grads((p: tf.Tensor) => {
        const c = new Categorical({ logits: p });
        return tf.add(tf.sum(c.logProb(tf.tensor1d([1, 2], 'int32'))), tf.sum(c.entropy()));
      })([l])[0]!;
      expect(finite(g)).toBe(true);
      const oh = gumbelMax(tf.tile(l, [100, 1]), new Rng(3));
      const first = tf.slice(oh, [0, 0], [-1, 1]);
      // row 0 of every pair picks category 0; row 1 never picks category 0
      expect(tf.sum(first).dataSync()[0]).toBe(100);
      const o = new OneHotCategorical({ logits: l });
      const go = tf.grad((p: tf.Tensor) =>
        tf.sum(new OneHotCategorical({ logits: p }).logProb(o.sample({ rng: new Rng(1) }))),
      )(l);
      expect(finite(go)).toBe(true);
    });
  });

  it('-Infinity logits: logProb -Infinity for the impossible category, finite gradients', () => {
    tf.tidy(() => {
      const l = tf.tensor1d([0, Number.NEGATIVE_INFINITY, 1]);
      const d = new Categorical({ logits: l });
      expect(d.logProb(tf.tensor1d([0, 1, 2], 'int32'))).toBeAllclose(
        [-Math.log(1 + Math.E), Number.NEGATIVE_INFINITY, 1 - Math.log(1 + Math.E)],
        { rtol: 1e-5, atol: 1e-6 },
      );
      const g = tf.grad((p: tf.Tensor) =>
        tf.add(
          tf.sum(new Categorical({ logits: p }).logProb(tf.tensor1d([0, 2], 'int32'))),
          new Categorical({ logits: p }).entropy(),
        ),
      )(l);
      expect(finite(g)).toBe(true);
      const oh = new OneHotCategorical({ logits: l });
      expect(oh.logProb(tf.tensor1d([0, 0, 1]))).toBeAllclose(1 - Math.log(1 + Math.E), TOL);
    });
  });

  it('OneHotCategorical.logProb is differentiable in x (straight-through use): d/dx = log p', () => {
    tf.tidy(() => {
      const d = new OneHotCategorical({ probs: [0.2, 0.3, 0.5] });
      const g = tf.grad((x: tf.Tensor) => d.logProb(x))(tf.tensor1d([0, 1, 0]));
      expect(g).toBeAllclose([Math.log(0.2), Math.log(0.3), Math.log(0.5)], TOL);
    });
  });
});

describe('validation', () => {
  it('Bernoulli rejects probs outside [0, 1], non-finite logits, and both / neither parameter', () => {
    expect(() => new Bernoulli({ probs: [0.5, 1.5] })).toThrow(ValueError);
    expect(() => new Bernoulli({ probs: [0.5, 1.5] })).toThrow(/probs must lie in \[0, 1\].*1\.5/);
    expect(() => new Bernoulli({ probs: [-0.1] })).toThrow(ValueError);
    expect(() => new Bernoulli({ probs: [Number.NaN] })).toThrow(ValueError);
    expect(() => new Bernoulli({ logits: [Number.NaN] })).toThrow(/logits must be finite/);
    expect(() => new Bernoulli({ logits: [Number.POSITIVE_INFINITY] })).toThrow(ValueError);
    expect(() => new Bernoulli({ logits: 0, probs: 0.5 } as never)).toThrow(/exactly one.*both/);
    expect(() => new Bernoulli({} as never)).toThrow(/exactly one.*neither/);
    const d = new Bernoulli({ probs: [0.5, 0.5] });
    const x = tf.tensor1d([1, 2]);
    expect(() => d.logProb(x)).toThrow(/x must lie in \[0, 1\]/);
    const y = tf.tensor1d([1, 0, 1]);
    expect(() => d.logProb(y)).toThrow(ShapeError);
    tf.dispose([x, y]);
    d.dispose();
  });

  it('Categorical rejects bad logits / probs and non-category values', () => {
    expect(() => new Categorical({ logits: [Number.NaN, 0] })).toThrow(ValueError);
    expect(() => new Categorical({ logits: [Number.POSITIVE_INFINITY, 0] })).toThrow(ValueError);
    expect(
      () =>
        new Categorical({
          logits: [
            [0, 1],
            [Number.NEGATIVE_INFINITY, Number.NEGATIVE_INFINITY],
          ],
        }),
    ).toThrow(/row 1.*probability 0/);
    expect(() => new Categorical({ probs: [0.5, -0.5, 1] })).toThrow(/>= 0.*-0\.5/);
    expect(() => new Categorical({ probs: [0, 0] })).toThrow(ValueError);
    expect(() => new Categorical({ logits: 3 })).toThrow(ShapeError);
    const d = new Categorical({ logits: tf.zeros([2, 3]) });
    for (const bad of [
      [0, 3],
      [-1, 0],
      [0.5, 1],
    ]) {
      const x = tf.tensor1d(bad);
      expect(() => d.logProb(x)).toThrow(/integer categories in \[0, 2\]/);
      x.dispose();
    }
    const wrong = tf.tensor1d([0, 1, 2], 'int32');
    expect(() => d.logProb(wrong)).toThrow(/\[3\].*batch shape \[2\]/);
    wrong.dispose();
    d.dispose();
  });

  it('OneHotCategorical rejects non-one-hot values and the wrong number of categories', () => {
    const d = new OneHotCategorical({ logits: tf.zeros([3]) });
    const soft = tf.tensor1d([0.5, 0.5, 0]);
    const k4 = tf.tensor1d([0, 1, 0, 0]);
    expect(() => d.logProb(soft)).toThrow(/one-hot rows.*validate: false/);
    expect(() => d.logProb(k4)).toThrow(/event shape \[3\]/);
    const relaxed = new OneHotCategorical({ logits: tf.zeros([3]) }, { validate: false });
    expect(relaxed.logProb(soft)).toBeAllclose(-Math.log(3), TOL);
    tf.dispose([soft, k4]);
    d.dispose();
    relaxed.dispose();
  });

  it('gumbelMax rejects scalars', () => {
    const s = tf.scalar(1);
    expect(() => gumbelMax(s, new Rng(0))).toThrow(ShapeError);
    s.dispose();
  });
});

describe('leaks', () => {
  it.each([
    ['Bernoulli(logits)', () => new Bernoulli({ logits: [0.5, -1] }), () => tf.tensor1d([1, 0])],
    ['Bernoulli(probs)', () => new Bernoulli({ probs: [0.5, 0] }), () => tf.tensor1d([1, 0])],
    [
      'Categorical',
      () => new Categorical({ logits: [[0, 1, 2]] }),
      () => tf.tensor1d([2], 'int32'),
    ],
    [
      'Categorical(probs)',
      () => new Categorical({ probs: [0, 1, 2] }),
      () => tf.tensor1d([2], 'int32'),
    ],
    [
      'OneHotCategorical',
      () => new OneHotCategorical({ logits: [0, 1, 2] }),
      () => tf.tensor1d([0, 0, 1]),
    ],
  ])(
    '%s: construction, every method and dispose leave no tensor behind',
    async (label, make, mk) => {
      const x = mk();
      await expectNoLeaks(async () => {
        const d = make();
        await expectDistributionLeakFree(d, x, new Rng(0), label);
        d.dispose();
      }, label);
      x.dispose();
    },
  );

  it('gumbelMax and gradients of logProb leave no tensor behind', async () => {
    const l = tf.tensor2d([[0, 1, 2]]);
    await expectNoLeaks(() => gumbelMax(l, new Rng(0)).dispose(), 'gumbelMax');
    await expectNoLeaks(
      () =>
        tf
          .tidy(() =>
            tf.grad((p: tf.Tensor) =>
              tf.sum(new Categorical({ logits: p }).logProb(tf.tensor1d([1], 'int32'))),
            )(l),
          )
          .dispose(),
      'Categorical logProb gradient',
    );
    l.dispose();
  });
});
