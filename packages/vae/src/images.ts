/** Sample grids, reconstructions and latent interpolations of a VAE as PNG files. */
import { encodePng, imageGrid, type Rng, savePng, tf, ValueError } from '@dgm-js/core-tensors';
import type { VAE } from './model.js';

/** Options shared by the image writers. */
export interface ImageOptions {
  /** The shape of one image (`[28, 28]` or `[h, w, c]`). */
  imageShape: readonly number[];
  rng: Rng;
  /** Images per row. */
  cols?: number;
}

function check(opts: ImageOptions, who: string): void {
  if (!opts || !Array.isArray(opts.imageShape) || opts.imageShape.length < 2) {
    throw new ValueError(`${who}: pass imageShape, e.g. [28, 28] for MNIST.`);
  }
}

/**
 * PNG bytes of a grid of `n` samples of the model (means of p(x | z), z ~ p(z) exactly).
 *
 * @example
 * ```ts
 * const png = await sampleGridPng(vae, 64, { imageShape: [28, 28], rng: new Rng(0) });
 * ```
 */
export async function sampleGridPng(vae: VAE, n: number, opts: ImageOptions): Promise<Uint8Array> {
  check(opts, 'sampleGridPng');
  const x = vae.sample(n, { rng: opts.rng, shape: opts.imageShape });
  try {
    return await encodePng(await imageGrid(x, opts.cols === undefined ? {} : { cols: opts.cols }));
  } finally {
    x.dispose();
  }
}

/**
 * Writes a PNG grid of `n` samples to `path` (Node).
 *
 * @example
 * ```ts
 * await saveSampleGrid(vae, 'samples.png', 64, { imageShape: [28, 28], rng: new Rng(0), cols: 8 });
 * ```
 */
export async function saveSampleGrid(
  vae: VAE,
  path: string,
  n: number,
  opts: ImageOptions,
): Promise<void> {
  check(opts, 'saveSampleGrid');
  const x = vae.sample(n, { rng: opts.rng, shape: opts.imageShape });
  try {
    await savePng(path, await imageGrid(x, opts.cols === undefined ? {} : { cols: opts.cols }));
  } finally {
    x.dispose();
  }
}

/**
 * Writes a PNG of data next to its reconstructions: each row shows `cols` inputs, the row
 * below their reconstructions (the mean of p(x | z) at the mode of q(z | x)).
 *
 * @example
 * ```ts
 * await saveReconstructions(vae, 'recon.png', testX.slice(0, 16), { imageShape: [28, 28], rng, cols: 8 });
 * ```
 */
export async function saveReconstructions(
  vae: VAE,
  path: string,
  x: tf.Tensor,
  opts: ImageOptions,
): Promise<void> {
  check(opts, 'saveReconstructions');
  const n = x.shape[0] as number;
  const cols = opts.cols ?? Math.min(n, 8);
  const grid = tf.tidy(() => {
    const r = vae.reconstruct(x, { rng: opts.rng, shape: opts.imageShape });
    const orig = tf.reshape(x, [n, ...opts.imageShape]);
    const rows: tf.Tensor[] = [];
    for (let s = 0; s < n; s += cols) {
      const c = Math.min(cols, n - s);
      rows.push(tf.slice(orig, [s], [c]), tf.slice(r, [s], [c]));
    }
    return tf.concat(rows, 0);
  });
  try {
    await savePng(path, await imageGrid(grid, { cols }));
  } finally {
    grid.dispose();
  }
}

/**
 * Writes a PNG of latent interpolations: one row of `steps` decoded points per pair
 * (xa[i], xb[i]), i < min(batch sizes).
 *
 * @example
 * ```ts
 * await saveInterpolations(vae, 'interp.png', a, b, 10, { imageShape: [28, 28], rng });
 * ```
 */
export async function saveInterpolations(
  vae: VAE,
  path: string,
  xa: tf.Tensor,
  xb: tf.Tensor,
  steps: number,
  opts: ImageOptions,
): Promise<void> {
  check(opts, 'saveInterpolations');
  const pairs = Math.min(xa.shape[0] as number, xb.shape[0] as number);
  const grid = tf.tidy(() => {
    const rows: tf.Tensor[] = [];
    for (let i = 0; i < pairs; i++) {
      rows.push(
        vae.interpolate(tf.slice(xa, [i], [1]), tf.slice(xb, [i], [1]), steps, {
          shape: opts.imageShape,
        }),
      );
    }
    return tf.concat(rows, 0);
  });
  try {
    await savePng(path, await imageGrid(grid, { cols: steps }));
  } finally {
    grid.dispose();
  }
}
