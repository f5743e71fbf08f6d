/**
 * Probability distributions of dgm.js: the `Distribution` contract, the distributions every
 * model family uses, Gumbel fitting and Gumbel-Max sampling, KL divergences via a registry, and
 * `TransformedDistribution` (a base pushed through a bijector) with a few elementwise bijectors.
 */

export { Bernoulli } from './bernoulli.js';
export {
  Affine,
  type AffineOptions,
  type ElementwiseBijector,
  type ElementwiseForward,
  type ElementwiseInverse,
  Exp,
  Invert,
  isElementwise,
  Sigmoid,
} from './bijectors.js';
export { Categorical, gumbelMax, OneHotCategorical } from './categorical.js';
export {
  BaseDistribution,
  type BinaryParams,
  broadcastShapes,
  type CategoricalParams,
  type Distribution,
  type DistributionOptions,
  type ParamLike,
  type SampleOptions,
  type SampleProgress,
} from './distribution.js';
export { type FitGumbelOptions, fitGumbel, Gumbel, type GumbelFit } from './gumbel.js';
export { Independent } from './independent.js';
export { type DistributionClass, type KLFn, kl, registerKL } from './kl.js';
export { Logistic } from './logistic.js';
export { MixtureSameFamily } from './mixture.js';
export { Normal } from './normal.js';
export {
  ExpRelaxedOneHotCategorical,
  LogitRelaxedBernoulli,
  RelaxedBernoulli,
  RelaxedOneHotCategorical,
} from './relaxed.js';
export {
  conditionalTransformed,
  type SampleWithLogProb,
  TransformedDistribution,
  type TransformedDistributionOptions,
} from './transformed.js';
export { Uniform } from './uniform.js';
