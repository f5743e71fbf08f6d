/**
 * One training step: the objective under the gradient tape, the finiteness probe (loss, metrics,
 * gradients; one read-back), and the update when everything is finite. Also the data-parallel
 * step, and the scan that checks variables for NaN/Inf after an update.
 */
import { fmtShape, ShapeError, ValueError } from '../errors.js';
import { tf } from '../tf.js';
import type { ParallelEngine } from './parallel.js';
import { flatData, hasNonFinite } from './parallel-protocol.js';
import type { Objective, StepContext } from './types.js';
import { listNames, type NamedTensor } from './variables.js';

/** What one step did. */
export interface StepOutcome {
  loss: number;
  metrics: Record<string, number>;
  badGradients: string[];
  badMetrics: string[];
  applied: boolean;
}

/** What a step needs: the loss function, the named parameters and the optimizer. */
export interface StepSetup<B> {
  readonly lossFn: Objective<B>['loss'];
  readonly params: readonly (readonly [string, tf.Variable])[];
  readonly optimizer: tf.Optimizer;
}

/** Whether finiteness is checked in JS over the tensors' data (a view of the heap, no copy). */
function jsProbe(): boolean {
  return tf.getBackend() === 'wasm' || tf.getBackend() === 'cpu';
}

/**
 * The names of the tensors holding a NaN or an infinity. On wasm and cpu a JS scan over their
 * data (a view of the heap: no copy); elsewhere `sum(0 * x)` per tensor with one read-back.
 *
 * @example
 * ```ts
 * nonFiniteNames([['w', tf.tensor([1, NaN])], ['b', tf.zeros([2])]]); // ['w']
 * ```
 */
export function nonFiniteNames(named: readonly (readonly [string, tf.Tensor])[]): string[] {
  const floats = named.filter(([, t]) => t.dtype === 'float32' && t.size > 0);
  if (floats.length === 0) return [];
  if (jsProbe()) return floats.filter(([, t]) => hasNonFinite(flatData(t))).map(([n]) => n);
  const vals = tf.tidy(() => tf.stack(floats.map(([, t]) => tf.sum(tf.mul(t, 0)))).dataSync());
  return floats.filter((_, i) => Number.isNaN(vals[i]!)).map(([n]) => n);
}

function trainableOf(params: StepSetup<unknown>['params']): (readonly [string, tf.Variable])[] {
  const trainable = params.filter(([, v]) => v.trainable);
  if (trainable.length === 0) {
    throw new ValueError(
      'Trainer: no trainable parameters (all are frozen); unfreeze some with setTrainable(true).',
    );
  }
  return trainable;
}

/** Applies the gradients: every parameter in a fixed order (null when frozen or unused). */
function applyGradients(
  s: StepSetup<unknown>,
  gradOf: (v: tf.Variable, index: number) => tf.Tensor | null,
): void {
  // tfjs optimizers index their slots by position, so the order must never change.
  const list = s.params.map(([, v], e) => ({ name: v.name, tensor: gradOf(v, e) }));
  s.optimizer.applyGradients(list as unknown as NamedTensor[]);
}

/** Metrics: the tensor ones packed for one read-back, the number ones as they are. */
interface MetricSink {
  numbers: Record<string, number>;
  tensorNames: string[];
  packed?: tf.Tensor;
}

/** Calls the objective and validates what it returns (inside the gradient tape). */
function runObjective<B>(
  lossFn: Objective<B>['loss'],
  batch: B,
  ctx: StepContext,
  sink: MetricSink,
): tf.Scalar {
  const r = lossFn(batch, ctx);
  if (!r || !(r.loss instanceof tf.Tensor)) {
    throw new ValueError(
      'Trainer: the objective must return { loss: tf.Scalar, metrics? }; got something else.',
    );
  }
  if (r.loss.size !== 1) {
    throw new ShapeError(
      `Trainer: the objective's loss must be a scalar, got shape ${fmtShape(r.loss.shape)}; reduce it (e.g. tf.mean) first.`,
    );
  }
  const ts: tf.Tensor[] = [];
  for (const [k, v] of Object.entries(r.metrics ?? {})) {
    if (typeof v === 'number') sink.numbers[k] = v;
    else if (v instanceof tf.Tensor && v.size === 1) {
      sink.tensorNames.push(k);
      ts.push(tf.cast(tf.reshape(v, []), 'float32'));
    } else {
      throw new ValueError(
        `Trainer: metric '${k}' must be a number or a one-element tensor, got ${v instanceof tf.Tensor ? `shape ${fmtShape(v.shape)}` : typeof v}.`,
      );
    }
  }
  if (ts.length) sink.packed = tf.keep(tf.stack(ts));
  return (r.loss.rank === 0 ? r.loss : tf.reshape(r.loss, [])) as tf.Scalar;
}

/** The objective's loss and its gradients (call inside tf.tidy). */
function tapeGradients<B>(
  lossFn: Objective<B>['loss'],
  batch: B,
  ctx: StepContext,
  trainable: readonly (readonly [string, tf.Variable])[],
  sink: MetricSink,
  scale?: number,
): { value: tf.Scalar; grads: tf.NamedTensorMap } {
  let out: { value: tf.Scalar; grads: tf.NamedTensorMap };
  // An exception inside the taped function would strand the tensors the tape saved for
  // the backward pass (tfjs frees them only in the backward pass). So errors are caught,
  // a constant is returned (tfjs then frees the tape), and the error is rethrown below.
  let objectiveError: { e: unknown } | undefined;
  try {
    out = tf.variableGrads(
      () => {
        try {
          const l = runObjective(lossFn, batch, ctx, sink);
          return scale === undefined ? l : (tf.mul(l, scale) as tf.Scalar);
        } catch (e) {
          objectiveError = { e };
          return tf.scalar(0);
        }
      },
      trainable.map(([, v]) => v),
    );
  } catch (e) {
    if (objectiveError) throw objectiveError.e;
    if (e instanceof Error && /Cannot find a connection/.test(e.message)) {
      throw new ValueError(
        `Trainer: the loss does not depend on any trainable parameter (${listNames(
          trainable.map(([n]) => n),
          4,
        )}); does the objective use the model passed to the Trainer?`,
      );
    }
    throw e;
  }
  if (objectiveError) {
    tf.dispose([out.value, ...Object.values(out.grads)]);
    throw objectiveError.e;
  }
  return out;
}

/** One step: forward + backward under the tape, the finiteness probe, then apply. */
export function computeStep<B>(s: StepSetup<B>, batch: B, ctx: StepContext): StepOutcome {
  const trainable = trainableOf(s.params);
  const sink: MetricSink = { numbers: {}, tensorNames: [] };
  try {
    return tf.tidy(() => {
      const { value, grads } = tapeGradients(s.lossFn, batch, ctx, trainable, sink);
      const probes: tf.Tensor[] = [tf.reshape(tf.cast(value, 'float32'), [1])];
      if (sink.packed) probes.push(sink.packed);
      // On wasm and cpu the gradients' finiteness is checked in JS over their data (a view of
      // the heap, no copy): ~4x cheaper than two tfjs passes per gradient. Elsewhere (tfjs-node)
      // 0 * g summed on the device is 0 when every entry is finite and NaN otherwise.
      const js = jsProbe();
      const gradNames: string[] = [];
      const gradTensors: tf.Tensor[] = [];
      for (const [n, v] of trainable) {
        const g = grads[v.name];
        if (!g) continue;
        gradNames.push(n);
        gradTensors.push(g);
        if (!js) probes.push(tf.reshape(tf.sum(tf.mul(g, 0)), [1]));
      }
      const vals = tf.concat(probes).dataSync();
      const loss = vals[0]!;
      const metrics: Record<string, number> = {};
      sink.tensorNames.forEach((k, i) => {
        metrics[k] = vals[1 + i]!;
      });
      Object.assign(metrics, sink.numbers);
      const badMetrics = Object.keys(metrics).filter((k) => !Number.isFinite(metrics[k]!));
      const off = 1 + sink.tensorNames.length;
      const badGradients = gradNames.filter((_, i) =>
        js ? hasNonFinite(flatData(gradTensors[i]!)) : Number.isNaN(vals[off + i]!),
      );
      const applied = Number.isFinite(loss) && badGradients.length === 0;
      if (applied) applyGradients(s as StepSetup<unknown>, (v) => grads[v.name] ?? null);
      return { loss, metrics, badGradients, badMetrics, applied };
    });
  } finally {
    sink.packed?.dispose();
  }
}

/**
 * One data-parallel step: the workers start on their rows; the main thread meanwhile computes
 * its own shard's weighted loss, gradients and their finiteness probes (one read-back); after
 * the barrier the shards' gradients are summed (each came out weighted by its rows) and, when
 * the loss and every shard's gradients are finite, applied by the main thread's optimizer.
 */
export async function computeParallelStep<B>(
  s: StepSetup<B>,
  batch: B,
  ctx: StepContext,
  engine: ParallelEngine,
): Promise<StepOutcome> {
  const trainable = trainableOf(s.params);
  const plan = engine.plan(batch);
  engine.dispatch(batch, plan, ctx);
  const sink: MetricSink = { numbers: {}, tensorNames: [] };
  let main: { value: tf.Scalar; grads: tf.NamedTensorMap } | undefined;
  let mainLoss = 0;
  const mainMetrics: Record<string, number> = {};
  const mainBad = new Set<string>();
  try {
    if (plan.mainRows > 0) {
      const shard = engine.mainShard(batch, plan);
      try {
        const shardCtx: StepContext = {
          ...ctx,
          shard: {
            index: 0,
            count: plan.workerRows.length + 1,
            offset: 0,
            rows: plan.mainRows,
            batchRows: plan.total,
          },
        };
        // the main shard's weight: its loss value and gradients come out weighted
        const w = engine.mainWeight(plan);
        main = tf.tidy(() =>
          tapeGradients(s.lossFn, shard.batch as B, shardCtx, trainable, sink, w),
        );
      } finally {
        tf.dispose(shard.owned);
      }
      const m = main;
      const packed = sink.packed;
      const vals = tf.tidy(() =>
        tf
          .concat([tf.reshape(tf.cast(m.value, 'float32'), [1]), ...(packed ? [packed] : [])])
          .dataSync(),
      );
      mainLoss = vals[0]!;
      sink.tensorNames.forEach((k, i) => {
        mainMetrics[k] = vals[1 + i]!;
      });
      Object.assign(mainMetrics, sink.numbers);
      // The finiteness probe of the main shard's gradients, in JS over their data (a view
      // of the wasm heap: no copy); the workers probe theirs.
      for (const [n, v] of trainable) {
        const g = m.grads[v.name];
        if (g && hasNonFinite(flatData(g))) mainBad.add(n);
      }
    }
    await engine.wait();
    const workers = engine.workerScalars(plan);
    const loss = workers.loss + mainLoss;
    // Metrics: the main shard's and the workers', weighted by rows.
    const sums = workers.metrics;
    for (const [k, v] of Object.entries(mainMetrics)) {
      const acc = sums.get(k) ?? [0, 0];
      acc[0] += plan.mainRows * v;
      acc[1] += plan.mainRows;
      sums.set(k, acc);
    }
    const metrics: Record<string, number> = {};
    const badMetrics: string[] = [];
    for (const [k, [sum, w]] of sums) {
      metrics[k] = w > 0 ? sum / w : Number.NaN;
      if (!Number.isFinite(metrics[k]!)) badMetrics.push(k);
    }
    const badGradients = s.params
      .filter(([n, v], e) => v.trainable && (mainBad.has(n) || engine.workerGradNonFinite(e, plan)))
      .map(([n]) => n);
    const applied = Number.isFinite(loss) && badGradients.length === 0;
    if (applied) {
      tf.tidy(() =>
        applyGradients(s as StepSetup<unknown>, (v, e) =>
          v.trainable ? engine.combineGrad(e, main?.grads[v.name], plan) : null,
        ),
      );
    }
    return { loss, metrics, badGradients, badMetrics, applied };
  } finally {
    sink.packed?.dispose();
    if (main) tf.dispose([main.value, ...Object.values(main.grads)]);
  }
}
