/**
 * Losses as single kernels where a backend has them. {@link sigmoidCrossEntropyWithLogits} is the
 * Bernoulli negative log-likelihood with logits: with the native kernels on wasm, its forward
 * (with the reduction) and its gradient are one pass each; elsewhere it is the stable composite
 * `softplus(l) - x l`, differentiated by tfjs.
 */
import { fmtShape, ShapeError, ValueError } from './errors.js';
import { softplus } from './numerics.js';
import { tf } from './tf.js';

/** How a loss is reduced over its elements. */
export type Reduction = 'none' | 'sum' | 'mean';

/** The fused kernel (registered on wasm by the native kernels) and its logits gradient. */
export const SIGMOID_XENT = 'DgmSigmoidXent';
export const SIGMOID_XENT_GRAD = 'DgmSigmoidXentGrad';

function reductionScale(reduction: Reduction, size: number): number {
  return reduction === 'mean' ? 1 / Math.max(size, 1) : 1;
}

function hasKernel(name: string): boolean {
  return tf.getKernel(name, tf.getBackend()) !== undefined;
}

function composite(labels: tf.Tensor, logits: tf.Tensor, reduction: Reduction): tf.Tensor {
  return tf.tidy(() => {
    const x = labels.dtype === logits.dtype ? labels : tf.cast(labels, logits.dtype);
    const loss = tf.sub(softplus(logits), tf.mul(x, logits));
    return reduction === 'none' ? loss : reduction === 'sum' ? tf.sum(loss) : tf.mean(loss);
  });
}

let gradientRegistered = false;

function registerGradient(): void {
  if (gradientRegistered) return;
  gradientRegistered = true;
  tf.registerGradient({
    kernelName: SIGMOID_XENT,
    inputsToSave: ['labels', 'logits'],
    gradFunc: (dy, saved, attrs) => {
      const [labels, logits] = saved as [tf.Tensor, tf.Tensor];
      const reduction = (attrs as { reduction: Reduction }).reduction;
      const scale = reductionScale(reduction, logits.size);
      const g = dy as tf.Tensor;
      return {
        logits: () =>
          hasKernel(SIGMOID_XENT_GRAD)
            ? (tf.engine().runKernel(SIGMOID_XENT_GRAD, { dy: g, labels, logits }, {
                reduction,
              } as unknown as tf.NamedAttrMap) as tf.Tensor)
            : tf.mul(tf.mul(g, scale), tf.sub(tf.sigmoid(logits), labels)),
        labels: () => tf.mul(tf.mul(g, -scale), logits),
      };
    },
  });
  // The gradient kernel's own gradient (second order: RELAX / REBAR and gradient penalties
  // differentiate through it). out = scale * dy * (sigmoid(logits) - labels).
  tf.registerGradient({
    kernelName: SIGMOID_XENT_GRAD,
    inputsToSave: ['dy', 'labels', 'logits'],
    gradFunc: (h, saved, attrs) => {
      const [dy, labels, logits] = saved as [tf.Tensor, tf.Tensor, tf.Tensor];
      const reduction = (attrs as { reduction: Reduction }).reduction;
      const scale = reductionScale(reduction, logits.size);
      const hh = h as tf.Tensor;
      const p = () => tf.sigmoid(logits);
      const w = () => tf.mul(hh, tf.mul(dy, scale));
      return {
        dy: () => {
          const t = tf.mul(tf.mul(hh, scale), tf.sub(p(), labels));
          return reduction === 'none' ? t : tf.sum(t);
        },
        logits: () => {
          const q = p();
          return tf.mul(w(), tf.mul(q, tf.sub(1, q)));
        },
        labels: () => tf.neg(w()),
      };
    },
  });
}

/**
 * `softplus(logits) - labels * logits`, elementwise or summed / averaged: the negative Bernoulli
 * log-likelihood of `labels` in [0, 1] (PyTorch's `binary_cross_entropy_with_logits`), finite for
 * logits of any size. On wasm with `@dgm-js/kernels-native` the forward (with its reduction) and
 * the logits gradient are one fused pass each; shapes must then be equal (other cases broadcast
 * through the composite). Gradients flow to both arguments.
 *
 * @example
 * ```ts
 * import { sigmoidCrossEntropyWithLogits, tf } from '@dgm-js/core-tensors';
 * const x = tf.tensor2d([[0, 1], [1, 1]]);
 * const logits = tf.tensor2d([[-2, 3], [0.5, 0]]);
 * sigmoidCrossEntropyWithLogits(x, logits, 'mean').print();
 * ```
 */
export function sigmoidCrossEntropyWithLogits(
  labels: tf.Tensor,
  logits: tf.Tensor,
  reduction: Reduction = 'none',
): tf.Tensor {
  if (reduction !== 'none' && reduction !== 'sum' && reduction !== 'mean') {
    throw new ValueError(
      `sigmoidCrossEntropyWithLogits: reduction must be 'none', 'sum' or 'mean', got ${JSON.stringify(reduction)}.`,
    );
  }
  const same =
    labels.shape.length === logits.shape.length &&
    labels.shape.every((d, i) => d === logits.shape[i]);
  if (!same) {
    try {
      tf.broadcast_util.assertAndGetBroadcastShape(labels.shape, logits.shape);
    } catch {
      throw new ShapeError(
        `sigmoidCrossEntropyWithLogits: labels ${fmtShape(labels.shape)} and logits ${fmtShape(logits.shape)} do not broadcast.`,
      );
    }
  }
  if (same && labels.dtype === 'float32' && logits.dtype === 'float32' && hasKernel(SIGMOID_XENT)) {
    registerGradient();
    return tf.engine().runKernel(SIGMOID_XENT, { labels, logits }, {
      reduction,
    } as unknown as tf.NamedAttrMap) as tf.Tensor;
  }
  return composite(labels, logits, reduction);
}
