/**
 * The VAE from parts (Kingma & Welling 2014; Rezende, Mohamed & Wierstra 2014): an encoder
 * q(z | x) and a decoder p(x | z), each a `ConditionalDistribution`, a prior p(z) (any
 * `Distribution`), and optionally a `GradientEstimator`. One implementation of the bounds,
 * the training loss, sampling, reconstructions and interpolations serves every latent family.
 */

import type { BoundOptions } from '@dgm-js/core-tensors';
import {
  type ConditionalDistribution,
  checkInt,
  checkRng,
  type Distribution,
  fmtShape,
  type GradientEstimator,
  logSumExp,
  Module,
  type Objective,
  type Rng,
  ShapeError,
  type StatefulPart,
  type StepContext,
  type TrainingStateProvider,
  tf,
  ValueError,
} from '@dgm-js/core-tensors';
import { borrowed } from './distributions.js';
import { klGroups } from './latent-kl.js';
import { logMeanExp, vaeLoss } from './loss.js';

/** Samples per pass of `iwae` / `elbo` by default (as `@dgm-js/eval`'s chunked path). */
const DEFAULT_CHUNK = 100;

import { decodeFlat, decodeMean, logLikelihood, posterior, type VaeParts } from './parts.js';
import { BatchReshaped } from './reshape.js';
import type {
  ElboOptions,
  ElboTerms,
  IwaeOptions,
  LatentVariableModel,
  LossOptions,
  TrainOptions,
  VaeLoss,
} from './types.js';

type Tensor = tf.Tensor;
type Conditional = ConditionalDistribution<Tensor>;

/** Options of {@link VAE}. */
export interface VaeOptions<
  E extends Conditional = Conditional,
  D extends Conditional = Conditional,
> {
  /** q(z | x): x `[B, ...]` -> a distribution of batch `[B]` and event the prior's event shape. */
  encoder: E;
  /** p(x | z): latents `[N, ...latentShape]` -> a distribution of batch `[N]` over one example. */
  decoder: D;
  /** p(z): batch shape `[]`, event shape the latent shape. */
  prior: Distribution;
  /**
   * How to train through latents without `rsample` (discrete ones): any `GradientEstimator`
   * (from `@dgm-js/estimators`). When given it is used even if the posterior has `rsample`.
   */
  estimator?: GradientEstimator;
  /** The model's name in error messages. Default 'VAE'. */
  name?: string;
}

/** Options of {@link VAE.sample}. */
export interface VaeSampleOptions {
  rng: Rng;
  /**
   * 'mean' (default): the mean of p(x | z) (pixel probabilities for a Bernoulli likelihood), the
   * usual picture of samples; 'sample': a draw from p(x | z).
   */
  output?: 'mean' | 'sample';
  /** Reshape each sample to this shape (e.g. `[28, 28]` for an image grid). */
  shape?: readonly number[];
}

/** @deprecated Renamed {@link VaeSampleOptions} (core's `SampleOptions` is the distributions'). */
export type SampleOptions = VaeSampleOptions;

/** Options of {@link VAE.reconstruct}. */
export interface ReconstructOptions {
  rng: Rng;
  /** 'mode' (default): decode the mode of q(z | x); 'sample': an exact sample of it. */
  latent?: 'mode' | 'sample';
  shape?: readonly number[];
}

function isConditional(c: unknown): c is Conditional {
  return !!c && typeof (c as Conditional).condition === 'function';
}

function isDistribution(d: unknown): d is Distribution {
  return (
    !!d &&
    typeof (d as Distribution).sample === 'function' &&
    typeof (d as Distribution).logProb === 'function' &&
    Array.isArray((d as Distribution).eventShape)
  );
}

/**
 * What a VAE's training objective takes as a batch: the data `x` as a tensor, as `{ x }`, or as a
 * dataset batch `{ tensors: { x } }` (what `batches(ds)` of `@dgm-js/datasets` yields).
 */
export type VaeBatch = Tensor | { x: Tensor } | { tensors: { x: Tensor } };

/**
 * A variational autoencoder from parts: `new VAE({ encoder, decoder, prior, estimator? })`.
 *
 * - The KL term is analytic when the `kl` registry of core-tensors has the (posterior, prior)
 *   pair, else a Monte Carlo estimate log q(z) - log p(z) at the sampled z: a flow posterior
 *   (any distribution with `rsample` and `logProb`) or an autoregressive prior needs nothing more.
 * - Training (`loss`, `objective`) reparameterizes when the posterior has `rsample` and no
 *   estimator is given, else goes through the estimator (discrete latents); see `TrainOptions`
 *   for beta / KL warm-up / free bits and the IWAE objective.
 * - Evaluation (`elbo`, `iwae`, `logWeights`, `sample`, `reconstruct`) uses exact samples.
 *
 * The VAE owns its parts: `dispose()` frees the encoder, decoder, prior and estimator. Parts
 * that are `Module`s are registered as sub-modules (`encoder`, `decoder`, `prior`), so the
 * Trainer and checkpoints see their parameters; other parts' `parameters()` are listed after
 * them as `encoder.0`, `encoder.1`, ... The estimator's state (baselines, control variates) is
 * `vae.estimator.getState()` / `setState()`.
 *
 * @example
 * ```ts
 * import { mlp, Rng, tf } from '@dgm-js/core-tensors';
 * import { bernoulliDecoder, gaussianEncoder, stdNormal, VAE } from '@dgm-js/vae';
 * const rng = new Rng(0);
 * const vae = new VAE({
 *   encoder: gaussianEncoder(mlp([784, 400, 80], { rng, activation: 'relu' })),
 *   decoder: bernoulliDecoder(mlp([40, 400, 784], { rng, activation: 'relu' })),
 *   prior: stdNormal(40),
 * });
 * const opt = tf.train.adam(1e-3);
 * tf.tidy(() => opt.minimize(() => vae.loss(x, { rng }).loss)); // x: [B, 784] of 0/1
 * const ll = vae.iwae(x, 50, { rng }); // [B]
 * ```
 */
export class VAE<E extends Conditional = Conditional, D extends Conditional = Conditional>
  extends Module<Tensor, Tensor>
  implements LatentVariableModel, VaeParts, TrainingStateProvider
{
  /** q(z | x). */
  readonly encoder: E;
  /** p(x | z). */
  readonly decoder: D;
  /** p(z), owned by the VAE (`prior()` hands out a view that is safe to dispose). */
  readonly latentPrior: Distribution;
  /** The gradient estimator (owned: disposed with the VAE), or undefined (reparameterized). */
  readonly estimator: GradientEstimator | undefined;
  /** Parts that are not modules, whose `parameters()` are listed after the modules'. */
  private readonly external: [string, { parameters?(): tf.Variable[] }][] = [];
  private readonly nonModuleParts: { dispose?(): void }[] = [];

  constructor(opts: VaeOptions<E, D>) {
    const name = opts?.name ?? 'VAE';
    super(name);
    if (!opts || !isConditional(opts.encoder) || !isConditional(opts.decoder)) {
      throw new ValueError(
        `${name}: pass { encoder, decoder, prior }: encoder and decoder are ConditionalDistributions (condition(x) -> Distribution), e.g. gaussianEncoder(net), bernoulliDecoder(net).`,
      );
    }
    if (!isDistribution(opts.prior)) {
      throw new ValueError(`${name}: prior must be a Distribution, e.g. stdNormal(latentDim).`);
    }
    if (opts.prior.batchShape.length !== 0) {
      throw new ShapeError(
        `${name}: the prior has batch shape ${fmtShape(opts.prior.batchShape)}; it must have batch shape [] and the latent as its event (wrap it: new Independent(prior, ${opts.prior.batchShape.length})).`,
      );
    }
    if (opts.estimator !== undefined && typeof opts.estimator?.estimate !== 'function') {
      throw new ValueError(
        `${name}: estimator must be a GradientEstimator (from @dgm-js/estimators).`,
      );
    }
    this.encoder = this.adopt('encoder', opts.encoder);
    this.decoder = this.adopt('decoder', opts.decoder);
    this.latentPrior = this.adopt('prior', opts.prior);
    this.estimator = opts.estimator;
  }

  private adopt<T>(name: string, part: T): T {
    if (part instanceof Module) return this.addModule(name, part) as T;
    const p = part as { parameters?(): tf.Variable[]; dispose?(): void };
    if (typeof p.parameters === 'function') this.external.push([name, p]);
    this.nonModuleParts.push(p);
    return part;
  }

  /** The shape of one latent (the prior's event shape). */
  get latentShape(): number[] {
    return this.latentPrior.eventShape;
  }

  /** Number of values in one latent. */
  get latentFeatures(): number {
    return this.latentShape.reduce((a, b) => a * b, 1);
  }

  /** Every parameter: the registered modules', then those of parts that are not modules. */
  override namedParameters(): [string, tf.Variable][] {
    const out = super.namedParameters();
    for (const [name, part] of this.external) {
      const ps = part.parameters?.() ?? [];
      ps.forEach((v, i) => {
        out.push([`${name}.${i}`, v]);
      });
    }
    return out;
  }

  /**
   * The training state outside the parameters: `{ estimator }` when the VAE trains through a
   * gradient estimator (its step, baselines, control-variate network and that network's
   * optimiser), else `{}`. The core `Trainer` checkpoints it with the model, restores it on
   * resume and on the non-finite guard's rollback, and checks it for NaN/Inf every step.
   *
   * @example
   * ```ts
   * const { estimator } = vae.trainingState(); // vae.estimator
   * const saved = estimator?.getState();
   * ```
   */
  trainingState(): Record<string, StatefulPart> {
    const e = this.estimator;
    return e && typeof e.getState === 'function' && typeof e.setState === 'function'
      ? { estimator: e }
      : {};
  }

  // ---- the latent variable model ------------------------------------------------------------

  /** p(z), batch `[]`: a view of the VAE's prior; disposing it does nothing. */
  prior(): Distribution {
    return borrowed(this.latentPrior);
  }

  /** q(z | x): a distribution with batch shape `[B]` and event shape `latentShape`. The caller owns it. */
  encode(x: Tensor): Distribution {
    return posterior(this, x, `${this.kind}.encode`);
  }

  /**
   * p(x | z) for latents `[..., ...latentShape]`: batch shape `[...]`, event the decoder's (x
   * flattened per example for the MLP decoders). The caller owns it.
   */
  decode(z: Tensor): Distribution {
    const who = `${this.kind}.decode`;
    const { px, lead, zf } = decodeFlat(this, z, who);
    return lead.length === 1 ? px : new BatchReshaped(px, lead, [zf]);
  }

  /**
   * log p(x | z) `[...lead]` for latents `[...lead, ...latentShape]` whose leading shape ends in
   * x's batch size (`[B]` or `[k, B]`).
   */
  logLikelihood(z: Tensor, x: Tensor): Tensor {
    return logLikelihood(this, z, x, `${this.kind}.logLikelihood`);
  }

  /**
   * The ELBO, its reconstruction term and its KL, one value per example: exact latent samples
   * (`samples` of them, default 1); the KL analytic when registered, else Monte Carlo at the same
   * samples.
   */
  elboTerms(x: Tensor, opts: ElboOptions): ElboTerms {
    const who = `${this.kind}.elbo`;
    const rng = checkRng(opts?.rng, who);
    const s = checkInt(opts.samples ?? 1, 'samples', who);
    const chunk = checkInt(opts.chunk ?? Math.min(s, DEFAULT_CHUNK), 'chunk', who);
    const q = posterior(this, x, who);
    try {
      if (chunk >= s) {
        const [elbo, recon, kl] = tf.tidy(() => {
          const z = q.sample({ sampleShape: [s], rng });
          const rec = tf.mean(logLikelihood(this, z, x, who), 0);
          const k = tf.sum((klGroups(q, this.latentPrior, z) as { groups: Tensor }).groups, -1);
          return [tf.sub(rec, k), rec, k];
        });
        return { elbo: elbo as Tensor, recon: recon as Tensor, kl: kl as Tensor };
      }
      // sums over chunks of at most `chunk` samples: memory does not grow with `samples`
      let recSum: Tensor | undefined;
      let klSum: Tensor | undefined;
      for (let done = 0; done < s; done += chunk) {
        const n = Math.min(chunk, s - done);
        const [r, k] = tf.tidy(() => {
          const z = q.sample({ sampleShape: [n], rng });
          const rec = tf.sum(logLikelihood(this, z, x, who), 0);
          // [B, g]: analytic, or the mean over this chunk's n samples
          const kg = (klGroups(q, this.latentPrior, z) as { groups: Tensor }).groups;
          const kn = tf.mul(tf.sum(kg, -1), n);
          return [recSum ? tf.add(recSum, rec) : rec, klSum ? tf.add(klSum, kn) : kn];
        }) as [Tensor, Tensor];
        recSum?.dispose();
        klSum?.dispose();
        recSum = r;
        klSum = k;
      }
      const [elbo, recon, kl] = tf.tidy(() => {
        const rec = tf.div(recSum!, s);
        const k = tf.div(klSum!, s);
        return [tf.sub(rec, k), rec, k];
      });
      tf.dispose([recSum!, klSum!]);
      return { elbo: elbo as Tensor, recon: recon as Tensor, kl: kl as Tensor };
    } finally {
      q.dispose();
    }
  }

  /** The ELBO, E_q[log p(x | z)] - KL(q(z | x) || p(z)), one value per example `[B]`. */
  elbo(x: Tensor, opts: ElboOptions): Tensor {
    const t = this.elboTerms(x, opts);
    t.recon.dispose();
    t.kl.dispose();
    return t.elbo;
  }

  /** log p(x, z_i) - log q(z_i | x) for k exact samples z_i ~ q(z | x): `[k, B]`. */
  logWeights(x: Tensor, k: number, opts: BoundOptions): Tensor {
    const who = `${this.kind}.logWeights`;
    checkInt(k, 'k', who, { hint: 'The importance-weighted bound needs at least one sample.' });
    const rng = checkRng(opts?.rng, who);
    const q = posterior(this, x, who);
    try {
      return tf.tidy(() => {
        const z = q.sample({ sampleShape: [k], rng });
        const ll = logLikelihood(this, z, x, who);
        return tf.sub(tf.add(ll, this.latentPrior.logProb(z)), q.logProb(z));
      });
    } finally {
      q.dispose();
    }
  }

  /**
   * The importance-weighted bound (Burda, Grosse & Salakhutdinov 2016),
   * log (1/k) sum_i p(x, z_i) / q(z_i | x), z_i ~ q(z | x) exactly: `[B]`, for any posterior
   * (discrete ones included). Its expectation rises with k towards log p(x); k = 1 is the
   * single-sample ELBO (with a sampled KL). Computed `chunk` samples at a time (default 100,
   * as `estimateLogLikelihood` of `@dgm-js/eval`), so memory is bounded by chunk x B whatever k.
   */
  iwae(x: Tensor, k: number, opts: IwaeOptions): Tensor {
    const who = `${this.kind}.iwae`;
    checkInt(k, 'k', who, { hint: 'The importance-weighted bound needs at least one sample.' });
    const chunk = checkInt(opts?.chunk ?? Math.min(k, DEFAULT_CHUNK), 'chunk', who);
    if (chunk >= k) return tf.tidy(() => logMeanExp(this.logWeights(x, k, opts), 0));
    // log (1/k) sum_i w_i = log sum_c sum_{i in c} w_i - log k, one chunk at a time
    let acc: Tensor | undefined;
    for (let done = 0; done < k; done += chunk) {
      const n = Math.min(chunk, k - done);
      const next = tf.tidy(() => {
        const part = logSumExp(this.logWeights(x, n, opts), 0);
        if (!acc) return part;
        const m = tf.maximum(acc, part);
        // logaddexp, safe when both are -Inf
        const mm = tf.where(tf.isFinite(m), m, tf.zerosLike(m));
        return tf.add(mm, tf.log(tf.add(tf.exp(tf.sub(acc, mm)), tf.exp(tf.sub(part, mm)))));
      });
      acc?.dispose();
      acc = next;
    }
    const out = tf.sub(acc!, Math.log(k));
    acc!.dispose();
    return out;
  }

  // ---- training -----------------------------------------------------------------------------

  /**
   * The training loss (see `TrainOptions`). Reparameterized posterior, no estimator:
   * -(E_q[log p(x|z)] - w KL) with k samples (free bits optional), or -IWAE_k. Through the
   * estimator: E_q[-log p(x|z)] via its surrogate + w KL(q || p) analytic (free bits optional);
   * with no analytic KL the estimator differentiates E_q[-log p(x|z) + w (log q(z) - log p(z))]
   * (no free bits); with VIMCO, -IWAE_k (k default 5). Metrics: `elbo`, `recon`, `kl` (batch
   * means), `klWeight`, with the IWAE objective `iwae`, and the estimator's diagnostics.
   */
  loss(x: Tensor, opts: LossOptions): VaeLoss {
    return vaeLoss(this, x, opts);
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
  objective(opts: TrainOptions = {}): Objective<VaeBatch> {
    return {
      loss: (batch: VaeBatch, ctx: StepContext) => {
        const x =
          batch instanceof tf.Tensor ? batch : 'tensors' in batch ? batch.tensors.x : batch.x;
        if (!(x instanceof tf.Tensor)) {
          throw new ValueError(
            `${this.kind}.objective: a batch must be a tensor, { x }, or a dataset batch { tensors: { x } } (as batches(ds) of @dgm-js/datasets yields).`,
          );
        }
        return this.loss(x, { ...opts, rng: ctx.rng, step: ctx.step });
      },
    };
  }

  // ---- pictures -----------------------------------------------------------------------------

  /** n samples of the model: z ~ p(z) exactly, then the mean of p(x | z) (or a draw). `[n, ...event]` or `[n, ...shape]`. */
  sample(n: number, opts: VaeSampleOptions): Tensor {
    const who = `${this.kind}.sample`;
    checkInt(n, 'n', who);
    const rng = checkRng(opts?.rng, who);
    return tf.tidy(() => {
      const z = this.latentPrior.sample({ sampleShape: [n], rng });
      let x: Tensor;
      if (opts.output === 'sample') {
        const { px } = decodeFlat(this, z, who); // z is [n, ...latentShape]: no reshaped copy
        try {
          x = px.sample({ rng });
        } finally {
          px.dispose();
        }
      } else {
        x = decodeMean(this, z, who);
      }
      return opts.shape ? tf.reshape(x, [n, ...opts.shape]) : x;
    });
  }

  /** The mean of p(x | z) at z = the mode of q(z | x) (or a sample of it): `[B, ...event]` or `[B, ...shape]`. */
  reconstruct(x: Tensor, opts: ReconstructOptions): Tensor {
    const who = `${this.kind}.reconstruct`;
    const rng = checkRng(opts?.rng, who);
    const q = posterior(this, x, who);
    try {
      return tf.tidy(() => {
        const z = opts.latent === 'sample' ? q.sample({ rng }) : q.mode;
        const m = decodeMean(this, z, who);
        return opts.shape ? tf.reshape(m, [x.shape[0] as number, ...opts.shape]) : m;
      });
    } finally {
      q.dispose();
    }
  }

  /**
   * Decodes `steps` points on the straight line between the posterior means of `xa` and `xb`
   * (`[1, ...]` each, or the first example of each batch): the Gaussian means, or the
   * probabilities of discrete latents (the decoder accepts relaxed latents). Returns `[steps, ...event]`
   * (or `[steps, ...shape]`) means of p(x | z).
   */
  interpolate(
    xa: Tensor,
    xb: Tensor,
    steps: number,
    opts: { shape?: readonly number[] } = {},
  ): Tensor {
    const who = `${this.kind}.interpolate`;
    checkInt(steps, 'steps', who);
    const qa = posterior(this, xa, who);
    let qb: Distribution | undefined;
    try {
      qb = posterior(this, xb, who);
      const [a, b] = [qa, qb];
      return tf.tidy(() => {
        const za = tf.slice(a.mean, [0], [1]);
        const zb = tf.slice(b.mean, [0], [1]);
        const t = tf.reshape(tf.linspace(0, 1, steps), [
          steps,
          ...new Array<number>(this.latentShape.length).fill(1),
        ]);
        const z = tf.add(za, tf.mul(t, tf.sub(zb, za)));
        const m = decodeMean(this, z, who);
        return opts.shape ? tf.reshape(m, [steps, ...opts.shape]) : m;
      });
    } finally {
      qa.dispose();
      qb?.dispose();
    }
  }

  /** Reconstruction (the mean of p(x | z) at the mode of q(z | x)); `Module.apply`. */
  apply(x: Tensor): Tensor {
    const who = `${this.kind}.apply`;
    const q = posterior(this, x, who);
    try {
      return tf.tidy(() => decodeMean(this, q.mode, who));
    } finally {
      q.dispose();
    }
  }

  /** Disposes the parameters, the prior, the parts that are not modules and the estimator. */
  override dispose(): void {
    if (this.isDisposed) return;
    super.dispose();
    for (const p of this.nonModuleParts) p.dispose?.();
    this.estimator?.dispose();
  }
}
