// Test-only IDX writer, written independently of the parser (src/idx.ts) so a round trip
// checks one against the other. Not exported from the package.
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { gzipSync } from 'node:zlib';

export type WriteDtype = 'uint8' | 'int8' | 'int16' | 'int32' | 'float32' | 'float64';

const CODE: Record<WriteDtype, [number, number]> = {
  uint8: [0x08, 1],
  int8: [0x09, 1],
  int16: [0x0b, 2],
  int32: [0x0c, 4],
  float32: [0x0d, 4],
  float64: [0x0e, 8],
};

/** Encodes values as an IDX file: 00 00 dtype ndim, big-endian dims, big-endian values. */
export function encodeIdx(
  dtype: WriteDtype,
  shape: readonly number[],
  values: ArrayLike<number>,
): Uint8Array {
  const [code, size] = CODE[dtype];
  const header = 4 + 4 * shape.length;
  const out = new Uint8Array(header + values.length * size);
  const dv = new DataView(out.buffer);
  out[2] = code;
  out[3] = shape.length;
  shape.forEach((d, i) => {
    dv.setUint32(4 + 4 * i, d, false);
  });
  for (let i = 0; i < values.length; i++) {
    const p = header + i * size;
    const v = values[i]!;
    if (dtype === 'uint8') dv.setUint8(p, v);
    else if (dtype === 'int8') dv.setInt8(p, v);
    else if (dtype === 'int16') dv.setInt16(p, v, false);
    else if (dtype === 'int32') dv.setInt32(p, v, false);
    else if (dtype === 'float32') dv.setFloat32(p, v, false);
    else dv.setFloat64(p, v, false);
  }
  return out;
}

/** A tiny MNIST-style dataset: deterministic pixel and label values. */
export interface TinyImageSet {
  readonly trainImages: Uint8Array;
  readonly trainLabels: Uint8Array;
  readonly testImages: Uint8Array;
  readonly testLabels: Uint8Array;
  readonly h: number;
  readonly w: number;
}

export function tinyImageSet(nTrain: number, nTest: number, h = 6, w = 5): TinyImageSet {
  const px = (n: number, salt: number) =>
    Uint8Array.from({ length: n * h * w }, (_, i) => (i * 37 + salt * 11 + ((i * i) % 7)) % 256);
  const lab = (n: number, salt: number) =>
    Uint8Array.from({ length: n }, (_, i) => (i * 3 + salt) % 10);
  return {
    trainImages: px(nTrain, 1),
    trainLabels: lab(nTrain, 1),
    testImages: px(nTest, 2),
    testLabels: lab(nTest, 2),
    h,
    w,
  };
}

/** Writes a tiny set as the four IDX files into `dir` (gzipped when `gz`). */
export async function writeTinyImageSet(dir: string, set: TinyImageSet, gz = false): Promise<void> {
  await mkdir(dir, { recursive: true });
  const files: [string, Uint8Array][] = [
    [
      'train-images-idx3-ubyte',
      encodeIdx('uint8', [set.trainLabels.length, set.h, set.w], set.trainImages),
    ],
    ['train-labels-idx1-ubyte', encodeIdx('uint8', [set.trainLabels.length], set.trainLabels)],
    [
      't10k-images-idx3-ubyte',
      encodeIdx('uint8', [set.testLabels.length, set.h, set.w], set.testImages),
    ],
    ['t10k-labels-idx1-ubyte', encodeIdx('uint8', [set.testLabels.length], set.testLabels)],
  ];
  for (const [name, bytes] of files) {
    const path = `${dir}/${name}${gz ? '.gz' : ''}`;
    await mkdir(dirname(path), { recursive: true });
    await writeFile(path, gz ? gzipSync(bytes) : bytes);
  }
}
