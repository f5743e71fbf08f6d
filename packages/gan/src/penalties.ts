/**
 * Gradient penalties on the critic: WGAN-GP (Gulrajani et al. 2017) and R1 / R2 (Mescheder,
 * Geiger & Nowozin 2018). Each needs the gradient of the critic's input-gradient norm with
 * respect to the critic's parameters ("double backprop"): compute them inside the tape that
 * differentiates the critic's loss (`tf.variableGrads`), and build the critic from this
 * package's layers and activations, whose second derivatives are tested (see activations.ts for
 * what goes wrong with tf.sigmoid, tf.tanh and tf.leakyRelu).
 */
import { fmtShape, type Rng, ShapeError, tf, ValueError } from '@dgm-js/core-tensors';
import { scores } from './losses.js';

type Tensor = tf.Tensor;
type Scalar = tf.Scalar;

/** A critic as a function of its input: one score per example (`[N]` or `[N, 1]`). */
export type CriticFn = (x: Tensor) => Tensor;

/** Added under the square root of the gradient norm so its gradient is finite at 0. */
const NORM_EPS = 1e-12;

function checkCritic(critic: unknown, who: string): CriticFn {
  if (typeof critic !== 'function') {
    throw new ValueError(
      `${who}: critic must be a function x => scores (e.g. (x) => critic.score(x, labels)), got ${typeof critic}.`,
    );
  }
  return critic as CriticFn;
}

function checkWeight(w: number, what: string, who: string): number {
  if (!(typeof w === 'number' && Number.isFinite(w) && w >= 0)) {
    throw new ValueError(`${who}: ${what} must be a finite number >= 0, got ${w}.`);
  }
  return w;
}

/**
 * The critic's gradient with respect to its input, per example: d D(x_i) / d x_i, shape of `x`.
 * Differentiable again (it is recorded on the active tape), so a penalty built from it has a
 * gradient with respect to the critic's parameters. The critic must treat examples
 * independently (no batch statistics): then the gradient of sum_i D(x_i) is the per-example one.
 *
 * @example
 * ```ts
 * import { tf } from '@dgm-js/core-tensors';
 * import { inputGradient } from '@dgm-js/gan';
 * const g = inputGradient((x) => tf.sum(tf.square(x), 1), tf.tensor2d([[1, 2]])); // [[2, 4]]
 * ```
 */
export function inputGradient(critic: CriticFn, x: Tensor): Tensor {
  const f = checkCritic(critic, 'inputGradient');
  if (!(x instanceof tf.Tensor) || x.rank < 2) {
    throw new ShapeError(
      `inputGradient: x must be a batch [N, ...] of at least rank 2, got ${x instanceof tf.Tensor ? fmtShape(x.shape) : typeof x}.`,
    );
  }
  return tf.grad((v: Tensor) => tf.sum(scores(f(v), 'critic(x)', 'inputGradient')))(x);
}

/** Squared L2 norm of each example's input gradient: `[N]` (internal). */
function gradNormSq(critic: CriticFn, x: Tensor): Tensor {
  const g = inputGradient(critic, x);
  const axes = Array.from({ length: g.rank - 1 }, (_, i) => i + 1);
  return tf.sum(tf.square(g), axes);
}

/** Options of {@link gradientPenalty}. */
export interface GradientPenaltyOptions {
  /** The random stream of the interpolation weights (one uniform per example). */
  rng?: Rng;
  /** Explicit interpolation weights `[N]` in [0, 1] instead of drawing them (tests, replays). */
  epsilon?: Tensor;
  /** lambda. Default 10 (Gulrajani et al. 2017). */
  weight?: number;
  /** The target gradient norm. Default 1. */
  target?: number;
}

/**
 * The WGAN-GP gradient penalty (Gulrajani et al. 2017, Algorithm 1):
 * lambda * E[(||grad_x D(x_hat)||_2 - target)^2] at x_hat = eps x_real + (1 - eps) x_fake,
 * eps ~ U[0, 1] per example. The norm is over all of an example's dimensions (sqrt(sum g^2 +
 * 1e-12), finite gradient at 0). `real` and `fake` must have the same shape; pass `fake` without
 * a gradient path into the generator (the critic step does not train it).
 *
 * @example
 * ```ts
 * import { Rng, tf } from '@dgm-js/core-tensors';
 * import { gradientPenalty, MlpCritic, wasserstein } from '@dgm-js/gan';
 * const critic = new MlpCritic({ inputShape: 2, hidden: [16], rng: new Rng(0) });
 * const real = tf.randomNormal([8, 2]);
 * const fake = tf.randomNormal([8, 2]);
 * const rng = new Rng(1);
 * const { value, grads } = tf.variableGrads(() =>
 *   tf.add(
 *     wasserstein.critic(critic.score(real), critic.score(fake)),
 *     gradientPenalty((x) => critic.score(x), real, fake, { rng }),
 *   ) as tf.Scalar,
 * );
 * tf.dispose([value, real, fake]); tf.dispose(grads); critic.dispose();
 * ```
 */
export function gradientPenalty(
  critic: CriticFn,
  real: Tensor,
  fake: Tensor,
  opts: GradientPenaltyOptions,
): Scalar {
  const who = 'gradientPenalty';
  const f = checkCritic(critic, who);
  if (!(real instanceof tf.Tensor) || !(fake instanceof tf.Tensor)) {
    throw new ValueError(`${who}: real and fake must be tensors.`);
  }
  if (real.rank < 2 || real.shape.join() !== fake.shape.join()) {
    throw new ShapeError(
      `${who}: real and fake must be batches [N, ...] of the same shape, got ${fmtShape(real.shape)} and ${fmtShape(fake.shape)}. Generate as many fakes as real examples.`,
    );
  }
  const lambda = checkWeight(opts?.weight ?? 10, 'weight', who);
  const target = checkWeight(opts?.target ?? 1, 'target', who);
  const n = real.shape[0]!;
  if (opts?.epsilon !== undefined) {
    const e = opts.epsilon;
    if (!(e instanceof tf.Tensor) || e.rank !== 1 || e.shape[0] !== n) {
      throw new ShapeError(
        `${who}: epsilon must be a tensor [${n}] (one weight per example), got ${e instanceof tf.Tensor ? fmtShape(e.shape) : typeof e}.`,
      );
    }
  } else if (!opts?.rng || typeof opts.rng.next !== 'function') {
    throw new ValueError(
      `${who}: pass the random stream of the interpolation weights, e.g. { rng: new Rng(0) }.`,
    );
  }
  return tf.tidy(() => {
    const eps1 = opts.epsilon ?? tf.randomUniform([n], 0, 1, 'float32', opts.rng!.next());
    const eps = tf.reshape(eps1, [n, ...real.shape.slice(1).map(() => 1)]);
    const xHat = tf.add(fake, tf.mul(eps, tf.sub(real, fake)));
    const norm = tf.sqrt(tf.add(gradNormSq(f, xHat), NORM_EPS));
    return tf.mul(lambda, tf.mean(tf.square(tf.sub(norm, target)))) as Scalar;
  });
}

/** Options of {@link r1Penalty} and {@link r2Penalty}. */
export interface R1Options {
  /** gamma: the penalty is gamma / 2 * E[||grad_x D(x)||^2]. Default 10. */
  gamma?: number;
}

function zeroCenteredPenalty(critic: CriticFn, x: Tensor, gamma: number, who: string): Scalar {
  const f = checkCritic(critic, who);
  if (!(x instanceof tf.Tensor) || x.rank < 2) {
    throw new ShapeError(
      `${who}: x must be a batch [N, ...], got ${x instanceof tf.Tensor ? fmtShape(x.shape) : typeof x}.`,
    );
  }
  checkWeight(gamma, 'gamma', who);
  return tf.tidy(() => tf.mul(gamma / 2, tf.mean(gradNormSq(f, x))) as Scalar);
}

/**
 * The R1 penalty (Mescheder et al. 2018, eq. 9): gamma / 2 * E_{x ~ data}[||grad_x D(x)||^2], the
 * critic's gradient penalised on real data. Add it to the critic's loss.
 *
 * @example
 * ```ts
 * const loss = tf.add(nonSaturating.critic(critic.score(real), critic.score(fake)),
 *                     r1Penalty((x) => critic.score(x), real, { gamma: 10 }));
 * ```
 */
export function r1Penalty(critic: CriticFn, real: Tensor, opts: R1Options = {}): Scalar {
  return zeroCenteredPenalty(critic, real, opts.gamma ?? 10, 'r1Penalty');
}

/**
 * The R2 penalty (Mescheder et al. 2018, eq. 10): gamma / 2 * E_{x ~ generator}[||grad_x D(x)||^2],
 * the critic's gradient penalised on generated data.
 *
 * @example
 * ```ts
 * const pen = r2Penalty((x) => critic.score(x), fake, { gamma: 10 });
 * ```
 */
export function r2Penalty(critic: CriticFn, fake: Tensor, opts: R1Options = {}): Scalar {
  return zeroCenteredPenalty(critic, fake, opts.gamma ?? 10, 'r2Penalty');
}
