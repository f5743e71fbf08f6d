import { checkGradient, expectNoLeaks } from '@dgm-js/test-utils';
import { describe, expect, it } from 'vitest';
import fx from './fixtures/numerics.json' with { type: 'json' };
import { digamma, lgamma, tf, trigamma } from './index.js';

const vals = (t: tf.Tensor) => Array.from(t.dataSync());

describe('lgamma / digamma / trigamma (reference: torch float64)', () => {
  const x = () => tf.tensor1d(fx.special.x);
  it('lgamma matches torch.lgamma to float32 accuracy', () => {
    const r = tf.tidy(() => vals(lgamma(x())));
    expect(r).toBeAllclose(fx.special.lgamma, { rtol: 2e-6, atol: 2e-5 });
  });
  it('digamma matches torch.digamma', () => {
    const r = tf.tidy(() => vals(digamma(x())));
    expect(r).toBeAllclose(fx.special.digamma, { rtol: 2e-5, atol: 2e-5 });
  });
  it('trigamma matches torch.polygamma(1, .)', () => {
    const r = tf.tidy(() => vals(trigamma(x())));
    expect(r).toBeAllclose(fx.special.trigamma, { rtol: 5e-5, atol: 1e-5 });
  });
  it('gradients: d lgamma = digamma, d digamma = trigamma (autodiff vs torch)', () => {
    const g1 = tf.tidy(() => vals(tf.grad((v: tf.Tensor) => tf.sum(lgamma(v)))(x())));
    expect(g1).toBeAllclose(fx.special.digamma, { rtol: 2e-5, atol: 2e-5 });
    const g2 = tf.tidy(() => vals(tf.grad((v: tf.Tensor) => tf.sum(digamma(v)))(x())));
    expect(g2).toBeAllclose(fx.special.trigamma, { rtol: 5e-5, atol: 1e-5 });
  });
  it('lgamma gradient agrees with finite differences', () => {
    const v = tf.tensor1d([0.7, 2.5, 6.0]);
    const r = checkGradient(lgamma, v, { eps: 1e-2, rtol: 1e-3, atol: 1e-3 });
    expect(r.pass, r.message).toBe(true);
    v.dispose();
  });
  it('poles give infinities, not finite garbage', () => {
    const r = tf.tidy(() => vals(lgamma(tf.tensor1d([0, -1]))));
    expect(r.every((v) => v === Infinity || Number.isNaN(v) || v > 15)).toBe(true);
  });
  it('leak-free', async () => {
    const v = tf.tensor1d([0.3, 4]);
    await expectNoLeaks(() => {
      tf.dispose([
        lgamma(v),
        digamma(v),
        trigamma(v),
        tf.grad((t: tf.Tensor) => tf.sum(lgamma(t)))(v),
      ]);
    }, 'special functions');
    v.dispose();
  });
});
