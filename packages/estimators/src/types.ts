/**
 * The estimator contract comes from `@dgm-js/core-tensors` (`contracts.ts`): `GradientEstimator`,
 * `Integrand`, `EstimateOptions`, `EstimateResult`, `EstimatorState`, `Diagnostics`,
 * `SerializedTensor`. This module re-exports them and adds the deprecated `{ kind, logits }`
 * latent form, which every estimator here still accepts next to core distributions.
 */
import type {
  GradientEstimator as CoreGradientEstimator,
  Diagnostics,
  Distribution,
  EstimateOptions,
  EstimateResult,
  EstimatorState,
  Integrand,
  SerializedTensor,
  tf,
} from '@dgm-js/core-tensors';

export type {
  Diagnostics,
  EstimateOptions,
  EstimateResult,
  EstimatorState,
  Integrand,
  SerializedTensor,
};

type Tensor = tf.Tensor;

/** The two discrete latent families of the `{ kind, logits }` form. */
export type LatentKind = 'bernoulli' | 'categorical';

/**
 * A discrete latent given by its logits (deprecated form: pass `new Bernoulli({ logits })` or
 * `new OneHotCategorical({ logits })` from `@dgm-js/core-tensors`; the estimators build exactly
 * those from this form).
 * - `bernoulli`: log-odds `[...instance, ...latent]`; samples are 0/1 of that shape.
 * - `categorical`: unnormalized log-probabilities `[...instance, ...latent, C]`; samples are
 *   one-hot vectors of that shape.
 *
 * `instance` dimensions index independent problems (data points of a batch, repeats); `latent`
 * dimensions are the components of one latent vector. Which is which is read from the
 * integrand: it returns one value per sample and instance (see `Integrand`).
 *
 * @deprecated Pass a core `Bernoulli` or `OneHotCategorical`.
 */
export interface DiscreteLatent {
  readonly kind: LatentKind;
  readonly logits: Tensor;
}

/**
 * What an estimator differentiates through: a core `Distribution` (score-function estimators
 * take any, `reparam` one with `hasRsample`, the discrete estimators `Bernoulli` and
 * `OneHotCategorical`, `exact` also `Categorical`), or the deprecated {@link DiscreteLatent}.
 */
export type LatentInput = Distribution | DiscreteLatent;

/**
 * The integrand f of E_q[f].
 *
 * @deprecated Use `Integrand` (the same type, from `@dgm-js/core-tensors`).
 */
export type Objective = Integrand;

/**
 * Core's `GradientEstimator` contract, whose `estimate` also accepts the deprecated
 * `{ kind, logits }` form. Every estimator of this package satisfies core's contract (it is a
 * subtype); this widening goes once no caller passes `bernoulliLatent` / `categoricalLatent`.
 *
 * @example
 * ```ts
 * import { Bernoulli, Rng, tf } from '@dgm-js/core-tensors';
 * import { type GradientEstimator, rloo } from '@dgm-js/estimators';
 * const logits = tf.variable(tf.zeros([3]));
 * const est: GradientEstimator = rloo();
 * const rng = new Rng(0);
 * const f = (z: tf.Tensor) => tf.sum(tf.square(tf.sub(z, 0.3)), -1); // [S, 3] -> [S]
 * const { grads } = tf.variableGrads(() =>
 *   tf.mean(est.estimate(new Bernoulli({ logits }), f, { samples: 8, rng }).surrogate) as tf.Scalar,
 * );
 * ```
 */
export interface GradientEstimator extends CoreGradientEstimator {
  /** The surrogate and diagnostics for one estimate (see core's `EstimateResult`). */
  estimate(q: LatentInput, f: Integrand, opts: EstimateOptions): EstimateResult;
}
