import { describe, expect, it } from 'vitest';
import { BackendError, initBackend, tf } from './index.js';

describe('initBackend', () => {
  it('chooses wasm here (tfjs-node is not installed) and reports why tensorflow was skipped', async () => {
    const info = await initBackend({ quiet: true });
    expect(info.name).toBe('wasm');
    expect(info.summary).toMatch(/tfjs-node/);
    expect(tf.getBackend()).toBe('wasm');
  });
  it('can be forced to cpu and back to wasm', async () => {
    const cpu = await initBackend({ backend: 'cpu', quiet: true });
    expect(cpu.name).toBe('cpu');
    expect(tf.getBackend()).toBe('cpu');
    const w = await initBackend({ backend: 'wasm', quiet: true });
    expect(w.name).toBe('wasm');
    expect(tf.getBackend()).toBe('wasm');
  });
  it('forcing tensorflow where tfjs-node is absent is a clear BackendError', async () => {
    await expect(initBackend({ backend: 'tensorflow', quiet: true })).rejects.toThrow(BackendError);
    await expect(initBackend({ backend: 'tensorflow', quiet: true })).rejects.toThrow(/tfjs-node/);
    await initBackend({ backend: 'wasm', quiet: true });
  });
  it('an unknown backend name is rejected with the list of valid ones', async () => {
    await expect(initBackend({ backend: 'gpu' as never, quiet: true })).rejects.toThrow(
      /unknown backend 'gpu'.*tensorflow, wasm, cpu/,
    );
  });
  it('gradients are registered', () => {
    const g = tf.tidy(() =>
      Array.from(
        tf
          .grad((x: tf.Tensor) => tf.sum(tf.square(x)))(tf.tensor1d([1, 2]))
          .dataSync(),
      ),
    );
    expect(g).toEqual([2, 4]);
  });
});
