/**
 * The fused Bernoulli cross-entropy kernels of `sigmoidCrossEntropyWithLogits` (losses.ts) on
 * the wasm backend: one native pass for the loss (with its sum / mean) and one for its gradient
 * with respect to the logits. Registered by native.ts only while the native kernels are loaded
 * (these kernels exist nowhere else; the op uses its composite when they are absent).
 */
import { BackendError } from '../errors.js';
import { SIGMOID_XENT, SIGMOID_XENT_GRAD } from '../losses.js';
import type { tf } from '../tf.js';
import type { NativeContext } from './native-types.js';
import { size } from './shape.js';

type TensorInfo = tf.TensorInfo;

interface LossAddon {
  bce(l: Float32Array, x: Float32Array, y: Float32Array | null): number;
  bceGrad(
    l: Float32Array,
    x: Float32Array,
    g: Float32Array | null,
    gScalar: number,
    out: Float32Array,
  ): void;
}

/** The addon functions each kernel needs (a stale addon without them gets no kernel). */
export const NATIVE_LOSS_NEEDS: Record<string, string> = {
  [SIGMOID_XENT]: 'bce',
  [SIGMOID_XENT_GRAD]: 'bceGrad',
};

/** The fused loss kernels served natively. */
export function nativeLossKernels(c: NativeContext): Record<string, tf.KernelFunc> {
  const addon = (name: string): LossAddon => {
    const a = c.addon() as Partial<LossAddon> | null;
    if (!a || typeof a.bce !== 'function' || typeof a.bceGrad !== 'function') {
      throw new BackendError(`${name}: the native kernels are not loaded.`);
    }
    return a as LossAddon;
  };
  const forward: tf.KernelFunc = (args) => {
    const { inputs, backend, attrs = {} } = args;
    const k = addon(SIGMOID_XENT);
    const labels = inputs.labels as TensorInfo;
    const logits = inputs.logits as TensorInfo;
    if (!c.usable(backend)) throw new BackendError(`${SIGMOID_XENT}: not on the wasm backend.`);
    const reduction = attrs.reduction as string;
    const n = size(logits.shape);
    if (reduction === 'none') {
      const out = backend.makeOutput(logits.shape.slice(), 'float32');
      if (n > 0) k.bce(c.heap(backend, logits), c.heap(backend, labels), c.heap(backend, out));
      return out;
    }
    const out = backend.makeOutput([], 'float32');
    const total = n > 0 ? k.bce(c.heap(backend, logits), c.heap(backend, labels), null) : 0;
    c.heap(backend, out)[0] = reduction === 'mean' ? (n > 0 ? total / n : Number.NaN) : total;
    return out;
  };
  const gradient: tf.KernelFunc = (args) => {
    const { inputs, backend, attrs = {} } = args;
    const k = addon(SIGMOID_XENT_GRAD);
    const dy = inputs.dy as TensorInfo;
    const labels = inputs.labels as TensorInfo;
    const logits = inputs.logits as TensorInfo;
    if (!c.usable(backend))
      throw new BackendError(`${SIGMOID_XENT_GRAD}: not on the wasm backend.`);
    const reduction = attrs.reduction as string;
    const n = size(logits.shape);
    const out = backend.makeOutput(logits.shape.slice(), 'float32');
    if (n === 0) return out;
    if (reduction === 'none') {
      k.bceGrad(
        c.heap(backend, logits),
        c.heap(backend, labels),
        c.heap(backend, dy),
        0,
        c.heap(backend, out),
      );
    } else {
      const g = (c.heap(backend, dy)[0] as number) * (reduction === 'mean' ? 1 / n : 1);
      k.bceGrad(c.heap(backend, logits), c.heap(backend, labels), null, g, c.heap(backend, out));
    }
    return out;
  };
  return { [SIGMOID_XENT]: forward, [SIGMOID_XENT_GRAD]: gradient };
}
