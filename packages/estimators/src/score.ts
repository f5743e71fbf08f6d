/**
 * Score-function (REINFORCE) estimators, one shell with a {@link Baseline}:
 * - REINFORCE (Williams 1992; Glynn 1990): grad = E[(f(z) - b) grad log q(z)], b any baseline;
 * - RLOO (Kool, van Hoof & Welling 2019, "Buy 4 REINFORCE samples, get a baseline for free!"):
 *   the leave-one-out baseline;
 * - NVIL (Mnih & Gregor 2014, "Neural variational inference and learning in belief networks"):
 *   the learned baseline plus variance normalisation;
 * - the Gumbel-Max estimator: REINFORCE on exact discrete samples (Gumbel 1954; Maddison, Tarlow
 *   & Minka 2014); argmax has no useful derivative, so the gradient is the score function's;
 * - VIMCO (Mnih & Rezende 2016, "Variational inference for Monte Carlo objectives"): per-sample
 *   leave-one-out learning signals for the multi-sample bound log (1/K) sum_k exp f(z_k).
 *
 * All of them use the "surrogate" form: value f(z) + detach(signal) * (log q(z) - stop(log q(z))),
 * so the value is the Monte Carlo estimate and autodiff gives the estimator (plus f's own
 * gradient when f has parameters).
 */
import {
  Categorical,
  checkInt,
  logSumExp,
  type Rng,
  stopGradient,
  tf,
  ValueError,
} from '@dgm-js/core-tensors';
import { BaseEstimator, type RunContext, type RunResult } from './base.js';
import {
  type Baseline,
  type BaselineOption,
  emaInit,
  emaUpdate,
  emaValue,
  learned,
  leaveOneOut,
  toBaseline,
} from './baselines.js';
import { detach, evalObjective, expandTo, resolve, resolveDiscrete, sumLatent } from './latent.js';
import type { Integrand, LatentInput } from './types.js';

type Tensor = tf.Tensor;

/** Samples (detached), f values, the instance rank and log q per sample and instance. */
export interface ScoreParts {
  z: Tensor;
  fz: Tensor;
  instRank: number;
  /** log q(z) summed over latent dims, [S, ...instance], differentiable in q's parameters. */
  logq: Tensor;
}

/** Draws S samples from q, evaluates f and log q (discreteOnly: discrete latents only). */
export function scoreParts(
  q: LatentInput,
  f: Integrand,
  samples: number,
  ctx: { rng: Rng },
  who: string,
  discreteOnly = false,
): ScoreParts {
  const r = resolve(q, who);
  if (discreteOnly && r.kind === 'distribution' && !(r.dist instanceof Categorical)) {
    resolveDiscrete(q, who); // throws, naming what the estimator takes
  }
  const z = detach(r.dist.sample({ sampleShape: [samples], rng: ctx.rng }));
  const { fz, instRank } = evalObjective(f, z, samples, r.batchShape, who);
  return { z, fz, instRank, logq: sumLatent(r.dist.logProb(z), instRank) };
}

/** `detach(signal) * (logq - stopGradient(logq))`: value 0, gradient signal * grad log q. */
export function scoreTerm(signal: Tensor, logq: Tensor): Tensor {
  return tf.mul(detach(signal), tf.sub(logq, stopGradient(logq)));
}

/** Options of {@link reinforce}. */
export interface ReinforceOptions {
  /**
   * The control variate subtracted from f in the learning signal: `'none'` (default),
   * `movingAverage()` (or `'movingAverage'`), `leaveOneOut()`, `learned({ hidden })`,
   * `constantBaseline(b)` (or `{ type: 'constant', value }`). Each keeps the estimator unbiased.
   */
  baseline?: BaselineOption;
}

/** Options of the score-function shell ({@link reinforce}, {@link rloo}, {@link nvil}). */
export interface ScoreFunctionOptions extends ReinforceOptions {
  /**
   * NVIL's variance normalisation: divide the centred signal by max(1, sqrt(v)), v a running
   * average (decay `decay`, default 0.9) of its square. This scales the score-function part of
   * the gradient by `scale` = 1 / max(1, sqrt(v)) <= 1, so while v > 1 the estimator is
   * biased (`unbiased` is false, `diagnostics.scale` < 1). Default off.
   */
  normalize?: boolean | { decay?: number };
}

/**
 * The score-function estimator with a baseline (REINFORCE; RLOO, NVIL and Gumbel-Max are this
 * shell with a given baseline or latent restriction). `unbiased` is true unless variance
 * normalisation currently scales the gradient (see {@link ScoreFunctionOptions.normalize}).
 */
export class ReinforceEstimator extends BaseEstimator {
  readonly name: string;
  /** The baseline (options only; its tensors are in this estimator's state). */
  readonly baseline: Baseline;
  protected override readonly minSamples: number;
  private readonly normDecay: number | undefined;
  private readonly discreteOnly: boolean;
  /** Report `diagnostics.scale` even without normalisation (NVIL always reports it). */
  protected readonly reportScale: boolean = false;

  constructor(opts: ScoreFunctionOptions = {}, name = 'reinforce', discreteOnly = false) {
    super(name);
    this.name = name;
    this.discreteOnly = discreteOnly;
    this.baseline = toBaseline(opts.baseline, name);
    this.minSamples = this.baseline.minSamples;
    const n = opts.normalize ?? false;
    this.normDecay = n === false ? undefined : n === true ? 0.9 : (n.decay ?? 0.9);
    if (this.normDecay !== undefined && !(this.normDecay >= 0 && this.normDecay < 1)) {
      throw new ValueError(`${name}: normalize decay must be in [0, 1), got ${this.normDecay}.`);
    }
    // fixed-size state is created eagerly, so every state of this estimator has the same names
    this.baseline.init?.(this.store, 'baseline');
    if (this.normDecay !== undefined) emaInit(this.store, 'scale.var');
  }

  /**
   * Whether the next gradient is an unbiased estimate of grad E_q[f]: true, except while
   * variance normalisation scales it by {@link scale} < 1.
   */
  get unbiased(): boolean {
    return this.scale === 1;
  }

  /**
   * The factor the next call puts on the score-function part of the gradient: 1 without
   * normalisation, else 1 / max(1, sqrt(v)) (reported as `diagnostics.scale`).
   */
  get scale(): number {
    const s = this.store.get('scale.var.sum');
    if (this.normDecay === undefined || !s) return 1;
    const t = tf.tidy(() => this.scaleOf(emaValue(this.store, 'scale.var', this.normDecay!)));
    const v = t.dataSync()[0] as number;
    t.dispose();
    return v;
  }

  private scaleOf(v: Tensor): Tensor {
    return tf.div(1, tf.maximum(1, tf.sqrt(v)));
  }

  protected run(q: LatentInput, f: Integrand, ctx: RunContext): RunResult {
    const p = scoreParts(q, f, ctx.samples, ctx, this.name, this.discreteOnly);
    const fd = detach(p.fz);
    const b = this.baseline.apply(fd, {
      store: this.store,
      prefix: 'baseline',
      context: ctx.context ? detach(ctx.context) : undefined,
      update: ctx.update,
      who: this.name,
    });
    const centred = tf.sub(fd, b);
    let signal = centred;
    let scale: Tensor | undefined;
    if (this.normDecay !== undefined) {
      scale = this.scaleOf(emaValue(this.store, 'scale.var', this.normDecay));
      signal = tf.mul(centred, scale);
      if (ctx.update) {
        emaUpdate(this.store, 'scale.var', this.normDecay, tf.mean(tf.square(centred)));
      }
    }
    const surrogate = tf.mean(tf.add(p.fz, scoreTerm(signal, p.logq)), 0);
    const diagnostics: Record<string, Tensor> = { value: tf.mean(fd), baseline: tf.mean(b) };
    if (scale || this.reportScale) diagnostics.scale = scale ?? tf.scalar(1);
    return { surrogate, diagnostics };
  }
}

/**
 * REINFORCE, the score-function estimator (Williams 1992): grad E_q[f] = E_q[(f(z) - b)
 * grad log q(z)] + E_q[grad f(z)], unbiased for any b that does not depend on the sample.
 * Works on any distribution with `sample` and `logProb`. For x ~ N(theta, 1), f = x^2,
 * theta = 2 its per-sample variance is 87 (with b = 0); a constant b gives
 * (4 - b)^2 + 6 (4 - b) + 47 (38 at the best b = 7).
 *
 * @example
 * ```ts
 * import { Normal, Rng, tf } from '@dgm-js/core-tensors';
 * import { movingAverage, reinforce } from '@dgm-js/estimators';
 * const theta = tf.variable(tf.scalar(2));
 * const est = reinforce({ baseline: movingAverage() });
 * const g = tf.grad((t) => est.estimate(new Normal(t, 1), (x) => tf.square(x), { samples: 1000, rng: new Rng(0) }).surrogate)(theta);
 * // g is near 4
 * ```
 */
export function reinforce(opts: ReinforceOptions = {}): ReinforceEstimator {
  return new ReinforceEstimator(opts);
}

/**
 * The Gumbel-Max estimator: exact samples of a discrete latent (a `OneHotCategorical` samples by
 * argmax(logits + Gumbel noise), a `Bernoulli` by thresholding a uniform) and, since the argmax is
 * piecewise constant in the logits, the score-function gradient (optionally with a baseline, as
 * {@link reinforce}). Unbiased. Its relaxation is {@link gumbelSoftmax}. (Core's `gumbelMax`
 * draws the samples; this is the estimator.)
 *
 * @example
 * ```ts
 * const est = gumbelMaxEstimator({ baseline: movingAverage() });
 * const r = est.estimate(new OneHotCategorical({ logits }), f, { samples: 4, rng });
 * ```
 */
export function gumbelMaxEstimator(opts: ReinforceOptions = {}): ReinforceEstimator {
  return new ReinforceEstimator({ ...opts, normalize: false }, 'gumbel-max', true);
}

/**
 * RLOO, the leave-one-out REINFORCE estimator (Kool et al. 2019): REINFORCE with the
 * {@link leaveOneOut} baseline over K >= 2 samples, which gives
 * (1 / (K - 1)) sum_k (f_k - mean f) grad log q(z_k). Unbiased, no state.
 */
export class RlooEstimator extends ReinforceEstimator {
  constructor() {
    super({ baseline: leaveOneOut() }, 'rloo');
  }
}

/**
 * RLOO (Kool et al. 2019): REINFORCE with the leave-one-out baseline over K >= 2 samples.
 *
 * @example
 * ```ts
 * const r = rloo().estimate(new Bernoulli({ logits }), f, { samples: 4, rng: new Rng(0) });
 * ```
 */
export function rloo(): RlooEstimator {
  return new RlooEstimator();
}

/**
 * VIMCO (Mnih & Rezende 2016) for the multi-sample objective L = log (1/K) sum_k exp f(z_k), f the
 * log importance weight (log p(x, z) - log q(z | x) for an IWAE bound). The gradient is
 * sum_k (L - L_{-k}) grad log q(z_k) + sum_k softmax(f)_k grad f(z_k), where L_{-k} replaces
 * f(z_k) by the mean of the other K - 1 values: an unbiased estimator of grad E[L]. The
 * surrogate's value is L (not a mean of f). K >= 2.
 */
export class VimcoEstimator extends BaseEstimator {
  readonly name = 'vimco';
  readonly unbiased = true;
  protected override readonly minSamples = 2;

  constructor() {
    super('vimco');
  }

  protected run(q: LatentInput, f: Integrand, ctx: RunContext): RunResult {
    const p = scoreParts(q, f, ctx.samples, ctx, this.name);
    const k = ctx.samples;
    const logK = Math.log(k);
    const bound = tf.sub(logSumExp(p.fz, 0), logK); // [...I]
    const fd = detach(p.fz);
    // L_{-k}: f_k replaced by the mean of the others; A[k, j] = j == k ? mean_{-k} : f_j
    const meanOthers = tf.div(tf.sub(tf.sum(fd, 0, true), fd), k - 1); // [K, ...I]
    const eye = expandTo(tf.eye(k), fd.rank + 1); // [K, K, 1...]
    const a = tf.add(
      tf.mul(eye, tf.expandDims(meanOthers, 1)),
      tf.mul(tf.sub(1, eye), tf.expandDims(fd, 0)),
    ); // [K, K, ...I]
    const loo = tf.sub(logSumExp(a, 1), logK); // [K, ...I]
    const signal = tf.sub(tf.expandDims(detach(bound), 0), loo);
    const surrogate = tf.add(bound, tf.sum(scoreTerm(signal, p.logq), 0));
    return { surrogate, diagnostics: { value: tf.mean(detach(bound)) } };
  }
}

/**
 * VIMCO (Mnih & Rezende 2016): the leave-one-out score-function estimator of the multi-sample
 * bound log (1/K) sum_k exp f(z_k); f returns log weights.
 *
 * @example
 * ```ts
 * const logW = (z: tf.Tensor) => tf.sub(logJoint(z), q.logProb(z)); // [K, batch]
 * const r = vimco().estimate(q, logW, { samples: 5, rng });           // r.surrogate: the bound
 * ```
 */
export function vimco(): VimcoEstimator {
  return new VimcoEstimator();
}

/** Options of {@link nvil}. */
export interface NvilOptions {
  /** Hidden units of the baseline network on the context (one tanh layer). Default 64. */
  hidden?: number;
  /** Adam learning rate of the baseline network. Default 1e-3. */
  learningRate?: number;
  /** Decay of the running mean of f - b_psi(x) and of the running variance. Default 0.9. */
  decay?: number;
  /**
   * Divide the signal by max(1, running std) (NVIL's variance normalisation). Default true.
   * While the running variance exceeds 1 this scales the score-function gradient by
   * `diagnostics.scale` < 1 and `unbiased` is false; pass false for an unbiased estimator.
   */
  normalize?: boolean;
  /** Seed of the network's initial weights. Default 0. */
  seed?: number;
}

/**
 * NVIL (Mnih & Gregor 2014): REINFORCE with the {@link learned} baseline b_psi(x) + c (a network
 * on the instance's context `EstimateOptions.context`, `[...instance, features]`, plus a running
 * mean c) and the learning signal divided by max(1, sqrt(v)), v a running variance of the
 * centred signal. The network is trained inside `estimate` (when `update`) with Adam. All of it
 * is estimator state.
 *
 * The normalisation multiplies the score-function gradient by `scale` = 1 / max(1, sqrt(v))
 * (the diagnostic `scale`): the expected gradient is scale x the true one for the parameters
 * of q (plus f's own, unscaled, gradient), so `unbiased` is true exactly when scale is 1, and
 * `gradientStats` measures mean = scale x exact. `normalize: false` keeps it unbiased.
 */
export class NvilEstimator extends ReinforceEstimator {
  protected override readonly reportScale = true;

  constructor(opts: NvilOptions = {}) {
    const hidden = opts.hidden ?? 64;
    const lr = opts.learningRate ?? 1e-3;
    const decay = opts.decay ?? 0.9;
    checkInt(hidden, 'hidden', 'nvil');
    if (!(lr > 0))
      throw new ValueError(`nvil: learningRate must be > 0, got ${opts.learningRate}.`);
    if (!(decay >= 0 && decay < 1)) {
      throw new ValueError(`nvil: decay must be in [0, 1), got ${opts.decay}.`);
    }
    super(
      {
        baseline: learned({ hidden, learningRate: lr, decay, seed: opts.seed ?? 0 }),
        normalize: (opts.normalize ?? true) ? { decay } : false,
      },
      'nvil',
    );
  }
}

/**
 * NVIL (Mnih & Gregor 2014): REINFORCE with a learned input-dependent baseline, running centring
 * and variance normalisation.
 *
 * @example
 * ```ts
 * const est = nvil({ hidden: 100 });
 * const r = est.estimate(q, f, { samples: 1, rng, context: xBatch }); // xBatch [B, 784]
 * ```
 */
export function nvil(opts: NvilOptions = {}): NvilEstimator {
  return new NvilEstimator(opts);
}
