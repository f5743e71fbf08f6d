/**
 * Looking at samples: a batch of images tiled into one grid and encoded as PNG (a small,
 * dependency-free encoder: zlib via the platform's CompressionStream where there is one, else
 * stored deflate blocks), saved atomically in Node.
 */
import { fmtShape, ShapeError, ValueError } from '../errors.js';
import { nodeFs, writeFileAtomic } from '../nn/io.js';
import { crc32 } from '../nn/serialize.js';
import type { tf } from '../tf.js';

/** 8-bit pixels, row-major, `channels` per pixel (1 gray, 3 RGB, 4 RGBA). */
export interface RasterImage {
  width: number;
  height: number;
  channels: 1 | 3 | 4;
  data: Uint8Array;
}

/** Options of {@link imageGrid}. */
export interface ImageGridOptions {
  /** Images per row. Default ceil(sqrt(n)). */
  cols?: number;
  /** Pixels between images and around the grid. Default 1. */
  padding?: number;
  /** Gray level of the padding, in [0, 1]. Default 1 (white). */
  padValue?: number;
  /** The value range of the input, mapped to 0..255 (values outside are clipped). Default [0, 1]. */
  range?: [number, number];
}

/**
 * Tiles a batch of images `[n, h, w]` or `[n, h, w, c]` (c = 1, 3 or 4; NHWC) into one raster,
 * row by row. Does not dispose `images`.
 *
 * @example
 * ```ts
 * const samples = tf.randomUniform([16, 28, 28]);
 * const grid = await imageGrid(samples, { cols: 4 }); // 4 x 4 tiles, 117 x 117 pixels
 * await savePng('samples/step-1000.png', grid);
 * ```
 */
export async function imageGrid(
  images: tf.Tensor,
  opts: ImageGridOptions = {},
): Promise<RasterImage> {
  const shape = images.shape;
  if (
    (shape.length !== 3 && shape.length !== 4) ||
    (shape.length === 4 && ![1, 3, 4].includes(shape[3]!))
  ) {
    throw new ShapeError(
      `imageGrid: images must have shape [n, height, width] or [n, height, width, 1|3|4] (NHWC), got ${fmtShape(shape)}.`,
    );
  }
  const [n, h, w] = shape as [number, number, number];
  const c = (shape.length === 4 ? shape[3] : 1) as 1 | 3 | 4;
  if (n === 0) throw new ValueError('imageGrid: no images.');
  const cols = opts.cols ?? Math.ceil(Math.sqrt(n));
  const pad = opts.padding ?? 1;
  if (!Number.isInteger(cols) || cols < 1 || !Number.isInteger(pad) || pad < 0) {
    throw new ValueError(
      `imageGrid: cols must be a positive integer and padding >= 0, got ${cols}, ${pad}.`,
    );
  }
  const [lo, hi] = opts.range ?? [0, 1];
  if (!(hi > lo))
    throw new ValueError(`imageGrid: range must be [lo, hi] with hi > lo, got [${lo}, ${hi}].`);
  const rows = Math.ceil(n / cols);
  const width = cols * w + (cols + 1) * pad;
  const height = rows * h + (rows + 1) * pad;
  const padByte = Math.round(Math.min(Math.max(opts.padValue ?? 1, 0), 1) * 255);
  const out = new Uint8Array(width * height * c);
  out.fill(padByte);
  if (c === 4) for (let i = 3; i < out.length; i += 4) out[i] = 255;
  const px = await images.data();
  const scale = 255 / (hi - lo);
  for (let k = 0; k < n; k++) {
    const x0 = pad + (k % cols) * (w + pad);
    const y0 = pad + Math.floor(k / cols) * (h + pad);
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        for (let ch = 0; ch < c; ch++) {
          const v = px[((k * h + y) * w + x) * c + ch]!;
          const b = Number.isNaN(v) ? 0 : Math.round(Math.min(Math.max((v - lo) * scale, 0), 255));
          out[((y0 + y) * width + x0 + x) * c + ch] = b;
        }
      }
    }
  }
  return { width, height, channels: c, data: out };
}

function adler32(data: Uint8Array): number {
  let a = 1;
  let b = 0;
  for (let i = 0; i < data.length; ) {
    const end = Math.min(i + 5552, data.length);
    for (; i < end; i++) {
      a += data[i]!;
      b += a;
    }
    a %= 65521;
    b %= 65521;
  }
  return ((b << 16) | a) >>> 0;
}

/** A zlib stream of stored (uncompressed) deflate blocks: valid everywhere, no compression. */
function storedZlib(data: Uint8Array): Uint8Array {
  const blocks = Math.max(1, Math.ceil(data.length / 65535));
  const out = new Uint8Array(2 + data.length + blocks * 5 + 4);
  out[0] = 0x78;
  out[1] = 0x01;
  let o = 2;
  for (let i = 0; i < blocks; i++) {
    const chunk = data.subarray(i * 65535, Math.min((i + 1) * 65535, data.length));
    out[o++] = i === blocks - 1 ? 1 : 0;
    out[o++] = chunk.length & 0xff;
    out[o++] = chunk.length >>> 8;
    out[o++] = ~chunk.length & 0xff;
    out[o++] = (~chunk.length >>> 8) & 0xff;
    out.set(chunk, o);
    o += chunk.length;
  }
  new DataView(out.buffer).setUint32(o, adler32(data));
  return out;
}

async function zlibDeflate(data: Uint8Array, compress: boolean): Promise<Uint8Array> {
  if (compress && typeof CompressionStream === 'function' && typeof Response === 'function') {
    const stream = new Blob([data as Uint8Array<ArrayBuffer>])
      .stream()
      .pipeThrough(new CompressionStream('deflate'));
    return new Uint8Array(await new Response(stream).arrayBuffer());
  }
  return storedZlib(data);
}

function chunk(type: string, data: Uint8Array): Uint8Array {
  const out = new Uint8Array(12 + data.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, data.length);
  for (let i = 0; i < 4; i++) out[4 + i] = type.charCodeAt(i);
  out.set(data, 8);
  view.setUint32(8 + data.length, crc32(out.subarray(4, 8 + data.length)));
  return out;
}

/**
 * Encodes a raster as PNG (8-bit gray, RGB or RGBA). `compress: false` writes stored deflate
 * blocks (no compression, byte-for-byte predictable).
 *
 * @example
 * ```ts
 * const png = await encodePng({ width: 1, height: 1, channels: 3, data: new Uint8Array([255, 0, 0]) });
 * ```
 */
export async function encodePng(
  img: RasterImage,
  opts: { compress?: boolean } = {},
): Promise<Uint8Array> {
  const { width, height, channels, data } = img;
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
    throw new ValueError(
      `encodePng: width and height must be positive integers, got ${width} x ${height}.`,
    );
  }
  if (![1, 3, 4].includes(channels) || data.length !== width * height * channels) {
    throw new ShapeError(
      `encodePng: data must hold width * height * channels = ${width * height * channels} bytes (channels 1, 3 or 4), got ${data.length} bytes and ${channels} channels.`,
    );
  }
  const stride = width * channels;
  const raw = new Uint8Array(height * (stride + 1));
  for (let y = 0; y < height; y++)
    raw.set(data.subarray(y * stride, (y + 1) * stride), y * (stride + 1) + 1);
  const ihdr = new Uint8Array(13);
  const v = new DataView(ihdr.buffer);
  v.setUint32(0, width);
  v.setUint32(4, height);
  ihdr[8] = 8;
  ihdr[9] = channels === 1 ? 0 : channels === 3 ? 2 : 6;
  const parts = [
    new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', await zlibDeflate(raw, opts.compress ?? true)),
    chunk('IEND', new Uint8Array(0)),
  ];
  const out = new Uint8Array(parts.reduce((s, p) => s + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/**
 * Writes a raster as a PNG file, atomically (Node). Creates the directory if needed.
 *
 * @example
 * ```ts
 * await savePng('samples/step-1000.png', await imageGrid(samples));
 * ```
 */
export async function savePng(path: string, img: RasterImage): Promise<void> {
  const fs = await nodeFs('savePng');
  const slash = path.lastIndexOf('/');
  if (slash > 0) await fs.mkdir(path.slice(0, slash), { recursive: true });
  await writeFileAtomic(fs, slash >= 0 ? path : `./${path}`, await encodePng(img));
}

/**
 * Tiles a batch of images into a grid and saves it as PNG (Node): `imageGrid` + `savePng`.
 *
 * @example
 * ```ts
 * await saveImageGrid('samples/pixelcnn.png', tf.sigmoid(logits), { cols: 8 });
 * ```
 */
export async function saveImageGrid(
  path: string,
  images: tf.Tensor,
  opts: ImageGridOptions = {},
): Promise<void> {
  await savePng(path, await imageGrid(images, opts));
}
