/**
 * @dgm-js/estimators: gradients of E_{q_phi(z)}[f(z)] when z is discrete or f is not
 * differentiable, and the tools to measure them. The contract (`GradientEstimator`,
 * `Integrand`, `EstimateOptions`, ...) and the distributions come from `@dgm-js/core-tensors`.
 *
 * @example
 * ```ts
 * import { Bernoulli, initBackend, Rng, tf } from '@dgm-js/core-tensors';
 * import { relax } from '@dgm-js/estimators';
 * await initBackend();
 * const theta = tf.variable(tf.zeros([1]));
 * const est = relax();
 * const opt = tf.train.adam(0.01);
 * const f = (b: tf.Tensor) => tf.sum(tf.square(tf.sub(b, 0.499)), -1);
 * const rng = new Rng(0);
 * for (let t = 0; t < 1000; t++) {
 *   opt.minimize(() => {
 *     const q = new Bernoulli({ logits: theta }, { validate: false });
 *     return tf.mean(est.estimate(q, f, { samples: 1, rng }).surrogate) as tf.Scalar;
 *   });
 * }
 * ```
 */

export {
  bernoulliProblem,
  categoricalProblem,
  type EstimationProblem,
  exactGradientOf,
  type GradientStats,
  type GradientStatsOptions,
  gradientStats,
  lectureProblem,
  relaxToyProblem,
} from './analysis.js';
export { ArmEstimator, arm, disarm } from './arm.js';
export { BaseEstimator, type RunContext, type RunResult } from './base.js';
export {
  type Baseline,
  type BaselineContext,
  type BaselineOption,
  constantBaseline,
  type LearnedBaselineOptions,
  learned,
  leaveOneOut,
  type MovingAverageOptions,
  movingAverage,
  noBaseline,
} from './baselines.js';
export {
  ESTIMATOR_NAMES,
  type EstimatorByNameOptions,
  type EstimatorName,
  estimatorByName,
} from './by-name.js';
export { gumbelMax, straightThrough } from './deprecated.js';
export {
  DEFAULT_MAX_CONFIGS,
  ExactEstimator,
  type ExactOptions,
  enumerateConfigs,
  exact,
  exactExpectation,
} from './exact.js';
export { bernoulliLatent, categoricalLatent, detach } from './latent.js';
export { RelaxEstimator, type RelaxOptions, rebar, relax } from './relax.js';
export {
  GumbelSoftmaxEstimator,
  type GumbelSoftmaxOptions,
  gumbelSoftmax,
  ReparamEstimator,
  reparam,
  StraightThroughEstimator,
  straightThroughEstimator,
  straightThroughGumbelSoftmax,
} from './relaxed.js';
export {
  constantTemperature,
  exponentialTemperature,
  type TemperatureSchedule,
  temperatureAt,
} from './schedule.js';
export {
  gumbelMaxEstimator,
  NvilEstimator,
  type NvilOptions,
  nvil,
  ReinforceEstimator,
  type ReinforceOptions,
  RlooEstimator,
  reinforce,
  rloo,
  type ScoreFunctionOptions,
  VimcoEstimator,
  vimco,
} from './score.js';
export { Learner, type LearnerOptions, StateStore } from './state.js';
export type {
  Diagnostics,
  DiscreteLatent,
  EstimateOptions,
  EstimateResult,
  EstimatorState,
  GradientEstimator,
  Integrand,
  LatentInput,
  LatentKind,
  Objective,
  SerializedTensor,
} from './types.js';
