/**
 * The contract of latent variable models in dgm.js, and the options of their bounds and
 * training losses.
 */
import type { BoundOptions, Distribution, Rng, tf } from '@dgm-js/core-tensors';
import type { KlWeight } from './schedules.js';

type Tensor = tf.Tensor;

/** Options of {@link LatentVariableModel.elbo}: core's `BoundOptions` and a sample count. */
export interface ElboOptions extends BoundOptions {
  /** Latent samples per example averaged in the reconstruction term. Default 1. */
  samples?: number;
  /**
   * Samples drawn per pass (the memory bound: one pass holds `chunk x batch` latents and their
   * decoder outputs). Default min(samples, 100), as `@dgm-js/eval`'s chunked path.
   */
  chunk?: number;
}

/** Options of a VAE's `iwae`. */
export interface IwaeOptions extends BoundOptions {
  /**
   * Importance samples drawn per pass (the memory bound: one pass holds `chunk x batch` latents
   * and their decoder outputs); the passes are combined exactly (a running log-sum-exp). Default
   * min(k, 100), as `estimateLogLikelihood` of `@dgm-js/eval`, so `iwae(x, 5000)` needs no more
   * memory than `iwae(x, 100)`.
   */
  chunk?: number;
}

/** The ELBO and its two terms, one value per example (`[batch]`, nats). */
export interface ElboTerms {
  /** recon - kl. */
  elbo: Tensor;
  /** E_q[log p(x | z)] (Monte Carlo, exact latent samples). */
  recon: Tensor;
  /**
   * KL(q(z | x) || p(z)): analytic when the `kl` registry of core-tensors has the pair, else a
   * Monte Carlo estimate at the same latent samples.
   */
  kl: Tensor;
}

/**
 * A latent variable model p(x, z) = p(z) p(x | z) with an amortized posterior q(z | x).
 * `prior`, `encode` and `decode` return distributions from `@dgm-js/core-tensors` that the caller
 * owns (call `dispose()`); `elbo`, `iwae` return one value per example (`[batch]`, nats).
 *
 * @example
 * ```ts
 * const q = vae.encode(x);          // q(z | x), batch [B]
 * const z = q.sample({ rng });      // exact samples
 * const px = vae.decode(z);         // p(x | z)
 * const lw = vae.iwae(x, 50, { rng }); // [B]
 * q.dispose(); px.dispose();
 * ```
 */
export interface LatentVariableModel {
  /** p(z). */
  prior(): Distribution;
  /** q(z | x) for a batch x: batch shape `[B]`, event shape the latent shape. */
  encode(x: Tensor): Distribution;
  /** p(x | z) for latents `[..., ...latentShape]`: batch shape `[...]`, event shape x's. */
  decode(z: Tensor): Distribution;
  /** The evidence lower bound, one value per example. */
  elbo(x: Tensor, opts: ElboOptions): Tensor;
  /** The importance-weighted bound with k samples (Burda et al. 2016), one value per example. */
  iwae(x: Tensor, k: number, opts: BoundOptions): Tensor;
}

/** The likelihood p(x | z) the decoder parameterizes. */
export type Likelihood =
  /** Decoder outputs are logits of independent Bernoullis (binary data). */
  | 'bernoulli'
  /** Decoder outputs are means of independent Gaussians with a fixed standard deviation. */
  | { type: 'gaussian'; scale: number };

/** Training options of a VAE's `loss` / `objective`. */
export interface TrainOptions {
  /**
   * 'elbo' (default): the (beta-weighted, free-bits) ELBO. 'iwae': the importance-weighted
   * bound with `k` samples (Burda et al. 2016), for reparameterized latents (for discrete
   * latents use the `vimco` estimator, which trains the multi-sample bound).
   */
  objective?: 'elbo' | 'iwae';
  /**
   * Latent samples per example: k of the IWAE bound (default 5), or the number of samples the
   * ELBO's reconstruction term (or the gradient estimator) averages (default 1).
   */
  k?: number;
  /**
   * The weight of the KL term: a constant beta (beta-VAE, Higgins et al. 2017; default 1) or a
   * schedule of the step ({@link klWarmup}, {@link klCyclical}). ELBO objective only.
   */
  klWeight?: KlWeight;
  /**
   * Free bits (Kingma et al. 2016): each latent group's KL (a Gaussian or Bernoulli unit, or one
   * categorical variable: an element of the batch of the `Independent` posterior's and prior's
   * wrapped distributions; the whole latent when they are not both `Independent`), averaged
   * over the batch, counts as at least this many nats, so the optimizer gains nothing by pushing
   * it lower. Default 0 (off). ELBO objective only; with a gradient estimator it needs an
   * analytic KL.
   */
  freeBits?: number;
}

/** Options of one `loss` call. */
export interface LossOptions extends TrainOptions {
  rng: Rng;
  /** The training step (drives `klWeight` schedules). Default 0. */
  step?: number;
}

/** A training loss and what to report. */
export interface VaeLoss {
  /** The scalar to minimise. */
  loss: tf.Scalar;
  /** `elbo` (the plain ELBO estimate, per example), `recon`, `kl`, `klWeight`, estimator diagnostics. */
  metrics: Record<string, tf.Tensor | number>;
}
