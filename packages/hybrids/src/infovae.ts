/**
 * InfoVAE / MMD-VAE (Zhao, Song & Ermon, "InfoVAE: Information Maximizing Variational
 * Autoencoders", 2017 / AAAI 2019): the ELBO with the latent term KL(q(z|x) || p(z)) down-weighted
 * and a divergence between the aggregate posterior q(z) = E_pdata[q(z|x)] and the prior added,
 * estimated by a kernel MMD between the batch's posterior samples and fresh prior samples.
 * A {@link VAE} of `@dgm-js/vae` (any encoder with `rsample`, any decoder and prior) whose
 * training loss is the InfoVAE objective; its bounds (`elbo`, `iwae`) and samplers are the VAE's.
 */
import {
  type ConditionalDistribution,
  checkInt,
  checkRng,
  ShapeError,
  tf,
  ValueError,
} from '@dgm-js/core-tensors';
import type { MmdKernel } from '@dgm-js/eval';
import { klGroups, type LossOptions, VAE, type VaeLoss, type VaeOptions } from '@dgm-js/vae';
import { kernelMmd2, resolveKernel } from './infovae-mmd.js';

type Tensor = tf.Tensor;
type Conditional = ConditionalDistribution<Tensor>;

/** The InfoVAE weights and the MMD's settings. */
export interface InfoVaeSettings {
  /**
   * alpha of the paper: the per-example KL(q(z|x) || p(z)) has weight 1 - alpha. Default 0 (the
   * full ELBO KL kept; alpha = 1 drops it, the reference MMD-VAE code).
   */
  alpha?: number;
  /**
   * lambda of the paper: the divergence D(q(z) || p(z)) (here MMD^2) has weight
   * alpha + lambda - 1. Default 1000 (the MMD^2 of latents is O(1e-3 .. 1e-1) against a
   * likelihood summed over pixels). The paper requires lambda > 0 and alpha + lambda - 1 >= 0.
   */
  lambda?: number;
  /** The MMD kernel. Default RBF with sigma = d / sqrt(2) (k = exp(-||z - z'||^2 / d^2), the reference code's); `{ type: 'imq' }` for c = 2 d. */
  kernel?: MmdKernel;
  /** Prior samples drawn per step for the MMD. Default 200 (the reference code's). */
  priorSamples?: number;
  /** The MMD^2 estimate: 'biased' (default, the reference code's V-statistic) or 'unbiased'. */
  mmdEstimator?: 'biased' | 'unbiased';
}

/** Options of {@link InfoVAE}: the VAE's parts and the InfoVAE settings. */
export interface InfoVaeOptions<
  E extends Conditional = Conditional,
  D extends Conditional = Conditional,
> extends VaeOptions<E, D>,
    InfoVaeSettings {}

/** The three terms of the InfoVAE loss (batch means; scalars). */
export interface InfoVaeTerms {
  /** E_q[log p(x | z)] (k samples per example). */
  recon: tf.Scalar;
  /** KL(q(z|x) || p(z)): analytic when registered, else Monte Carlo at the same z. */
  kl: tf.Scalar;
  /** MMD^2 between the k B posterior samples and `priorSamples` prior samples. */
  mmd: tf.Scalar;
}

function checkWeight(v: unknown, name: string, who: string): number {
  if (typeof v !== 'number' || !Number.isFinite(v)) {
    throw new ValueError(`${who}: ${name} must be a finite number, got ${String(v)}.`);
  }
  return v;
}

/**
 * InfoVAE: maximises E_pdata[ E_q[log p(x|z)] - (1 - alpha) KL(q(z|x) || p(z)) ]
 * - (alpha + lambda - 1) D(q(z) || p(z)) with D the kernel MMD^2 (the paper's eq. 6 with its MMD
 * choice, "MMD-VAE"). Per step: k reparameterized samples z ~ q(z|x) per example (default 1),
 * `priorSamples` draws of p(z), MMD^2 between the two sets (flattened latents). The random stream
 * is used in the VAE loss's order first (the posterior samples), then for the prior samples.
 *
 * @example
 * ```ts
 * import { mlp, Rng, tf } from '@dgm-js/core-tensors';
 * import { bernoulliDecoder, gaussianEncoder, stdNormal } from '@dgm-js/vae';
 * import { InfoVAE } from '@dgm-js/hybrids';
 * const rng = new Rng(0);
 * const model = new InfoVAE({
 *   encoder: gaussianEncoder(mlp([784, 256, 2 * 8], { rng, activation: 'relu' })),
 *   decoder: bernoulliDecoder(mlp([8, 256, 784], { rng, activation: 'relu' })),
 *   prior: stdNormal(8),
 *   alpha: 0,
 *   lambda: 1000,
 *   kernel: { type: 'rbf' },
 * });
 * const opt = tf.train.adam(1e-3);
 * tf.tidy(() => opt.minimize(() => model.loss(x, { rng }).loss)); // x: [B, 784] of 0/1
 * const nll = tf.neg(model.iwae(x, 100, { rng })); // [B]
 * ```
 */
export class InfoVAE<
  E extends Conditional = Conditional,
  D extends Conditional = Conditional,
> extends VAE<E, D> {
  readonly alpha: number;
  readonly lambda: number;
  readonly kernel: MmdKernel;
  readonly priorSamples: number;
  readonly mmdEstimator: 'biased' | 'unbiased';

  constructor(opts: InfoVaeOptions<E, D>) {
    const who = opts?.name ?? 'InfoVAE';
    super({ ...opts, name: who });
    try {
      if (opts.estimator !== undefined) {
        throw new ValueError(
          `${who}: the MMD term needs reparameterized posterior samples; drop the estimator (use a posterior with rsample, e.g. gaussianEncoder).`,
        );
      }
      this.alpha = checkWeight(opts.alpha ?? 0, 'alpha', who);
      this.lambda = checkWeight(opts.lambda ?? 1000, 'lambda', who);
      if (!(this.lambda > 0)) {
        throw new ValueError(
          `${who}: lambda must be > 0 (the paper's condition), got ${this.lambda}.`,
        );
      }
      if (this.alpha + this.lambda - 1 < 0) {
        throw new ValueError(
          `${who}: alpha + lambda - 1 must be >= 0 (the weight of the MMD term), got alpha=${this.alpha}, lambda=${this.lambda}; raise lambda.`,
        );
      }
      this.kernel = opts.kernel ?? { type: 'rbf' };
      resolveKernel(this.kernel, this.latentFeatures, who);
      this.priorSamples = checkInt(opts.priorSamples ?? 200, 'priorSamples', who, { min: 2 });
      const est = opts.mmdEstimator ?? 'biased';
      if (est !== 'biased' && est !== 'unbiased') {
        throw new ValueError(
          `${who}: mmdEstimator must be 'biased' or 'unbiased', got '${String(est)}'.`,
        );
      }
      this.mmdEstimator = est;
    } catch (e) {
      this.dispose();
      throw e;
    }
  }

  /** The weight of KL(q(z|x) || p(z)) in the loss: 1 - alpha. */
  get klWeight(): number {
    return 1 - this.alpha;
  }

  /** The weight of MMD^2(q(z), p(z)) in the loss: alpha + lambda - 1. */
  get mmdWeight(): number {
    return this.alpha + this.lambda - 1;
  }

  /**
   * The loss's three terms at one draw (differentiable). `k` posterior samples per example
   * (default 1).
   */
  terms(x: Tensor, opts: { rng: LossOptions['rng']; k?: number }): InfoVaeTerms {
    const who = `${this.kind}.terms`;
    const rng = checkRng(opts?.rng, who);
    const k = checkInt(opts.k ?? 1, 'k', who);
    const q = this.encode(x);
    try {
      if (!q.hasRsample) {
        throw new ValueError(
          `${who}: the posterior (${q.constructor.name}) has no reparameterized sampler; InfoVAE needs one (e.g. gaussianEncoder).`,
        );
      }
      return tf.tidy(() => {
        const z = q.rsample({ sampleShape: [k], rng }); // [k, B, ...latentShape]
        const recon = tf.mean(this.logLikelihood(z, x)) as tf.Scalar;
        const klg = klGroups(q, this.latentPrior, z);
        if (!klg) throw new ShapeError(`${who}: no KL for the posterior and prior pair.`);
        const kl = tf.mean(tf.sum(klg.groups, -1)) as tf.Scalar;
        const f = this.latentFeatures;
        const zf = tf.reshape(z, [z.size / f, f]);
        const p = this.latentPrior.sample({ sampleShape: [this.priorSamples], rng });
        const pf = tf.reshape(p, [this.priorSamples, f]);
        const mmd = kernelMmd2(zf, pf, { kernel: this.kernel, estimator: this.mmdEstimator });
        return { recon, kl, mmd } as unknown as tf.TensorContainerObject;
      }) as unknown as InfoVaeTerms;
    } finally {
      q.dispose();
    }
  }

  /**
   * The InfoVAE training loss -E_q[log p(x|z)] + (1 - alpha) KL + (alpha + lambda - 1) MMD^2
   * (batch means). Options: `rng`, `k` (posterior samples per example, default 1); the VAE's
   * `objective`, `klWeight` and `freeBits` do not apply (typed error). Metrics: `elbo`, `recon`,
   * `kl`, `mmd`.
   */
  override loss(x: Tensor, opts: LossOptions): VaeLoss {
    const who = `${this.kind}.loss`;
    if (opts && (opts.objective === 'iwae' || opts.klWeight !== undefined || opts.freeBits)) {
      throw new ValueError(
        `${who}: objective 'iwae', klWeight and freeBits are the VAE's; InfoVAE's weights are alpha and lambda (constructor options).`,
      );
    }
    const t = this.terms(x, opts);
    return tf.tidy(() => {
      const loss = tf.add(
        tf.sub(tf.mul(this.klWeight, t.kl), t.recon),
        tf.mul(this.mmdWeight, t.mmd),
      ) as tf.Scalar;
      const out: VaeLoss = {
        loss,
        metrics: { elbo: tf.sub(t.recon, t.kl), recon: t.recon, kl: t.kl, mmd: t.mmd },
      };
      return out as unknown as tf.TensorContainerObject;
    }) as unknown as VaeLoss;
  }
}
