/**
 * @dgm-js/autoregressive: autoregressive density models with exact likelihoods: MADE, PixelCNN
 * and Gated PixelCNN, and a sequence model for discrete data. Each is a core `Distribution`
 * (batch shape `[]`, event shape one example) and, when built with a context, a
 * `ConditionalDistribution` (`condition(context)` is p(. | context)).
 *
 * @example
 * ```ts
 * import { initBackend, Rng, tf } from '@dgm-js/core-tensors';
 * import { Made } from '@dgm-js/autoregressive';
 * await initBackend();
 * const made = new Made({ dim: 784, hiddenSizes: [500], rng: new Rng(0) });
 * const lp = made.logProb(tf.zeros([2, 784])); // [2], nats
 * const xs = made.sample({ sampleShape: [4], rng: new Rng(1) }); // [4, 784]
 * ```
 */
export type { ConditionalSampleOptions, ContextModel } from './conditioned.js';
export { ConditionedDistribution, contextBatchShape, drawShape } from './conditioned.js';
export type { DensityModel, SampleAsyncOptions } from './density.js';
export type { Head, HeadSpec } from './heads.js';
export { resolveHead } from './heads.js';
export type { MadeOptions } from './made.js';
export { Made } from './made.js';
export type { MadeNetOptions } from './made-net.js';
export { MadeNet } from './made-net.js';
export type { HiddenDegrees, MadeDegrees, OrderingSpec } from './masks.js';
export {
  checkOrdering,
  degreeMask,
  madeDegrees,
  permutation,
  resolveOrdering,
} from './masks.js';
export { AutoregressiveModel } from './model.js';
export type { DensityBatch, NllObjectiveOptions } from './objective.js';
export { nllObjective } from './objective.js';
export type { PixelConditioning, PixelModelOptions } from './pixel-model.js';
export { PixelModel } from './pixel-model.js';
export type { PixelCNNOptions } from './pixelcnn.js';
export { GatedPixelCNN, PixelCNN } from './pixelcnn.js';
export type { SequenceModelOptions } from './sequence.js';
export { SequenceModel } from './sequence.js';
