/**
 * NVIL's `unbiased` flag and `diagnostics.scale` against what `gradientStats` measures, by
 * exact enumeration. Variance normalisation multiplies the score-function gradient by
 * scale = 1 / max(1, sqrt(v)); on a problem whose learning signal has variance well above 1
 * the scale is well below 1, so the mean estimate is scale x the exact gradient, and the flag
 * must say so. (Before the fix `unbiased` was always true and a user had to divide by the
 * scale by hand: the first test failed then.)
 */
import { Rng, tf } from '@dgm-js/core-tensors';
import { describe, expect, it } from 'vitest';
import {
  bernoulliProblem,
  type EstimationProblem,
  type GradientStats,
  gradientStats,
} from './analysis.js';
import { bernoulli3 } from './problems.test-helpers.js';
import { nvil } from './score.js';
import type { GradientEstimator } from './types.js';

type Tensor = tf.Tensor;

const SAMPLES = 4;
const REPEATS = 5000;
const Z_MAX = 4.5;

/** bernoulli3's f times 10: the centred signal's variance is far above 1. */
function loud(): EstimationProblem {
  const base = bernoulli3();
  return {
    ...bernoulliProblem('bernoulli-3 x10', base.params, (z: Tensor, p: Tensor) =>
      tf.tidy(() => tf.mul(10, base.objective(z, p))),
    ),
    context: (r) => tf.ones([r, 2]),
  };
}

function train(est: GradientEstimator, p: EstimationProblem, steps: number): number {
  const rng = new Rng(99);
  const ctx = tf.ones([1, 2]);
  let scale = Number.NaN;
  for (let i = 0; i < steps; i++) {
    tf.tidy(() => {
      const t = tf.tensor2d([[...p.params]]);
      const r = est.estimate(p.latent(t), (z) => p.objective(z, t), {
        samples: SAMPLES,
        rng,
        context: ctx,
      });
      scale = r.diagnostics.scale!;
    });
  }
  // the scale the next (non-updating) calls use, as reported by a diagnostic read
  tf.tidy(() => {
    const t = tf.tensor2d([[...p.params]]);
    const r = est.estimate(p.latent(t), (z) => p.objective(z, t), {
      samples: SAMPLES,
      rng,
      context: ctx,
      update: false,
    });
    scale = r.diagnostics.scale!;
  });
  ctx.dispose();
  return scale;
}

/** max |mean - target| / stderr over the parameters. */
function zAgainst(s: GradientStats, target: readonly number[]): number {
  return Math.max(...s.mean.map((m, j) => Math.abs(m - target[j]!) / s.stderr[j]!));
}

describe('nvil: unbiased flag, diagnostics.scale and gradientStats agree', () => {
  it('with normalisation and a loud signal: scale < 1, unbiased false, mean = scale x exact', () => {
    const p = loud();
    const est = nvil({ hidden: 8, learningRate: 0.05 });
    const scale = train(est, p, 30);
    expect(scale).toBeLessThan(0.5);
    expect((est as unknown as { scale: number }).scale).toBe(scale);
    const s = gradientStats(est, p, { samples: SAMPLES, repeats: REPEATS, rng: new Rng(9) });
    const ex = s.exact!;
    // the flag agrees with the measurement: the estimator is measurably biased
    expect(est.unbiased).toBe(false);
    expect(s.maxAbsZ!).toBeGreaterThan(10);
    // and the reported scale is the factor between them
    expect(
      zAgainst(
        s,
        ex.map((g) => g * scale),
      ),
    ).toBeLessThan(Z_MAX);
    est.dispose();
  });

  it('normalize: false is unbiased with a trained context baseline (no division by hand)', () => {
    const p = loud();
    const est = nvil({ hidden: 8, learningRate: 0.05, normalize: false });
    const scale = train(est, p, 30);
    expect(scale).toBe(1);
    expect(est.unbiased).toBe(true);
    const s = gradientStats(est, p, { samples: SAMPLES, repeats: REPEATS, rng: new Rng(9) });
    const norm = Math.hypot(...s.exact!);
    expect(Math.max(...s.stderr)).toBeLessThan(0.06 * norm);
    expect(s.maxAbsZ!).toBeLessThan(Z_MAX);
    est.dispose();
  });

  it('whenever the flag says unbiased, gradientStats finds no bias (quiet and loud problems)', () => {
    for (const [p, normalize] of [
      [loud(), true],
      [{ ...bernoulli3(), context: (r: number) => tf.ones([r, 2]) }, true],
      [loud(), false],
    ] as const) {
      const est = nvil({ hidden: 8, learningRate: 0.05, normalize });
      train(est, p, 30);
      const s = gradientStats(est, p, { samples: SAMPLES, repeats: REPEATS, rng: new Rng(4) });
      const z = s.maxAbsZ!;
      expect(est.unbiased, `${p.name} normalize=${normalize}: max z ${z}`).toBe(z < Z_MAX);
      est.dispose();
    }
  });
});
