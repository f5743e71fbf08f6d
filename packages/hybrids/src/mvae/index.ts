export {
  checkRng,
  type MultimodalBoundOptions,
  type MultimodalElboOptions,
  MultimodalModel,
  type MvaeBatch,
} from './base.js';
export { JMVAE } from './jmvae.js';
export {
  CategoricalDecoder,
  categoricalDecoder,
  GaussianExpert,
  type MlpModalityOptions,
  type Modality,
  mlpModality,
} from './modalities.js';
export { MVAE } from './model.js';
export {
  fromPaired,
  type JmvaeObjectiveOptions,
  jmvaeObjective,
  type MvaeObjectiveOptions,
  mvaeObjective,
} from './objective.js';
export {
  diagNormal,
  type GaussianParams,
  type ProductOfGaussiansOptions,
  productOfGaussians,
} from './poe.js';
