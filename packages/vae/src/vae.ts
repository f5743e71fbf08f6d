/**
 * Variational autoencoders (Kingma & Welling 2014; Rezende, Mohamed & Wierstra 2014) with
 * Gaussian, Bernoulli and categorical latents. The encoder and decoder are any modules; the VAE
 * reads the encoder's output as the parameters of q(z | x) and the decoder's as those of p(x | z).
 */
import {
  type Activation,
  type Distribution,
  fmtShape,
  logSumExp,
  Module,
  mlp,
  type Objective,
  type Rng,
  ShapeError,
  type StepContext,
  softplus,
  tf,
  ValueError,
} from '@dgm-js/core-tensors';
import { detach } from '@dgm-js/estimators';
import { ownedBernoulli, ownedNormal } from './distributions.js';
import { klWeightAt } from './schedules.js';
import type {
  BoundOptions,
  ElboOptions,
  ElboTerms,
  LatentVariableModel,
  Likelihood,
  LossOptions,
  TrainOptions,
  VaeLoss,
} from './types.js';

type Tensor = tf.Tensor;
/** Any module from a tensor to a tensor (encoders and decoders). */
export type TensorModule = Module<tf.Tensor, tf.Tensor>;

const HALF_LOG_2PI = 0.5 * Math.log(2 * Math.PI);

/** Options every VAE takes. */
export interface VaeOptions {
  /** x `[B, ...xShape]` -> the parameters of q(z | x), `[B, encoderOutputs]` (see each VAE). */
  encoder: TensorModule;
  /** z `[N, latentFeatures]` -> the parameters of p(x | z), `[N, ...]` with as many values as x has per example. */
  decoder: TensorModule;
  /** The likelihood the decoder parameterizes. Default 'bernoulli'. */
  likelihood?: Likelihood;
}

/** Options of {@link VAE.sample}. */
export interface SampleOptions {
  rng: Rng;
  /**
   * 'mean' (default): the mean of p(x | z) (pixel probabilities for a Bernoulli likelihood), the
   * usual picture of samples; 'sample': a draw from p(x | z).
   */
  output?: 'mean' | 'sample';
  /** Reshape each sample to this shape (e.g. `[28, 28]` for an image grid). */
  shape?: readonly number[];
}

/** Options of {@link VAE.reconstruct}. */
export interface ReconstructOptions {
  rng: Rng;
  /** 'mode' (default): decode the mode of q(z | x); 'sample': an exact sample of it. */
  latent?: 'mode' | 'sample';
  shape?: readonly number[];
}

/** Checks `v` is an integer >= 1 (else a ValueError naming it). */
export function checkInt(v: unknown, name: string, who: string, hint = ''): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) {
    throw new ValueError(`${who}: ${name} must be an integer >= 1, got ${String(v)}.${hint}`);
  }
  return v;
}

function checkRng(rng: unknown, who: string): Rng {
  if (!rng || typeof (rng as Rng).next !== 'function') {
    throw new ValueError(`${who}: pass the random stream, e.g. { rng: new Rng(0) }.`);
  }
  return rng as Rng;
}

function checkLikelihood(l: Likelihood | undefined, who: string): Likelihood {
  const lik = l ?? 'bernoulli';
  if (lik === 'bernoulli') return lik;
  if (
    typeof lik === 'object' &&
    lik.type === 'gaussian' &&
    Number.isFinite(lik.scale) &&
    lik.scale > 0
  )
    return lik;
  throw new ValueError(
    `${who}: likelihood must be 'bernoulli' or { type: 'gaussian', scale: <number > 0> }, got ${JSON.stringify(lik)}.`,
  );
}

/** mean over axis 0 of log-weights in log space: log (1/k) sum_k exp(lw_k). */
export function logMeanExp(lw: Tensor, axis = 0): Tensor {
  return tf.tidy(() => tf.sub(logSumExp(lw, axis), Math.log(lw.shape[axis] as number)));
}

/**
 * The base of the VAEs: the bounds (ELBO, IWAE), sampling, reconstructions and interpolations,
 * for any latent family. Subclasses say how the encoder's output parameterizes q(z | x), how to
 * sample it exactly, its log-density, the prior and the analytic KL, and how to train.
 */
export abstract class VAE extends Module<Tensor, Tensor> implements LatentVariableModel {
  readonly encoder: TensorModule;
  readonly decoder: TensorModule;
  readonly likelihood: Likelihood;
  /** The shape of one latent (`[d]`, or `[n, C]` for categorical latents). */
  abstract readonly latentShape: readonly number[];

  protected constructor(kind: string, opts: VaeOptions) {
    super(kind);
    if (!opts || !(opts.encoder instanceof Module) || !(opts.decoder instanceof Module)) {
      throw new ValueError(
        `${kind}: pass { encoder, decoder } modules (e.g. from mlp([...], { rng })).`,
      );
    }
    this.likelihood = checkLikelihood(opts.likelihood, kind);
    this.encoder = this.addModule('encoder', opts.encoder);
    this.decoder = this.addModule('decoder', opts.decoder);
  }

  /** Number of values in one latent (the decoder's input width). */
  get latentFeatures(): number {
    return this.latentShape.reduce((a, b) => a * b, 1);
  }

  // ---- what a latent family defines ---------------------------------------------------------

  /** The encoder's output for x `[B, ...]` turned into q's parameters, `[B, ...]`. */
  protected abstract posteriorParams(h: Tensor): Tensor;
  /** Exact samples `[s, B, ...latentShape]` of q (no gradient). */
  protected abstract sampleQ(params: Tensor, s: number, rng: Rng): Tensor;
  /** log q(z | x) `[s, B]` of samples `[s, B, ...latentShape]`. */
  protected abstract logQ(params: Tensor, z: Tensor): Tensor;
  /** log p(z) `[...]` of latents `[..., ...latentShape]`. */
  protected abstract logPrior(z: Tensor): Tensor;
  /** Analytic KL(q || p) per latent group, `[B, groups]`. */
  protected abstract klGroups(params: Tensor): Tensor;
  /** The mode of q, `[B, ...latentShape]`. */
  protected abstract modeQ(params: Tensor): Tensor;
  /** Exact samples `[n, ...latentShape]` of the prior. */
  protected abstract samplePrior(n: number, rng: Rng): Tensor;
  /** q(z | x) as a distribution owning `params`. */
  protected abstract posteriorDistribution(params: Tensor): Distribution;
  abstract prior(): Distribution;
  /** The training loss (see {@link TrainOptions}). */
  abstract loss(x: Tensor, opts: LossOptions): VaeLoss;

  // ---- shared machinery ---------------------------------------------------------------------

  /** Checks x is `[B, ...]` with B >= 1 and float32. */
  protected checkX(x: Tensor, who: string): void {
    if (!(x instanceof tf.Tensor))
      throw new ValueError(`${who}: x must be a tf.Tensor [batch, ...].`);
    if (x.isDisposed) throw new ValueError(`${who}: x is a disposed tensor.`);
    if (x.rank < 2 || (x.shape[0] as number) < 1) {
      throw new ShapeError(
        `${who}: x has shape ${fmtShape(x.shape)}; pass a batch [batch, ...features] (add a leading axis for one example: tf.expandDims(x, 0)).`,
      );
    }
    if (x.dtype !== 'float32') throw new ValueError(`${who}: x must be float32, got ${x.dtype}.`);
  }

  /** q's parameters for x. */
  protected qParams(x: Tensor, who: string): Tensor {
    this.checkX(x, who);
    return tf.tidy(() => {
      const h = this.encoder.apply(x);
      if (h.shape[0] !== x.shape[0]) {
        throw new ShapeError(
          `${who}: the encoder returned ${fmtShape(h.shape)} for x ${fmtShape(x.shape)}; it must keep the batch axis.`,
        );
      }
      return this.posteriorParams(h);
    });
  }

  /** Checks latents `[..., ...latentShape]` and returns the leading shape. */
  protected leadingOf(z: Tensor, who: string): number[] {
    const ls = this.latentShape;
    const r = ls.length;
    const ok = z.rank >= r && ls.every((d, i) => z.shape[z.rank - r + i] === d);
    if (!ok) {
      throw new ShapeError(
        `${who}: z has shape ${fmtShape(z.shape)}; latents must end in the latent shape ${fmtShape(ls)} ([..., ${ls.join(', ')}]).`,
      );
    }
    return z.shape.slice(0, z.rank - r);
  }

  /** The decoder's output for latents `[..., ...latentShape]`: `[..., D]` (flat per example). */
  protected decodeParams(z: Tensor, who = 'decode'): Tensor {
    const lead = this.leadingOf(z, who);
    return tf.tidy(() => {
      const n = lead.reduce((a, b) => a * b, 1);
      const out = this.decoder.apply(tf.reshape(z, [n, this.latentFeatures]));
      return tf.reshape(out, [...lead, out.size / Math.max(n, 1)]);
    });
  }

  /** log p(x | z) `[...lead]` from decoder outputs `[...lead, D]` and x `[B, ...]` (lead ends in B). */
  protected logLikelihood(out: Tensor, x: Tensor): Tensor {
    return tf.tidy(() => {
      const b = x.shape[0] as number;
      const d = x.size / b;
      if (out.shape[out.rank - 1] !== d) {
        throw new ShapeError(
          `${this.kind}: the decoder returned ${out.shape[out.rank - 1]} values per example but x has ${d} (${fmtShape(x.shape)}); size the decoder's last layer to ${d}.`,
        );
      }
      const xf = tf.reshape(x, [b, d]);
      if (this.likelihood === 'bernoulli') {
        return tf.sum(tf.sub(tf.mul(xf, out), softplus(out)), -1);
      }
      const s = this.likelihood.scale;
      const zsc = tf.div(tf.sub(xf, out), s);
      return tf.sub(tf.mul(-0.5, tf.sum(tf.square(zsc), -1)), d * (Math.log(s) + HALF_LOG_2PI));
    });
  }

  /** The mean of p(x | z) from decoder outputs. */
  protected outputMean(out: Tensor): Tensor {
    return this.likelihood === 'bernoulli' ? tf.sigmoid(out) : tf.clone(out);
  }

  /** q(z | x): a distribution with batch shape `[B]` and event shape `latentShape`. The caller owns it. */
  encode(x: Tensor): Distribution {
    return this.posteriorDistribution(this.qParams(x, `${this.kind}.encode`));
  }

  /**
   * p(x | z) for latents `[..., ...latentShape]`: batch shape `[...]`, event `[D]` (x flattened
   * per example). The caller owns it.
   */
  decode(z: Tensor): Distribution {
    const out = this.decodeParams(z, `${this.kind}.decode`);
    if (this.likelihood === 'bernoulli') return ownedBernoulli(out, 1);
    const scale = tf.fill(out.shape, this.likelihood.scale);
    return ownedNormal(out, scale, 1);
  }

  /** The ELBO, its reconstruction term and its analytic KL, one value per example. */
  elboTerms(x: Tensor, opts: ElboOptions): ElboTerms {
    const who = `${this.kind}.elbo`;
    const rng = checkRng(opts?.rng, who);
    const s = checkInt(opts.samples ?? 1, 'samples', who);
    const p = this.qParams(x, who);
    try {
      const [elbo, recon, kl] = tf.tidy(() => {
        const z = this.sampleQ(p, s, rng);
        const rec = tf.mean(this.logLikelihood(this.decodeParams(z, who), x), 0);
        const k = tf.sum(this.klGroups(p), -1);
        return [tf.sub(rec, k), rec, k];
      });
      return { elbo: elbo as Tensor, recon: recon as Tensor, kl: kl as Tensor };
    } finally {
      p.dispose();
    }
  }

  /**
   * The ELBO, E_q[log p(x | z)] - KL(q(z | x) || p(z)), one value per example `[B]`: exact
   * latent samples (`samples` of them, default 1) and the analytic KL.
   */
  elbo(x: Tensor, opts: ElboOptions): Tensor {
    const t = this.elboTerms(x, opts);
    t.recon.dispose();
    t.kl.dispose();
    return t.elbo;
  }

  /** log p(x, z_i) - log q(z_i | x) for k exact samples z_i ~ q(z | x): `[k, B]`. */
  logWeights(x: Tensor, k: number, opts: BoundOptions): Tensor {
    const who = `${this.kind}.logWeights`;
    checkInt(k, 'k', who, ' The importance-weighted bound needs at least one sample.');
    const rng = checkRng(opts?.rng, who);
    const p = this.qParams(x, who);
    try {
      return tf.tidy(() => {
        const z = this.sampleQ(p, k, rng);
        const ll = this.logLikelihood(this.decodeParams(z, who), x);
        return tf.sub(tf.add(ll, this.logPrior(z)), this.logQ(p, z));
      });
    } finally {
      p.dispose();
    }
  }

  /**
   * The importance-weighted bound (Burda, Grosse & Salakhutdinov 2016),
   * log (1/k) sum_i p(x, z_i) / q(z_i | x), z_i ~ q(z | x) exactly: `[B]`. Its expectation rises
   * with k towards log p(x); k = 1 is the single-sample ELBO (with a sampled KL). Memory grows
   * with k x B; `estimateLogLikelihood` of `@dgm-js/eval` chunks large k.
   */
  iwae(x: Tensor, k: number, opts: BoundOptions): Tensor {
    checkInt(
      k,
      'k',
      `${this.kind}.iwae`,
      ' The importance-weighted bound needs at least one sample.',
    );
    return tf.tidy(() => logMeanExp(this.logWeights(x, k, opts), 0));
  }

  /** The KL term of the training loss: weight x (sum of per-group KLs, or free bits). */
  protected klTerm(klg: Tensor, opts: TrainOptions, who: string): Tensor {
    const fb = opts.freeBits ?? 0;
    if (typeof fb !== 'number' || !Number.isFinite(fb) || fb < 0) {
      throw new ValueError(
        `${who}: freeBits must be a finite number >= 0 (nats per latent group), got ${String(fb)}.`,
      );
    }
    return tf.tidy(() => {
      if (fb > 0) return tf.sum(tf.maximum(tf.mean(klg, 0), fb));
      return tf.mean(tf.sum(klg, -1));
    });
  }

  /** Checks the training options and returns the KL weight at this step. */
  protected trainSetup(opts: LossOptions, who: string): { rng: Rng; weight: number; step: number } {
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
    return { rng, weight: klWeightAt(opts.klWeight, step, who), step };
  }

  /**
   * A training objective for the `Trainer` of `@dgm-js/core-tensors`: batches are x tensors or
   * `{ x }` records; the step drives KL schedules.
   *
   * @example
   * ```ts
   * const trainer = new Trainer({ model: vae, objective: vae.objective({ klWeight: klWarmup({ steps: 5000 }) }),
   *   data, optimizer: tf.train.adam(1e-3), epochs: 10 });
   * ```
   */
  objective(opts: TrainOptions = {}): Objective<Tensor | { x: Tensor }> {
    return {
      loss: (batch: Tensor | { x: Tensor }, ctx: StepContext) => {
        const x = batch instanceof tf.Tensor ? batch : batch.x;
        return this.loss(x, { ...opts, rng: ctx.rng, step: ctx.step });
      },
    };
  }

  /** n samples of the model: z ~ p(z) exactly, then the mean of p(x | z) (or a draw). `[n, D]` or `[n, ...shape]`. */
  sample(n: number, opts: SampleOptions): Tensor {
    const who = `${this.kind}.sample`;
    checkInt(n, 'n', who);
    const rng = checkRng(opts?.rng, who);
    return tf.tidy(() => {
      const out = this.decodeParams(this.samplePrior(n, rng), who);
      let x = this.outputMean(out);
      if (opts.output === 'sample') {
        if (this.likelihood === 'bernoulli') {
          x = tf.cast(
            tf.less(tf.randomUniform(x.shape, 0, 1, 'float32', rng.next()), x),
            'float32',
          );
        } else {
          x = tf.add(
            x,
            tf.mul(this.likelihood.scale, tf.randomNormal(x.shape, 0, 1, 'float32', rng.next())),
          );
        }
      }
      return opts.shape ? tf.reshape(x, [n, ...opts.shape]) : x;
    });
  }

  /** The mean of p(x | z) at z = the mode of q(z | x) (or a sample of it): `[B, D]` or `[B, ...shape]`. */
  reconstruct(x: Tensor, opts: ReconstructOptions): Tensor {
    const who = `${this.kind}.reconstruct`;
    const rng = checkRng(opts?.rng, who);
    const p = this.qParams(x, who);
    try {
      return tf.tidy(() => {
        const z =
          opts.latent === 'sample' ? tf.squeeze(this.sampleQ(p, 1, rng), [0]) : this.modeQ(p);
        const m = this.outputMean(this.decodeParams(z, who));
        return opts.shape ? tf.reshape(m, [x.shape[0] as number, ...opts.shape]) : m;
      });
    } finally {
      p.dispose();
    }
  }

  /**
   * Decodes `steps` points on the straight line between the latent codes of `xa` and `xb`
   * (`[1, ...]` each, or the first example of each batch): the posterior means for Gaussian
   * latents, the posterior probabilities for discrete ones (the decoder accepts relaxed
   * latents). Returns `[steps, D]` (or `[steps, ...shape]`) means of p(x | z).
   */
  interpolate(
    xa: Tensor,
    xb: Tensor,
    steps: number,
    opts: { shape?: readonly number[] } = {},
  ): Tensor {
    const who = `${this.kind}.interpolate`;
    checkInt(steps, 'steps', who);
    const pa = this.qParams(xa, who);
    const pb = this.qParams(xb, who);
    try {
      return tf.tidy(() => {
        const za = tf.slice(this.latentCode(pa), [0], [1]);
        const zb = tf.slice(this.latentCode(pb), [0], [1]);
        const t = tf.reshape(tf.linspace(0, 1, steps), [
          steps,
          ...new Array<number>(this.latentShape.length).fill(1),
        ]);
        const z = tf.add(za, tf.mul(t, tf.sub(zb, za)));
        const m = this.outputMean(this.decodeParams(z, who));
        return opts.shape ? tf.reshape(m, [steps, ...opts.shape]) : m;
      });
    } finally {
      pa.dispose();
      pb.dispose();
    }
  }

  /** The point of latent space interpolations run through (posterior mean / probabilities). */
  protected abstract latentCode(params: Tensor): Tensor;

  /** Reconstruction (the mean of p(x | z) at the mode of q(z | x)); `Module.apply`. */
  apply(x: Tensor): Tensor {
    return tf.tidy(() => {
      const p = this.qParams(x, `${this.kind}.apply`);
      return this.outputMean(this.decodeParams(this.modeQ(p)));
    });
  }
}

/** Options of {@link GaussianVAE}. */
export interface GaussianVaeOptions extends VaeOptions {
  /** Latent dimensions d; the encoder returns `[B, 2d]` (means, then pre-softplus scales). */
  latentDim: number;
}

/**
 * The Gaussian VAE (Kingma & Welling 2014): p(z) = N(0, I), q(z | x) = N(mu(x), diag sigma(x)^2)
 * with sigma = softplus(.) + 1e-5, trained with reparameterized samples; the ELBO objective
 * supports beta-VAE weights, KL warm-up and free bits, and the IWAE objective k samples.
 *
 * @example
 * ```ts
 * import { mlp, Rng, tf } from '@dgm-js/core-tensors';
 * import { GaussianVAE } from '@dgm-js/vae';
 * const rng = new Rng(0);
 * const vae = new GaussianVAE({
 *   latentDim: 40,
 *   encoder: mlp([784, 400, 80], { rng, activation: 'relu' }),
 *   decoder: mlp([40, 400, 784], { rng, activation: 'relu' }),
 * });
 * const opt = tf.train.adam(1e-3);
 * opt.minimize(() => vae.loss(x, { rng }).loss); // inside tf.tidy in a loop
 * ```
 */
export class GaussianVAE extends VAE {
  readonly latentShape: readonly number[];
  readonly latentDim: number;

  constructor(opts: GaussianVaeOptions) {
    super('GaussianVAE', opts);
    this.latentDim = checkInt(opts.latentDim, 'latentDim', 'GaussianVAE');
    this.latentShape = [this.latentDim];
  }

  /**
   * An MLP Gaussian VAE: encoder `[inputDim, ...hidden, 2 latentDim]`, decoder
   * `[latentDim, ...hidden reversed, inputDim]`.
   *
   * @example
   * ```ts
   * const vae = GaussianVAE.mlp({ inputDim: 784, hidden: [400], latentDim: 40, rng: new Rng(0) });
   * ```
   */
  static mlp(opts: MlpVaeOptions & { latentDim: number }): GaussianVAE {
    const { enc, dec } = mlpPair(opts, 2 * opts.latentDim, opts.latentDim);
    return new GaussianVAE({
      latentDim: opts.latentDim,
      encoder: enc,
      decoder: dec,
      ...(opts.likelihood === undefined ? {} : { likelihood: opts.likelihood }),
    });
  }

  protected posteriorParams(h: Tensor): Tensor {
    const d = this.latentDim;
    if (h.rank !== 2 || h.shape[1] !== 2 * d) {
      throw new ShapeError(
        `GaussianVAE: the encoder returned ${fmtShape(h.shape)}; it must return [batch, 2 * latentDim] = [batch, ${2 * d}] (means, then pre-softplus scales).`,
      );
    }
    return tf.tidy(() => {
      const [loc, raw] = tf.split(h, 2, 1) as [Tensor, Tensor];
      return tf.stack([loc, tf.add(softplus(raw), 1e-5)], 0); // [2, B, d]
    });
  }

  private locScale(p: Tensor): [Tensor, Tensor] {
    const [l, s] = tf.unstack(p, 0) as [Tensor, Tensor];
    return [l, s];
  }

  /** Reparameterized samples loc + scale * eps, `[s, B, d]` (differentiable in the parameters). */
  rsampleQ(p: Tensor, s: number, rng: Rng): Tensor {
    return tf.tidy(() => {
      const [loc, scale] = this.locScale(p);
      const eps = tf.randomNormal([s, ...loc.shape], 0, 1, 'float32', rng.next());
      return tf.add(loc, tf.mul(scale, eps));
    });
  }

  protected sampleQ(p: Tensor, s: number, rng: Rng): Tensor {
    return tf.tidy(() => detach(this.rsampleQ(p, s, rng)));
  }

  protected logQ(p: Tensor, z: Tensor): Tensor {
    return tf.tidy(() => {
      const [loc, scale] = this.locScale(p);
      const e = tf.div(tf.sub(z, loc), scale);
      return tf.sum(tf.sub(tf.mul(-0.5, tf.square(e)), tf.add(tf.log(scale), HALF_LOG_2PI)), -1);
    });
  }

  protected logPrior(z: Tensor): Tensor {
    return tf.tidy(() =>
      tf.sub(tf.mul(-0.5, tf.sum(tf.square(z), -1)), this.latentDim * HALF_LOG_2PI),
    );
  }

  protected klGroups(p: Tensor): Tensor {
    return tf.tidy(() => {
      const [loc, scale] = this.locScale(p);
      // KL(N(m, s^2) || N(0, 1)) = (s^2 + m^2 - 1) / 2 - log s
      return tf.sub(
        tf.mul(0.5, tf.sub(tf.add(tf.square(scale), tf.square(loc)), 1)),
        tf.log(scale),
      );
    });
  }

  protected modeQ(p: Tensor): Tensor {
    return tf.tidy(() => this.locScale(p)[0]);
  }

  protected latentCode(p: Tensor): Tensor {
    return this.modeQ(p);
  }

  protected samplePrior(n: number, rng: Rng): Tensor {
    return tf.randomNormal([n, this.latentDim], 0, 1, 'float32', rng.next());
  }

  protected posteriorDistribution(p: Tensor): Distribution {
    const [loc, scale] = tf.unstack(p, 0) as [Tensor, Tensor];
    p.dispose();
    return ownedNormal(loc, scale, 1);
  }

  prior(): Distribution {
    return ownedNormal(tf.zeros([this.latentDim]), tf.ones([this.latentDim]), 1);
  }

  /**
   * The training loss: -(E_q[log p(x|z)] - w KL) with reparameterized samples (ELBO objective,
   * w the KL weight, free bits optional), or -IWAE_k. Metrics: `elbo`, `recon`, `kl` (per
   * example, batch means), `klWeight`; with the IWAE objective also `iwae`.
   */
  loss(x: Tensor, opts: LossOptions): VaeLoss {
    const who = 'GaussianVAE.loss';
    const { rng, weight } = this.trainSetup(opts, who);
    const iw = (opts.objective ?? 'elbo') === 'iwae';
    const k = checkInt(opts.k ?? (iw ? 5 : 1), 'k', who);
    const p = this.qParams(x, who);
    try {
      return tf.tidy(() => {
        const z = this.rsampleQ(p, k, rng); // [k, B, d]
        const ll = this.logLikelihood(this.decodeParams(z, who), x); // [k, B]
        const klg = this.klGroups(p);
        const kl = tf.sum(klg, -1);
        const recon = tf.mean(ll, 0);
        const elbo = tf.mean(tf.sub(recon, kl));
        if (iw) {
          const lw = tf.sub(tf.add(ll, this.logPrior(z)), this.logQ(p, z));
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
        const loss = tf.sub(tf.mul(weight, this.klTerm(klg, opts, who)), tf.mean(recon));
        return {
          loss: loss as tf.Scalar,
          metrics: { elbo, recon: tf.mean(recon), kl: tf.mean(kl), klWeight: weight },
        };
      });
    } finally {
      p.dispose();
    }
  }
}

/** Options of the `mlp` factories. */
export interface MlpVaeOptions {
  /** Values per example (784 for MNIST). */
  inputDim: number;
  /** Hidden layer sizes of the encoder (the decoder mirrors them). */
  hidden: readonly number[];
  rng: Rng;
  /** Between layers. Default 'relu'. */
  activation?: Activation;
  likelihood?: Likelihood;
}

/** An MLP encoder `[inputDim, ...hidden, encOut]` and decoder `[latentIn, ...hidden reversed, inputDim]` (internal). */
export function mlpPair(
  opts: MlpVaeOptions,
  encOut: number,
  latentIn: number,
): { enc: TensorModule; dec: TensorModule } {
  const who = 'VAE.mlp';
  checkInt(opts.inputDim, 'inputDim', who);
  if (!Array.isArray(opts.hidden))
    throw new ValueError(`${who}: hidden must be an array of layer sizes.`);
  for (const h of opts.hidden) checkInt(h, 'every hidden size', who);
  const activation = opts.activation ?? 'relu';
  const enc = mlpModule([opts.inputDim, ...opts.hidden, encOut], opts.rng, activation);
  const dec = mlpModule(
    [latentIn, ...[...opts.hidden].reverse(), opts.inputDim],
    opts.rng,
    activation,
  );
  return { enc, dec };
}

function mlpModule(
  sizes: number[],
  rng: Rng,
  activation: NonNullable<MlpVaeOptions['activation']>,
): TensorModule {
  return mlp(sizes, { rng, activation }) as unknown as TensorModule;
}
