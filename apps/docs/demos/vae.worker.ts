/**
 * Demo worker: the latent space of a VAE trained on binarized MNIST with a 2-D latent, from the
 * checkpoint the site ships (site/public/checkpoints/vae-mnist-2d/, made by scripts/train-vae.ts).
 * It fetches the checkpoint, decodes it with core's decodeState (CRC-checked), loads it into the
 * same architecture, and decodes a grid of latent points z in [-span, span]^2 (the decoder's mean
 * images, 28x28) and a few samples z ~ N(0, I) from the prior.
 */
import { decodeState, Rng, tf } from '@dgm-js/core-tensors';
import { GaussianVAE } from '@dgm-js/vae';
import { serve, startBackend } from './backend.js';

interface VaeRequest {
  grid: number;
  span: number;
  samples: number;
  seed: number;
  base: string;
}

let model: { vae: GaussianVAE; metadata: Record<string, unknown> } | undefined;

async function load(base: string) {
  const dir = new URL(`${base}checkpoints/vae-mnist-2d/`, self.location.origin);
  const res = await fetch(new URL('model.json', dir));
  if (!res.ok) throw new Error(`checkpoint manifest: HTTP ${res.status} at ${res.url}`);
  const manifestText = await res.text();
  const bin = JSON.parse(manifestText).weightsManifest[0].paths[0] as string;
  const data = await fetch(new URL(bin, dir));
  if (!data.ok) throw new Error(`checkpoint weights: HTTP ${data.status} at ${data.url}`);
  const { tensors, metadata } = decodeState(
    manifestText,
    new Uint8Array(await data.arrayBuffer()),
    dir.href,
  );
  const vae = GaussianVAE.mlp({
    inputDim: metadata.inputDim as number,
    hidden: metadata.hidden as number[],
    latentDim: metadata.latentDim as number,
    rng: new Rng(0),
  });
  vae.setState(tensors);
  tf.dispose(Object.values(tensors));
  return { vae, metadata };
}

serve<VaeRequest>(async (req) => {
  const backend = await startBackend(req.base);
  self.postMessage({ type: 'backend', backend });
  const t0 = performance.now();
  model ??= await load(req.base);
  const { vae, metadata } = model;
  const G = req.grid;
  const zs = new Float32Array(G * G * 2);
  for (let i = 0; i < G; i++) {
    for (let j = 0; j < G; j++) {
      zs[2 * (i * G + j)] = -req.span + (2 * req.span * j) / (G - 1);
      zs[2 * (i * G + j) + 1] = req.span - (2 * req.span * i) / (G - 1);
    }
  }
  const images = tf.tidy(() => {
    const px = vae.decode(tf.tensor2d(zs, [G * G, 2]));
    const m = px.mean.dataSync() as Float32Array;
    px.dispose();
    return m;
  });
  const samples = tf.tidy(() => {
    const z = tf.randomNormal([req.samples, 2], 0, 1, 'float32', req.seed);
    const px = vae.decode(z);
    const m = px.mean.dataSync() as Float32Array;
    px.dispose();
    return m;
  });
  self.postMessage({
    type: 'images',
    grid: G,
    span: req.span,
    images,
    samples,
    n: req.samples,
    metadata,
  });
  self.postMessage({ type: 'done', ms: performance.now() - t0, tensors: tf.memory().numTensors });
});
