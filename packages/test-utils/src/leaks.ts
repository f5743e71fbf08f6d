import { tf } from '@dgm-js/core-tensors';

/**
 * Runs `fn` and throws if it changed the number of live tensors: whatever a public op,
 * sampler or training step creates must be returned to the caller (and disposed by the test)
 * or disposed by the op itself. Returns `fn`'s result.
 */
export async function expectNoLeaks<T>(fn: () => T | Promise<T>, label = 'operation'): Promise<T> {
  const before = tf.memory().numTensors;
  const result = await fn();
  const after = tf.memory().numTensors;
  if (after !== before) {
    throw new Error(
      `${label} leaked ${after - before} tensor(s): ${before} live before, ${after} after.`,
    );
  }
  return result;
}

/** Disposes every tensor inside a nested structure of results. */
export function disposeAll(x: unknown): void {
  if (x instanceof tf.Tensor) x.dispose();
  else if (Array.isArray(x)) x.forEach(disposeAll);
  else if (x && typeof x === 'object') Object.values(x).forEach(disposeAll);
}
