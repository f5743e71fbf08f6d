/**
 * Data parallelism for the Trainer over worker threads (Node). Each worker runs its own tfjs
 * backend and a replica of the model built by a user module; per step the main thread writes
 * the parameters and each worker's rows of the batch into SharedArrayBuffers, the workers (and
 * the main thread, on its own shard) compute the gradients of their shard's loss, meet at an
 * Atomics barrier, and the main thread combines the gradients weighted by shard size and applies
 * its optimizer. All shared buffers are allocated once (the data buffers again only when a
 * larger batch arrives).
 */
import { DgmError, ValueError } from '../errors.js';
import { Rng } from '../rng.js';
import { tf } from '../tf.js';
import { checkInt } from '../validate.js';
import { isTensorBatch } from './batch.js';
import {
  align8,
  bytesPer,
  CMD,
  CMD_STEP,
  CMD_STOP,
  CtrlLayout,
  type DataLayout,
  DONE,
  type EntrySpec,
  entryOffsets,
  flatData,
  GEN,
  GRAD_NONE,
  GRAD_NONFINITE,
  LAYOUT,
  type LayoutMessage,
  type LeafSpec,
  N_BATCH_INDEX,
  N_BATCH_ROWS,
  N_EPOCH,
  N_STEP,
  NW_LOSS,
  NW_METRICS,
  NW_WEIGHT,
  PROTOCOL_VERSION,
  readText,
  STATUS_ERROR,
  STATUS_RUNNING,
  sizeOf,
  TEXT_UNITS,
  tensorFromShared,
  viewOf,
  W_ROW_START,
  W_ROWS,
  W_SEED,
  W_STATUS,
  W_TEXT_LEN,
  type WaitAsync,
  type WorkerInit,
  type WorkerMessage,
  waitAsyncFn,
} from './parallel-protocol.js';
import type { StepContext, TensorBatch } from './types.js';

export type { Replica, ReplicaContext, ReplicaFactory, ShardInfo } from './types.js';

/**
 * Data-parallel training over worker threads (Node only), `TrainerOptions.parallel`.
 *
 * Each worker imports `module` and calls its factory (the default export, or `exportName`) to
 * build a replica: the same model (same parameter names, shapes and dtypes) and the same loss as
 * the Trainer's. The factory's initial values do not matter: before every step the workers copy
 * the main thread's parameters and buffers. Each batch (a tensor, or an array or record of
 * tensors with the same first axis) is split along axis 0 into `workers` shards, plus one for the
 * main thread with `mainShard` (default). Each shard's gradient is weighted by its share of the
 * rows, so for a loss that is a mean over the batch's rows the combined gradient equals the
 * full-batch one up to float rounding (use `reduction: 'sum'` for a sum over rows). Losses and
 * metrics are averaged the same way. The optimizer, checkpoints, NaN guard and resume all stay on
 * the main thread. Buffer updates a worker's loss makes are not gathered back.
 *
 * The workers run the package's `dist/parallel-worker.js` with plain Node, so `module` must be
 * JavaScript Node can import by itself (`.js`/`.mjs`, or a `data:` URL that imports packages by
 * absolute URL): loaders such as tsx, and vitest's transforms, do not carry over to worker
 * threads. Under vitest also pass `execArgv: []` (see below). Speed: the batch must be large
 * enough that each shard's forward and backward pass outweighs copying the parameters and
 * gradients through shared memory (about 3 MB each way per step for an 800k-parameter MLP) and
 * the optimizer step, which stays serial on the main thread; use at most as many compute threads
 * (workers, plus the main thread with `mainShard`) as there are idle cores.
 *
 * @example
 * ```ts
 * // replica.mjs: one place that builds the model and the loss
 * import { mlp, Rng, softplus, tf } from '@dgm-js/core-tensors';
 * export default function replica() {
 *   const net = mlp([784, 512, 784], { rng: new Rng(0) });
 *   const loss = (x) => {
 *     const logits = net.apply(x);
 *     return { loss: tf.mean(tf.sub(softplus(logits), tf.mul(x, logits))) };
 *   };
 *   return { model: net, loss };
 * }
 *
 * // train.mjs
 * import { adam, initBackend, Trainer } from '@dgm-js/core-tensors';
 * import replica from './replica.mjs';
 * await initBackend();
 * const { model, loss } = replica();
 * const trainer = new Trainer({
 *   model, objective: loss, data: batches, optimizer: adam(1e-3), maxSteps: 1000,
 *   parallel: { workers: 1, module: new URL('./replica.mjs', import.meta.url) },
 * });
 * await trainer.fit(); // main thread + 1 worker, each on half of every batch
 * ```
 */
export interface ParallelOptions {
  /** Worker threads (>= 1). With `mainShard`, the batch is split `workers + 1` ways. */
  workers: number;
  /** The module with the replica factory: a URL (`new URL('./m.mjs', import.meta.url)`) or a path. */
  module: URL | string;
  /** The factory's export name. Default 'default'. */
  exportName?: string;
  /** Passed (structured-cloned) to the factory as `ctx.options`. */
  options?: unknown;
  /** The main thread computes a shard too (it then sits idle less). Default true. */
  mainShard?: boolean;
  /** How the loss reduces over rows: 'mean' (default; shards weighted by rows) or 'sum'. */
  reduction?: 'mean' | 'sum';
  /** Give up when the workers are not ready after this long. Default 120000. */
  startupTimeoutMs?: number;
  /**
   * Fail the step (a {@link ParallelWorkerError}; the workers are then terminated) when a worker
   * has not finished it after this long, e.g. a loss that never returns. Default: no limit.
   */
  stepTimeoutMs?: number;
  /**
   * The workers' Node flags. Default: the main thread's (`process.execArgv`). Pass `[]` when the
   * main thread runs under flags the workers must not inherit (vitest adds
   * `--conditions source`, which would make the workers resolve packages to TypeScript sources).
   */
  execArgv?: string[];
}

/** A worker failed: while starting (module, factory, model mismatch) or in a step. */
export class ParallelWorkerError extends DgmError {
  constructor(
    /** 0-based worker index. */
    readonly worker: number,
    /** The worker's error message (with its error name). */
    readonly workerMessage: string,
    /** The worker's stack trace, when it had one. */
    readonly workerStack: string | undefined,
    /** The step that failed (undefined while starting). */
    readonly step: number | undefined,
    workers: number,
  ) {
    super(
      `Trainer: parallel worker ${worker} (of ${workers}) failed ${step === undefined ? 'while starting' : `at step ${step}`}: ${workerMessage}`,
    );
  }
}

/** How one batch is split: shard 0 is the main thread's when it computes one. */
export interface ShardPlan {
  total: number;
  /** Rows of the main thread's shard (0 without mainShard). */
  mainRows: number;
  /** First row and rows of each worker's shard. */
  workerStart: number[];
  workerRows: number[];
}

interface BatchLeaves {
  kind: 'tensor' | 'array' | 'record' | 'batch';
  keys: (string | number | null)[];
  tensors: tf.Tensor[];
}

function leavesOf(batch: unknown): BatchLeaves {
  const bad = (what: string) =>
    new ValueError(
      `Trainer (parallel): ${what}. A parallel batch must be a tensor, an array or record of tensors, or a batch with such a record in \`tensors\` (datasets' batches), with the same first axis (the rows split across workers).`,
    );
  let out: BatchLeaves;
  if (batch instanceof tf.Tensor) out = { kind: 'tensor', keys: [null], tensors: [batch] };
  else if (isTensorBatch(batch)) {
    // a batch that owns its tensors (e.g. @dgm-js/datasets' batches): its `tensors` are split
    const e = Object.entries(batch.tensors);
    out = { kind: 'batch', keys: e.map(([k]) => k), tensors: e.map(([, v]) => v) };
  } else if (Array.isArray(batch)) {
    out = { kind: 'array', keys: batch.map((_, i) => i), tensors: batch as tf.Tensor[] };
  } else if (batch && typeof batch === 'object') {
    const e = Object.entries(batch as Record<string, unknown>);
    out = { kind: 'record', keys: e.map(([k]) => k), tensors: e.map(([, v]) => v as tf.Tensor) };
  } else throw bad(`the batch is ${batch === null ? 'null' : typeof batch}`);
  if (out.tensors.length === 0) throw bad('the batch has no tensors');
  out.tensors.forEach((t, i) => {
    const where = out.keys[i] === null ? 'the batch' : `batch[${JSON.stringify(out.keys[i])}]`;
    if (!(t instanceof tf.Tensor)) throw bad(`${where} is not a tensor`);
    if (t.rank === 0) throw bad(`${where} is a scalar`);
    if (t.dtype !== 'float32' && t.dtype !== 'int32' && t.dtype !== 'bool') {
      throw bad(`${where} has dtype ${t.dtype} (float32, int32 or bool only)`);
    }
    if (t.shape[0] !== out.tensors[0]!.shape[0]) {
      throw bad(
        `${where} has ${t.shape[0]} rows but the first tensor has ${out.tensors[0]!.shape[0]}`,
      );
    }
  });
  if (out.tensors[0]!.shape[0] === 0) throw bad('the batch has 0 rows');
  return out;
}

/**
 * A shard of a batch that owns its tensors (a {@link TensorBatch}): `{ tensors, size, dispose }`
 * with the shard's rows, the same on the main thread and in the workers (other fields of the
 * batch are not carried over; the step context has the step and epoch). Its `dispose` does
 * nothing: the Trainer disposes the slices and the whole batch.
 */
function shardOfBatch(tensors: Record<string, tf.Tensor>, rows: number): TensorBatch {
  return { tensors, size: rows, dispose: () => undefined };
}

const live = new Set<ParallelEngine>();

/** Worker threads alive in this process (tests use it to check that none is left behind). */
export function liveParallelWorkers(): number {
  let n = 0;
  for (const e of live) n += e.workerCount;
  return n;
}

function now(): number {
  return performance.now();
}

function isNode(): boolean {
  return typeof process !== 'undefined' && typeof process.versions?.node === 'string';
}

async function locateWorkerEntry(): Promise<URL> {
  const { existsSync } = await import('node:fs');
  const { fileURLToPath } = await import('node:url');
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
  const { pathToFileURL } = await import('node:url');
  const { resolve } = await import('node:path');
  return pathToFileURL(resolve(m)).href;
}

type WorkerT = import('node:worker_threads').Worker;
type PortT = import('node:worker_threads').MessagePort;

/**
 * The main thread's side of data parallelism. Internal: the Trainer drives it
 * (`start`, then per step `plan`, `dispatch`, `mainShard`, `wait`, `combineGrad`,
 * `workerScalars`; `close` at the end).
 */
export class ParallelEngine {
  private readonly ctrl: Int32Array;
  private readonly num: Float64Array;
  private readonly text: Uint16Array;
  private readonly L: CtrlLayout;
  private readonly paramViews: (Float32Array | Int32Array)[];
  private readonly gradViews: (Float32Array | null)[][];
  private readonly waitAsync: WaitAsync | undefined;
  private layout: DataLayout | undefined;
  private layoutKey = '';
  private dataViews: (Float32Array | Int32Array | Uint8Array)[][] = [];
  private failure: ParallelWorkerError | undefined;
  private closed = false;
  private inFlight = false;
  private readonly stepTimeoutMs: number | undefined;
  private step = 0;
  private constructor(
    private readonly opts: Required<Pick<ParallelOptions, 'workers' | 'mainShard' | 'reduction'>> &
      Pick<ParallelOptions, 'stepTimeoutMs'>,
    private readonly entries: EntrySpec[],
    private readonly vars: tf.Variable[],
    private readonly workers: WorkerT[],
    private readonly ports: PortT[],
    shared: { ctrl: SharedArrayBuffer; num: SharedArrayBuffer; text: SharedArrayBuffer },
    params: SharedArrayBuffer,
    grads: SharedArrayBuffer[],
  ) {
    this.L = new CtrlLayout(entries.length, opts.workers);
    this.ctrl = new Int32Array(shared.ctrl);
    this.num = new Float64Array(shared.num);
    this.text = new Uint16Array(shared.text);
    const { offsets } = entryOffsets(entries);
    this.paramViews = entries.map(
      (e, i) => viewOf(params, e.dtype, offsets[i]!, sizeOf(e.shape)) as Float32Array | Int32Array,
    );
    this.gradViews = grads.map((g) =>
      entries.map((e, i) =>
        e.param ? (viewOf(g, 'float32', offsets[i]!, sizeOf(e.shape)) as Float32Array) : null,
      ),
    );
    this.waitAsync = waitAsyncFn();
    this.stepTimeoutMs = opts.stepTimeoutMs;
    workers.forEach((w, k) => {
      w.on('error', (e: unknown) => {
        if (this.closed) return;
        const err = e instanceof Error ? e : new Error(String(e));
        this.failure ??= new ParallelWorkerError(
          k,
          `${err.name}: ${err.message}`,
          err.stack,
          this.step,
          opts.workers,
        );
      });
      w.on('exit', (code: number) => {
        if (this.closed) return;
        this.failure ??= new ParallelWorkerError(
          k,
          `the worker thread exited unexpectedly (exit code ${code})`,
          undefined,
          this.step,
          opts.workers,
        );
      });
    });
  }

  /** Worker threads this engine still runs. */
  get workerCount(): number {
    return this.closed ? 0 : this.workers.length;
  }

  /** Whether the main thread computes a shard. */
  get mainShardEnabled(): boolean {
    return this.opts.mainShard;
  }

  /**
   * Starts the workers and waits until each has built its replica and checked it against
   * `params` (trainable or frozen, in the Trainer's order) and `buffers`.
   */
  static async start(
    o: ParallelOptions,
    params: [string, tf.Variable][],
    buffers: [string, tf.Variable][],
  ): Promise<ParallelEngine> {
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
    const { Worker, MessageChannel } = await import('node:worker_threads');
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
    const engine = new ParallelEngine(
      {
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
    );
    live.add(engine);
    return engine;
  }

  /** Checks the batch and splits its rows: even shares, the first shards one row more. */
  plan(batch: unknown): ShardPlan {
    const { tensors } = leavesOf(batch);
    const total = tensors[0]!.shape[0]!;
    const shards = this.opts.workers + (this.opts.mainShard ? 1 : 0);
    const base = Math.floor(total / shards);
    const extra = total % shards;
    const rows = Array.from({ length: shards }, (_, s) => base + (s < extra ? 1 : 0));
    const mainRows = this.opts.mainShard ? rows.shift()! : 0;
    const workerStart: number[] = [];
    let start = mainRows;
    for (const r of rows) {
      workerStart.push(start);
      start += r;
    }
    return { total, mainRows, workerStart, workerRows: rows };
  }

  /** (Re)allocates the workers' data buffers when the batch structure or size changes. */
  private ensureLayout(leaves: BatchLeaves, rowsNeeded: number): void {
    const key = `${leaves.kind}|${leaves.tensors
      .map((t, i) => `${String(leaves.keys[i])}:${t.dtype}:${t.shape.slice(1).join('x')}`)
      .join('|')}`;
    if (this.layout && key === this.layoutKey && this.layout.capacityRows >= rowsNeeded) return;
    const capacityRows =
      this.layout && key === this.layoutKey
        ? Math.max(rowsNeeded, Math.ceil(this.layout.capacityRows * 1.5))
        : rowsNeeded;
    let bytes = 0;
    const specs: LeafSpec[] = leaves.tensors.map((t, i) => {
      const leaf: LeafSpec = {
        key: leaves.keys[i]!,
        dtype: t.dtype as LeafSpec['dtype'],
        rowShape: t.shape.slice(1),
        byteOffset: bytes,
      };
      bytes += align8(capacityRows * sizeOf(leaf.rowShape) * bytesPer(leaf.dtype));
      return leaf;
    });
    const layout: DataLayout = {
      version: (this.layout?.version ?? 0) + 1,
      kind: leaves.kind,
      length: leaves.tensors.length,
      leaves: specs,
      capacityRows,
    };
    this.dataViews = this.ports.map((port) => {
      const buffer = new SharedArrayBuffer(Math.max(bytes, 8));
      const msg: LayoutMessage = { type: 'layout', layout, buffer };
      port.postMessage(msg);
      return specs.map((s) =>
        viewOf(buffer, s.dtype, s.byteOffset, capacityRows * sizeOf(s.rowShape)),
      );
    });
    this.layout = layout;
    this.layoutKey = key;
    Atomics.store(this.ctrl, LAYOUT, layout.version);
  }

  /**
   * Starts a step on the workers: writes the parameters and buffers, each worker's rows, the
   * trainable mask and the step context, then releases the barrier. Returns at once.
   */
  dispatch(batch: unknown, plan: ShardPlan, ctx: StepContext): void {
    if (this.closed) throw new ValueError('Trainer (parallel): the workers were shut down.');
    if (this.inFlight) throw new ValueError('Trainer (parallel): a step is already running.');
    if (this.failure) throw this.failure;
    const { ctrl, num, L } = this;
    const leaves = leavesOf(batch);
    this.ensureLayout(leaves, Math.max(...plan.workerRows, 1));
    // Parameters: straight from the wasm heap (no copy into JS) into shared memory.
    this.vars.forEach((v, i) => {
      this.paramViews[i]!.set(flatData(v) as Float32Array & Int32Array);
      ctrl[L.mask(i)] = this.entries[i]!.param && v.trainable ? 1 : 0;
    });
    leaves.tensors.forEach((t, j) => {
      const flat = flatData(t);
      const rowSize = sizeOf(t.shape.slice(1));
      for (let k = 0; k < this.opts.workers; k++) {
        const start = plan.workerStart[k]!;
        const rows = plan.workerRows[k]!;
        if (rows === 0) continue;
        (this.dataViews[k]![j] as Float32Array).set(
          flat.subarray(start * rowSize, (start + rows) * rowSize) as Float32Array,
        );
      }
    });
    // Independent streams per shard, none equal to the main shard's ctx.rng.
    const seeds = Rng.fromState((ctx.rng.getState() ^ 0x2545f491) >>> 0);
    for (let k = 0; k < this.opts.workers; k++) {
      ctrl[L.w(k, W_ROWS)] = plan.workerRows[k]!;
      ctrl[L.w(k, W_ROW_START)] = plan.workerStart[k]!;
      ctrl[L.w(k, W_SEED)] = seeds.split().getState() | 0;
      ctrl[L.w(k, W_STATUS)] = STATUS_RUNNING;
      num[L.num(k, NW_WEIGHT)] = this.weight(plan.workerRows[k]!, plan);
    }
    num[N_STEP] = ctx.step;
    num[N_EPOCH] = ctx.epoch;
    num[N_BATCH_INDEX] = ctx.batchIndex;
    num[N_BATCH_ROWS] = plan.total;
    this.step = ctx.step;
    Atomics.store(ctrl, DONE, 0);
    Atomics.store(ctrl, CMD, CMD_STEP);
    Atomics.add(ctrl, GEN, 1);
    Atomics.notify(ctrl, GEN);
    this.inFlight = true;
  }

  /**
   * The main thread's rows of the batch, same structure (slices along axis 0); `owned` are the
   * slices to dispose after the step.
   */
  mainShard(batch: unknown, plan: ShardPlan): { batch: unknown; owned: tf.Tensor[] } {
    if (plan.mainRows === plan.total) return { batch, owned: [] };
    const { kind, keys, tensors } = leavesOf(batch);
    const owned = tensors.map((t) => tf.slice(t, 0, plan.mainRows));
    if (kind === 'tensor') return { batch: owned[0], owned };
    if (kind === 'array') return { batch: owned.slice(), owned };
    const rec: Record<string, tf.Tensor> = {};
    keys.forEach((k, i) => {
      rec[String(k)] = owned[i]!;
    });
    if (kind === 'batch') return { batch: shardOfBatch(rec, plan.mainRows), owned };
    return { batch: rec, owned };
  }

  /** Waits (without blocking the event loop) until every worker is done with the step. */
  async wait(): Promise<void> {
    if (!this.inFlight) return;
    const { ctrl, L } = this;
    const n = this.opts.workers;
    const deadline = this.stepTimeoutMs === undefined ? Infinity : now() + this.stepTimeoutMs;
    for (;;) {
      const done = Atomics.load(ctrl, DONE);
      if (done >= n) break;
      if (this.failure) throw this.failure;
      if (this.closed) throw new ValueError('Trainer (parallel): the workers were shut down.');
      if (now() > deadline) {
        let k = 0;
        while (k < n - 1 && Atomics.load(ctrl, L.w(k, W_STATUS)) !== STATUS_RUNNING) k++;
        throw new ParallelWorkerError(
          k,
          `did not finish the step within ${this.stepTimeoutMs} ms (parallel.stepTimeoutMs); it is terminated`,
          undefined,
          this.step,
          n,
        );
      }
      if (this.waitAsync) {
        const r = this.waitAsync(ctrl, DONE, done, 200);
        if (r.async) await r.value;
      } else await new Promise((r) => setTimeout(r, 1));
    }
    this.inFlight = false;
    for (let k = 0; k < n; k++) {
      if (ctrl[L.w(k, W_STATUS)] === STATUS_ERROR) {
        const raw = readText(this.textOf(k), ctrl[L.w(k, W_TEXT_LEN)]!);
        let message = raw;
        let stack: string | undefined;
        try {
          const d = JSON.parse(raw) as { message: string; stack?: string };
          message = d.message;
          stack = d.stack;
        } catch {
          // a truncated message: keep the raw text
        }
        throw new ParallelWorkerError(k, message, stack, this.step, n);
      }
    }
  }

  private textOf(k: number): Uint16Array {
    return this.text.subarray(k * TEXT_UNITS, (k + 1) * TEXT_UNITS);
  }

  /** Each shard's weight: its share of the rows ('mean') or 1 ('sum'). Main first. */
  private weight(rows: number, plan: ShardPlan): number {
    return this.opts.reduction === 'sum' ? 1 : rows / plan.total;
  }

  /**
   * The combined gradient of entry `e` (an index into the Trainer's params): the sum of the
   * main shard's gradient and each worker's, all already weighted (each shard's loss is scaled by
   * its weight before differentiation, which costs one scalar multiply instead of one pass over
   * every gradient). Null when no shard has one. Call inside `tf.tidy`.
   */
  combineGrad(e: number, mainGrad: tf.Tensor | undefined, plan: ShardPlan): tf.Tensor | null {
    const parts: tf.Tensor[] = [];
    const shape = this.entries[e]!.shape;
    if (mainGrad && plan.mainRows > 0) parts.push(mainGrad);
    for (let k = 0; k < this.opts.workers; k++) {
      const rows = plan.workerRows[k]!;
      if (rows === 0 || this.ctrl[this.L.gradFlag(k, e)] === GRAD_NONE) continue;
      parts.push(tensorFromShared(this.gradViews[k]![e]!, shape, 'float32'));
    }
    if (parts.length === 0) return null;
    return parts.length === 1 ? parts[0]! : tf.addN(parts);
  }

  /**
   * The workers' weighted loss, and their metrics as weighted sums with their total weights
   * (metrics are weighted by rows whatever the reduction).
   */
  workerScalars(plan: ShardPlan): { loss: number; metrics: Map<string, [number, number]> } {
    const { ctrl, num, L } = this;
    let loss = 0;
    const metrics = new Map<string, [number, number]>();
    for (let k = 0; k < this.opts.workers; k++) {
      const rows = plan.workerRows[k]!;
      if (rows === 0) continue;
      loss += num[L.num(k, NW_LOSS)]!;
      const m = num[L.num(k, NW_METRICS)]!;
      if (m === 0) continue;
      const names = JSON.parse(readText(this.textOf(k), ctrl[L.w(k, W_TEXT_LEN)]!)) as string[];
      names.forEach((name, i) => {
        const acc = metrics.get(name) ?? [0, 0];
        acc[0] += rows * num[L.num(k, NW_METRICS) + 1 + i]!;
        acc[1] += rows;
        metrics.set(name, acc);
      });
    }
    return { loss, metrics };
  }

  /** Whether a worker found a non-finite value in its gradient of entry `e`. */
  workerGradNonFinite(e: number, plan: ShardPlan): boolean {
    for (let k = 0; k < this.opts.workers; k++) {
      if (plan.workerRows[k]! > 0 && this.ctrl[this.L.gradFlag(k, e)] === GRAD_NONFINITE) {
        return true;
      }
    }
    return false;
  }

  /** The weight of the main shard's loss (the Trainer scales the main shard's loss by it). */
  mainWeight(plan: ShardPlan): number {
    return this.weight(plan.mainRows, plan);
  }

  /**
   * Stops the workers: they finish the step they are in, flush their output and exit; any still
   * running after `graceMs` (a loss that never returns, a module that keeps handles open) is
   * terminated. Idempotent.
   */
  async close(graceMs = 1000): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    live.delete(this);
    const exited = this.workers.map(
      (w) =>
        new Promise<void>((resolve) => {
          w.once('exit', () => resolve());
        }),
    );
    Atomics.store(this.ctrl, CMD, CMD_STOP);
    Atomics.add(this.ctrl, GEN, 1);
    Atomics.notify(this.ctrl, GEN);
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([
      Promise.all(exited),
      new Promise<void>((resolve) => {
        timer = setTimeout(resolve, graceMs);
      }),
    ]);
    clearTimeout(timer);
    for (const p of this.ports) p.close();
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}
