/**
 * The contract of every gradient estimator in dgm.js.
 */
import type { Distribution, Rng, tf } from '@dgm-js/core-tensors';

type Tensor = tf.Tensor;

/** The two discrete latent families the discrete estimators work on. */
export type LatentKind = 'bernoulli' | 'categorical';

/**
 * A discrete latent variable given by its logits.
 * - `bernoulli`: log-odds of shape `[...instance, ...latent]`; samples are 0/1 of that shape.
 * - `categorical`: unnormalized log-probabilities `[...instance, ...latent, C]`; samples are
 *   one-hot vectors of that shape.
 *
 * `instance` dimensions index independent problems (data points of a batch, repeats); `latent`
 * dimensions are the components of one latent vector. Which is which is read from the objective:
 * it returns one value per sample and instance (see {@link Objective}).
 */
export interface DiscreteLatent {
  readonly kind: LatentKind;
  readonly logits: Tensor;
}

/**
 * What an estimator differentiates through: a discrete latent given by logits, or a
 * `Distribution` from `@dgm-js/core-tensors` (score-function estimators take any distribution,
 * the reparameterization estimator one with `hasRsample`; the discrete estimators take
 * `Bernoulli` and `OneHotCategorical` and use their logits).
 */
export type LatentInput = DiscreteLatent | Distribution;

/**
 * The objective f. It receives samples `z` of shape `[S, ...batchShape, ...eventShape]` (for a
 * discrete latent: `[S, ...logits.shape]`), where S is any leading size (estimators batch
 * several evaluations into one call), and returns `[S, ...instanceShape]`: one value per
 * sample and instance, where `instanceShape` is a leading part of the batch shape. The
 * remaining batch dimensions are latent dimensions: reduce over them inside f, and the
 * estimator sums log q over them. f may depend on parameters of its own (a decoder, as in
 * the ELBO): its gradient flows into them.
 */
export type Objective = (z: Tensor) => Tensor;

/** Options of {@link GradientEstimator.estimate}. */
export interface EstimateOptions {
  /** Number of samples K per instance (ARM / DisARM: antithetic pairs). Integer >= 1. */
  samples: number;
  /** The random stream the samples take their seeds from. */
  rng: Rng;
  /** Input of a learned baseline (NVIL): `[...instanceShape, features]`. */
  context?: Tensor;
  /**
   * Whether this call advances the estimator's state: the step counter (temperature
   * schedules), baseline averages, and the training step of control-variate networks.
   * Default true. Analyses (`gradientStats`) pass false.
   */
  update?: boolean;
  /** Whether to read diagnostics back (one small synchronous read). Default true. */
  diagnostics?: boolean;
}

/** Scalar facts about one estimate (the mean objective, baseline, temperature, ...). */
export type Diagnostics = Record<string, number>;

/** What {@link GradientEstimator.estimate} returns. */
export interface EstimateResult {
  /**
   * The surrogate, shape `instanceShape`. Its value is the Monte Carlo estimate of the
   * objective's expectation for each instance (E_q[f] for most estimators; see each
   * estimator's notes: relaxed estimators give E[f(relaxed z)], VIMCO the multi-sample bound);
   * its gradient with respect to q's parameters and f's own parameters is the estimator.
   * Reduce it (`tf.mean`) to a scalar loss. The caller owns it.
   */
  surrogate: Tensor;
  /** Read-back scalars (empty when `diagnostics: false`). */
  diagnostics: Diagnostics;
}

/** One tensor of an estimator's state, as plain numbers. */
export interface SerializedTensor {
  shape: number[];
  values: number[];
}

/**
 * An estimator's explicit state: the step counter and every tensor it learns or averages
 * (baselines, control-variate networks, their optimizer moments). Plain JSON: save it with a
 * checkpoint, restore it with `setState`.
 */
export interface EstimatorState {
  estimator: string;
  version: 1;
  step: number;
  tensors: Record<string, SerializedTensor>;
}

/**
 * A gradient estimator for grad E_{q(z)}[f(z)].
 *
 * @example
 * ```ts
 * import { Rng, tf } from '@dgm-js/core-tensors';
 * import { bernoulliLatent, rloo } from '@dgm-js/estimators';
 * const logits = tf.variable(tf.zeros([3]));
 * const est = rloo();
 * const rng = new Rng(0);
 * const f = (z: tf.Tensor) => tf.sum(tf.square(tf.sub(z, 0.3)), -1); // [S, 3] -> [S]
 * const { grads } = tf.variableGrads(() =>
 *   tf.mean(est.estimate(bernoulliLatent(logits), f, { samples: 8, rng }).surrogate) as tf.Scalar,
 * );
 * ```
 */
export interface GradientEstimator {
  /** Short name ('reinforce', 'rloo', 'gumbel-softmax', ...). */
  readonly name: string;
  /** Whether the gradient is an unbiased estimate of grad E_q[f]. */
  readonly unbiased: boolean;
  /** Number of updating calls so far (drives temperature schedules). */
  readonly step: number;
  /** The surrogate and diagnostics for one estimate; see {@link EstimateResult}. */
  estimate(q: LatentInput, f: Objective, opts: EstimateOptions): EstimateResult;
  /** A JSON copy of the state. */
  getState(): EstimatorState;
  /** Restores a state from `getState()` (of an estimator of the same kind and options). */
  setState(state: EstimatorState): void;
  /** Frees the state's tensors. Idempotent. */
  dispose(): void;
}
