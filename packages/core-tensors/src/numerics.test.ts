import { checkGradient, expectNoLeaks } from '@dgm-js/test-utils';
import { afterAll, describe, expect, it } from 'vitest';
import fx from './fixtures/numerics.json' with { type: 'json' };
import {
  clampedUniform,
  expm1,
  gumbelNoise,
  loadNativeKernels,
  log1mexp,
  logSigmoid,
  logSoftmax,
  logSumExp,
  Rng,
  softplus,
  stopGradient,
  straightThrough,
  tf,
  unloadNativeKernels,
  ValueError,
} from './index.js';
import { softplusComposite } from './numerics.js';

const vals = (t: tf.Tensor) => Array.from(t.dataSync());
const gradOf = (f: (x: tf.Tensor) => tf.Tensor, x: tf.Tensor) =>
  tf.tidy(() => vals(tf.grad((v: tf.Tensor) => tf.sum(f(v)))(x)));

describe('logSumExp / logSoftmax (reference: torch float64)', () => {
  const x = () => tf.tensor2d(fx.logsumexp.x);
  it('values match torch, including logits of +-1e4', () => {
    const r = tf.tidy(() => vals(logSumExp(x(), -1)));
    expect(r).toBeAllclose(fx.logsumexp.value, { rtol: 1e-6, atol: 1e-5 });
  });
  it('gradient is softmax and matches torch', () => {
    const g = gradOf((v) => logSumExp(v, 1), x());
    expect(g).toBeAllclose(fx.logsumexp.grad.flat(), { rtol: 1e-5, atol: 1e-6 });
  });
  it('keepDims keeps the reduced axis', () => {
    const s = tf.tidy(() => logSumExp(x(), 1, true).shape);
    expect(s).toEqual([4, 1]);
  });
  it('a slice of all -Infinity gives -Infinity and a zero gradient, not NaN', () => {
    const t = tf.tensor2d([
      [-Infinity, -Infinity],
      [0, -Infinity],
    ]);
    expect(tf.tidy(() => vals(logSumExp(t)))).toBeAllclose([-Infinity, 0]);
    expect(gradOf((v) => logSumExp(v), t)).toBeAllclose([0, 0, 1, 0]);
    t.dispose();
  });
  it('logSoftmax matches torch and its gradient matches finite differences', () => {
    expect(tf.tidy(() => vals(logSoftmax(x())))).toBeAllclose(fx.logsumexp.log_softmax.flat(), {
      rtol: 1e-6,
      atol: 1e-4,
    });
    const v = tf.tensor2d([
      [0.3, -1.2, 2.0],
      [0.0, 0.5, -0.5],
    ]);
    const w = tf.tensor2d([
      [1, 2, 3],
      [-1, 0.5, 2],
    ]);
    const r = checkGradient((t) => tf.mul(w, logSoftmax(t)), v, { eps: 1e-2 });
    expect(r.pass, r.message).toBe(true);
    tf.dispose([v, w]);
  });
  it('rejects an axis out of range', () => {
    const t = tf.ones([2, 2]);
    expect(() => logSumExp(t, 2)).toThrow(ValueError);
    expect(() => logSoftmax(t, -3)).toThrow(/axis -3 is out of range/);
    t.dispose();
  });
});

describe('softplus / logSigmoid / log1mexp / expm1 (reference: torch float64)', () => {
  it('softplus values and gradients at extreme inputs', () => {
    const x = tf.tensor1d(fx.softplus.x);
    expect(tf.tidy(() => vals(softplus(x)))).toBeAllclose(fx.softplus.value, {
      rtol: 1e-6,
      atol: 1e-6,
    });
    expect(gradOf(softplus, x)).toBeAllclose(fx.softplus.grad, { rtol: 1e-6, atol: 1e-7 });
    expect(tf.tidy(() => vals(logSigmoid(x)))).toBeAllclose(fx.softplus.log_sigmoid, {
      rtol: 1e-6,
      atol: 1e-6,
    });
    x.dispose();
  });
  it('log1mexp values and gradients near 0 and far below', () => {
    const x = tf.tensor1d(fx.log1mexp.x);
    expect(tf.tidy(() => vals(log1mexp(x)))).toBeAllclose(fx.log1mexp.value, {
      rtol: 1e-5,
      atol: 1e-7,
    });
    expect(gradOf(log1mexp, x)).toBeAllclose(fx.log1mexp.grad, { rtol: 1e-4, atol: 1e-7 });
    x.dispose();
  });
  it('log1mexp(0) is -Infinity and positive inputs are NaN', () => {
    const x = tf.tensor1d([0, 0.5]);
    expect(tf.tidy(() => vals(log1mexp(x)))).toBeAllclose([-Infinity, Number.NaN]);
    x.dispose();
  });
  it('expm1 is accurate near 0', () => {
    const x = tf.tensor1d(fx.expm1.x);
    expect(tf.tidy(() => vals(expm1(x)))).toBeAllclose(fx.expm1.value, { rtol: 2e-6, atol: 1e-12 });
    expect(gradOf(expm1, x)).toBeAllclose(fx.expm1.x.map(Math.exp), { rtol: 1e-6 });
    x.dispose();
  });
});

describe('softplus: one stable kernel where the backend has one, the composite elsewhere', () => {
  afterAll(async () => {
    await tf.setBackend('wasm');
    await loadNativeKernels();
  });
  const check = (f: (x: tf.Tensor) => tf.Tensor) => {
    const x = tf.tensor1d(fx.softplus.x);
    expect(tf.tidy(() => vals(f(x)))).toBeAllclose(fx.softplus.value, { rtol: 1e-6, atol: 1e-6 });
    expect(gradOf(f, x)).toBeAllclose(fx.softplus.grad, { rtol: 1e-6, atol: 1e-7 });
    // Relative accuracy where the value is tiny (atol alone would hide a wrong exponent).
    const tiny = fx.softplus.x
      .map((v, i) => [v, fx.softplus.value[i]!] as const)
      .filter(([v]) => v >= -80 && v <= -20);
    const t = tf.tensor1d(tiny.map(([v]) => v));
    expect(tf.tidy(() => vals(f(t)))).toBeAllclose(
      tiny.map(([, e]) => e),
      { rtol: 1e-6, atol: 0 },
    );
    tf.dispose([x, t]);
  };
  const kernelsOf = async (f: () => tf.Tensor) => (await tf.profile(() => tf.tidy(f))).kernelNames;

  for (const mode of ['wasm (native kernels if built)', 'wasm (stock kernels)', 'cpu'] as const) {
    it(`${mode}: a single Softplus kernel, matching torch at extreme inputs`, async () => {
      if (mode === 'cpu') await tf.setBackend('cpu');
      else {
        await tf.setBackend('wasm');
        if (mode === 'wasm (stock kernels)') unloadNativeKernels();
        else await loadNativeKernels();
      }
      const x = tf.tensor1d([-3, 0, 3]);
      expect(await kernelsOf(() => softplus(x))).toEqual(['Softplus']);
      x.dispose();
      check(softplus);
    });
  }

  it('the composite (other backends) matches torch too, and int32 input uses it', async () => {
    await tf.setBackend('wasm');
    // The stock wasm Log1p is log(1 + x) (inexact for tiny x): without the native kernels the
    // composite is checked on cpu, whose Log1p is exact.
    if (!(await loadNativeKernels()).loaded) await tf.setBackend('cpu');
    try {
      check(softplusComposite);
      const i = tf.tensor1d([0, 1, 2], 'int32');
      expect(await kernelsOf(() => softplus(i))).not.toEqual(['Softplus']);
      i.dispose();
    } finally {
      await tf.setBackend('wasm');
    }
  });
});

describe('stopGradient / straightThrough', () => {
  it('stopGradient passes values and blocks gradients', () => {
    const x = tf.scalar(3);
    // d/dx [x * sg(x)] = sg(x) = 3 (not 2x = 6)
    expect(gradOf((v) => tf.mul(v, stopGradient(v)), x)).toBeAllclose([3]);
    expect(tf.tidy(() => vals(stopGradient(x)))).toBeAllclose([3]);
    x.dispose();
  });
  it('straightThrough: value of hard, gradient into soft only', () => {
    const p = tf.tensor1d([0.2, 0.7, 0.5]);
    const w = tf.tensor1d([1, 2, 3]);
    const v = tf.tidy(() => vals(straightThrough(tf.round(p), p)));
    expect(v).toBeAllclose([0, 1, 0]);
    expect(gradOf((t) => tf.mul(w, straightThrough(tf.round(t), t)), p)).toBeAllclose([1, 2, 3]);
    expect(() => straightThrough(p, tf.ones([2]))).toThrow(ValueError);
    tf.dispose([p, w]);
  });
});

describe('noise', () => {
  it('clampedUniform stays inside [eps, 1 - eps] and is reproducible', () => {
    const a = clampedUniform([1000], new Rng(5), { eps: 1e-3 });
    const b = clampedUniform([1000], new Rng(5), { eps: 1e-3 });
    const va = vals(a);
    expect(Math.min(...va)).toBeGreaterThanOrEqual(1e-3);
    expect(Math.max(...va)).toBeLessThanOrEqual(1 - 1e-3 + 1e-7);
    expect(va).toEqual(vals(b));
    expect(() => clampedUniform([2], new Rng(0), { eps: 0 })).toThrow(ValueError);
    tf.dispose([a, b]);
  });
  it('Gumbel noise has the standard Gumbel mean (Euler–Mascheroni) and variance pi^2/6', () => {
    const n = 200_000;
    const g = gumbelNoise([n], new Rng(7));
    const v = vals(g);
    g.dispose();
    expect(v.every(Number.isFinite)).toBe(true);
    const mean = v.reduce((a, b) => a + b, 0) / n;
    const variance = v.reduce((a, b) => a + (b - mean) ** 2, 0) / (n - 1);
    const sd = Math.PI / Math.sqrt(6);
    // 5 standard errors of the mean; the variance within 3%.
    expect(Math.abs(mean - 0.5772156649)).toBeLessThan((5 * sd) / Math.sqrt(n));
    expect(Math.abs(variance / (sd * sd) - 1)).toBeLessThan(0.03);
  });
});

describe('leaks', () => {
  it('no numerics op leaks tensors (forward and gradient)', async () => {
    const x = tf.tensor2d([
      [0.5, -1, 2],
      [1e4, -1e4, 0],
    ]);
    const neg = tf.tensor1d([-0.1, -3]);
    const rounded = tf.round(x);
    await expectNoLeaks(() => {
      const outs = [
        logSumExp(x),
        logSoftmax(x),
        softplus(x),
        logSigmoid(x),
        log1mexp(neg),
        expm1(x),
        stopGradient(x),
        straightThrough(rounded, x),
        gumbelNoise([3], new Rng(1)),
        clampedUniform([3], new Rng(1)),
        tf.grad((v: tf.Tensor) => tf.sum(logSoftmax(v)))(x),
        tf.grad((v: tf.Tensor) => tf.sum(logSumExp(v)))(x),
        tf.grad((v: tf.Tensor) => tf.sum(log1mexp(v)))(neg),
      ];
      tf.dispose(outs);
    }, 'numerics');
    tf.dispose([x, neg, rounded]);
  });
});
