import { expectNoLeaks } from '@dgm-js/test-utils';
import { describe, expect, it } from 'vitest';
import { DgmError, ShapeError } from '../errors.js';
import { Rng } from '../rng.js';
import { tf } from '../tf.js';
import { Bernoulli } from './bernoulli.js';
import { Affine, Exp } from './bijectors.js';
import { Categorical, OneHotCategorical } from './categorical.js';
import type { Distribution } from './distribution.js';
import { Gumbel } from './gumbel.js';
import { Independent } from './independent.js';
import { kl, registerKL } from './kl.js';
import { Logistic } from './logistic.js';
import { Normal } from './normal.js';
import { fixture, moments, T, take } from './test-helpers.js';
import { TransformedDistribution } from './transformed.js';
import { Uniform } from './uniform.js';

// biome-ignore lint/suspicious/noExplicitAny: fixture parameters are loosely typed JSON.
function build(pair: string, a: any): Distribution {
  switch (pair) {
    case 'Normal':
      return new Normal(T(a.loc), T(a.scale));
    case 'Bernoulli':
      return new Bernoulli({ logits: T(a.logits) });
    case 'BernoulliProbs':
      return new Bernoulli({ probs: T(a.probs) });
    case 'Categorical':
      return new Categorical({ logits: T(a.logits) });
    case 'CategoricalZeroP':
      return new Categorical({ probs: T(a.probs) });
    case 'OneHotCategorical':
      return new OneHotCategorical({ logits: T(a.logits) });
    case 'Uniform':
      return new Uniform(T(a.low), T(a.high));
    case 'Gumbel':
      return new Gumbel(T(a.loc), T(a.scale));
    case 'IndependentNormal':
      return new Independent(new Normal(T(a.loc), T(a.scale)), 1);
    default:
      throw new Error(`unknown pair ${pair}`);
  }
}

describe('kl against torch.distributions.kl_divergence fixtures', () => {
  interface KLCase {
    pair: string;
    p: unknown;
    q: unknown;
    kl: number[];
  }
  const cases: KLCase[] = fixture('kl').cases;
  it.each(cases.map((c): [string, KLCase] => [c.pair, c]))('%s', (_pair, c) => {
    tf.tidy(() => {
      const p = build(c.pair, c.p);
      const q = build(c.pair, c.q);
      // BernoulliProbs with p = 0 or 1: we clamp at float32 eps, torch at float64 eps
      const atol = c.pair === 'BernoulliProbs' ? 2e-6 : 2e-5;
      expect(kl(p, q)).toBeAllclose(c.kl, { rtol: 5e-5, atol });
    });
  });
});

describe('kl: independent checks', () => {
  it.each([
    ['Normal', () => [new Normal([0.3, -1], [0.7, 2]), new Normal([1, 0], [1.5, 0.5])]],
    ['Gumbel', () => [new Gumbel([0, 1], [1, 0.5]), new Gumbel([0.5, 1], [2, 0.7])]],
  ] as Array<[string, () => [Normal | Gumbel, Normal | Gumbel]]>)(
    '%s: matches a Monte Carlo estimate E_p[log p - log q] within 5 standard errors',
    (_n, make) => {
      const [p, q] = make();
      const n = 20000;
      const z = p.sample({ sampleShape: [n], rng: new Rng(51) });
      const diff = tf.sub(p.logProb(z), q.logProb(z));
      const v = take(diff);
      const exact = take(kl(p, q));
      for (let j = 0; j < 2; j++) {
        const col = v.filter((_, i) => i % 2 === j);
        const m = moments(col);
        expect(Math.abs(m.mean - exact[j]!)).toBeLessThan(5 * Math.sqrt(m.variance / n));
      }
      tf.dispose(z);
      p.dispose();
      q.dispose();
    },
  );

  it('KL(p, p) = 0 and shapes broadcast', () => {
    tf.tidy(() => {
      const p = new Normal(tf.tensor2d([[0, 1, 2]]), 1);
      const q = new Normal(tf.tensor2d([[0], [1]]), 1);
      expect(kl(p, p)).toBeAllclose([[0, 0, 0]]);
      expect(kl(p, q).shape).toEqual([2, 3]);
      const c = new Categorical({ logits: [0.1, 2, -1] });
      expect(kl(c, c)).toBeAllclose(0, { atol: 1e-6 });
    });
  });

  it('is finite with finite gradients for logits of +-1e4', () => {
    tf.tidy(() => {
      const lp = tf.tensor1d([1e4, -1e4, 1e4]);
      const lq = tf.tensor1d([-1e4, 1e4, 1e4]);
      const v = kl(new Bernoulli({ logits: lp }), new Bernoulli({ logits: lq }));
      // p puts all mass on 1 (resp. 0), where q has log-probability -1e4
      expect(v).toBeAllclose([1e4, 1e4, 0], { rtol: 1e-5 });
      const [gp, gq] = tf.grads((a: tf.Tensor, b: tf.Tensor) =>
        tf.sum(kl(new Bernoulli({ logits: a }), new Bernoulli({ logits: b }))),
      )([lp, lq]);
      expect(tf.all(tf.isFinite(tf.concat([gp!, gq!]))).dataSync()[0]).toBe(1);
      const cp = tf.tensor2d([[1e4, -1e4, 0]]);
      const cq = tf.tensor2d([[-1e4, 1e4, 0]]);
      const [g1, g2] = tf.grads((a: tf.Tensor, b: tf.Tensor) =>
        tf.sum(kl(new Categorical({ logits: a }), new Categorical({ logits: b }))),
      )([cp, cq]);
      expect(kl(new Categorical({ logits: cp }), new Categorical({ logits: cq }))).toBeAllclose(
        [2e4],
        {
          rtol: 1e-5,
        },
      );
      expect(tf.all(tf.isFinite(tf.concat([g1!, g2!]))).dataSync()[0]).toBe(1);
    });
  });

  it('a batch of categoricals against one prior broadcasts without a Tile (slow on wasm)', async () => {
    const logits = tf.randomNormal([8, 5, 4], 0, 1, 'float32', 1);
    const p = new OneHotCategorical({ logits });
    const q = new OneHotCategorical({ probs: [[0.1, 0.2, 0.3, 0.4]] });
    const prof = await tf.profile(() => tf.dispose(kl(p, q)));
    expect(prof.kernels.map((k) => k.name)).not.toContain('Tile');
    const v = kl(p, q);
    const ref = tf.tidy(() => tf.sum(tf.mul(p.probs, tf.sub(p.logits, q.logits)), -1));
    expect(v).toBeAllclose(ref, { rtol: 1e-6, atol: 1e-6 });
    tf.dispose([v, ref, logits]);
    p.dispose();
    q.dispose();
  });

  it('is +Infinity where q gives probability 0 to an outcome p can produce', () => {
    tf.tidy(() => {
      const p = new Categorical({ probs: [0.5, 0.5] });
      const q = new Categorical({ probs: [1, 0] });
      expect(kl(p, q)).toBeAllclose(Number.POSITIVE_INFINITY);
      expect(kl(q, p)).toBeAllclose(Math.LN2, { rtol: 1e-6 });
    });
  });
});

describe('the KL registry', () => {
  it('names the pair and the fix when no KL is registered', () => {
    const p = new Normal(0, 1);
    const g = new Gumbel(0, 1);
    expect(() => kl(p, g)).toThrow(DgmError);
    expect(() => kl(p, g)).toThrow(
      /\(Normal, Gumbel\).*registerKL\(Normal, Gumbel, fn\).*Monte Carlo/,
    );
    p.dispose();
    g.dispose();
  });

  it('uses registered functions, matches subclasses, prefers the most specific pair', () => {
    class Scaled extends Normal {}
    const p = new Scaled(0, 2);
    const q = new Normal(0, 1);
    // Scaled inherits Normal/Normal
    expect(take(kl(p, q))[0]).toBeCloseTo(0.5 * (4 - 1 - Math.log(4)), 5);
    registerKL(Scaled, Normal, () => tf.scalar(42));
    expect(take(kl(p, q))[0]).toBe(42);
    expect(take(kl(q, q))[0]).toBe(0);
    registerKL(Logistic, Logistic, (a, b) => tf.sub(tf.log(b.scale), tf.log(a.scale)));
    const l1 = new Logistic(0, 1);
    const l2 = new Logistic(0, Math.E);
    expect(take(kl(l1, l2))[0]).toBeCloseTo(1, 5);
    [p, q, l1, l2].forEach((d) => {
      d.dispose();
    });
  });

  it('rejects event-shape and category mismatches and unequal Independent reinterpretations', () => {
    tf.tidy(() => {
      const a = new OneHotCategorical({ logits: [0, 0, 0] });
      const b = new OneHotCategorical({ logits: [0, 0, 0, 0] });
      expect(() => kl(a, b)).toThrow(ShapeError);
      const c = new Categorical({ logits: [0, 0, 0] });
      const d = new Categorical({ logits: [0, 0, 0, 0] });
      expect(() => kl(c, d)).toThrow(/3 categories and q 4/);
      const n = new Normal(tf.zeros([2, 3]), 1);
      const i1 = new Independent(n, 1);
      const i2 = new Independent(n, 2);
      expect(() => kl(i1, i2)).toThrow(ShapeError);
      const p = new Normal(tf.zeros([3]), 1);
      const q = new Normal(tf.zeros([2]), 1);
      expect(() => kl(p, q)).toThrow(/\[3\] and \[2\] do not broadcast/);
    });
  });
});

describe('leaks', () => {
  it('every registered KL and its gradient leave no tensor behind', async () => {
    const pairs: Array<() => [Distribution, Distribution]> = [
      () => [new Normal([0, 1], [1, 2]), new Normal(0, 1)],
      () => [new Bernoulli({ logits: [0, 1] }), new Bernoulli({ probs: [0.5, 0.2] })],
      () => [new Categorical({ logits: [0, 1] }), new Categorical({ probs: [0.5, 0.5] })],
      () => [
        new OneHotCategorical({ logits: [0, 1] }),
        new OneHotCategorical({ probs: [0.5, 0.5] }),
      ],
      () => [new Uniform(0, 1), new Uniform(-1, 2)],
      () => [new Gumbel(0, 1), new Gumbel(1, 2)],
      () => [
        new Independent(new Normal([[0, 1]], 1), 1),
        new Independent(new Normal([[1, 1]], 2), 1),
      ],
    ];
    for (const make of pairs) {
      await expectNoLeaks(() => {
        const [p, q] = make();
        kl(p, q).dispose();
        p.dispose();
        q.dispose();
      }, 'kl');
    }
    const loc = tf.tensor1d([0.5, -0.5]);
    await expectNoLeaks(
      () =>
        tf
          .tidy(() =>
            tf.grad((l: tf.Tensor) => tf.sum(kl(new Normal(l, 1), new Normal(0, 2))))(loc),
          )
          .dispose(),
      'kl gradient',
    );
    loc.dispose();
  });
});

describe('TransformedDistribution pairs', () => {
  it('the same bijector: the KL of the bases, confirmed by Monte Carlo in data space', () => {
    const exp = new Exp();
    const p = new TransformedDistribution(new Normal([0.3, -1], [0.8, 1.5]), exp);
    const q = new TransformedDistribution(new Normal([0, 0.5], [1, 1]), exp);
    const want = new Normal([0.3, -1], [0.8, 1.5]);
    const prior = new Normal([0, 0.5], [1, 1]);
    tf.tidy(() => {
      expect(kl(p, q)).toBeAllclose(kl(want, prior), { rtol: 1e-6, atol: 1e-7 });
      // log p(y) - log q(y) on log-normal samples y: the estimate agrees within 5 standard errors
      const n = 20000;
      const y = p.sample({ sampleShape: [n], rng: new Rng(12) });
      const d = Array.from(tf.sub(p.logProb(y), q.logProb(y)).dataSync());
      const exact = Array.from(kl(want, prior).dataSync());
      for (let j = 0; j < 2; j++) {
        const m = moments(d.filter((_, i) => i % 2 === j));
        expect(Math.abs(m.mean - exact[j]!)).toBeLessThan(5 * Math.sqrt(m.variance / n));
      }
    });
    [p, q, want, prior].forEach((x) => {
      x.dispose();
    });
  });

  it('different bijectors (or contexts) are refused with the Monte Carlo hint, and nothing leaks', async () => {
    const p = new TransformedDistribution(new Normal(0, 1), new Exp());
    const q = new TransformedDistribution(new Normal(0, 1), new Exp());
    expect(() => kl(p, q)).toThrow(DgmError);
    expect(() => kl(p, q)).toThrow(/different bijectors or contexts \(Exp and Exp\).*Monte Carlo/);
    const l1 = new Logistic(0, 1);
    const g = new Gumbel(0, 1);
    expect(() => kl(g, l1)).toThrow(/\(Gumbel, Logistic\)/);
    const a = new Affine(1, 2);
    const r = new TransformedDistribution(new Normal(0, 1), a);
    const s = new TransformedDistribution(new Normal(1, 3), a);
    await expectNoLeaks(() => {
      kl(r, s).dispose();
      tf.tidy(() =>
        tf.grad((m: tf.Tensor) => kl(new TransformedDistribution(new Normal(m, 1), a), s))(
          tf.scalar(0.5),
        ),
      ).dispose();
    }, 'kl of transformed distributions');
    [p, q, l1, g, r, s, a].forEach((x) => {
      x.dispose();
    });
  });
});
