import { expectNoLeaks } from '@dgm-js/test-utils';
import { describe, expect, it } from 'vitest';
import {
  initBackend,
  loadNativeKernels,
  ShapeError,
  sigmoidCrossEntropyWithLogits,
  tf,
  unloadNativeKernels,
  ValueError,
} from './index.js';
import { randn } from './kernels/test-helpers.js';

await initBackend({ quiet: true });
const native = (await loadNativeKernels()).loaded;

/** Float64 reference: softplus(l) - x l, and d/dl = sigmoid(l) - x, d/dx = -l. */
function reference(x: number[], l: number[]) {
  const sp = (v: number) => Math.max(v, 0) + Math.log1p(Math.exp(-Math.abs(v)));
  const loss = l.map((v, i) => sp(v) - x[i]! * v);
  const dl = l.map((v, i) => 1 / (1 + Math.exp(-v)) - x[i]!);
  const dx = l.map((v) => -v);
  return { loss, dl, dx };
}

const X = [0, 1, 0.25, 1, 0, 1, 0.5, 0];
const L = [-3, 2.5, 0, -1e4, 1e4, 30, -0.1, 88];

function check(mode: string) {
  for (const reduction of ['none', 'sum', 'mean'] as const) {
    it(`${mode}: ${reduction} values and gradients vs float64 (extreme logits too)`, () => {
      const x = tf.tensor(X, [2, 4]);
      const l = tf.tensor(L, [2, 4]);
      const w = tf.tensor([1, 2, 3, 4, 5, 6, 7, 8], [2, 4]);
      const f = (a: tf.Tensor, b: tf.Tensor) => {
        const v = sigmoidCrossEntropyWithLogits(a, b, reduction);
        return reduction === 'none' ? tf.sum(tf.mul(v, w)) : tf.mul(v, 3);
      };
      const value = sigmoidCrossEntropyWithLogits(x, l, reduction);
      const [gx, gl] = tf.grads(f)([x, l]);
      const r = reference(X, L);
      const n = reduction === 'mean' ? 8 : 1;
      const scale = (i: number) => (reduction === 'none' ? i + 1 : 3 / n);
      const total = r.loss.reduce((a, b) => a + b, 0);
      if (reduction === 'none')
        expect(Array.from(value.dataSync())).toBeAllclose(r.loss, { rtol: 1e-6, atol: 1e-6 });
      else expect([value.dataSync()[0]!]).toBeAllclose([total / n], { rtol: 1e-6, atol: 1e-6 });
      expect(Array.from(gl!.dataSync())).toBeAllclose(
        r.dl.map((v, i) => v * scale(i)),
        { rtol: 1e-5, atol: 1e-6 },
      );
      expect(Array.from(gx!.dataSync())).toBeAllclose(
        r.dx.map((v, i) => v * scale(i)),
        { rtol: 1e-6, atol: 1e-6 },
      );
      tf.dispose([x, l, w, value, gx!, gl!]);
    });
  }
  for (const reduction of ['none', 'mean'] as const) {
    it(`${mode}: ${reduction} second derivatives vs float64 (d2/dl2 = s(1 - s), d2/dl dx = -1)`, () => {
      const x = tf.tensor(X, [2, 4]);
      const l = tf.tensor(
        L.map((v) => Math.max(-20, Math.min(20, v))),
        [2, 4],
      );
      const w = tf.tensor([1, 2, 3, 4, 5, 6, 7, 8], [2, 4]);
      const u = tf.tensor([0.5, -1, 2, 1, 3, -2, 1, 0.25], [2, 4]);
      const n = reduction === 'mean' ? 8 : 1;
      // f(c) = sum(u * loss) ('none') or 3 * loss ('mean'); g = sum(w * df/dc)
      const g = (a: tf.Tensor, b: tf.Tensor, v: tf.Tensor) =>
        tf.sum(
          tf.mul(
            w,
            tf.grad((c: tf.Tensor) => {
              const loss = sigmoidCrossEntropyWithLogits(a, c, reduction);
              return reduction === 'none' ? tf.sum(tf.mul(v, loss)) : tf.mul(loss, 3);
            })(b),
          ),
        );
      const [ga, gb, gu] =
        reduction === 'none'
          ? tf.grads(g)([x, l, u])
          : [...tf.grads((a: tf.Tensor, b: tf.Tensor) => g(a, b, u))([x, l]), tf.zeros([1])];
      const s = Array.from(l.dataSync()).map((v) => 1 / (1 + Math.exp(-v)));
      const uv = Array.from(u.dataSync());
      const c = (i: number) => (i + 1) * (reduction === 'none' ? uv[i]! : 3 / n);
      expect(Array.from(gb!.dataSync())).toBeAllclose(
        s.map((v, i) => c(i) * v * (1 - v)),
        { rtol: 1e-5, atol: 1e-7 },
      );
      expect(Array.from(ga!.dataSync())).toBeAllclose(
        s.map((_, i) => -c(i)),
        { rtol: 1e-6, atol: 1e-6 },
      );
      if (reduction === 'none') {
        // d g / d u_i = w_i (s_i - x_i): the gradient through the upstream gradient dy
        expect(Array.from(gu!.dataSync())).toBeAllclose(
          s.map((v, i) => (i + 1) * (v - X[i]!)),
          { rtol: 1e-5, atol: 1e-6 },
        );
      }
      tf.dispose([x, l, w, u, ga!, gb!, gu!]);
    });
  }
}

describe(`sigmoidCrossEntropyWithLogits (native ${native ? 'loaded' : 'not loaded'})`, () => {
  check('default kernels');

  it.skipIf(!native)('runs as the one fused kernel on wasm with the native kernels', async () => {
    const x = tf.ones([3, 5]);
    const l = randn([3, 5], 1);
    const p = await tf.profile(() => tf.dispose(sigmoidCrossEntropyWithLogits(x, l, 'mean')));
    expect(p.kernels.map((k) => k.name)).toEqual(['DgmSigmoidXent']);
    tf.dispose([x, l]);
  });

  it('matches the cpu backend on a large random case (mean and none)', async () => {
    const x = tf.tidy(() => tf.cast(tf.greater(randn([64, 100], 2), 0), 'float32'));
    const l = tf.tidy(() => tf.mul(randn([64, 100], 3), 8));
    const run = () => {
      const [g] = tf.grads((b: tf.Tensor) => sigmoidCrossEntropyWithLogits(x, b, 'mean'))([l]);
      const none = sigmoidCrossEntropyWithLogits(x, l);
      const out = [Array.from(g!.dataSync()), Array.from(none.dataSync())];
      tf.dispose([g!, none]);
      return out;
    };
    const wasm = run();
    await tf.setBackend('cpu');
    const xc = tf.tensor(x.dataSync(), x.shape);
    const lc = tf.tensor(l.dataSync(), l.shape);
    const [g] = tf.grads((b: tf.Tensor) => sigmoidCrossEntropyWithLogits(xc, b, 'mean'))([lc]);
    const none = sigmoidCrossEntropyWithLogits(xc, lc);
    const cpu = [Array.from(g!.dataSync()), Array.from(none.dataSync())];
    tf.dispose([g!, none, xc, lc]);
    await tf.setBackend('wasm');
    expect(wasm[0]).toBeAllclose(cpu[0]!, { rtol: 1e-5, atol: 1e-8 });
    expect(wasm[1]).toBeAllclose(cpu[1]!, { rtol: 1e-5, atol: 1e-6 });
    tf.dispose([x, l]);
  });

  it('broadcasts through the composite; rejects bad shapes and reductions', () => {
    const x = tf.tensor([[0, 1, 1]]);
    const l = tf.tensor([
      [0.5, -1, 2],
      [0, 0, 0],
    ]);
    const v = sigmoidCrossEntropyWithLogits(x, l);
    expect(v.shape).toEqual([2, 3]);
    expect(v.dataSync()[3]).toBeCloseTo(Math.log(2), 6);
    expect(() => sigmoidCrossEntropyWithLogits(tf.ones([2]), tf.ones([3]))).toThrow(ShapeError);
    expect(() => sigmoidCrossEntropyWithLogits(x, x, 'avg' as 'mean')).toThrow(ValueError);
    tf.dispose([x, l, v]);
  });

  it('leaks no tensors, forward and backward', async () => {
    const x = tf.ones([4, 6]);
    const l = randn([4, 6], 4);
    await expectNoLeaks(() => {
      const [g] = tf.grads((b: tf.Tensor) => sigmoidCrossEntropyWithLogits(x, b, 'sum'))([l]);
      tf.dispose([g!, sigmoidCrossEntropyWithLogits(x, l)]);
    }, 'sigmoidCrossEntropyWithLogits');
    tf.dispose([x, l]);
  });
});

describe('sigmoidCrossEntropyWithLogits without the native kernels (composite)', () => {
  it('unloads', () => {
    unloadNativeKernels();
  });
  check('composite');
  it('loads again', async () => {
    expect((await loadNativeKernels()).loaded).toBe(native);
  });
});
