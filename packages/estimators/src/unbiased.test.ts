/**
 * Statistical unbiasedness against exact enumeration: for each unbiased estimator, the mean of
 * R independent estimates lies within a few standard errors of the exact gradient, with R chosen
 * so that the standard error is a few percent of the gradient's norm (the check has power: the
 * biased estimators fail it by tens of standard errors, see `biased estimators` below).
 * References: exact enumeration (exactExpectation + autodiff), and for VIMCO an independent
 * float64 enumeration over the K joint samples.
 */
import { Rng, softplus, tf } from '@dgm-js/core-tensors';
import { describe, expect, it } from 'vitest';
import {
  bernoulliProblem,
  type EstimationProblem,
  exactGradientOf,
  type GradientStats,
  gradientStats,
} from './analysis.js';
import { arm, disarm } from './arm.js';
import { exact } from './exact.js';
import { bernoulli3, categorical2x3 } from './problems.test-helpers.js';
import { rebar, relax } from './relax.js';
import {
  gumbelSoftmax,
  straightThroughEstimator as straightThrough,
  straightThroughGumbelSoftmax,
} from './relaxed.js';
import { gumbelMaxEstimator as gumbelMax, nvil, reinforce, rloo, vimco } from './score.js';
import type { GradientEstimator } from './types.js';

type Tensor = tf.Tensor;

const SAMPLES = 4;
const REPEATS = 5000;
/** z-score bound per parameter (at most 6 parameters: a false alarm has probability < 1e-4). */
const Z_MAX = 4.5;

function norm(v: readonly number[]): number {
  return Math.sqrt(v.reduce((a, b) => a + b * b, 0));
}

function expectUnbiased(s: GradientStats, what: string): void {
  const ex = s.exact!;
  // power: the standard error is small next to the gradient
  expect(Math.max(...s.stderr), `${what}: stderr ${s.stderr} vs |g| ${norm(ex)}`).toBeLessThan(
    0.06 * norm(ex),
  );
  expect(s.maxAbsZ!, `${what}: mean ${s.mean} exact ${ex} stderr ${s.stderr}`).toBeLessThan(Z_MAX);
}

/** Updates the estimator's state a few times on the problem (baselines, control variates). */
function warm(est: GradientEstimator, p: EstimationProblem, steps: number, context?: Tensor): void {
  const rng = new Rng(99);
  for (let i = 0; i < steps; i++) {
    tf.tidy(() => {
      const t = tf.tensor2d([[...p.params]]);
      est.estimate(p.latent(t), (z) => p.objective(z, t), {
        samples: SAMPLES,
        rng,
        diagnostics: false,
        ...(context ? { context } : {}),
      });
    });
  }
}

/** An ELBO-like objective: f depends on q's parameters through -log q(z) (the entropy term). */
function bernoulliWithOwnParams(): EstimationProblem {
  return bernoulliProblem('bernoulli-own-params', [0.3, -0.6], (z: Tensor, p: Tensor) =>
    tf.tidy(() => {
      const g = tf.square(tf.sub(tf.sum(tf.mul(z, tf.tensor1d([1.2, -0.4])), -1), 0.5));
      const logq = tf.sum(tf.sub(tf.mul(z, p), softplus(p)), -1);
      return tf.sub(g, tf.mul(0.5, logq));
    }),
  );
}

const unbiased: [string, () => GradientEstimator, number][] = [
  ['reinforce', () => reinforce(), 0],
  [
    'reinforce + constant baseline',
    () => reinforce({ baseline: { type: 'constant', value: 0.7 } }),
    0,
  ],
  ['reinforce + moving average', () => reinforce({ baseline: 'movingAverage' }), 5],
  ['gumbel-max', () => gumbelMax(), 0],
  ['rloo', () => rloo(), 0],
  ['rebar (trained 20 steps)', () => rebar(), 20],
  ['relax (trained 20 steps)', () => relax({ hidden: 8 }), 20],
];

describe('unbiased estimators match exact enumeration', () => {
  for (const mk of [bernoulli3, categorical2x3, bernoulliWithOwnParams]) {
    for (const [label, make, steps] of unbiased) {
      it(`${label} on ${mk().name}`, () => {
        const p = mk();
        const est = make();
        warm(est, p, steps);
        const s = gradientStats(est, p, { samples: SAMPLES, repeats: REPEATS, rng: new Rng(7) });
        expectUnbiased(s, `${label} on ${p.name}`);
        est.dispose();
      });
    }
  }

  for (const mk of [bernoulli3, bernoulliWithOwnParams]) {
    for (const make of [arm, disarm]) {
      it(`${make.name} on ${mk().name}`, () => {
        const est = make();
        const s = gradientStats(est, mk(), { samples: SAMPLES, repeats: REPEATS, rng: new Rng(8) });
        expectUnbiased(s, `${est.name}`);
      });
    }
  }

  it('disarm has no more variance than arm (Dong et al. 2020), both below reinforce', () => {
    const p = bernoulli3();
    const o = { samples: 1, repeats: REPEATS, rng: new Rng(3) };
    const vArm = gradientStats(arm(), p, o).totalVariance;
    const vDis = gradientStats(disarm(), p, o).totalVariance;
    const vSf = gradientStats(reinforce(), p, { ...o, samples: 2 }).totalVariance;
    expect(vDis).toBeLessThan(vArm);
    expect(vArm).toBeLessThan(vSf);
  });

  it('nvil with a trained context baseline is unbiased up to its reported scale', () => {
    const base = bernoulli3();
    const p: EstimationProblem = {
      ...base,
      context: (r) => tf.ones([r, 2]),
    };
    const est = nvil({ hidden: 8, learningRate: 0.05 });
    const ctx = tf.ones([1, 2]);
    warm(est, p, 30, ctx);
    const t = tf.tensor2d([[...p.params]]);
    const { diagnostics, surrogate } = est.estimate(p.latent(t), (z) => p.objective(z, t), {
      samples: SAMPLES,
      rng: new Rng(1),
      context: ctx,
      update: false,
    });
    tf.dispose([surrogate, t]);
    ctx.dispose();
    expect(diagnostics.baseline).not.toBe(0);
    const s = gradientStats(est, p, { samples: SAMPLES, repeats: REPEATS, rng: new Rng(9) });
    const scaled = { ...s, exact: s.exact!.map((g) => g * diagnostics.scale!) };
    scaled.maxAbsZ = Math.max(
      ...s.mean.map((m, j) => Math.abs(m - scaled.exact[j]!) / s.stderr[j]!),
    );
    expectUnbiased(scaled, 'nvil');
    est.dispose();
  });

  it('the exact estimator returns the exact gradient with zero variance', () => {
    const s = gradientStats(exact(), categorical2x3(), { samples: 1, repeats: 3, rng: new Rng(0) });
    expect(s.mean).toBeAllclose(s.exact!, { rtol: 1e-4, atol: 1e-6 });
    expect(s.totalVariance).toBeLessThan(1e-10);
  });
});

describe('VIMCO against an independent enumeration of the K joint samples', () => {
  // f = log weights over 2 bits; target E_{z_1..z_K}[log (1/K) sum_k exp f(z_k)], K = 3.
  const theta = [0.5, -0.3];
  const w = [1.5, -1];
  const logW = (z: number[]) => -2 * (w[0]! * z[0]! + w[1]! * z[1]! - 0.2) ** 2;
  const K = 3;

  function exactVimcoGradient(): number[] {
    const sig = theta.map((t) => 1 / (1 + Math.exp(-t)));
    const configs = [
      [0, 0],
      [0, 1],
      [1, 0],
      [1, 1],
    ];
    const q = (z: number[]) => z.reduce((a, zi, i) => a * (zi ? sig[i]! : 1 - sig[i]!), 1);
    const g = [0, 0];
    const idx = new Array(K).fill(0);
    for (let n = 0; n < 4 ** K; n++) {
      let r = n;
      for (let k = 0; k < K; k++) {
        idx[k] = r % 4;
        r = Math.floor(r / 4);
      }
      const zs = idx.map((i) => configs[i]!);
      const prob = zs.reduce((a, z) => a * q(z), 1);
      const fs = zs.map(logW);
      const m = Math.max(...fs);
      const bound = m + Math.log(fs.reduce((a, f) => a + Math.exp(f - m), 0) / K);
      for (let j = 0; j < 2; j++) {
        // grad of prob = prob * sum_k (z_kj - sigma_j)
        const score = zs.reduce((a, z) => a + (z[j]! - sig[j]!), 0);
        g[j]! += prob * bound * score;
      }
    }
    return g;
  }

  it('vimco is unbiased for the gradient of the multi-sample bound', () => {
    const ex = exactVimcoGradient();
    const p: EstimationProblem = {
      ...bernoulliProblem('vimco-2bit', theta, (z: Tensor) =>
        tf.tidy(() => tf.mul(-2, tf.square(tf.sub(tf.sum(tf.mul(z, tf.tensor1d(w)), -1), 0.2)))),
      ),
      exactGradient: ex,
    };
    const s = gradientStats(vimco(), p, { samples: K, repeats: 20000, rng: new Rng(11) });
    expectUnbiased(s, 'vimco');
    // and the enumeration of E_q[f] is a different target: VIMCO is not estimating it
    const naive = exactGradientOf({
      ...p,
      exactGradient: undefined,
    } as unknown as EstimationProblem);
    const gap = Math.max(...naive.map((g, j) => Math.abs(g - ex[j]!) / s.stderr[j]!));
    expect(gap).toBeGreaterThan(5);
  });
});

describe('biased estimators show the bias theory predicts', () => {
  it('gumbel-softmax, st-gumbel-softmax and straight-through are biased on a nonlinear f', () => {
    for (const make of [
      () => gumbelSoftmax({ temperature: 1 }),
      () => straightThroughGumbelSoftmax({ temperature: 1 }),
      () => straightThrough(),
    ]) {
      for (const p of [bernoulli3(), categorical2x3()]) {
        const est = make();
        const s = gradientStats(est, p, { samples: SAMPLES, repeats: REPEATS, rng: new Rng(5) });
        expect(s.maxAbsZ!, `${est.name} on ${p.name}`).toBeGreaterThan(10);
      }
    }
  });

  it('straight-through is unbiased for a linear f on Bernoulli latents (d f/d z is constant)', () => {
    const p = bernoulliProblem('linear', [0.4, -0.8, 1.2], (z: Tensor) =>
      tf.tidy(() => tf.sum(tf.mul(z, tf.tensor1d([1, -2, 0.5])), -1)),
    );
    const s = gradientStats(straightThrough(), p, { samples: 1, repeats: 2000, rng: new Rng(2) });
    expect(s.mean).toBeAllclose(s.exact!, { rtol: 1e-4, atol: 1e-5 });
  });

  it('gumbel-softmax: the bias shrinks and the variance grows as the temperature falls', () => {
    const p = bernoulli3();
    const at = (tau: number) =>
      gradientStats(gumbelSoftmax({ temperature: tau }), p, {
        samples: SAMPLES,
        repeats: REPEATS,
        rng: new Rng(6),
      });
    const hot = at(2);
    const mid = at(0.5);
    const cold = at(0.1);
    expect(hot.maxAbsZ!).toBeGreaterThan(10);
    expect(mid.biasNorm!).toBeLessThan(hot.biasNorm!);
    expect(cold.biasNorm!).toBeLessThan(mid.biasNorm!);
    expect(mid.totalVariance).toBeGreaterThan(hot.totalVariance);
    expect(cold.totalVariance).toBeGreaterThan(mid.totalVariance);
  });
});
