/**
 * @dgm-js/estimators: gradients of E_{q_phi(z)}[f(z)] when z is discrete or f is not
 * differentiable, and the tools to measure them.
 *
 * @example
 * ```ts
 * import { initBackend, Rng, tf } from '@dgm-js/core-tensors';
 * import { bernoulliLatent, relax } from '@dgm-js/estimators';
 * await initBackend();
 * const theta = tf.variable(tf.zeros([1]));
 * const est = relax();
 * const opt = tf.train.adam(0.01);
 * const f = (b: tf.Tensor) => tf.sum(tf.square(tf.sub(b, 0.499)), -1);
 * const rng = new Rng(0);
 * for (let t = 0; t < 1000; t++) {
 *   opt.minimize(() => tf.mean(est.estimate(bernoulliLatent(theta), f, { samples: 1, rng }).surrogate) as tf.Scalar);
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
  straightThrough,
  straightThroughGumbelSoftmax,
} from './relaxed.js';
export {
  constantTemperature,
  exponentialTemperature,
  type TemperatureSchedule,
  temperatureAt,
} from './schedule.js';
export {
  type Baseline,
  gumbelMax,
  NvilEstimator,
  type NvilOptions,
  nvil,
  ReinforceEstimator,
  type ReinforceOptions,
  RlooEstimator,
  reinforce,
  rloo,
  VimcoEstimator,
  vimco,
} from './score.js';
export type {
  Diagnostics,
  DiscreteLatent,
  EstimateOptions,
  EstimateResult,
  EstimatorState,
  GradientEstimator,
  LatentInput,
  LatentKind,
  Objective,
  SerializedTensor,
} from './types.js';
