import { DgmError } from '@dgm-js/core-tensors';
import { describe, expect, it } from 'vitest';
import { IdxFormatError } from './errors.js';
import { type IdxDtype, parseIdx } from './idx.js';
import { encodeIdx } from './testing/write-idx.js';

function expectIdxError(bytes: Uint8Array, ...phrases: (string | RegExp)[]): IdxFormatError {
  let err: unknown;
  try {
    parseIdx(bytes, 'some/file-idx3-ubyte');
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(IdxFormatError);
  expect(err).toBeInstanceOf(DgmError);
  const e = err as IdxFormatError;
  expect(e.source).toBe('some/file-idx3-ubyte');
  expect(e.message).toContain('some/file-idx3-ubyte');
  for (const p of phrases) expect(e.message).toMatch(p);
  return e;
}

describe('parseIdx', () => {
  const cases: [IdxDtype, number[]][] = [
    ['uint8', [0, 1, 127, 128, 255, 42]],
    ['int8', [-128, -1, 0, 1, 127, 5]],
    ['int16', [-32768, -2, 0, 300, 32767, -1234]],
    ['int32', [-2147483648, -7, 0, 65536, 2147483647, 99]],
    ['float32', [-1.5, 0, 0.25, 3.0e38, -7.125, 1e-30]],
    ['float64', [-1.5e300, 0, Math.PI, 1e-300, -Math.E, 2 ** 53]],
  ];
  for (const [dtype, values] of cases) {
    it(`round-trips ${dtype} (big-endian) with its shape`, () => {
      const bytes = encodeIdx(dtype, [2, 3], values);
      const a = parseIdx(bytes, 'x.idx');
      expect(a.dtype).toBe(dtype);
      expect(a.shape).toEqual([2, 3]);
      const expected = dtype === 'float32' ? Array.from(Float32Array.from(values)) : values;
      expect(Array.from(a.data)).toEqual(expected);
    });
  }

  it('returns uint8 data as a zero-copy view of the input', () => {
    const bytes = encodeIdx('uint8', [4], [9, 8, 7, 6]);
    const a = parseIdx(bytes);
    expect(a.data.buffer).toBe(bytes.buffer);
    expect(a.data.byteOffset).toBe(8);
    expect(a.source).toBe('<bytes>');
  });

  it('parses a view into a larger buffer (non-zero byteOffset)', () => {
    const inner = encodeIdx('int16', [2], [-3, 513]);
    const big = new Uint8Array(inner.length + 5);
    big.set(inner, 3);
    expect(Array.from(parseIdx(big.subarray(3, 3 + inner.length)).data)).toEqual([-3, 513]);
  });

  it('accepts zero-sized dimensions', () => {
    const a = parseIdx(encodeIdx('uint8', [0, 28, 28], []));
    expect(a.shape).toEqual([0, 28, 28]);
    expect(a.data.length).toBe(0);
  });

  it('rejects files shorter than the magic number', () => {
    expectIdxError(new Uint8Array([0, 0, 8]), /truncated/, /3 byte/);
  });

  it('rejects a bad magic number (non-zero leading bytes)', () => {
    const bytes = encodeIdx('uint8', [2], [1, 2]);
    bytes[0] = 0x01;
    expectIdxError(bytes, /bad magic number/, /0x01 0x00/, /expected 0x00 0x00/);
  });

  it('recognises a gzip file and says to decompress it', () => {
    expectIdxError(new Uint8Array([0x1f, 0x8b, 8, 0, 0, 0]), /gzip/, /decompress/);
  });

  it('rejects an unknown dtype byte', () => {
    const bytes = encodeIdx('uint8', [2], [1, 2]);
    bytes[2] = 0x0a;
    expectIdxError(bytes, /unknown dtype byte 0x0a/);
  });

  it('rejects zero dimensions', () => {
    expectIdxError(new Uint8Array([0, 0, 8, 0]), /0 dimensions/);
  });

  it('rejects a truncated header', () => {
    const bytes = encodeIdx('uint8', [1, 1, 1], [5]).subarray(0, 10);
    expectIdxError(bytes, /truncated header/, /16 header bytes/, /has 10/);
  });

  it('rejects truncated data, stating expected and actual lengths', () => {
    const bytes = encodeIdx('uint8', [3, 2, 2], new Array(12).fill(1));
    expectIdxError(
      bytes.subarray(0, bytes.length - 1),
      /truncated/,
      /shape \[3, 2, 2\]/,
      /needs 28 bytes/,
      /has 27/,
    );
    const f = encodeIdx('float32', [3], [1, 2, 3]);
    expectIdxError(f.subarray(0, f.length - 2), /truncated/, /needs 20 bytes/);
  });

  it('rejects trailing bytes (wrong dimensions for the data)', () => {
    const bytes = encodeIdx('uint8', [4], [1, 2, 3, 4]);
    const wrongDims = encodeIdx('uint8', [3], [1, 2, 3, 4]); // header says 3, 4 values follow
    expect(wrongDims.length).toBe(bytes.length);
    expectIdxError(wrongDims, /wrong length/, /needs 11 bytes/, /has 12/);
  });

  it('rejects implausibly large dimensions', () => {
    const bytes = encodeIdx('uint8', [1], [1]);
    new DataView(bytes.buffer).setUint32(4, 0xffffffff, false);
    expectIdxError(bytes, /implausibly large/);
  });
});
