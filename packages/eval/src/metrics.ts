/** Metrics over the structural model interfaces. */
import { ValueError } from '@dgm-js/core-tensors';
import {
  type EvalOptions,
  type EvalResult,
  estimateLogLikelihood,
  evaluateElbo,
  evaluateLogProb,
  type IwaeEvalOptions,
} from './evaluate.js';
import { bitsPerDim } from './stats.js';
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

/**
 * Bits per dimension (lower is better) of any log-likelihood metric: wraps it and converts the
 * mean and standard error with {@link bitsPerDim}.
 *
 * @example
 * ```ts
 * const bpd = bitsPerDimMetric(logProbMetric(), { dims: 784 });
 * const r = await bpd.compute(made, testX); // r.value in bits/dim
 * ```
 */
export function bitsPerDimMetric<M>(
  inner: Metric<M>,
  opts: { dims: number; offsetNats?: number },
): Metric<M> {
  bitsPerDim(0, opts.dims); // checks dims
  return {
    name: 'bits-per-dim',
    async compute(model: M, data: EvalData) {
      const r = await inner.compute(model, data);
      const conv = opts.offsetNats === undefined ? {} : { offsetNats: opts.offsetNats };
      return {
        name: 'bits-per-dim',
        value: bitsPerDim(r.value, opts.dims, conv),
        ...(r.stderr === undefined
          ? {}
          : { stderr: bitsPerDim(r.stderr, opts.dims, { stderr: true }) }),
        n: r.n,
        details: { ...r.details, of: r.name, nats: r.value, dims: opts.dims },
      };
    },
  };
}
