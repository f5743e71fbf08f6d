/**
 * KL(q(z | x) || p(z)) per latent group: analytic when the `kl` registry of core-tensors has
 * the pair, Monte Carlo (log q(z) - log p(z) at samples of q) otherwise, so a flow posterior, a
 * mixture or an autoregressive prior needs nothing registered.
 *
 * Groups (the units free bits counts separately): when the posterior and the prior are both
 * `Independent` wrappers reinterpreting the same number of batch dimensions, each element of the
 * wrapped distributions' batch is a group (one Gaussian or Bernoulli unit, one categorical
 * variable); otherwise the whole latent is one group.
 */
import { DgmError, type Distribution, Independent, kl, tf } from '@dgm-js/core-tensors';

type Tensor = tf.Tensor;

/**
 * kl(p, q), or undefined when no analytic KL is registered for the pair (shape and value errors
 * still throw).
 *
 * @example
 * ```ts
 * const k = analyticKl(q, prior); // [B], or undefined (e.g. a Logistic or flow posterior)
 * ```
 */
export function analyticKl(p: Distribution, q: Distribution): Tensor | undefined {
  try {
    return kl(p, q);
  } catch (e) {
    // "no KL registered" (and no closed form) are plain DgmErrors; shape and value errors rethrow
    if (e instanceof DgmError && e.constructor === DgmError) return undefined;
    throw e;
  }
}

/** The pair whose KL splits into groups: the bases of two matching `Independent`s, or the pair itself. */
function groupPair(q: Distribution, p: Distribution): [Distribution, Distribution] {
  if (
    q instanceof Independent &&
    p instanceof Independent &&
    q.reinterpretedBatchNdims === p.reinterpretedBatchNdims &&
    q.reinterpretedBatchNdims > 0
  ) {
    return [q.base, p.base];
  }
  return [q, p];
}

/** What {@link klGroups} returns. */
export interface KlGroups {
  /** KL per example and group, `[B, G]`; sum over the last axis for KL(q || p) `[B]`. */
  groups: Tensor;
  /** Whether it is the analytic KL (else a Monte Carlo estimate at the given samples). */
  analytic: boolean;
}

/**
 * KL(q || p) per example and group, `[B, G]` (see the module notes for the groups), for a
 * posterior q of batch `[B]` and a prior p of batch `[]`. Analytic when registered; otherwise
 * the mean over the leading axis of log q(z) - log p(z) at `z` `[s, B, ...latentShape]`
 * (samples of q; with `rsample`d z the estimate is differentiable along the path), or
 * undefined when no samples are given.
 *
 * @example
 * ```ts
 * const z = q.rsample({ sampleShape: [5], rng });
 * const { groups, analytic } = klGroups(q, prior, z)!; // groups [B, G]; sum(groups, -1) is KL(q || p)
 * ```
 */
export function klGroups(q: Distribution, p: Distribution, z?: Tensor): KlGroups | undefined {
  const b = q.batchShape.reduce((a, c) => a * c, 1);
  const [qg, pg] = groupPair(q, p);
  const exact = analyticKl(qg, pg);
  if (exact) {
    const groups = tf.tidy(() => tf.reshape(exact, [b, exact.size / b]));
    exact.dispose();
    return { groups, analytic: true };
  }
  if (!z) return undefined;
  const groups = tf.tidy(() => {
    const d = tf.mean(tf.sub(qg.logProb(z), pg.logProb(z)), 0);
    return tf.reshape(d, [b, d.size / b]);
  });
  return { groups, analytic: false };
}
