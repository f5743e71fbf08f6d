import { checkGradient, expectNoLeaks } from '@dgm-js/test-utils';
import { describe, expect, it } from 'vitest';
import { DgmError, ShapeError, ValueError } from '../errors.js';
import { Rng } from '../rng.js';
import { tf } from '../tf.js';
import type { ParamLike } from './distribution.js';
import { Gumbel } from './gumbel.js';
import { Logistic } from './logistic.js';
import { Normal } from './normal.js';
import {
  expectDistributionLeakFree,
  expectMoments,
  first,
  fixture,
  T,
  take,
} from './test-helpers.js';
import { Uniform } from './uniform.js';

const EULER = 0.5772156649015329;
const TOL = { rtol: 2e-5, atol: 1e-5 };

type LocScale = typeof Normal | typeof Logistic | typeof Gumbel;
const FAMILIES: Array<[string, LocScale]> = [
  ['normal', Normal],
  ['logistic', Logistic],
  ['gumbel', Gumbel],
];

describe.each(FAMILIES)('%s against torch.distributions fixtures', (name, Cls) => {
  const cases = fixture(name).cases;

  it('logProb, cdf, icdf, entropy, mean and variance match', () => {
    for (const c of cases) {
      tf.tidy(() => {
        const d = new Cls(T(c.loc), T(c.scale));
        const x = T(c.x);
        expect(d.logProb(x)).toBeAllclose(c.logProb, TOL);
        expect(d.entropy()).toBeAllclose(c.entropy, TOL);
        expect(d.mean).toBeAllclose(c.mean, TOL);
        expect(d.variance).toBeAllclose(c.variance, TOL);
        expect(d.cdf(x)).toBeAllclose(c.cdf, TOL);
        if (c.icdf && 'icdf' in d) {
          const d1 = new Cls(first(c.loc), first(c.scale));
          expect((d1 as Gumbel).icdf(T(c.p))).toBeAllclose(c.icdf, TOL);
        }
      });
    }
  });

  it('gradients of logProb w.r.t. loc and scale match torch autograd', () => {
    for (const c of cases) {
      tf.tidy(() => {
        const x = T(c.x);
        const [gl, gs] = tf.grads((l: tf.Tensor, s: tf.Tensor) => tf.sum(new Cls(l, s).logProb(x)))(
          [T(c.loc), T(c.scale)],
        );
        expect(gl).toBeAllclose(c.gradLoc, { rtol: 1e-4, atol: 1e-4 });
        expect(gs).toBeAllclose(c.gradScale, { rtol: 1e-4, atol: 1e-4 });
      });
    }
  });
});

describe('uniform against torch.distributions fixtures', () => {
  it('logProb (-Infinity outside [low, high)), cdf, icdf, entropy, mean, variance match', () => {
    for (const c of fixture('uniform').cases) {
      tf.tidy(() => {
        const d = new Uniform(T(c.low), T(c.high));
        const x = T(c.x);
        expect(d.logProb(x)).toBeAllclose(c.logProb, TOL);
        expect(d.cdf(x)).toBeAllclose(c.cdf, TOL);
        expect(d.entropy()).toBeAllclose(c.entropy, TOL);
        expect(d.mean).toBeAllclose(c.mean, TOL);
        expect(d.variance).toBeAllclose(c.variance, TOL);
        const d1 = new Uniform(first(c.low), first(c.high));
        expect(d1.icdf(T(c.p))).toBeAllclose(c.icdf, TOL);
      });
    }
  });
});

describe('sampling moments (fixed seeds, 5 standard errors)', () => {
  const N = 20000;
  // [name, make, mean, variance, excess kurtosis] for two batch members each
  type Make = (a: ParamLike, b: ParamLike) => Normal | Logistic | Gumbel | Uniform;
  // [name, make, first parameters, second parameters, excess kurtosis]
  const cases: Array<[string, Make, number[], number[], number]> = [
    ['Normal', (a, b) => new Normal(a, b), [1.5, -3], [2, 0.1], 0],
    ['Logistic', (a, b) => new Logistic(a, b), [0.5, 10], [2, 0.3], 1.2],
    ['Gumbel', (a, b) => new Gumbel(a, b), [1, -4], [2, 0.5], 2.4],
    ['Uniform', (a, b) => new Uniform(a, b), [-1, 5], [3, 5.5], -1.2],
  ];
  const truth = (name: string, a: number, b: number): [number, number] => {
    if (name === 'Normal') return [a, b * b];
    if (name === 'Logistic') return [a, (b * b * Math.PI * Math.PI) / 3];
    if (name === 'Gumbel') return [a + EULER * b, (Math.PI * Math.PI * b * b) / 6];
    return [(a + b) / 2, ((b - a) * (b - a)) / 12];
  };

  it.each(cases)(
    '%s: sample and rsample have the right mean and variance',
    (name, make, a, b, kurt) => {
      const d = make(a, b);
      for (const method of ['sample', 'rsample'] as const) {
        const s = d[method]({ sampleShape: [N], rng: new Rng(11) });
        expect(s.shape).toEqual([N, 2]);
        const v = take(s);
        for (let j = 0; j < 2; j++) {
          const col = v.filter((_, i) => i % 2 === j);
          const [m, s2] = truth(name, a[j] as number, b[j] as number);
          expectMoments(col, m, s2, kurt);
        }
      }
      d.dispose();
    },
  );

  it('the moment check has power: a wrong scale fails it', () => {
    const v = take(new Normal(0, 1.1).sample({ sampleShape: [N], rng: new Rng(1) }));
    expect(() => expectMoments(v, 0, 1, 0)).toThrow();
  });

  it('the same seed gives the same draw, another seed another', () => {
    const d = new Gumbel(0, 1);
    const a = take(d.sample({ sampleShape: [5], rng: new Rng(3) }));
    const b = take(d.sample({ sampleShape: [5], rng: new Rng(3) }));
    const c = take(d.sample({ sampleShape: [5], rng: new Rng(4) }));
    expect(a).toEqual(b);
    expect(a).not.toEqual(c);
    d.dispose();
  });
});

describe('reparameterized gradients', () => {
  const families: Array<
    [string, (a: tf.Tensor, b: tf.Tensor) => Normal | Logistic | Gumbel | Uniform]
  > = [
    ['Normal', (a, b) => new Normal(a, b)],
    ['Logistic', (a, b) => new Logistic(a, b)],
    ['Gumbel', (a, b) => new Gumbel(a, b)],
    ['Uniform', (a, b) => new Uniform(a, tf.add(a, b))],
  ];
  it.each(families)('%s: rsample gradients match finite differences', (_n, make) => {
    const a0 = tf.tensor1d([0.3, -1.2]);
    const b0 = tf.tensor1d([0.8, 1.5]);
    const f = (a: tf.Tensor, b: tf.Tensor) =>
      tf.sum(tf.sin(make(a, b).rsample({ sampleShape: [4], rng: new Rng(5) })));
    const ra = checkGradient((a) => f(a, b0), a0);
    const rb = checkGradient((b) => f(a0, b), b0);
    expect(ra.pass, ra.message).toBe(true);
    expect(rb.pass, rb.message).toBe(true);
    tf.dispose([a0, b0]);
  });

  it('sample() passes no gradient, rsample() does', () => {
    const loc = tf.scalar(1);
    const gs = tf.grad((l: tf.Tensor) =>
      tf.sum(new Normal(l, 1).sample({ sampleShape: [3], rng: new Rng(0) })),
    )(loc);
    const gr = tf.grad((l: tf.Tensor) =>
      tf.sum(new Normal(l, 1).rsample({ sampleShape: [3], rng: new Rng(0) })),
    )(loc);
    expect(gs).toBeAllclose(0);
    expect(gr).toBeAllclose(3);
    tf.dispose([loc, gs, gr]);
  });

  it('d/dtheta E_{N(theta,1)}[x^2] at theta = 2 is 4, with per-sample variance 4 (DESIGN 5)', () => {
    const n = 10000;
    const theta = tf.scalar(2);
    // per-sample gradients: d/dtheta (theta + eps)^2 = 2 (theta + eps)
    const perSample = tf.tidy(() => {
      const jac = tf.grad((t: tf.Tensor) =>
        tf.sum(tf.square(new Normal(t, 1).rsample({ sampleShape: [n], rng: new Rng(9) }))),
      );
      return jac(theta);
    });
    const mean = perSample.dataSync()[0]! / n;
    expect(Math.abs(mean - 4)).toBeLessThan(5 * Math.sqrt(4 / n));
    const xs = take(new Normal(2, 1).sample({ sampleShape: [n], rng: new Rng(9) }));
    const g = xs.map((x) => 2 * x);
    expectMoments(g, 4, 4, 0);
    tf.dispose([theta, perSample]);
  });
});

describe('Gumbel pdf, cdf and icdf', () => {
  it('icdf inverts cdf, pdf is the derivative of cdf, and T-year levels are right', () => {
    tf.tidy(() => {
      const g = new Gumbel(3.2, 0.4);
      const x = tf.tensor1d([2.5, 3.0, 3.2, 4.0, 5.5]);
      expect(g.icdf(g.cdf(x))).toBeAllclose(x, { rtol: 1e-5, atol: 1e-5 });
      const h = 1e-2;
      const fd = tf.div(tf.sub(g.cdf(tf.add(x, h)), g.cdf(tf.sub(x, h))), 2 * h);
      expect(g.pdf(x)).toBeAllclose(fd, { rtol: 1e-3, atol: 1e-4 });
      // 100-year level: loc - scale log(-log(0.99))
      expect(g.icdf(tf.scalar(0.99))).toBeAllclose(3.2 - 0.4 * Math.log(-Math.log(0.99)), TOL);
      expect(g.icdf(tf.tensor1d([0, 1]))).toBeAllclose([
        Number.NEGATIVE_INFINITY,
        Number.POSITIVE_INFINITY,
      ]);
      expect(g.mode).toBeAllclose(3.2);
    });
  });
});

describe('validation', () => {
  it('rejects non-positive or non-finite scales and non-finite locations with a ValueError', () => {
    for (const Cls of [Normal, Logistic, Gumbel]) {
      expect(() => new Cls(0, 0)).toThrow(ValueError);
      expect(() => new Cls(0, -1)).toThrow(/scale must be finite and > 0.*-1/);
      expect(() => new Cls(Number.NaN, 1)).toThrow(/loc must be finite/);
      expect(() => new Cls(0, Number.POSITIVE_INFINITY)).toThrow(ValueError);
      expect(() => new Cls([0, 1, 2], [1, 2])).toThrow(ShapeError);
      expect(() => new Cls([0, 1, 2], [1, 2])).toThrow(/\[3\] and \[2\] do not broadcast/);
    }
    expect(() => new Uniform(1, 1)).toThrow(/high - low must be > 0/);
    expect(() => new Uniform([0, 2], [1, 1])).toThrow(ValueError);
    expect(() => new Uniform(0, Number.NaN)).toThrow(ValueError);
  });

  it('validate: false skips the value checks', () => {
    const d = new Normal(0, -1, { validate: false });
    expect(d.validate).toBe(false);
    d.dispose();
  });

  it('a failed construction leaks nothing', async () => {
    await expectNoLeaks(() => {
      expect(() => new Normal([0, 1], [1, -1])).toThrow(ValueError);
      expect(() => new Uniform([0, 1], [[1, 2, 3]])).toThrow(ShapeError);
      expect(() => new Gumbel([[0, 1], [2]] as unknown as number[], 1)).toThrow(ValueError);
    }, 'failed constructors');
  });

  it('rejects logProb inputs whose shape does not fit the batch, with both shapes in the message', () => {
    const d = new Normal(tf.zeros([2, 3]), 1);
    const x = tf.zeros([4, 2]);
    expect(() => d.logProb(x)).toThrow(ShapeError);
    expect(() => d.logProb(x)).toThrow(/\[4, 2\].*\[2, 3\]/);
    const ok = d.logProb(tf.zeros([5, 1, 3]));
    expect(ok.shape).toEqual([5, 2, 3]);
    tf.dispose([x, ok]);
    d.dispose();
  });

  it('rejects p outside [0, 1] in icdf, missing rng and bad sample shapes', () => {
    const g = new Gumbel(0, 1);
    const p = tf.tensor1d([0.5, 1.5]);
    expect(() => g.icdf(p)).toThrow(/p must lie in \[0, 1\].*1\.5/);
    expect(() => g.sample({} as never)).toThrow(/rng/);
    expect(() => g.sample({ sampleShape: [-1], rng: new Rng(0) })).toThrow(ShapeError);
    expect(() => g.sample({ sampleShape: [1.5], rng: new Rng(0) })).toThrow(ShapeError);
    p.dispose();
    g.dispose();
  });

  it('Uniform has no single mode (a DgmError says so)', () => {
    const u = new Uniform(0, 1);
    expect(() => u.mode).toThrow(DgmError);
    u.dispose();
  });
});

describe('leaks', () => {
  it.each([
    ['Normal', () => new Normal([0, 1], [1, 2])],
    ['Logistic', () => new Logistic([0, 1], [1, 2])],
    ['Gumbel', () => new Gumbel([0, 1], [1, 2])],
    ['Uniform', () => new Uniform([0, 1], [1, 2])],
  ])('%s: construction, every method and dispose leave no tensor behind', async (_n, make) => {
    const x = tf.tensor2d([[0.5, 1.5]]);
    const p = tf.tensor1d([0.2, 0.7]);
    await expectNoLeaks(async () => {
      const d = make();
      await expectDistributionLeakFree(d, x, new Rng(0), _n);
      await expectNoLeaks(() => (d as Gumbel).cdf(x).dispose(), `${_n}.cdf`);
      if ('stddev' in d) await expectNoLeaks(() => (d as Normal).stddev.dispose(), `${_n}.stddev`);
      if ('pdf' in d) await expectNoLeaks(() => (d as Gumbel).pdf(x).dispose(), `${_n}.pdf`);
      if ('icdf' in d) await expectNoLeaks(() => (d as Gumbel).icdf(p).dispose(), `${_n}.icdf`);
      await expectNoLeaks(
        () =>
          tf
            .tidy(() =>
              tf.grad((l: tf.Tensor) => tf.sum((d as Normal).logProb(tf.add(x, l))))(tf.scalar(0)),
            )
            .dispose(),
        `${_n} logProb gradient`,
      );
      d.dispose();
    }, `${_n} lifecycle`);
    tf.dispose([x, p]);
  });
});
