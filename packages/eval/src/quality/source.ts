/**
 * Where sample-quality metrics get images from: a sampler model (anything with
 * `sample({ sampleShape, rng })`, e.g. a core `Distribution`, a GAN generator wrapped as one)
 * drawn in chunks, or precomputed images (a tensor or batches). Each chunk is pushed through the
 * classifier and only its float64 features and log-probabilities are kept, so memory stays
 * bounded by `n x (featureDim + numClasses)` numbers whatever the image size.
 */
import {
  checkInt,
  type EvalData,
  fmtShape,
  Rng,
  type SampleOptions,
  ShapeError,
  tf,
  ValueError,
} from '@dgm-js/core-tensors';
import type { ImageClassifier } from '../classifier/classifier.js';

type Tensor = tf.Tensor;

/**
 * A model that can draw samples: `sample({ sampleShape: [n], rng })` returns `[n, ...]` new
 * images the caller owns (every core `Distribution` with batch shape `[]` fits).
 *
 * @example
 * ```ts
 * const gen: Sampler = { sample: ({ sampleShape, rng }) => generator.generate(sampleShape![0]!, rng) };
 * ```
 */
export interface Sampler {
  sample(opts: SampleOptions): Tensor;
}

/** Images to score: a {@link Sampler}, or precomputed images (a tensor or batches of them). */
export type SampleSource = Sampler | EvalData;

/** Options for drawing from a {@link SampleSource}. */
export interface SampleSourceOptions {
  /**
   * Images to use. Required for a sampler; for precomputed images, the first `numSamples`
   * (default: all of them).
   */
  numSamples?: number;
  /** Images per sampler call and per classifier batch (the memory bound). Default 500. */
  chunk?: number;
  /** Seed of the sampler's random stream. Default 0. */
  seed?: number;
  /** Or the stream itself (wins over `seed`). */
  rng?: Rng;
  /** Dispose each precomputed batch after use (for iterables that make fresh tensors). */
  disposeBatches?: boolean;
}

/** What a classifier made of n images, in float64, row-major. */
export interface ClassifierOutputs {
  n: number;
  /** `n x featureDim`. */
  features: Float64Array;
  /** `n x numClasses`: log p(y | x). */
  logProbs: Float64Array;
  featureDim: number;
  numClasses: number;
}

/** True when `source` is a {@link Sampler} (not a tensor or an iterable of tensors). */
export function isSampler(source: unknown): source is Sampler {
  return (
    !!source &&
    typeof source === 'object' &&
    !(source instanceof tf.Tensor) &&
    typeof (source as Sampler).sample === 'function'
  );
}

/**
 * Yields image chunks of at most `chunk` images from a source, `numSamples` in all (for a
 * sampler) or at most that many (for data). Each yielded tensor is the caller's to dispose
 * when `owned`.
 */
async function* chunksOf(
  source: SampleSource,
  opts: SampleSourceOptions,
  who: string,
): AsyncGenerator<{ x: Tensor; owned: boolean }> {
  const chunk = opts.chunk ?? 500;
  checkInt(chunk, 'chunk', who);
  if (opts.numSamples !== undefined) checkInt(opts.numSamples, 'numSamples', who);
  if (isSampler(source)) {
    const total = opts.numSamples;
    if (total === undefined) {
      throw new ValueError(
        `${who}: a sampler needs options.numSamples (how many images to draw, e.g. 10000).`,
      );
    }
    const rng = opts.rng ?? new Rng(opts.seed ?? 0);
    for (let done = 0; done < total; ) {
      const b = Math.min(chunk, total - done);
      const x = source.sample({ sampleShape: [b], rng: rng.split() });
      if (!(x instanceof tf.Tensor) || x.rank < 2 || x.shape[0] !== b) {
        const got = x instanceof tf.Tensor ? fmtShape(x.shape) : typeof x;
        if (x instanceof tf.Tensor) x.dispose();
        throw new ShapeError(
          `${who}: sampler.sample({ sampleShape: [${b}] }) must return images [${b}, ...], got ${got}.`,
        );
      }
      done += b;
      yield { x, owned: true };
    }
    return;
  }
  const limit = opts.numSamples ?? Number.POSITIVE_INFINITY;
  let done = 0;
  if (source instanceof tf.Tensor) {
    if (source.rank < 2) {
      throw new ShapeError(`${who}: images ${fmtShape(source.shape)} must be [n, ...].`);
    }
    const n = Math.min(source.shape[0] as number, limit);
    for (let s = 0; s < n; s += chunk) {
      yield { x: tf.slice(source, [s], [Math.min(chunk, n - s)]), owned: true };
    }
    return;
  }
  if (
    source &&
    typeof source === 'object' &&
    (Symbol.asyncIterator in source || Symbol.iterator in source)
  ) {
    for await (const x of source as AsyncIterable<Tensor>) {
      if (!(x instanceof tf.Tensor) || x.rank < 2) {
        throw new ValueError(`${who}: every batch must be a tf.Tensor of images [b, ...].`);
      }
      const take = Math.min(x.shape[0] as number, limit - done);
      for (let s = 0; s < take; s += chunk) {
        yield { x: tf.slice(x, [s], [Math.min(chunk, take - s)]), owned: true };
      }
      done += take;
      if (opts.disposeBatches) x.dispose();
      if (done >= limit) return;
    }
    return;
  }
  throw new ValueError(
    `${who}: the images must be a sampler ({ sample({ sampleShape, rng }) }), a tensor [n, ...] or an (async) iterable of tensors [b, ...].`,
  );
}

function grow(a: Float64Array, need: number): Float64Array {
  if (need <= a.length) return a;
  const b = new Float64Array(Math.max(need, 2 * a.length));
  b.set(a);
  return b;
}

/**
 * Runs `classifier` over every image of `source` in chunks and keeps its features and
 * log-probabilities as float64 arrays. Creates no lasting tensors.
 *
 * @example
 * ```ts
 * const out = await classifierOutputs(clf, vae, { numSamples: 10000, seed: 0 });
 * out.features.length; // 10000 * 64
 * ```
 */
export async function classifierOutputs(
  classifier: ImageClassifier,
  source: SampleSource,
  opts: SampleSourceOptions = {},
  who = 'classifierOutputs',
): Promise<ClassifierOutputs> {
  if (!classifier || typeof classifier.classify !== 'function') {
    throw new ValueError(
      `${who}: options.classifier must be an ImageClassifier (e.g. await loadMnistClassifier()).`,
    );
  }
  const d = classifier.featureDim;
  const c = classifier.numClasses;
  let features: Float64Array = new Float64Array(0);
  let logProbs: Float64Array = new Float64Array(0);
  let n = 0;
  for await (const { x, owned } of chunksOf(source, opts, who)) {
    let f: Float32Array | undefined;
    let l: Float32Array | undefined;
    try {
      const out = classifier.classify(x);
      try {
        if (out.features.shape[1] !== d || out.logProbs.shape[1] !== c) {
          throw new ShapeError(
            `${who}: the classifier returned features ${fmtShape(out.features.shape)} and log-probabilities ${fmtShape(out.logProbs.shape)}; expected [b, ${d}] and [b, ${c}].`,
          );
        }
        f = (await out.features.data()) as Float32Array;
        l = (await out.logProbs.data()) as Float32Array;
      } finally {
        tf.dispose([out.features, out.logProbs]);
      }
    } finally {
      if (owned) x.dispose();
    }
    const b = f.length / d;
    features = grow(features, (n + b) * d);
    logProbs = grow(logProbs, (n + b) * c);
    features.set(f, n * d);
    logProbs.set(l, n * c);
    n += b;
  }
  if (n === 0) throw new ValueError(`${who}: the source yielded no images.`);
  return {
    n,
    features: features.slice(0, n * d),
    logProbs: logProbs.slice(0, n * c),
    featureDim: d,
    numClasses: c,
  };
}

/**
 * Flattens every image of `source` into float64 rows (`n x dim`, dim = the product of an image's
 * shape), in chunks: for tests in pixel or latent space without a classifier.
 *
 * @example
 * ```ts
 * const { rows, n, dim } = await flatSamples(tf.randomNormal([100, 2]));
 * ```
 */
export async function flatSamples(
  source: SampleSource,
  opts: SampleSourceOptions = {},
  who = 'flatSamples',
): Promise<{ rows: Float64Array; n: number; dim: number }> {
  let rows: Float64Array = new Float64Array(0);
  let n = 0;
  let dim = -1;
  for await (const { x, owned } of chunksOf(source, opts, who)) {
    let v: Float32Array | Int32Array | Uint8Array;
    const b = x.shape[0] as number;
    const dx = x.size / b;
    try {
      if (dim >= 0 && dx !== dim) {
        throw new ShapeError(
          `${who}: images ${fmtShape(x.shape)} have ${dx} values each, earlier ones ${dim}.`,
        );
      }
      v = (await x.data()) as Float32Array;
    } finally {
      if (owned) x.dispose();
    }
    dim = dx;
    rows = grow(rows, (n + b) * dim);
    rows.set(v, n * dim);
    n += b;
  }
  if (n === 0) throw new ValueError(`${who}: the source yielded no images.`);
  return { rows: rows.slice(0, n * dim), n, dim };
}
