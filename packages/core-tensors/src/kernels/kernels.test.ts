import { checkGradient, expectNoLeaks } from '@dgm-js/test-utils';
import { describe, expect, it } from 'vitest';
import { initBackend, tf, wasmKernelOverrides } from '../index.js';
import { compare, randn } from './test-helpers.js';

describe('wasm kernel overrides', () => {
  it('are registered on the wasm backend', async () => {
    const info = await initBackend({ quiet: true });
    expect(info.name).toBe('wasm');
    expect(wasmKernelOverrides()).toEqual([
      'Identity',
      'Cast',
      'BatchMatMul',
      '_FusedMatMul',
      'Conv2DBackpropFilter',
      'Conv2DBackpropInput',
      'Slice',
      'Sum',
    ]);
    expect(tf.getBackend()).toBe('wasm');
  });

  for (const [ta, tb] of [
    [false, false],
    [true, false],
    [false, true],
    [true, true],
  ] as const) {
    it(`matMul transposeA=${ta} transposeB=${tb} matches cpu (values and gradients)`, async () => {
      await compare(() => {
        const a = randn(ta ? [7, 5] : [5, 7], 1);
        const b = randn(tb ? [3, 7] : [7, 3], 2);
        const f = (x: tf.Tensor, y: tf.Tensor) => tf.sum(tf.square(tf.matMul(x, y, ta, tb)));
        const [ga, gb] = tf.grads(f)([a, b]);
        return [tf.matMul(a, b, ta, tb), ga!, gb!];
      });
    });
  }

  it('batched fused matMul with bias (wrong in stock wasm) matches cpu without transposes', async () => {
    await compare(() => {
      const a = randn([3, 6, 4], 14);
      const b = randn([3, 4, 5], 15);
      const bias = randn([5], 16);
      return [tf.fused.matMul({ a, b, bias, activation: 'elu' })];
    });
  });

  it('batched matMul with transposes and a fused bias + relu matches cpu', async () => {
    await compare(() => {
      const a = randn([2, 6, 4], 3);
      const b = randn([2, 5, 6], 4);
      const bias = randn([5], 5);
      const y = tf.fused.matMul({
        a,
        b,
        transposeA: true,
        transposeB: true,
        bias,
        activation: 'relu',
      });
      const g = tf.grads((x: tf.Tensor, w: tf.Tensor) =>
        tf.sum(
          tf.fused.matMul({
            a: x,
            b: w,
            transposeA: true,
            transposeB: true,
            bias,
            activation: 'relu',
          }),
        ),
      )([a, b]);
      return [y, ...g];
    });
  });

  const convCases: Array<[string, number[], number[], number, 'same' | 'valid']> = [
    ['3x3 same stride 1', [2, 8, 8, 3], [3, 3, 3, 4], 1, 'same'],
    ['3x3 valid stride 1', [2, 9, 7, 2], [3, 3, 2, 5], 1, 'valid'],
    ['3x3 same stride 2', [2, 9, 8, 3], [3, 3, 3, 4], 2, 'same'],
    ['2x4 valid stride 2', [1, 10, 11, 2], [2, 4, 2, 3], 2, 'valid'],
    ['5x5 same stride 3', [1, 11, 10, 1], [5, 5, 1, 2], 3, 'same'],
    ['1x1 valid stride 1', [3, 4, 4, 6], [1, 1, 6, 2], 1, 'valid'],
  ];
  for (const [name, xs, ws, s, pad] of convCases) {
    it(`conv2d gradients (${name}) match cpu`, async () => {
      await compare(() => {
        const x = randn(xs, 6);
        const w = randn(ws, 7);
        const y = tf.conv2d(x as tf.Tensor4D, w as tf.Tensor4D, s, pad);
        const up = randn(y.shape, 8);
        const [gx, gw] = tf.grads((a: tf.Tensor, b: tf.Tensor) =>
          tf.sum(tf.mul(up, tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, s, pad))),
        )([x, w]);
        return [y, gx!, gw!];
      });
    });
  }

  const sliceCases: Array<[string, number[], number[], number[]]> = [
    ['rank 1', [10], [3], [4]],
    ['rank 2 row', [6, 7], [2, 0], [1, 7]],
    ['rank 2 block', [6, 7], [1, 2], [3, 4]],
    ['rank 3', [4, 5, 6], [1, 2, 3], [2, 2, 3]],
    ['rank 4 to the end (-1)', [3, 4, 5, 2], [1, 0, 2, 1], [-1, 3, -1, 1]],
    ['rank 5', [2, 3, 2, 4, 3], [1, 1, 0, 2, 1], [1, 2, 2, 2, 2]],
    ['empty', [4, 4], [1, 1], [0, 3]],
  ];
  for (const [name, shape, begin, size] of sliceCases) {
    it(`slice (${name}) matches cpu, values and gradient`, async () => {
      await compare(
        () => {
          const x = randn(shape, 21);
          const up = tf.tidy(() => randn(tf.slice(x, begin, size).shape, 22));
          const g = tf.grad((v: tf.Tensor) => tf.sum(tf.mul(up, tf.slice(v, begin, size))))(x);
          return [tf.slice(x, begin, size), g];
        },
        0,
        0,
      );
    });
  }

  const sumCases: Array<[string, number[], number | number[], boolean]> = [
    ['leading axes (bias gradient)', [4, 5, 6, 3], [0, 1, 2], false],
    ['leading axis, keepDims', [7, 5], 0, true],
    ['trailing axes', [3, 4, 5], [1, 2], false],
    ['trailing axis, negative index', [6, 9], -1, true],
    ['all axes', [3, 4, 2], [0, 1, 2], false],
    ['middle axis (stock kernel)', [3, 4, 5], 1, false],
    ['zero-size reduced axis', [0, 4], 0, false],
  ];
  for (const [name, shape, axis, keep] of sumCases) {
    it(`sum (${name}) matches cpu, values and gradient`, async () => {
      await compare(
        () => {
          const x = randn(shape, 23);
          const g = tf.grad((v: tf.Tensor) => tf.sum(tf.square(tf.sum(v, axis, keep))))(x);
          return [tf.sum(x, axis, keep), tf.mean(x, axis, keep), g];
        },
        1e-5,
        1e-5,
      );
    });
  }

  it('slice of int32 and bool tensors matches cpu', async () => {
    await compare(
      () => {
        const i = tf.tensor2d(
          [
            [1, 2, 3],
            [4, 5, 6],
          ],
          [2, 3],
          'int32',
        );
        const b = tf.tensor2d(
          [
            [1, 0, 1],
            [0, 1, 1],
          ],
          [2, 3],
          'bool',
        );
        return [tf.slice(i, [0, 1], [2, 2]), tf.cast(tf.slice(b, [1, 0], [1, 3]), 'int32')];
      },
      0,
      0,
    );
  });

  it('explicit-padding conv gradients match finite differences on wasm', () => {
    const x = randn([1, 5, 5, 2], 9) as tf.Tensor4D;
    const w = randn([3, 3, 2, 2], 10) as tf.Tensor4D;
    const pad: [[number, number], [number, number], [number, number], [number, number]] = [
      [0, 0],
      [1, 0],
      [2, 1],
      [0, 0],
    ];
    const r = checkGradient((v) => tf.sum(tf.square(tf.conv2d(x, v as tf.Tensor4D, 1, pad))), w, {
      eps: 1e-2,
      rtol: 2e-2,
      atol: 5e-3,
    });
    expect(r.pass, r.message).toBe(true);
    x.dispose();
    w.dispose();
  });

  it('overrides leak no tensors (forward and backward)', async () => {
    const x = randn([2, 6, 6, 2], 11) as tf.Tensor4D;
    const w = randn([3, 3, 2, 3], 12) as tf.Tensor4D;
    const a = randn([4, 6], 13);
    await expectNoLeaks(() => {
      const g = tf.grads((p: tf.Tensor, q: tf.Tensor) =>
        tf.sum(tf.conv2d(p as tf.Tensor4D, q as tf.Tensor4D, 2, 'same')),
      )([x, w]);
      const h = tf.grad((p: tf.Tensor) => tf.sum(tf.matMul(p, p, true, false)))(a);
      tf.dispose([...g, h]);
    }, 'wasm kernel overrides');
    tf.dispose([x, w, a]);
  });

  it('identity and same-dtype cast share the buffer; each owner disposes independently', () => {
    const be = tf.engine().backend as unknown as { refCount(id: object): number };
    const x = tf.tensor([1, -2, 3.5, Number.NaN]);
    const c = tf.clone(x);
    const k = tf.cast(x, 'float32');
    expect(be.refCount(x.dataId)).toBe(3);
    x.dispose();
    expect(Array.from(c.dataSync())).toEqual([1, -2, 3.5, Number.NaN]);
    c.dispose();
    expect(Array.from(k.dataSync())).toEqual([1, -2, 3.5, Number.NaN]);
    expect(be.refCount(k.dataId)).toBe(1);
    // A cast to another dtype still converts.
    const i = tf.cast(k, 'int32');
    expect(Array.from(i.dataSync()).slice(0, 3)).toEqual([1, -2, 3]);
    tf.dispose([k, i]);
  });

  it('a variable keeps its value when a clone of it is alive and it is assigned', () => {
    const v = tf.tidy(() => tf.variable(tf.tensor([1, 2, 3])));
    const snap = tf.clone(v);
    const next = tf.tensor([7, 8, 9]);
    v.assign(next);
    next.dispose();
    expect(Array.from(snap.dataSync())).toEqual([1, 2, 3]);
    expect(Array.from(v.dataSync())).toEqual([7, 8, 9]);
    tf.dispose([v, snap]);
  });
});
