import { checkGradient, expectNoLeaks } from '@dgm-js/test-utils';
import { describe, expect, it } from 'vitest';
import type { Bijector, ForwardResult, InverseResult } from '../contracts.js';
import { DgmError, ShapeError, ValueError } from '../errors.js';
import { Rng } from '../rng.js';
import { tf } from '../tf.js';
import { HALF_LOG_2PI } from '../validate.js';
import {
  Affine,
  type ElementwiseBijector,
  Exp,
  Invert,
  isElementwise,
  Sigmoid,
} from './bijectors.js';
import { Independent } from './independent.js';
import { Logistic } from './logistic.js';
import { Normal } from './normal.js';
import { expectDistributionLeakFree, expectMoments, take } from './test-helpers.js';
import { conditionalTransformed, TransformedDistribution } from './transformed.js';
import { Uniform } from './uniform.js';

const normalLogPdf = (x: number, m: number, s: number) =>
  -0.5 * ((x - m) / s) ** 2 - Math.log(s) - HALF_LOG_2PI;

/**
 * A 2-D affine coupling (not elementwise), optionally conditioned on a context `[N, 1]`:
 * y1 = x1, y2 = x2 exp(a x1 + w c) + b x1 + c; log|det dy/dx| = a x1 + w c.
 */
class TestCoupling implements Bijector {
  readonly kind = 'TestCoupling';
  disposed = false;
  constructor(
    readonly a = 0.5,
    readonly b = -0.7,
    readonly w = 0,
  ) {}
  private parts(x: tf.Tensor, context?: tf.Tensor) {
    const [x1, x2] = tf.split(x, 2, 1) as [tf.Tensor, tf.Tensor];
    const c = context ?? tf.zeros([x.shape[0] as number, 1]);
    const s = tf.add(tf.mul(this.a, x1), tf.mul(this.w, c));
    return { x1, x2, c, s };
  }
  forward(x: tf.Tensor, context?: tf.Tensor): ForwardResult {
    if (this.w !== 0 && !context) throw new ValueError('TestCoupling: pass a context');
    return tf.tidy(() => {
      const { x1, x2, c, s } = this.parts(x, context);
      const y2 = tf.add(tf.add(tf.mul(x2, tf.exp(s)), tf.mul(this.b, x1)), c);
      return { y: tf.concat([x1, y2], 1), logDetJ: tf.reshape(s, [-1]) };
    });
  }
  inverse(y: tf.Tensor, context?: tf.Tensor): InverseResult {
    if (this.w !== 0 && !context) throw new ValueError('TestCoupling: pass a context');
    return tf.tidy(() => {
      const { x1, x2: y2, c, s } = this.parts(y, context);
      const x2 = tf.mul(tf.sub(tf.sub(y2, tf.mul(this.b, x1)), c), tf.exp(tf.neg(s)));
      return { x: tf.concat([x1, x2], 1), logDetJ: tf.reshape(tf.neg(s), [-1]) };
    });
  }
  dispose(): void {
    this.disposed = true;
  }
}

describe('log-densities against closed forms', () => {
  it('Exp of Normal is the log-normal', () => {
    const mu = [0.3, -1];
    const sigma = [0.5, 1.4];
    const d = new TransformedDistribution(new Normal(mu, sigma), new Exp());
    const ys = [
      [0.2, 1.5],
      [3, 0.01],
      [1e-3, 40],
    ];
    const want = ys.map((row) =>
      row.map((y, j) => normalLogPdf(Math.log(y), mu[j]!, sigma[j]!) - Math.log(y)),
    );
    tf.tidy(() => {
      expect(d.logProb(tf.tensor2d(ys))).toBeAllclose(want, { rtol: 1e-5, atol: 1e-5 });
    });
    expect(d.batchShape).toEqual([2]);
    expect(d.eventShape).toEqual([]);
    expect(d.hasRsample).toBe(true);
    d.dispose();
  });

  it('Exp of an Independent Normal sums the log-derivative over the event dims', () => {
    const mu = [
      [0, 1, -1],
      [0.5, 0.2, 0.1],
    ];
    const d = new TransformedDistribution(new Independent(new Normal(mu, 0.8), 1), new Exp());
    expect(d.batchShape).toEqual([2]);
    expect(d.eventShape).toEqual([3]);
    const y = [
      [
        [1, 2, 0.5],
        [0.3, 1.1, 4],
      ],
    ];
    const want = [
      y[0]!.map((row, i) =>
        row.reduce(
          (acc, v, j) => acc + normalLogPdf(Math.log(v), mu[i]![j]!, 0.8) - Math.log(v),
          0,
        ),
      ),
    ];
    tf.tidy(() => {
      const lp = d.logProb(tf.tensor3d(y));
      expect(lp.shape).toEqual([1, 2]);
      expect(lp).toBeAllclose(want, { rtol: 1e-5, atol: 1e-5 });
      // a value broadcast over the batch: [3] against batch [2]
      expect(d.logProb(tf.tensor1d([1, 2, 0.5])).shape).toEqual([2]);
    });
    d.dispose();
  });

  it('Affine of Normal is the Normal with moved parameters (batch-shaped parameters)', () => {
    const loc = tf.tensor1d([1, -2, 0.5]);
    const scale = tf.tensor1d([2, 0.3, 1.5]);
    const d = new TransformedDistribution(new Normal(0.4, 1.2), new Affine(loc, scale), {
      ownsBijector: true,
    });
    expect(d.batchShape).toEqual([3]);
    const direct = new Normal(tf.add(loc, tf.mul(scale, 0.4)), tf.mul(scale, 1.2));
    tf.tidy(() => {
      const y = tf.tensor2d([
        [0, 1, 2],
        [-3, -2, 0.4],
        [10, 0, -4],
      ]);
      expect(d.logProb(y)).toBeAllclose(direct.logProb(y), { rtol: 1e-5, atol: 1e-5 });
    });
    // moments of samples: N(loc + 0.4 scale, (1.2 scale)^2)
    const n = 20000;
    for (const method of ['sample', 'rsample'] as const) {
      const v = take(d[method]({ sampleShape: [n], rng: new Rng(3) }));
      for (let j = 0; j < 3; j++) {
        const col = v.filter((_, i) => i % 3 === j);
        const l = [1, -2, 0.5][j]!;
        const s = [2, 0.3, 1.5][j]!;
        expectMoments(col, l + 0.4 * s, (1.2 * s) ** 2, 0);
      }
    }
    d.dispose();
    direct.dispose();
    expect(loc.isDisposed).toBe(false); // the caller's tensors stay the caller's
    tf.dispose([loc, scale, direct.loc, direct.scale]);
  });

  it('Sigmoid of Normal is the logit-normal, and its density integrates to 1 on (0, 1)', () => {
    const d = new TransformedDistribution(new Normal(0.7, 1.3), new Sigmoid());
    const m = 20000;
    const grid = Array.from({ length: m }, (_, i) => (i + 0.5) / m); // midpoint rule
    const lp = take(d.logProb(tf.tensor1d(grid)));
    lp.slice(0, 50).forEach((v, i) => {
      const y = grid[i]!;
      const want = normalLogPdf(Math.log(y / (1 - y)), 0.7, 1.3) - Math.log(y) - Math.log(1 - y);
      expect(Math.abs(v - want)).toBeLessThan(1e-4 * Math.max(1, Math.abs(want)));
    });
    const total = lp.reduce((a, v) => a + Math.exp(v), 0) / m;
    expect(Math.abs(total - 1)).toBeLessThan(1e-3);
    d.dispose();
  });

  it('the logit of Uniform(0, 1) is the standard Logistic', () => {
    const d = new TransformedDistribution(new Uniform(0, 1), new Invert(new Sigmoid()), {
      ownsBijector: true,
    });
    const l = new Logistic(0, 1);
    tf.tidy(() => {
      const y = tf.tensor1d([-8, -2, -0.3, 0, 1, 5, 12]);
      expect(d.logProb(y)).toBeAllclose(l.logProb(y), { rtol: 1e-5, atol: 1e-5 });
    });
    expectMoments(
      take(d.sample({ sampleShape: [20000], rng: new Rng(4) })),
      0,
      Math.PI ** 2 / 3,
      1.2,
    );
    d.dispose();
    l.dispose();
  });

  it('a non-elementwise bijector (2-D coupling): the density integrates to 1 on a grid', () => {
    const base = new Independent(new Normal([0, 0], [1, 1]), 1);
    const d = new TransformedDistribution(base, new TestCoupling(0.5, -0.7));
    const h = 0.1;
    const pts: number[][] = [];
    for (let i = -100; i <= 100; i++) for (let j = -100; j <= 100; j++) pts.push([i * h, j * h]);
    const lp = take(d.logProb(tf.tensor2d(pts)));
    const total = lp.reduce((a, v) => a + Math.exp(v), 0) * h * h;
    expect(Math.abs(total - 1)).toBeLessThan(2e-3);
    d.dispose();
  });
});

describe('log-determinants against finite differences', () => {
  const eh = 1e-3;
  const bijectors: Array<[string, () => ElementwiseBijector | Invert, number[]]> = [
    ['Affine', () => new Affine(0.5, 1.7), [-3, 0, 2.5]],
    ['Exp', () => new Exp(), [-2, 0.1, 1.5]],
    ['Sigmoid', () => new Sigmoid(), [-4, 0.2, 3]],
    ['Invert(Sigmoid) (logit)', () => new Invert(new Sigmoid()), [0.05, 0.4, 0.93]],
    ['Invert(Exp) (log)', () => new Invert(new Exp()), [0.2, 1, 7]],
    ['Invert(Affine)', () => new Invert(new Affine(-1, 0.25)), [-3, 0, 2.5]],
  ];
  it.each(bijectors)(
    '%s: forward log|dy/dx| = log|central difference|, inverse log-det = -forward, round trip',
    (_n, make, xs) => {
      const b = make();
      tf.tidy(() => {
        const x = tf.tensor2d([xs]);
        const f = (v: tf.Tensor) => b.forward(v).y.dataSync();
        const up = f(tf.add(x, eh));
        const dn = f(tf.sub(x, eh));
        const fd = xs.map((_, i) => Math.log(Math.abs((up[i]! - dn[i]!) / (2 * eh))));
        const { y, logDetJ } = b.forward(x);
        const el = (b as ElementwiseBijector).forwardElementwise(x).logDet;
        expect(tf.add(el, tf.zeros(x.shape))).toBeAllclose([fd], { rtol: 2e-3, atol: 2e-3 });
        expect(logDetJ).toBeAllclose([fd.reduce((a, v) => a + v, 0)], { rtol: 2e-3, atol: 2e-3 });
        const back = b.inverse(y);
        expect(back.x).toBeAllclose(x, { rtol: 1e-4, atol: 1e-4 });
        expect(back.logDetJ).toBeAllclose(tf.neg(logDetJ), { rtol: 1e-4, atol: 1e-4 });
      });
      b.dispose();
    },
  );

  it('the 2-D coupling test bijector: log|det| of the finite-difference Jacobian', () => {
    const b = new TestCoupling(0.5, -0.7);
    tf.tidy(() => {
      const x0 = [0.3, -1.1];
      const f = (v: number[]) => Array.from(b.forward(tf.tensor2d([v])).y.dataSync());
      const jac = [0, 1].map((j) =>
        [0, 1].map((i) => {
          const p = x0.slice();
          const m = x0.slice();
          p[j]! += eh;
          m[j]! -= eh;
          return (f(p)[i]! - f(m)[i]!) / (2 * eh);
        }),
      );
      const det = jac[0]![0]! * jac[1]![1]! - jac[0]![1]! * jac[1]![0]!;
      expect(b.forward(tf.tensor2d([x0])).logDetJ).toBeAllclose([Math.log(Math.abs(det))], {
        rtol: 1e-3,
        atol: 1e-3,
      });
    });
  });

  it('isElementwise tells the elementwise bijectors from the others', () => {
    expect(isElementwise(new Exp())).toBe(true);
    expect(isElementwise(new Invert(new Exp()))).toBe(true);
    expect(isElementwise(new TestCoupling())).toBe(false);
    expect(isElementwise(new Invert(new TestCoupling()))).toBe(false);
  });
});

describe('shapes', () => {
  it('samples are [...sampleShape, ...batchShape, ...eventShape], with either kind of bijector', () => {
    tf.tidy(() => {
      const rng = new Rng(1);
      const e = new TransformedDistribution(new Normal(tf.zeros([2, 3]), 1), new Exp());
      expect(e.sample({ sampleShape: [4, 5], rng }).shape).toEqual([4, 5, 2, 3]);
      expect(e.rsample({ rng }).shape).toEqual([2, 3]);
      const c = new TransformedDistribution(
        new Independent(new Normal(tf.zeros([3, 2]), 1), 1),
        new TestCoupling(),
      );
      expect(c.batchShape).toEqual([3]);
      expect(c.sample({ sampleShape: [4, 5], rng }).shape).toEqual([4, 5, 3, 2]);
      const { x, logProb } = c.rsampleWithLogProb({ sampleShape: [7], rng });
      expect(x.shape).toEqual([7, 3, 2]);
      expect(logProb.shape).toEqual([7, 3]);
      // the forward-only log-density equals the one through the inverse
      expect(logProb).toBeAllclose(c.logProb(x), { rtol: 1e-5, atol: 1e-5 });
      // a value broadcast over the batch
      expect(c.logProb(tf.zeros([5, 1, 2])).shape).toEqual([5, 3]);
    });
  });

  it('scalar events reach a flow bijector as [N, 1]', () => {
    const seen: number[][] = [];
    const spy: Bijector = {
      kind: 'Spy',
      forward: (x) => {
        seen.push(x.shape);
        return { y: tf.mul(x, 2), logDetJ: tf.fill([x.shape[0]!], Math.LN2) };
      },
      inverse: (y) => {
        seen.push(y.shape);
        return { x: tf.div(y, 2), logDetJ: tf.fill([y.shape[0]!], -Math.LN2) };
      },
      dispose: () => {},
    };
    const d = new TransformedDistribution(new Normal(tf.zeros([3]), 1), spy);
    tf.tidy(() => {
      expect(d.sample({ sampleShape: [4], rng: new Rng(0) }).shape).toEqual([4, 3]);
      const y = tf.tensor2d([[0.5, -1, 2]]);
      expect(d.logProb(y)).toBeAllclose(
        [[0.25, -0.5, 1].map((v) => normalLogPdf(v, 0, 1) - Math.LN2)],
        {
          rtol: 1e-5,
          atol: 1e-5,
        },
      );
    });
    expect(seen).toEqual([
      [12, 1],
      [3, 1],
    ]);
    d.dispose();
  });

  it('a context [B, C] with a base of batch [] gives a batch of B conditionals', () => {
    tf.tidy(() => {
      const c = tf.tensor2d([[0], [1], [-2]]);
      const d = new TransformedDistribution(
        new Independent(new Normal([0, 0], [1, 1]), 1),
        new TestCoupling(0.5, -0.7, 0.8),
        { context: c },
      );
      expect(d.batchShape).toEqual([3]);
      const y = d.sample({ sampleShape: [6], rng: new Rng(2) });
      expect(y.shape).toEqual([6, 3, 2]);
      // row b is conditioned on c[b]: check one against a single-context distribution
      const d1 = new TransformedDistribution(
        new Independent(new Normal([0, 0], [1, 1]), 1),
        new TestCoupling(0.5, -0.7, 0.8),
        { context: tf.tensor2d([[-2]]) },
      );
      const y2 = tf.slice(y, [0, 2, 0], [6, 1, 2]);
      expect(tf.slice(d.logProb(y), [0, 2], [6, 1])).toBeAllclose(d1.logProb(y2), {
        rtol: 1e-5,
        atol: 1e-5,
      });
      const { x, logProb } = d.rsampleWithLogProb({ sampleShape: [2], rng: new Rng(3) });
      expect(logProb).toBeAllclose(d.logProb(x), { rtol: 1e-5, atol: 1e-5 });
    });
  });

  it('conditionalTransformed is a ConditionalDistribution over a shared or per-context base', async () => {
    const bij = new TestCoupling(0.5, -0.7, 0.8);
    const base = new Independent(new Normal([0, 0], [1, 1]), 1);
    const cond = conditionalTransformed(base, bij);
    const c = tf.tensor2d([[0.5], [-1]]);
    const x = tf.zeros([2, 2]);
    await expectNoLeaks(() => {
      const p = cond.condition(c);
      expect(p.batchShape).toEqual([2]);
      p.logProb(x).dispose();
      p.dispose();
    }, 'conditionalTransformed.condition');
    expect(base.isDisposed).toBe(false); // shared: the module owns it
    const perContext = conditionalTransformed(
      (ctx: tf.Tensor) => new Independent(new Normal(tf.tile(ctx, [1, 2]), 1), 1),
      new TestCoupling(0.5, -0.7, 0.8),
    );
    const p = perContext.condition(c);
    expect(p.batchShape).toEqual([2]);
    p.dispose();
    expect((p.base as Independent).isDisposed).toBe(true);
    expect(cond.parameters()).toEqual([]);
    cond.dispose();
    expect(base.isDisposed).toBe(true);
    expect(bij.disposed).toBe(true);
    perContext.dispose();
    tf.dispose([c, x]);
  });

  it('shape errors name the argument, the shapes and the fix', () => {
    const n = () => new Independent(new Normal(tf.zeros([3, 2]), 1), 1);
    const base = n();
    const d = new TransformedDistribution(base, new TestCoupling());
    const y = tf.zeros([4, 3]);
    expect(() => d.logProb(y)).toThrow(ShapeError);
    expect(() => d.logProb(y)).toThrow(/logProb: y has shape \[4, 3\].*event shape \[2\]/);
    d.dispose();
    const ctx = tf.zeros([4, 1]);
    expect(() => new TransformedDistribution(n(), new TestCoupling(), { context: ctx })).toThrow(
      /context \[4, 1\]/,
    );
    const ctx2 = tf.zeros([2, 3, 1]);
    expect(
      () => new TransformedDistribution(n(), new TestCoupling(), { context: ctx2 }),
    ).not.toThrow();
    expect(
      () =>
        new TransformedDistribution(new Normal(tf.zeros([2]), 1), new Exp(), {
          context: tf.zeros([3, 2, 1]),
        }),
    ).not.toThrow();
    expect(
      () => new TransformedDistribution(new Normal(tf.zeros([1]), 1), new Affine([1, 2, 3], 1)),
    ).toThrow(/base would have to be expanded/);
    expect(
      () =>
        new TransformedDistribution(
          new Independent(new Normal(tf.zeros([2]), 1), 1),
          new Affine([1, 2, 3], 1),
        ),
    ).toThrow(/Affine parameters and \[...batchShape, ...eventShape\]/);
    expect(() => new TransformedDistribution(n(), {} as Bijector)).toThrow(
      /bijector must be a Bijector/,
    );
    expect(() => new TransformedDistribution({} as Normal, new Exp())).toThrow(
      /base must be a Distribution/,
    );
    const grow: Bijector = {
      kind: 'Grow',
      forward: (x) => ({ y: tf.concat([x, x], 1), logDetJ: tf.zeros([x.shape[0]!]) }),
      inverse: (x) => ({ x: tf.clone(x), logDetJ: tf.zeros([x.shape[0]!]) }),
      dispose: () => {},
    };
    const g = new TransformedDistribution(n(), grow);
    expect(() => g.sample({ rng: new Rng(0) })).toThrow(/Grow.forward mapped \[3, 2\] to \[3, 4\]/);
    expect(() => g.sample({ sampleShape: [-1], rng: new Rng(0) })).toThrow(ShapeError);
    expect(() => g.sample({} as never)).toThrow(/rng/);
    expect(() => g.mean).toThrow(DgmError);
    expect(() => g.entropy()).toThrow(/no closed form/);
    g.dispose();
    expect(() => new Affine(0, -1)).toThrow(/Affine: scale must be finite and > 0/);
    expect(() => new Affine([0, 1, 2], [1, 2])).toThrow(
      /Affine\(loc, scale\): shapes \[3\] and \[2\]/,
    );
    expect(() => new Exp().forward(tf.scalar(1))).toThrow(/Exp.forward: x has shape \[\]/);
    tf.dispose([y, ctx, ctx2]);
  });
});

describe('gradients and ownership', () => {
  it('rsample gradients match finite differences; sample passes none to the bijector', () => {
    const s0 = tf.tensor1d([0.8, 1.5]);
    const f = (s: tf.Tensor) =>
      tf.sum(
        tf.sin(
          new TransformedDistribution(new Normal(0.3, s), new Affine(tf.tensor1d([1, -1]), s), {
            ownsBijector: true,
          }).rsample({ sampleShape: [4], rng: new Rng(5) }),
        ),
      );
    const r = checkGradient((s) => tf.tidy(() => f(s)), s0);
    expect(r.pass, r.message).toBe(true);
    const g = tf.tidy(() =>
      tf
        .grad((s: tf.Tensor) =>
          tf.sum(
            new TransformedDistribution(new Normal(0.3, 1), new Affine(0, s), {
              validate: false,
            }).sample({ sampleShape: [3], rng: new Rng(0) }),
          ),
        )(s0)
        .dataSync(),
    );
    expect(Array.from(g)).toEqual([0, 0]);
    s0.dispose();
  });

  it('owns the base; the bijector only with ownsBijector; ownsBase: false keeps the base', () => {
    const bij = new TestCoupling();
    const base = new Independent(new Normal([0, 0], 1), 1);
    new TransformedDistribution(base, bij).dispose();
    expect(base.isDisposed).toBe(true);
    expect(bij.disposed).toBe(false);
    const base2 = new Independent(new Normal([0, 0], 1), 1);
    new TransformedDistribution(base2, bij, { ownsBase: false, ownsBijector: true }).dispose();
    expect(base2.isDisposed).toBe(false);
    expect(bij.disposed).toBe(true);
    base2.dispose();
  });
});

describe('leaks', () => {
  it.each([
    [
      'log-normal',
      () => new TransformedDistribution(new Normal([0, 1], [1, 2]), new Exp()),
      [[0.5, 1.5]],
    ],
    [
      'affine (owned)',
      () =>
        new TransformedDistribution(new Normal(0, 1), new Affine([1, 2], 3), {
          ownsBijector: true,
        }),
      [[0.5, 1.5]],
    ],
    [
      'coupling',
      () =>
        new TransformedDistribution(
          new Independent(new Normal([[0, 1]], 1), 1),
          new TestCoupling(),
        ),
      [[0.5, 1.5]],
    ],
  ] as Array<[string, () => TransformedDistribution, number[][]]>)(
    '%s: construction, every method, gradients and dispose leave no tensor behind',
    async (label, make, xv) => {
      const x = tf.tensor2d(xv);
      await expectNoLeaks(async () => {
        const d = make();
        await expectDistributionLeakFree(d, x, new Rng(0), label);
        await expectNoLeaks(() => {
          const r = d.rsampleWithLogProb({ sampleShape: [2], rng: new Rng(1) });
          tf.dispose([r.x, r.logProb]);
        }, `${label}.rsampleWithLogProb`);
        await expectNoLeaks(
          () =>
            tf
              .tidy(() => tf.grad((l: tf.Tensor) => tf.sum(d.logProb(tf.add(x, l))))(tf.scalar(0)))
              .dispose(),
          `${label} logProb gradient`,
        );
        d.dispose();
      }, label);
      x.dispose();
    },
  );

  it('bijectors: forward, inverse, elementwise methods and a failed construction leak nothing', async () => {
    const x = tf.tensor2d([[0.2, 0.7]]);
    for (const b of [new Affine([1, 2], 3), new Exp(), new Sigmoid(), new Invert(new Sigmoid())]) {
      await expectNoLeaks(() => {
        const f = b.forward(x);
        const i = b.inverse(x);
        const fe = b.forwardElementwise(x);
        const ie = b.inverseElementwise(x);
        tf.dispose([f.y, f.logDetJ, i.x, i.logDetJ, fe.y, fe.logDet, ie.x, ie.logDet]);
      }, b.kind);
      b.dispose();
    }
    await expectNoLeaks(() => {
      expect(() => new Affine([0, 1], [1, -1])).toThrow(ValueError);
      expect(() => new Affine([0, 1, 2], [1, 2])).toThrow(ShapeError);
    }, 'failed Affine');
    x.dispose();
  });
});
