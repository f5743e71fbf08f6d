/**
 * @dgm-js/eval: honest evaluation of generative models. The ELBO on a dataset, the
 * importance-weighted log-likelihood estimate with thousands of samples in bounded memory,
 * exact log-densities, bits/dim, all with standard errors over the examples, and a `Metric`
 * interface over structural model interfaces (any model with `elbo` / `iwae` / `logProb` fits).
 * Bits per dimension convert with `bitsPerDim` of `@dgm-js/core-tensors` (an NLL in nats).
 * For models without a tractable likelihood: sample-quality scores through a shipped MNIST
 * classifier (Inception-style, MODE, FID-MNIST, MMD tests, precision / recall, histograms),
 * Parzen windows (with their caveats) and annealed importance sampling with BDMC bounds.
 *
 * @example
 * ```ts
 * import { estimateLogLikelihood, evaluateElbo } from '@dgm-js/eval';
 * const elbo = await evaluateElbo(vae, testX, { seed: 0 });
 * const ll = await estimateLogLikelihood(vae, testX, { k: 5000, chunk: 250, batchSize: 20, seed: 1 });
 * console.log(`-ELBO ${-elbo.mean} +- ${elbo.stderr}, NLL ${-ll.mean} +- ${ll.stderr}`);
 * ```
 */

export {
  type ClassifierBatchOutput,
  type ImageClassifier,
  loadFashionMnistClassifier,
  loadMnistClassifier,
  ShippedImageClassifier,
} from './classifier/classifier.js';
export {
  type ClassifierOutput,
  ConvClassifier,
  type ConvClassifierConfig,
} from './classifier/net.js';
export type { ShippedClassifier } from './classifier/shipped-types.js';
export { decodeWeights, encodeWeights } from './classifier/weights-codec.js';
export {
  type EvalOptions,
  type EvalResult,
  estimateLogLikelihood,
  evaluateElbo,
  evaluateLogProb,
  type IwaeEvalOptions,
  iwaeChunked,
} from './evaluate.js';
export {
  type AisOptions,
  type AisResult,
  type AisSchedule,
  aisLogLikelihood,
  aisMetric,
  aisSchedule,
  bdmcUpperBound,
  type DecoderModel,
} from './likelihood/ais.js';
export {
  DEFAULT_PARZEN_SIGMAS,
  type ParzenBandwidth,
  type ParzenMetricOptions,
  type ParzenOptions,
  parzenBandwidth,
  parzenLogLikelihoods,
  parzenMetric,
} from './likelihood/parzen.js';
export {
  type BitsPerDimMetricOptions,
  bitsPerDimMetric,
  elboMetric,
  iwaeMetric,
  logProbMetric,
} from './metrics.js';
export {
  type FrechetFeatureResult,
  type FrechetResult,
  frechetDistance,
  frechetFromFeatures,
} from './quality/frechet.js';
export {
  type Eigen,
  type Moments,
  moments,
  sqrtPsd,
  symmetricEigen,
  traceSqrtProduct,
} from './quality/linalg.js';
export {
  type ClassifierMetricOptions,
  classHistogramMetric,
  fidMetric,
  inceptionScoreMetric,
  type MmdMetricOptions,
  mmdMetric,
  modeScoreMetric,
  precisionRecallMetric,
  type ReferenceOptions,
} from './quality/metrics.js';
export { type MmdKernel, type MmdTestOptions, type MmdTestResult, mmdTest } from './quality/mmd.js';
export {
  knnRadii,
  type PrecisionRecallResult,
  precisionRecall,
} from './quality/precision-recall.js';
export {
  type ClassHistogram,
  classHistogram,
  inceptionScore,
  type ModeScoreForm,
  type ModeScoreOptions,
  modeScore,
  type SplitScore,
} from './quality/scores.js';
export {
  type ClassifierOutputs,
  classifierOutputs,
  flatSamples,
  isSampler,
  type Sampler,
  type SampleSource,
  type SampleSourceOptions,
} from './quality/source.js';
export { logSumExpArray, type MeanStderr, meanStderr } from './stats.js';
export type {
  BoundOptions,
  ElboModel,
  EvalData,
  IwaeModel,
  LogProbModel,
  Metric,
  MetricResult,
} from './types.js';
