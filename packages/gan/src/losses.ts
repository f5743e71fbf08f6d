/**
 * GAN losses as pure functions of critic scores. Each loss has a critic side (minimised by the
 * critic, from the scores of real and generated examples) and a generator side (minimised by the
 * generator, from the scores of generated examples). Scores are the critic's raw outputs
 * (logits for the minimax and non-saturating losses; never pass them through a sigmoid first):
 * one per example, shape `[N]` or `[N, 1]`. Every function returns a new scalar and leaks nothing.
 */
import { fmtShape, ShapeError, softplus, tf, ValueError } from '@dgm-js/core-tensors';

type Tensor = tf.Tensor;
type Scalar = tf.Scalar;

/** The built-in losses by name. */
export type GanLossName = 'minimax' | 'non-saturating' | 'wasserstein' | 'hinge' | 'least-squares';

/** A GAN loss: its critic side and its generator side, both pure functions of scores. */
export interface GanLoss {
  readonly name: string;
  /** The critic's loss from the scores of real (`[N]`) and generated (`[M]`) examples. */
  critic(real: Tensor, fake: Tensor): Scalar;
  /** The generator's loss from the scores of generated examples (`[M]`). */
  generator(fake: Tensor): Scalar;
}

/** `[N]` or `[N, 1]` float scores as `[N]` (internal; throws a ShapeError naming `what`). */
export function scores(t: Tensor, what: string, who: string): Tensor {
  if (!(t instanceof tf.Tensor)) {
    throw new ValueError(`${who}: ${what} must be a tensor of critic scores, got ${typeof t}.`);
  }
  const ok = (t.rank === 1 || (t.rank === 2 && t.shape[1] === 1)) && t.shape[0]! > 0;
  if (!ok) {
    throw new ShapeError(
      `${who}: ${what} must be critic scores of shape [N] or [N, 1] with N >= 1, got ${fmtShape(t.shape)}. Reduce a multi-output critic to one score per example first.`,
    );
  }
  if (t.dtype !== 'float32') {
    throw new ValueError(`${who}: ${what} must be float32 scores, got ${t.dtype}.`);
  }
  return t.rank === 1 ? t : tf.reshape(t, [-1]);
}

function mean(t: Tensor): Scalar {
  return tf.mean(t) as Scalar;
}

/**
 * The original GAN loss (Goodfellow et al. 2014), "minimax" or saturating: the critic minimises
 * -E[log D(x)] - E[log(1 - D(G(z)))] with D = sigmoid(score), i.e.
 * E[softplus(-real)] + E[softplus(fake)]; the generator minimises E[log(1 - D(G(z)))] =
 * -E[softplus(fake)], which saturates (vanishing gradient) when the critic rejects the fakes.
 *
 * @example
 * ```ts
 * import { tf } from '@dgm-js/core-tensors';
 * import { minimax } from '@dgm-js/gan';
 * minimax.critic(tf.zeros([4]), tf.zeros([4])).print(); // 2 ln 2 = 1.3863
 * ```
 */
export const minimax: GanLoss = {
  name: 'minimax',
  critic: (real, fake) =>
    tf.tidy(() => {
      const r = scores(real, 'real', 'minimax.critic');
      const f = scores(fake, 'fake', 'minimax.critic');
      return tf.add(mean(softplus(tf.neg(r))), mean(softplus(f))) as Scalar;
    }),
  generator: (fake) =>
    tf.tidy(() => tf.neg(mean(softplus(scores(fake, 'fake', 'minimax.generator')))) as Scalar),
};

/**
 * The non-saturating GAN loss (Goodfellow et al. 2014, section 3): the critic side of
 * {@link minimax}; the generator minimises -E[log D(G(z))] = E[softplus(-fake)] instead, which
 * has strong gradients exactly where the minimax generator loss saturates.
 *
 * @example
 * ```ts
 * import { tf } from '@dgm-js/core-tensors';
 * import { nonSaturating } from '@dgm-js/gan';
 * nonSaturating.generator(tf.zeros([4])).print(); // ln 2 = 0.6931
 * ```
 */
export const nonSaturating: GanLoss = {
  name: 'non-saturating',
  critic: (real, fake) => minimax.critic(real, fake),
  generator: (fake) =>
    tf.tidy(() => mean(softplus(tf.neg(scores(fake, 'fake', 'nonSaturating.generator'))))),
};

/**
 * The Wasserstein GAN loss (Arjovsky et al. 2017): the critic minimises E[fake] - E[real] (it
 * estimates the Wasserstein-1 distance when 1-Lipschitz: use a gradient penalty or spectral
 * normalisation), the generator minimises -E[fake].
 *
 * @example
 * ```ts
 * import { tf } from '@dgm-js/core-tensors';
 * import { wasserstein } from '@dgm-js/gan';
 * wasserstein.critic(tf.tensor1d([2]), tf.tensor1d([0.5])).print(); // -1.5
 * ```
 */
export const wasserstein: GanLoss = {
  name: 'wasserstein',
  critic: (real, fake) =>
    tf.tidy(
      () =>
        tf.sub(
          mean(scores(fake, 'fake', 'wasserstein.critic')),
          mean(scores(real, 'real', 'wasserstein.critic')),
        ) as Scalar,
    ),
  generator: (fake) =>
    tf.tidy(() => tf.neg(mean(scores(fake, 'fake', 'wasserstein.generator'))) as Scalar),
};

/**
 * The hinge loss (Lim & Ye 2017; Miyato et al. 2018): the critic minimises
 * E[relu(1 - real)] + E[relu(1 + fake)], the generator -E[fake].
 *
 * @example
 * ```ts
 * import { tf } from '@dgm-js/core-tensors';
 * import { hinge } from '@dgm-js/gan';
 * hinge.critic(tf.zeros([4]), tf.zeros([4])).print(); // 2
 * ```
 */
export const hinge: GanLoss = {
  name: 'hinge',
  critic: (real, fake) =>
    tf.tidy(() => {
      const r = scores(real, 'real', 'hinge.critic');
      const f = scores(fake, 'fake', 'hinge.critic');
      return tf.add(mean(tf.relu(tf.sub(1, r))), mean(tf.relu(tf.add(1, f)))) as Scalar;
    }),
  generator: (fake) =>
    tf.tidy(() => tf.neg(mean(scores(fake, 'fake', 'hinge.generator'))) as Scalar),
};

/**
 * The least-squares loss (Mao et al. 2017, the 0-1 coding a = 0, b = c = 1): the critic minimises
 * 0.5 E[(real - 1)^2] + 0.5 E[fake^2], the generator 0.5 E[(fake - 1)^2]. Scores are raw outputs
 * (no sigmoid).
 *
 * @example
 * ```ts
 * import { tf } from '@dgm-js/core-tensors';
 * import { leastSquares } from '@dgm-js/gan';
 * leastSquares.critic(tf.zeros([4]), tf.zeros([4])).print(); // 0.5
 * ```
 */
export const leastSquares: GanLoss = {
  name: 'least-squares',
  critic: (real, fake) =>
    tf.tidy(() => {
      const r = scores(real, 'real', 'leastSquares.critic');
      const f = scores(fake, 'fake', 'leastSquares.critic');
      return tf.mul(0.5, tf.add(mean(tf.square(tf.sub(r, 1))), mean(tf.square(f)))) as Scalar;
    }),
  generator: (fake) =>
    tf.tidy(
      () =>
        tf.mul(
          0.5,
          mean(tf.square(tf.sub(scores(fake, 'fake', 'leastSquares.generator'), 1))),
        ) as Scalar,
    ),
};

const LOSSES: Record<GanLossName, GanLoss> = {
  minimax,
  'non-saturating': nonSaturating,
  wasserstein,
  hinge,
  'least-squares': leastSquares,
};

/**
 * The names {@link ganLoss} accepts.
 *
 * @example
 * ```ts
 * import { ganLossNames } from '@dgm-js/gan';
 * ganLossNames; // ['minimax', 'non-saturating', 'wasserstein', 'hinge', 'least-squares']
 * ```
 */
export const ganLossNames: readonly GanLossName[] = Object.keys(LOSSES) as GanLossName[];

/**
 * A loss by name, or the loss object itself.
 *
 * @example
 * ```ts
 * import { ganLoss } from '@dgm-js/gan';
 * const loss = ganLoss('hinge');
 * ```
 */
export function ganLoss(loss: GanLossName | GanLoss): GanLoss {
  if (typeof loss === 'object' && loss !== null) {
    if (typeof loss.critic !== 'function' || typeof loss.generator !== 'function') {
      throw new ValueError(
        'ganLoss: a custom loss needs critic(real, fake) and generator(fake) functions.',
      );
    }
    return loss;
  }
  const l = LOSSES[loss as GanLossName];
  if (!l) {
    throw new ValueError(
      `ganLoss: unknown loss ${JSON.stringify(loss)}; use one of ${ganLossNames.join(', ')} or an object { name, critic, generator }.`,
    );
  }
  return l;
}

/**
 * An estimate of the Jensen-Shannon divergence between the data and the generator from a
 * critic's logits: log 2 + 0.5 (E[log D(x)] + E[log(1 - D(G(z)))]) with D = sigmoid(score), in
 * nats. For the optimal critic D* = p / (p + q) it equals JSD(p, q) (Goodfellow et al. 2014,
 * Theorem 1: V(D*, G) = 2 JSD - log 4); for any other critic it is a lower bound (in expectation),
 * so a better-trained critic gives a larger, tighter estimate. This is what the minimax GAN
 * (FlowGAN's "ADV" objective) minimises over the generator: log 2 minus half the critic loss.
 *
 * @example
 * ```ts
 * import { tf } from '@dgm-js/core-tensors';
 * import { jsdEstimate } from '@dgm-js/gan';
 * jsdEstimate(tf.zeros([8]), tf.zeros([8])).print(); // 0: a critic that cannot tell them apart
 * ```
 */
export function jsdEstimate(real: Tensor, fake: Tensor): Scalar {
  return tf.tidy(() => {
    const r = scores(real, 'real', 'jsdEstimate');
    const f = scores(fake, 'fake', 'jsdEstimate');
    const v = tf.add(mean(softplus(tf.neg(r))), mean(softplus(f))); // -(E log D + E log(1 - D))
    return tf.sub(Math.LN2, tf.mul(0.5, v)) as Scalar;
  });
}
