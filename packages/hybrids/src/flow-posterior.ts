/**
 * VAE posteriors that are normalizing flows (Rezende & Mohamed 2015; Kingma et al. 2016):
 * q(z | x) is the encoder's diagonal Gaussian q0(z0 | x) pushed through a bijector, optionally
 * conditioned on a context vector h(x) the same encoder network produces. A posterior is a
 * `ConditionalDistribution` (and a `Module`), so `new VAE({ encoder: iafPosterior(net, ...), ... })`
 * is the whole hybrid: the VAE's Monte Carlo KL uses log q of the flowed sample, log-det included.
 */
import {
  type Bijector,
  type ConditionalDistribution,
  checkInt,
  checkRng,
  type Distribution,
  fmtShape,
  Independent,
  Module,
  Normal,
  type Rng,
  type SampleOptions,
  ShapeError,
  softplus,
  stopGradient,
  tf,
  ValueError,
} from '@dgm-js/core-tensors';
import { Chain, FlowDistribution, IAF, Planar, Radial } from '@dgm-js/flows';

type Tensor = tf.Tensor;
/** Any module from a tensor to a tensor (the encoder network). */
export type TensorModule = Module<Tensor, Tensor>;

/** `Normal(loc, scale)` owning its parameter tensors (so q0 is one object to dispose). */
class OwnedNormal extends Normal {
  constructor(loc: Tensor, scale: Tensor) {
    super(loc, scale, { validate: false });
    this.own(loc);
    this.own(scale);
  }
}

/** Options of {@link FlowPosteriorDistribution}. */
export interface FlowPosteriorDistributionOptions {
  /** The context `[B, C]` for conditional bijectors (h(x)); kept by reference unless owned. */
  context?: Tensor;
  /** Tensors freed with the distribution (the base's parameters, the context). */
  owned?: readonly Tensor[];
  /**
   * Whether `logProb` of the tensor that `sample()` just returned is served from the forward
   * pass (exact value, no gradient: `sample` is for evaluation). Default true. Set false when a
   * score-function estimator needs the gradient of log q at fixed samples (then `logProb` runs
   * the bijector's inverse). `rsample` is always remembered (value and gradient exact).
   */
  cacheSamples?: boolean;
}

/**
 * A flow posterior: a `FlowDistribution` (core `TransformedDistribution`) that remembers the
 * log-density of the last sample it drew. `rsample` runs the fast direction once and keeps
 * log q(z_K) = log q0(z_0) - log|det dz_K / dz_0| from the same pass, so `logProb(z)` of that
 * very tensor costs nothing and needs no inverse (planar flows have no closed-form inverse, IAF's
 * is D sequential passes). Any other tensor goes through the inverse, as in any
 * `TransformedDistribution`. This is what TensorFlow Probability's and PyTorch's bijector caches
 * do; here the cache is one entry on the distribution.
 *
 * @example
 * ```ts
 * const q = new FlowPosteriorDistribution(q0, new Planar(2, { rng }));
 * const z = q.rsample({ sampleShape: [5], rng }); // [5, B, 2]
 * const lq = q.logProb(z);                       // [5, B], from the forward pass
 * tf.dispose([z, lq]); q.dispose();
 * ```
 */
export class FlowPosteriorDistribution extends FlowDistribution {
  private last: { x: Tensor; logProb: Tensor } | undefined;
  private readonly cacheSamples: boolean;
  private readonly ownedTensors: readonly Tensor[];

  constructor(base: Distribution, bijector: Bijector, opts: FlowPosteriorDistributionOptions = {}) {
    super(base, bijector, opts.context === undefined ? {} : { context: opts.context });
    this.cacheSamples = opts.cacheSamples ?? true;
    this.ownedTensors = opts.owned ?? [];
  }

  private remember(x: Tensor, logProb: Tensor): void {
    if (this.last && this.last.logProb !== logProb) this.last.logProb.dispose();
    this.last = { x, logProb };
  }

  /** f(q0 rsample), differentiable; its log-density is remembered for `logProb`. */
  override rsample(opts: SampleOptions): Tensor {
    const r = this.rsampleWithLogProb(opts);
    this.remember(r.x, r.logProb);
    return r.x;
  }

  /** f(q0 sample), no gradient; with `cacheSamples` its log-density value is remembered. */
  override sample(opts: SampleOptions): Tensor {
    if (!this.cacheSamples) return super.sample(opts);
    const [x, lp] = tf.tidy(() => {
      const r = this.rsampleWithLogProb(opts);
      return [stopGradient(r.x), stopGradient(r.logProb)];
    }) as [Tensor, Tensor];
    this.remember(x, lp);
    return x;
  }

  /**
   * log q(y): the remembered value when `y` is the tensor the last `rsample` (or `sample`)
   * returned, else through the bijector's inverse.
   */
  override logProb(y: Tensor): Tensor {
    const c = this.last;
    if (c && c.x === y && !y.isDisposed && !c.logProb.isDisposed) return tf.clone(c.logProb);
    return super.logProb(y);
  }

  protected override disposeChildren(): void {
    super.disposeChildren();
    this.last?.logProb.dispose();
    this.last = undefined;
    for (const t of this.ownedTensors) t.dispose();
  }
}

/** Options of {@link FlowPosterior} and {@link flowPosterior}. */
export interface FlowPosteriorOptions {
  /** Latent dimensions d. */
  latentDim: number;
  /**
   * Size of the context h(x) the network also returns (for conditional bijectors: amortised
   * planar / radial parameters, IAF's context). Default 0 (no context).
   */
  contextDim?: number;
  /** Added to softplus(.) so the base scales stay positive. Default 1e-5. */
  minScale?: number;
  /** See {@link FlowPosteriorDistributionOptions.cacheSamples}. Default true. */
  cacheSamples?: boolean;
}

/**
 * q(z | x) = a flow of q0(z0 | x) = N(mu(x), diag sigma(x)^2): the network maps x `[B, ...]` to
 * `[B, 2d + c]` (means, pre-softplus scales, then the context h(x) when `contextDim` c > 0);
 * `condition(x)` is a {@link FlowPosteriorDistribution} with batch `[B]`, event `[d]`, the
 * bijector given h(x) as its context. A `Module` with sub-modules `net` and `flow`, so a `VAE`
 * trains and checkpoints both.
 *
 * @example
 * ```ts
 * import { mlp, Rng } from '@dgm-js/core-tensors';
 * import { Planar } from '@dgm-js/flows';
 * const rng = new Rng(0);
 * const q = new FlowPosterior(mlp([784, 256, 2 * 8], { rng }), [new Planar(8, { rng })], { latentDim: 8 });
 * ```
 */
export class FlowPosterior
  extends Module<Tensor, Distribution>
  implements ConditionalDistribution<Tensor, FlowPosteriorDistribution>
{
  readonly net: TensorModule;
  readonly flow: Bijector;
  readonly latentDim: number;
  readonly contextDim: number;
  readonly minScale: number;
  private readonly cacheSamples: boolean;

  constructor(net: TensorModule, flow: Bijector | readonly Bijector[], opts: FlowPosteriorOptions) {
    super('FlowPosterior');
    if (!(net instanceof Module)) {
      throw new ValueError(
        `FlowPosterior: pass the encoder network as a module (e.g. mlp([784, 256, 2 * latentDim + contextDim], { rng })), got ${typeof net}.`,
      );
    }
    if (!opts || typeof opts !== 'object') {
      throw new ValueError('FlowPosterior: pass options { latentDim, contextDim? }.');
    }
    this.latentDim = checkInt(opts.latentDim, 'latentDim', 'FlowPosterior');
    this.contextDim = checkInt(opts.contextDim ?? 0, 'contextDim', 'FlowPosterior', { min: 0 });
    this.minScale = opts.minScale ?? 1e-5;
    if (!(Number.isFinite(this.minScale) && this.minScale >= 0)) {
      throw new ValueError(
        `FlowPosterior: minScale must be a finite number >= 0, got ${this.minScale}.`,
      );
    }
    this.cacheSamples = opts.cacheSamples ?? true;
    const f = Array.isArray(flow) ? new Chain(flow) : (flow as Bijector);
    if (!f || typeof f.forward !== 'function' || typeof f.inverse !== 'function') {
      throw new ValueError('FlowPosterior: flow must be a Bijector or an array of Bijectors.');
    }
    if (!(f instanceof Module)) {
      throw new ValueError(
        'FlowPosterior: the flow must be a Module (every bijector of @dgm-js/flows is), so its parameters train and checkpoint with the model.',
      );
    }
    this.net = this.addModule('net', net);
    this.flow = this.addModule(
      'flow',
      f as unknown as Module<never, unknown>,
    ) as unknown as Bijector;
  }

  /** Width the network must return: 2 latentDim + contextDim. */
  get outputs(): number {
    return 2 * this.latentDim + this.contextDim;
  }

  /**
   * The base q0(z0 | x) parameters and the context: loc `[B, d]`, scale `[B, d]`, h `[B, c]`
   * (undefined when c = 0). The caller owns them.
   */
  baseParams(x: Tensor): { loc: Tensor; scale: Tensor; context: Tensor | undefined } {
    const d = this.latentDim;
    const c = this.contextDim;
    const out = tf.tidy(() => {
      const h = this.net.apply(x);
      const n = x.shape[0];
      if (h.rank !== 2 || h.shape[0] !== n || h.shape[1] !== this.outputs) {
        throw new ShapeError(
          `${this.label}: the network returned ${fmtShape(h.shape)} for x ${fmtShape(x.shape)}; it must return [${n}, ${this.outputs}] (${d} means, ${d} pre-softplus scales${c > 0 ? `, ${c} context features` : ''}).`,
        );
      }
      const loc = tf.slice(h, [0, 0], [-1, d]);
      const scale = tf.add(softplus(tf.slice(h, [0, d], [-1, d])), this.minScale);
      return c > 0 ? [loc, scale, tf.slice(h, [0, 2 * d], [-1, c])] : [loc, scale];
    }) as Tensor[];
    return { loc: out[0] as Tensor, scale: out[1] as Tensor, context: out[2] };
  }

  /**
   * The Gaussian q0(z0 | x) alone (batch `[B]`, event `[d]`), before the flow: the posterior a
   * plain Gaussian VAE would use. The caller owns it.
   *
   * @example
   * ```ts
   * const q0 = posterior.base(x); // Independent(Normal(mu(x), sigma(x)), 1)
   * q0.dispose();
   * ```
   */
  base(x: Tensor): Distribution {
    const { loc, scale, context } = this.baseParams(x);
    context?.dispose();
    return new Independent(new OwnedNormal(loc, scale), 1);
  }

  /** q(z | x): batch `[B]`, event `[latentDim]`. The caller owns it. */
  condition(x: Tensor): FlowPosteriorDistribution {
    if (!(x instanceof tf.Tensor) || x.rank < 2) {
      throw new ShapeError(
        `${this.label}.condition: x must be a tensor [batch, ...], got ${x instanceof tf.Tensor ? fmtShape(x.shape) : typeof x}.`,
      );
    }
    const { loc, scale, context } = this.baseParams(x);
    const base = new Independent(new OwnedNormal(loc, scale), 1);
    try {
      return new FlowPosteriorDistribution(base, this.flow, {
        ...(context ? { context, owned: [context] } : {}),
        cacheSamples: this.cacheSamples,
      });
    } catch (e) {
      base.dispose();
      context?.dispose();
      throw e;
    }
  }

  /** Same as {@link condition}. */
  apply(x: Tensor): Distribution {
    return this.condition(x);
  }
}

/**
 * A flow posterior from an encoder network and a bijector (or a list, chained): see
 * {@link FlowPosterior}. The bijector gets h(x) as its context when `contextDim` > 0
 * (unconditional members of a chain ignore it).
 *
 * @example
 * ```ts
 * import { mlp, Rng } from '@dgm-js/core-tensors';
 * import { IAF } from '@dgm-js/flows';
 * import { bernoulliDecoder, stdNormal, VAE } from '@dgm-js/vae';
 * const rng = new Rng(0);
 * const encoder = flowPosterior(mlp([784, 256, 2 * 16 + 32], { rng, activation: 'relu' }),
 *   [new IAF(16, { rng, contextDim: 32 })], { latentDim: 16, contextDim: 32 });
 * const vae = new VAE({ encoder, decoder: bernoulliDecoder(mlp([16, 256, 784], { rng })), prior: stdNormal(16) });
 * ```
 */
export function flowPosterior(
  net: TensorModule,
  flow: Bijector | readonly Bijector[],
  opts: FlowPosteriorOptions,
): FlowPosterior {
  return new FlowPosterior(net, flow, opts);
}

/** Options of {@link planarPosterior} and {@link radialPosterior}. */
export interface PlanarPosteriorOptions {
  latentDim: number;
  /** Number of layers K. */
  layers: number;
  /** Seeds the flow parameters. */
  rng: Rng;
  /**
   * Amortisation: when > 0 the network also returns h(x) of this size and every layer's
   * parameters are an affine function of it (one set per example, as the flow parameters the
   * inference network outputs in Rezende & Mohamed 2015). Default 0: shared parameters.
   */
  contextDim?: number;
  /** Standard deviation of the initial flow parameters. Default 0.1 (near the identity). */
  initScale?: number;
  cacheSamples?: boolean;
}

function layered<B extends Bijector>(
  who: string,
  opts: PlanarPosteriorOptions,
  make: (i: number, o: { rng: Rng; contextDim?: number; initScale?: number }) => B,
): B[] {
  if (!opts || typeof opts !== 'object') throw new ValueError(`${who}: options are required.`);
  checkInt(opts.layers, 'layers', who);
  checkRng(opts.rng, who);
  const c = opts.contextDim ?? 0;
  return Array.from({ length: opts.layers }, (_, i) =>
    make(i, {
      rng: opts.rng,
      ...(c > 0 ? { contextDim: c } : {}),
      ...(opts.initScale === undefined ? {} : { initScale: opts.initScale }),
    }),
  );
}

function postOpts(opts: {
  latentDim: number;
  contextDim?: number;
  cacheSamples?: boolean;
}): FlowPosteriorOptions {
  return {
    latentDim: opts.latentDim,
    ...(opts.contextDim ? { contextDim: opts.contextDim } : {}),
    ...(opts.cacheSamples === undefined ? {} : { cacheSamples: opts.cacheSamples }),
  };
}

/**
 * A K-layer planar flow posterior (Rezende & Mohamed 2015): z_K = f_K o ... o f_1(z_0),
 * f(z) = z + u_hat tanh(w^T z + b), amortised on h(x) when `contextDim` > 0. The network returns
 * `[B, 2 latentDim + contextDim]`.
 *
 * @example
 * ```ts
 * const enc = planarPosterior(mlp([784, 256, 2 * 16 + 32], { rng }), { latentDim: 16, layers: 10, contextDim: 32, rng });
 * ```
 */
export function planarPosterior(net: TensorModule, opts: PlanarPosteriorOptions): FlowPosterior {
  const d = checkInt(opts?.latentDim, 'latentDim', 'planarPosterior');
  return new FlowPosterior(
    net,
    layered('planarPosterior', opts, (_i, o) => new Planar(d, o)),
    postOpts(opts),
  );
}

/**
 * A K-layer radial flow posterior (Rezende & Mohamed 2015), amortised on h(x) when `contextDim`
 * > 0. The network returns `[B, 2 latentDim + contextDim]`.
 *
 * @example
 * ```ts
 * const enc = radialPosterior(mlp([784, 256, 2 * 16]), { latentDim: 16, layers: 10, rng });
 * ```
 */
export function radialPosterior(net: TensorModule, opts: PlanarPosteriorOptions): FlowPosterior {
  const d = checkInt(opts?.latentDim, 'latentDim', 'radialPosterior');
  return new FlowPosterior(
    net,
    layered('radialPosterior', opts, (_i, o) => new Radial(d, o)),
    postOpts(opts),
  );
}

/** Options of {@link iafPosterior}. */
export interface IafPosteriorOptions {
  latentDim: number;
  /** Size of the context h(x) fed to every IAF layer's MADE (Kingma et al. 2016). */
  contextDim: number;
  /** Number of IAF layers; the ordering alternates natural / reverse. Default 2. */
  layers?: number;
  /** MADE hidden widths. Default [64, 64]. */
  hidden?: readonly number[];
  /** The gate's initial bias (Kingma et al. use 1 to 2). Default 2. */
  forgetBias?: number;
  rng: Rng;
  cacheSamples?: boolean;
}

/**
 * The inverse autoregressive flow posterior of Kingma et al. (2016): the encoder returns mu(x),
 * sigma(x) and a context h(x); z_0 = mu + sigma eps, then each IAF layer
 * [m, s] = MADE(z, h), g = sigmoid(s + forgetBias), z <- g z + (1 - g) m, alternating the
 * autoregressive order. log q(z_K | x) = log q0(z_0 | x) - sum log g, from one pass per layer.
 * The network returns `[B, 2 latentDim + contextDim]`.
 *
 * @example
 * ```ts
 * const enc = iafPosterior(mlp([784, 256, 2 * 16 + 32], { rng, activation: 'relu' }),
 *   { latentDim: 16, contextDim: 32, layers: 2, hidden: [64], rng });
 * ```
 */
export function iafPosterior(net: TensorModule, opts: IafPosteriorOptions): FlowPosterior {
  const who = 'iafPosterior';
  if (!opts || typeof opts !== 'object') throw new ValueError(`${who}: options are required.`);
  const d = checkInt(opts.latentDim, 'latentDim', who);
  const c = checkInt(opts.contextDim, 'contextDim', who);
  const k = checkInt(opts.layers ?? 2, 'layers', who);
  checkRng(opts.rng, who);
  const layers = Array.from(
    { length: k },
    (_, i) =>
      new IAF(d, {
        rng: opts.rng,
        contextDim: c,
        ordering: i % 2 === 0 ? 'natural' : 'reverse',
        ...(opts.hidden === undefined ? {} : { hidden: opts.hidden }),
        ...(opts.forgetBias === undefined ? {} : { forgetBias: opts.forgetBias }),
      }),
  );
  return new FlowPosterior(net, layers, postOpts({ ...opts, contextDim: c }));
}
