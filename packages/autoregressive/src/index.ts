/**
 * @dgm-js/autoregressive: autoregressive density models with exact likelihoods: MADE, PixelCNN
 * and Gated PixelCNN, and a sequence model for discrete data; home of the `DensityModel`
 * interface shared with `@dgm-js/flows` and `@dgm-js/hybrids`.
 *
 * @example
 * ```ts
 * import { initBackend, Rng, tf } from '@dgm-js/core-tensors';
 * import { Made } from '@dgm-js/autoregressive';
 * await initBackend();
 * const made = new Made({ dim: 784, hiddenSizes: [500], rng: new Rng(0) });
 * const lp = made.logProb(tf.zeros([2, 784])); // [2], nats
 * ```
 */
export type {
  DensityModel,
  SampleAsyncOptions,
  SampleOptions,
  SampleProgress,
} from './density.js';
export type { Head, HeadSpec } from './heads.js';
export { resolveHead } from './heads.js';
export type { MadeNetOptions, MadeOptions } from './made.js';
export { Made, MadeNet } from './made.js';
export type { HiddenDegrees, MadeDegrees, OrderingSpec } from './masks.js';
export {
  checkOrdering,
  degreeMask,
  madeDegrees,
  permutation,
  resolveOrdering,
} from './masks.js';
export type { DensityBatch, NllObjectiveOptions } from './objective.js';
export { nllObjective } from './objective.js';
export type {
  PixelCNNOptions,
  PixelConditioning,
  PixelModelOptions,
} from './pixelcnn.js';
export { GatedPixelCNN, PixelCNN, PixelModel } from './pixelcnn.js';
export type { SequenceModelOptions } from './sequence.js';
export { SequenceModel } from './sequence.js';
