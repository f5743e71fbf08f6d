/**
 * @deprecated A near-copy of core's `encodePng` / `imageGrid` / `saveImageGrid`, kept only until
 * the `autoregressive` suite's `sampleGrid` switches to core (then delete this file). The same
 * pixels come from core (checked equal, pixel for pixel):
 * `saveImageGrid(path, tf.image.resizeNearestNeighbor(x.reshape([n, 28, 28, 1]), [56, 56]),
 * { cols, padding: 2, padValue: 128 / 255 })` for `imageGrid(x, n, 28, 28, { cols, scale: 2, gap: 2 })`.
 *
 * A small dependency-free PNG encoder (8-bit greyscale or RGB, zlib from node:zlib) and an image
 * grid helper, for the benchmark's sample figures.
 */
import { deflateSync } from 'node:zlib';

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

function crc32(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) c = CRC_TABLE[(c ^ bytes[i]!) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function chunk(type: string, data: Uint8Array): Buffer {
  const out = Buffer.alloc(12 + data.length);
  out.writeUInt32BE(data.length, 0);
  out.write(type, 4, 'ascii');
  Buffer.from(data.buffer, data.byteOffset, data.byteLength).copy(out, 8);
  out.writeUInt32BE(crc32(out.subarray(4, 8 + data.length)), 8 + data.length);
  return out;
}

/**
 * Encodes 8-bit pixels (row-major, `channels` 1 = greyscale or 3 = RGB) as a PNG file.
 *
 * @example
 * ```ts
 * await writeFile('x.png', encodePng(new Uint8Array(28 * 28), 28, 28));
 * ```
 */
export function encodePng(
  pixels: Uint8Array,
  width: number,
  height: number,
  channels: 1 | 3 = 1,
): Buffer {
  if (pixels.length !== width * height * channels) {
    throw new Error(`encodePng: ${pixels.length} bytes for ${width}x${height}x${channels}.`);
  }
  const stride = width * channels;
  const raw = new Uint8Array((stride + 1) * height);
  for (let y = 0; y < height; y++) {
    raw[y * (stride + 1)] = 0; // filter: none
    raw.set(pixels.subarray(y * stride, (y + 1) * stride), y * (stride + 1) + 1);
  }
  const ihdr = new Uint8Array(13);
  const dv = new DataView(ihdr.buffer);
  dv.setUint32(0, width);
  dv.setUint32(4, height);
  ihdr[8] = 8; // bit depth
  ihdr[9] = channels === 1 ? 0 : 2; // colour type: greyscale / truecolour
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', deflateSync(raw)),
    chunk('IEND', new Uint8Array(0)),
  ]);
}

/**
 * Tiles `n` greyscale images (values in [0, 1], `n * h * w` row-major) into a grid of `cols`
 * columns with a `gap`-pixel border, scaled up by `scale`, as 8-bit pixels.
 *
 * @example
 * ```ts
 * const g = imageGrid(samples, 16, 28, 28, { cols: 4, scale: 2 });
 * await writeFile('grid.png', encodePng(g.pixels, g.width, g.height));
 * ```
 */
export function imageGrid(
  images: ArrayLike<number>,
  n: number,
  h: number,
  w: number,
  opts: { cols?: number; gap?: number; scale?: number; background?: number } = {},
): { pixels: Uint8Array; width: number; height: number } {
  const cols = opts.cols ?? Math.ceil(Math.sqrt(n));
  const rows = Math.ceil(n / cols);
  const gap = opts.gap ?? 2;
  const s = opts.scale ?? 1;
  const width = cols * (w * s + gap) + gap;
  const height = rows * (h * s + gap) + gap;
  const pixels = new Uint8Array(width * height).fill(opts.background ?? 128);
  for (let k = 0; k < n; k++) {
    const oy = gap + Math.floor(k / cols) * (h * s + gap);
    const ox = gap + (k % cols) * (w * s + gap);
    for (let y = 0; y < h * s; y++) {
      for (let x = 0; x < w * s; x++) {
        const v = images[k * h * w + Math.floor(y / s) * w + Math.floor(x / s)]!;
        pixels[(oy + y) * width + ox + x] = Math.max(0, Math.min(255, Math.round(v * 255)));
      }
    }
  }
  return { pixels, width, height };
}
