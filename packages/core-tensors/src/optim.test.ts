import { expectNoLeaks } from '@dgm-js/test-utils';
import { describe, expect, it } from 'vitest';
import {
  Adam,
  adam,
  initBackend,
  loadNativeKernels,
  Rng,
  tf,
  unloadNativeKernels,
  ValueError,
} from './index.js';

await initBackend({ quiet: true });
const native = (await loadNativeKernels()).loaded;

/** Variables of a small least-squares problem (seeded), and its loss. */
function problem(seed: number) {
  const rng = new Rng(seed);
  const a = tf.randomNormal([16, 5], 0, 1, 'float32', rng.next());
  const y = tf.randomNormal([16, 3], 0, 1, 'float32', rng.next());
  const w = tf.variable(tf.randomNormal([5, 3], 0, 1, 'float32', rng.next()));
  const b = tf.variable(tf.zeros([3]));
  const loss = () => tf.mean(tf.square(tf.sub(tf.add(tf.matMul(a, w), b), y))) as tf.Scalar;
  return { vars: [w, b], loss, dispose: () => tf.dispose([a, y, w, b]) };
}

/** Parameters after `steps` steps of `opt`, as plain arrays. */
function train(opt: tf.Optimizer, steps: number, seed = 1): number[][] {
  const p = problem(seed);
  for (let i = 0; i < steps; i++) tf.dispose(opt.minimize(p.loss, true) as tf.Scalar);
  const out = p.vars.map((v) => Array.from(v.dataSync()));
  p.dispose();
  opt.dispose();
  return out;
}

describe(`Adam (native kernels ${native ? 'loaded' : 'not loaded'})`, () => {
  it('matches tf.train.adam step for step, with and without the native update', async () => {
    const reference = train(tf.train.adam(0.05, 0.8, 0.95, 1e-6), 25);
    const ours = train(adam(0.05, 0.8, 0.95, 1e-6), 25);
    unloadNativeKernels();
    const oursOps = train(adam(0.05, 0.8, 0.95, 1e-6), 25);
    await loadNativeKernels();
    for (let i = 0; i < reference.length; i++) {
      expect(ours[i]).toBeAllclose(reference[i]!, { rtol: 1e-5, atol: 1e-6 });
      expect(oursOps[i]).toBeAllclose(reference[i]!, { rtol: 1e-5, atol: 1e-6 });
    }
    // and it trains: the parameters moved
    expect(ours[1]!.some((v) => Math.abs(v) > 1e-3)).toBe(true);
  });

  it('matches tf.train.adam on the cpu backend', async () => {
    await tf.setBackend('cpu');
    try {
      const reference = train(tf.train.adam(0.01), 10, 3);
      const ours = train(adam(0.01), 10, 3);
      for (let i = 0; i < reference.length; i++) expect(ours[i]).toEqual(reference[i]);
    } finally {
      await tf.setBackend('wasm');
    }
  });

  it.skipIf(!native)('updates an unshared parameter in place with the native kernels', async () => {
    const v = tf.tidy(() => tf.variable(tf.tensor([1, 2, 3])));
    const opt = adam(0.5);
    const id = v.dataId;
    tf.dispose(opt.minimize(() => tf.sum(tf.square(v)) as tf.Scalar, true) as tf.Scalar);
    expect(v.dataId).toBe(id); // same buffer: written in place
    // The first Adam step moves each coordinate by about -lr * sign(g).
    expect(Array.from(v.dataSync())).toBeAllclose([0.5, 1.5, 2.5], { atol: 1e-4 });
    unloadNativeKernels();
    tf.dispose(opt.minimize(() => tf.sum(tf.square(v)) as tf.Scalar, true) as tf.Scalar);
    expect(v.dataId).not.toBe(id); // tfjs's ops assign a new buffer
    await loadNativeKernels();
    tf.dispose(v);
    opt.dispose();
  });

  it.skipIf(!native)('stock kernels see the in-place update (no stale packed weights)', () => {
    // The wasm backend caches XNNPACK operators with packed filters per tensor id; a filter
    // updated in place must not keep its old packed values. depthwiseConv2d is a stock kernel.
    const x = tf.tidy(() => tf.randomNormal([1, 5, 5, 2], 0, 1, 'float32', 7));
    const v = tf.tidy(() => tf.variable(tf.randomNormal([3, 3, 2, 1], 0, 1, 'float32', 8)));
    const conv = (f: tf.Tensor) =>
      tf.depthwiseConv2d(x as tf.Tensor4D, f as tf.Tensor4D, 1, 'same');
    const opt = adam(0.1);
    tf.dispose(conv(v)); // the stock kernel caches its operator for v
    const id = v.dataId;
    // (the stock wasm backend has no depthwise filter gradient: the loss here is a plain one)
    tf.dispose(opt.minimize(() => tf.sum(tf.square(v)) as tf.Scalar, true) as tf.Scalar);
    expect(v.dataId).toBe(id); // updated in place
    const fresh = tf.tensor(v.dataSync(), v.shape); // a new buffer with the new values
    const got = conv(v);
    const want = conv(fresh);
    expect(Array.from(got.dataSync())).toBeAllclose(Array.from(want.dataSync()), {
      rtol: 1e-6,
      atol: 1e-6,
    });
    tf.dispose([x, v, fresh, got, want]);
    opt.dispose();
  });

  it('never writes through a buffer another tensor shares', () => {
    // tf.variable(t) shares t's buffer while t is alive: t must keep its value.
    const t = tf.tensor([1, 2, 3]);
    const v = tf.variable(t);
    const snapshot = tf.clone(v); // clones share buffers too
    const opt = adam(0.5);
    for (let i = 0; i < 3; i++) {
      tf.dispose(opt.minimize(() => tf.sum(tf.square(v)) as tf.Scalar, true) as tf.Scalar);
    }
    expect(Array.from(t.dataSync())).toEqual([1, 2, 3]);
    expect(Array.from(snapshot.dataSync())).toEqual([1, 2, 3]);
    const after = Array.from(v.dataSync());
    expect(after[2]).toBeLessThan(3);
    tf.dispose([t, v, snapshot]);
    opt.dispose();
  });

  it('keeps tfjs Adam state: class name, weights round trip', async () => {
    const opt = adam(0.01);
    expect(opt).toBeInstanceOf(Adam);
    expect(opt).toBeInstanceOf(tf.AdamOptimizer);
    expect(opt.getClassName()).toBe('Adam');
    const p = problem(4);
    for (let i = 0; i < 3; i++) tf.dispose(opt.minimize(p.loss, true) as tf.Scalar);
    const weights = await opt.getWeights();
    expect(weights.map((w) => w.name)).toEqual([
      'iter',
      `${p.vars[0]!.name}/m`,
      `${p.vars[1]!.name}/m`,
      `${p.vars[0]!.name}/v`,
      `${p.vars[1]!.name}/v`,
    ]);
    const copy = adam(0.01);
    await copy.setWeights(weights.map((w) => ({ name: w.name, tensor: tf.clone(w.tensor) })));
    const m0 = Array.from((await copy.getWeights())[1]!.tensor.dataSync());
    expect(m0).toEqual(Array.from(weights[1]!.tensor.dataSync()));
    tf.dispose(weights[0]!.tensor); // getWeights' iteration count is a fresh scalar
    p.dispose();
    opt.dispose();
    copy.dispose();
  });

  it('leaks no tensors per step after the first (which creates the moments)', async () => {
    const p = problem(5);
    const opt = adam(0.01);
    tf.dispose(opt.minimize(p.loss, true) as tf.Scalar);
    await expectNoLeaks(() => {
      tf.dispose(opt.minimize(p.loss, true) as tf.Scalar);
    }, 'adam step');
    p.dispose();
    opt.dispose();
  });

  it('rejects bad hyper-parameters with a ValueError naming them', () => {
    expect(() => adam(Number.NaN)).toThrow(ValueError);
    expect(() => adam(-1)).toThrow(/learningRate must be positive, got -1/);
    expect(() => adam(0)).toThrow(/learningRate must be positive/);
    expect(() => adam(0.1, 1)).toThrow(/beta1 and beta2/);
    expect(() => adam(0.1, 0.9, 0.999, 0)).toThrow(/epsilon/);
    const opt = adam();
    expect(() => opt.applyGradients([{ name: 'no-such-variable', tensor: tf.scalar(1) }])).toThrow(
      /no-such-variable/,
    );
    opt.dispose();
  });
});
