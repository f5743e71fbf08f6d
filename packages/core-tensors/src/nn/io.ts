/**
 * Saving and loading named tensors and module parameters to a directory (Node only; the file
 * system modules are imported lazily, so the browser bundle never touches them). A saved state is
 * `model.json` (the manifest, see `encodeState`) plus `weights-<crc32>.bin`. The binary file is
 * written first under a content-derived name, then the manifest is replaced atomically (temp
 * file + fsync + rename): a crash at any point leaves either the old or the new state, whole.
 */

import { nodeBuiltin } from '../node-builtins.js';
import type { tf } from '../tf.js';
import type { Module, NamedTensors, SetStateOptions } from './module.js';
import { StateMismatchError } from './module.js';
import {
  CheckpointError,
  decodeState,
  encodeState,
  MANIFEST_FILE,
  parseManifest,
  type StateManifest,
} from './serialize.js';

type Fs = typeof import('node:fs/promises');

/** Whether this runs in Node (file IO available). Internal. */
export function isNode(): boolean {
  return typeof process !== 'undefined' && typeof process.versions?.node === 'string';
}

/** The Node file system module, imported on first use (internal). */
export async function nodeFs(who: string): Promise<Fs> {
  if (!isNode()) {
    throw new CheckpointError(
      `${who}: writing files needs Node. In a browser use encodeState/decodeState, getState/setState or a MemoryCheckpointStore.`,
    );
  }
  return nodeBuiltin('node:fs/promises');
}

/** Joins path segments with '/' (works on every platform Node runs on). Internal. */
export function joinPath(...parts: string[]): string {
  return parts
    .filter((p) => p !== '')
    .map((p, i) => (i === 0 ? p.replace(/\/+$/, '') : p.replace(/^\/+|\/+$/g, '')))
    .join('/');
}

function tmpSuffix(): string {
  return `${process.pid}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
}

/** Writes `data` to `path` atomically: temp file in the same directory, fsync, rename (internal). */
export async function writeFileAtomic(fs: Fs, path: string, data: Uint8Array): Promise<void> {
  const slash = path.lastIndexOf('/');
  const dir = slash >= 0 ? path.slice(0, slash) : '.';
  const base = slash >= 0 ? path.slice(slash + 1) : path;
  const tmp = joinPath(dir, `.${base}.tmp-${tmpSuffix()}`);
  const fh = await fs.open(tmp, 'w');
  try {
    await fh.writeFile(data);
    await fh.sync();
  } finally {
    await fh.close();
  }
  try {
    await fs.rename(tmp, path);
  } catch (e) {
    await fs.rm(tmp, { force: true });
    throw e;
  }
  await fsyncDir(fs, dir);
}

/** fsyncs a directory so a rename in it is durable (best effort: not every platform allows it). */
export async function fsyncDir(fs: Fs, dir: string): Promise<void> {
  try {
    const fh = await fs.open(dir, 'r');
    try {
      await fh.sync();
    } finally {
      await fh.close();
    }
  } catch {
    // Windows cannot open directories; durability of the rename is then the OS's business.
  }
}

function ioError(e: unknown, path: string, what: string): CheckpointError {
  const code = (e as { code?: string })?.code;
  if (code === 'ENOENT') return new CheckpointError(`${path}: ${what} not found.`, path);
  return new CheckpointError(
    `${path}: cannot ${what === 'directory' ? 'read the directory' : `read ${what}`} (${e instanceof Error ? e.message : String(e)}).`,
    path,
  );
}

/** Reads the manifest and binary file of a saved state directory, no decoding (internal). */
export async function readStateFiles(
  dir: string,
): Promise<{ manifest: Uint8Array; data: Uint8Array; manifestPath: string }> {
  const fs = await nodeFs('loadState');
  const manifestPath = joinPath(dir, MANIFEST_FILE);
  let manifest: Uint8Array;
  try {
    manifest = await fs.readFile(manifestPath);
  } catch (e) {
    throw ioError(
      e,
      manifestPath,
      `the manifest (${MANIFEST_FILE}; is this a saved state directory?)`,
    );
  }
  const m = parseManifest(manifest, manifestPath);
  const binPath = joinPath(dir, m.weightsManifest[0].paths[0]);
  let data: Uint8Array;
  try {
    data = await fs.readFile(binPath);
  } catch (e) {
    throw ioError(e, binPath, 'the weights file');
  }
  return { manifest, data, manifestPath };
}

/** Options of {@link saveState} and {@link saveModule}. */
export interface SaveStateOptions {
  /** Free-form JSON stored in the manifest. */
  metadata?: Record<string, unknown>;
}

/**
 * Saves named tensors to directory `dir` (created if needed): `model.json` + `weights-<crc>.bin`,
 * atomically; older weights files of the directory are removed after the manifest is replaced.
 * Node only.
 *
 * @example
 * ```ts
 * await saveState('out/state', { w: tf.ones([2, 2]) }, { metadata: { note: 'hi' } });
 * const { tensors, metadata } = await loadState('out/state');
 * ```
 */
export async function saveState(
  dir: string,
  tensors: NamedTensors | [string, tf.Tensor][],
  opts: SaveStateOptions = {},
): Promise<StateManifest> {
  const fs = await nodeFs('saveState');
  await fs.mkdir(dir, { recursive: true });
  const first = await encodeState(tensors, opts.metadata ?? {});
  const binName = `weights-${first.manifest.crc32}.bin`;
  const manifest: StateManifest = {
    ...first.manifest,
    weightsManifest: [{ paths: [binName], weights: first.manifest.weightsManifest[0].weights }],
  };
  await writeFileAtomic(fs, joinPath(dir, binName), first.data);
  await writeFileAtomic(
    fs,
    joinPath(dir, MANIFEST_FILE),
    new TextEncoder().encode(JSON.stringify(manifest)),
  );
  for (const f of await fs.readdir(dir)) {
    if (/^weights-[0-9a-f]{8}\.bin$/.test(f) && f !== binName)
      await fs.rm(joinPath(dir, f), { force: true });
  }
  return manifest;
}

/**
 * Loads named tensors saved by {@link saveState} (or a Trainer checkpoint directory). The caller
 * owns the tensors. A missing, truncated or corrupt file gives a {@link CheckpointError}.
 *
 * @example
 * ```ts
 * const { tensors } = await loadState('out/state');
 * tf.dispose(Object.values(tensors));
 * ```
 */
export async function loadState(
  dir: string,
): Promise<{ tensors: NamedTensors; metadata: Record<string, unknown>; manifest: StateManifest }> {
  const { manifest, data } = await readStateFiles(dir);
  return decodeState(manifest, data, dir);
}

/**
 * Saves a module's parameters and buffers to `dir` (see {@link saveState}).
 *
 * @example
 * ```ts
 * const net = mlp([2, 8, 1], { rng: new Rng(0) });
 * await saveModule(net, 'out/net', { metadata: { sizes: [2, 8, 1] } });
 * ```
 */
export async function saveModule(
  module: Module<never, unknown>,
  dir: string,
  opts: SaveStateOptions = {},
): Promise<StateManifest> {
  return saveState(dir, module.namedState(), opts);
}

/** Options of {@link loadModule}. */
export interface LoadModuleOptions extends SetStateOptions {
  /**
   * Load only tensors whose names start with this prefix, with the prefix removed. Trainer
   * checkpoints store the model under 'model/'. Default ''.
   */
  prefix?: string;
}

/**
 * Loads parameters saved by {@link saveModule} (or a Trainer checkpoint with
 * `{ prefix: 'model/' }`) into `module`, checking names and shapes first: a
 * {@link StateMismatchError} lists every missing, unexpected and wrong-shaped name. Returns the
 * metadata.
 *
 * @example
 * ```ts
 * const net = mlp([2, 8, 1], { rng: new Rng(1) });
 * const metadata = await loadModule(net, 'out/net');
 * ```
 */
export async function loadModule(
  module: Module<never, unknown>,
  dir: string,
  opts: LoadModuleOptions = {},
): Promise<Record<string, unknown>> {
  const { tensors, metadata } = await loadState(dir);
  const prefix = opts.prefix ?? '';
  try {
    const selected = new Map<string, tf.Tensor>();
    for (const [n, t] of Object.entries(tensors)) {
      if (n.startsWith(prefix)) selected.set(n.slice(prefix.length), t);
    }
    try {
      module.setState(selected, opts);
    } catch (e) {
      if (e instanceof StateMismatchError) {
        throw new StateMismatchError(
          `loadModule('${dir}') into ${module.label}`,
          e.missing,
          e.unexpected,
          e.wrongShape,
          'The directory was saved from a different model (or pass { strict: false }).',
        );
      }
      throw e;
    }
    return metadata;
  } finally {
    for (const t of Object.values(tensors)) t.dispose();
  }
}
