/**
 * @dgm-js/vae: variational autoencoders from parts. `new VAE({ encoder, decoder, prior,
 * estimator? })` takes an encoder q(z | x) and a decoder p(x | z) (`ConditionalDistribution`s),
 * a prior (any `Distribution`) and, for discrete latents, any gradient estimator of
 * `@dgm-js/estimators`; one implementation gives the ELBO (analytic KL when registered, Monte
 * Carlo otherwise), the IWAE bound and objective, beta-VAE, KL warm-up, free bits, exact samples,
 * reconstructions and latent interpolations (as PNG too). `GaussianVAE`, `BernoulliVAE`,
 * `CategoricalVAE` and `convGaussianVAE` are factories over it.
 *
 * @example
 * ```ts
 * import { initBackend, mlp, Rng, tf } from '@dgm-js/core-tensors';
 * import { bernoulliDecoder, CategoricalVAE, GaussianVAE, gaussianEncoder, stdNormal, VAE } from '@dgm-js/vae';
 * await initBackend();
 * const rng = new Rng(0);
 * const vae = GaussianVAE.mlp({ inputDim: 784, hidden: [400], latentDim: 40, rng });
 * // the same model from parts
 * const same = new VAE({
 *   encoder: gaussianEncoder(mlp([784, 400, 80], { rng, activation: 'relu' })),
 *   decoder: bernoulliDecoder(mlp([40, 400, 784], { rng, activation: 'relu' })),
 *   prior: stdNormal(40),
 * });
 * const cat = CategoricalVAE.mlp({ inputDim: 784, hidden: [512, 256], latents: 20, categories: 10,
 *   estimator: 'gumbel-softmax', rng });
 * const opt = tf.train.adam(1e-3);
 * tf.tidy(() => opt.minimize(() => vae.loss(x, { rng }).loss)); // x: [B, 784] of 0/1
 * const ll = vae.iwae(x, 50, { rng }); // [B]
 * ```
 */

export {
  BernoulliDecoder,
  BernoulliEncoder,
  bernoulliDecoder,
  bernoulliEncoder,
  CategoricalEncoder,
  type CategoricalEncoderOptions,
  ConditionalModule,
  categoricalEncoder,
  GaussianDecoder,
  GaussianEncoder,
  type GaussianEncoderOptions,
  gaussianDecoder,
  gaussianEncoder,
  likelihoodDecoder,
  type TensorModule,
} from './conditionals.js';
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
} from './discrete.js';
export { borrowed, stdNormal, uniformBernoulli, uniformCategorical } from './distributions.js';
export {
  type ImageOptions,
  sampleGridPng,
  saveInterpolations,
  saveReconstructions,
  saveSampleGrid,
} from './images.js';
export { analyticKl, type KlGroups, klGroups } from './latent-kl.js';
export { estimatorView, logMeanExp } from './loss.js';
export {
  type ReconstructOptions,
  type SampleOptions,
  VAE,
  type VaeBatch,
  type VaeOptions,
  type VaeSampleOptions,
} from './model.js';
export { BatchReshaped } from './reshape.js';
export { type KlWeight, klCyclical, klWarmup, klWeightAt } from './schedules.js';
export type {
  ElboOptions,
  ElboTerms,
  IwaeOptions,
  LatentVariableModel,
  Likelihood,
  LossOptions,
  TrainOptions,
  VaeLoss,
} from './types.js';
export {
  GaussianVAE,
  type GaussianVaeOptions,
  type MlpVaeOptions,
  mlpPair,
  type NetworkVaeOptions,
} from './vae.js';
