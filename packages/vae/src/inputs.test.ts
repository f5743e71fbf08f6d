/**
 * Bad data is a typed error (issue 19, finding 5): a Bernoulli likelihood refuses x outside
 * [0, 1] (x = 255 used to give a finite, meaningless loss), and a 0-row batch is a ShapeError in
 * the loss and the bounds.
 */
import { Rng, ShapeError, tf, ValueError } from '@dgm-js/core-tensors';
import { describe, expect, it } from 'vitest';
import { BernoulliVAE, CategoricalVAE } from './discrete.js';
import { GaussianVAE } from './vae.js';

const D = 6;

describe('a Bernoulli likelihood checks its data', () => {
  it.each([
    [
      'gaussian latents',
      () => GaussianVAE.mlp({ inputDim: D, hidden: [5], latentDim: 2, rng: new Rng(0) }),
    ],
    [
      'categorical latents (through the estimator)',
      () =>
        CategoricalVAE.mlp({
          inputDim: D,
          hidden: [5],
          latents: 2,
          categories: 3,
          estimator: 'score-function',
          rng: new Rng(0),
        }),
    ],
    [
      'bernoulli latents',
      () =>
        BernoulliVAE.mlp({
          inputDim: D,
          hidden: [5],
          latentDim: 2,
          estimator: 'nvil',
          rng: new Rng(0),
        }),
    ],
  ] as const)(
    '%s: x = 255 is a ValueError in loss, elbo and iwae; 0/1 data is fine',
    (_n, make) => {
      const vae = make();
      const rng = new Rng(1);
      const x255 = tf.tidy(() => tf.mul(tf.ones([3, D]), 255));
      const before = tf.memory().numTensors;
      const calls: [string, () => unknown][] = [
        ['loss', () => vae.loss(x255, { rng, k: 2 })],
        ['elbo', () => vae.elbo(x255, { rng })],
        ['iwae', () => vae.iwae(x255, 4, { rng })],
      ];
      for (const [name, call] of calls) {
        expect(call, name).toThrow(ValueError);
        expect(call, name).toThrow(
          /x\[0\] \(flat index\) is 255, outside the support \[0, 1\].*x \/ 255/,
        );
      }
      expect(tf.memory().numTensors).toBe(before);
      const x01 = tf.tidy(() =>
        tf.cast(tf.greater(tf.randomUniform([3, D], 0, 1, 'float32', 3), 0.5), 'float32'),
      );
      const e = vae.elbo(x01, { rng });
      expect(Array.from(e.dataSync()).every(Number.isFinite)).toBe(true);
      tf.dispose([e, x01, x255]);
      vae.dispose();
    },
  );
});

describe('0-row batches', () => {
  it('are a ShapeError in the loss and the bounds', () => {
    const vae = GaussianVAE.mlp({ inputDim: D, hidden: [5], latentDim: 2, rng: new Rng(0) });
    const x = tf.zeros([0, D]);
    const rng = new Rng(0);
    expect(() => vae.loss(x, { rng })).toThrow(ShapeError);
    expect(() => vae.elbo(x, { rng })).toThrow(ShapeError);
    expect(() => vae.iwae(x, 2, { rng })).toThrow(/x has shape \[0, 6\]/);
    x.dispose();
    vae.dispose();
  });
});
