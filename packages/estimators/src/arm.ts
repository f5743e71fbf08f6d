/**
 * Antithetic estimators for binary latents:
 * - ARM, the augment-REINFORCE-merge estimator (Yin & Zhou 2019, ICLR): with u ~ U(0, 1)^D,
 *   grad_theta E[f(b)] = E_u[(f(1[u > sigmoid(-theta)]) - f(1[u < sigmoid(theta)])) (u - 1/2)].
 * - DisARM (Dong, Mnih & Tucker 2020, NeurIPS, "DisARM: an antithetic gradient estimator for
 *   binary latent variables"): b = 1[u < p], b~ = 1[1 - u < p], and
 *   g = 1/2 (f(b) - f(b~)) (-1)^{b~} 1[b != b~] sigmoid(|theta|): ARM with the augmentation
 *   integrated out; never more variance than ARM.
 * Both evaluate f at 2K points per instance (K antithetic pairs) and are unbiased.
 */
import { clampedUniform, tf } from '@dgm-js/core-tensors';
import { BaseEstimator, type RunContext, type RunResult } from './base.js';
import { detach, evalObjective, expandTo, injectGradient, resolveDiscrete } from './latent.js';
import type { Integrand, LatentInput } from './types.js';

type Tensor = tf.Tensor;

/** ARM or DisARM. */
export class ArmEstimator extends BaseEstimator {
  readonly name: 'arm' | 'disarm';
  readonly unbiased = true;

  constructor(name: 'arm' | 'disarm') {
    super(name);
    this.name = name;
  }

  protected run(q: LatentInput, f: Integrand, ctx: RunContext): RunResult {
    const r = resolveDiscrete(q, this.name, ['bernoulli']);
    const s = ctx.samples;
    const th = detach(r.logits);
    const u = clampedUniform([s, ...th.shape], ctx.rng);
    const p = tf.sigmoid(th);
    let b1: Tensor;
    let b2: Tensor;
    if (this.name === 'arm') {
      b1 = tf.cast(tf.greater(u, tf.sigmoid(tf.neg(th))), 'float32');
      b2 = tf.cast(tf.less(u, p), 'float32');
    } else {
      b1 = tf.cast(tf.less(u, p), 'float32');
      b2 = tf.cast(tf.less(tf.sub(1, u), p), 'float32');
    }
    const { fz, instRank } = evalObjective(
      f,
      tf.concat([b1, b2], 0),
      2 * s,
      r.batchShape,
      this.name,
    );
    const fd = detach(fz);
    const [f1, f2] = tf.split(fd, 2, 0) as [Tensor, Tensor];
    const diff = expandTo(tf.sub(f1, f2), th.rank + 1);
    let g: Tensor;
    if (this.name === 'arm') {
      g = tf.mul(diff, tf.sub(u, 0.5));
    } else {
      const sign = tf.sub(1, tf.mul(2, b2));
      const differ = tf.cast(tf.notEqual(b1, b2), 'float32');
      g = tf.mul(tf.mul(tf.mul(diff, 0.5), tf.mul(sign, differ)), tf.sigmoid(tf.abs(th)));
    }
    const ghat = tf.mean(g, 0);
    const surrogate = tf.add(tf.mean(fz, 0), injectGradient(r.logits, ghat, instRank));
    return { surrogate, diagnostics: { value: tf.mean(fd) } };
  }
}

/**
 * ARM (Yin & Zhou 2019) for Bernoulli latents.
 *
 * @example
 * ```ts
 * const r = arm().estimate(new Bernoulli({ logits }), f, { samples: 1, rng: new Rng(0) });
 * ```
 */
export function arm(): ArmEstimator {
  return new ArmEstimator('arm');
}

/**
 * DisARM (Dong et al. 2020) for Bernoulli latents.
 *
 * @example
 * ```ts
 * const r = disarm().estimate(new Bernoulli({ logits }), f, { samples: 1, rng: new Rng(0) });
 * ```
 */
export function disarm(): ArmEstimator {
  return new ArmEstimator('disarm');
}
