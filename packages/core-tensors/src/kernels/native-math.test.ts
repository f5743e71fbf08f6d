import { expectNoLeaks } from '@dgm-js/test-utils';
import { describe, expect, it } from 'vitest';
import {
  initBackend,
  loadNativeKernels,
  nativeKernelsStatus,
  tf,
  unloadNativeKernels,
} from '../index.js';
import { compare, on, randn } from './test-helpers.js';

await initBackend({ quiet: true });
const first = await loadNativeKernels();
const native = first.loaded;
const why = native
  ? 'loaded'
  : first.summary.replace(/^native kernels: off \((.*)\)$/, 'skipped: $1');

type Op = (x: tf.Tensor) => tf.Tensor;
const NAMES = [
  'Exp',
  'Expm1',
  'Log',
  'Log1p',
  'Sigmoid',
  'Tanh',
  'Softplus',
  'Sqrt',
  'Rsqrt',
  'Erf',
];
/** [kernel, op, whether the input must be positive]. */
const OPS: Array<[string, Op, boolean]> = [
  ['Exp', tf.exp, false],
  ['Expm1', tf.expm1, false],
  ['Log', tf.log, true],
  ['Log1p', (x) => tf.tidy(() => tf.log1p(tf.abs(x))), false],
  ['Sigmoid', tf.sigmoid, false],
  ['Tanh', tf.tanh, false],
  ['Softplus', tf.softplus, false],
  ['Sqrt', tf.sqrt, true],
  ['Rsqrt', tf.rsqrt, true],
  ['Erf', (x) => tf.tidy(() => tf.erf(tf.mul(x, 0.1))), false],
];

/**
 * erf in float64 (the cpu backend's Erf is Abramowitz-Stegun 7.1.26, absolute error 1.5e-7, so
 * it is no reference at small inputs): 2/sqrt(pi) exp(-x^2) sum_n 2^n x^(2n+1) / (2n+1)!!.
 */
function erf64(x: number): number {
  if (Number.isNaN(x)) return x;
  const a = Math.abs(x);
  if (a >= 6) return Math.sign(x);
  let term = a;
  let sum = a;
  for (let n = 1; term > sum * 1e-17; n++) {
    term *= (2 * a * a) / (2 * n + 1);
    sum += term;
  }
  const r = (2 / Math.sqrt(Math.PI)) * Math.exp(-a * a) * sum;
  return x < 0 || Object.is(x, -0) ? -r : r;
}

const INF = Number.POSITIVE_INFINITY;
/** Inputs at the edges: over/underflow thresholds, tiny and huge values, +-0, +-Inf, NaN. */
const EXTREME = [
  -1e4,
  -104,
  -100,
  -88.8,
  -87.3,
  -20,
  -15,
  -3e-7,
  -1e-30,
  -0,
  0,
  1e-30,
  3e-7,
  1e-3,
  0.5,
  15,
  20,
  88.7,
  88.8,
  1e4,
  3e38,
  INF,
  -INF,
  Number.NaN,
];
const EXTREME_POS = [0, 1e-40, 1e-30, 3e-7, 1e-3, 0.5, 1, 2, 1e4, 3e38, INF, -1, -INF, Number.NaN];

/** Native vs cpu: both within a few ulp (cpu computes in float64), denormals included. */
const TIGHT = { rtol: 1e-6, atol: 1e-40 };
/** The stock wasm kernels are less accurate (Log1p near 0, Softplus near its thresholds). */
const LOOSE = { rtol: 1e-5, atol: 1e-6 };

/** Runs `fn` on wasm and cpu; compares values with `tol`. */
async function compareTol(fn: () => tf.Tensor[], tol: { rtol: number; atol: number }) {
  const w = await on('wasm', fn);
  const c = await on('cpu', fn);
  expect(w.length).toBe(c.length);
  for (let i = 0; i < w.length; i++) expect(w[i]).toBeAllclose(c[i]!, tol);
}

function cases(mode: 'native' | 'fallback') {
  const skip = mode === 'native' && !native;
  const setup = async () => {
    if (mode === 'fallback') unloadNativeKernels();
    else await loadNativeKernels();
  };
  const tol = mode === 'native' ? TIGHT : LOOSE;

  it.skipIf(skip)(`${mode === 'native' ? 'serves' : 'does not serve'} the kernels`, async () => {
    await setup();
    const served = nativeKernelsStatus().kernels;
    for (const name of NAMES) expect(served.includes(name), name).toBe(mode === 'native');
  });

  for (const [name, op, positive] of OPS) {
    it.skipIf(skip)(`${name}: values and gradients match cpu (shapes incl. empty)`, async () => {
      await setup();
      const input = (shape: number[], seed: number) =>
        positive
          ? tf.add(tf.abs(tf.mul(randn(shape, seed), 20)), 1e-3)
          : tf.mul(randn(shape, seed), 20);
      await compare(
        () => {
          const x = input([37, 29], 1); // 1073 floats: vector blocks and a partial one
          const up = randn([37, 29], 2);
          const g = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(up, op(t))))(x);
          return [op(x), g, op(input([], 3)), op(input([3, 0], 4)), op(input([5], 5))];
        },
        1e-5,
        1e-6,
      );
    });

    it.skipIf(skip)(`${name}: extreme inputs (+-0, +-Inf, NaN, overflow, denormals)`, async () => {
      await setup();
      const xs = positive ? EXTREME_POS : EXTREME;
      if (name !== 'Erf') {
        await compareTol(() => [op(tf.tensor1d(xs))], tol);
        return;
      }
      const got = tf.tidy(() => Array.from(tf.erf(tf.tensor1d(xs)).dataSync()));
      const want = xs.map((v) => erf64(Math.fround(v)));
      // Against float64, not cpu (whose Erf is an approximation); the stock wasm Erf is exact too.
      expect(got).toBeAllclose(want, { rtol: 2e-7, atol: 1e-44 });
    });
  }

  it.skipIf(skip)('int32 inputs go to the stock kernels', async () => {
    await setup();
    await compare(() => {
      const i = tf.tensor1d([0, 1, 4, 9], 'int32');
      // Only Exp is checked: tfjs's log, sigmoid, tanh, sqrt and rsqrt ops take float32 only,
      // cpu keeps int32 (truncating) for expm1, log1p and softplus, and the stock wasm kernels
      // return garbage for int32 log1p / softplus (a tfjs 4.22 bug, left as is).
      return [tf.exp(i)];
    });
  });

  it.skipIf(skip)('no tensors leak (forward and gradients)', async () => {
    await setup();
    const x = tf.add(tf.abs(randn([64, 33], 9)), 0.5);
    const empty = tf.zeros([0, 4]);
    await expectNoLeaks(() => {
      const outs: tf.Tensor[] = [];
      for (const [, op] of OPS) {
        outs.push(op(x), op(empty), tf.grad((t: tf.Tensor) => tf.sum(op(t)))(x));
      }
      tf.dispose(outs);
    }, `native math (${mode})`);
    tf.dispose([x, empty]);
  });
}

describe(`native elementwise kernels (${why})`, () => {
  cases('native');

  it.skipIf(!native)(
    'log1p keeps full relative accuracy near 0 (the stock kernel does not)',
    async () => {
      await loadNativeKernels();
      const xs = [1e-7, 3e-7, -3e-7, 1e-5, -1e-5];
      const got = tf.tidy(() => Array.from(tf.log1p(tf.tensor1d(xs)).dataSync()));
      expect(got).toBeAllclose(
        xs.map((v) => Math.log1p(Math.fround(v))),
        { rtol: 2e-7, atol: 0 },
      );
    },
  );
});

describe('stock wasm kernels (native unloaded), same cases', () => {
  cases('fallback');
  it('loads the native kernels again afterwards', async () => {
    await loadNativeKernels();
    expect(nativeKernelsStatus().loaded).toBe(native);
  });
});
