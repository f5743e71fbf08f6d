/**
 * sigmoid, tanh, exp and softmax with correct second-order gradients in tfjs.
 *
 * tfjs 4.22 records the clone of a kernel's saved *output* before the kernel's own tape node,
 * so a second derivative that has to flow through the saved output (the first derivative of
 * sigmoid, tanh, exp, softmax, ... is written in terms of the output) is silently dropped:
 * d/dl d/dx sigmoid(x / l) comes out wrong. Ops that save their *inputs* are differentiated
 * correctly twice. These versions save their input and recompute the output in the gradient,
 * so REBAR / RELAX can differentiate their estimator with respect to the control-variate
 * parameters (temperature, network weights).
 */
import { customGrad, tf } from '@dgm-js/core-tensors';

type Tensor = tf.Tensor;

const sigmoidOp = customGrad<[Tensor]>((x, save) => {
  save([x]);
  return {
    value: tf.sigmoid(x),
    gradFunc: (dy, [xs]) => {
      const s = tf.sigmoid(xs!);
      return tf.mul(dy, tf.mul(s, tf.sub(1, s)));
    },
  };
});

const tanhOp = customGrad<[Tensor]>((x, save) => {
  save([x]);
  return {
    value: tf.tanh(x),
    gradFunc: (dy, [xs]) => tf.mul(dy, tf.sub(1, tf.square(tf.tanh(xs!)))),
  };
});

const expOp = customGrad<[Tensor]>((x, save) => {
  save([x]);
  return { value: tf.exp(x), gradFunc: (dy, [xs]) => tf.mul(dy, tf.exp(xs!)) };
});

const softmaxOp = customGrad<[Tensor]>((x, save) => {
  save([x]);
  return {
    value: tf.softmax(x),
    gradFunc: (dy, [xs]) => {
      const s = tf.softmax(xs!);
      return tf.mul(s, tf.sub(dy, tf.sum(tf.mul(dy, s), -1, true)));
    },
  };
});

/** Logistic sigmoid, twice differentiable in tfjs. */
export function sigmoid2(x: Tensor): Tensor {
  return sigmoidOp(x);
}

/** tanh, twice differentiable in tfjs. */
export function tanh2(x: Tensor): Tensor {
  return tanhOp(x);
}

/** exp, twice differentiable in tfjs. */
export function exp2(x: Tensor): Tensor {
  return expOp(x);
}

/** softmax along the last axis, twice differentiable in tfjs. */
export function softmax2(x: Tensor): Tensor {
  return softmaxOp(x);
}
