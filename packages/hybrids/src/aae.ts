/**
 * The adversarial autoencoder (Makhzani, Shlens, Jaitly, Goodfellow & Frey, "Adversarial
 * Autoencoders", 2015): an autoencoder whose aggregate posterior q(z) = E_pdata[q(z|x)] is matched
 * to a prior p(z) by a GAN in latent space. The critic (any `Critic` of `@dgm-js/gan`, e.g. an
 * `MlpCritic` on the latent) tells prior samples from codes; the encoder is the generator. Losses
 * and penalties are `@dgm-js/gan`'s; the decoder is any `ConditionalDistribution` (e.g.
 * `bernoulliDecoder` of `@dgm-js/vae`), the Gaussian encoder `gaussianEncoder` of `@dgm-js/vae`.
 */
import {
  type ConditionalDistribution,
  type Critic,
  checkRng,
  fmtShape,
  Module,
  type Rng,
  ShapeError,
  stopGradient,
  tf,
  ValueError,
} from '@dgm-js/core-tensors';
import { type GanLoss, type GanLossName, ganLoss, gradientPenalty } from '@dgm-js/gan';
import { GaussianEncoder, type TensorModule } from '@dgm-js/vae';
import { drawPrior, type LatentSampler } from './aae-priors.js';
import type { LoopContext } from './flowgan-loop.js';

type Tensor = tf.Tensor;
type Scalar = tf.Scalar;

/** Options of {@link AAE}. */
export interface AaeOptions {
  /**
   * x `[B, ...]` -> `[B, latentDim]` codes ('deterministic'), or `[B, 2 latentDim]` (means, then
   * pre-softplus scales) of q(z|x) = N(mu, sigma^2) ('gaussian', via `@dgm-js/vae`'s GaussianEncoder).
   */
  encoder: TensorModule;
  /** 'deterministic' (default; the paper's MNIST choice) or 'gaussian'. */
  posterior?: 'deterministic' | 'gaussian';
  /** p(x | z): latents `[N, latentDim]` -> a distribution of batch `[N]` (e.g. bernoulliDecoder(net)). */
  decoder: ConditionalDistribution<Tensor>;
  /** The latent critic: `score(z [N, latentDim]) -> [N]` (e.g. `new MlpCritic({ inputShape: latentDim, ... })`). */
  critic: Critic;
  /** p(z): a Distribution with event `[latentDim]` or a sampler `(n, rng) => [n, latentDim]`. */
  prior: LatentSampler;
  latentDim: number;
  /** The adversarial loss (`@dgm-js/gan`). Default 'non-saturating' (the paper's GAN). */
  loss?: GanLossName | GanLoss;
  /** A WGAN-GP penalty on the critic (with the 'wasserstein' loss). Default none. */
  gradientPenalty?: { weight?: number };
}

/** The optimisers of {@link AAE.step}: the reconstruction phase's, the critic's, the encoder's (regularisation phase). */
export interface AaeOptimizers {
  autoencoder: tf.Optimizer;
  critic: tf.Optimizer;
  encoder: tf.Optimizer;
}

/** The terms of one AAE step at one draw (scalars). */
export interface AaeTerms {
  /** -E[log p(x | z)] at z = enc(x) (batch mean). */
  recon: Scalar;
  /** The critic's loss (prior samples real, codes fake), penalty included. */
  critic: Scalar;
  /** The encoder's adversarial loss (the generator side). */
  generator: Scalar;
}

/**
 * The adversarial autoencoder. Training (`step`) follows the paper: a reconstruction phase
 * (encoder and decoder minimise -log p(x | enc(x))), then a regularisation phase (the critic
 * learns prior samples from codes, then the encoder fools it). `encoderLoss(x, { advWeight })`
 * is the joint alternative: recon + advWeight * the encoder's adversarial loss, at one draw.
 *
 * @example
 * ```ts
 * import { mlp, Rng, tf } from '@dgm-js/core-tensors';
 * import { MlpCritic } from '@dgm-js/gan';
 * import { bernoulliDecoder } from '@dgm-js/vae';
 * import { AAE, gaussianMixturePrior } from '@dgm-js/hybrids';
 * const rng = new Rng(0);
 * const aae = new AAE({
 *   encoder: mlp([784, 512, 2], { rng, activation: 'relu' }),
 *   decoder: bernoulliDecoder(mlp([2, 512, 784], { rng, activation: 'relu' })),
 *   critic: new MlpCritic({ inputShape: 2, hidden: [256, 256], rng }),
 *   prior: gaussianMixturePrior(10),
 *   latentDim: 2,
 * });
 * const opts = { autoencoder: tf.train.adam(1e-3), critic: tf.train.adam(2e-4, 0.5), encoder: tf.train.adam(2e-4, 0.5) };
 * const m = aae.step(x, opts, { rng }); // { recon, critic, generator } numbers; x: [B, 784]
 * ```
 */
export class AAE extends Module<Tensor, Tensor> {
  readonly encoder: TensorModule | GaussianEncoder;
  readonly decoder: ConditionalDistribution<Tensor>;
  readonly critic: Critic;
  readonly prior: LatentSampler;
  readonly latentDim: number;
  readonly posteriorType: 'deterministic' | 'gaussian';
  readonly ganLoss: GanLoss;
  readonly penaltyWeight: number | undefined;

  constructor(opts: AaeOptions) {
    const who = 'AAE';
    super(who);
    if (!opts || !(opts.encoder instanceof Module)) {
      throw new ValueError(
        `${who}: encoder must be a module x -> codes (e.g. mlp([784, 512, 2], { rng })).`,
      );
    }
    if (typeof opts.decoder?.condition !== 'function') {
      throw new ValueError(
        `${who}: decoder must be a ConditionalDistribution (e.g. bernoulliDecoder(net)).`,
      );
    }
    if (typeof opts.critic?.score !== 'function') {
      throw new ValueError(
        `${who}: critic must be a Critic with score(z) (e.g. new MlpCritic({ inputShape: latentDim, hidden: [256], rng })).`,
      );
    }
    const p = opts.prior as LatentSampler | undefined;
    if (!(typeof p === 'function' || (p && typeof p.sample === 'function'))) {
      throw new ValueError(
        `${who}: prior must be a Distribution or a sampler (n, rng) => [n, latentDim] (e.g. stdNormal(d), gaussianMixturePrior(10)).`,
      );
    }
    if (!Number.isInteger(opts.latentDim) || opts.latentDim < 1) {
      throw new ValueError(
        `${who}: latentDim must be an integer >= 1, got ${String(opts.latentDim)}.`,
      );
    }
    if (typeof p !== 'function' && p.eventShape.join() !== String(opts.latentDim)) {
      throw new ShapeError(
        `${who}: the prior's event shape ${fmtShape(p.eventShape)} must be [latentDim] = [${opts.latentDim}].`,
      );
    }
    const post = opts.posterior ?? 'deterministic';
    if (post !== 'deterministic' && post !== 'gaussian') {
      throw new ValueError(
        `${who}: posterior must be 'deterministic' or 'gaussian', got '${String(post)}'.`,
      );
    }
    const gp = opts.gradientPenalty;
    if (
      gp !== undefined &&
      !(gp.weight === undefined || (gp.weight >= 0 && Number.isFinite(gp.weight)))
    ) {
      throw new ValueError(
        `${who}: gradientPenalty.weight must be a finite number >= 0, got ${String(gp.weight)}.`,
      );
    }
    this.ganLoss = ganLoss(opts.loss ?? 'non-saturating');
    this.latentDim = opts.latentDim;
    this.posteriorType = post;
    this.penaltyWeight = gp === undefined ? undefined : (gp.weight ?? 10);
    this.encoder = this.addModule(
      'encoder',
      post === 'gaussian'
        ? new GaussianEncoder(opts.encoder, { latentDim: opts.latentDim })
        : opts.encoder,
    );
    this.decoder = opts.decoder;
    if (opts.decoder instanceof Module) this.addModule('decoder', opts.decoder);
    this.critic = opts.critic;
    if (opts.critic instanceof Module) this.addModule('critic', opts.critic);
    this.prior = p;
  }

  /** The parameters of the encoder and the decoder (the reconstruction phase's). */
  autoencoderParameters(): tf.Variable[] {
    const dec = this.decoder instanceof Module ? this.decoder.trainableParameters() : [];
    return [...this.encoder.trainableParameters(), ...dec];
  }

  /** The encoder's parameters (the regularisation phase's generator). */
  encoderParameters(): tf.Variable[] {
    return this.encoder.trainableParameters();
  }

  /** The critic's parameters. */
  criticParameters(): tf.Variable[] {
    return this.critic instanceof Module ? this.critic.trainableParameters() : [];
  }

  /** Codes `[B, latentDim]`: enc(x), or a reparameterized draw of q(z | x) (`rng` needed). */
  encode(x: Tensor, opts: { rng?: Rng; mode?: boolean } = {}): Tensor {
    const who = 'AAE.encode';
    if (!(x instanceof tf.Tensor) || x.rank < 2) {
      throw new ShapeError(
        `${who}: x must be a batch [B, ...], got ${x instanceof tf.Tensor ? fmtShape(x.shape) : typeof x}.`,
      );
    }
    if (this.encoder instanceof GaussianEncoder) {
      const q = this.encoder.condition(x);
      try {
        if (opts.mode) return tf.clone(q.mode);
        return q.rsample({ rng: checkRng(opts.rng, who) });
      } finally {
        q.dispose();
      }
    }
    const z = (this.encoder as TensorModule).apply(x);
    if (z.rank !== 2 || z.shape[1] !== this.latentDim) {
      const s = fmtShape(z.shape);
      z.dispose();
      throw new ShapeError(
        `${who}: the encoder returned ${s}; it must return [B, latentDim = ${this.latentDim}].`,
      );
    }
    return z;
  }

  /** -mean log p(x | z) for codes z `[B, latentDim]`. */
  private nll(z: Tensor, x: Tensor): Scalar {
    const px = this.decoder.condition(z);
    try {
      return tf.tidy(() => {
        const b = x.shape[0]!;
        const xr = tf.reshape(x, [b, ...px.eventShape]);
        return tf.neg(tf.mean(px.logProb(xr))) as Scalar;
      });
    } finally {
      px.dispose();
    }
  }

  /** n prior draws `[n, latentDim]`, checked. */
  samplePrior(n: number, rng: Rng): Tensor {
    const z = drawPrior(this.prior, n, rng);
    if (z.rank !== 2 || z.shape[0] !== n || z.shape[1] !== this.latentDim) {
      const s = fmtShape(z.shape);
      z.dispose();
      throw new ShapeError(
        `AAE: the prior returned ${s} for ${n} draws; it must return [${n}, ${this.latentDim}].`,
      );
    }
    return z;
  }

  /** The critic's loss: prior draws are real, codes (no gradient into the encoder) fake. */
  private criticTerm(z: Tensor, rng: Rng): Scalar {
    return tf.tidy(() => {
      const fake = stopGradient(z);
      const real = this.samplePrior(z.shape[0]!, rng);
      let l = this.ganLoss.critic(this.critic.score(real), this.critic.score(fake));
      if (this.penaltyWeight !== undefined) {
        const gp = gradientPenalty((t) => this.critic.score(t), real, fake, {
          rng,
          weight: this.penaltyWeight,
        });
        l = tf.add(l, gp) as Scalar;
      }
      return l;
    });
  }

  /**
   * The three terms at one draw: codes z (one draw of the random stream for a Gaussian encoder),
   * then the prior draws of the critic's term (and the penalty's weights).
   */
  terms(x: Tensor, opts: { rng: Rng }): AaeTerms {
    const rng = checkRng(opts?.rng, 'AAE.terms');
    return tf.tidy(() => {
      const z = this.encode(x, { rng });
      const recon = this.nll(z, x);
      const generator = this.ganLoss.generator(this.critic.score(z));
      const critic = this.criticTerm(z, rng);
      return { recon, critic, generator } as unknown as tf.TensorContainerObject;
    }) as unknown as AaeTerms;
  }

  /** recon + advWeight * the encoder's adversarial loss, at one code draw (the joint encoder objective). */
  encoderLoss(x: Tensor, opts: { rng: Rng; advWeight?: number }): Scalar {
    const rng = checkRng(opts?.rng, 'AAE.encoderLoss');
    const w = opts.advWeight ?? 1;
    if (!(typeof w === 'number' && w >= 0 && Number.isFinite(w))) {
      throw new ValueError(
        `AAE.encoderLoss: advWeight must be a finite number >= 0, got ${String(w)}.`,
      );
    }
    return tf.tidy(() => {
      const z = this.encode(x, { rng });
      return tf.add(
        this.nll(z, x),
        tf.mul(w, this.ganLoss.generator(this.critic.score(z))),
      ) as Scalar;
    });
  }

  /**
   * One training step on the batch x (the paper's schedule): the reconstruction phase updates
   * encoder and decoder, then the critic is updated `nCritic` times (default 1), then the
   * encoder once against it. Returns the losses (numbers) before each update.
   */
  step(
    x: Tensor,
    optimizers: AaeOptimizers,
    opts: { rng: Rng; nCritic?: number },
  ): { recon: number; critic: number; generator: number } {
    const who = 'AAE.step';
    const rng = checkRng(opts?.rng, who);
    const o = optimizers;
    if (!o || !o.autoencoder || !o.critic || !o.encoder) {
      throw new ValueError(
        `${who}: pass optimizers { autoencoder, critic, encoder } (tf.train.adam(...) each).`,
      );
    }
    const nCritic = opts.nCritic ?? 1;
    if (!Number.isInteger(nCritic) || nCritic < 1) {
      throw new ValueError(`${who}: nCritic must be an integer >= 1, got ${String(nCritic)}.`);
    }
    const run = (opt: tf.Optimizer, vars: tf.Variable[], f: () => Scalar): number =>
      tf.tidy(() => {
        const l = opt.minimize(f, true, vars) as Scalar;
        return l.dataSync()[0]!;
      });
    const vars = {
      autoencoder: () => this.autoencoderParameters(),
      critic: () => this.criticParameters(),
      encoder: () => this.encoderParameters(),
    };
    return this.phases(x, rng, nCritic, (p, f) => run(o[p], vars[p](), f));
  }

  /**
   * The paper's schedule on the batch x, each update done by `update(player, loss)` (the
   * optimizer's own `minimize` in {@link step}, an `AdversarialLoop`'s in {@link trainStep}).
   */
  private phases(
    x: Tensor,
    rng: Rng,
    nCritic: number,
    update: (player: keyof AaeOptimizers, f: () => Scalar) => number,
  ): { recon: number; critic: number; generator: number } {
    const recon = update('autoencoder', () => this.nll(this.encode(x, { rng }), x));
    let critic = 0;
    for (let i = 0; i < nCritic; i++) {
      critic = update('critic', () => this.criticTerm(this.encode(x, { rng }), rng));
    }
    const generator = update('encoder', () =>
      this.ganLoss.generator(this.critic.score(this.encode(x, { rng }))),
    );
    return { recon, critic, generator };
  }

  /**
   * One training step through an `AdversarialLoop`'s `update` (see `AaeTrainer`), whose
   * players are named 'autoencoder', 'critic' and 'encoder': a batch `data(ctx.rng.split())`,
   * then {@link step}'s schedule with the rest of `ctx.rng`.
   */
  trainStep(
    ctx: LoopContext,
    data: (rng: Rng) => Tensor,
    opts: { nCritic?: number } = {},
  ): { recon: number; critic: number; generator: number } {
    const nCritic = opts.nCritic ?? 1;
    if (!Number.isInteger(nCritic) || nCritic < 1) {
      throw new ValueError(
        `AAE.trainStep: nCritic must be an integer >= 1, got ${String(nCritic)}.`,
      );
    }
    const x = data(ctx.rng.split());
    try {
      return this.phases(x, ctx.rng, nCritic, (p, f) => ctx.update(p, () => f())[0]!);
    } finally {
      x.dispose();
    }
  }

  /** n samples: z ~ p(z), then the mean of p(x | z): `[n, ...event]`. */
  sample(n: number, opts: { rng: Rng }): Tensor {
    const rng = checkRng(opts?.rng, 'AAE.sample');
    return tf.tidy(() => {
      const px = this.decoder.condition(this.samplePrior(n, rng));
      try {
        return tf.clone(px.mean);
      } finally {
        px.dispose();
      }
    });
  }

  /** Reconstruction: the mean of p(x | z) at the code (the mean of q(z|x) for a Gaussian encoder). */
  apply(x: Tensor): Tensor {
    return tf.tidy(() => {
      const px = this.decoder.condition(this.encode(x, { mode: true }));
      try {
        return tf.clone(px.mean);
      } finally {
        px.dispose();
      }
    });
  }

  /** Disposes the modules and a prior that is a distribution. */
  override dispose(): void {
    if (this.isDisposed) return;
    super.dispose();
    if (!(this.decoder instanceof Module)) (this.decoder as { dispose?(): void }).dispose?.();
    if (typeof this.prior !== 'function') this.prior.dispose();
  }
}
