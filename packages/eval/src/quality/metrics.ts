/**
 * Sample-quality metrics as `Metric`s over a {@link SampleSource} (a sampler model or
 * precomputed images): `compute(model, data)` scores the model's samples, and, for the
 * two-sample metrics (FID, MMD, precision / recall), compares them with the real images `data`.
 * The one-sample scores (Inception-style, MODE, class histogram) ignore `data`.
 */
import { checkInt, ValueError } from '@dgm-js/core-tensors';
import type { ImageClassifier } from '../classifier/classifier.js';
import type { EvalData, Metric, MetricResult } from '../types.js';
import { frechetFromFeatures } from './frechet.js';
import { type MmdKernel, mmdTest } from './mmd.js';
import { precisionRecall } from './precision-recall.js';
import { classHistogram, inceptionScore, type ModeScoreForm, modeScore } from './scores.js';
import {
  type ClassifierOutputs,
  classifierOutputs,
  flatSamples,
  type SampleSource,
  type SampleSourceOptions,
} from './source.js';

/** Options of the classifier-based metrics. */
export interface ClassifierMetricOptions extends SampleSourceOptions {
  /** The classifier to look through (e.g. `await loadMnistClassifier()`); stays the caller's. */
  classifier: ImageClassifier;
}

/** Options of the two-sample metrics: how the real images are read. */
export interface ReferenceOptions {
  /**
   * The real images' classifier outputs, computed once with `classifierOutputs(clf, realX)`
   * and reused across models (then `data` is ignored).
   */
  reference?: ClassifierOutputs;
  /** Use only the first this many real images of `data`. Default: all. */
  referenceSamples?: number;
}

function needClassifier(opts: { classifier?: ImageClassifier } | undefined, who: string) {
  if (!opts || !opts.classifier || typeof opts.classifier.classify !== 'function') {
    throw new ValueError(
      `${who}: options.classifier is required (an ImageClassifier, e.g. await loadMnistClassifier()).`,
    );
  }
  return opts.classifier;
}

function sourceOpts(o: SampleSourceOptions): SampleSourceOptions {
  const out: SampleSourceOptions = {};
  if (o.numSamples !== undefined) out.numSamples = o.numSamples;
  if (o.chunk !== undefined) out.chunk = o.chunk;
  if (o.seed !== undefined) out.seed = o.seed;
  if (o.rng !== undefined) out.rng = o.rng;
  if (o.disposeBatches !== undefined) out.disposeBatches = o.disposeBatches;
  return out;
}

async function realOutputs(
  clf: ImageClassifier,
  data: EvalData,
  o: ReferenceOptions & SampleSourceOptions,
  who: string,
): Promise<ClassifierOutputs> {
  if (o.reference) return o.reference;
  const r: SampleSourceOptions = {};
  if (o.referenceSamples !== undefined) r.numSamples = o.referenceSamples;
  if (o.chunk !== undefined) r.chunk = o.chunk;
  return classifierOutputs(clf, data, r, `${who} (real data)`);
}

/**
 * The Inception-style score on the classifier (mean over `splits` splits of consecutive
 * samples, as the reference code) as a Metric. `data` is ignored.
 *
 * @example
 * ```ts
 * const clf = await loadMnistClassifier();
 * const r = await inceptionScoreMetric({ classifier: clf, numSamples: 10000 }).compute(vae, []);
 * const real = await inceptionScoreMetric({ classifier: clf }).compute(testX, []); // ~9.9
 * ```
 */
export function inceptionScoreMetric(
  opts: ClassifierMetricOptions & { splits?: number },
): Metric<SampleSource> {
  const clf = needClassifier(opts, 'inceptionScoreMetric');
  return {
    name: 'inception-score',
    async compute(model: SampleSource): Promise<MetricResult> {
      const t0 = performance.now();
      const out = await classifierOutputs(clf, model, sourceOpts(opts), 'inceptionScoreMetric');
      const s = inceptionScore(out.logProbs, out.n, out.numClasses, opts.splits ?? 10);
      return {
        name: 'inception-score',
        value: s.mean,
        stderr: s.stderr,
        n: out.n,
        details: { std: s.std, splits: s.splits, full: s.full, ms: performance.now() - t0 },
      };
    },
  };
}

/**
 * The MODE score (Che et al. 2017) as a Metric. `marginal`: `'train'` (default: the
 * classifier's training-label marginal), `'uniform'` (FlowGAN's code), or given numbers. With
 * the default `form: 'che'` the value equals the Inception-style score (see `modeScore`);
 * `details.marginalPenalty` holds the `'marginal-penalty'` form. `data` is ignored.
 *
 * @example
 * ```ts
 * const r = await modeScoreMetric({ classifier: clf, marginal: 'uniform' }).compute(testX, []);
 * ```
 */
export function modeScoreMetric(
  opts: ClassifierMetricOptions & {
    marginal?: 'train' | 'uniform' | readonly number[];
    form?: ModeScoreForm;
    splits?: number;
  },
): Metric<SampleSource> {
  const clf = needClassifier(opts, 'modeScoreMetric');
  const which = opts.marginal ?? 'train';
  let marginal: 'uniform' | readonly number[];
  if (which === 'train') {
    if (!clf.labelMarginal) {
      throw new ValueError(
        "modeScoreMetric: the classifier has no labelMarginal; pass marginal: 'uniform' or the training label frequencies.",
      );
    }
    marginal = clf.labelMarginal;
  } else marginal = which;
  const form = opts.form ?? 'che';
  const splits = opts.splits ?? 10;
  return {
    name: 'mode-score',
    async compute(model: SampleSource): Promise<MetricResult> {
      const t0 = performance.now();
      const out = await classifierOutputs(clf, model, sourceOpts(opts), 'modeScoreMetric');
      const s = modeScore(out.logProbs, out.n, out.numClasses, { marginal, form, splits });
      const other = form === 'che' ? 'marginal-penalty' : 'che';
      const alt = modeScore(out.logProbs, out.n, out.numClasses, { marginal, form: other, splits });
      return {
        name: 'mode-score',
        value: s.mean,
        stderr: s.stderr,
        n: out.n,
        details: {
          marginal: typeof which === 'string' ? which : 'given',
          form,
          std: s.std,
          splits: s.splits,
          full: s.full,
          [form === 'che' ? 'marginalPenalty' : 'che']: alt.mean,
          ms: performance.now() - t0,
        },
      };
    },
  };
}

/**
 * The Fréchet distance between the classifier features of the model's samples and of the real
 * images `data` ("FID-MNIST" with the shipped MNIST classifier), with a bootstrap standard
 * error (`bootstrap` resamples of both sets, default 10; 0 for none).
 *
 * @example
 * ```ts
 * const fid = fidMetric({ classifier: clf, numSamples: 10000, seed: 0 });
 * const r = await fid.compute(vae, testX); // r.value, r.stderr
 * ```
 */
export function fidMetric(
  opts: ClassifierMetricOptions & ReferenceOptions & { bootstrap?: number },
): Metric<SampleSource> {
  const clf = needClassifier(opts, 'fidMetric');
  return {
    name: 'fid',
    async compute(model: SampleSource, data: EvalData): Promise<MetricResult> {
      const t0 = performance.now();
      const fake = await classifierOutputs(clf, model, sourceOpts(opts), 'fidMetric');
      const real = await realOutputs(clf, data, opts, 'fidMetric');
      const r = frechetFromFeatures(fake.features, fake.n, real.features, real.n, fake.featureDim, {
        bootstrap: opts.bootstrap ?? 10,
        seed: opts.seed ?? 0,
      });
      return {
        name: 'fid',
        value: r.value,
        ...(r.stderr === undefined ? {} : { stderr: r.stderr }),
        n: fake.n,
        details: {
          meanTerm: r.meanTerm,
          covTerm: r.covTerm,
          nReal: real.n,
          featureDim: fake.featureDim,
          bootstrap: opts.bootstrap ?? 10,
          ms: performance.now() - t0,
        },
      };
    },
  };
}

/** Options of {@link mmdMetric}. */
export interface MmdMetricOptions extends SampleSourceOptions, ReferenceOptions {
  /** Compare classifier features; without one, the flattened images (pixels, latents, ...). */
  classifier?: ImageClassifier;
  /** Default `{ type: 'rbf' }` (median-heuristic bandwidth). */
  kernel?: MmdKernel;
  /** Permutations of the test. Default 200. */
  permutations?: number;
  /** At most this many of each set (the first ones): the kernel matrix is (2 max)^2. Default 1000. */
  maxSamples?: number;
}

/**
 * The unbiased kernel MMD^2 between the model's samples and the real images `data`, with a
 * permutation p-value in `details.pValue`, as a Metric.
 *
 * @example
 * ```ts
 * const r = await mmdMetric({ classifier: clf, numSamples: 1000, kernel: { type: 'imq' } }).compute(gan, testX);
 * console.log(r.value, r.details.pValue);
 * ```
 */
export function mmdMetric(opts: MmdMetricOptions = {}): Metric<SampleSource> {
  const maxSamples = opts?.maxSamples ?? 1000;
  checkInt(maxSamples, 'maxSamples', 'mmdMetric', { min: 2 });
  return {
    name: 'mmd2',
    async compute(model: SampleSource, data: EvalData): Promise<MetricResult> {
      const t0 = performance.now();
      const so = sourceOpts(opts);
      so.numSamples = Math.min(opts.numSamples ?? maxSamples, maxSamples);
      let x: { rows: Float64Array; n: number; dim: number };
      let y: { rows: Float64Array; n: number; dim: number };
      if (opts.classifier) {
        const f = await classifierOutputs(opts.classifier, model, so, 'mmdMetric');
        const r = await realOutputs(
          opts.classifier,
          data,
          { ...opts, referenceSamples: Math.min(opts.referenceSamples ?? maxSamples, maxSamples) },
          'mmdMetric',
        );
        const keep = Math.min(r.n, maxSamples);
        x = { rows: f.features, n: f.n, dim: f.featureDim };
        y = { rows: r.features.slice(0, keep * r.featureDim), n: keep, dim: r.featureDim };
      } else {
        x = await flatSamples(model, so, 'mmdMetric');
        const ro: typeof so = {
          numSamples: Math.min(opts.referenceSamples ?? maxSamples, maxSamples),
        };
        if (opts.chunk !== undefined) ro.chunk = opts.chunk;
        y = await flatSamples(data, ro, 'mmdMetric (real data)');
      }
      if (x.dim !== y.dim) {
        throw new ValueError(
          `mmdMetric: samples have ${x.dim} values each but the real data ${y.dim}; use the same shape.`,
        );
      }
      const r = mmdTest(x.rows, x.n, y.rows, y.n, x.dim, {
        ...(opts.kernel ? { kernel: opts.kernel } : {}),
        permutations: opts.permutations ?? 200,
        seed: opts.seed ?? 0,
      });
      return {
        name: 'mmd2',
        value: r.mmd2,
        n: x.n,
        details: {
          pValue: r.pValue,
          kernel: r.kernel,
          nullMean: r.nullMean,
          nullStd: r.nullStd,
          permutations: r.permutations,
          nReal: y.n,
          space: opts.classifier ? 'classifier-features' : 'flattened',
          ms: performance.now() - t0,
        },
      };
    },
  };
}

/**
 * Improved precision (the value) and recall (`details.recall`) with k-NN manifolds in the
 * classifier's feature space, as a Metric; `maxSamples` (default 5000) of each set at most.
 *
 * @example
 * ```ts
 * const r = await precisionRecallMetric({ classifier: clf, numSamples: 5000 }).compute(gan, testX);
 * console.log(r.value, r.details.recall);
 * ```
 */
export function precisionRecallMetric(
  opts: ClassifierMetricOptions & ReferenceOptions & { k?: number; maxSamples?: number },
): Metric<SampleSource> {
  const clf = needClassifier(opts, 'precisionRecallMetric');
  const maxSamples = opts.maxSamples ?? 5000;
  return {
    name: 'precision',
    async compute(model: SampleSource, data: EvalData): Promise<MetricResult> {
      const t0 = performance.now();
      const so = sourceOpts(opts);
      so.numSamples = Math.min(opts.numSamples ?? maxSamples, maxSamples);
      const fake = await classifierOutputs(clf, model, so, 'precisionRecallMetric');
      const real = await realOutputs(
        clf,
        data,
        { ...opts, referenceSamples: Math.min(opts.referenceSamples ?? maxSamples, maxSamples) },
        'precisionRecallMetric',
      );
      const nr = Math.min(real.n, maxSamples);
      const d = fake.featureDim;
      const pr = precisionRecall(real.features.subarray(0, nr * d), nr, fake.features, fake.n, d, {
        k: opts.k ?? 3,
      });
      return {
        name: 'precision',
        value: pr.precision,
        stderr: pr.precisionStderr,
        n: fake.n,
        details: {
          recall: pr.recall,
          recallStderr: pr.recallStderr,
          k: pr.k,
          nReal: nr,
          ms: performance.now() - t0,
        },
      };
    },
  };
}

/**
 * The per-class histogram of the model's samples (by the classifier's most probable class) as
 * a Metric: the value is the total variation distance to `reference` (default: the
 * classifier's training-label marginal, else uniform); counts, fractions and the number of
 * classes covered are in `details`. `data` is ignored.
 *
 * @example
 * ```ts
 * const r = await classHistogramMetric({ classifier: clf, numSamples: 10000 }).compute(gan, []);
 * console.log(r.details.counts, r.details.modesCovered);
 * ```
 */
export function classHistogramMetric(
  opts: ClassifierMetricOptions & { reference?: readonly number[]; minCount?: number },
): Metric<SampleSource> {
  const clf = needClassifier(opts, 'classHistogramMetric');
  return {
    name: 'class-histogram',
    async compute(model: SampleSource): Promise<MetricResult> {
      const t0 = performance.now();
      const out = await classifierOutputs(clf, model, sourceOpts(opts), 'classHistogramMetric');
      const reference =
        opts.reference ??
        clf.labelMarginal ??
        new Array<number>(out.numClasses).fill(1 / out.numClasses);
      const h = classHistogram(out.logProbs, out.n, out.numClasses, {
        reference,
        ...(opts.minCount === undefined ? {} : { minCount: opts.minCount }),
      });
      return {
        name: 'class-histogram',
        value: h.totalVariation as number,
        n: out.n,
        details: { ...h, reference: [...reference], ms: performance.now() - t0 },
      };
    },
  };
}
