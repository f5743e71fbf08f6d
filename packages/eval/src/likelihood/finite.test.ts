/**
 * A NaN model is a typed error in the dataset evaluations, not a NaN mean (issue 19, finding 5).
 */
import { DgmError, tf, ValueError } from '@dgm-js/core-tensors';
import { describe, expect, it } from 'vitest';
import { estimateLogLikelihood, evaluateElbo, evaluateLogProb } from '../evaluate.js';
import { NonFiniteResultError } from './finite.js';

/** A model whose per-example value is w * sum(x) for a parameter w (NaN: a diverged run). */
function model(w: number) {
  const weight = tf.scalar(w);
  const f = (x: tf.Tensor) =>
    tf.tidy(() => tf.mul(weight, tf.sum(tf.reshape(x, [x.shape[0]!, -1]), 1)));
  return {
    elbo: (x: tf.Tensor) => f(x),
    iwae: (x: tf.Tensor) => f(x),
    logProb: (x: tf.Tensor) => f(x),
    dispose: () => weight.dispose(),
  };
}

describe('evaluateElbo / estimateLogLikelihood / evaluateLogProb of a NaN model', () => {
  it('throw a NonFiniteResultError naming the method and the example, and leak nothing', async () => {
    const x = tf.ones([5, 3]);
    const good = model(-0.5);
    const r = await evaluateElbo(good, x, { batchSize: 2 });
    expect(r.mean).toBeCloseTo(-1.5, 6);
    const bad = model(Number.NaN);
    const before = tf.memory().numTensors;
    for (const [method, run] of [
      ['elbo', () => evaluateElbo(bad, x, { batchSize: 2 })],
      ['iwae', () => estimateLogLikelihood(bad, x, { k: 3, chunk: 2 })],
      ['logProb', () => evaluateLogProb(bad, x)],
    ] as const) {
      const e = (await run().catch((err: unknown) => err)) as NonFiniteResultError;
      expect(e, method).toBeInstanceOf(NonFiniteResultError);
      expect(e).toBeInstanceOf(ValueError);
      expect(e).toBeInstanceOf(DgmError);
      expect(e.method).toBe(method);
      expect(e.index).toBe(0);
      expect(Number.isNaN(e.value)).toBe(true);
      expect(e.message).toMatch(new RegExp(`model\\.${method} returned NaN for example 0`));
    }
    expect(tf.memory().numTensors).toBe(before);
    const inf = model(Number.NEGATIVE_INFINITY);
    const ei = (await evaluateLogProb(inf, x).catch((err: unknown) => err)) as NonFiniteResultError;
    expect(ei.value).toBe(Number.NEGATIVE_INFINITY);
    expect(ei.message).toMatch(/zero probability/);
    for (const m of [good, bad, inf]) m.dispose();
    x.dispose();
  });
});
