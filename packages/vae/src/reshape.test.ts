/** BatchReshaped against the same distribution built with the target batch shape directly. */
import { Bernoulli, Independent, Rng, ShapeError, tf } from '@dgm-js/core-tensors';
import { expectNoLeaks } from '@dgm-js/test-utils';
import { describe, expect, it } from 'vitest';
import { BatchReshaped } from './index.js';

function pair(batch: number[]) {
  const n = batch.reduce((a, b) => a * b, 1);
  const logits = tf.tidy(() => tf.mul(tf.randomNormal([n, 4], 0, 1, 'float32', 3), 2));
  const shaped = tf.reshape(logits, [...batch, 4]);
  const flat = new Independent(new Bernoulli({ logits }), 1);
  const direct = new Independent(new Bernoulli({ logits: shaped }), 1);
  return {
    d: new BatchReshaped(flat, batch),
    direct,
    dispose: () => tf.dispose([logits, shaped]),
  };
}

const binary = (shape: number[], seed: number) =>
  tf.tidy(() => tf.cast(tf.less(tf.randomUniform(shape, 0, 1, 'float32', seed), 0.5), 'float32'));

describe('BatchReshaped', () => {
  it.each([
    [[3, 2], [4]],
    [
      [3, 2],
      [2, 4],
    ],
    [
      [3, 2],
      [5, 3, 2, 4],
    ],
    [
      [3, 1, 2],
      [5, 2, 4],
    ],
    [
      [1, 3],
      [2, 1, 4],
    ],
  ])('batch %j, x %j: logProb broadcasts exactly as the direct distribution', (batch, xs) => {
    const { d, direct, dispose } = pair(batch);
    const x = binary(xs, 7);
    const a = d.logProb(x);
    const b = direct.logProb(x);
    expect(a).toBeAllclose(b, { rtol: 1e-6, atol: 1e-6 });
    tf.dispose([x, a, b]);
    d.dispose();
    direct.dispose();
    dispose();
  });

  it('sample, mean, mode and entropy have the new batch shape and the direct values', () => {
    const { d, direct, dispose } = pair([3, 2]);
    const s = d.sample({ sampleShape: [5], rng: new Rng(1) });
    const t = direct.sample({ sampleShape: [5], rng: new Rng(1) });
    expect(s).toBeAllclose(t, { rtol: 0, atol: 0 });
    for (const [u, v] of [
      [d.mean, direct.mean],
      [d.mode, direct.mode],
      [d.entropy(), direct.entropy()],
    ] as const) {
      expect(u).toBeAllclose(v, { rtol: 1e-6, atol: 1e-7 });
      tf.dispose([u, v]);
    }
    tf.dispose([s, t]);
    expect(() => new BatchReshaped(direct, [7])).toThrow(ShapeError);
    d.dispose();
    direct.dispose();
    dispose();
  });

  it('leaks nothing', async () => {
    const { d, direct, dispose } = pair([3, 1, 2]);
    const x = binary([5, 2, 4], 8);
    await expectNoLeaks(() => {
      tf.dispose([d.logProb(x), d.sample({ rng: new Rng(0) }), d.mean, d.entropy()]);
    }, 'BatchReshaped');
    x.dispose();
    d.dispose();
    direct.dispose();
    dispose();
  });
});
