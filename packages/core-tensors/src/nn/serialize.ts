/**
 * The on-disk (and in-memory) format of a set of named tensors: a JSON manifest in the style of
 * tfjs's `model.json` weights manifest plus one binary blob of little-endian data, with its byte
 * length and CRC-32 in the manifest so truncated or corrupt files are caught. Browser-safe: no
 * file IO here (see `saveState` / `loadState` for directories).
 */
import { DgmError } from '../errors.js';
import { tf } from '../tf.js';
import type { NamedTensors } from './module.js';

/**
 * A checkpoint or state file could not be read: missing, truncated, corrupt or of another format.
 *
 * @example
 * ```ts
 * try {
 *   await loadState('runs/a/step-00000100');
 * } catch (e) {
 *   if (e instanceof CheckpointError) console.log(`unreadable: ${e.path}`);
 * }
 * ```
 */
export class CheckpointError extends DgmError {
  /** The file or directory concerned, when there is one. */
  readonly path: string | undefined;
  constructor(message: string, path?: string) {
    super(message);
    this.path = path;
  }
}

/**
 * A checkpoint's metadata (in its `model.json`) is not what was written: a field is missing, has
 * the wrong type or range, or no longer matches its CRC-32. `field` names it (a path such as
 * `step` or `optimizer.count`; `weightsManifest` for the list of tensors).
 *
 * @example
 * ```ts
 * try {
 *   await trainer.fit();
 * } catch (e) {
 *   if (e instanceof CheckpointMetadataError) console.log(`${e.path}: bad ${e.field}`);
 * }
 * ```
 */
export class CheckpointMetadataError extends CheckpointError {
  /** The metadata field at fault, e.g. 'step' or 'optimizer.names'. */
  readonly field: string;
  constructor(message: string, field: string, path?: string) {
    super(message, path);
    this.field = field;
  }
}

/**
 * CRC-32s of a manifest's parts outside the binary file: the list of tensors (names, shapes,
 * dtypes; the file name may change when a state is copied), and each metadata
 * field (one level into objects: `optimizer.count`, `callbacks.estimator`), so an edit of
 * `model.json` is found and named.
 */
export interface MetadataChecksums {
  weights: string;
  fields: Record<string, string>;
}

/** The dtypes a state can hold (4 bytes per element each). */
export type StateDtype = 'float32' | 'int32';

/** One tensor of a manifest. */
export interface WeightSpec {
  name: string;
  shape: number[];
  dtype: StateDtype;
}

/** The JSON manifest (`model.json`). */
export interface StateManifest {
  format: 'dgmjs-state';
  version: 1;
  /** As tfjs's weights manifest: one group, one binary file, weights in order. */
  weightsManifest: [{ paths: [string]; weights: WeightSpec[] }];
  /** Byte length of the binary file. */
  byteLength: number;
  /** CRC-32 of the binary file, 8 hex digits. */
  crc32: string;
  /** Free-form JSON metadata. */
  metadata: Record<string, unknown>;
  /** CRC-32s of the weights list and of each metadata field (absent in older files). */
  metadataCrc32?: MetadataChecksums;
}

/** The manifest's file name (internal). */
export const MANIFEST_FILE = 'model.json';

const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

let CRC_TABLE: Uint32Array | undefined;

/**
 * CRC-32 (IEEE 802.3, as zlib and PNG) of `data`.
 *
 * @example
 * ```ts
 * crc32(new TextEncoder().encode('123456789')); // 0xcbf43926
 * ```
 */
export function crc32(data: Uint8Array, crc = 0): number {
  if (!CRC_TABLE) {
    CRC_TABLE = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      CRC_TABLE[n] = c >>> 0;
    }
  }
  const t = CRC_TABLE;
  let c = (crc ^ 0xffffffff) >>> 0;
  for (let i = 0; i < data.length; i++) c = t[(c ^ data[i]!) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function hex8(n: number): string {
  return n.toString(16).padStart(8, '0');
}

const isPlainObject = (v: unknown): v is Record<string, unknown> =>
  !!v && typeof v === 'object' && !Array.isArray(v);

function jsonCrc(v: unknown): string {
  return hex8(crc32(new TextEncoder().encode(JSON.stringify(v) ?? 'undefined')));
}

/**
 * The CRC-32s of a manifest's weights list and metadata fields, over their JSON as it reads back
 * (call it on parsed JSON, or on a JSON round-trip of what will be written).
 */
function metadataChecksums(
  weights: readonly WeightSpec[],
  metadata: Record<string, unknown>,
): MetadataChecksums {
  const fields: Record<string, string> = {};
  for (const [k, v] of Object.entries(metadata)) {
    if (isPlainObject(v) && Object.keys(v).length > 0) {
      for (const [k2, v2] of Object.entries(v)) fields[`${k}.${k2}`] = jsonCrc(v2);
    } else fields[k] = jsonCrc(v);
  }
  return { weights: jsonCrc(weights), fields };
}

/**
 * Checks a manifest's metadata against its CRC-32s. Returns false for a manifest written before
 * metadata had CRCs (nothing to check), true when all match; throws a
 * {@link CheckpointMetadataError} naming the first field that was edited, added or removed.
 *
 * @example
 * ```ts
 * const { manifest } = await encodeState({ w: tf.ones([2]) }, { epoch: 3 });
 * checkMetadataCrc(manifest, 'ckpt'); // true
 * manifest.metadata.epoch = 4;
 * checkMetadataCrc(manifest, 'ckpt'); // throws: field 'epoch' does not match its CRC-32
 * ```
 */
export function checkMetadataCrc(manifest: StateManifest, source = 'state'): boolean {
  const stored = manifest.metadataCrc32;
  if (stored === undefined) return false;
  const where = `${source}/${MANIFEST_FILE}`;
  const fail = (field: string, why: string): never => {
    throw new CheckpointMetadataError(
      `${where}: checkpoint metadata field '${field}' ${why}; the file was edited or damaged after it was written. Resume from another checkpoint (or restore the file).`,
      field,
      source,
    );
  };
  if (
    !isPlainObject(stored) ||
    typeof stored.weights !== 'string' ||
    !isPlainObject(stored.fields)
  ) {
    fail('metadataCrc32', 'is malformed');
  }
  const now = metadataChecksums(manifest.weightsManifest[0].weights, manifest.metadata);
  if (now.weights !== stored.weights) {
    fail(
      'weightsManifest',
      `does not match its CRC-32 (${now.weights}, written ${stored.weights})`,
    );
  }
  for (const [f, c] of Object.entries(now.fields)) {
    const want = stored.fields[f];
    if (want === undefined) fail(f, 'was added (it has no CRC-32)');
    if (want !== c) fail(f, `does not match its CRC-32 (${c}, written ${String(want)})`);
  }
  for (const f of Object.keys(stored.fields)) {
    if (!(f in now.fields)) fail(f, 'was removed');
  }
  return true;
}

/**
 * Serialises named tensors (float32 or int32) into a manifest and one little-endian binary blob.
 * Reads the tensors with `data()`; does not dispose them.
 *
 * @example
 * ```ts
 * const { manifest, data } = await encodeState({ w: tf.ones([2, 2]) }, { epoch: 3 });
 * manifest.weightsManifest[0].weights; // [{ name: 'w', shape: [2, 2], dtype: 'float32' }]
 * ```
 */
export async function encodeState(
  tensors: NamedTensors | [string, tf.Tensor][],
  metadata: Record<string, unknown> = {},
  weightsPath = 'weights.bin',
): Promise<{ manifest: StateManifest; data: Uint8Array }> {
  const entries = Array.isArray(tensors) ? tensors : Object.entries(tensors);
  const specs: WeightSpec[] = [];
  const seen = new Set<string>();
  let total = 0;
  for (const [name, t] of entries) {
    if (seen.has(name)) throw new CheckpointError(`encodeState: duplicate tensor name '${name}'.`);
    seen.add(name);
    if (t.dtype !== 'float32' && t.dtype !== 'int32') {
      throw new CheckpointError(
        `encodeState: '${name}' has dtype ${t.dtype}; only float32 and int32 are stored (cast it first).`,
      );
    }
    specs.push({ name, shape: [...t.shape], dtype: t.dtype });
    total += t.size * 4;
  }
  const data = new Uint8Array(total);
  const view = new DataView(data.buffer);
  let off = 0;
  for (const [, t] of entries) {
    const vals = await t.data();
    if (LITTLE_ENDIAN) {
      // Float32Array / Int32Array bytes are already little-endian: copy them as they are.
      data.set(new Uint8Array(vals.buffer, vals.byteOffset, vals.length * 4), off);
      off += vals.length * 4;
    } else if (t.dtype === 'int32') {
      for (let i = 0; i < vals.length; i++, off += 4) view.setInt32(off, vals[i]!, true);
    } else {
      for (let i = 0; i < vals.length; i++, off += 4) view.setFloat32(off, vals[i]!, true);
    }
  }
  const weightsManifest: StateManifest['weightsManifest'] = [
    { paths: [weightsPath], weights: specs },
  ];
  const manifest: StateManifest = {
    format: 'dgmjs-state',
    version: 1,
    weightsManifest,
    byteLength: total,
    crc32: hex8(crc32(data)),
    metadata,
    // over the metadata as it will read back (NaN -> null, undefined fields dropped)
    metadataCrc32: metadataChecksums(
      JSON.parse(JSON.stringify(specs)),
      JSON.parse(JSON.stringify(metadata)) as Record<string, unknown>,
    ),
  };
  return { manifest, data };
}

/**
 * Parses and validates a manifest (a JSON string, bytes or an object). Throws a
 * {@link CheckpointError} naming `source` on bad JSON or a malformed manifest.
 *
 * @example
 * ```ts
 * const manifest = parseManifest(await readFile('ckpt/model.json', 'utf8'), 'ckpt/model.json');
 * ```
 */
export function parseManifest(
  json: string | Uint8Array | unknown,
  source = 'manifest',
): StateManifest {
  let m: unknown = json;
  if (typeof json === 'string' || json instanceof Uint8Array) {
    const text = typeof json === 'string' ? json : new TextDecoder().decode(json);
    try {
      m = JSON.parse(text);
    } catch (e) {
      throw new CheckpointError(
        `${source}: not valid JSON (${e instanceof Error ? e.message : String(e)}); the file is corrupt or truncated.`,
        source,
      );
    }
  }
  const bad = (why: string) =>
    new CheckpointError(`${source}: not a dgm.js state manifest (${why}).`, source);
  if (!m || typeof m !== 'object') throw bad('not an object');
  const o = m as Partial<StateManifest>;
  if (o.format !== 'dgmjs-state')
    throw bad(`format is ${JSON.stringify(o.format)}, expected "dgmjs-state"`);
  if (o.version !== 1) throw bad(`version ${JSON.stringify(o.version)} is not supported (1 is)`);
  const g = o.weightsManifest?.[0];
  if (!Array.isArray(o.weightsManifest) || o.weightsManifest.length !== 1 || !g) {
    throw bad('weightsManifest must hold exactly one group');
  }
  if (!Array.isArray(g.paths) || g.paths.length !== 1 || typeof g.paths[0] !== 'string') {
    throw bad('weightsManifest[0].paths must hold one file name');
  }
  if (!Array.isArray(g.weights)) throw bad('weightsManifest[0].weights must be an array');
  let total = 0;
  for (const w of g.weights) {
    if (
      !w ||
      typeof w.name !== 'string' ||
      !Array.isArray(w.shape) ||
      !w.shape.every((d) => Number.isInteger(d) && d >= 0) ||
      (w.dtype !== 'float32' && w.dtype !== 'int32')
    ) {
      throw bad(`bad weight entry ${JSON.stringify(w)}`);
    }
    total += w.shape.reduce((a, b) => a * b, 1) * 4;
  }
  if (typeof o.byteLength !== 'number' || o.byteLength !== total) {
    throw bad(`byteLength ${o.byteLength} does not equal the ${total} bytes the weights need`);
  }
  if (typeof o.crc32 !== 'string' || !/^[0-9a-f]{8}$/.test(o.crc32)) throw bad('crc32 missing');
  if (!o.metadata || typeof o.metadata !== 'object') throw bad('metadata missing');
  return o as StateManifest;
}

/**
 * Rebuilds the named tensors from a manifest and its binary data, checking the byte length and
 * CRC-32 first (a {@link CheckpointError} naming `source` if either is off), and the metadata
 * against its CRC-32s (a {@link CheckpointMetadataError} naming the edited field; files written
 * before metadata had CRCs load with `metadataChecked: false`). The caller owns the returned
 * tensors.
 *
 * @example
 * ```ts
 * const { manifest, data } = await encodeState({ w: tf.ones([2]) });
 * const { tensors } = decodeState(manifest, data);
 * tensors.w.print(); // [1, 1]
 * ```
 */
export function decodeState(
  manifest: StateManifest | string | Uint8Array,
  data: Uint8Array,
  source = 'state',
  opts: { checkMetadata?: boolean } = {},
): {
  tensors: NamedTensors;
  metadata: Record<string, unknown>;
  manifest: StateManifest;
  /** Whether the metadata was checked against its CRC-32 (false: an older file had none). */
  metadataChecked: boolean;
} {
  const m = parseManifest(manifest, `${source}/${MANIFEST_FILE}`);
  const binName = `${source}/${m.weightsManifest[0].paths[0]}`;
  if (data.byteLength !== m.byteLength) {
    throw new CheckpointError(
      `${binName}: ${data.byteLength} bytes, the manifest says ${m.byteLength}; the file is ${data.byteLength < m.byteLength ? 'truncated' : 'longer than written'} (an interrupted copy?).`,
      binName,
    );
  }
  const crc = hex8(crc32(data));
  if (crc !== m.crc32) {
    throw new CheckpointError(
      `${binName}: CRC-32 is ${crc}, the manifest says ${m.crc32}; the file is corrupt.`,
      binName,
    );
  }
  // callers that validate the metadata's schema first (the Trainer) check it themselves
  const metadataChecked = opts.checkMetadata === false ? false : checkMetadataCrc(m, source);
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const tensors: NamedTensors = {};
  let off = 0;
  for (const w of m.weightsManifest[0].weights) {
    const n = w.shape.reduce((a, b) => a * b, 1);
    if (LITTLE_ENDIAN) {
      // a fresh, aligned copy (data may be a Node Buffer, whose slice() is a view into a pool)
      const bytes = new Uint8Array(n * 4);
      bytes.set(data.subarray(off, off + n * 4));
      const v = w.dtype === 'int32' ? new Int32Array(bytes.buffer) : new Float32Array(bytes.buffer);
      tensors[w.name] = tf.tensor(v, w.shape, w.dtype);
      off += n * 4;
    } else if (w.dtype === 'int32') {
      const v = new Int32Array(n);
      for (let i = 0; i < n; i++, off += 4) v[i] = view.getInt32(off, true);
      tensors[w.name] = tf.tensor(v, w.shape, 'int32');
    } else {
      const v = new Float32Array(n);
      for (let i = 0; i < n; i++, off += 4) v[i] = view.getFloat32(off, true);
      tensors[w.name] = tf.tensor(v, w.shape, 'float32');
    }
  }
  return { tensors, metadata: m.metadata, manifest: m, metadataChecked };
}
