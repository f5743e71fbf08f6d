/**
 * A compact, browser-safe weights format for the shipped classifiers: named float32 tensors
 * stored as IEEE float16 (round to nearest even), with a JSON header and a CRC-32, so a
 * network of ~100k parameters ships in ~200 KB inside the JavaScript bundle (no files, no fs).
 *
 * Layout (little-endian): `DGW1` magic, u32 header byte length, the UTF-8 JSON header
 * `{ tensors: [{ name, shape }] }`, then every tensor's float16 values in header order, then a
 * u32 CRC-32 of everything before it.
 */
import { CheckpointError, crc32, type NamedTensors, tf } from '@dgm-js/core-tensors';

const MAGIC = [0x44, 0x47, 0x57, 0x31]; // "DGW1"

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/**
 * The float16 bit pattern nearest to `x` (round half to even; overflow to +-Infinity, NaN kept).
 *
 * @example
 * ```ts
 * toFloat16Bits(1); // 0x3c00
 * toFloat16Bits(65504); // 0x7bff (the largest finite float16)
 * ```
 */
export function toFloat16Bits(x: number): number {
  f32[0] = x;
  const b = u32[0] as number;
  const sign = (b >>> 16) & 0x8000;
  const exp = (b >>> 23) & 0xff;
  let mant = b & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0); // Inf / NaN
  let e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00; // overflow
  if (e <= 0) {
    // subnormal float16 (or zero): shift the mantissa with its implicit 1
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    const half = 1 << (shift - 1);
    const rest = mant & ((1 << shift) - 1);
    let m = mant >>> shift;
    if (rest > half || (rest === half && m & 1)) m++;
    return sign | m; // a carry into the exponent bits is the correct result
  }
  const rest = mant & 0x1fff;
  let m = mant >>> 13;
  if (rest > 0x1000 || (rest === 0x1000 && m & 1)) {
    m++;
    if (m === 0x400) {
      m = 0;
      e++;
      if (e >= 0x1f) return sign | 0x7c00;
    }
  }
  return sign | (e << 10) | m;
}

/**
 * The number a float16 bit pattern stands for.
 *
 * @example
 * ```ts
 * fromFloat16Bits(0x3c00); // 1
 * ```
 */
export function fromFloat16Bits(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const e = (h >>> 10) & 0x1f;
  const m = h & 0x3ff;
  if (e === 0) return sign * m * 2 ** -24;
  if (e === 0x1f) return m ? Number.NaN : sign * Number.POSITIVE_INFINITY;
  return sign * (1 + m / 1024) * 2 ** (e - 15);
}

interface Header {
  tensors: { name: string; shape: number[] }[];
}

/**
 * Encodes named float32 tensors as float16 (see the module comment for the layout). Reads the
 * tensors; does not dispose them.
 *
 * @example
 * ```ts
 * const bytes = await encodeWeights(net.getState());
 * ```
 */
export async function encodeWeights(state: NamedTensors): Promise<Uint8Array> {
  const entries = Object.entries(state);
  const header: Header = { tensors: entries.map(([name, t]) => ({ name, shape: [...t.shape] })) };
  const json = new TextEncoder().encode(JSON.stringify(header));
  const count = entries.reduce((s, [, t]) => s + t.size, 0);
  const bytes = new Uint8Array(8 + json.length + 2 * count + 4);
  const view = new DataView(bytes.buffer);
  bytes.set(MAGIC, 0);
  view.setUint32(4, json.length, true);
  bytes.set(json, 8);
  let off = 8 + json.length;
  for (const [name, t] of entries) {
    if (t.dtype !== 'float32') {
      throw new CheckpointError(`encodeWeights: '${name}' is ${t.dtype}; only float32 is stored.`);
    }
    const v = await t.data();
    for (let i = 0; i < v.length; i++, off += 2) view.setUint16(off, toFloat16Bits(v[i]!), true);
  }
  view.setUint32(off, crc32(bytes.subarray(0, off)), true);
  return bytes;
}

/** Base64 (whitespace ignored) to bytes, without Node's Buffer (works in browsers). */
export function base64ToBytes(b64: string): Uint8Array {
  const clean = b64.replace(/\s+/g, '');
  const bin = atob(clean);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

/**
 * Decodes {@link encodeWeights}' bytes (or their base64) into new float32 tensors the caller
 * owns. Throws a `CheckpointError` on a wrong magic, a truncated buffer or a CRC mismatch.
 *
 * @example
 * ```ts
 * const state = decodeWeights(bytes);
 * net.setState(state);
 * tf.dispose(Object.values(state));
 * ```
 */
export function decodeWeights(data: Uint8Array | string): NamedTensors {
  const bytes = typeof data === 'string' ? base64ToBytes(data) : data;
  const fail = (why: string): never => {
    throw new CheckpointError(`decodeWeights: ${why}; the weights are corrupt or not DGW1.`);
  };
  if (bytes.length < 12 || MAGIC.some((m, i) => bytes[i] !== m)) fail('bad magic');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const hlen = view.getUint32(4, true);
  if (8 + hlen + 4 > bytes.length) fail('truncated header');
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + hlen))) as Header;
  const count = header.tensors.reduce((s, t) => s + t.shape.reduce((a, b) => a * b, 1), 0);
  const end = 8 + hlen + 2 * count;
  if (end + 4 !== bytes.length) fail(`expected ${end + 4} bytes, got ${bytes.length}`);
  if (view.getUint32(end, true) !== crc32(bytes.subarray(0, end))) fail('CRC-32 mismatch');
  const out: NamedTensors = {};
  let off = 8 + hlen;
  for (const { name, shape } of header.tensors) {
    const n = shape.reduce((a, b) => a * b, 1);
    const v = new Float32Array(n);
    for (let i = 0; i < n; i++, off += 2) v[i] = fromFloat16Bits(view.getUint16(off, true));
    out[name] = tf.tensor(v, shape, 'float32');
  }
  return out;
}
