export type { Activation, ActivationFn, ActivationName } from './activations.js';
export {
  activationNames,
  gelu,
  getActivation,
  leakyRelu,
} from './activations.js';
export type { Conv2dOptions, Conv2dPadding, MaskedConv2dOptions, MaskType } from './conv.js';
export { Conv2d, MaskedConv2d, pixelcnnMask } from './conv.js';
export type { Initializer, InitializerName } from './init.js';
export {
  computeFans,
  getInitializer,
  glorotNormal,
  glorotUniform,
  heNormal,
  heUniform,
  lecunNormal,
  lecunUniform,
} from './init.js';
export type { LoadModuleOptions, SaveStateOptions } from './io.js';
export { loadModule, loadState, saveModule, saveState } from './io.js';
export type { DenseOptions, MlpOptions } from './layers.js';
export { ActivationLayer, Dense, MaskedDense, mlp, Sequential } from './layers.js';
export type {
  NamedTensors,
  ParameterOptions,
  SetStateOptions,
  StateShapeMismatch,
} from './module.js';
export { Module, StateMismatchError } from './module.js';
export {
  checkLeakySlope,
  safeExp,
  safeLeakyRelu,
  safeSigmoid,
  safeSoftmax,
  safeTanh,
} from './second-order.js';
export type { StateDtype, StateManifest, WeightSpec } from './serialize.js';
export {
  CheckpointError,
  crc32,
  decodeState,
  encodeState,
  parseManifest,
} from './serialize.js';
