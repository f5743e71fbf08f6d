/**
 * The structural interfaces @dgm-js/eval evaluates. They name only the methods a metric calls, so
 * any model with those methods fits: the VAEs of @dgm-js/vae, flows, autoregressive models and
 * hybrids, without this package depending on any of them.
 */
import type { Rng, tf } from '@dgm-js/core-tensors';

type Tensor = tf.Tensor;

/** Options a stochastic bound receives. */
export interface BoundOptions {
  /** The random stream the latent samples take their seeds from. */
  rng: Rng;
}

/**
 * A model with an evidence lower bound: `elbo(x, { rng })` returns one value per example,
 * shape `[batch]`, in nats (a `LatentVariableModel` from @dgm-js/vae fits).
 */
export interface ElboModel {
  elbo(x: Tensor, opts: BoundOptions): Tensor;
}

/**
 * A model with an importance-weighted bound: `iwae(x, k, { rng })` returns
 * log (1/k) sum_i p(x, z_i) / q(z_i | x), z_i ~ q(z | x), one value per example, shape `[batch]`.
 */
export interface IwaeModel {
  iwae(x: Tensor, k: number, opts: BoundOptions): Tensor;
}

/**
 * A model with an exact log-density: `logProb(x)` returns one value per example, shape
 * `[batch]` (a `DensityModel` of flows / autoregressive models fits).
 */
export interface LogProbModel {
  logProb(x: Tensor): Tensor;
}

/**
 * Data to evaluate on: one tensor `[n, ...]` (split into batches here), or batches `[b, ...]`
 * from an iterable or async iterable. Tensors you pass stay yours (see `disposeBatches`).
 */
export type EvalData = Tensor | Iterable<Tensor> | AsyncIterable<Tensor>;

/** What a metric returns. */
export interface MetricResult {
  /** The metric's name (`elbo`, `iwae-log-likelihood`, `bits-per-dim`, ...). */
  name: string;
  /** The mean over the examples. */
  value: number;
  /** The standard error of the mean over the examples (sample std / sqrt(n)). */
  stderr?: number;
  /** Number of examples. */
  n: number;
  /** Anything else worth reporting (settings, per-example values, timings). */
  details: Record<string, unknown>;
}

/**
 * A metric over a structural model interface: `compute(model, data)`.
 *
 * @example
 * ```ts
 * import { elboMetric } from '@dgm-js/eval';
 * const m = elboMetric({ seed: 0 });
 * const r = await m.compute(vae, testX); // { name: 'elbo', value, stderr, n, details }
 * ```
 */
export interface Metric<M> {
  readonly name: string;
  compute(model: M, data: EvalData): Promise<MetricResult>;
}
