import { expectNoLeaks } from '@dgm-js/test-utils';
import { describe, expect, it } from 'vitest';
import { ValueError } from '../errors.js';
import { Rng } from '../rng.js';
import { tf } from '../tf.js';
import { fitGumbel, Gumbel } from './gumbel.js';
import { fixture, take } from './test-helpers.js';

describe('fitGumbel', () => {
  const fx = fixture('gumbel_fit');

  it.each(['waterLevels', 'small', 'offset'])(
    '%s: matches the maximum-likelihood fit found by direct optimisation (torch LBFGS)',
    (name) => {
      const c = fx[name];
      const fit = fitGumbel(c.data);
      expect(fit.n).toBe(c.data.length);
      expect(Math.abs(fit.loc - c.loc) / c.scale).toBeLessThan(1e-6);
      expect(Math.abs(fit.scale - c.scale) / c.scale).toBeLessThan(1e-7);
      expect(Math.abs(fit.logLikelihood - c.logLikelihood)).toBeLessThan(
        1e-7 * Math.abs(c.logLikelihood) + 1e-9,
      );
      expect(fit.iterations).toBeLessThan(20);
    },
  );

  it('solves the likelihood equations: mean(exp(-(x - loc) / scale)) = 1 and the scale equation', () => {
    const { data } = fx.waterLevels;
    const fit = fitGumbel(data);
    const w = data.map((x: number) => Math.exp(-(x - fit.loc) / fit.scale));
    const n = data.length;
    expect(w.reduce((a: number, b: number) => a + b, 0) / n).toBeCloseTo(1, 10);
    const mean = data.reduce((a: number, b: number) => a + b, 0) / n;
    const sw = w.reduce((a: number, b: number) => a + b, 0);
    const swx = w.reduce((a: number, b: number, i: number) => a + b * data[i], 0);
    expect(fit.scale).toBeCloseTo(mean - swx / sw, 10);
  });

  it('recovers loc and scale from a large seeded sample within 5 standard errors', () => {
    const g = new Gumbel(3, 2);
    const x = g.sample({ sampleShape: [20000], rng: new Rng(61) });
    const fit = fitGumbel(x);
    x.dispose();
    g.dispose();
    expect(Math.abs(fit.loc - 3)).toBeLessThan(5 * fit.stderr.loc);
    expect(Math.abs(fit.scale - 2)).toBeLessThan(5 * fit.stderr.scale);
    // the reported standard errors are the Fisher-information ones
    expect(fit.stderr.scale).toBeCloseTo(fit.scale * Math.sqrt(6 / Math.PI ** 2 / 20000), 10);
  });

  it('accepts tensors and typed arrays, and is location-scale equivariant', () => {
    const data = fx.small.data as number[];
    const a = fitGumbel(data);
    const t = tf.tensor1d(data);
    const b = fitGumbel(t);
    t.dispose();
    const c = fitGumbel(Float64Array.from(data, (v) => 5 + 3 * v));
    expect(b.loc).toBeCloseTo(a.loc, 5);
    expect(c.loc).toBeCloseTo(5 + 3 * a.loc, 8);
    expect(c.scale).toBeCloseTo(3 * a.scale, 8);
  });

  it('gives the 100-year level through Gumbel.icdf', () => {
    const fit = fitGumbel(fx.waterLevels.data);
    const g = new Gumbel(fit.loc, fit.scale);
    const level = take(g.icdf(tf.scalar(0.99)))[0]!;
    expect(level).toBeCloseTo(fit.loc - fit.scale * Math.log(-Math.log(0.99)), 4);
    g.dispose();
  });

  it('rejects too few, non-finite or constant data', () => {
    expect(() => fitGumbel([1])).toThrow(/at least 2/);
    expect(() => fitGumbel([1, Number.NaN, 2])).toThrow(ValueError);
    expect(() => fitGumbel([1, Number.POSITIVE_INFINITY])).toThrow(/element 1/);
    expect(() => fitGumbel([2, 2, 2])).toThrow(/scale is 0/);
  });

  it('leaks nothing', async () => {
    const t = tf.tensor1d([1, 2, 3.5, 2.2]);
    await expectNoLeaks(() => fitGumbel(t), 'fitGumbel');
    t.dispose();
  });
});
