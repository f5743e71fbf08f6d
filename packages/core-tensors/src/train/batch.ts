/**
 * What the Trainer does with a batch besides handing it to the objective: count its examples,
 * and dispose it after its step when it owns its tensors (a {@link TensorBatch}, e.g. from
 * `@dgm-js/datasets`' `batches(...)`).
 */
import { tf } from '../tf.js';
import type { TensorBatch } from './types.js';

/** Whether `b` is a batch that owns its tensors ({@link TensorBatch}'s shape; not a tensor). */
export function isTensorBatch(b: unknown): b is TensorBatch {
  if (!b || typeof b !== 'object' || b instanceof tf.Tensor || Array.isArray(b)) return false;
  const o = b as Partial<TensorBatch>;
  return (
    typeof o.dispose === 'function' &&
    typeof o.size === 'number' &&
    !!o.tensors &&
    typeof o.tensors === 'object' &&
    Object.values(o.tensors).every((t) => t instanceof tf.Tensor)
  );
}

/** Examples in a batch: `size` of a TensorBatch, else the first axis of the first tensor. */
export function batchRows(b: unknown): number | undefined {
  if (isTensorBatch(b)) return b.size;
  const first = (t: unknown) => (t instanceof tf.Tensor && t.rank > 0 ? t.shape[0] : undefined);
  if (b instanceof tf.Tensor) return first(b);
  const vals = Array.isArray(b) ? b : b && typeof b === 'object' ? Object.values(b) : [];
  for (const v of vals) {
    const n = first(v);
    if (n !== undefined) return n;
  }
  return undefined;
}

/** Disposes every tensor in a value (nested arrays and records). */
export function disposeTensors(x: unknown): void {
  if (x instanceof tf.Tensor) x.dispose();
  else if (Array.isArray(x)) x.forEach(disposeTensors);
  else if (x && typeof x === 'object') Object.values(x).forEach(disposeTensors);
}

/**
 * Disposes a used batch: `disposeBatch: true` disposes every tensor in it (its own `dispose()`
 * for a TensorBatch); by default ('auto') only TensorBatches are, and only when the data source
 * is not an array (an array's batches are re-used every epoch).
 */
export function releaseBatch(
  batch: unknown,
  mode: boolean | undefined,
  sourceIsArray: boolean,
): void {
  if (mode === false) return;
  const owned = isTensorBatch(batch);
  if (mode === true) {
    if (owned) batch.dispose();
    else disposeTensors(batch);
  } else if (owned && !sourceIsArray) batch.dispose();
}
