/**
 * Class labels of conditional generators and critics (internal): validation and one-hot coding.
 */
import { fmtShape, ShapeError, tf, ValueError } from '@dgm-js/core-tensors';

type Tensor = tf.Tensor;

/**
 * Checks `labels` against a batch of `n` and `numClasses` (when conditional) and returns them as
 * an int32 `[n]` tensor the caller owns (undefined when unconditional). Reads the labels back
 * once to check their range: an out-of-range label would silently one-hot to zeros.
 */
export function checkLabels(
  labels: Tensor | readonly number[] | undefined,
  n: number,
  numClasses: number | undefined,
  who: string,
): Tensor | undefined {
  if (numClasses === undefined) {
    if (labels !== undefined) {
      throw new ValueError(
        `${who}: labels were given, but the model is unconditional (build it with numClasses for a conditional one).`,
      );
    }
    return undefined;
  }
  if (labels === undefined) {
    throw new ValueError(
      `${who}: the model is conditional (numClasses ${numClasses}); pass labels [${n}] of integers in [0, ${numClasses}).`,
    );
  }
  const t = labels instanceof tf.Tensor ? labels : tf.tensor1d(labels as number[], 'float32');
  try {
    if (t.rank !== 1 || t.shape[0] !== n) {
      throw new ShapeError(
        `${who}: labels must have shape [${n}] (one per example), got ${fmtShape(t.shape)}.`,
      );
    }
    const v = t.dataSync();
    for (let i = 0; i < v.length; i++) {
      const y = v[i]!;
      if (!(Number.isInteger(y) && y >= 0 && y < numClasses)) {
        throw new ValueError(
          `${who}: labels must be integers in [0, ${numClasses}), got ${y} at index ${i}.`,
        );
      }
    }
    return tf.cast(t, 'int32');
  } finally {
    if (t !== labels) t.dispose();
  }
}

/**
 * One-hot float32 `[n, numClasses]` of int32 labels. tf.oneHot with dtype 'float32' gives all
 * zeros on the wasm backend of tfjs 4.22, so the int32 one-hot is cast (as core-tensors'
 * categorical distribution does).
 */
export function oneHot(labels: Tensor, numClasses: number): Tensor {
  return tf.tidy(() => tf.cast(tf.oneHot(labels as tf.Tensor1D, numClasses), 'float32'));
}
