/**
 * @dgm-js/core-tensors: the one door to TensorFlow.js for dgm.js.
 *
 * @example
 * ```ts
 * import { initBackend, tf, logSumExp, Rng } from '@dgm-js/core-tensors';
 * await initBackend();
 * const rng = new Rng(0);
 * logSumExp(tf.randomNormal([4, 10], 0, 1, 'float32', rng.next())).print();
 * ```
 */

export type { BackendInfo, BackendName, InitBackendOptions } from './backend.js';
export { initBackend } from './backend.js';
export type {
  Bijector,
  BoundOptions,
  ConditionalDistribution,
  Critic,
  Diagnostics,
  EstimateOptions,
  EstimateResult,
  EstimatorState,
  EvalData,
  ForwardResult,
  GenerateOptions,
  Generator,
  GradientEstimator,
  Integrand,
  InverseResult,
  Metric,
  MetricResult,
  SerializedTensor,
  StatefulPart,
  TrainingStateProvider,
} from './contracts.js';
export * from './distributions/index.js';
export { BackendError, DgmError, fmtShape, ShapeError, ValueError } from './errors.js';
export type { PlotOptions, PlotSeries } from './figures.js';
export { plotSvg } from './figures.js';
export {
  registerWasmKernels,
  restoreStockWasmKernels,
  wasmKernelOverrides,
} from './kernels/index.js';
export type { NativeKernelsStatus } from './kernels/native.js';
export {
  loadNativeKernels,
  nativeKernelsStatus,
  setNativeThreads,
  unloadNativeKernels,
} from './kernels/native.js';
export type { Reduction } from './losses.js';
export { sigmoidCrossEntropyWithLogits } from './losses.js';
export * from './nn/index.js';
export type { ClampedUniformOptions, CustomGradResult } from './numerics.js';
export {
  clampedUniform,
  customGrad,
  expm1,
  gumbelNoise,
  log1mexp,
  logSigmoid,
  logSoftmax,
  logSumExp,
  softplus,
  stopGradient,
  straightThrough,
} from './numerics.js';
export { Adam, adam } from './optim.js';
export { Rng } from './rng.js';
export { digamma, lgamma, trigamma } from './special.js';
export type {
  DataType,
  GradSaveFunc,
  NamedTensorMap,
  Rank,
  Scalar,
  Tensor,
  Tensor1D,
  Tensor2D,
  Tensor3D,
  Tensor4D,
  TensorLike,
  Variable,
} from './tf.js';
export { tf } from './tf.js';
export * from './train/index.js';
export { type BitsPerDimOptions, bitsPerDim } from './units.js';
export type { CheckIntOptions } from './validate.js';
export { checkInt, checkRng, HALF_LOG_2PI, LOG_2PI } from './validate.js';
export type { WasmBinaryName, WasmPaths } from './wasm-paths.js';
export { WASM_BINARIES } from './wasm-paths.js';
