/**
 * @dgm-js/gan: generative adversarial networks on the dgm.js contracts.
 *
 * @example
 * ```ts
 * import { initBackend, Rng } from '@dgm-js/core-tensors';
 * import { MlpCritic, MlpGenerator, nonSaturating } from '@dgm-js/gan';
 * await initBackend();
 * const rng = new Rng(0);
 * const g = new MlpGenerator({ latentDim: 8, outputShape: 2, hidden: [64], rng });
 * const d = new MlpCritic({ inputShape: 2, hidden: [64], rng });
 * const loss = nonSaturating.generator(d.score(g.generate(16, rng)));
 * ```
 */

export type { Critic, GenerateOptions, Generator } from '@dgm-js/core-tensors';
export type { CriticActivation, CriticActivationName } from './activations.js';
export {
  criticActivation,
  criticActivationNames,
  safeLeakyRelu,
  safeSigmoid,
  safeTanh,
} from './activations.js';
export type {
  GanCallback,
  GanCallbackState,
  GanHandle,
  GanStepInfo,
  SampleEvent,
  SampleGridOptions,
} from './callbacks.js';
export { GeneratorEma, imageGridSaver, SampleGrids } from './callbacks.js';
export type { GanHistoryEntry } from './checkpoint.js';
export type {
  ConvTranspose2dOptions,
  DcganCriticOptions,
  DcganGeneratorOptions,
} from './dcgan.js';
export { ConvTranspose2d, DcganCritic, DcganGenerator } from './dcgan.js';
export { GanDivergenceError } from './errors.js';
export type { GanLoss, GanLossName } from './losses.js';
export {
  ganLoss,
  ganLossNames,
  hinge,
  jsdEstimate,
  leastSquares,
  minimax,
  nonSaturating,
  wasserstein,
} from './losses.js';
export type { MlpCriticOptions, MlpGeneratorOptions } from './networks.js';
export { MlpCritic, MlpGenerator } from './networks.js';
export type { CriticFn, GradientPenaltyOptions, R1Options } from './penalties.js';
export { gradientPenalty, inputGradient, r1Penalty, r2Penalty } from './penalties.js';
export { GanProgress } from './progress.js';
export type { SpectralNormalized, SpectralOptions } from './spectral.js';
export { powerIterate, SNConv2d, SNDense } from './spectral.js';
export type { GaussianModes, ModeCoverage } from './toy.js';
export { gridModes, modeCoverage, modeSampler, ringModes, sampleModes } from './toy.js';
export { GanTrainer } from './train.js';
export type {
  GanBatch,
  GanData,
  GanTrainerOptions,
  GanTrainResult,
  PenaltyOption,
} from './train-options.js';
