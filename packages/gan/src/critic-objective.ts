/**
 * The critic's side of a GAN step: its adversarial loss plus gradient penalties (internal to the
 * trainer).
 */
import { type Critic, type Rng, tf } from '@dgm-js/core-tensors';
import type { GanLoss } from './losses.js';
import { gradientPenalty, r1Penalty, r2Penalty } from './penalties.js';
import type { PenaltyOption } from './train-options.js';

type Tensor = tf.Tensor;

/**
 * The critic's loss plus penalties, for use inside `tf.variableGrads`. Pushes (kept) its parts
 * for reporting onto `parts`: the adversarial loss, the penalty, the mean real and fake scores.
 */
export function criticObjective(
  critic: Critic,
  loss: GanLoss,
  penalties: readonly PenaltyOption[],
  batch: { x: Tensor; fake: Tensor; labels: Tensor | undefined },
  rng: Rng,
  parts: Tensor[],
): tf.Scalar {
  const { x, fake, labels } = batch;
  const score = (v: Tensor) => critic.score(v, labels);
  const real = score(x);
  const fakeScores = score(fake);
  const adv = loss.critic(real, fakeScores);
  let pen: Tensor = tf.scalar(0);
  for (const p of penalties) {
    const v =
      p.kind === 'wgan-gp'
        ? gradientPenalty(score, x, fake, {
            rng,
            ...(p.weight === undefined ? {} : { weight: p.weight }),
            ...(p.target === undefined ? {} : { target: p.target }),
          })
        : (p.kind === 'r1' ? r1Penalty : r2Penalty)(
            score,
            p.kind === 'r1' ? x : fake,
            p.gamma === undefined ? {} : { gamma: p.gamma },
          );
    pen = tf.add(pen, v);
  }
  parts.push(tf.keep(adv), tf.keep(pen), tf.keep(tf.mean(real)), tf.keep(tf.mean(fakeScores)));
  return tf.add(adv, pen) as tf.Scalar;
}
