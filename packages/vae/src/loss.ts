/**
 * The training loss of a VAE, one implementation for every latent family. The gradient path is
 * chosen by the posterior: reparameterized samples when q(z | x) has `rsample` (and no estimator
 * is given), else the VAE's `GradientEstimator` (discrete latents, or any estimator you choose).
 */
import {
  checkInt,
  checkRng,
  type Distribution,
  Independent,
  logSumExp,
  type Rng,
  tf,
  ValueError,
} from '@dgm-js/core-tensors';
import { klGroups } from './latent-kl.js';
import { logLikelihood, posterior, type VaeParts } from './parts.js';
import { klWeightAt } from './schedules.js';
import type { LossOptions, VaeLoss } from './types.js';

type Tensor = tf.Tensor;

/**
 * log (1/k) sum_k exp(lw_k) along `axis` (default 0), in log space.
 *
 * @example
 * ```ts
 * const bound = logMeanExp(vae.logWeights(x, 50, { rng }), 0); // [B], the IWAE bound
 * ```
 */
export function logMeanExp(lw: Tensor, axis = 0): Tensor {
  return tf.tidy(() => tf.sub(logSumExp(lw, axis), Math.log(lw.shape[axis] as number)));
}

/** Checks the training options and returns the random stream and the KL weight at this step. */
function trainSetup(opts: LossOptions, who: string): { rng: Rng; weight: number; iw: boolean } {
  if (!opts || typeof opts !== 'object') throw new ValueError(`${who}: pass options { rng }.`);
  const rng = checkRng(opts.rng, who);
  const step = opts.step ?? 0;
  const obj = opts.objective ?? 'elbo';
  if (obj !== 'elbo' && obj !== 'iwae') {
    throw new ValueError(`${who}: objective must be 'elbo' or 'iwae', got ${String(obj)}.`);
  }
  if (obj === 'iwae' && (opts.klWeight !== undefined || (opts.freeBits ?? 0) > 0)) {
    throw new ValueError(
      `${who}: klWeight and freeBits apply to the 'elbo' objective, not 'iwae'.`,
    );
  }
  return { rng, weight: klWeightAt(opts.klWeight, step, who), iw: obj === 'iwae' };
}

function checkFreeBits(fb: unknown, who: string): number {
  const v = fb ?? 0;
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) {
    throw new ValueError(
      `${who}: freeBits must be a finite number >= 0 (nats per latent group), got ${String(v)}.`,
    );
  }
  return v;
}

/** The KL term of the loss from per-group KLs `[B, G]`: the batch mean of their sum, or free bits. */
function klTerm(klg: Tensor, freeBits: number): Tensor {
  return tf.tidy(() => {
    if (freeBits > 0) return tf.sum(tf.maximum(tf.mean(klg, 0), freeBits));
    return tf.mean(tf.sum(klg, -1));
  });
}

/**
 * What a gradient estimator is given: the posterior with its `Independent` wrappers removed, so
 * the discrete estimators see the core `Bernoulli` / `OneHotCategorical` they take. The latent
 * dimensions become batch dimensions, which an estimator sums log q over (the integrand
 * returns one value per example), so the estimate is the same.
 *
 * @example
 * ```ts
 * estimator.estimate(estimatorView(vae.encode(x)), (z) => tf.neg(vae.logLikelihood(z, x)), { samples: 1, rng });
 * ```
 */
export function estimatorView(q: Distribution): Distribution {
  let d = q;
  while (d instanceof Independent) d = d.base;
  return d;
}

/**
 * The training loss of the VAE `parts` on x (see `TrainOptions`):
 * - reparameterized (q has `rsample`, no estimator): -(E_q[log p(x|z)] - w KL) with k samples
 *   (free bits optional), or -IWAE_k;
 * - through the estimator: E_q[-log p(x|z)] via its surrogate + w KL (analytic KL; free bits
 *   optional), or, with no analytic KL, E_q[-log p(x|z) + w (log q(z) - log p(z))] via the
 *   surrogate (no free bits); with VIMCO, -IWAE_k.
 *
 * @example
 * ```ts
 * const { loss, metrics } = vaeLoss(vae, x, { rng, klWeight: 0.5 }); // what vae.loss(x, opts) returns
 * ```
 */
export function vaeLoss(parts: VaeParts, x: Tensor, opts: LossOptions): VaeLoss {
  const who = `${parts.kind}.loss`;
  const { rng, weight, iw } = trainSetup(opts, who);
  const freeBits = checkFreeBits(opts.freeBits, who);
  const est = parts.estimator;
  const isVimco = est?.name === 'vimco';
  if (est && iw && !isVimco) {
    throw new ValueError(
      `${who}: the 'iwae' objective through a gradient estimator needs the 'vimco' estimator (got '${est.name}').`,
    );
  }
  const k = checkInt(opts.k ?? (iw || isVimco ? 5 : 1), 'k', who);
  const q = posterior(parts, x, who);
  try {
    if (!est) {
      if (!q.hasRsample) {
        throw new ValueError(
          `${who}: the posterior (${q.constructor.name}) has no reparameterized sampler; give the VAE an estimator ` +
            `(a GradientEstimator from @dgm-js/estimators, e.g. reinforce() or gumbelSoftmax()).`,
        );
      }
      return tidyLoss(() => reparamLoss(parts, q, x, { rng, weight, iw, k, freeBits }, who));
    }
    return tidyLoss(() => estimatorLoss(parts, q, x, { rng, weight, k, freeBits }, who));
  } finally {
    q.dispose();
  }
}

/** Runs `fn` in `tf.tidy`, keeping the loss and the metric tensors it returns. */
function tidyLoss(fn: () => VaeLoss): VaeLoss {
  return tf.tidy(() => fn() as unknown as tf.TensorContainer) as unknown as VaeLoss;
}

interface Settings {
  rng: Rng;
  weight: number;
  k: number;
  freeBits: number;
}

function reparamLoss(
  parts: VaeParts,
  q: Distribution,
  x: Tensor,
  s: Settings & { iw: boolean },
  who: string,
): VaeLoss {
  const prior = parts.latentPrior;
  const z = q.rsample({ sampleShape: [s.k], rng: s.rng }); // [k, B, ...latentShape]
  const ll = logLikelihood(parts, z, x, who); // [k, B]
  const klg = (klGroups(q, prior, z) as { groups: Tensor }).groups; // [B, G]
  const kl = tf.sum(klg, -1);
  const recon = tf.mean(ll, 0);
  const elbo = tf.mean(tf.sub(recon, kl));
  if (s.iw) {
    const lw = tf.sub(tf.add(ll, prior.logProb(z)), q.logProb(z));
    const bound = tf.mean(logMeanExp(lw, 0));
    return {
      loss: tf.neg(bound) as tf.Scalar,
      metrics: {
        elbo,
        iwae: tf.add(bound, 0),
        recon: tf.mean(recon),
        kl: tf.mean(kl),
        klWeight: 1,
      },
    };
  }
  const loss = tf.sub(tf.mul(s.weight, klTerm(klg, s.freeBits)), tf.mean(recon));
  return {
    loss: loss as tf.Scalar,
    metrics: { elbo, recon: tf.mean(recon), kl: tf.mean(kl), klWeight: s.weight },
  };
}

function estimatorLoss(
  parts: VaeParts,
  q: Distribution,
  x: Tensor,
  s: Settings,
  who: string,
): VaeLoss {
  const est = parts.estimator as NonNullable<VaeParts['estimator']>;
  const prior = parts.latentPrior;
  const b = x.shape[0] as number;
  const context = tf.reshape(x, [b, x.size / b]);
  const view = estimatorView(q);
  const opts = { samples: s.k, rng: s.rng, context };
  if (est.name === 'vimco') {
    const f = (z: Tensor) =>
      tf.sub(tf.add(logLikelihood(parts, z, x, who), prior.logProb(z)), q.logProb(z));
    const r = est.estimate(view, f, opts);
    const bound = tf.mean(r.surrogate);
    const klg = klGroups(q, prior);
    const metrics: VaeLoss['metrics'] = { iwae: tf.add(bound, 0) };
    if (klg) metrics.kl = tf.mean(tf.sum(klg.groups, -1));
    return {
      loss: tf.neg(bound) as tf.Scalar,
      metrics: { ...metrics, klWeight: 1, ...r.diagnostics },
    };
  }
  const analytic = klGroups(q, prior); // no samples: undefined unless the KL is analytic
  if (analytic) {
    const f = (z: Tensor) => tf.neg(logLikelihood(parts, z, x, who));
    const r = est.estimate(view, f, opts);
    const klg = analytic.groups;
    const nll = tf.mean(r.surrogate);
    const kl = tf.mean(tf.sum(klg, -1));
    const loss = tf.add(nll, tf.mul(s.weight, klTerm(klg, s.freeBits)));
    return {
      loss: loss as tf.Scalar,
      metrics: {
        elbo: tf.neg(tf.add(nll, kl)),
        recon: tf.neg(nll),
        kl,
        klWeight: s.weight,
        ...r.diagnostics,
      },
    };
  }
  if (s.freeBits > 0) {
    throw new ValueError(
      `${who}: freeBits needs the KL per latent group in closed form, and the kl registry has no KL for this posterior and prior; ` +
        'register one (registerKL), or train without freeBits (klWeight still applies).',
    );
  }
  // no analytic KL: the estimator differentiates the whole weighted bound
  const w = s.weight;
  const f = (z: Tensor) =>
    tf.sub(tf.mul(w, tf.sub(q.logProb(z), prior.logProb(z))), logLikelihood(parts, z, x, who));
  const r = est.estimate(view, f, opts);
  const objective = tf.neg(tf.mean(r.surrogate));
  const metrics: VaeLoss['metrics'] = { objective, klWeight: w, ...r.diagnostics };
  if (w === 1) metrics.elbo = tf.add(objective, 0);
  return { loss: tf.neg(objective) as tf.Scalar, metrics };
}
