/**
 * Each estimator trains a small categorical VAE (and, for the Bernoulli-capable ones, a
 * Bernoulli VAE) on a binarized-MNIST subset to a better test ELBO than it started with; exact
 * discrete samples score it.
 */
import { Rng, tf } from '@dgm-js/core-tensors';
import { getBatch, loadBinarizedMnist } from '@dgm-js/datasets';
import { type EstimatorName, estimatorByName } from '@dgm-js/estimators';
import { beforeAll, describe, expect, it } from 'vitest';
import { BernoulliVAE, CategoricalVAE } from './discrete.js';

let train: tf.Tensor;
let test: tf.Tensor;
const N = 256;
const B = 64;

beforeAll(async () => {
  const splits = await loadBinarizedMnist({ binarization: 'fixed', seed: 0, flat: true });
  train = getBatch(
    splits.train,
    Array.from({ length: N }, (_, i) => i),
    { fields: ['x'] },
  ).x;
  test = getBatch(
    splits.test,
    Array.from({ length: 64 }, (_, i) => i),
    { fields: ['x'] },
  ).x;
});

function testElbo(vae: CategoricalVAE | BernoulliVAE): number {
  return tf.tidy(
    () => tf.mean(vae.elbo(test, { rng: new Rng(99), samples: 4 })).dataSync()[0] as number,
  );
}

function fit(vae: CategoricalVAE | BernoulliVAE, steps: number, k: number): void {
  const opt = tf.train.adam(3e-3);
  const rng = new Rng(1);
  for (let s = 0; s < steps; s++) {
    const i = (s * B) % N;
    tf.tidy(() => {
      const x = tf.slice(train, [i], [B]);
      opt.minimize(() => vae.loss(x, { rng, k, step: s }).loss);
    });
  }
  opt.dispose();
}

const NAMES: EstimatorName[] = [
  'score-function',
  'nvil',
  'vimco',
  'straight-through',
  'gumbel-softmax',
  'st-gumbel-softmax',
  'rebar',
  'relax',
];

describe('every estimator trains a discrete VAE on binarized MNIST (256 examples)', () => {
  it.each(NAMES)('categorical 8 x 4, %s: test ELBO improves', (name) => {
    const vae = CategoricalVAE.mlp({
      inputDim: 784,
      hidden: [32],
      latents: 8,
      categories: 4,
      estimator: estimatorByName(name, { temperature: 1, hidden: 16 }),
      rng: new Rng(0),
    });
    const before = testElbo(vae);
    fit(vae, 25, name === 'vimco' ? 4 : 1);
    const after = testElbo(vae);
    expect(after).toBeGreaterThan(before + 20);
    vae.dispose();
  });

  it.each(['nvil', 'st-gumbel-softmax'] as const)(
    'bernoulli 16, %s: test ELBO improves',
    (name) => {
      const vae = BernoulliVAE.mlp({
        inputDim: 784,
        hidden: [32],
        latentDim: 16,
        estimator: estimatorByName(name, { temperature: 1, hidden: 16 }),
        rng: new Rng(0),
      });
      const before = testElbo(vae);
      fit(vae, 25, 1);
      const after = testElbo(vae);
      expect(after).toBeGreaterThan(before + 20);
      vae.dispose();
    },
  );
});
