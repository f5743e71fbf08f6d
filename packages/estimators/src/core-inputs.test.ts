/**
 * Core distributions as inputs: every estimator takes `Bernoulli` / `OneHotCategorical` from
 * `@dgm-js/core-tensors` (the deprecated `{ kind, logits }` form builds exactly those, so both
 * give the same gradient), score-function estimators and exact enumeration take `Categorical`,
 * a `Bernoulli` given by `probs` is differentiated through its derived logits, and every
 * estimate with a core input leaks nothing. Checked against exact enumeration and closed forms.
 */
import {
  Bernoulli,
  Categorical,
  type GradientEstimator as CoreGradientEstimator,
  type Distribution,
  Independent,
  OneHotCategorical,
  Rng,
  tf,
  ValueError,
} from '@dgm-js/core-tensors';
import { disposeAll, expectNoLeaks } from '@dgm-js/test-utils';
import { describe, expect, it } from 'vitest';
import { type EstimationProblem, gradientStats } from './analysis.js';
import { arm, disarm } from './arm.js';
import { movingAverage } from './baselines.js';
import { exact, exactExpectation } from './exact.js';
import { bernoulliLatent, categoricalLatent } from './latent.js';
import { rebar, relax } from './relax.js';
import {
  gumbelSoftmax,
  reparam,
  straightThroughEstimator,
  straightThroughGumbelSoftmax,
} from './relaxed.js';
import { gumbelMaxEstimator, nvil, reinforce, rloo, vimco } from './score.js';
import type { GradientEstimator, LatentInput } from './types.js';

type Tensor = tf.Tensor;

const fBern = (z: Tensor) => tf.sum(tf.square(tf.sub(z, 0.3)), -1);
const fCat = (z: Tensor) => tf.sum(tf.mul(z, tf.tensor1d([1, -2, 0.5])), [-2, -1]);

const all: [string, () => GradientEstimator, 'b' | 'bc'][] = [
  ['reinforce', () => reinforce(), 'bc'],
  ['reinforce-ma', () => reinforce({ baseline: movingAverage() }), 'bc'],
  ['gumbel-max', () => gumbelMaxEstimator(), 'bc'],
  ['nvil', () => nvil({ hidden: 4 }), 'bc'],
  ['rloo', () => rloo(), 'bc'],
  ['vimco', () => vimco(), 'bc'],
  ['gumbel-softmax', () => gumbelSoftmax({ temperature: 0.5 }), 'bc'],
  ['st-gumbel-softmax', () => straightThroughGumbelSoftmax({ temperature: 0.5 }), 'bc'],
  ['straight-through', () => straightThroughEstimator(), 'bc'],
  ['rebar', () => rebar(), 'bc'],
  ['relax', () => relax({ hidden: 4 }), 'bc'],
  ['arm', () => arm(), 'b'],
  ['disarm', () => disarm(), 'b'],
  ['exact', () => exact(), 'bc'],
];

function grad(
  make: () => GradientEstimator,
  q: (l: Tensor) => LatentInput,
  logits: Tensor,
  f: (z: Tensor) => Tensor,
  context: Tensor,
): number[] {
  const est = make();
  const out: number[] = [];
  for (let i = 0; i < 2; i++) {
    const g = tf.tidy(() =>
      tf
        .grad((t: Tensor) =>
          tf.sum(est.estimate(q(t), f, { samples: 3, rng: new Rng(10 + i), context }).surrogate),
        )(logits)
        .dataSync(),
    );
    out.push(...Array.from(g));
  }
  est.dispose();
  return out;
}

describe('the { kind, logits } form is the core distribution', () => {
  for (const [name, make, kinds] of all) {
    it(`${name}: the same gradients from bernoulliLatent and Bernoulli${kinds === 'bc' ? ', categoricalLatent and OneHotCategorical' : ''}`, () => {
      const lb = tf.tensor2d([
        [0.3, -1.2, 2],
        [1, 0.5, -0.4],
      ]);
      const lc = tf.randomNormal([2, 2, 3], 0, 1, 'float32', 4);
      const ctx = tf.ones([2, 3]);
      const viaForm = grad(make, (t) => bernoulliLatent(t), lb, fBern, ctx);
      const viaCore = grad(
        make,
        (t) => new Bernoulli({ logits: t }, { validate: false }),
        lb,
        fBern,
        ctx,
      );
      expect(viaCore).toEqual(viaForm);
      expect(viaCore.every(Number.isFinite)).toBe(true);
      if (kinds === 'bc') {
        const cForm = grad(make, (t) => categoricalLatent(t), lc, fCat, ctx);
        const cCore = grad(
          make,
          (t) => new OneHotCategorical({ logits: t }, { validate: false }),
          lc,
          fCat,
          ctx,
        );
        expect(cCore).toEqual(cForm);
      }
      tf.dispose([lb, lc, ctx]);
    });
  }

  it('Independent wrappers of Bernoulli / OneHotCategorical are the same latent', () => {
    const lb = tf.tensor2d([
      [0.3, -1.2, 2],
      [1, 0.5, -0.4],
    ]);
    const lc = tf.randomNormal([2, 2, 3], 0, 1, 'float32', 4);
    const ctx = tf.ones([2, 3]);
    for (const [name, make, kinds] of all) {
      const plain = grad(
        make,
        (t) => new Bernoulli({ logits: t }, { validate: false }),
        lb,
        fBern,
        ctx,
      );
      const wrapped = grad(
        make,
        (t) => new Independent(new Bernoulli({ logits: t }, { validate: false }), 1),
        lb,
        fBern,
        ctx,
      );
      expect(wrapped, name).toBeAllclose(plain, { rtol: 1e-6, atol: 1e-7 });
      if (kinds === 'bc') {
        const oneHot = (t: Tensor) => new OneHotCategorical({ logits: t }, { validate: false });
        const a = grad(make, oneHot, lc, fCat, ctx);
        const b = grad(make, (t) => new Independent(oneHot(t), 1), lc, fCat, ctx);
        expect(b, name).toBeAllclose(a, { rtol: 1e-6, atol: 1e-7 });
      }
    }
    tf.dispose([lb, lc, ctx]);
  });

  it('every estimator satisfies core-tensors GradientEstimator contract', () => {
    const ests: CoreGradientEstimator[] = all.map(([, make]) => make());
    ests.push(reparam());
    for (const e of ests) {
      expect(typeof e.estimate).toBe('function');
      expect(typeof e.unbiased).toBe('boolean');
      e.dispose();
    }
  });
});

describe('leaks: every estimator with core distributions', () => {
  for (const [name, make, kinds] of all) {
    it(name, async () => {
      const est = make();
      const lb = tf.variable(tf.randomNormal([2, 3], 0, 1, 'float32', 1));
      const lc = tf.variable(tf.randomNormal([2, 2, 3], 0, 1, 'float32', 2));
      const context = tf.ones([2, 5]);
      const rng = new Rng(0);
      const step = (kind: 'b' | 'c', update: boolean) => {
        const { value, grads } = tf.variableGrads(() => {
          const q: Distribution =
            kind === 'b'
              ? new Bernoulli({ logits: lb }, { validate: false })
              : new OneHotCategorical({ logits: lc }, { validate: false });
          const r = est.estimate(q, kind === 'b' ? fBern : fCat, {
            samples: 3,
            rng,
            context,
            update,
          });
          return tf.mean(r.surrogate) as tf.Scalar;
        }, [kind === 'b' ? lb : lc]);
        disposeAll([value, grads]);
      };
      const kind = kinds === 'b' ? 'b' : 'c';
      step(kind, true);
      await expectNoLeaks(() => step(kind, true), `${name} step`);
      await expectNoLeaks(() => step(kind, false), `${name} no-update`);
      tf.dispose([lb, lc, context]);
      est.dispose();
    });
  }
});

describe('Categorical (integer samples)', () => {
  const logits = [
    [0.2, -0.5, 0.9],
    [1.0, 0.0, -0.3],
  ];
  const v = [3, -1, 0.5];
  /** f(k [S, R, D]) = (sum_d v[k_d] - 1)^2 over 2 latents of 3 categories. */
  const f = (k: Tensor) =>
    tf.tidy(() => tf.square(tf.sub(tf.sum(tf.gather(tf.tensor1d(v), k), -1), 1)));

  function analytic(): { value: number; grad: number[] } {
    const p = logits.map((row) => {
      const m = Math.max(...row);
      const e = row.map((x) => Math.exp(x - m));
      const s = e.reduce((a, b) => a + b, 0);
      return e.map((x) => x / s);
    });
    let value = 0;
    const grad = new Array<number>(6).fill(0);
    for (let a = 0; a < 3; a++) {
      for (let b = 0; b < 3; b++) {
        const fab = (v[a]! + v[b]! - 1) ** 2;
        const pab = p[0]![a]! * p[1]![b]!;
        value += pab * fab;
        // d p(a, b) / d logit_{d, c} = p(a, b) (1[k_d = c] - p_{d, c})
        for (let c = 0; c < 3; c++) {
          grad[c]! += pab * fab * ((a === c ? 1 : 0) - p[0]![c]!);
          grad[3 + c]! += pab * fab * ((b === c ? 1 : 0) - p[1]![c]!);
        }
      }
    }
    return { value, grad };
  }

  it('exactExpectation enumerates a Categorical: value and gradient in closed form', () => {
    const want = analytic();
    const l = tf.tensor3d([logits]);
    const { value, grad: g } = tf.valueAndGrad((t: Tensor) =>
      tf.sum(exactExpectation(new Categorical({ logits: t }, { validate: false }), f)),
    )(l);
    expect(value.dataSync()[0]).toBeCloseTo(want.value, 4);
    expect(Array.from(g.dataSync())).toBeAllclose(want.grad, { rtol: 1e-4, atol: 1e-5 });
    tf.dispose([l, value, g]);
  });

  it('reinforce, rloo and the Gumbel-Max estimator are unbiased on a Categorical', () => {
    const p: EstimationProblem = {
      name: 'categorical-index-2x3',
      params: logits.flat(),
      latent: (t) =>
        new Categorical(
          { logits: tf.reshape(t, [t.shape[0] as number, 2, 3]) },
          { validate: false },
        ),
      objective: (z) => f(z),
    };
    const want = analytic().grad;
    for (const est of [reinforce(), rloo(), gumbelMaxEstimator()]) {
      const s = gradientStats(est, p, { samples: 4, repeats: 4000, rng: new Rng(21) });
      expect(s.exact!).toBeAllclose(want, { rtol: 1e-4, atol: 1e-5 });
      expect(Math.max(...s.stderr)).toBeLessThan(0.06 * Math.hypot(...want));
      expect(s.maxAbsZ!, est.name).toBeLessThan(4.5);
      est.dispose();
    }
  });

  it('relaxed and straight-through estimators refuse a Categorical, naming OneHotCategorical', () => {
    const q = new Categorical({ logits: tf.zeros([2, 3]) });
    for (const est of [relax(), gumbelSoftmax(), straightThroughEstimator()]) {
      expect(() => est.estimate(q, (z) => tf.sum(z, -1), { samples: 1, rng: new Rng(0) })).toThrow(
        ValueError,
      );
      expect(() => est.estimate(q, (z) => tf.sum(z, -1), { samples: 1, rng: new Rng(0) })).toThrow(
        /OneHotCategorical/,
      );
      est.dispose();
    }
    q.dispose();
  });
});

describe('a Bernoulli given by probs', () => {
  // f = w . z, so dE[f]/dp = w exactly
  const w = [1.5, -2, 0.5];
  const probs = [0.2, 0.7, 0.45];
  const fLin = (z: Tensor) => tf.tidy(() => tf.sum(tf.mul(z, tf.tensor1d(w)), -1));

  it('exact and straight-through (linear f) give dE/dp = w', () => {
    for (const est of [exact(), straightThroughEstimator()]) {
      const g = tf.tidy(() =>
        Array.from(
          tf
            .grad((p: Tensor) =>
              tf.sum(
                est.estimate(new Bernoulli({ probs: p }, { validate: false }), fLin, {
                  samples: 2,
                  rng: new Rng(0),
                }).surrogate,
              ),
            )(tf.tensor2d([probs]))
            .dataSync(),
        ),
      );
      expect(g, est.name).toBeAllclose(w, { rtol: 1e-4, atol: 1e-5 });
      est.dispose();
    }
  });

  it('disarm and rloo are unbiased for dE/dp through the derived logits', () => {
    const p: EstimationProblem = {
      name: 'bernoulli-probs',
      params: probs,
      latent: (t) => new Bernoulli({ probs: t }, { validate: false }),
      objective: (z) => tf.tidy(() => tf.square(fLin(z))),
      // E[(w.z)^2] = sum_j w_j^2 p_j + sum_{i != j} w_i w_j p_i p_j; d/dp_j = w_j^2 + 2 w_j (sum_i w_i p_i - w_j p_j)
      exactGradient: w.map((wj, j) => {
        const m = w.reduce((a, wi, i) => a + wi * probs[i]!, 0);
        return wj * wj + 2 * wj * (m - wj * probs[j]!);
      }),
    };
    for (const est of [disarm(), rloo()]) {
      const s = gradientStats(est, p, { samples: 4, repeats: 4000, rng: new Rng(22) });
      expect(Math.max(...s.stderr)).toBeLessThan(0.06 * Math.hypot(...s.exact!));
      expect(s.maxAbsZ!, est.name).toBeLessThan(4.5);
      est.dispose();
    }
  });
});
