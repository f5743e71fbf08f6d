import { checkGradient, expectNoLeaks } from '@dgm-js/test-utils';
import { describe, expect, it } from 'vitest';
import { DgmError, ShapeError, ValueError } from '../errors.js';
import { Rng } from '../rng.js';
import { tf } from '../tf.js';
import {
  ExpRelaxedOneHotCategorical,
  LogitRelaxedBernoulli,
  RelaxedBernoulli,
  RelaxedOneHotCategorical,
} from './relaxed.js';
import {
  chi2Critical,
  chiSquare,
  expectDistributionLeakFree,
  fixture,
  T,
  take,
} from './test-helpers.js';

const fx = fixture('relaxed');
const TOL = { rtol: 1e-4, atol: 1e-4 };

type Make = (t: tf.Tensor, l: tf.Tensor) => { logProb(x: tf.Tensor): tf.Tensor };
const FIXTURE_CASES: Array<[string, string, Make]> = [
  [
    'ExpRelaxedOneHotCategorical',
    'expRelaxed',
    (t, l) => new ExpRelaxedOneHotCategorical(t, { logits: l }),
  ],
  [
    'RelaxedOneHotCategorical',
    'relaxedOneHot',
    (t, l) => new RelaxedOneHotCategorical(t, { logits: l }),
  ],
  [
    'LogitRelaxedBernoulli',
    'logitRelaxedBernoulli',
    (t, l) => new LogitRelaxedBernoulli(t, { logits: l }),
  ],
  ['RelaxedBernoulli', 'relaxedBernoulli', (t, l) => new RelaxedBernoulli(t, { logits: l })],
];

describe.each(FIXTURE_CASES)('%s against torch.distributions fixtures', (_name, key, make) => {
  it('logProb and its gradients w.r.t. logits and temperature match (temperatures 0.1, 0.5, 2)', () => {
    for (const c of fx[key]) {
      tf.tidy(() => {
        const v = T(c.y ?? c.x);
        const logits = T(c.logits);
        const temp = tf.scalar(c.temperature);
        expect(make(temp, logits).logProb(v)).toBeAllclose(c.logProb, TOL);
        const [gl, gt] = tf.grads((l: tf.Tensor, t: tf.Tensor) => tf.sum(make(t, l).logProb(v)))([
          logits,
          temp,
        ]);
        expect(gl).toBeAllclose(c.gradLogits, { rtol: 1e-3, atol: 1e-3 });
        expect(gt).toBeAllclose(c.gradTemperature, { rtol: 1e-3, atol: 1e-3 });
      });
    }
  });
});

describe('temperature limits', () => {
  const N = 4000;
  const logits = [1.0, -0.5, 0.3, 2.0];
  const pi = (() => {
    const e = logits.map(Math.exp);
    const s = e.reduce((a, b) => a + b, 0);
    return e.map((v) => v / s);
  })();

  /** Rows of a [N, K] sample: fraction with max > 0.99, argmax counts, max |x - 1/K|. */
  function rowStats(v: number[], k: number) {
    let nearOneHot = 0;
    const counts = new Array(k).fill(0);
    let nearUniform = 0;
    for (let r = 0; r < v.length / k; r++) {
      const row = v.slice(r * k, r * k + k);
      const m = Math.max(...row);
      if (m > 0.99) nearOneHot++;
      counts[row.indexOf(m)]++;
      if (row.every((x) => Math.abs(x - 1 / k) < 0.02)) nearUniform++;
    }
    const n = v.length / k;
    return { oneHot: nearOneHot / n, uniform: nearUniform / n, counts };
  }

  function draw(temp: number, seed: number) {
    const d = new RelaxedOneHotCategorical(temp, { logits });
    const v = take(d.rsample({ sampleShape: [N], rng: new Rng(seed) }));
    d.dispose();
    return rowStats(v, 4);
  }

  it('temperature 0.01: samples are near one-hot, and the argmax is Categorical(softmax(logits))', () => {
    const s = draw(0.01, 31);
    expect(s.oneHot).toBeGreaterThan(0.95);
    expect(chiSquare(s.counts, pi)).toBeLessThan(chi2Critical(3));
  });

  it('temperature 100: samples are near the uniform point 1/K', () => {
    expect(draw(100, 32).uniform).toBeGreaterThan(0.99);
  });

  it('temperature 1 is neither (so the two checks above can fail)', () => {
    const s = draw(1, 33);
    expect(s.oneHot).toBeLessThan(0.5);
    expect(s.uniform).toBeLessThan(0.1);
  });

  it('RelaxedBernoulli: near 0/1 with P(x > 0.5) = p at temperature 0.01, near 1/2 at 100', () => {
    const p = 0.3;
    const logit = Math.log(p / (1 - p));
    const cold = new RelaxedBernoulli(0.01, { logits: [logit] });
    const v = take(cold.rsample({ sampleShape: [N], rng: new Rng(34) }));
    expect(v.filter((x) => x < 0.01 || x > 0.99).length / N).toBeGreaterThan(0.95);
    const ones = v.filter((x) => x > 0.5).length / N;
    expect(Math.abs(ones - p)).toBeLessThan(5 * Math.sqrt((p * (1 - p)) / N));
    const hot = new RelaxedBernoulli(100, { logits: [logit] });
    const w = take(hot.rsample({ sampleShape: [N], rng: new Rng(35) }));
    expect(w.every((x) => Math.abs(x - 0.5) < 0.05)).toBe(true);
    const warm = new RelaxedBernoulli(1, { logits: [logit] });
    const u = take(warm.rsample({ sampleShape: [N], rng: new Rng(36) }));
    expect(u.filter((x) => x < 0.01 || x > 0.99).length / N).toBeLessThan(0.5);
    [cold, hot, warm].forEach((d) => {
      d.dispose();
    });
  });
});

describe('no NaN or Inf at temperature 0.01 or with logits of +-1e4', () => {
  const allFinite = (t: tf.Tensor) => tf.all(tf.isFinite(t)).dataSync()[0] === 1;
  const settings: Array<[string, number, number[][]]> = [
    ['temperature 0.01', 0.01, [[1, -0.5, 0.3, 2]]],
    ['logits +-1e4', 1, [[1e4, -1e4, 0, 1e4]]],
    ['both', 0.01, [[1e4, -1e4, 0, -1e4]]],
  ];
  type AnyRelaxed =
    | RelaxedOneHotCategorical
    | ExpRelaxedOneHotCategorical
    | RelaxedBernoulli
    | LogitRelaxedBernoulli;
  const makers: Array<[string, (t: tf.Tensor, l: tf.Tensor) => AnyRelaxed]> = [
    ['RelaxedOneHotCategorical', (t, l) => new RelaxedOneHotCategorical(t, { logits: l })],
    ['ExpRelaxedOneHotCategorical', (t, l) => new ExpRelaxedOneHotCategorical(t, { logits: l })],
    ['RelaxedBernoulli', (t, l) => new RelaxedBernoulli(t, { logits: l })],
    ['LogitRelaxedBernoulli', (t, l) => new LogitRelaxedBernoulli(t, { logits: l })],
  ];
  for (const [setting, temperature, logits] of settings) {
    it.each(makers)(
      `%s (${setting}): rsample, logProb(rsample) and their gradients`,
      (_n, make) => {
        tf.tidy(() => {
          const l = tf.tensor2d(logits);
          const t = tf.scalar(temperature);
          const d = make(t, l);
          const x = d.rsample({ sampleShape: [64], rng: new Rng(7) });
          expect(allFinite(x)).toBe(true);
          expect(allFinite(d.logProb(x))).toBe(true);
          const w = tf.linspace(-1, 1, l.shape[1]!);
          const [gl, gt] = tf.grads((li: tf.Tensor, ti: tf.Tensor) => {
            const di = make(ti, li);
            const xi = di.rsample({ sampleShape: [64], rng: new Rng(7) });
            return tf.add(tf.sum(tf.mul(xi, w)), tf.sum(di.logProb(xi)));
          })([l, t]);
          expect(allFinite(gl!)).toBe(true);
          expect(allFinite(gt!)).toBe(true);
        });
      },
    );
  }
});

describe('reparameterized gradients match finite differences (temperature 0.5)', () => {
  const makers: Array<
    [
      string,
      (
        t: tf.Tensor,
        l: tf.Tensor,
      ) =>
        | RelaxedOneHotCategorical
        | ExpRelaxedOneHotCategorical
        | RelaxedBernoulli
        | LogitRelaxedBernoulli,
    ]
  > = [
    ['RelaxedOneHotCategorical', (t, l) => new RelaxedOneHotCategorical(t, { logits: l })],
    ['ExpRelaxedOneHotCategorical', (t, l) => new ExpRelaxedOneHotCategorical(t, { logits: l })],
    ['RelaxedBernoulli', (t, l) => new RelaxedBernoulli(t, { logits: l })],
    ['LogitRelaxedBernoulli', (t, l) => new LogitRelaxedBernoulli(t, { logits: l })],
  ];
  it.each(makers)('%s: w.r.t. logits and temperature', (_n, make) => {
    const l0 = tf.tensor1d([0.4, -0.3, 1.1]);
    const t0 = tf.scalar(0.5);
    const w = tf.tensor1d([0.5, -1, 2]);
    const f = (l: tf.Tensor, t: tf.Tensor) =>
      tf.sum(tf.mul(tf.sin(make(t, l).rsample({ sampleShape: [3], rng: new Rng(2) })), w));
    const rl = checkGradient((l) => f(l, t0), l0);
    const rt = checkGradient((t) => f(l0, t), t0, { eps: 1e-3 });
    expect(rl.pass, rl.message).toBe(true);
    expect(rt.pass, rt.message).toBe(true);
    tf.dispose([l0, t0, w]);
  });
});

describe('validation', () => {
  it('rejects temperature <= 0 or non-finite, non-finite logits, zero probs, bad shapes', () => {
    const Classes = [
      RelaxedOneHotCategorical,
      ExpRelaxedOneHotCategorical,
      RelaxedBernoulli,
      LogitRelaxedBernoulli,
    ];
    for (const C of Classes) {
      expect(() => new C(0, { logits: [0, 1] })).toThrow(/temperature must be finite and > 0/);
      expect(() => new C(-1, { logits: [0, 1] })).toThrow(ValueError);
      expect(() => new C(Number.NaN, { logits: [0, 1] })).toThrow(ValueError);
      expect(() => new C(1, { logits: [Number.NaN, 1] })).toThrow(ValueError);
      expect(() => new C(1, { logits: [Number.NEGATIVE_INFINITY, 1] })).toThrow(ValueError);
      expect(
        () =>
          new C([1, 1, 1], {
            logits: [
              [0, 1],
              [1, 0],
            ],
          }),
      ).toThrow(ShapeError);
    }
    expect(() => new RelaxedOneHotCategorical(1, { probs: [0, 1] })).toThrow(/> 0/);
    expect(() => new RelaxedBernoulli(1, { probs: [1.5] })).toThrow(/\[0, 1\]/);
    const d = new RelaxedOneHotCategorical(1, { logits: [0, 1, 2] });
    const x = tf.tensor1d([0.5, 0.5]);
    expect(() => d.logProb(x)).toThrow(/event shape \[3\]/);
    expect(() => d.mean).toThrow(DgmError);
    expect(() => d.entropy()).toThrow(/no closed form/);
    x.dispose();
    d.dispose();
  });

  it('a failed construction leaks nothing', async () => {
    await expectNoLeaks(() => {
      expect(() => new RelaxedOneHotCategorical(0, { logits: [0, 1] })).toThrow(ValueError);
      expect(() => new RelaxedBernoulli([1, 1, 1], { logits: [0, 1] })).toThrow(ShapeError);
    }, 'failed constructors');
  });
});

describe('leaks', () => {
  type D =
    | RelaxedOneHotCategorical
    | ExpRelaxedOneHotCategorical
    | RelaxedBernoulli
    | LogitRelaxedBernoulli;
  const cases: Array<
    [
      string,
      (l: tf.Tensor | number[][] | number[]) => D,
      number[][] | number[],
      number[][] | number[],
    ]
  > = [
    [
      'RelaxedOneHotCategorical',
      (l) => new RelaxedOneHotCategorical(0.5, { logits: l }),
      [[0, 1, 2]],
      [[0.2, 0.3, 0.5]],
    ],
    [
      'ExpRelaxedOneHotCategorical',
      (l) => new ExpRelaxedOneHotCategorical(0.5, { logits: l }),
      [0, 1, 2],
      [-1, -2, -0.5],
    ],
    ['RelaxedBernoulli', (l) => new RelaxedBernoulli(0.5, { logits: l }), [0.2, 0.7], [0.3, 0.9]],
    [
      'LogitRelaxedBernoulli',
      (l) => new LogitRelaxedBernoulli(0.5, { logits: l }),
      [0.2, 0.7],
      [-1, 3],
    ],
  ];
  it.each(cases)(
    '%s: construction, every method, gradients and dispose leave no tensor behind',
    async (label, make, lv, xv) => {
      const x = tf.tensor(xv as number[]);
      const l = tf.tensor(lv as number[]);
      await expectNoLeaks(async () => {
        const d = make(lv);
        await expectDistributionLeakFree(d, x, new Rng(0), label);
        d.dispose();
        await expectNoLeaks(
          () =>
            tf
              .tidy(() =>
                tf.grad((li: tf.Tensor) => {
                  const di = make(li);
                  return tf.sum(di.logProb(di.rsample({ rng: new Rng(1) })));
                })(l),
              )
              .dispose(),
          `${label} gradient of logProb(rsample)`,
        );
      }, label);
      tf.dispose([x, l]);
    },
  );
});
