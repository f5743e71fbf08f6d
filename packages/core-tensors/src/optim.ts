/**
 * Optimizers. {@link Adam} is tf.train.adam with one difference: on the wasm backend with the
 * native kernels, each variable's update (moments, bias correction, parameter) runs as one
 * native pass in place instead of about a dozen tfjs kernels, each allocating a full-size
 * tensor. State, names and checkpoints are the same as tfjs's AdamOptimizer (class name 'Adam').
 */
import { ValueError } from './errors.js';
import { nativeAdamUpdate } from './kernels/native-ops.js';
import { tf } from './tf.js';

/** tfjs's named tensor (not exported by tfjs-core's public types). */
interface NamedTensor {
  name: string;
  tensor: tf.Tensor;
}

/** tfjs's optimizer slot (not exported by tfjs-core's public types). */
interface OptimizerVariable {
  originalName: string;
  variable: tf.Variable;
}

/** The fields of tfjs's AdamOptimizer that the update reads (protected there). */
interface AdamFields {
  learningRate: number;
  beta1: number;
  beta2: number;
  epsilon: number;
  accBeta1: tf.Variable;
  accBeta2: tf.Variable;
  accumulatedFirstMoment: OptimizerVariable[];
  accumulatedSecondMoment: OptimizerVariable[];
  incrementIterations(): void;
}

function scalarValue(v: tf.Variable): number {
  return (v.dataSync() as Float32Array)[0] as number;
}

/**
 * Adam (Kingma & Ba, 2015), a drop-in replacement for `tf.train.adam` that uses dgm.js's fused
 * native update when it can (wasm backend, native kernels loaded, float32, unshared buffers) and
 * tfjs's own update otherwise. Results agree with `tf.train.adam` to float32 rounding.
 *
 * @example
 * ```ts
 * import { adam, initBackend, tf } from '@dgm-js/core-tensors';
 * await initBackend();
 * const w = tf.variable(tf.zeros([3]));
 * const opt = adam(1e-3);
 * opt.minimize(() => tf.sum(tf.square(tf.sub(w, 1))) as tf.Scalar);
 * ```
 */
export class Adam extends tf.AdamOptimizer {
  override applyGradients(variableGradients: tf.NamedTensorMap | NamedTensor[]): void {
    const self = this as unknown as AdamFields;
    const list = Array.isArray(variableGradients)
      ? variableGradients
      : Object.keys(variableGradients).map((name) => ({
          name,
          tensor: variableGradients[name] as tf.Tensor,
        }));
    const c1 = Math.fround(1 - scalarValue(self.accBeta1));
    const c2 = Math.fround(1 - scalarValue(self.accBeta2));
    const hyper = {
      lr: self.learningRate,
      beta1: self.beta1,
      beta2: self.beta2,
      eps: self.epsilon,
      c1,
      c2,
    };
    tf.tidy(() => {
      let oneMinusAcc: [tf.Tensor, tf.Tensor] | null = null;
      list.forEach(({ name, tensor: gradient }, i) => {
        const value = tf.engine().registeredVariables[name];
        if (!value) {
          throw new ValueError(`Adam.applyGradients: no variable named '${name}' is registered.`);
        }
        if (self.accumulatedFirstMoment[i] == null) {
          self.accumulatedFirstMoment[i] = {
            originalName: `${name}/m`,
            variable: tf.tidy(() => tf.zerosLike(value).variable(false)),
          };
        }
        if (self.accumulatedSecondMoment[i] == null) {
          self.accumulatedSecondMoment[i] = {
            originalName: `${name}/v`,
            variable: tf.tidy(() => tf.zerosLike(value).variable(false)),
          };
        }
        if (gradient == null) return;
        const m = (self.accumulatedFirstMoment[i] as OptimizerVariable).variable;
        const v = (self.accumulatedSecondMoment[i] as OptimizerVariable).variable;
        if (nativeAdamUpdate(value, gradient, m, v, hyper)) return;
        // tfjs's update, op for op (the same float32 arithmetic as the native pass).
        oneMinusAcc ??= [tf.sub(1, self.accBeta1), tf.sub(1, self.accBeta2)];
        const newM = tf.add(tf.mul(m, self.beta1), tf.mul(gradient, 1 - self.beta1));
        const newV = tf.add(tf.mul(v, self.beta2), tf.mul(tf.square(gradient), 1 - self.beta2));
        const mHat = tf.div(newM, oneMinusAcc[0]);
        const vHat = tf.div(newV, oneMinusAcc[1]);
        m.assign(newM);
        v.assign(newV);
        const step = tf.mul(tf.div(mHat, tf.add(tf.sqrt(vHat), self.epsilon)), -self.learningRate);
        value.assign(tf.add(step, value));
      });
      self.accBeta1.assign(tf.mul(self.accBeta1, self.beta1));
      self.accBeta2.assign(tf.mul(self.accBeta2, self.beta2));
    });
    self.incrementIterations();
  }
}

/**
 * An {@link Adam} optimizer (the arguments and defaults of `tf.train.adam`).
 *
 * @example
 * ```ts
 * import { adam } from '@dgm-js/core-tensors';
 * const opt = adam(1e-3); // use wherever a tf.Optimizer is expected, e.g. new Trainer({ optimizer: opt, ... })
 * ```
 */
export function adam(learningRate = 0.001, beta1 = 0.9, beta2 = 0.999, epsilon?: number): Adam {
  for (const [k, x] of [
    ['learningRate', learningRate],
    ['beta1', beta1],
    ['beta2', beta2],
  ] as const) {
    if (!Number.isFinite(x)) throw new ValueError(`adam: ${k} must be a finite number, got ${x}.`);
  }
  if (!(learningRate > 0)) {
    throw new ValueError(
      `adam: learningRate must be positive, got ${learningRate} (a negative rate climbs the loss).`,
    );
  }
  if (!(beta1 >= 0 && beta1 < 1) || !(beta2 >= 0 && beta2 < 1)) {
    throw new ValueError(`adam: beta1 and beta2 must be in [0, 1), got ${beta1} and ${beta2}.`);
  }
  if (epsilon !== undefined && !(epsilon > 0)) {
    throw new ValueError(`adam: epsilon must be positive, got ${epsilon}.`);
  }
  return new Adam(learningRate, beta1, beta2, epsilon);
}
