/**
 * REBAR (Tucker, Mnih, Maddison, Lawson & Sohl-Dickstein 2017, "REBAR: low-variance, unbiased
 * gradient estimates for discrete latent variable models") and RELAX (Grathwohl, Choi, Wu,
 * Roeder & Duvenaud 2018, "Backpropagation through the void").
 *
 * With z the continuous (Gumbel / logistic) variable behind the discrete sample b = H(z),
 * z~ ~ p(z | b) a conditional re-sample and c a control variate of z,
 *
 *   g = [f(b) - c(z~)] grad log p(b) + grad c(z) - grad c(z~),
 *
 * unbiased for any c (the last two terms have equal expectations, the first is centred by
 * c(z~)). REBAR takes c(z) = eta f(sigma_lambda(z)), the Concrete relaxation at temperature
 * lambda; RELAX adds a network r_psi(sigma_lambda(z)). The control-variate parameters (eta, log lambda, psi)
 * are trained inside `estimate` to minimise the estimator's variance, through
 * d/dpsi E[g^2] (E[g] does not depend on them): second-order autodiff through grad c.
 *
 * The gradient g is formed for the logits and injected into the surrogate, so it reaches
 * whatever computed the logits; f's own parameters get the gradient of mean_k f(b_k).
 *
 * Caveat (tfjs 4.22): second derivatives through ops whose gradient reads their saved *output*
 * (tf.sigmoid, tf.tanh, tf.exp, tf.softmax, ...) are silently wrong in tfjs (see core-tensors'
 * nn/second-order.ts), so the control variate's own ops use core's input-saving `safeSigmoid`,
 * `safeTanh`, `safeExp` and `safeSoftmax`. If f itself uses such ops, the lambda part of the
 * variance gradient (through eta f(sigma_lambda(z))) is inexact: the estimator stays unbiased,
 * only the tuning of lambda suffers. eta and the network are unaffected.
 */
import {
  checkInt,
  clampedUniform,
  gumbelNoise,
  Logistic,
  logSoftmax,
  mlp,
  Rng,
  ShapeError,
  safeExp,
  safeSigmoid,
  safeSoftmax,
  safeTanh,
  softplus,
  tf,
  ValueError,
} from '@dgm-js/core-tensors';
import { BaseEstimator, type RunContext, type RunResult } from './base.js';
import {
  detach,
  evalObjective,
  expandTo,
  injectGradient,
  oneHot,
  resolveDiscrete,
} from './latent.js';
import { Learner } from './state.js';
import type { Integrand, LatentInput, LatentKind } from './types.js';

type Tensor = tf.Tensor;

/** Options of {@link rebar} and {@link relax}. */
export interface RelaxOptions {
  /** Initial temperature lambda of the Concrete control variate. Default 0.5. */
  temperature?: number;
  /** Initial scale eta of the Concrete control variate. Default 1. */
  eta?: number;
  /** Learn lambda (as log lambda). Default true. */
  learnTemperature?: boolean;
  /** Learn eta. Default true. */
  learnEta?: boolean;
  /** Include eta f(sigma_lambda(z)) in c (REBAR's control variate). RELAX default true. */
  concreteTerm?: boolean;
  /** Hidden units of RELAX's network r_psi (one tanh layer); 0 for none. RELAX default 16. Its input is 2 sigma_lambda(z) - 1. */
  hidden?: number;
  /** Learning rate of the control-variate parameters. Default 1e-2. */
  learningRate?: number;
  /** Optimizer of the control-variate parameters: 'adam' (default) or plain 'sgd'. */
  optimizer?: 'adam' | 'sgd';
  /** Seed of the network's initial weights. Default 0. */
  seed?: number;
}

interface Noise {
  kind: LatentKind;
  /** z(theta) for theta [S, ...logits] */
  z: (t: Tensor) => Tensor;
  /** z~(theta) | b */
  zt: (t: Tensor) => Tensor;
  b: Tensor;
  dlogp: Tensor;
}

function bernoulliNoise(th: Tensor, s: number, ctx: RunContext): Noise {
  const shape = [s, ...th.shape];
  const l = new Logistic(0, 1, { validate: false }).sample({ sampleShape: shape, rng: ctx.rng });
  const v = clampedUniform(shape, ctx.rng);
  const b = tf.cast(tf.greater(tf.add(th, l), 0), 'float32');
  const isOne = tf.cast(b, 'bool');
  const logV = tf.log(v);
  const log1mV = tf.log1p(tf.neg(v));
  const zt = (t: Tensor) => {
    // z~ = logit(u~), u~ uniform on (1 - p, 1) when b = 1 and on (0, 1 - p) when b = 0
    const p = tf.sigmoid(t);
    const one = tf.sub(tf.add(softplus(t), tf.log1p(tf.neg(tf.mul(p, tf.sub(1, v))))), log1mV);
    const zero = tf.sub(
      tf.add(tf.neg(softplus(tf.neg(t))), logV),
      tf.log1p(tf.neg(tf.mul(v, tf.sub(1, p)))),
    );
    return tf.where(isOne, one, zero);
  };
  return {
    kind: 'bernoulli',
    z: (t) => tf.add(t, l),
    zt,
    b,
    dlogp: tf.sub(b, tf.sigmoid(th)),
  };
}

function categoricalNoise(th: Tensor, s: number, ctx: RunContext): Noise {
  const shape = [s, ...th.shape];
  const c = th.shape[th.rank - 1] as number;
  const g = gumbelNoise(shape, ctx.rng);
  const b = oneHot(tf.argMax(tf.add(th, g), -1), c);
  const isTop = tf.cast(b, 'bool');
  const ev = tf.neg(tf.log(clampedUniform(shape, ctx.rng))); // -log v > 0
  const evb = tf.sum(tf.mul(b, ev), -1, true); // of the sampled category
  const logEv = tf.log(ev);
  const logEvb = tf.log(evb);
  const top = tf.broadcastTo(tf.neg(logEvb), shape);
  const zt = (t: Tensor) => {
    // Tucker et al. 2017, appendix: given argmax k, z~_k = -log(-log v_k) and the others are
    // Gumbels truncated below it: z~_i = -log(-log v_i / p_i - log v_k) (normalised logits).
    const a = tf.sub(logEv, logSoftmax(t));
    const m = tf.maximum(a, logEvb);
    const lae = tf.add(m, tf.log(tf.add(tf.exp(tf.sub(a, m)), tf.exp(tf.sub(logEvb, m)))));
    return tf.where(isTop, top, tf.neg(lae));
  };
  return {
    kind: 'categorical',
    z: (t) => tf.add(logSoftmax(t), g),
    zt,
    b,
    dlogp: tf.sub(b, tf.softmax(th)),
  };
}

/** REBAR / RELAX. */
export class RelaxEstimator extends BaseEstimator {
  readonly name: 'rebar' | 'relax';
  readonly unbiased = true;
  private readonly learn: string[];
  private readonly concrete: boolean;
  private readonly hidden: number;
  private readonly lr: number;
  private readonly optimizer: 'adam' | 'sgd';
  private readonly seed: number;
  /** What to change when the control variate diverges (the Trainer's non-finite guard says it). */
  readonly divergenceHint: string;

  constructor(name: 'rebar' | 'relax', opts: RelaxOptions = {}) {
    super(name);
    this.name = name;
    const temp = opts.temperature ?? 0.5;
    const eta = opts.eta ?? 1;
    if (!(Number.isFinite(temp) && temp > 0)) {
      throw new ValueError(
        `${name}: temperature must be a finite number > 0, got ${opts.temperature}.`,
      );
    }
    if (!Number.isFinite(eta))
      throw new ValueError(`${name}: eta must be finite, got ${opts.eta}.`);
    this.concrete = name === 'rebar' ? true : (opts.concreteTerm ?? true);
    this.hidden = name === 'rebar' ? 0 : (opts.hidden ?? 16);
    checkInt(this.hidden, 'hidden', name, { min: 0 });
    if (!this.concrete && this.hidden === 0) {
      throw new ValueError(
        `relax: the control variate is empty; keep concreteTerm or set hidden > 0.`,
      );
    }
    this.lr = opts.learningRate ?? 1e-2;
    if (!(Number.isFinite(this.lr) && this.lr > 0))
      throw new ValueError(
        `${name}: learningRate must be a finite number > 0, got ${opts.learningRate}.`,
      );
    this.divergenceHint = `lower ${name}'s own learningRate (${name}({ learningRate }), now ${this.lr}: the step size of its control variate's ${opts.optimizer ?? 'adam'} optimizer), not the model optimizer's`;
    this.optimizer = opts.optimizer ?? 'adam';
    if (this.optimizer !== 'adam' && this.optimizer !== 'sgd') {
      throw new ValueError(
        `${name}: optimizer must be 'adam' or 'sgd', got '${String(opts.optimizer)}'.`,
      );
    }
    this.seed = opts.seed ?? 0;
    this.learn = [];
    this.store.ensure('logTemperature', [], () => tf.scalar(Math.log(temp)));
    if (opts.learnTemperature ?? true) this.learn.push('logTemperature');
    if (this.concrete) {
      this.store.ensure('eta', [], () => tf.scalar(eta));
      if (opts.learnEta ?? true) this.learn.push('eta');
    }
  }

  /** Current eta (NaN without the Concrete term) and lambda. */
  get controlVariate(): { eta: number; temperature: number } {
    const e = this.store.get('eta');
    const l = this.store.get('logTemperature')!;
    return {
      eta: e ? (e.dataSync()[0] as number) : Number.NaN,
      temperature: Math.exp(l.dataSync()[0] as number),
    };
  }

  /** RELAX's network r_psi on `din` inputs, created in the state on first use. */
  private network(din: number): RelaxNet | undefined {
    if (this.hidden === 0) return undefined;
    const part = this.store.part('net', (): RelaxNet => {
      // one tanh layer; safeTanh keeps the variance gradient's second-order terms
      const net = mlp([din, this.hidden, 1], { rng: new Rng(this.seed), activation: safeTanh });
      return { din, net: this.store.adoptModule('net', net) };
    });
    if (part.din !== din) {
      throw new ShapeError(
        `${this.name}: the control-variate network takes ${part.din} inputs (latent size per instance), this call has ${din} ` +
          '(the latent size changed since the network was created or restored).',
      );
    }
    return part;
  }

  /** The optimizer of the learned control-variate parameters (created on the first update). */
  private learner(net: RelaxNet | undefined): Learner {
    return this.store.part('learner', () => {
      const params: [string, tf.Variable][] = this.learn.map((n) => [n, this.store.get(n)!]);
      for (const [n, v] of net?.net.namedParameters() ?? []) params.push([`net.${n}`, v]);
      return new Learner(this.store, 'adam', params, {
        learningRate: this.lr,
        optimizer: this.optimizer,
      });
    });
  }

  protected run(q: LatentInput, f: Integrand, ctx: RunContext): RunResult {
    const r = resolveDiscrete(q, this.name);
    const s = ctx.samples;
    const th = detach(r.logits);
    const noise =
      r.kind === 'bernoulli' ? bernoulliNoise(th, s, ctx) : categoricalNoise(th, s, ctx);
    const { fz, instRank } = evalObjective(f, noise.b, s, r.batchShape, this.name);
    const fd = detach(fz);
    const instShape = fz.shape.slice(1);
    const din = th.shape.slice(instRank).reduce((a, b) => a * b, 1);
    const net = this.network(din);
    const kind = noise.kind;
    const logTemperature = this.store.get('logTemperature')!;
    const eta = this.store.get('eta');

    // c(zz) for zz [n, ...logits] -> [n, ...instance]
    const cv = (zz: Tensor): Tensor => {
      const n = zz.shape[0] as number;
      let out: Tensor = tf.zeros([n, ...instShape]);
      const scaled = tf.div(zz, safeExp(logTemperature));
      const relaxed = kind === 'bernoulli' ? safeSigmoid(scaled) : safeSoftmax(scaled);
      if (eta) {
        const fr = evalObjective(f, relaxed, n, r.batchShape, this.name).fz;
        out = tf.add(out, tf.mul(eta, fr));
      }
      if (net) {
        // r_psi(2 sigma_lambda(z) - 1), as the authors' toy code
        const o = net.net.apply(tf.reshape(tf.sub(tf.mul(relaxed, 2), 1), [-1, din]));
        out = tf.add(out, tf.reshape(o, [n, ...instShape]));
      }
      return out;
    };

    const kept: Tensor[] = [];
    const rank = th.rank + 1;
    const ghatOf = (): Tensor => {
      const tt = tf.broadcastTo(th, [s, ...th.shape]);
      let czt: Tensor | undefined;
      const dc = tf.grad((t: Tensor) => {
        const c = cv(tf.concat([noise.z(t), noise.zt(t)], 0));
        const [cz, ct] = tf.split(c, 2, 0) as [Tensor, Tensor];
        czt = tf.keep(ct);
        kept.push(czt);
        return tf.sub(tf.sum(cz), tf.sum(ct));
      })(tt);
      const signal = expandTo(tf.sub(fd, czt!), rank);
      return tf.mean(tf.add(tf.mul(signal, noise.dlogp), dc), 0);
    };

    const nInst = instShape.reduce((a, b) => a * b, 1);
    let ghat: Tensor;
    let cvLoss: Tensor;
    try {
      if (ctx.update && (this.learn.length || net)) {
        // one step on the variance E[ghat^2] (E[ghat] does not depend on the parameters)
        let g: Tensor | undefined;
        cvLoss = this.learner(net).minimize(() => {
          const gh = ghatOf();
          g = tf.keep(tf.clone(gh));
          kept.push(g);
          return tf.div(tf.sum(tf.square(gh)), nInst);
        });
        ghat = tf.clone(g!);
      } else {
        ghat = ghatOf();
        cvLoss = tf.div(tf.sum(tf.square(ghat)), nInst);
      }
    } finally {
      for (const t of kept) t.dispose();
    }
    const surrogate = tf.add(tf.mean(fz, 0), injectGradient(r.logits, ghat, instRank));
    const diagnostics: Record<string, Tensor | number> = { value: tf.mean(fd), cvLoss };
    if (eta) diagnostics.eta = tf.clone(eta);
    diagnostics.temperature = tf.exp(logTemperature);
    return { surrogate, diagnostics };
  }
}

/** RELAX's control-variate network and its input size. */
interface RelaxNet {
  din: number;
  net: ReturnType<typeof mlp>;
}

/**
 * REBAR (Tucker et al. 2017): the conditional-relaxation control variate
 * c(z) = eta f(sigma_lambda(z)), eta and lambda tuned online to minimise the variance. f must
 * accept relaxed inputs in [0, 1] (Bernoulli) or on the simplex (categorical). Unbiased.
 *
 * @example
 * ```ts
 * const est = rebar({ temperature: 0.5 });
 * const r = est.estimate(bernoulliLatent(logits), f, { samples: 1, rng });
 * ```
 */
export function rebar(opts: Omit<RelaxOptions, 'hidden' | 'concreteTerm'> = {}): RelaxEstimator {
  return new RelaxEstimator('rebar', opts);
}

/**
 * RELAX (Grathwohl et al. 2018): c(z) = eta f(sigma_lambda(z)) + r_psi(2 sigma_lambda(z) - 1)
 * with a small tanh network r_psi (sigma = softmax for categorical latents), all trained to
 * minimise the estimator's variance. Unbiased. With `concreteTerm: false` the control variate
 * is the network alone and f is a black box (evaluated only at discrete samples), as in the
 * authors' toy experiment.
 *
 * @example
 * ```ts
 * const est = relax({ hidden: 16 });
 * const r = est.estimate(bernoulliLatent(logits), f, { samples: 1, rng });
 * ```
 */
export function relax(opts: RelaxOptions = {}): RelaxEstimator {
  return new RelaxEstimator('relax', opts);
}
