/**
 * @dgm-js/flows: normalizing flows for dgm.js. Bijectors (planar, radial, affine coupling,
 * ActNorm, LU linear / invertible 1x1 convolution, MAF, IAF, rational-quadratic spline
 * coupling, batch norm, logit), their composition, flow densities (`Flow`, a core
 * `Distribution` with reparameterised sampling; a `ConditionalDistribution` with a context) and
 * flow posteriors (`FlowDistribution`, reparameterised samples with their log-density). The
 * `Bijector` contract is core-tensors', re-exported here.
 *
 * @example
 * ```ts
 * import { initBackend, Rng, tf } from '@dgm-js/core-tensors';
 * import { Flow, SplineCoupling, alternatingMask } from '@dgm-js/flows';
 * await initBackend();
 * const rng = new Rng(0);
 * const flow = new Flow(
 *   [new SplineCoupling(alternatingMask(2, 0), { rng }), new SplineCoupling(alternatingMask(2, 1), { rng })],
 *   { dim: 2 },
 * );
 * const lp = flow.logProb(tf.randomNormal([8, 2])); // [8], nats
 * const xs = flow.sample({ sampleShape: [8], rng }); // [8, 2]
 * ```
 */
export type { ActNormOptions } from './actnorm.js';
export { ActNorm } from './actnorm.js';
export type { BatchNormOptions } from './batchnorm.js';
export { BatchNormBijector, setTraining } from './batchnorm.js';
export type { Bijector, ForwardResult, InverseResult } from './bijector.js';
export {
  BaseBijector,
  broadcast,
  Chain,
  DomainError,
  Invert,
  noGrad,
} from './bijector.js';
export type { AffineCouplingOptions, ConditionerOptions } from './coupling.js';
export { AffineCoupling, conditionerNet } from './coupling.js';
export type { FlowDistributionOptions, FlowOptions, SampleWithLogProb } from './flow.js';
export { Flow, FlowDistribution, standardNormal } from './flow.js';
export type { DequantizeOptions, LogitTransformOptions } from './image.js';
export { dequantize, LogitTransform } from './image.js';
export type { LULinearOptions } from './linear.js';
export { InvertibleConv1x1, invertTriangular, LULinear, luDecompose } from './linear.js';
export type { AutoregressiveFlowOptions, IAFOptions, MAFOptions } from './maf.js';
export { IAF, MAF } from './maf.js';
export { alternatingMask, halfMask, Permute, Reverse, randomPermutation } from './permute.js';
export type { PlanarOptions } from './planar.js';
export { Planar, Radial } from './planar.js';
export type { SplineCouplingOptions, SplineOptions, SplineResult } from './spline.js';
export { ElementwiseSpline, rationalQuadraticSpline, SplineCoupling } from './spline.js';
