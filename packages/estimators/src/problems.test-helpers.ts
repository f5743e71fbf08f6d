/** Small problems with exact gradients shared by the tests. */
import { tf } from '@dgm-js/core-tensors';
import { bernoulliProblem, categoricalProblem, type EstimationProblem } from './analysis.js';

type Tensor = tf.Tensor;

const W = [1, -0.7, 0.5];

/** f(z) = (w . z - 0.6)^2 + 0.3 z_0 z_2 over 3 bits: non-separable, so baselines matter. */
export function bernoulli3(): EstimationProblem {
  return bernoulliProblem('bernoulli-3', [0.4, -0.8, 1.2], (z: Tensor) =>
    tf.tidy(() => {
      const lin = tf.sub(tf.sum(tf.mul(z, tf.tensor1d(W)), -1), 0.6);
      const z0 = tf.squeeze(tf.slice(z, [0, 0, 0], [-1, -1, 1]), [2]);
      const z2 = tf.squeeze(tf.slice(z, [0, 0, 2], [-1, -1, 1]), [2]);
      return tf.add(tf.square(lin), tf.mul(0.3, tf.mul(z0, z2)));
    }),
  );
}

const V = [
  [1, 2, -1],
  [0.5, -1.5, 2],
];

/** f(z) = (sum_{d,c} z_dc v_dc - 1)^2 over 2 latents of 3 categories. */
export function categorical2x3(): EstimationProblem {
  return categoricalProblem(
    'categorical-2x3',
    [
      [0.2, -0.5, 0.9],
      [1.0, 0.0, -0.3],
    ],
    (z: Tensor) => tf.tidy(() => tf.square(tf.sub(tf.sum(tf.mul(z, tf.tensor2d(V)), [-2, -1]), 1))),
  );
}
