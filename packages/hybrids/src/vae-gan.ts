/**
 * VAE-GAN (Larsen, Sønderby, Larochelle & Winther, ICML 2016): a VAE whose reconstruction term is
 * measured in a critic's feature space, trained together with the critic's GAN objective.
 * With Dis_l(x) the critic's last hidden features, x~ = Dec(z), z ~ q(z | x) (reparameterised)
 * and x_p = Dec(z_p), z_p ~ p(z):
 * - L_prior = KL(q(z | x) || p(z)), per example;
 * - L_llike = 0.5 ||Dis_l(x) - Dis_l(x~)||^2, per example (a unit-variance Gaussian in feature
 *   space, up to a constant);
 * - the GAN loss with x as real and both x~ and x_p as fakes (non-saturating by default).
 * The encoder minimises L_prior + L_llike, the decoder gamma * L_llike + its GAN loss, the critic
 * its GAN loss (the paper's Algorithm 1; the GAN term does not reach the encoder). The VAE keeps
 * its own pixel likelihood, so its ELBO can be reported beside sample scores.
 */
import {
  type Critic,
  fmtShape,
  kl,
  Module,
  Rng,
  ShapeError,
  tf,
  ValueError,
} from '@dgm-js/core-tensors';
import { type GanLoss, type GanLossName, ganLoss } from '@dgm-js/gan';
import type { VAE } from '@dgm-js/vae';
import type { AnyModule, LoopContext } from './flowgan-loop.js';

type Tensor = tf.Tensor;
type Scalar = tf.Scalar;

/** Options of {@link VaeGan}. */
export interface VaeGanOptions {
  /** A VAE with a reparameterisable posterior over `[D]`-vector data (e.g. `GaussianVAE.mlp`). */
  vae: VAE;
  /** The critic over `[D]` examples. */
  critic: AnyModule & Critic;
  /**
   * Dis_l: the critic's feature map the reconstruction is measured in, `[N, D] -> [N, F]`.
   * Default: the critic's `layers` (the last hidden layer of `MlpCritic`).
   */
  features?: (x: Tensor) => Tensor;
  /** The decoder's weight of L_llike against its GAN loss. Default 1. */
  gamma?: number;
  /** The GAN loss. Default 'non-saturating' (the paper's). */
  loss?: GanLossName | GanLoss;
}

/** The per-batch terms (scalars the caller owns). */
export interface VaeGanTerms {
  /** Mean KL(q(z | x) || p(z)). */
  kl: Scalar;
  /** Mean 0.5 ||Dis_l(x) - Dis_l(x~)||^2. */
  llike: Scalar;
  /** The decoder's GAN loss on x~ and x_p. */
  ganG: Scalar;
  /** The critic's GAN loss (real x, fakes x~ and x_p). */
  ganD: Scalar;
}

/**
 * The VAE-GAN model: the objectives of its three players and a training step. Train it with
 * {@link VaeGanTrainer}; `vae.elbo(x, { rng })` is its ELBO, `sample` its samples.
 *
 * @example
 * ```ts
 * const rng = new Rng(0);
 * const model = new VaeGan({
 *   vae: GaussianVAE.mlp({ inputDim: 784, hidden: [256], latentDim: 16, rng }),
 *   critic: new MlpCritic({ inputShape: 784, hidden: [256, 128], rng }),
 * });
 * ```
 */
export class VaeGan extends Module {
  readonly vae: VAE;
  readonly critic: AnyModule & Critic;
  readonly gamma: number;
  readonly loss: GanLoss;
  readonly dim: number;
  private readonly dis: (x: Tensor) => Tensor;

  constructor(opts: VaeGanOptions) {
    super('VaeGan');
    const who = 'VaeGan';
    if (!opts?.vae || typeof opts.vae.encode !== 'function' || !(opts.vae instanceof Module)) {
      throw new ValueError(
        `${who}: options.vae must be a VAE of @dgm-js/vae (e.g. GaussianVAE.mlp(...)).`,
      );
    }
    const c = opts.critic;
    if (!c || typeof c.score !== 'function' || typeof c.namedParameters !== 'function') {
      throw new ValueError(
        `${who}: options.critic must be a critic module (e.g. MlpCritic of @dgm-js/gan).`,
      );
    }
    if (c.numClasses !== undefined || c.inputShape.length !== 1) {
      throw new ShapeError(
        `${who}: the critic must be unconditional over [D] vectors, got inputShape ${fmtShape(c.inputShape)}${c.numClasses === undefined ? '' : ' with labels'}; flatten the images.`,
      );
    }
    const gamma = opts.gamma ?? 1;
    if (!(Number.isFinite(gamma) && gamma >= 0)) {
      throw new ValueError(`${who}: gamma must be a finite number >= 0, got ${gamma}.`);
    }
    let dis = opts.features;
    if (dis === undefined) {
      const layers = (c as unknown as { layers?: { apply?: (x: Tensor) => Tensor } }).layers;
      if (!layers || typeof layers.apply !== 'function') {
        throw new ValueError(
          `${who}: this critic has no 'layers' to take features from; pass options.features, x => Dis_l(x).`,
        );
      }
      dis = (x) => layers.apply!(x);
    } else if (typeof dis !== 'function') {
      throw new ValueError(`${who}: options.features must be a function x => Dis_l(x).`);
    }
    const loss = ganLoss(opts.loss ?? 'non-saturating'); // checked before the modules are adopted
    this.vae = this.addModule(
      'vae',
      opts.vae as unknown as Module<never, unknown>,
    ) as unknown as VAE;
    this.critic = this.addModule('critic', c);
    this.gamma = gamma;
    this.loss = loss;
    this.dim = c.inputShape[0]!;
    this.dis = dis;
  }

  private checkX(x: Tensor, who: string): void {
    if (!(x instanceof tf.Tensor) || x.rank !== 2 || x.shape[1] !== this.dim) {
      throw new ShapeError(
        `${this.label}.${who}: x must be [N, ${this.dim}], got ${x instanceof tf.Tensor ? fmtShape(x.shape) : typeof x}.`,
      );
    }
  }

  /** The decoder's mean at latents z `[N, d]`: `[N, D]`, differentiable. */
  decodeMean(z: Tensor): Tensor {
    const px = this.vae.decode(z);
    try {
      return tf.tidy(() => tf.reshape(px.mean, [z.shape[0]!, this.dim]));
    } finally {
      px.dispose();
    }
  }

  /**
   * Every term at one set of draws (the posterior sample and the prior sample come from `rng`, so
   * the same `rng` state gives the same terms).
   */
  terms(x: Tensor, rng: Rng): VaeGanTerms {
    this.checkX(x, 'terms');
    const n = x.shape[0]!;
    const q = this.vae.encode(x);
    const prior = this.vae.prior();
    try {
      return tf.tidy(() => {
        const z = q.rsample({ rng });
        const klv = tf.mean(kl(q, prior)) as Scalar;
        const xt = this.decodeMean(z);
        const zp = prior.sample({ sampleShape: [n], rng });
        const xp = this.decodeMean(zp);
        const fx = this.dis(x);
        const fxt = this.dis(xt);
        const llike = tf.mean(tf.mul(0.5, tf.sum(tf.square(tf.sub(fx, fxt)), 1))) as Scalar;
        const sReal = this.critic.score(x);
        const sFake = this.critic.score(tf.concat([xt, xp], 0));
        return {
          kl: klv,
          llike,
          ganG: this.loss.generator(sFake),
          ganD: this.loss.critic(sReal, sFake),
        };
      }) as unknown as VaeGanTerms;
    } finally {
      q.dispose();
      prior.dispose();
    }
  }

  /** The encoder's loss: KL + L_llike. */
  encoderLoss(t: VaeGanTerms): Scalar {
    return tf.add(t.kl, t.llike) as Scalar;
  }

  /** The decoder's loss: gamma * L_llike + its GAN loss. */
  decoderLoss(t: VaeGanTerms): Scalar {
    return tf.tidy(() => tf.add(tf.mul(this.gamma, t.llike), t.ganG) as Scalar);
  }

  /**
   * One step through a loop's `update`: the encoder, the decoder and the critic each minimise
   * their loss at the same draws (the loop's players 'encoder', 'decoder', 'critic').
   */
  trainStep(ctx: LoopContext, data: (rng: Rng) => Tensor): Record<string, number> {
    const x = data(ctx.rng.split());
    const draws = ctx.rng.split().getState();
    const at = () => Rng.fromState(draws);
    const run = (player: string, pick: (t: VaeGanTerms) => Scalar) =>
      ctx.update(player, (parts) => {
        const t = this.terms(x, at());
        const out = pick(t);
        // copies: the loop keeps the parts and frees them with the loss
        parts.push(...[t.kl, t.llike, t.ganG, t.ganD].map((v) => tf.clone(v)));
        return out; // the rest is freed by the tape's scope
      });
    try {
      const e = run('encoder', (t) => this.encoderLoss(t));
      run('decoder', (t) => this.decoderLoss(t));
      const d = run('critic', (t) => t.ganD);
      return { kl: e[1]!, llike: e[2]!, ganG: e[3]!, ganD: d[0]! };
    } finally {
      x.dispose();
    }
  }

  /** n samples: the decoder's mean at z ~ p(z), `[n, D]`. */
  sample(opts: { sampleShape?: number[]; rng: Rng }): Tensor {
    const n = opts?.sampleShape?.[0] ?? 1;
    return this.vae.sample(n, { rng: opts.rng });
  }

  /** The critic's score (so the model is a Module). */
  apply(x: Tensor): Tensor {
    return this.critic.score(x);
  }
}
