/**
 * The VAE demo's shipped checkpoint (site/public/checkpoints/vae-mnist-2d/, made by
 * scripts/train-vae.ts): it loads strictly (every name and shape) into the architecture its
 * metadata names, its decoder gives pixel probabilities that change across the latent plane, and
 * its test ELBO on the first 1000 binarized-MNIST test digits, recomputed here, is the one its
 * metadata records (same seeds) and far above an untrained model's.
 */
import { fileURLToPath } from 'node:url';
import { initBackend, loadModule, loadState, Rng, tf } from '@dgm-js/core-tensors';
import { loadBinarizedMnist, toTensors } from '@dgm-js/datasets';
import { expectNoLeaks } from '@dgm-js/test-utils';
import { GaussianVAE } from '@dgm-js/vae';
import { beforeAll, describe, expect, it } from 'vitest';

const dir = fileURLToPath(new URL('../site/public/checkpoints/vae-mnist-2d/', import.meta.url));

describe('the VAE demo checkpoint', () => {
  let meta: Record<string, unknown>;
  const build = (seed: number) =>
    GaussianVAE.mlp({
      inputDim: meta.inputDim as number,
      hidden: meta.hidden as number[],
      latentDim: meta.latentDim as number,
      rng: new Rng(seed),
    });
  beforeAll(async () => {
    await initBackend();
    const s = await loadState(dir);
    tf.dispose(Object.values(s.tensors));
    meta = s.metadata;
  });

  it('loads strictly into the architecture its metadata names; decodes images that vary with z', async () => {
    expect(meta).toMatchObject({ inputDim: 784, hidden: [128], latentDim: 2 });
    const vae = build(0);
    await loadModule(vae, dir);
    await expectNoLeaks(() => {
      tf.tidy(() => {
        const px = vae.decode(
          tf.tensor2d([
            [-2, -2],
            [0, 0],
            [2, 2],
          ]),
        );
        const m = px.mean;
        expect(m.shape).toEqual([3, 784]);
        const v = m.arraySync() as number[][];
        for (const row of v) for (const p of row) expect(p >= 0 && p <= 1).toBe(true);
        const diff = v[0]!.reduce((s, p, i) => s + Math.abs(p - v[2]![i]!), 0) / 784;
        expect(diff).toBeGreaterThan(0.02); // different digits at opposite corners
        px.dispose();
      });
    });
    vae.dispose();
  });

  it('has the test ELBO its metadata records, far above an untrained model', async () => {
    const mnist = await loadBinarizedMnist({ binarization: 'fixed', seed: 0, flat: true });
    const x = toTensors(mnist.test.slice(0, 1000), { fields: ['x'] }).x as tf.Tensor2D;
    const trained = build(0);
    await loadModule(trained, dir);
    const untrained = build(0);
    const elbo = (m: GaussianVAE) =>
      tf.tidy(() => tf.mean(m.elbo(x, { rng: new Rng(2) })).dataSync()[0]!);
    const [a, b] = [elbo(trained), elbo(untrained)];
    expect(Math.abs(a - (meta.testElbo1000 as number))).toBeLessThan(0.5);
    expect(a).toBeGreaterThan(b + 200);
    x.dispose();
    trained.dispose();
    untrained.dispose();
  });
});
