/**
 * The structural interfaces @dgm-js/eval evaluates. They name only the methods a metric calls, so
 * any model with those methods fits: the VAEs of @dgm-js/vae, flows, autoregressive models and
 * hybrids (every core `Distribution` is a {@link LogProbModel}), without this package depending
 * on any of them. `BoundOptions`, `EvalData`, `Metric` and `MetricResult` are the core-tensors
 * contracts, re-exported here for compatibility.
 */
import type { BoundOptions, tf } from '@dgm-js/core-tensors';

export type { BoundOptions, EvalData, Metric, MetricResult } from '@dgm-js/core-tensors';

type Tensor = tf.Tensor;

/**
 * A model with an evidence lower bound: `elbo(x, { rng })` returns one value per example,
 * shape `[batch]`, in nats (a `LatentVariableModel` from @dgm-js/vae fits).
 *
 * @example
 * ```ts
 * const m: ElboModel = { elbo: (x, { rng }) => vae.elbo(x, { rng }) };
 * ```
 */
export interface ElboModel {
  elbo(x: Tensor, opts: BoundOptions): Tensor;
}

/**
 * A model with an importance-weighted bound: `iwae(x, k, { rng })` returns
 * log (1/k) sum_i p(x, z_i) / q(z_i | x), z_i ~ q(z | x), one value per example, shape `[batch]`.
 *
 * @example
 * ```ts
 * const m: IwaeModel = { iwae: (x, k, { rng }) => vae.iwae(x, k, { rng }) };
 * ```
 */
export interface IwaeModel {
  iwae(x: Tensor, k: number, opts: BoundOptions): Tensor;
}

/**
 * A model with an exact log-density: `logProb(x)` returns one value per example, shape
 * `[batch]`. Every core `Distribution` with batch shape `[]` fits: MADE, PixelCNN, flows.
 *
 * @example
 * ```ts
 * const m: LogProbModel = made; // logProb(x [batch, 784]) -> [batch]
 * ```
 */
export interface LogProbModel {
  logProb(x: Tensor): Tensor;
}
