/**
 * Baselines as shared objects: the same objects give REINFORCE / RLOO / NVIL, their state is in
 * the estimator's getState / setState, their numbers follow their definitions, they keep
 * REINFORCE unbiased (exact enumeration) and they leak nothing.
 */
import { Bernoulli, Rng, tf, ValueError } from '@dgm-js/core-tensors';
import { expectNoLeaks } from '@dgm-js/test-utils';
import { describe, expect, it } from 'vitest';
import { gradientStats } from './analysis.js';
import {
  type Baseline,
  constantBaseline,
  learned,
  leaveOneOut,
  movingAverage,
  noBaseline,
} from './baselines.js';
import { bernoulli3 } from './problems.test-helpers.js';
import { nvil, ReinforceEstimator, reinforce, rloo } from './score.js';
import { StateStore } from './state.js';

type Tensor = tf.Tensor;

const f = (z: Tensor) => tf.sum(tf.square(tf.sub(z, tf.tensor1d([0.2, 0.9, 0.4]))), -1);

/** The gradient wrt the logits of one estimate, with a fixed seed. */
function gradOf(est: ReinforceEstimator, seed: number, context?: Tensor, update = true): number[] {
  return tf.tidy(() => {
    const l = tf.tensor2d([
      [0.3, -0.5, 1.0],
      [-0.2, 0.1, 0.4],
    ]);
    const g = tf.grad((t: Tensor) =>
      tf.sum(
        est.estimate(new Bernoulli({ logits: t }, { validate: false }), f, {
          samples: 3,
          rng: new Rng(seed),
          update,
          ...(context ? { context } : {}),
        }).surrogate,
      ),
    )(l);
    return Array.from(g.dataSync());
  });
}

describe('baselines are shared objects', () => {
  it('reinforce({ baseline: leaveOneOut() }) is rloo: the same gradient for the same seed', () => {
    const a = reinforce({ baseline: leaveOneOut() });
    const b = rloo();
    expect(gradOf(a, 1)).toBeAllclose(gradOf(b, 1), { rtol: 1e-6, atol: 1e-7 });
    expect(() =>
      a.estimate(new Bernoulli({ logits: [0.1] }), f, { samples: 1, rng: new Rng(0) }),
    ).toThrow(/>= 2/);
    a.dispose();
    b.dispose();
  });

  it("'movingAverage' and movingAverage() are the same estimator (the old forms still work)", () => {
    const a = reinforce({ baseline: 'movingAverage' });
    const b = reinforce({ baseline: movingAverage() });
    const c = reinforce({ baseline: { type: 'movingAverage', decay: 0.9 } });
    for (let i = 0; i < 3; i++) {
      const ga = gradOf(a, i);
      expect(gradOf(b, i)).toEqual(ga);
      expect(gradOf(c, i)).toEqual(ga);
    }
    expect(b.getState()).toEqual(a.getState());
    for (const e of [a, b, c]) e.dispose();
    const k = reinforce({ baseline: { type: 'constant', value: 0.7 } });
    expect(gradOf(k, 2)).toEqual(gradOf(reinforce({ baseline: constantBaseline(0.7) }), 2));
    k.dispose();
  });

  it('the moving average is the bias-corrected mean of f over earlier calls only', () => {
    const est = reinforce({ baseline: movingAverage({ decay: 0.5 }) });
    const means: number[] = [];
    const baselines: number[] = [];
    for (let i = 0; i < 4; i++) {
      const r = est.estimate(new Bernoulli({ logits: [[0.3, -0.5, 1.0]] }), f, {
        samples: 5,
        rng: new Rng(i),
      });
      r.surrogate.dispose();
      means.push(r.diagnostics.value!);
      baselines.push(r.diagnostics.baseline!);
    }
    // b_t = sum_{s<t} 0.5^(t-1-s) 0.5 m_s / (1 - 0.5^t), and b_0 = 0
    const expected = baselines.map((_, t) => {
      let s = 0;
      for (let j = 0; j < t; j++) s += 0.5 ** (t - 1 - j) * 0.5 * means[j]!;
      return t === 0 ? 0 : s / (1 - 0.5 ** t);
    });
    expect(baselines).toBeAllclose(expected, { rtol: 1e-5, atol: 1e-6 });
    est.dispose();
  });

  it('nvil is reinforce with learned() and normalisation; learned() alone is unbiased', () => {
    const ctx = tf.ones([2, 4]);
    const a = nvil({ hidden: 4, learningRate: 0.1, seed: 3 });
    const b = new ReinforceEstimator(
      { baseline: learned({ hidden: 4, learningRate: 0.1, seed: 3 }), normalize: true },
      'nvil',
    );
    for (let i = 0; i < 4; i++) expect(gradOf(b, i, ctx)).toEqual(gradOf(a, i, ctx));
    expect(b.getState()).toEqual(a.getState());
    expect(Object.keys(a.getState().tensors)).toEqual(
      expect.arrayContaining([
        'baseline.centre.sum',
        'baseline.net.0.kernel',
        'baseline.adam.m.0.kernel',
        'scale.var.sum',
      ]),
    );
    a.dispose();
    b.dispose();
    const p = { ...bernoulli3(), context: (r: number) => tf.ones([r, 2]) };
    const est = reinforce({ baseline: learned({ hidden: 8, learningRate: 0.05 }) });
    const warm = tf.ones([1, 2]);
    for (let i = 0; i < 20; i++) {
      tf.tidy(() => {
        const t = tf.tensor2d([[...p.params]]);
        est.estimate(p.latent(t), (z) => p.objective(z, t), {
          samples: 4,
          rng: new Rng(50 + i),
          context: warm,
        });
      });
    }
    expect(est.unbiased).toBe(true);
    const s = gradientStats(est, p, { samples: 4, repeats: 5000, rng: new Rng(12) });
    expect(Math.max(...s.stderr)).toBeLessThan(0.06 * Math.hypot(...s.exact!));
    expect(s.maxAbsZ!).toBeLessThan(4.5);
    est.dispose();
    tf.dispose([ctx, warm]);
  });

  it('a learned baseline restored before its network exists takes the saved network', () => {
    const ctx = tf.ones([2, 4]);
    const a = reinforce({ baseline: learned({ hidden: 3, learningRate: 0.1 }) });
    for (let i = 0; i < 5; i++) gradOf(a, i, ctx);
    const saved = JSON.parse(JSON.stringify(a.getState()));
    const b = reinforce({ baseline: learned({ hidden: 3, learningRate: 0.1, seed: 9 }) });
    b.setState(saved);
    expect(b.getState()).toEqual(saved); // pending parts round-trip before they are created
    expect(gradOf(b, 7, ctx)).toBeAllclose(gradOf(a, 7, ctx), { rtol: 1e-6, atol: 1e-7 });
    expect(b.getState()).toEqual(a.getState());
    const wide = tf.ones([2, 5]);
    expect(() => gradOf(a, 8, wide)).toThrow(/4 context features, this call has 5/);
    tf.dispose([ctx, wide]);
    a.dispose();
    b.dispose();
  });

  it('bad baselines are ValueErrors naming the option', () => {
    expect(() => movingAverage({ decay: 1 })).toThrow(/decay/);
    expect(() => learned({ hidden: 0 })).toThrow(/hidden/);
    expect(() => constantBaseline(Number.NaN)).toThrow(ValueError);
    expect(() => reinforce({ baseline: 'mean' as never })).toThrow(/baseline must be/);
    expect(() => reinforce({ baseline: { type: 'constant', value: Number.NaN } })).toThrow(
      ValueError,
    );
  });
});

describe('leaks: baselines', () => {
  const context = () => tf.ones([2, 4]);
  const cases: [string, () => Baseline][] = [
    ['none', noBaseline],
    ['constant', () => constantBaseline(0.5)],
    ['movingAverage', () => movingAverage()],
    ['leaveOneOut', leaveOneOut],
    ['learned', () => learned({ hidden: 4 })],
  ];
  for (const [name, make] of cases) {
    it(`${name}: apply (update and not), and reinforce with it`, async () => {
      const b = make();
      const store = new StateStore(name);
      b.init?.(store, 'baseline');
      const x = context();
      const fd = tf.tensor2d([
        [1, 2],
        [3, 5],
        [0.5, 1],
      ]);
      const run = (update: boolean) =>
        tf.dispose(
          tf.tidy(() =>
            b.apply(fd, { store, prefix: 'baseline', context: x, update, who: 'test' }),
          ),
        );
      run(true); // creates lazily sized state
      await expectNoLeaks(() => run(true), `${name} apply`);
      await expectNoLeaks(() => run(false), `${name} apply (no update)`);
      const est = reinforce({ baseline: make() });
      gradOf(est, 0, x);
      await expectNoLeaks(() => gradOf(est, 1, x), `reinforce + ${name}`);
      await expectNoLeaks(() => {
        est.setState(est.getState());
      }, `reinforce + ${name} state round trip`);
      tf.dispose([fd, x]);
      const before = tf.memory().numTensors;
      store.dispose();
      est.dispose();
      // stateful baselines free their tensors with the estimator's state
      const stateful = name === 'movingAverage' || name === 'learned';
      if (stateful) expect(tf.memory().numTensors).toBeLessThan(before);
      else expect(tf.memory().numTensors).toBe(before);
    });
  }
});
