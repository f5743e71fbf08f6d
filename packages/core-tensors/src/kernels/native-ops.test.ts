import { expectNoLeaks } from '@dgm-js/test-utils';
import { describe, expect, it } from 'vitest';
import { initBackend, loadNativeKernels, tf, unloadNativeKernels } from '../index.js';
import { compare, randn } from './test-helpers.js';

await initBackend({ quiet: true });
const native = (await loadNativeKernels()).loaded;
const why = native ? 'loaded' : 'skipped: native kernels not loaded';

/** Sum, Add (trailing bias), Step and FusedConv2D: native, then the kernels they fall back to. */
function cases(mode: 'native' | 'fallback') {
  const skip = mode === 'native' && !native;
  const setup = async () => {
    if (mode === 'fallback') unloadNativeKernels();
    else await loadNativeKernels();
  };

  it.skipIf(skip)(
    'sum over leading / trailing / middle axes, keepDims: values and gradients',
    async () => {
      await setup();
      for (const [shape, axis, keep] of [
        [[6, 5, 4, 7], [0, 1, 2], false],
        [[6, 5, 4, 7], [3], false],
        [[6, 5, 4, 7], [2, 3], true],
        [[6, 5, 4, 7], [1], false], // a middle axis: not native, stock kernel
        [[9], [0], false],
        [[3, 0, 4], [1], false], // an empty reduced axis gives zeros
      ] as Array<[number[], number[], boolean]>) {
        await compare(() => {
          const x = randn(shape, 3);
          const y = tf.sum(x, axis, keep);
          const g = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(tf.sum(t, axis, keep), 1.5)))(x);
          return [y, g];
        });
      }
      // Large leading reduction (a conv bias gradient): accumulated in double, so exact to float32.
      await compare(() => [tf.sum(tf.add(randn([50000, 3], 4), 1000), [0])], 1e-6, 1e-3);
    },
  );

  it.skipIf(skip)(
    'add with a trailing bias (either side) matches cpu; other broadcasts too',
    async () => {
      await setup();
      for (const [sa, sb] of [
        [[4, 5, 6], [6]],
        [[6], [4, 5, 6]],
        [
          [4, 5, 6],
          [5, 6],
        ],
        [
          [4, 5, 6],
          [1, 6],
        ],
        [
          [1, 1, 6],
          [4, 5, 6],
        ],
        [
          [4, 1, 6],
          [4, 5, 6],
        ], // not a trailing bias: stock kernel
        [
          [4, 5, 6],
          [4, 5, 6],
        ],
        [[3, 2], []],
      ] as Array<[number[], number[]]>) {
        await compare(() => {
          const a = randn(sa, 5);
          const b = randn(sb, 6);
          const y = tf.add(a, b);
          const [ga, gb] = tf.grads((p: tf.Tensor, q: tf.Tensor) =>
            tf.sum(tf.square(tf.add(p, q))),
          )([a, b]);
          return [y, ga!, gb!];
        });
      }
    },
  );

  it.skipIf(skip)('step keeps NaN and uses alpha; relu gradients match cpu', async () => {
    await setup();
    const x = tf.tensor([-2, -0, 0, 1e-30, 3, Number.NaN, Number.POSITIVE_INFINITY]);
    expect(Array.from(tf.step(x, 0.25).dataSync())).toEqual([
      0.25,
      0.25,
      0.25,
      1,
      1,
      Number.NaN,
      1,
    ]);
    x.dispose();
    await compare(() => {
      const a = randn([7, 9], 8);
      return [tf.grad((t: tf.Tensor) => tf.sum(tf.mul(tf.relu(t), randn([7, 9], 9))))(a)];
    });
  });

  it.skipIf(skip)('fused conv2d with bias and activations: values and gradients', async () => {
    await setup();
    for (const activation of ['linear', 'relu'] as const) {
      await compare(() => {
        const x = randn([2, 7, 6, 3], 10) as tf.Tensor4D;
        const w = randn([3, 3, 3, 4], 11) as tf.Tensor4D;
        const b = randn([4], 12);
        const f = (p: tf.Tensor, q: tf.Tensor, r: tf.Tensor) =>
          tf.sum(
            tf.mul(
              tf.fused.conv2d({
                x: p as tf.Tensor4D,
                filter: q as tf.Tensor4D,
                strides: 1,
                pad: 'same',
                bias: r,
                activation,
              }),
              randn([2, 7, 6, 4], 13),
            ),
          );
        const y = tf.fused.conv2d({ x, filter: w, strides: 2, pad: 'valid', bias: b, activation });
        return [y, ...tf.grads(f)([x, w, b])];
      });
    }
    for (const activation of ['elu', 'sigmoid', 'leakyrelu', 'relu6'] as const) {
      await compare(() => {
        const x = randn([1, 5, 5, 2], 14) as tf.Tensor4D;
        const w = randn([3, 3, 2, 3], 15) as tf.Tensor4D;
        const o = { strides: 1, pad: 'same', leakyreluAlpha: 0.2 } as const;
        return [
          // leakyreluAlpha explicit: without it the cpu backend computes NaN (tfjs quirk).
          tf.fused.conv2d({ ...o, x, filter: w, bias: randn([3], 16), activation }),
          tf.fused.conv2d({ ...o, x, filter: w, activation }), // no bias
        ];
      });
    }
  });

  it.skipIf(skip)('leak no tensors (forward and backward)', async () => {
    await setup();
    const x = randn([2, 5, 5, 2], 20) as tf.Tensor4D;
    const w = randn([3, 3, 2, 3], 21) as tf.Tensor4D;
    const b = randn([3], 22);
    await expectNoLeaks(() => {
      const g = tf.grads((p: tf.Tensor, q: tf.Tensor, r: tf.Tensor) =>
        tf.sum(
          tf.fused.conv2d({
            x: p as tf.Tensor4D,
            filter: q as tf.Tensor4D,
            strides: 1,
            pad: 'same',
            bias: r,
            activation: 'relu',
          }),
        ),
      )([x, w, b]);
      const s = tf.tidy(() => tf.sum(tf.add(x, tf.slice(b, 0, 2)), [0, 1, 2]));
      tf.dispose([...g, s, tf.step(x)]);
    }, `native ops (${mode})`);
    tf.dispose([x, w, b]);
  });
}

describe(`native memory-bound ops (${why})`, () => cases('native'));
describe('native memory-bound ops: the kernels they fall back to', () => {
  cases('fallback');
  it('loads again', async () => {
    expect((await loadNativeKernels()).loaded).toBe(native);
  });
});
