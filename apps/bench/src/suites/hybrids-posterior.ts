/**
 * The lecture's picture for the `hybrids` suite: on a VAE with a 2-D latent (binarized MNIST),
 * the true posterior p(z|x) of a few test images (by numerical integration on a grid) beside a
 * Gaussian q(z|x) and an IAF q(z|x) fitted to the same decoder. The IAF VAE is trained first;
 * then a Gaussian encoder is trained against a frozen copy of its decoder, so both posteriors
 * approximate the same p(z|x). Rows: log p(x) - ELBO (= KL(q || p(z|x))) of each, with log p(x)
 * from the grid.
 */
import { join } from 'node:path';
import { HALF_LOG_2PI, mlp, Rng, saveImageGrid, tf } from '@dgm-js/core-tensors';
import { iafPosterior } from '@dgm-js/hybrids';
import { bernoulliDecoder, gaussianEncoder, stdNormal, VAE } from '@dgm-js/vae';
import type { Figure } from '../report.js';
import type { RowTable } from '../rows.js';
import { progress } from '../timing.js';

type Tensor = tf.Tensor;

export interface PosteriorFigureOptions {
  /** Trains `vae` for `steps` (the suite's Adam loop). Returns seconds. */
  train: (vae: VAE, steps: number) => number;
  steps: number;
  testX: Tensor;
  /** Test images to draw. */
  images: number[];
  figDir: string;
  results: RowTable;
  figures: Figure[];
  notes: string[];
}

const G = 56; // grid points per axis (a 56 x 56 panel, the digit upsampled 2x beside it)

/** Renders densities on the grid `[G * G]` (row = z2 from high to low) scaled to max 1. */
function panel(logDensity: Tensor): Tensor {
  return tf.tidy(() => {
    const img = tf.reverse(tf.reshape(tf.exp(tf.sub(logDensity, tf.max(logDensity))), [G, G]), 0);
    return tf.expandDims(img, -1);
  });
}

/**
 * Trains the two 2-D latent models, draws the figure, records the rows.
 */
export async function posteriorFigure(o: PosteriorFigureOptions): Promise<void> {
  const d = 2;
  const rng = new Rng(0);
  const act = { activation: 'relu' as const };
  const iafVae = new VAE({
    encoder: iafPosterior(mlp([784, 256, 2 * d + 8], { rng, ...act }), {
      latentDim: d,
      contextDim: 8,
      layers: 2,
      hidden: [32],
      rng,
    }),
    decoder: bernoulliDecoder(mlp([d, 256, 784], { rng, ...act })),
    prior: stdNormal(d),
  });
  progress(`2-D latent VAE with an IAF posterior: ${o.steps} steps`);
  const s1 = o.train(iafVae, o.steps);
  // a Gaussian encoder against a frozen copy of the same decoder
  const decoder = bernoulliDecoder(mlp([d, 256, 784], { rng: new Rng(1), ...act }));
  const st = iafVae.decoder.getState();
  decoder.setState(st);
  tf.dispose(Object.values(st));
  decoder.setTrainable(false);
  const gVae = new VAE({
    encoder: gaussianEncoder(mlp([784, 256, 2 * d], { rng: new Rng(2), ...act })),
    decoder,
    prior: stdNormal(d),
  });
  progress(`  a Gaussian q(z|x) for the same decoder: ${o.steps} steps`);
  const s2 = o.train(gVae, o.steps);

  const tiles: Tensor[] = [];
  const gaps = { gaussian: [] as number[], iaf: [] as number[] };
  for (const i of o.images) {
    const x = tf.slice(o.testX, [i], [1]);
    /** log p(x, z) on a G x G grid over [lo, hi] (row = z2 index, column = z1 index). */
    const logJointOn = (lo: number[], hi: number[]) => {
      const axes = [0, 1].map((a) =>
        Array.from({ length: G }, (_, j) => lo[a]! + ((j + 0.5) * (hi[a]! - lo[a]!)) / G),
      );
      const grid = tf.tensor2d(
        Array.from({ length: G * G }, (_, k) => [axes[0]![k % G]!, axes[1]![Math.floor(k / G)]!]),
      );
      const zs = tf.reshape(grid, [G * G, 1, d]); // against x's batch of 1
      const logJoint = tf.tidy(() =>
        tf.add(
          tf.reshape(iafVae.logLikelihood(zs, x), [G * G]), // [G * G, 1] -> [G * G]
          tf.sub(tf.mul(-0.5, tf.sum(tf.square(grid), -1)), d * HALF_LOG_2PI),
        ),
      );
      return { grid, zs, logJoint };
    };
    // the window: the true posterior's mean +- 6 of its standard deviations, both located on a
    // coarse grid over [-6, 6]^2 first
    const coarse = logJointOn([-6, -6], [6, 6]);
    const { lo, hi } = tf.tidy(() => {
      const w = tf.expandDims(tf.softmax(coarse.logJoint), 1); // [G * G, 1]
      const m = tf.sum(tf.mul(w, coarse.grid), 0);
      const sd = tf.sqrt(tf.sum(tf.mul(w, tf.square(tf.sub(coarse.grid, m))), 0));
      const half = tf.maximum(tf.mul(tf.max(sd), 6), 0.3);
      return {
        lo: Array.from(tf.sub(m, half).dataSync()),
        hi: Array.from(tf.add(m, half).dataSync()),
      };
    });
    tf.dispose([coarse.grid, coarse.zs, coarse.logJoint]);
    const cell = ((hi[0]! - lo[0]!) / G) * ((hi[1]! - lo[1]!) / G);
    const { grid, zs, logJoint } = logJointOn(lo, hi);
    const logpx = tf.tidy(() => tf.logSumExp(logJoint).dataSync()[0]! + Math.log(cell));
    const qDensity = (vae: VAE) =>
      tf.tidy(() => {
        const q = vae.encode(x);
        const lp = tf.reshape(q.logProb(zs), [G * G]); // the IAF's through its inverse
        q.dispose();
        return lp;
      });
    const lqG = qDensity(gVae);
    const lqI = qDensity(iafVae);
    const elbo = (vae: VAE) =>
      tf.tidy(() => tf.mean(vae.elbo(tf.tile(x, [2000, 1]), { rng: new Rng(4) })).dataSync()[0]!);
    gaps.gaussian.push(logpx - elbo(gVae));
    gaps.iaf.push(logpx - elbo(iafVae));
    tiles.push(
      tf.tidy(() =>
        tf.image
          .resizeNearestNeighbor(tf.reshape(x, [1, 28, 28, 1]) as tf.Tensor4D, [G, G])
          .squeeze([0]),
      ),
      panel(logJoint),
      panel(lqG),
      panel(lqI),
    );
    tf.dispose([x, grid, zs, logJoint, lqG, lqI]);
  }
  const all = tf.stack(tiles);
  await saveImageGrid(join(o.figDir, 'posterior-2d.png'), all, { cols: 4, padding: 2 });
  tf.dispose([all, ...tiles]);
  o.figures.push({
    title:
      'A 2-D latent VAE: each row a test image, then the true posterior p(z|x) (grid), the Gaussian q(z|x) and the IAF q(z|x) fitted to the same decoder (each scaled to its maximum; window: the true posterior mean +- 6 s.d.; z1 across, z2 up)',
    path: 'hybrids/posterior-2d.png',
  });
  const mean = (v: number[]) => v.reduce((a, b) => a + b, 0) / v.length;
  o.results.add('posterior-2d/gaussian-kl-to-true', mean(gaps.gaussian), 'nats', {
    note: `log p(x) (grid ${G}x${G}) - ELBO (2000 samples), mean over ${o.images.length} test images: ${gaps.gaussian.map((v) => v.toFixed(2)).join(', ')}`,
  });
  o.results.add('posterior-2d/iaf-kl-to-true', mean(gaps.iaf), 'nats', {
    note: `same for the IAF posterior (2 layers, MADE 32, context 8): ${gaps.iaf.map((v) => v.toFixed(2)).join(', ')}`,
  });
  o.notes.push(
    `posterior figure: 2-D latent, 784-256-(2x2 + 8 context) encoder, 2-256-784 decoder; the IAF VAE trained ${o.steps} steps (${s1.toFixed(0)} s), ` +
      `then a Gaussian encoder ${o.steps} steps against the frozen decoder (${s2.toFixed(0)} s); log p(x) integrated on the plotted grid (the window must hold the posterior mass).`,
  );
  iafVae.dispose();
  gVae.dispose();
}
