// Shared by the kernel tests (not exported from the package): run a computation on wasm (with
// whatever kernels are registered) and on cpu, and compare values and gradients.
import { expect } from 'vitest';
import { Rng, tf } from '../index.js';

/** Runs `fn` on `backend` and returns plain arrays (values and gradients). */
export async function on(backend: 'cpu' | 'wasm', fn: () => tf.Tensor[]): Promise<number[][]> {
  await tf.setBackend(backend);
  const out = tf.tidy(fn);
  const vals = out.map((t) => Array.from(t.dataSync()));
  tf.dispose(out);
  await tf.setBackend('wasm');
  return vals;
}

/** Asserts that `fn` gives the same tensors on wasm as on cpu. */
export async function compare(fn: () => tf.Tensor[], rtol = 1e-4, atol = 1e-4): Promise<void> {
  const w = await on('wasm', fn);
  const c = await on('cpu', fn);
  expect(w.length).toBe(c.length);
  for (let i = 0; i < w.length; i++) expect(w[i]).toBeAllclose(c[i]!, { rtol, atol });
}

/** Uniform(-1, 1) data made in JS from a seed, so both backends see identical inputs. */
export function randn(shape: number[], seed: number): tf.Tensor {
  const rng = new Rng(seed);
  const n = shape.reduce((a, b) => a * b, 1);
  const v = new Float32Array(n);
  for (let i = 0; i < n; i++) v[i] = rng.float() * 2 - 1;
  return tf.tensor(v, shape);
}
