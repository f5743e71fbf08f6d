/**
 * @dgm-js/eval: honest evaluation of generative models. The ELBO on a dataset, the
 * importance-weighted log-likelihood estimate with thousands of samples in bounded memory,
 * exact log-densities, bits/dim, all with standard errors over the examples, and a `Metric`
 * interface over structural model interfaces (any model with `elbo` / `iwae` / `logProb` fits).
 * Bits per dimension convert with `bitsPerDim` of `@dgm-js/core-tensors` (an NLL in nats).
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
  type EvalOptions,
  type EvalResult,
  estimateLogLikelihood,
  evaluateElbo,
  evaluateLogProb,
  type IwaeEvalOptions,
  iwaeChunked,
} from './evaluate.js';
export {
  type BitsPerDimMetricOptions,
  bitsPerDimMetric,
  elboMetric,
  iwaeMetric,
  logProbMetric,
} from './metrics.js';
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
