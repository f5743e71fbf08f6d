/** Metrics over the structural model interfaces. */
import { bitsPerDim, ValueError } from '@dgm-js/core-tensors';
import {
  type EvalOptions,
  type EvalResult,
  estimateLogLikelihood,
  evaluateElbo,
  evaluateLogProb,
  type IwaeEvalOptions,
} from './evaluate.js';
import type {
  ElboModel,
  EvalData,
  IwaeModel,
  LogProbModel,
  Metric,
  MetricResult,
} from './types.js';

function result(name: string, r: EvalResult, details: Record<string, unknown>): MetricResult {
  return {
    name,
    value: r.mean,
    stderr: r.stderr,
    n: r.n,
    details: { ...details, std: r.std, ...(r.values ? { values: r.values } : {}) },
  };
}

/**
 * The test ELBO (nats per example, higher is better) as a {@link Metric}.
 *
 * @example
 * ```ts
 * const r = await elboMetric({ seed: 0 }).compute(vae, testX);
 * ```
 */
export function elboMetric(opts: EvalOptions = {}): Metric<ElboModel> {
  return {
    name: 'elbo',
    async compute(model: ElboModel, data: EvalData) {
      const t0 = performance.now();
      const r = await evaluateElbo(model, data, opts);
      return result('elbo', r, { ms: performance.now() - t0 });
    },
  };
}

/**
 * The importance-weighted log-likelihood estimate with k samples (nats per example) as a
 * {@link Metric}.
 *
 * @example
 * ```ts
 * const r = await iwaeMetric({ k: 5000, chunk: 250 }).compute(vae, testX);
 * ```
 */
export function iwaeMetric(opts: IwaeEvalOptions): Metric<IwaeModel> {
  if (!opts || typeof opts !== 'object') throw new ValueError('iwaeMetric: pass options { k }.');
  return {
    name: 'iwae-log-likelihood',
    async compute(model: IwaeModel, data: EvalData) {
      const t0 = performance.now();
      const r = await estimateLogLikelihood(model, data, opts);
      return result('iwae-log-likelihood', r, {
        k: opts.k,
        chunk: opts.chunk ?? Math.min(opts.k, 100),
        ms: performance.now() - t0,
      });
    },
  };
}

/**
 * The exact test log-likelihood (nats per example) of a density model as a {@link Metric}.
 *
 * @example
 * ```ts
 * const r = await logProbMetric().compute(made, testX);
 * ```
 */
export function logProbMetric(opts: EvalOptions = {}): Metric<LogProbModel> {
  return {
    name: 'log-likelihood',
    async compute(model: LogProbModel, data: EvalData) {
      const t0 = performance.now();
      const r = await evaluateLogProb(model, data, opts);
      return result('log-likelihood', r, { ms: performance.now() - t0 });
    },
  };
}

/** Options of {@link bitsPerDimMetric}. */
export interface BitsPerDimMetricOptions {
  /** Values per example (784 for MNIST). */
  dims: number;
  /**
   * The data were rescaled to [0, 1) from `levels` discrete values per dimension and the inner
   * metric is a continuous density of the rescaled data (a flow on dequantised images): adds
   * dims * ln(levels) nats to the NLL (see `bitsPerDim` of `@dgm-js/core-tensors`).
   */
  levels?: number;
  /**
   * Nats added to the NLL before the conversion (`dims * ln(levels)` is what `levels` adds).
   * @deprecated Pass `levels` instead.
   */
  offsetNats?: number;
}

/**
 * Bits per dimension (lower is better) of any log-likelihood metric: wraps it and converts its
 * mean log-likelihood v (nats per example) with `bitsPerDim(-v, dims, { levels })` of
 * `@dgm-js/core-tensors` (the one convention: an NLL in), and its standard error with
 * `bitsPerDim(stderr, dims)` (a pure scaling).
 *
 * @example
 * ```ts
 * const bpd = bitsPerDimMetric(logProbMetric(), { dims: 784 });
 * const r = await bpd.compute(made, testX); // r.value in bits/dim
 * ```
 */
export function bitsPerDimMetric<M>(inner: Metric<M>, opts: BitsPerDimMetricOptions): Metric<M> {
  const conv = opts.levels === undefined ? {} : { levels: opts.levels };
  bitsPerDim(0, opts.dims, conv); // checks dims and levels
  if (opts.offsetNats !== undefined && opts.levels !== undefined) {
    throw new ValueError('bitsPerDimMetric: pass levels or offsetNats (deprecated), not both.');
  }
  return {
    name: 'bits-per-dim',
    async compute(model: M, data: EvalData) {
      const r = await inner.compute(model, data);
      const nll = opts.offsetNats === undefined ? -r.value : -r.value + opts.offsetNats;
      return {
        name: 'bits-per-dim',
        value: bitsPerDim(nll, opts.dims, conv),
        ...(r.stderr === undefined ? {} : { stderr: bitsPerDim(r.stderr, opts.dims) }),
        n: r.n,
        details: { ...r.details, of: r.name, nats: r.value, dims: opts.dims },
      };
    },
  };
}
