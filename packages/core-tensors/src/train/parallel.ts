/**
 * Data parallelism for the Trainer over worker threads (Node). Each worker runs its own tfjs
 * backend and a replica of the model built by a user module; per step the main thread writes
 * the parameters and each worker's rows of the batch into SharedArrayBuffers, the workers (and
 * the main thread, on its own shard) compute the gradients of their shard's loss, meet at an
 * Atomics barrier, and the main thread combines the gradients weighted by shard size and applies
 * its optimizer. All shared buffers are allocated once (the data buffers again only when a
 * larger batch arrives).
 */
import { ValueError } from '../errors.js';
import { Rng } from '../rng.js';
import { tf } from '../tf.js';
import type { ParallelOptions, ShardPlan } from './parallel-options.js';
import { ParallelWorkerError } from './parallel-options.js';
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
  waitAsyncFn,
} from './parallel-protocol.js';
import { type BatchLeaves, leavesOf, mainShardOf, planShards } from './parallel-shards.js';
import {
  type EngineSettings,
  type PortT,
  type StartedWorkers,
  startWorkers,
  type WorkerT,
} from './parallel-start.js';
import type { StepContext } from './types.js';

export type { ParallelOptions, ShardPlan } from './parallel-options.js';
export { ParallelWorkerError } from './parallel-options.js';
export type { Replica, ReplicaContext, ReplicaFactory, ShardInfo } from './types.js';

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
  private readonly opts: EngineSettings;
  private readonly entries: EntrySpec[];
  private readonly vars: tf.Variable[];
  private readonly workers: WorkerT[];
  private readonly ports: PortT[];
  private constructor(started: StartedWorkers) {
    const {
      opts,
      entries,
      vars,
      workers,
      ports,
      shared,
      paramBuf: params,
      gradBufs: grads,
    } = started;
    this.opts = opts;
    this.entries = entries;
    this.vars = vars;
    this.workers = workers;
    this.ports = ports;
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
    const engine = new ParallelEngine(await startWorkers(o, params, buffers));
    live.add(engine);
    return engine;
  }

  /** Checks the batch and splits its rows: even shares, the first shards one row more. */
  plan(batch: unknown): ShardPlan {
    return planShards(batch, this.opts.workers, this.opts.mainShard);
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
    return mainShardOf(batch, plan);
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
