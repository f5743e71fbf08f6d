import { customGrad, tf } from '@dgm-js/core-tensors';
import { describe, expect, it } from 'vitest';
import { allclose, checkGradient, disposeAll, expectNoLeaks } from './index.js';

describe('allclose', () => {
  it('passes within atol + rtol * |expected| and fails just outside', () => {
    expect(allclose([1, 100], [1 + 1e-6, 100.0009], { rtol: 1e-5, atol: 1e-6 }).pass).toBe(true);
    expect(allclose([100.0011], [100], { rtol: 1e-5, atol: 1e-6 }).pass).toBe(false);
  });
  it('checks shapes, including nested arrays against tensors', () => {
    const t = tf.tensor2d([
      [1, 2],
      [3, 4],
    ]);
    expect(
      allclose(t, [
        [1, 2],
        [3, 4],
      ]).pass,
    ).toBe(true);
    const r = allclose(t, [1, 2, 3, 4]);
    expect(r.pass).toBe(false);
    expect(r.message).toMatch(/shape \[2,2\] differs from expected shape \[4\]/);
    t.dispose();
  });
  it('treats NaN and Infinity explicitly', () => {
    expect(allclose([Number.NaN], [Number.NaN]).pass).toBe(true);
    expect(allclose([Number.NaN], [Number.NaN], { equalNan: false }).pass).toBe(false);
    expect(allclose([Number.NaN], [0]).pass).toBe(false);
    expect(allclose([0], [Number.NaN]).pass).toBe(false);
    expect(allclose([Infinity], [Infinity]).pass).toBe(true);
    expect(allclose([-Infinity], [Infinity]).pass).toBe(false);
    expect(allclose([1e30], [Infinity], { rtol: 1 }).pass).toBe(false);
  });
  it('reports the worst element', () => {
    const r = allclose([1, 2, 3], [1, 2.5, 3.1], { rtol: 0, atol: 0.01 });
    expect(r.message).toMatch(/2 of 3 elements differ.*flat index 1: got 2, expected 2.5/);
  });
  it('is available as the toBeAllclose matcher, negatable', () => {
    expect([1, 2]).toBeAllclose([1, 2]);
    expect([1, 2]).not.toBeAllclose([1, 3]);
    expect(() => expect([1]).toBeAllclose([2])).toThrow(/1 of 1 elements differ/);
  });
});

describe('expectNoLeaks', () => {
  it('throws when the function leaves tensors behind, and passes when it does not', async () => {
    let kept: tf.Tensor | undefined;
    await expect(
      expectNoLeaks(() => {
        kept = tf.ones([2]);
      }, 'leaky'),
    ).rejects.toThrow(/leaky leaked 1 tensor/);
    kept?.dispose();
    await expect(expectNoLeaks(() => tf.tidy(() => void tf.ones([2])))).resolves.toBeUndefined();
  });
  it('disposeAll frees nested results', () => {
    const before = tf.memory().numTensors;
    disposeAll({ a: tf.ones([1]), b: [tf.zeros([2]), { c: tf.ones([3]) }] });
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe('checkGradient', () => {
  it('accepts a correct gradient', () => {
    const x = tf.tensor1d([0.3, -1.2, 2]);
    const r = checkGradient((v) => tf.sum(tf.mul(tf.sin(v), v)), x);
    expect(r.pass, r.message).toBe(true);
    x.dispose();
  });
  it('rejects a deliberately wrong gradient', () => {
    const wrong = customGrad<[tf.Tensor]>((v) => ({
      value: tf.square(v),
      gradFunc: (dy: tf.Tensor) => tf.mul(dy, 3), // true derivative is 2v
    }));
    const x = tf.tensor1d([0.5, 1.5]);
    const r = checkGradient(wrong, x);
    expect(r.pass).toBe(false);
    expect(r.analytic).toBeAllclose([3, 3]);
    expect(r.numeric).toBeAllclose([1, 3], { rtol: 1e-3, atol: 1e-3 });
    x.dispose();
  });
});
