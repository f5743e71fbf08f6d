import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inflateSync, crc32 as zlibCrc32 } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { ShapeError } from '../errors.js';
import { tf } from '../tf.js';
import { encodePng, imageGrid, saveImageGrid } from './images.js';

/** Splits a PNG into chunks, checking each CRC with zlib's (an independent implementation). */
function readPng(png: Uint8Array) {
  expect(Array.from(png.subarray(0, 8))).toEqual([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  const view = new DataView(png.buffer, png.byteOffset, png.byteLength);
  const chunks: { type: string; data: Uint8Array }[] = [];
  for (let o = 8; o < png.length; ) {
    const len = view.getUint32(o);
    const type = String.fromCharCode(...png.subarray(o + 4, o + 8));
    const data = png.subarray(o + 8, o + 8 + len);
    expect(view.getUint32(o + 8 + len)).toBe(zlibCrc32(png.subarray(o + 4, o + 8 + len)));
    chunks.push({ type, data });
    o += 12 + len;
  }
  const ihdr = new DataView(chunks[0]!.data.buffer, chunks[0]!.data.byteOffset, 13);
  const idat = Buffer.concat(chunks.filter((c) => c.type === 'IDAT').map((c) => c.data));
  return {
    types: chunks.map((c) => c.type),
    width: ihdr.getUint32(0),
    height: ihdr.getUint32(4),
    bitDepth: chunks[0]!.data[8],
    colorType: chunks[0]!.data[9],
    raw: new Uint8Array(inflateSync(idat)),
  };
}

describe('encodePng', () => {
  for (const compress of [true, false]) {
    it(`writes a PNG that zlib decodes to the input pixels (compress: ${compress})`, async () => {
      const width = 3;
      const height = 2;
      const data = new Uint8Array(width * height * 3).map((_, i) => (i * 37) % 256);
      const png = readPng(await encodePng({ width, height, channels: 3, data }, { compress }));
      expect(png.types).toEqual(['IHDR', 'IDAT', 'IEND']);
      expect([png.width, png.height, png.bitDepth, png.colorType]).toEqual([3, 2, 8, 2]);
      // each row: filter byte 0, then the pixels
      expect(png.raw.length).toBe(height * (width * 3 + 1));
      for (let y = 0; y < height; y++) {
        expect(png.raw[y * 10]).toBe(0);
        expect(Array.from(png.raw.subarray(y * 10 + 1, y * 10 + 10))).toEqual(
          Array.from(data.subarray(y * 9, y * 9 + 9)),
        );
      }
    });
  }

  it('handles images over one stored deflate block (64 KiB) and rejects bad sizes', async () => {
    const data = new Uint8Array(300 * 300).map((_, i) => i % 251);
    const png = readPng(
      await encodePng({ width: 300, height: 300, channels: 1, data }, { compress: false }),
    );
    expect(png.colorType).toBe(0);
    expect(png.raw[301 * 7 + 1]).toBe(data[300 * 7]);
    await expect(
      encodePng({ width: 2, height: 2, channels: 3, data: new Uint8Array(5) }),
    ).rejects.toThrow(/must hold width \* height \* channels = 12 bytes/);
  });
});

describe('imageGrid', () => {
  it('tiles images row by row with padding, scaling the value range', async () => {
    const imgs = tf.tensor3d([
      [
        [0, 0.5],
        [1, 0.25],
      ],
      [
        [1, 1],
        [1, 1],
      ],
      [
        [0, 0],
        [0, 0],
      ],
    ]);
    const g = await imageGrid(imgs, { cols: 2, padding: 1, padValue: 1 });
    expect([g.width, g.height, g.channels]).toEqual([7, 7, 1]);
    const at = (x: number, y: number) => g.data[y * 7 + x];
    expect([at(1, 1), at(2, 1), at(1, 2), at(2, 2)]).toEqual([0, 128, 255, 64]); // image 0
    expect([at(4, 1), at(5, 2)]).toEqual([255, 255]); // image 1
    expect([at(1, 4), at(2, 5)]).toEqual([0, 0]); // image 2, second row
    expect([at(0, 0), at(3, 1), at(4, 4), at(5, 5)]).toEqual([255, 255, 255, 255]); // padding, empty slot
    const rgb = tf.fill([2, 1, 1, 3], -1);
    const g2 = await imageGrid(rgb, { range: [-1, 1], padding: 0, cols: 2 });
    expect([g2.width, g2.height, g2.channels]).toEqual([2, 1, 3]);
    expect(Array.from(g2.data)).toEqual([0, 0, 0, 0, 0, 0]);
    await expect(imageGrid(tf.zeros([2, 3]))).rejects.toThrow(ShapeError);
    await expect(imageGrid(tf.zeros([1, 2, 2, 2]))).rejects.toThrow(
      /\[n, height, width, 1\|3\|4\]/,
    );
    tf.dispose([imgs, rgb]);
  });

  it('saveImageGrid writes a PNG file', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'dgm-png-'));
    const imgs = tf.randomUniform([4, 5, 5], 0, 1, 'float32', 3);
    await saveImageGrid(join(dir, 'sub', 'grid.png'), imgs);
    const png = readPng(new Uint8Array(await readFile(join(dir, 'sub', 'grid.png'))));
    expect([png.width, png.height]).toEqual([13, 13]);
    imgs.dispose();
    await rm(dir, { recursive: true, force: true });
  });
});
