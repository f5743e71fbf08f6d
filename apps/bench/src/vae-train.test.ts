/**
 * The shared VAE-training helper of the bench: it takes exactly the steps asked for, training
 * improves the ELBO on the training images (measured independently by @dgm-js/eval's
 * evaluateElbo before and after, same seed), and it leaves no tensors behind (the optimiser's
 * slots are disposed; the VAE's parameters are the caller's).
 */
import { Rng } from '@dgm-js/core-tensors';
import { loadBinarizedMnist, toTensors } from '@dgm-js/datasets';
import { evaluateElbo } from '@dgm-js/eval';
import { expectNoLeaks } from '@dgm-js/test-utils';
import { GaussianVAE } from '@dgm-js/vae';
import { describe, expect, it } from 'vitest';
import { trainVae } from './vae-train.js';

describe('trainVae', () => {
  it('takes the steps asked for, raises the ELBO, leaks nothing', async () => {
    const mnist = await loadBinarizedMnist({ binarization: 'fixed', seed: 0, flat: true });
    const train = mnist.train.slice(0, 500);
    const x = toTensors(train.slice(0, 200), { fields: ['x'] }).x;
    const vae = GaussianVAE.mlp({ inputDim: 784, hidden: [32], latentDim: 4, rng: new Rng(0) });
    const before = await evaluateElbo(vae, x, { seed: 1 });
    const res = await expectNoLeaks(() =>
      trainVae(vae, train, { steps: 40, batchSize: 50, learningRate: 3e-3 }),
    );
    const after = await evaluateElbo(vae, x, { seed: 1 });
    expect(res.steps).toBe(40);
    expect(Number.isFinite(res.lastElbo)).toBe(true);
    // Untrained the ELBO is ~-550 nats; 40 steps must move it by far more than its error.
    expect(after.mean - before.mean).toBeGreaterThan(10 * (after.stderr + before.stderr));
    x.dispose();
    vae.dispose();
  }, 60000);
});
