/**
 * Starting the Trainer's parallel workers (Node only): the options checked, the worker entry and
 * the replica module located, the shared buffers allocated, and each worker started and waited
 * for until it has built its replica and checked it against the main thread's variables.
 */
import { ValueError } from '../errors.js';
import { isNode } from '../nn/io.js';
import { nodeBuiltin } from '../node-builtins.js';
import { tf } from '../tf.js';
import { checkInt } from '../validate.js';
import { type ParallelOptions, ParallelWorkerError } from './parallel-options.js';
import {
  CtrlLayout,
  type EntrySpec,
  entryOffsets,
  PROTOCOL_VERSION,
  TEXT_UNITS,
  type WorkerInit,
  type WorkerMessage,
} from './parallel-protocol.js';

export type WorkerT = import('node:worker_threads').Worker;
export type PortT = import('node:worker_threads').MessagePort;

/** The engine's settings, resolved from {@link ParallelOptions}. */
export type EngineSettings = Required<
  Pick<ParallelOptions, 'workers' | 'mainShard' | 'reduction'>
> &
  Pick<ParallelOptions, 'stepTimeoutMs'>;

/** Running workers, ready for steps, and the shared memory they use. */
export interface StartedWorkers {
  opts: EngineSettings;
  entries: EntrySpec[];
  vars: tf.Variable[];
  workers: WorkerT[];
  ports: PortT[];
  shared: { ctrl: SharedArrayBuffer; num: SharedArrayBuffer; text: SharedArrayBuffer };
  paramBuf: SharedArrayBuffer;
  gradBufs: SharedArrayBuffer[];
}

async function locateWorkerEntry(): Promise<URL> {
  const { existsSync } = await nodeBuiltin('node:fs');
  const { fileURLToPath } = await nodeBuiltin('node:url');
  // Built: this code sits in dist/ next to the worker entry. From sources (tests): src/train/.
  // The paths are not literals inside `new URL(...)` so that browser bundlers, which treat
  // `new URL('literal', import.meta.url)` as an asset to emit, leave this Node-only code alone.
  const paths = ['./parallel-worker.js', '../../dist/parallel-worker.js'];
  const candidates = paths.map((p) => new URL(p, import.meta.url));
  for (const c of candidates) {
    if (c.protocol === 'file:' && existsSync(fileURLToPath(c))) return c;
  }
  throw new ValueError(
    `Trainer (parallel): the worker entry parallel-worker.js was not found (looked at ${candidates.map((c) => c.href).join(', ')}); build @dgm-js/core-tensors (pnpm --filter @dgm-js/core-tensors build).`,
  );
}

async function moduleHref(m: URL | string): Promise<string> {
  if (m instanceof URL) return m.href;
  if (typeof m !== 'string' || m.length === 0) {
    throw new ValueError('Trainer (parallel): parallel.module must be a URL or a file path.');
  }
  if (/^[a-z][a-z0-9+.-]+:/i.test(m)) return m;
  const { pathToFileURL } = await nodeBuiltin('node:url');
  const { resolve } = await nodeBuiltin('node:path');
  return pathToFileURL(resolve(m)).href;
}

/**
 * Starts the workers and waits until each has built its replica and checked it against
 * `params` (trainable or frozen, in the Trainer's order) and `buffers`. On failure every worker
 * started is terminated before the error is thrown.
 */
export async function startWorkers(
  o: ParallelOptions,
  params: [string, tf.Variable][],
  buffers: [string, tf.Variable][],
): Promise<StartedWorkers> {
  if (!isNode()) {
    throw new ValueError('Trainer: parallel training needs Node (worker_threads).');
  }
  if (typeof SharedArrayBuffer === 'undefined') {
    throw new ValueError('Trainer: parallel training needs SharedArrayBuffer.');
  }
  if (!o || typeof o !== 'object') throw new ValueError('Trainer: parallel must be an object.');
  checkInt(o.workers, 'parallel.workers', 'Trainer');
  if (o.reduction !== undefined && o.reduction !== 'mean' && o.reduction !== 'sum') {
    throw new ValueError(
      `Trainer: parallel.reduction must be 'mean' or 'sum', got ${String(o.reduction)}.`,
    );
  }
  for (const k of ['startupTimeoutMs', 'stepTimeoutMs'] as const) {
    const v = o[k];
    if (v !== undefined && !(typeof v === 'number' && v > 0)) {
      throw new ValueError(`Trainer: parallel.${k} must be a positive number, got ${String(v)}.`);
    }
  }
  const entries: EntrySpec[] = [];
  const vars: tf.Variable[] = [];
  for (const [list, param] of [
    [params, true],
    [buffers, false],
  ] as const) {
    for (const [name, v] of list) {
      if (v.dtype !== 'float32' && v.dtype !== 'int32') {
        throw new ValueError(
          `Trainer (parallel): '${name}' has dtype ${v.dtype}; parallel training synchronises float32 and int32 tensors only.`,
        );
      }
      entries.push({ name, shape: [...v.shape], dtype: v.dtype, param });
      vars.push(v);
    }
  }
  const { Worker, MessageChannel } = await nodeBuiltin('node:worker_threads');
  const entryUrl = await locateWorkerEntry();
  const moduleUrl = await moduleHref(o.module);
  const n = o.workers;
  const L = new CtrlLayout(entries.length, n);
  const shared = {
    ctrl: new SharedArrayBuffer(4 * L.i32Length),
    num: new SharedArrayBuffer(8 * L.f64Length),
    text: new SharedArrayBuffer(2 * TEXT_UNITS * n),
  };
  const { bytes } = entryOffsets(entries);
  const paramBuf = new SharedArrayBuffer(Math.max(bytes, 8));
  const gradBufs = Array.from({ length: n }, () => new SharedArrayBuffer(Math.max(bytes, 8)));
  const mainShard = o.mainShard ?? true;
  const workers: WorkerT[] = [];
  const ports: PortT[] = [];
  const ready: Promise<void>[] = [];
  let starting = true;
  for (let k = 0; k < n; k++) {
    const { port1, port2 } = new MessageChannel();
    const init: WorkerInit & { port: PortT } = {
      protocol: PROTOCOL_VERSION,
      moduleUrl,
      exportName: o.exportName ?? 'default',
      options: o.options,
      index: k,
      workers: n,
      mainShard,
      backend: tf.getBackend(),
      ...shared,
      params: paramBuf,
      grads: gradBufs[k]!,
      entries,
      port: port2,
    };
    const w = new Worker(entryUrl, {
      workerData: init,
      transferList: [port2],
      ...(o.execArgv ? { execArgv: o.execArgv } : {}),
    });
    workers.push(w);
    ports.push(port1);
    ready.push(
      new Promise<void>((resolve, reject) => {
        const fail = (message: string, stack?: string) =>
          reject(new ParallelWorkerError(k, message, stack, undefined, n));
        port1.on('message', (m: WorkerMessage) => {
          if (m.type === 'ready') resolve();
          else if (m.type === 'error') fail(m.message, m.stack);
        });
        w.once('error', (e: unknown) => {
          const err = e instanceof Error ? e : new Error(String(e));
          fail(`${err.name}: ${err.message}`, err.stack);
        });
        w.once('exit', (code: number) => {
          if (starting) fail(`the worker thread exited while starting (exit code ${code})`);
        });
      }),
    );
  }
  const timeoutMs = o.startupTimeoutMs ?? 120_000;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () =>
        reject(
          new ParallelWorkerError(
            0,
            `the workers were not ready after ${timeoutMs} ms (parallel.startupTimeoutMs)`,
            undefined,
            undefined,
            n,
          ),
        ),
      timeoutMs,
    );
  });
  try {
    await Promise.race([Promise.all(ready), timeout]);
  } catch (e) {
    for (const p of ports) p.close();
    await Promise.all(workers.map((w) => w.terminate()));
    throw e;
  } finally {
    starting = false;
    clearTimeout(timer);
    for (const p of ports) p.removeAllListeners('message');
  }
  return {
    opts: {
      workers: n,
      mainShard,
      reduction: o.reduction ?? 'mean',
      ...(o.stepTimeoutMs !== undefined ? { stepTimeoutMs: o.stepTimeoutMs } : {}),
    },
    entries,
    vars,
    workers,
    ports,
    shared,
    paramBuf,
    gradBufs,
  };
}
