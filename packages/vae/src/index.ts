/**
 * @dgm-js/vae: variational autoencoders. Gaussian latents (reparameterized), Bernoulli and
 * categorical latents trained with any gradient estimator of `@dgm-js/estimators` (one option),
 * exact discrete sampling at test time, the IWAE bound and objective, beta-VAE, KL warm-up,
 * free bits, and sample grids / reconstructions / latent interpolations as PNG.
 *
 * @example
 * ```ts
 * import { initBackend, Rng, tf } from '@dgm-js/core-tensors';
 * import { CategoricalVAE, GaussianVAE } from '@dgm-js/vae';
 * await initBackend();
 * const rng = new Rng(0);
 * const vae = GaussianVAE.mlp({ inputDim: 784, hidden: [400], latentDim: 40, rng });
 * const cat = CategoricalVAE.mlp({ inputDim: 784, hidden: [512, 256], latents: 20, categories: 10,
 *   estimator: 'gumbel-softmax', rng });
 * const opt = tf.train.adam(1e-3);
 * tf.tidy(() => opt.minimize(() => vae.loss(x, { rng }).loss)); // x: [B, 784] of 0/1
 * const ll = vae.iwae(x, 50, { rng }); // [B]
 * ```
 */

export {
  ConvDecoder,
  ConvEncoder,
  type ConvNetOptions,
  type ConvVaeOptions,
  convGaussianVAE,
} from './conv.js';
export {
  BernoulliVAE,
  type BernoulliVaeOptions,
  CategoricalVAE,
  type CategoricalVaeOptions,
  DiscreteVAE,
  type DiscreteVaeOptions,
  ESTIMATOR_NAMES,
  type EstimatorByNameOptions,
  type EstimatorName,
  estimatorByName,
} from './discrete.js';
export {
  type ImageOptions,
  sampleGridPng,
  saveInterpolations,
  saveReconstructions,
  saveSampleGrid,
} from './images.js';
export { type KlWeight, klCyclical, klWarmup, klWeightAt } from './schedules.js';
export type {
  BoundOptions,
  ElboOptions,
  ElboTerms,
  LatentVariableModel,
  Likelihood,
  LossOptions,
  TrainOptions,
  VaeLoss,
} from './types.js';
export {
  GaussianVAE,
  type GaussianVaeOptions,
  logMeanExp,
  type MlpVaeOptions,
  type ReconstructOptions,
  type SampleOptions,
  type TensorModule,
  VAE,
  type VaeOptions,
} from './vae.js';
