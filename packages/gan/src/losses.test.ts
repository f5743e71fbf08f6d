import { Rng, ShapeError, tf, ValueError } from '@dgm-js/core-tensors';
import { checkGradient, expectNoLeaks } from '@dgm-js/test-utils';
import { describe, expect, it } from 'vitest';
import {
  type GanLoss,
  ganLoss,
  ganLossNames,
  hinge,
  jsdEstimate,
  leastSquares,
  minimax,
  nonSaturating,
  wasserstein,
} from './losses.js';

// float64 references, written from the papers' formulas (not from the implementation)
const sp = (x: number) => Math.max(x, 0) + Math.log1p(Math.exp(-Math.abs(x)));
const avg = (a: number[], f: (x: number) => number) => a.reduce((s, x) => s + f(x), 0) / a.length;
const REF: Record<
  string,
  { critic: (r: number[], f: number[]) => number; gen: (f: number[]) => number }
> = {
  minimax: {
    critic: (r, f) =>
      -avg(r, (x) => Math.log(1 / (1 + Math.exp(-x)))) -
      avg(f, (x) => Math.log(1 - 1 / (1 + Math.exp(-x)))),
    gen: (f) => avg(f, (x) => Math.log(1 - 1 / (1 + Math.exp(-x)))),
  },
  'non-saturating': {
    critic: (r, f) => avg(r, (x) => sp(-x)) + avg(f, (x) => sp(x)),
    gen: (f) => -avg(f, (x) => Math.log(1 / (1 + Math.exp(-x)))),
  },
  wasserstein: {
    critic: (r, f) => avg(f, (x) => x) - avg(r, (x) => x),
    gen: (f) => -avg(f, (x) => x),
  },
  hinge: {
    critic: (r, f) => avg(r, (x) => Math.max(0, 1 - x)) + avg(f, (x) => Math.max(0, 1 + x)),
    gen: (f) => -avg(f, (x) => x),
  },
  'least-squares': {
    critic: (r, f) => 0.5 * avg(r, (x) => (x - 1) ** 2) + 0.5 * avg(f, (x) => x * x),
    gen: (f) => 0.5 * avg(f, (x) => (x - 1) ** 2),
  },
};
const ALL: GanLoss[] = [minimax, nonSaturating, wasserstein, hinge, leastSquares];
const val = (t: tf.Tensor) => {
  const v = t.dataSync()[0]!;
  t.dispose();
  return v;
};

describe('GAN losses', () => {
  it('have the closed-form values at logits 0', () => {
    const z = tf.zeros([5]);
    const expected: Record<string, [number, number]> = {
      minimax: [2 * Math.LN2, -Math.LN2],
      'non-saturating': [2 * Math.LN2, Math.LN2],
      wasserstein: [0, 0],
      hinge: [2, 0],
      'least-squares': [0.5, 0.5],
    };
    for (const l of ALL) {
      expect(val(l.critic(z, z)), l.name).toBeCloseTo(expected[l.name]![0], 6);
      expect(val(l.generator(z)), l.name).toBeCloseTo(expected[l.name]![1], 6);
    }
    expect(val(jsdEstimate(z, z))).toBeCloseTo(0, 6);
    z.dispose();
  });

  it('match float64 references at random scores (different batch sizes, [N] and [N, 1])', () => {
    const rng = new Rng(3);
    const r = Array.from({ length: 7 }, () => 6 * rng.float() - 3);
    const f = Array.from({ length: 5 }, () => 6 * rng.float() - 3);
    const rt = tf.tensor2d(r, [7, 1]);
    const ft = tf.tensor1d(f);
    for (const l of ALL) {
      expect(val(l.critic(rt, ft)), l.name).toBeCloseTo(REF[l.name]!.critic(r, f), 5);
      expect(val(l.generator(ft)), l.name).toBeCloseTo(REF[l.name]!.gen(f), 5);
    }
    tf.dispose([rt, ft]);
  });

  it('have gradients that match central finite differences', () => {
    const rng = new Rng(4);
    // away from the hinge kinks at +-1
    const pts = [-2.3, -0.4, 0.35, 1.7, 2.6].map((x) => x + 0.01 * rng.float());
    const x = tf.tensor1d(pts);
    const other = tf.tensor1d([0.3, -0.8, 1.2]);
    for (const l of ALL) {
      for (const [side, fn] of [
        ['critic/real', (v: tf.Tensor) => l.critic(v, other)],
        ['critic/fake', (v: tf.Tensor) => l.critic(other, v)],
        ['generator', (v: tf.Tensor) => l.generator(v)],
      ] as const) {
        const r = checkGradient(fn, x, { eps: 1e-3, rtol: 1e-2, atol: 1e-4 });
        expect(r.pass, `${l.name} ${side}: ${r.message}`).toBe(true);
      }
    }
    const r = checkGradient((v) => jsdEstimate(v, other), x, { eps: 1e-3, rtol: 1e-2, atol: 1e-4 });
    expect(r.pass, r.message).toBe(true);
    tf.dispose([x, other]);
  });

  it('stay finite with finite gradients at logits of +-1e4', () => {
    const big = tf.tensor1d([1e4, -1e4]);
    for (const l of ALL.filter((l) => l.name === 'minimax' || l.name === 'non-saturating')) {
      const g = tf.grad((v: tf.Tensor) => tf.add(l.critic(v, v), l.generator(v)))(big);
      expect(val(l.critic(big, big))).toBeCloseTo(1e4 / 2 + 1e4 / 2, 0);
      expect(Array.from(g.dataSync()).every(Number.isFinite)).toBe(true);
      g.dispose();
    }
    expect(Number.isFinite(val(jsdEstimate(big, big)))).toBe(true);
    big.dispose();
  });

  it('estimate the JSD of N(0,1) and N(1,1) with the optimal critic', () => {
    // Optimal logit log p/q = 0.5 - x; JSD by quadrature in float64.
    const lp = (x: number, m: number) => -0.5 * (x - m) ** 2 - 0.5 * Math.log(2 * Math.PI);
    let jsd = 0;
    const h = 1e-3;
    for (let x = -12; x < 13; x += h) {
      const p = Math.exp(lp(x, 0));
      const q = Math.exp(lp(x, 1));
      const m = 0.5 * (p + q);
      jsd += 0.5 * h * (p * Math.log(p / m) + q * Math.log(q / m));
    }
    const n = 40000;
    const rng = new Rng(5);
    const est = tf.tidy(() => {
      const xr = tf.randomNormal([n], 0, 1, 'float32', rng.next());
      const xf = tf.randomNormal([n], 1, 1, 'float32', rng.next());
      return val(jsdEstimate(tf.sub(0.5, xr), tf.sub(0.5, xf)));
    });
    // Per-sample terms have std < 1 here, so the standard error is < 0.5 * sqrt(2 / n) ~ 0.0035.
    expect(Math.abs(est - jsd)).toBeLessThan(0.015);
    expect(jsd).toBeGreaterThan(0.05); // a real difference, not the trivial 0
    // a worse (scaled-down) critic gives a smaller estimate: the bound is not tight
    const worse = tf.tidy(() => {
      const xr = tf.randomNormal([n], 0, 1, 'float32', rng.next());
      const xf = tf.randomNormal([n], 1, 1, 'float32', rng.next());
      return val(jsdEstimate(tf.mul(0.2, tf.sub(0.5, xr)), tf.mul(0.2, tf.sub(0.5, xf))));
    });
    expect(worse).toBeLessThan(jsd - 0.02);
  });

  it('look losses up by name and reject unknown ones', () => {
    for (const n of ganLossNames) expect(ganLoss(n).name).toBe(n);
    expect(ganLoss(hinge)).toBe(hinge);
    expect(() => ganLoss('wgan' as never)).toThrow(ValueError);
    expect(() => ganLoss({ name: 'x' } as never)).toThrow(/critic\(real, fake\)/);
  });

  it('reject scores of the wrong shape or dtype, naming the argument', () => {
    const ok = tf.zeros([3]);
    const bad = tf.zeros([3, 2]);
    const ints = tf.zeros([3], 'int32');
    expect(() => nonSaturating.critic(bad, ok)).toThrow(ShapeError);
    expect(() => nonSaturating.critic(bad, ok)).toThrow(/real must be critic scores.*\[3, 2\]/);
    expect(() => hinge.critic(ok, bad)).toThrow(/fake must be/);
    expect(() => wasserstein.generator(ints)).toThrow(ValueError);
    expect(() => jsdEstimate(ok, tf.zeros([0]))).toThrow(ShapeError);
    tf.dispose([ok, bad, ints]);
  });

  it('leak no tensors (values and gradients)', async () => {
    const r = tf.tensor1d([0.2, -1, 3]);
    const f = tf.tensor1d([1, 0.5]);
    for (const l of ALL) {
      await expectNoLeaks(() => {
        tf.dispose([l.critic(r, f), l.generator(f)]);
        tf.dispose(
          tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.add(l.critic(a, b), l.generator(b)))([r, f]),
        );
      }, l.name);
    }
    await expectNoLeaks(() => jsdEstimate(r, f).dispose(), 'jsdEstimate');
    tf.dispose([r, f]);
  });
});
