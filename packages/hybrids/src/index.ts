/**
 * @dgm-js/hybrids: hybrid deep generative models composed from the parts of dgm.js. A VAE of
 * `@dgm-js/vae` takes any encoder (a `ConditionalDistribution`), decoder and prior, so the
 * hybrids are a few lines each: flow posteriors (planar, radial, IAF conditioned on the encoder's
 * h(x)), a MAF prior, and PixelVAE (a shallow conditional gated PixelCNN decoder).
 *
 * @example
 * ```ts
 * import { initBackend, mlp, Rng, tf } from '@dgm-js/core-tensors';
 * import { bernoulliDecoder, stdNormal, VAE } from '@dgm-js/vae';
 * import { iafPosterior } from '@dgm-js/hybrids';
 * await initBackend();
 * const rng = new Rng(0);
 * const vae = new VAE({
 *   encoder: iafPosterior(mlp([784, 256, 2 * 16 + 32], { rng, activation: 'relu' }), { latentDim: 16, contextDim: 32, rng }),
 *   decoder: bernoulliDecoder(mlp([16, 256, 784], { rng, activation: 'relu' })),
 *   prior: stdNormal(16),
 * });
 * ```
 */
// adversarial autoencoder (AAE) and its latent priors
export {
  AAE,
  type AaeOptimizers,
  type AaeOptions,
  type AaeTerms,
} from './aae.js';
export {
  type GaussianMixturePriorOptions,
  gaussianMixturePrior,
  type LatentSampler,
} from './aae-priors.js';
export { AaeTrainer, type AaeTrainerOptions } from './aae-train.js';
export { FlatContext, flatContext } from './adapters.js';
export {
  FlowPosterior,
  FlowPosteriorDistribution,
  type FlowPosteriorDistributionOptions,
  type FlowPosteriorOptions,
  flowPosterior,
  type IafPosteriorOptions,
  iafPosterior,
  type PlanarPosteriorOptions,
  planarPosterior,
  radialPosterior,
  type TensorModule,
} from './flow-posterior.js';
// FlowGAN and VAE-GAN (adversarial hybrids)
export {
  dequantizedBatches,
  FlowGan,
  type FlowGanFlowOptions,
  type FlowGanGeneratorLoss,
  type FlowGanMode,
  type FlowGanOptions,
  flowGanFlow,
} from './flowgan.js';
export {
  AdversarialLoop,
  type AdversarialLoopOptions,
  type LoopContext,
  type LoopPlayer,
  type LoopTrainerOptions,
} from './flowgan-loop.js';
export { FlowGanTrainer, type FlowGanTrainerOptions } from './flowgan-train.js';
// InfoVAE / MMD-VAE and the ELBO's alternative interpretation
export {
  InfoVAE,
  type InfoVaeOptions,
  type InfoVaeSettings,
  type InfoVaeTerms,
} from './infovae.js';
export { type KernelMmdOptions, kernelMmd2 } from './infovae-mmd.js';
export {
  type AlternativeInterpretation,
  alternativeInterpretation,
  type EnumerableModel,
} from './interpretation.js';
// multimodal VAE (product of experts) and its JMVAE baseline
export {
  CategoricalDecoder,
  categoricalDecoder,
  checkRng,
  diagNormal,
  fromPaired,
  GaussianExpert,
  type GaussianParams,
  JMVAE,
  type JmvaeObjectiveOptions,
  jmvaeObjective,
  type MlpModalityOptions,
  type Modality,
  type MultimodalBoundOptions,
  type MultimodalElboOptions,
  MultimodalModel,
  MVAE,
  type MvaeBatch,
  type MvaeObjectiveOptions,
  mlpModality,
  mvaeObjective,
  type ProductOfGaussiansOptions,
  productOfGaussians,
} from './mvae/index.js';
export {
  LatentMap,
  type LatentMapOptions,
  PixelDecoder,
  type PixelDecoderOptions,
  type PixelDecoderVaeOptions,
  type PixelVaeOptions,
  pixelDecoder,
  pixelVae,
  sameDepthPixelCnn,
} from './pixel-vae.js';
export { type MafPriorOptions, mafPrior } from './priors.js';
export { VaeGan, type VaeGanOptions, type VaeGanTerms } from './vae-gan.js';
export { VaeGanTrainer, type VaeGanTrainerOptions } from './vae-gan-train.js';
export { VampPrior, type VampPriorOptions, vampPrior } from './vamp-prior.js';
