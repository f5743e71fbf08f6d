/**
 * The worker-thread entry of the Trainer's data parallelism (built to `dist/parallel-worker.js`).
 * It initialises its own backend (the main thread's choice), builds the model and loss from the
 * user's module, checks that its parameters match the main thread's, then serves steps: copy the
 * parameters in from shared memory, compute the loss and gradients of its shard of the batch,
 * write them out, signal the barrier. Internal: started by `parallel.ts`, never imported.
 */
import { receiveMessageOnPort, workerData } from 'node:worker_threads';
import type { BackendName } from '../backend.js';
import { initBackend } from '../backend.js';
import { fmtShape } from '../errors.js';
import { markWrittenInPlace } from '../kernels/inplace.js';
import { Rng } from '../rng.js';
import { tf } from '../tf.js';
import {
  CMD,
  CMD_STOP,
  CtrlLayout,
  type DataLayout,
  DONE,
  entryOffsets,
  flatData,
  GEN,
  GRAD_FINITE,
  GRAD_NONE,
  GRAD_NONFINITE,
  hasNonFinite,
  LAYOUT,
  type LayoutMessage,
  MAX_METRICS,
  N_BATCH_INDEX,
  N_BATCH_ROWS,
  N_EPOCH,
  N_STEP,
  NW_LOSS,
  NW_METRICS,
  NW_WEIGHT,
  PROTOCOL_VERSION,
  STATUS_ERROR,
  STATUS_OK,
  sizeOf,
  TEXT_UNITS,
  tensorFromShared,
  viewOf,
  W_ROW_START,
  W_ROWS,
  W_SEED,
  W_STATUS,
  W_TEXT_LEN,
  type WorkerInit,
  type WorkerMessage,
  writeText,
} from './parallel-protocol.js';
import type { LossOutput, ReplicaFactory, StepContext } from './types.js';
import { collectVariables } from './variables.js';

const init = workerData as WorkerInit & { port: import('node:worker_threads').MessagePort };
const port = init.port;

function post(m: WorkerMessage): void {
  port.postMessage(m);
}

function describe(e: unknown): { message: string; stack?: string } {
  if (e instanceof Error) {
    const out: { message: string; stack?: string } = { message: `${e.name}: ${e.message}` };
    if (e.stack) out.stack = e.stack;
    return out;
  }
  return { message: String(e) };
}

type Loss = (batch: unknown, ctx: StepContext) => LossOutput;

/**
 * Copies `src` into the variable's own buffer on the wasm heap: no allocation per step, and the
 * parameters keep their addresses. Only when the buffer is not shared with another tensor
 * (refCount 1; `tf.variable(t)` with `t` still alive shares it); otherwise returns false.
 */
function writeInPlace(v: tf.Variable, src: Float32Array | Int32Array): boolean {
  if (tf.getBackend() !== 'wasm') return false;
  const be = tf.backend() as unknown as {
    refCount?: (dataId: object) => number;
    typedArrayFromHeap?: (t: tf.TensorInfo) => Float32Array | Int32Array | Uint8Array;
  };
  if (typeof be.refCount !== 'function' || typeof be.typedArrayFromHeap !== 'function') {
    return false;
  }
  if (be.refCount(v.dataId) !== 1) return false;
  const dst = be.typedArrayFromHeap(v);
  if (dst.length !== src.length || dst.constructor !== src.constructor) return false;
  (dst as Float32Array).set(src as Float32Array);
  markWrittenInPlace(v.dataId);
  return true;
}

async function setup(): Promise<{ vars: tf.Variable[]; loss: Loss }> {
  if (init.protocol !== PROTOCOL_VERSION) {
    throw new Error(
      `protocol ${init.protocol} from the main thread, ${PROTOCOL_VERSION} in this worker build (dist is stale: rebuild @dgm-js/core-tensors).`,
    );
  }
  await initBackend({ quiet: true, backend: init.backend as BackendName });
  const mod = (await import(init.moduleUrl)) as Record<string, unknown>;
  const factory = mod[init.exportName] as ReplicaFactory<unknown> | undefined;
  if (typeof factory !== 'function') {
    throw new Error(
      `${init.moduleUrl} has no function export '${init.exportName}' (exports: ${Object.keys(mod).join(', ') || 'none'}).`,
    );
  }
  const replica = await factory({
    workerIndex: init.index,
    workers: init.workers,
    options: init.options,
    backend: tf.getBackend(),
  });
  if (!replica || typeof replica !== 'object' || !replica.model) {
    throw new Error(`the factory '${init.exportName}' must return { model, loss }.`);
  }
  const l = replica.loss as unknown;
  let loss: Loss;
  if (typeof l === 'function') loss = l as Loss;
  else if (l && typeof (l as { loss?: unknown }).loss === 'function') {
    const o = l as { loss: Loss };
    loss = (b, c) => o.loss(b, c);
  } else throw new Error(`the factory '${init.exportName}' returned no loss function.`);
  const { params, buffers } = collectVariables(replica.model);
  const own = [
    ...params.map((p) => [...p, true] as const),
    ...buffers.map((b) => [...b, false] as const),
  ];
  const problems: string[] = [];
  if (own.length !== init.entries.length) {
    problems.push(
      `${own.length} parameters and buffers here, ${init.entries.length} on the main thread`,
    );
  }
  init.entries.forEach((e, i) => {
    const o = own[i];
    if (!o) return;
    const [name, v, isParam] = o;
    if (name !== e.name || isParam !== e.param) {
      problems.push(`entry ${i} is '${name}' here, '${e.name}' on the main thread`);
    } else if (v.shape.join() !== e.shape.join() || v.dtype !== e.dtype) {
      problems.push(
        `'${name}' is ${v.dtype} ${fmtShape(v.shape)} here, ${e.dtype} ${fmtShape(e.shape)} on the main thread`,
      );
    }
  });
  if (problems.length) {
    throw new Error(
      `the model built by ${init.moduleUrl} does not match the Trainer's model: ${problems.slice(0, 6).join('; ')}. Build the same model on both sides (e.g. from the same factory).`,
    );
  }
  return { vars: own.map(([, v]) => v), loss };
}

async function serve(vars: tf.Variable[], loss: Loss, firstGen: number): Promise<void> {
  const ctrl = new Int32Array(init.ctrl);
  const num = new Float64Array(init.num);
  const L = new CtrlLayout(init.entries.length, init.workers);
  const k = init.index;
  const text = new Uint16Array(init.text, k * TEXT_UNITS * 2, TEXT_UNITS);
  const { offsets } = entryOffsets(init.entries);
  const paramViews = init.entries.map(
    (e, i) =>
      viewOf(init.params, e.dtype, offsets[i]!, sizeOf(e.shape)) as Float32Array | Int32Array,
  );
  const gradViews = init.entries.map((e, i) =>
    e.param ? (viewOf(init.grads, 'float32', offsets[i]!, sizeOf(e.shape)) as Float32Array) : null,
  );
  let layout: DataLayout | undefined;
  let dataBuffer: SharedArrayBuffer | undefined;

  const takeLayout = (version: number) => {
    // The message was posted before the generation was bumped, so it is already queued.
    for (let tries = 0; tries < 1000; tries++) {
      const r = receiveMessageOnPort(port);
      if (r) {
        const m = r.message as LayoutMessage;
        if (m.type === 'layout' && m.layout.version === version) {
          layout = m.layout;
          dataBuffer = m.buffer;
          return;
        }
        continue;
      }
      Atomics.wait(ctrl, GEN, Atomics.load(ctrl, GEN), 1);
    }
    throw new Error(`data layout ${version} never arrived.`);
  };

  const step = () => {
    const rows = ctrl[L.w(k, W_ROWS)]!;
    if (rows === 0) return;
    const version = Atomics.load(ctrl, LAYOUT);
    if (!layout || layout.version !== version) takeLayout(version);
    const lay = layout!;
    const buf = dataBuffer!;
    const batchTensors: tf.Tensor[] = [];
    try {
      tf.tidy(() => {
        vars.forEach((v, i) => {
          // In place on the wasm heap when the variable owns its buffer; else a fresh tensor.
          if (!writeInPlace(v, paramViews[i]!)) {
            v.assign(tensorFromShared(paramViews[i]!, v.shape, v.dtype as 'float32' | 'int32'));
          }
        });
      });
      for (const leaf of lay.leaves) {
        const n = rows * sizeOf(leaf.rowShape);
        const view = viewOf(buf, leaf.dtype, leaf.byteOffset, n);
        batchTensors.push(tensorFromShared(view, [rows, ...leaf.rowShape], leaf.dtype));
      }
      let batch: unknown;
      if (lay.kind === 'tensor') batch = batchTensors[0];
      else if (lay.kind === 'array') batch = batchTensors.slice();
      else {
        const rec: Record<string, tf.Tensor> = {};
        lay.leaves.forEach((leaf, i) => {
          rec[String(leaf.key)] = batchTensors[i]!;
        });
        // a shard of a batch that owns its tensors, as the main thread's (see shardOfBatch):
        // the tensors are disposed here after the step
        batch = lay.kind === 'batch' ? { tensors: rec, size: rows, dispose: () => undefined } : rec;
      }
      const rngState = ctrl[L.w(k, W_SEED)]! >>> 0;
      const ctx: StepContext = {
        step: num[N_STEP]!,
        epoch: num[N_EPOCH]!,
        batchIndex: num[N_BATCH_INDEX]!,
        rng: Rng.fromState(rngState),
        shard: {
          index: init.mainShard ? k + 1 : k,
          count: init.workers + (init.mainShard ? 1 : 0),
          offset: ctrl[L.w(k, W_ROW_START)]!,
          rows,
          batchRows: num[N_BATCH_ROWS]!,
        },
      };
      const weight = num[L.num(k, NW_WEIGHT)]!;
      const trainable = vars
        .map((v, i) => [v, i] as const)
        .filter(([, i]) => init.entries[i]!.param && ctrl[L.mask(i)] === 1);
      tf.tidy(() => {
        const metricNames: string[] = [];
        const metricNumbers: (number | null)[] = [];
        const metricTensors: tf.Tensor[] = [];
        let failure: { e: unknown } | undefined;
        let out: { value: tf.Scalar; grads: tf.NamedTensorMap } | undefined;
        try {
          out = tf.variableGrads(
            () => {
              try {
                const r = loss(batch, ctx);
                if (!r || !(r.loss instanceof tf.Tensor) || r.loss.size !== 1) {
                  throw new Error(
                    `the loss must return { loss: scalar tensor, metrics? }, got ${r && r.loss instanceof tf.Tensor ? `loss of shape ${fmtShape(r.loss.shape)}` : typeof r}.`,
                  );
                }
                for (const [name, m] of Object.entries(r.metrics ?? {})) {
                  if (typeof m === 'number') {
                    metricNames.push(name);
                    metricNumbers.push(m);
                  } else if (m instanceof tf.Tensor && m.size === 1) {
                    metricNames.push(name);
                    metricNumbers.push(null);
                    metricTensors.push(tf.keep(tf.cast(tf.reshape(m, [1]), 'float32')));
                  } else
                    throw new Error(`metric '${name}' must be a number or a one-element tensor.`);
                }
                // weighted here, so the gradient comes out weighted
                return tf.mul(tf.reshape(r.loss, []), weight) as tf.Scalar;
              } catch (e) {
                failure = { e };
                return tf.scalar(0);
              }
            },
            trainable.map(([v]) => v),
          );
        } catch (e) {
          // When the loss threw, tfjs sees a constant and complains: report the loss's error.
          if (!failure) throw e;
        }
        if (failure || !out) {
          if (out) tf.dispose([out.value, ...Object.values(out.grads)]);
          tf.dispose(metricTensors);
          throw failure?.e;
        }
        const { value, grads } = out;
        if (metricNames.length > MAX_METRICS) {
          throw new Error(`at most ${MAX_METRICS} metrics, got ${metricNames.length}.`);
        }
        // One read-back: the loss and the tensor metrics.
        const packed = tf.concat([tf.reshape(tf.cast(value, 'float32'), [1]), ...metricTensors]);
        tf.dispose(metricTensors);
        const vals = packed.dataSync();
        num[L.num(k, NW_LOSS)] = vals[0]!;
        let t = 1;
        metricNames.forEach((_, i) => {
          num[L.num(k, NW_METRICS) + 1 + i] = metricNumbers[i] ?? vals[t++]!;
        });
        num[L.num(k, NW_METRICS)] = metricNames.length;
        ctrl[L.w(k, W_TEXT_LEN)] = metricNames.length
          ? writeText(text, JSON.stringify(metricNames))
          : 0;
        for (let i = 0; i < vars.length; i++) ctrl[L.gradFlag(k, i)] = GRAD_NONE;
        for (const [v, i] of trainable) {
          const g = grads[v.name];
          if (!g) continue;
          const view = gradViews[i]!;
          view.set(flatData(g) as Float32Array);
          // the finiteness probe, here in parallel rather than on the main thread
          ctrl[L.gradFlag(k, i)] = hasNonFinite(view) ? GRAD_NONFINITE : GRAD_FINITE;
        }
      });
    } finally {
      tf.dispose(batchTensors);
    }
  };

  let gen = firstGen;
  for (;;) {
    Atomics.wait(ctrl, GEN, gen);
    gen = Atomics.load(ctrl, GEN);
    if (Atomics.load(ctrl, CMD) === CMD_STOP) break;
    try {
      step();
      ctrl[L.w(k, W_STATUS)] = STATUS_OK;
    } catch (e) {
      ctrl[L.w(k, W_TEXT_LEN)] = writeText(text, JSON.stringify(describe(e)));
      ctrl[L.w(k, W_STATUS)] = STATUS_ERROR;
    }
    Atomics.add(ctrl, DONE, 1);
    Atomics.notify(ctrl, DONE);
    // Let the event loop turn between steps (after releasing the barrier): a worker's stdout
    // and stderr (console.log in a loss) only flush there, as do any other callbacks.
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
  port.close();
}

// A failure while starting is thrown: the main thread gets it as the worker's 'error' event,
// which Node emits before 'exit'.
const { vars, loss } = await setup();
// Read the generation before saying 'ready': the main thread may start the first step at once.
const firstGen = Atomics.load(new Int32Array(init.ctrl), GEN);
post({ type: 'ready', backend: tf.getBackend() });
await serve(vars, loss, firstGen);
