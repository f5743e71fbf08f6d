/**
 * Score-function (REINFORCE) estimators and their control variates:
 * - REINFORCE (Williams 1992; Glynn 1990): grad = E[f(z) grad log q(z)], with no baseline, a
 *   constant baseline or a moving average of f;
 * - NVIL (Mnih & Gregor 2014, "Neural variational inference and learning in belief networks"):
 *   an input-dependent learned baseline plus running centring and variance normalisation;
 * - RLOO (Kool, van Hoof & Welling 2019, "Buy 4 REINFORCE samples, get a baseline for free!"):
 *   each sample's baseline is the mean of the other K - 1;
 * - VIMCO (Mnih & Rezende 2016, "Variational inference for Monte Carlo objectives"): per-sample
 *   leave-one-out learning signals for the multi-sample bound log (1/K) sum_k exp f(z_k);
 * - Gumbel-Max: exact categorical samples by argmax(logits + Gumbel noise) (Gumbel 1954;
 *   Maddison, Tarlow & Minka 2014); argmax has no useful derivative, so the gradient is the
 *   score function's.
 *
 * All of them use the "surrogate" form: value f(z) + stop(signal) * (log q(z) - stop(log q(z))),
 * so the value is the Monte Carlo estimate and autodiff gives the estimator (plus f's own
 * gradient when f has parameters).
 */
import { logSumExp, ShapeError, tf, ValueError } from '@dgm-js/core-tensors';
import { BaseEstimator, type RunContext, type RunResult } from './base.js';
import {
  detach,
  discreteLogProb,
  evalObjective,
  expandTo,
  resolve,
  resolveDiscrete,
  sampleDiscrete,
  sumLatent,
} from './latent.js';
import { adamStep } from './state.js';
import type { LatentInput, Objective } from './types.js';

type Tensor = tf.Tensor;

/** Samples (detached), f values, the instance rank and log q per sample and instance. */
export interface ScoreParts {
  z: Tensor;
  fz: Tensor;
  instRank: number;
  /** log q(z) summed over latent dims, [S, ...instance], differentiable in q's parameters. */
  logq: Tensor;
}

/** Draws S samples from q, evaluates f and log q. */
export function scoreParts(
  q: LatentInput,
  f: Objective,
  samples: number,
  ctx: { rng: RunContext['rng'] },
  who: string,
  discreteOnly = false,
): ScoreParts {
  const r = discreteOnly ? resolveDiscrete(q, who) : resolve(q, who);
  let z: Tensor;
  if (r.kind === 'distribution') {
    z = detach(r.dist.sample({ sampleShape: [samples], rng: ctx.rng }));
  } else {
    z = sampleDiscrete(r.kind, detach(r.logits), samples, ctx.rng);
  }
  const { fz, instRank } = evalObjective(f, z, samples, r.batchShape, who);
  const lp = r.kind === 'distribution' ? r.dist.logProb(z) : discreteLogProb(r.kind, r.logits, z);
  return { z, fz, instRank, logq: sumLatent(lp, instRank) };
}

/** `stop(signal) * (logq - stop(logq))`: value 0, gradient signal * grad log q. */
export function scoreTerm(signal: Tensor, logq: Tensor): Tensor {
  return tf.mul(detach(signal), tf.sub(logq, detach(logq)));
}

/** A baseline of REINFORCE. */
export type Baseline =
  | 'none'
  | 'movingAverage'
  | { type: 'constant'; value: number }
  | { type: 'movingAverage'; decay?: number };

/** Options of {@link reinforce}. */
export interface ReinforceOptions {
  /**
   * The control variate subtracted from f in the learning signal: 'none' (default), a constant,
   * or 'movingAverage' of the mean of f over past calls (decay 0.9, bias-corrected; the
   * baseline used at a call comes from earlier calls only, so the estimator stays unbiased).
   */
  baseline?: Baseline;
}

/** REINFORCE with an optional constant or moving-average baseline. */
export class ReinforceEstimator extends BaseEstimator {
  readonly name: string;
  readonly unbiased = true;
  private readonly kind: 'none' | 'constant' | 'movingAverage';
  private readonly constant: number;
  private readonly decay: number;
  private readonly discreteOnly: boolean;

  constructor(opts: ReinforceOptions = {}, name = 'reinforce', discreteOnly = false) {
    super(name);
    this.name = name;
    this.discreteOnly = discreteOnly;
    const b = opts.baseline ?? 'none';
    if (b === 'none') {
      this.kind = 'none';
      this.constant = 0;
      this.decay = 0;
    } else if (b === 'movingAverage' || (typeof b === 'object' && b.type === 'movingAverage')) {
      this.kind = 'movingAverage';
      this.constant = 0;
      this.decay = typeof b === 'object' && b.type === 'movingAverage' ? (b.decay ?? 0.9) : 0.9;
      if (!(this.decay >= 0 && this.decay < 1)) {
        throw new ValueError(`${name}: baseline decay must be in [0, 1), got ${this.decay}.`);
      }
      // created eagerly: the state is a scalar average and its count
      this.store.ensure('baseline.sum', [], () => tf.scalar(0));
      this.store.ensure('baseline.count', [], () => tf.scalar(0));
    } else if (typeof b === 'object' && b.type === 'constant' && Number.isFinite(b.value)) {
      this.kind = 'constant';
      this.constant = b.value;
      this.decay = 0;
    } else {
      throw new ValueError(
        `${name}: baseline must be 'none', 'movingAverage', { type: 'movingAverage', decay } or { type: 'constant', value: <finite number> }, got ${JSON.stringify(b)}.`,
      );
    }
  }

  /** The baseline's current value (a scalar tensor the caller owns). */
  private baseline(): Tensor {
    if (this.kind === 'constant') return tf.scalar(this.constant);
    if (this.kind === 'none') return tf.scalar(0);
    const s = this.store.get('baseline.sum')!;
    const n = this.store.get('baseline.count')!;
    // bias-corrected exponential average; 0 before the first update
    const corr = tf.sub(1, tf.pow(tf.scalar(this.decay), n));
    return tf.where(tf.greater(n, 0), tf.div(s, tf.maximum(corr, 1e-12)), tf.scalar(0));
  }

  protected run(q: LatentInput, f: Objective, ctx: RunContext): RunResult {
    const p = scoreParts(q, f, ctx.samples, ctx, this.name, this.discreteOnly);
    const b = this.baseline();
    const signal = tf.sub(p.fz, b);
    const surrogate = tf.mean(tf.add(p.fz, scoreTerm(signal, p.logq)), 0);
    const meanF = tf.mean(detach(p.fz));
    if (ctx.update && this.kind === 'movingAverage') {
      const s = this.store.get('baseline.sum')!;
      const n = this.store.get('baseline.count')!;
      s.assign(tf.add(tf.mul(s, this.decay), tf.mul(meanF, 1 - this.decay)));
      n.assign(tf.add(n, 1));
    }
    return { surrogate, diagnostics: { value: meanF, baseline: b } };
  }
}

/**
 * REINFORCE, the score-function estimator (Williams 1992): grad E_q[f] = E_q[(f(z) - b)
 * grad log q(z)] + E_q[grad f(z)], unbiased for any b that does not depend on the sample.
 * Works on any distribution with `sample` and `logProb`, and on discrete latents given by logits.
 * For x ~ N(theta, 1), f = x^2, theta = 2 its per-sample variance is 87 (with b = 0); a constant
 * b gives (4 - b)^2 + 6 (4 - b) + 47 (38 at the best b = 7).
 *
 * @example
 * ```ts
 * import { Normal, Rng, tf } from '@dgm-js/core-tensors';
 * import { reinforce } from '@dgm-js/estimators';
 * const theta = tf.variable(tf.scalar(2));
 * const est = reinforce({ baseline: 'movingAverage' });
 * const g = tf.grad((t) => est.estimate(new Normal(t, 1), (x) => tf.square(x), { samples: 1000, rng: new Rng(0) }).surrogate)(theta);
 * // g is near 4
 * ```
 */
export function reinforce(opts: ReinforceOptions = {}): ReinforceEstimator {
  return new ReinforceEstimator(opts);
}

/**
 * The Gumbel-Max estimator: samples a categorical (or Bernoulli) latent exactly with
 * argmax(logits + Gumbel noise) and, since the argmax is piecewise constant in the logits,
 * differentiates by the score function (optionally with a baseline, as {@link reinforce}).
 * Unbiased. Its relaxation is {@link gumbelSoftmax}.
 *
 * @example
 * ```ts
 * const est = gumbelMax({ baseline: 'movingAverage' });
 * const r = est.estimate(categoricalLatent(logits), f, { samples: 4, rng });
 * ```
 */
export function gumbelMax(opts: ReinforceOptions = {}): ReinforceEstimator {
  return new ReinforceEstimator(opts, 'gumbel-max', true);
}

/**
 * RLOO, the leave-one-out REINFORCE estimator (Kool et al. 2019): with K >= 2 samples, sample k
 * uses the mean of the other K - 1 values as its baseline, which gives
 * (1 / (K - 1)) sum_k (f_k - mean f) grad log q(z_k). Unbiased, no state.
 */
export class RlooEstimator extends BaseEstimator {
  readonly name = 'rloo';
  readonly unbiased = true;
  protected override readonly minSamples = 2;

  constructor() {
    super('rloo');
  }

  protected run(q: LatentInput, f: Objective, ctx: RunContext): RunResult {
    const p = scoreParts(q, f, ctx.samples, ctx, this.name);
    const k = ctx.samples;
    const meanF = tf.mean(p.fz, 0, true);
    const signal = tf.sub(p.fz, meanF);
    const surrogate = tf.add(tf.mean(p.fz, 0), tf.div(tf.sum(scoreTerm(signal, p.logq), 0), k - 1));
    return { surrogate, diagnostics: { value: tf.mean(detach(p.fz)) } };
  }
}

/**
 * RLOO (Kool et al. 2019): REINFORCE with the leave-one-out baseline over K >= 2 samples.
 *
 * @example
 * ```ts
 * const r = rloo().estimate(bernoulliLatent(logits), f, { samples: 4, rng: new Rng(0) });
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

  protected run(q: LatentInput, f: Objective, ctx: RunContext): RunResult {
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
  /** Decay of the running mean and variance of the centred signal. Default 0.9. */
  decay?: number;
  /** Divide the signal by max(1, running std) (NVIL's variance normalisation). Default true. */
  normalize?: boolean;
  /** Seed of the network's initial weights. Default 0. */
  seed?: number;
}

/**
 * NVIL (Mnih & Gregor 2014): REINFORCE with the learning signal
 * (f - b_psi(x) - c) / max(1, sqrt(v)), where b_psi is a small network on the instance's
 * context x (`EstimateOptions.context`, `[...instance, features]`; without context b = 0), c a
 * running mean of f - b_psi(x) and v a running variance of the centred signal. The network is
 * trained inside `estimate` (when `update`) to minimise (f - c - b_psi(x))^2 with Adam. All of
 * it is estimator state. The gradient is unbiased up to the positive scale 1 / max(1, sqrt(v))
 * (reported as the diagnostic `scale`), as in the paper: the direction is unbiased.
 */
export class NvilEstimator extends BaseEstimator {
  readonly name = 'nvil';
  readonly unbiased = true;
  private readonly hidden: number;
  private readonly lr: number;
  private readonly decay: number;
  private readonly normalize: boolean;
  private readonly seed: number;

  constructor(opts: NvilOptions = {}) {
    super('nvil');
    this.hidden = opts.hidden ?? 64;
    this.lr = opts.learningRate ?? 1e-3;
    this.decay = opts.decay ?? 0.9;
    this.normalize = opts.normalize ?? true;
    this.seed = opts.seed ?? 0;
    if (!Number.isInteger(this.hidden) || this.hidden < 1) {
      throw new ValueError(`nvil: hidden must be an integer >= 1, got ${opts.hidden}.`);
    }
    if (!(this.lr > 0))
      throw new ValueError(`nvil: learningRate must be > 0, got ${opts.learningRate}.`);
    if (!(this.decay >= 0 && this.decay < 1)) {
      throw new ValueError(`nvil: decay must be in [0, 1), got ${opts.decay}.`);
    }
    for (const n of ['mean.sum', 'var.sum', 'count']) this.store.ensure(n, [], () => tf.scalar(0));
  }

  private corrected(name: string): Tensor {
    const s = this.store.get(name)!;
    const n = this.store.get('count')!;
    const corr = tf.sub(1, tf.pow(tf.scalar(this.decay), n));
    return tf.where(tf.greater(n, 0), tf.div(s, tf.maximum(corr, 1e-12)), tf.scalar(0));
  }

  private net(features: number): [string, tf.Variable][] {
    const h = this.hidden;
    const lim1 = Math.sqrt(6 / (features + h));
    const lim2 = Math.sqrt(6 / (h + 1));
    return [
      [
        'net.w1',
        this.store.ensure('net.w1', [features, h], () =>
          tf.randomUniform([features, h], -lim1, lim1, 'float32', this.seed * 7 + 1),
        ),
      ],
      ['net.b1', this.store.ensure('net.b1', [h], () => tf.zeros([h]))],
      [
        'net.w2',
        this.store.ensure('net.w2', [h, 1], () =>
          tf.randomUniform([h, 1], -lim2, lim2, 'float32', this.seed * 7 + 2),
        ),
      ],
      ['net.b2', this.store.ensure('net.b2', [1], () => tf.zeros([1]))],
    ];
  }

  private static forward(x: Tensor, w: readonly Tensor[]): Tensor {
    const [w1, b1, w2, b2] = w as [Tensor, Tensor, Tensor, Tensor];
    const f = x.shape[x.rank - 1] as number;
    const flat = tf.reshape(x, [-1, f]);
    const h = tf.tanh(tf.add(tf.matMul(flat, w1), b1));
    return tf.reshape(tf.add(tf.matMul(h, w2), b2), x.shape.slice(0, -1));
  }

  protected run(q: LatentInput, f: Objective, ctx: RunContext): RunResult {
    const p = scoreParts(q, f, ctx.samples, ctx, this.name);
    const fd = detach(p.fz);
    const inst = p.fz.shape.slice(1);
    let bx: Tensor = tf.zeros(inst);
    let params: [string, tf.Variable][] = [];
    let x: Tensor | undefined;
    if (ctx.context) {
      x = detach(ctx.context);
      const ok = x.rank === inst.length + 1 && inst.every((d, i) => d === x!.shape[i]);
      if (!ok) {
        throw new ShapeError(
          `nvil: context has shape [${ctx.context.shape.join(', ')}] but must be [...instanceShape, features] = [${inst.join(', ')}, features].`,
        );
      }
      params = this.net(x.shape[x.rank - 1] as number);
      bx = NvilEstimator.forward(
        x,
        params.map(([, v]) => v),
      );
    }
    const c = this.corrected('mean.sum');
    const v = this.corrected('var.sum');
    const r = tf.sub(fd, bx); // [S, ...I]
    const centred = tf.sub(r, c);
    const scale = this.normalize ? tf.div(1, tf.maximum(1, tf.sqrt(v))) : tf.scalar(1);
    const signal = tf.mul(centred, scale);
    const surrogate = tf.mean(tf.add(p.fz, scoreTerm(signal, p.logq)), 0);
    if (ctx.update) {
      const d = this.decay;
      const ms = this.store.get('mean.sum')!;
      const vs = this.store.get('var.sum')!;
      const n = this.store.get('count')!;
      ms.assign(tf.add(tf.mul(ms, d), tf.mul(tf.mean(r), 1 - d)));
      vs.assign(tf.add(tf.mul(vs, d), tf.mul(tf.mean(tf.square(centred)), 1 - d)));
      n.assign(tf.add(n, 1));
      if (x && params.length) {
        const xx = x;
        const target = tf.sub(fd, c);
        const { grads } = tf.valueAndGrads((...w: Tensor[]) =>
          tf.mean(tf.square(tf.sub(target, NvilEstimator.forward(xx, w)))),
        )(params.map(([, v2]) => v2));
        adamStep(this.store, params, grads, { learningRate: this.lr });
      }
    }
    return {
      surrogate,
      diagnostics: { value: tf.mean(fd), baseline: tf.add(c, tf.mean(bx)), scale },
    };
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
