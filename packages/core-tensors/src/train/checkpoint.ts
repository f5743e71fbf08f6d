/**
 * Where the Trainer keeps checkpoints. A checkpoint is a named set of files (`model.json` +
 * `weights.bin`) written as a whole: a reader sees either all of a checkpoint or none of it.
 * `DirectoryCheckpointStore` (Node) writes each checkpoint into a temp directory, fsyncs it and
 * renames it into place; `MemoryCheckpointStore` keeps them in memory (browsers, tests).
 */
import { fsyncDir, isNode, joinPath, nodeFs } from '../nn/io.js';
import { CheckpointError } from '../nn/serialize.js';

/** A place checkpoints are written to and read from. */
export interface CheckpointStore {
  /** Where it is, for messages (a directory path, 'memory'). */
  readonly location: string;
  /** Names of the complete checkpoints it holds (any order). */
  list(): Promise<string[]>;
  /** Writes all `files` of checkpoint `name` atomically, replacing one of that name; returns its location. */
  write(name: string, files: Record<string, Uint8Array>): Promise<string>;
  /** The files of checkpoint `name` (a CheckpointError if it is not there). */
  read(name: string): Promise<Record<string, Uint8Array>>;
  /** Removes checkpoint `name` (no error if absent). */
  remove(name: string): Promise<void>;
  /** The location of checkpoint `name`, for messages. */
  locate(name: string): string;
}

/**
 * Checkpoints kept in memory: for browsers and tests. Files are copied on write and on read.
 *
 * @example
 * ```ts
 * const store = new MemoryCheckpointStore();
 * const trainer = new Trainer({ ..., checkpoint: { store, every: 100 } });
 * ```
 */
export class MemoryCheckpointStore implements CheckpointStore {
  readonly location = 'memory';
  private readonly items = new Map<string, Record<string, Uint8Array>>();

  async list(): Promise<string[]> {
    return [...this.items.keys()];
  }

  async write(name: string, files: Record<string, Uint8Array>): Promise<string> {
    this.items.set(name, Object.fromEntries(Object.entries(files).map(([k, v]) => [k, v.slice()])));
    return this.locate(name);
  }

  async read(name: string): Promise<Record<string, Uint8Array>> {
    const f = this.items.get(name);
    if (!f) throw new CheckpointError(`memory checkpoint '${name}' not found.`, name);
    return Object.fromEntries(Object.entries(f).map(([k, v]) => [k, v.slice()]));
  }

  async remove(name: string): Promise<void> {
    this.items.delete(name);
  }

  locate(name: string): string {
    return `memory:${name}`;
  }
}

function suffix(): string {
  return `${process.pid}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
}

/**
 * Checkpoints as sub-directories of `dir` (Node). A write goes to `dir/.tmp-<name>-...`, every
 * file is fsynced, then the directory is renamed to `dir/<name>` (a checkpoint of the same name
 * is first moved aside and removed after). Leftovers of a process killed mid-write are cleaned
 * up by {@link recover} (the Trainer calls it before resuming).
 *
 * @example
 * ```ts
 * const store = new DirectoryCheckpointStore('runs/mnist-vae');
 * ```
 */
export class DirectoryCheckpointStore implements CheckpointStore {
  readonly location: string;

  constructor(dir: string) {
    if (!isNode()) {
      throw new CheckpointError(
        'DirectoryCheckpointStore needs Node (file IO); in a browser use MemoryCheckpointStore.',
      );
    }
    this.location = dir;
  }

  locate(name: string): string {
    return joinPath(this.location, name);
  }

  /**
   * Cleans up after a process killed mid-write: removes temp directories and, where a
   * checkpoint was moved aside but its replacement never arrived, moves it back.
   */
  async recover(): Promise<void> {
    const fs = await nodeFs('DirectoryCheckpointStore');
    let entries: string[];
    try {
      entries = await fs.readdir(this.location);
    } catch {
      return;
    }
    const present = new Set(entries);
    for (const e of entries) {
      if (e.startsWith('.tmp-'))
        await fs.rm(joinPath(this.location, e), { recursive: true, force: true });
      const old = /^\.old-(.+)-\d+-[a-z0-9]+-[a-z0-9]+$/.exec(e);
      if (old) {
        const name = old[1]!;
        if (present.has(name))
          await fs.rm(joinPath(this.location, e), { recursive: true, force: true });
        else {
          await fs.rename(joinPath(this.location, e), joinPath(this.location, name));
          present.add(name);
        }
      }
    }
  }

  /**
   * Checks that checkpoints can be written here: creates the directory when needed and writes
   * and removes a small file in it. Throws a {@link CheckpointError} naming the directory and the
   * reason (the Trainer calls it when it is built, so that a bad directory is found before the
   * training rather than at its first checkpoint).
   */
  async probeWritable(): Promise<void> {
    const fs = await nodeFs('DirectoryCheckpointStore');
    const probe = joinPath(this.location, `.tmp-probe-${suffix()}`);
    try {
      await fs.mkdir(this.location, { recursive: true });
      await fs.writeFile(probe, new Uint8Array([0]));
      await fs.rm(probe, { force: true });
    } catch (e) {
      const why = e instanceof Error ? e.message : String(e);
      throw new CheckpointError(
        `Trainer: the checkpoint directory ${this.location} is not writable (${why}); pass a directory you can write (checkpoint.dir) or another store (checkpoint.store).`,
        this.location,
      );
    }
  }

  async list(): Promise<string[]> {
    const fs = await nodeFs('DirectoryCheckpointStore');
    try {
      const entries = await fs.readdir(this.location, { withFileTypes: true });
      return entries.filter((e) => e.isDirectory() && !e.name.startsWith('.')).map((e) => e.name);
    } catch (e) {
      if ((e as { code?: string }).code === 'ENOENT') return [];
      throw e;
    }
  }

  async write(name: string, files: Record<string, Uint8Array>): Promise<string> {
    const fs = await nodeFs('DirectoryCheckpointStore');
    await fs.mkdir(this.location, { recursive: true });
    const tmp = joinPath(this.location, `.tmp-${name}-${suffix()}`);
    await fs.mkdir(tmp);
    try {
      for (const [f, data] of Object.entries(files)) {
        const fh = await fs.open(joinPath(tmp, f), 'w');
        try {
          await fh.writeFile(data);
          await fh.sync();
        } finally {
          await fh.close();
        }
      }
      await fsyncDir(fs, tmp);
      const target = this.locate(name);
      let aside: string | undefined;
      try {
        await fs.rename(tmp, target);
      } catch (e) {
        const code = (e as { code?: string }).code;
        if (code !== 'ENOTEMPTY' && code !== 'EEXIST' && code !== 'EPERM') throw e;
        aside = joinPath(this.location, `.old-${name}-${suffix()}`);
        await fs.rename(target, aside);
        await fs.rename(tmp, target);
      }
      await fsyncDir(fs, this.location);
      if (aside) await fs.rm(aside, { recursive: true, force: true });
      return target;
    } catch (e) {
      await fs.rm(tmp, { recursive: true, force: true });
      throw e;
    }
  }

  async read(name: string): Promise<Record<string, Uint8Array>> {
    return readCheckpointDir(this.locate(name));
  }

  async remove(name: string): Promise<void> {
    const fs = await nodeFs('DirectoryCheckpointStore');
    await fs.rm(this.locate(name), { recursive: true, force: true });
  }
}

/**
 * Reads every file of a checkpoint directory (Node).
 *
 * @example
 * ```ts
 * const files = await readCheckpointDir('runs/a/step-00000100'); // { 'model.json': ..., 'weights.bin': ... }
 * ```
 */
export async function readCheckpointDir(dir: string): Promise<Record<string, Uint8Array>> {
  const fs = await nodeFs('readCheckpointDir');
  let names: string[];
  try {
    names = await fs.readdir(dir);
  } catch (e) {
    const code = (e as { code?: string }).code;
    throw new CheckpointError(
      code === 'ENOENT'
        ? `${dir}: checkpoint directory not found.`
        : `${dir}: cannot read the checkpoint directory (${e instanceof Error ? e.message : String(e)}).`,
      dir,
    );
  }
  const out: Record<string, Uint8Array> = {};
  for (const n of names) if (!n.startsWith('.')) out[n] = await fs.readFile(joinPath(dir, n));
  return out;
}

const STEP_RE = /^step-(\d+)$/;

/**
 * The name of the checkpoint after `step` steps.
 *
 * @example
 * ```ts
 * checkpointName(100); // 'step-00000100'
 * ```
 */
export function checkpointName(step: number): string {
  return `step-${String(step).padStart(8, '0')}`;
}

/**
 * The step-numbered checkpoints of a store, oldest first.
 *
 * @example
 * ```ts
 * await listCheckpoints(new DirectoryCheckpointStore('runs/a')); // [{ name: 'step-00000100', step: 100 }, ...]
 * ```
 */
export async function listCheckpoints(
  store: CheckpointStore,
): Promise<{ name: string; step: number }[]> {
  const out: { name: string; step: number }[] = [];
  for (const name of await store.list()) {
    const m = STEP_RE.exec(name);
    if (m) out.push({ name, step: Number(m[1]) });
  }
  return out.sort((a, b) => a.step - b.step);
}

/**
 * The path of the newest step checkpoint in directory `dir`, or undefined when there is none
 * (Node). Load its model with `loadModule(net, path, { prefix: 'model/' })`.
 *
 * @example
 * ```ts
 * const path = await latestCheckpoint('runs/mnist-vae');
 * if (path) await loadModule(vae, path, { prefix: 'model/' });
 * ```
 */
export async function latestCheckpoint(dir: string): Promise<string | undefined> {
  const store = new DirectoryCheckpointStore(dir);
  const all = await listCheckpoints(store);
  const last = all[all.length - 1];
  return last ? store.locate(last.name) : undefined;
}
