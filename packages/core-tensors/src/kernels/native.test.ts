import { checkGradient, expectNoLeaks } from '@dgm-js/test-utils';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  initBackend,
  loadNativeKernels,
  nativeKernelsStatus,
  tf,
  unloadNativeKernels,
  wasmKernelOverrides,
} from '../index.js';
import { compare, randn } from './test-helpers.js';

const NATIVE = [
  'BatchMatMul',
  '_FusedMatMul',
  'Conv2D',
  'Conv2DBackpropFilter',
  'Conv2DBackpropInput',
  'FusedConv2D',
  'Sum',
  'Add',
  'Step',
];

await initBackend({ quiet: true });
const first = await loadNativeKernels();
const native = first.loaded;
const why = native
  ? 'loaded'
  : first.summary.replace(/^native kernels: off \((.*)\)$/, 'skipped: $1');

type Pad4 = [[number, number], [number, number], [number, number], [number, number]];
type ConvPad = 'same' | 'valid' | number | Pad4;

/** The cases of kernels.test.ts, plus explicit and numeric pads and uneven strides. */
const CONV_CASES: Array<[string, number[], number[], number | [number, number], ConvPad]> = [
  ['3x3 same stride 1', [2, 8, 8, 3], [3, 3, 3, 4], 1, 'same'],
  ['3x3 valid stride 1', [2, 9, 7, 2], [3, 3, 2, 5], 1, 'valid'],
  ['3x3 same stride 2', [2, 9, 8, 3], [3, 3, 3, 4], 2, 'same'],
  ['2x4 valid stride 2', [1, 10, 11, 2], [2, 4, 2, 3], 2, 'valid'],
  ['5x5 same stride 3', [1, 11, 10, 1], [5, 5, 1, 2], 3, 'same'],
  ['1x1 valid stride 1', [3, 4, 4, 6], [1, 1, 6, 2], 1, 'valid'],
  ['1x1 valid stride 2', [2, 5, 5, 3], [1, 1, 3, 4], 2, 'valid'],
  [
    '3x3 explicit pads, strides 2x1',
    [2, 7, 6, 2],
    [3, 3, 2, 3],
    [2, 1],
    [
      [0, 0],
      [1, 0],
      [2, 1],
      [0, 0],
    ],
  ],
  // tfjs sizes numeric pads from the filter height alone, so the filter is square here.
  ['3x3 numeric pad 1', [1, 6, 7, 3], [3, 3, 3, 2], 1, 1],
  // 16 channels, stride 1: the native direct-convolution path
  ['3x3 same 16 channels (direct)', [2, 6, 5, 16], [3, 3, 16, 16], 1, 'same'],
  ['3x3 valid 16 -> 32 channels (direct)', [1, 5, 7, 16], [3, 3, 16, 32], 1, 'valid'],
];

function modeTests(mode: 'native' | 'typescript') {
  const skip = mode === 'native' && !native;

  it.skipIf(skip)('registers the expected kernels', () => {
    const s = nativeKernelsStatus();
    if (mode === 'native') {
      expect(s.loaded).toBe(true);
      expect(s.kernels).toEqual(expect.arrayContaining(NATIVE));
      expect(s.summary).toMatch(
        /^native kernels: on \(OpenBLAS \S+, \d+ threads?, (avx512|avx2|generic): BatchMatMul/,
      );
      expect(['avx512', 'avx2', 'generic']).toContain(s.isa);
      if (process.env.DGM_NATIVE_ISA) expect(s.isa).toBe(process.env.DGM_NATIVE_ISA);
    } else {
      expect(s.loaded).toBe(false);
      expect(s.kernels).toEqual([]);
      expect(wasmKernelOverrides()).toContain('Conv2DBackpropFilter');
    }
  });

  for (const [ta, tb] of [
    [false, false],
    [true, false],
    [false, true],
    [true, true],
  ] as const) {
    it.skipIf(skip)(`matMul transposeA=${ta} transposeB=${tb}: values and gradients`, async () => {
      await compare(() => {
        const a = randn(ta ? [7, 5] : [5, 7], 1);
        const b = randn(tb ? [3, 7] : [7, 3], 2);
        const f = (x: tf.Tensor, y: tf.Tensor) => tf.sum(tf.square(tf.matMul(x, y, ta, tb)));
        const [ga, gb] = tf.grads(f)([a, b]);
        return [tf.matMul(a, b, ta, tb), ga!, gb!];
      });
    });
  }

  // Shapes as stored (before the transposes the flags ask for).
  const batched: Array<[string, number[], number[], boolean, boolean]> = [
    ['equal batches', [3, 4, 5], [3, 5, 6], false, false],
    ['batched a, rank-2 b', [2, 3, 4, 5], [5, 6], false, false],
    ['rank-2 a, batched b, both transposed', [5, 4], [2, 6, 5], true, true],
    ['suffix broadcast [2,3] x [3]', [2, 3, 4, 5], [3, 5, 6], false, false],
    ['size-1 batch dims [1,3] x [3], transposeB', [1, 3, 4, 5], [3, 6, 5], false, true],
  ];
  for (const [name, as, bs, ta, tb] of batched) {
    // tfjs 4.22's matMul gradient does not reduce broadcast batch dims (on any backend), so
    // gradients are compared where the batches are equal.
    const grads = as.length === bs.length && as.slice(0, -2).every((d, i) => d === bs[i]);
    it.skipIf(skip)(
      `batched matMul (${name}): values${grads ? ' and gradients' : ''}`,
      async () => {
        await compare(() => {
          const a = randn(as, 3);
          const b = randn(bs, 4);
          const y = tf.matMul(a, b, ta, tb);
          if (!grads) return [y];
          const [ga, gb] = tf.grads((x: tf.Tensor, z: tf.Tensor) =>
            tf.sum(tf.square(tf.matMul(x, z, ta, tb))),
          )([a, b]);
          return [y, ga!, gb!];
        });
      },
    );
  }

  it.skipIf(skip)('fused matMul: every activation with a per-column bias', async () => {
    for (const activation of [
      'linear',
      'relu',
      'relu6',
      'elu',
      'sigmoid',
      'leakyrelu',
      'prelu',
    ] as const) {
      await compare(() => {
        const a = randn([2, 6, 4], 14);
        const b = randn([2, 4, 5], 15);
        const bias = randn([5], 16);
        const preluActivationWeights = activation === 'prelu' ? randn([5], 17) : undefined;
        return [
          tf.fused.matMul({
            a,
            b,
            bias,
            activation,
            leakyreluAlpha: 0.3,
            ...(preluActivationWeights ? { preluActivationWeights } : {}),
          }),
        ];
      });
    }
  });

  const biasShapes: Array<[string, number[]]> = [
    ['none', []],
    ['[n]', [5]],
    ['[1, n]', [1, 5]],
    ['[m, n] repeated over the batch', [6, 5]],
    ['[batch, m, n]', [3, 6, 5]],
    ['[m, 1] (general broadcast)', [6, 1]],
    ['[batch, 1, n] (general broadcast)', [3, 1, 5]],
  ];
  for (const [name, shape] of biasShapes) {
    it.skipIf(skip)(`fused matMul + relu, bias ${name}: values and gradients`, async () => {
      await compare(() => {
        const a = randn([3, 4, 6], 18);
        const b = randn([3, 5, 4], 19);
        const bias = shape.length ? randn(shape, 20) : undefined;
        const f = (x: tf.Tensor, y: tf.Tensor) =>
          tf.fused.matMul({
            a: x,
            b: y,
            transposeA: true,
            transposeB: true,
            activation: 'relu',
            ...(bias ? { bias } : {}),
          });
        const up = randn([3, 6, 5], 21);
        const g = tf.grads((x: tf.Tensor, y: tf.Tensor) => tf.sum(tf.mul(up, f(x, y))))([a, b]);
        return [f(a, b), ...g];
      });
    });
  }

  for (const [name, xs, ws, s, pad] of CONV_CASES) {
    it.skipIf(skip)(`conv2d (${name}): values and gradients`, async () => {
      await compare(() => {
        const x = randn(xs, 6) as tf.Tensor4D;
        const w = randn(ws, 7) as tf.Tensor4D;
        const conv = (a: tf.Tensor, b: tf.Tensor) =>
          tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, s, pad as 'same');
        const y = conv(x, w);
        const up = randn(y.shape, 8);
        const [gx, gw] = tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(up, conv(a, b))))([
          x,
          w,
        ]);
        return [y, gx!, gw!];
      });
    });
  }

  it.skipIf(skip)('conv2d with dilations matches cpu (forward)', async () => {
    await compare(() => {
      const x = randn([2, 9, 8, 2], 9) as tf.Tensor4D;
      const w = randn([3, 3, 2, 3], 10) as tf.Tensor4D;
      return [tf.conv2d(x, w, 1, 'same', 'NHWC', 2), tf.conv2d(x, w, 1, 'valid', 'NHWC', [2, 1])];
    });
  });

  // The stock wasm Conv2D (XNNPACK) ignores dimRoundingMode, so only the native one is checked.
  it.skipIf(skip || mode === 'typescript')(
    'conv2d with dimRoundingMode ceil matches cpu',
    async () => {
      await compare(() => {
        const x = randn([2, 9, 8, 2], 9) as tf.Tensor4D;
        const w = randn([3, 3, 2, 3], 10) as tf.Tensor4D;
        return [tf.conv2d(x, w, 2, 1, 'NHWC', 1, 'ceil')];
      });
    },
  );

  it.skipIf(skip)('conv2d gradient with explicit padding matches finite differences', () => {
    const x = randn([1, 5, 5, 2], 9) as tf.Tensor4D;
    const w = randn([3, 3, 2, 2], 10) as tf.Tensor4D;
    const pad: Pad4 = [
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
    tf.dispose([x, w]);
  });

  it.skipIf(skip)('a small conv net: same loss and gradients as on cpu', async () => {
    const step = () => {
      const x = randn([4, 6, 6, 1], 30) as tf.Tensor4D;
      const k1 = randn([3, 3, 1, 4], 31) as tf.Tensor4D;
      const k2 = randn([3, 3, 4, 4], 32) as tf.Tensor4D;
      const wd = randn([36, 3], 33);
      const bd = randn([3], 34);
      const f = (a: tf.Tensor, b: tf.Tensor, c: tf.Tensor) => {
        const h1 = tf.relu(tf.conv2d(x, a as tf.Tensor4D, 1, 'same'));
        const h2 = tf.relu(tf.conv2d(h1, b as tf.Tensor4D, 2, 'same'));
        const logits = tf.fused.matMul({ a: tf.reshape(h2, [4, 36]), b: c, bias: bd });
        return tf.mean(tf.square(logits));
      };
      return [f(k1, k2, wd), ...tf.grads(f)([k1, k2, wd])];
    };
    await compare(step, 1e-4, 1e-5);
  });

  it.skipIf(skip)(
    'leaks no tensors (matmuls, fused epilogues, convs; forward and backward)',
    async () => {
      const x = randn([2, 6, 6, 2], 11) as tf.Tensor4D;
      const w = randn([3, 3, 2, 3], 12) as tf.Tensor4D;
      const a = randn([3, 4, 6], 13);
      const b = randn([3, 6, 5], 14);
      const bias = randn([4, 1], 15);
      const prelu = randn([5], 16);
      await expectNoLeaks(() => {
        const g = tf.grads((p: tf.Tensor, q: tf.Tensor) =>
          tf.sum(tf.conv2d(p as tf.Tensor4D, q as tf.Tensor4D, 2, 'same')),
        )([x, w]);
        const h = tf.grad((p: tf.Tensor) => tf.sum(tf.matMul(p, p, true, false)))(a);
        const y1 = tf.fused.matMul({ a, b, bias, activation: 'relu' });
        const y2 = tf.fused.matMul({ a, b, activation: 'prelu', preluActivationWeights: prelu });
        const y3 = tf.tidy(() => tf.matMul(tf.zeros([2, 0]), tf.zeros([0, 3])));
        tf.dispose([...g, h, y1, y2, y3]);
      }, `${mode} kernels`);
      tf.dispose([x, w, a, b, bias, prelu]);
    },
  );
}

describe(`native kernels (${why})`, () => {
  beforeAll(async () => {
    await loadNativeKernels();
  });
  modeTests('native');

  it.skipIf(!native)('initBackend reports them in its summary and overrides', async () => {
    const info = await initBackend({ quiet: true });
    expect(info.summary).toMatch(/native kernels: on \(OpenBLAS/);
    expect(info.overrides).toEqual(expect.arrayContaining(NATIVE));
  });

  it('unload puts the TypeScript kernels back and load brings the native ones again', async () => {
    const before = tf.getKernel('BatchMatMul', 'wasm')!.kernelFunc;
    unloadNativeKernels();
    expect(nativeKernelsStatus().kernels).toEqual([]);
    unloadNativeKernels(); // idempotent
    const ts = tf.getKernel('BatchMatMul', 'wasm')!.kernelFunc;
    expect(tf.getKernel('Conv2DBackpropFilter', 'wasm')).toBeDefined();
    const again = await loadNativeKernels();
    expect(again.loaded).toBe(native);
    if (native) {
      expect(ts).not.toBe(before);
      expect(tf.getKernel('BatchMatMul', 'wasm')!.kernelFunc).toBe(before);
      expect((await loadNativeKernels()).kernels).toEqual(expect.arrayContaining(NATIVE)); // idempotent
    } else {
      expect(again.summary).toMatch(/^native kernels: off \(.+\)$/);
    }
  });

  it('DGM_NATIVE=0 turns them off (TypeScript kernels run) with a one-line notice', async () => {
    const old = process.env.DGM_NATIVE;
    process.env.DGM_NATIVE = '0';
    try {
      const s = await loadNativeKernels();
      expect(s).toEqual({
        loaded: false,
        summary: 'native kernels: off (DGM_NATIVE=0)',
        kernels: [],
      });
      expect(nativeKernelsStatus().kernels).toEqual([]);
      const y = tf.tidy(() => Array.from(tf.matMul(tf.ones([2, 3]), tf.ones([3, 2])).dataSync()));
      expect(y).toEqual([3, 3, 3, 3]);
    } finally {
      if (old === undefined) delete process.env.DGM_NATIVE;
      else process.env.DGM_NATIVE = old;
    }
    expect((await loadNativeKernels()).loaded).toBe(native);
  });
});

describe('TypeScript kernels (native unloaded), same cases', () => {
  beforeAll(() => {
    unloadNativeKernels();
  });
  afterAll(async () => {
    await loadNativeKernels();
  });
  modeTests('typescript');
});
