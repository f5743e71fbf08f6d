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
