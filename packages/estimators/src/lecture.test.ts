/**
 * The lecture's example, d/dtheta E_{x ~ N(theta, 1)}[x^2] at theta = 2 (true gradient 4):
 * per-sample variance 87 for REINFORCE and 4 for the reparameterization estimator, so the
 * N-sample mean has 87 / N and 4 / N; a constant baseline b gives (4 - b)^2 + 6 (4 - b) + 47.
 * (E[(x^2 (x - theta))^2] = theta^4 + 18 theta^2 + 15 = 103 at theta = 2, minus 4^2.)
 * With R = 4000 repeats the sample variance has relative sd sqrt(2 / R) = 2.2%, so 10% is 4.5 sd.
 */
import { Rng } from '@dgm-js/core-tensors';
import { describe, expect, it } from 'vitest';
import { gradientStats, lectureProblem } from './analysis.js';
import { reparam } from './relaxed.js';
import { reinforce } from './score.js';

const N = 1000;
const R = 4000;

describe('lecture example at N = 1000', () => {
  it('REINFORCE: mean 4, variance within 10% of 87 / N', () => {
    const s = gradientStats(reinforce(), lectureProblem(2), {
      samples: N,
      repeats: R,
      rng: new Rng(1),
    });
    expect(Math.abs(s.mean[0]! - 4)).toBeLessThan(4 * s.stderr[0]!);
    expect(s.variance[0]! / (87 / N)).toBeGreaterThan(0.9);
    expect(s.variance[0]! / (87 / N)).toBeLessThan(1.1);
  });

  it('reparameterization: mean 4, variance within 10% of 4 / N', () => {
    const s = gradientStats(reparam(), lectureProblem(2), {
      samples: N,
      repeats: R,
      rng: new Rng(2),
    });
    expect(Math.abs(s.mean[0]! - 4)).toBeLessThan(4 * s.stderr[0]!);
    expect(s.variance[0]! / (4 / N)).toBeGreaterThan(0.9);
    expect(s.variance[0]! / (4 / N)).toBeLessThan(1.1);
  });

  it('REINFORCE with the best constant baseline b = 7: variance within 10% of 38 / N', () => {
    const est = reinforce({ baseline: { type: 'constant', value: 7 } });
    const s = gradientStats(est, lectureProblem(2), { samples: N, repeats: R, rng: new Rng(3) });
    const b = 7;
    const analytic = (4 - b) ** 2 + 6 * (4 - b) + 47;
    expect(analytic).toBe(38);
    expect(Math.abs(s.mean[0]! - 4)).toBeLessThan(4 * s.stderr[0]!);
    expect(s.variance[0]! / (analytic / N)).toBeGreaterThan(0.9);
    expect(s.variance[0]! / (analytic / N)).toBeLessThan(1.1);
  });
});
