import { ValueError } from '@dgm-js/core-tensors';
import type {
  Binarization,
  Dataset,
  DatasetMeta,
  FieldSpec,
  FillBuffers,
  FillContext,
} from './dataset.js';
import { IdxFormatError } from './errors.js';
import { hashKey, Stream32 } from './hash.js';
import type { IdxArray } from './idx.js';

/** Per-example image shape `[height, width, channels]`. */
export type ImageShape = readonly [number, number, number];
/** Per-example flat image shape `[height * width * channels]`. */
export type FlatShape = readonly [number];

/**
 * The fields of an image dataset: `x` float32 pixels in [0, 1] (or {0, 1} when binarized),
 * `y` int32 class labels, `yOneHot` float32 one-hot labels.
 */
export type ImageFields<XS extends readonly number[] = ImageShape> = {
  readonly x: FieldSpec<XS, 'float32'>;
  readonly y: FieldSpec<readonly [], 'int32'>;
  readonly yOneHot: FieldSpec<readonly [number], 'float32'>;
};

/** The raw bytes one image file + label file pair holds (shared by every split view). */
export interface ImageSource {
  /** `n * height * width` uint8 pixels, example after example. */
  readonly pixels: Uint8Array;
  /** `n` uint8 labels. */
  readonly labels: Uint8Array;
  readonly count: number;
  readonly height: number;
  readonly width: number;
  readonly numClasses: number;
  /** Distinguishes the train file from the test file in the binarization random streams. */
  readonly streamTag: number;
  readonly source: string;
}

const TO_UNIT = Float32Array.from({ length: 256 }, (_, v) => v / 255);
// P(pixel v binarizes to 1) = v / 255: a uint32 draw u gives 1 iff u < v / 255 * 2^32.
const BERNOULLI_THRESHOLD = Float64Array.from({ length: 256 }, (_, v) => (v / 255) * 0x100000000);

/** How an image dataset view is configured. */
export interface ImageDatasetConfig {
  readonly name: string;
  readonly split: string;
  /** First example of the view within the source. */
  readonly start: number;
  /** Number of examples in the view. */
  readonly size: number;
  readonly flat: boolean;
  readonly binarization: Binarization;
  readonly seed: number;
}

/**
 * An image classification dataset (MNIST, Fashion-MNIST, any IDX pair) kept as its original
 * uint8 bytes: memory stays at the data's own size, and float32 pixels are made per batch.
 * Views (`slice`, `withBinarization`) share the bytes.
 *
 * Binarization (recorded in `meta`):
 * - `'none'`: pixels / 255, float32 in [0, 1].
 * - `'threshold'`: 1 where pixel / 255 > 0.5 (pixel >= 128), else 0.
 * - `'fixed'`: one Bernoulli(pixel / 255) draw per pixel, fixed forever by `seed` (the usual
 *   "stochastically binarized MNIST" benchmark setting).
 * - `'dynamic'`: a fresh Bernoulli(pixel / 255) draw every epoch, reproducible from
 *   (`seed`, epoch). The `fixed` draw is the `dynamic` draw of epoch 0.
 * Each draw is a pure function of (seed, file, example index, epoch), so it does not depend on
 * batch size, order, or how the data was split.
 *
 * @example
 * ```ts
 * import { loadMnist, batches } from '@dgm-js/datasets';
 * const { train } = await loadMnist({ binarization: 'dynamic', seed: 1 });
 * console.log(train.meta); // { name: 'mnist', split: 'train', binarization: 'dynamic', seed: 1, ... }
 * ```
 */
export class ImageDataset<XS extends readonly number[] = ImageShape>
  implements Dataset<ImageFields<XS>>
{
  readonly size: number;
  readonly fields: ImageFields<XS>;
  readonly meta: DatasetMeta;
  readonly height: number;
  readonly width: number;
  readonly channels = 1;
  readonly numClasses: number;
  /** This view's raw uint8 pixels (`size * height * width`), a view of the source bytes. */
  readonly pixels: Uint8Array;
  /** This view's raw uint8 labels. */
  readonly labels: Uint8Array;
  readonly binarization: Binarization;
  readonly seed: number;
  private readonly src: ImageSource;
  private readonly cfg: ImageDatasetConfig;

  constructor(src: ImageSource, cfg: ImageDatasetConfig) {
    if (cfg.start < 0 || cfg.size < 0 || cfg.start + cfg.size > src.count) {
      throw new ValueError(
        `ImageDataset: view [${cfg.start}, ${cfg.start + cfg.size}) is outside the ${src.count} examples of ${src.source}.`,
      );
    }
    this.src = src;
    this.cfg = cfg;
    this.size = cfg.size;
    this.height = src.height;
    this.width = src.width;
    this.numClasses = src.numClasses;
    this.binarization = cfg.binarization;
    this.seed = cfg.seed;
    const d = src.height * src.width;
    this.pixels = src.pixels.subarray(cfg.start * d, (cfg.start + cfg.size) * d);
    this.labels = src.labels.subarray(cfg.start, cfg.start + cfg.size);
    const xShape = (cfg.flat ? [d] : [src.height, src.width, 1]) as unknown as XS;
    this.fields = {
      x: { shape: xShape, dtype: 'float32' },
      y: { shape: [] as const, dtype: 'int32' },
      yOneHot: { shape: [src.numClasses] as const, dtype: 'float32' },
    };
    const stochastic = cfg.binarization === 'dynamic' || cfg.binarization === 'fixed';
    this.meta = {
      name: cfg.name,
      split: cfg.split,
      size: cfg.size,
      binarization: cfg.binarization,
      seed: stochastic ? cfg.seed : null,
      source: src.source,
      params: {
        firstExample: cfg.start,
        imageShape: [src.height, src.width, 1],
        flat: cfg.flat,
        numClasses: src.numClasses,
      },
    };
  }

  /** Writes examples `indices` into `out` (see {@link Dataset.fill}). */
  fill(indices: ArrayLike<number>, out: FillBuffers<ImageFields<XS>>, ctx: FillContext): void {
    const d = this.height * this.width;
    const n = indices.length;
    const { x, y, yOneHot } = out;
    const px = this.src.pixels;
    const lab = this.src.labels;
    const start = this.cfg.start;
    const mode = this.binarization;
    const epoch = mode === 'dynamic' ? ctx.epoch : 0;
    const K = this.numClasses;
    if (yOneHot) yOneHot.fill(0, 0, n * K);
    for (let k = 0; k < n; k++) {
      const i = indices[k]!;
      const g = start + i;
      if (y) y[k] = lab[g]!;
      if (yOneHot) yOneHot[k * K + lab[g]!] = 1;
      if (!x) continue;
      const p = g * d;
      const o = k * d;
      if (mode === 'none') {
        for (let j = 0; j < d; j++) x[o + j] = TO_UNIT[px[p + j]!]!;
      } else if (mode === 'threshold') {
        for (let j = 0; j < d; j++) x[o + j] = px[p + j]! >= 128 ? 1 : 0;
      } else {
        const s = new Stream32(hashKey(this.seed, this.src.streamTag, g, epoch));
        for (let j = 0; j < d; j++) x[o + j] = s.next() < BERNOULLI_THRESHOLD[px[p + j]!]! ? 1 : 0;
      }
    }
  }

  /** A zero-copy view of examples `[start, end)` of this dataset, named `split`. */
  slice(start: number, end: number, split = this.cfg.split): ImageDataset<XS> {
    if (
      !(
        Number.isInteger(start) &&
        Number.isInteger(end) &&
        start >= 0 &&
        start <= end &&
        end <= this.size
      )
    ) {
      throw new ValueError(
        `ImageDataset.slice: [${start}, ${end}) must be integers with 0 <= start <= end <= ${this.size}.`,
      );
    }
    return new ImageDataset<XS>(this.src, {
      ...this.cfg,
      split,
      start: this.cfg.start + start,
      size: end - start,
    });
  }

  /** The same examples with another binarization (and seed); shares the bytes. */
  withBinarization(binarization: Binarization, seed = this.cfg.seed): ImageDataset<XS> {
    checkBinarization(binarization, seed, 'withBinarization');
    return new ImageDataset<XS>(this.src, { ...this.cfg, binarization, seed });
  }

  /** How many examples each class has. */
  labelCounts(): number[] {
    const counts = new Array<number>(this.numClasses).fill(0);
    for (let i = 0; i < this.labels.length; i++) counts[this.labels[i]!]! += 1;
    return counts;
  }

  /** Example `i`'s pixels as this dataset serves them (for `epoch`, when dynamic). */
  image(i: number, epoch = 0): Float32Array {
    if (!(Number.isInteger(i) && i >= 0 && i < this.size)) {
      throw new ValueError(
        `ImageDataset.image: index ${i} is not an integer in [0, ${this.size}).`,
      );
    }
    const x = new Float32Array(this.height * this.width);
    this.fill([i], { x } as FillBuffers<ImageFields<XS>>, { epoch });
    return x;
  }
}

/** Validates binarization options. */
export function checkBinarization(b: unknown, seed: unknown, what: string): void {
  if (b !== 'none' && b !== 'dynamic' && b !== 'fixed' && b !== 'threshold') {
    throw new ValueError(
      `${what}: binarization must be 'none', 'dynamic', 'fixed' or 'threshold', got ${JSON.stringify(b)}.`,
    );
  }
  if (typeof seed !== 'number' || !Number.isInteger(seed)) {
    throw new ValueError(`${what}: seed must be an integer, got ${String(seed)}.`);
  }
}

/** Checks that an image file and a label file parsed to a matching uint8 pair. */
export function imageSourceFromIdx(
  images: IdxArray,
  labels: IdxArray,
  opts: { numClasses: number; streamTag: number },
): ImageSource {
  if (images.dtype !== 'uint8' || images.shape.length !== 3) {
    throw new IdxFormatError(
      images.source,
      `expected an image file (uint8, 3 dimensions [n, height, width]), got ${images.dtype} of shape [${images.shape.join(', ')}]; check that the image and label files are not swapped.`,
    );
  }
  if (labels.dtype !== 'uint8' || labels.shape.length !== 1) {
    throw new IdxFormatError(
      labels.source,
      `expected a label file (uint8, 1 dimension [n]), got ${labels.dtype} of shape [${labels.shape.join(', ')}]; check that the image and label files are not swapped.`,
    );
  }
  const [n, h, w] = images.shape as [number, number, number];
  if (labels.shape[0] !== n) {
    throw new IdxFormatError(
      labels.source,
      `has ${labels.shape[0]} labels but its image file ${images.source} has ${n} images; use the label file that belongs to that image file.`,
    );
  }
  const lab = labels.data as Uint8Array;
  for (let i = 0; i < n; i++) {
    if (lab[i]! >= opts.numClasses) {
      throw new IdxFormatError(
        labels.source,
        `label ${i} is ${lab[i]}, outside [0, ${opts.numClasses}); pass numClasses if the dataset has more classes.`,
      );
    }
  }
  return {
    pixels: images.data as Uint8Array,
    labels: lab,
    count: n,
    height: h,
    width: w,
    numClasses: opts.numClasses,
    streamTag: opts.streamTag,
    source: images.source,
  };
}
