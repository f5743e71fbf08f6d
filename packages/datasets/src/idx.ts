import { IdxFormatError } from './errors.js';

/** Element types an IDX file can hold (the third byte of its magic number). */
export type IdxDtype = 'uint8' | 'int8' | 'int16' | 'int32' | 'float32' | 'float64';

/** The typed array an IDX element type parses to. */
export type IdxData =
  | Uint8Array
  | Int8Array
  | Int16Array
  | Int32Array
  | Float32Array
  | Float64Array;

/** A parsed IDX file: element type, dimensions and the values in row-major order. */
export interface IdxArray {
  readonly dtype: IdxDtype;
  readonly shape: readonly number[];
  /** Row-major values. For `uint8`/`int8` this is a zero-copy view of the input bytes. */
  readonly data: IdxData;
  /** Where the bytes came from (a file path, or `'<bytes>'`). */
  readonly source: string;
}

const DTYPES: ReadonlyMap<number, { dtype: IdxDtype; bytes: number }> = new Map([
  [0x08, { dtype: 'uint8', bytes: 1 }],
  [0x09, { dtype: 'int8', bytes: 1 }],
  [0x0b, { dtype: 'int16', bytes: 2 }],
  [0x0c, { dtype: 'int32', bytes: 4 }],
  [0x0d, { dtype: 'float32', bytes: 4 }],
  [0x0e, { dtype: 'float64', bytes: 8 }],
]);

/**
 * The dtype byte of each IDX element type (the third byte of the magic number).
 *
 * @example
 * ```ts
 * import { IDX_DTYPE_CODES } from '@dgm-js/datasets';
 * IDX_DTYPE_CODES.uint8; // 0x08, as in MNIST's files
 * ```
 */
export const IDX_DTYPE_CODES: Readonly<Record<IdxDtype, number>> = {
  uint8: 0x08,
  int8: 0x09,
  int16: 0x0b,
  int32: 0x0c,
  float32: 0x0d,
  float64: 0x0e,
};

function hex(b: number): string {
  return `0x${b.toString(16).padStart(2, '0')}`;
}

/**
 * Parses the bytes of an IDX file (the format of the MNIST files; big-endian header
 * `00 00 <dtype> <ndim>`, then `ndim` 32-bit big-endian dimensions, then the values).
 * Everything is checked: the two zero bytes of the magic number, the dtype byte, the number
 * of dimensions, that the header is complete and that the data length is exactly
 * `prod(dims) * bytesPerElement` (a truncated file and trailing garbage are both errors).
 * Multi-byte values are converted from big-endian. Works in Node and in the browser.
 *
 * @param bytes The whole file (not gzipped; Node loaders un-gzip for you).
 * @param source The file's name, used in error messages.
 * @throws IdxFormatError naming `source`, what is wrong and the fix.
 *
 * @example
 * ```ts
 * import { parseIdx } from '@dgm-js/datasets';
 * const bytes = new Uint8Array([0, 0, 0x08, 1, 0, 0, 0, 3, 7, 8, 9]);
 * const { dtype, shape, data } = parseIdx(bytes, 'tiny.idx1');
 * // dtype 'uint8', shape [3], data Uint8Array [7, 8, 9]
 * ```
 */
export function parseIdx(bytes: Uint8Array, source = '<bytes>'): IdxArray {
  const fix =
    'the file is not a valid IDX file: re-extract or re-download it (and un-gzip it if it ends in .gz)';
  if (bytes.length < 4) {
    throw new IdxFormatError(
      source,
      `truncated: ${bytes.length} byte(s), shorter than the 4-byte magic number; ${fix}.`,
    );
  }
  if (bytes[0] !== 0 || bytes[1] !== 0) {
    const gz = bytes[0] === 0x1f && bytes[1] === 0x8b;
    throw new IdxFormatError(
      source,
      `bad magic number: the first two bytes are ${hex(bytes[0]!)} ${hex(bytes[1]!)}, expected 0x00 0x00` +
        (gz ? ' (this is a gzip file: decompress it first)' : `; ${fix}`) +
        '.',
    );
  }
  const code = bytes[2]!;
  const info = DTYPES.get(code);
  if (!info) {
    throw new IdxFormatError(
      source,
      `bad magic number: unknown dtype byte ${hex(code)} (expected one of 0x08 uint8, 0x09 int8, 0x0b int16, 0x0c int32, 0x0d float32, 0x0e float64); ${fix}.`,
    );
  }
  const ndim = bytes[3]!;
  if (ndim === 0) {
    throw new IdxFormatError(source, `bad magic number: 0 dimensions; ${fix}.`);
  }
  const headerLen = 4 + 4 * ndim;
  if (bytes.length < headerLen) {
    throw new IdxFormatError(
      source,
      `truncated header: ${ndim} dimension(s) need ${headerLen} header bytes, the file has ${bytes.length}; ${fix}.`,
    );
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const shape: number[] = [];
  let count = 1;
  for (let d = 0; d < ndim; d++) {
    const n = view.getUint32(4 + 4 * d, false);
    if (n > 0x7fffffff) {
      throw new IdxFormatError(
        source,
        `dimension ${d} is ${n}, which is implausibly large (corrupt header); ${fix}.`,
      );
    }
    shape.push(n);
    count *= n;
  }
  const expected = headerLen + count * info.bytes;
  if (bytes.length !== expected) {
    const what = bytes.length < expected ? 'truncated' : 'wrong length';
    throw new IdxFormatError(
      source,
      `${what}: header says ${info.dtype} of shape [${shape.join(', ')}], which needs ${expected} bytes ` +
        `(${headerLen} header + ${count} x ${info.bytes}), but the file has ${bytes.length}; ${fix}.`,
    );
  }
  const off = bytes.byteOffset + headerLen;
  let data: IdxData;
  switch (info.dtype) {
    case 'uint8':
      data = bytes.subarray(headerLen);
      break;
    case 'int8':
      data = new Int8Array(bytes.buffer, off, count);
      break;
    default: {
      const out =
        info.dtype === 'int16'
          ? new Int16Array(count)
          : info.dtype === 'int32'
            ? new Int32Array(count)
            : info.dtype === 'float32'
              ? new Float32Array(count)
              : new Float64Array(count);
      for (let i = 0; i < count; i++) {
        const p = headerLen + i * info.bytes;
        out[i] =
          info.dtype === 'int16'
            ? view.getInt16(p, false)
            : info.dtype === 'int32'
              ? view.getInt32(p, false)
              : info.dtype === 'float32'
                ? view.getFloat32(p, false)
                : view.getFloat64(p, false);
      }
      data = out;
    }
  }
  return { dtype: info.dtype, shape, data, source };
}
