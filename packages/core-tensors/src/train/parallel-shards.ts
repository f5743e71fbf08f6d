/**
 * How the Trainer's data parallelism splits a batch: its tensors (the leaves) checked to share
 * the first axis, the rows planned over the shards, and the main thread's shard sliced out.
 */
import { ValueError } from '../errors.js';
import { tf } from '../tf.js';
import { isTensorBatch } from './batch.js';
import type { ShardPlan } from './parallel-options.js';
import type { TensorBatch } from './types.js';

/** A batch's tensors in order, with how to rebuild its structure. */
export interface BatchLeaves {
  kind: 'tensor' | 'array' | 'record' | 'batch';
  keys: (string | number | null)[];
  tensors: tf.Tensor[];
}

/** Checks a parallel batch and returns its tensors (the leaves), which share the first axis. */
export function leavesOf(batch: unknown): BatchLeaves {
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

/**
 * Checks the batch and splits its rows over `workers` shards (plus the main thread's first when
 * `mainShard`): even shares, the first shards one row more.
 */
export function planShards(batch: unknown, workers: number, mainShard: boolean): ShardPlan {
  const { tensors } = leavesOf(batch);
  const total = tensors[0]!.shape[0]!;
  const shards = workers + (mainShard ? 1 : 0);
  const base = Math.floor(total / shards);
  const extra = total % shards;
  const rows = Array.from({ length: shards }, (_, s) => base + (s < extra ? 1 : 0));
  const mainRows = mainShard ? rows.shift()! : 0;
  const workerStart: number[] = [];
  let start = mainRows;
  for (const r of rows) {
    workerStart.push(start);
    start += r;
  }
  return { total, mainRows, workerStart, workerRows: rows };
}

/**
 * The main thread's rows of the batch, same structure (slices along axis 0); `owned` are the
 * slices to dispose after the step.
 */
export function mainShardOf(
  batch: unknown,
  plan: ShardPlan,
): { batch: unknown; owned: tf.Tensor[] } {
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
