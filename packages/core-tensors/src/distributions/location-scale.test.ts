import { expectNoLeaks } from '@dgm-js/test-utils';
import { describe, expect, it } from 'vitest';
import { softplus } from '../numerics.js';
import { Rng } from '../rng.js';
import { tf } from '../tf.js';
import { Affine, Exp, Invert, Sigmoid } from './bijectors.js';
import { Gumbel } from './gumbel.js';
import { Logistic } from './logistic.js';
import {
  type ExpRelaxedOneHotCategorical,
  LogitRelaxedBernoulli,
  RelaxedBernoulli,
  RelaxedOneHotCategorical,
} from './relaxed.js';
import { TransformedDistribution } from './transformed.js';

/** Every element identical (NaN equals NaN, +0 and -0 differ). */
function expectBitwise(a: tf.Tensor, b: tf.Tensor): void {
  expect(a.shape).toEqual(b.shape);
  const x = Array.from(a.dataSync());
  const y = Array.from(b.dataSync());
  const diff = x.flatMap((v, i) => (Object.is(v, y[i]) ? [] : [`${i}: ${v} vs ${y[i]}`]));
  expect(diff, diff.slice(0, 5).join('; ')).toEqual([]);
}

describe('the thin cases of TransformedDistribution keep their closed forms bit for bit', () => {
  const x = () => tf.randomNormal([40, 3], 0, 6, 'float32', 1);
  const loc = () => tf.tensor1d([0.3, -2, 5]);
  const scale = () => tf.tensor1d([0.5, 2, 0.01]);

  it('Gumbel: -(z + exp(-z)) - log scale; loc + scale * gumbel noise', () => {
    tf.tidy(() => {
      const [l, s, v] = [loc(), scale(), x()];
      const g = new Gumbel(l, s);
      expect(g).toBeInstanceOf(TransformedDistribution);
      expect(g.bijector).toBeInstanceOf(Affine);
      const z = tf.div(tf.sub(v, l), s);
      expectBitwise(g.logProb(v), tf.sub(tf.neg(tf.add(z, tf.exp(tf.neg(z)))), tf.log(s)));
      const u = tf.clipByValue(
        tf.randomUniform([5, 3], 0, 1, 'float32', new Rng(4).next()),
        1e-6,
        1 - 1e-6,
      );
      const noise = tf.neg(tf.log(tf.neg(tf.log(u))));
      expectBitwise(g.rsample({ sampleShape: [5], rng: new Rng(4) }), tf.add(l, tf.mul(s, noise)));
    });
  });

  it('Logistic: -z - 2 softplus(-z) - log scale; loc + scale * logit(u)', () => {
    tf.tidy(() => {
      const [l, s, v] = [loc(), scale(), x()];
      const d = new Logistic(l, s);
      const z = tf.div(tf.sub(v, l), s);
      expectBitwise(
        d.logProb(v),
        tf.sub(tf.sub(tf.neg(z), tf.mul(2, softplus(tf.neg(z)))), tf.log(s)),
      );
      const u = tf.clipByValue(
        tf.randomUniform([5, 3], 0, 1, 'float32', new Rng(4).next()),
        1e-6,
        1 - 1e-6,
      );
      const noise = tf.sub(tf.log(u), tf.log1p(tf.neg(u)));
      expectBitwise(d.rsample({ sampleShape: [5], rng: new Rng(4) }), tf.add(l, tf.mul(s, noise)));
    });
  });

  it.each([0.01, 0.5, 3])(
    'LogitRelaxedBernoulli and RelaxedBernoulli at temperature %s (logits up to 1e4)',
    (t) => {
      tf.tidy(() => {
        const logits = tf.tensor1d([1e4, -1e4, 0.3, 2]);
        const temp = tf.scalar(t);
        const lrb = new LogitRelaxedBernoulli(temp, { logits });
        expect(lrb.bijector).toBeInstanceOf(Invert);
        const y = lrb.rsample({ sampleShape: [16], rng: new Rng(7) });
        const u = tf.clipByValue(
          tf.randomUniform([16, 4], 0, 1, 'float32', new Rng(7).next()),
          1e-6,
          1 - 1e-6,
        );
        expectBitwise(y, tf.div(tf.add(logits, tf.sub(tf.log(u), tf.log1p(tf.neg(u)))), temp));
        const diff = tf.sub(logits, tf.mul(temp, y));
        expectBitwise(
          lrb.logProb(y),
          tf.add(tf.log(temp), tf.sub(diff, tf.mul(2, softplus(diff)))),
        );
        const rb = new RelaxedBernoulli(temp, { logits });
        expect(rb.bijector).toBeInstanceOf(Sigmoid);
        const v = rb.rsample({ sampleShape: [16], rng: new Rng(8) });
        const lx = tf.log(v);
        const l1x = tf.log1p(tf.neg(v));
        expectBitwise(rb.logProb(v), tf.sub(lrb.logProb(tf.sub(lx, l1x)), tf.add(lx, l1x)));
      });
    },
  );

  it.each([0.01, 0.5, 3])('RelaxedOneHotCategorical at temperature %s', (t) => {
    tf.tidy(() => {
      const logits = tf.tensor2d([
        [1e4, -1e4, 0.3, 2],
        [1, -0.5, 0.3, 2],
      ]);
      const d = new RelaxedOneHotCategorical(t, { logits });
      expect(d.bijector).toBeInstanceOf(Exp);
      const base = d.base as ExpRelaxedOneHotCategorical;
      const v = d.rsample({ sampleShape: [16], rng: new Rng(9) });
      const y = tf.log(v);
      expectBitwise(d.logProb(v), tf.sub(base.logProb(y), tf.sum(y, -1)));
      const min = tf.min(v).dataSync()[0]!;
      const max = tf.max(v).dataSync()[0]!;
      expect(min).toBeGreaterThanOrEqual(1.1920928955078125e-7); // clamped as before
      expect(max).toBeLessThanOrEqual(1 - 1.1920928955078125e-7);
    });
  });
});

describe('location-scale and relaxed extras', () => {
  it('mode and mean of the location-scale families; Gumbel sampling matches Affine(Gumbel(0, 1))', () => {
    tf.tidy(() => {
      const g = new Gumbel([1, 2], [0.5, 3]);
      expect(g.mode).toBeAllclose([1, 2]);
      expect(g.mean).toBeAllclose([1 + 0.5 * 0.5772156649, 2 + 3 * 0.5772156649], { rtol: 1e-6 });
      const viaT = new TransformedDistribution(new Gumbel(0, 1), new Affine([1, 2], [0.5, 3]), {
        ownsBijector: true,
      });
      const y = tf.tensor2d([
        [0.5, 4],
        [3, -1],
      ]);
      expect(viaT.logProb(y)).toBeAllclose(g.logProb(y), { rtol: 1e-5, atol: 1e-5 });
      expect(new Logistic(3, 2).mode).toBeAllclose(3);
    });
  });

  it('relaxed rsampleWithLogProb returns the clamped sample and its density', async () => {
    const d = new RelaxedBernoulli(0.1, { logits: [2, -3] });
    tf.tidy(() => {
      const { x, logProb } = d.rsampleWithLogProb({ sampleShape: [8], rng: new Rng(1) });
      expectBitwise(x, d.rsample({ sampleShape: [8], rng: new Rng(1) }));
      expectBitwise(logProb, d.logProb(x));
    });
    await expectNoLeaks(() => {
      const r = d.rsampleWithLogProb({ sampleShape: [2], rng: new Rng(2) });
      tf.dispose([r.x, r.logProb]);
    }, 'RelaxedBernoulli.rsampleWithLogProb');
    d.dispose();
  });
});
