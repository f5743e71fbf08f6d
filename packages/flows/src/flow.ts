/**
 * Flow densities: a base distribution pushed through a bijector, as core
 * `TransformedDistribution`s. `Flow` is a trainable core `Distribution` (exact log-likelihood,
 * reparameterised sampling; a `ConditionalDistribution` with a context); `FlowDistribution` is
 * the `TransformedDistribution` of a per-example base (a VAE's q0(z | x)) with reparameterised
 * samples and their log-density.
 */
import {
  type ConditionalSampleOptions,
  contextBatchShape,
  drawShape,
} from '@dgm-js/autoregressive';
import {
  type ConditionalDistribution,
  checkInt,
  DgmError,
  type Distribution,
  fmtShape,
  Independent,
  Module,
  Normal,
  type SampleWithLogProb,
  ShapeError,
  TransformedDistribution,
  tf,
  ValueError,
} from '@dgm-js/core-tensors';
import { type Bijector, broadcast, Chain } from './bijector.js';

/**
 * A sample and its log-density, both owned by the caller (core-tensors' type, re-exported).
 */
export type { SampleWithLogProb };

type Tensor = tf.Tensor;

/**
 * The standard normal over `[dim]` vectors, `Independent(Normal(0, 1), 1)`: the usual base of a
 * flow. The distribution owns its tensors (`dispose()` frees them).
 *
 * @example
 * ```ts
 * const base = standardNormal(2); // eventShape [2]
 * ```
 */
export function standardNormal(dim: number): Distribution {
  checkInt(dim, 'dim', 'standardNormal');
  const d = new Independent(
    new Normal(new Array<number>(dim).fill(0), new Array<number>(dim).fill(1), { validate: false }),
    1,
  );
  // Keep the parameters alive even when the flow is built inside a tf.tidy scope.
  const inner = d.base as Normal;
  tf.keep(inner.loc);
  tf.keep(inner.scale);
  return d;
}

/** Options of {@link Flow}. */
export interface FlowOptions {
  /** The event dimension D. */
  dim: number;
  /** The base distribution over `[D]` (owned by the flow). Default `standardNormal(dim)`. */
  base?: Distribution;
  /** For a conditional flow: the context size (contexts are `[..., contextDim]`). */
  contextDim?: number;
}

/**
 * A normalizing flow density over `[D]` vectors: x = f(u), u ~ base, with f a bijector (or a
 * list, chained). log p(x) = log p_base(f^-1(x)) + log|det d f^-1 / dx|, exact.
 *
 * A core `Distribution` (batch shape `[]`, event shape `[D]`, `hasRsample` true):
 * `sample({ sampleShape, rng })` / `rsample(...)` draw `[...sampleShape, D]` (rsample with
 * gradients to the parameters), `logProb(x)` takes `[..., D]`; `entropy`, `mean` and `mode`
 * have no closed form (they throw a `DgmError` saying how to estimate them). It is also a
 * `Module` (parameters, save / load, `dispose()` which also frees the base). A conditional flow
 * (`contextDim`) is a `ConditionalDistribution`: `condition(c)` is p(. | c) with batch shape c's
 * leading shape; the direct forms `logProb(x [N, D], c [N or 1, C])` and `sample({ ...,
 * context: c })` (= `condition(c).sample(...)`) stay.
 *
 * Training needs the density direction (`inverse`) of every bijector to be fast: use MAF,
 * couplings, splines, ActNorm, LU; IAF, planar and radial are fast in the sampling direction
 * (use them for VAE posteriors, see {@link FlowDistribution}).
 *
 * @example
 * ```ts
 * import { Flow, SplineCoupling, alternatingMask } from '@dgm-js/flows';
 * const rng = new Rng(0);
 * const flow = new Flow(
 *   [0, 1, 0, 1].map((p) => new SplineCoupling(alternatingMask(2, p as 0 | 1), { rng, bins: 16, bound: 4 })),
 *   { dim: 2 },
 * );
 * const opt = tf.train.adam(1e-3);
 * opt.minimize(() => tf.neg(tf.mean(flow.logProb(batch))) as tf.Scalar);
 * const xs = flow.sample({ sampleShape: [1000], rng }); // [1000, 2]
 * ```
 */
export class Flow
  extends Module<Tensor, Tensor>
  implements Distribution, ConditionalDistribution<Tensor, Distribution>
{
  readonly dim: number;
  readonly transform: Bijector;
  readonly base: Distribution;
  readonly contextDim: number | undefined;

  constructor(transform: Bijector | readonly Bijector[], opts: FlowOptions) {
    super('Flow');
    checkInt(opts?.dim, 'dim', 'Flow');
    if (opts.contextDim !== undefined) checkInt(opts.contextDim, 'contextDim', 'Flow');
    const t = Array.isArray(transform) ? new Chain(transform) : (transform as Bijector);
    if (!t || typeof t.forward !== 'function' || typeof t.inverse !== 'function') {
      throw new ValueError('Flow: transform must be a bijector or an array of bijectors.');
    }
    const base = opts.base ?? standardNormal(opts.dim);
    if (base.eventShape.join() !== String(opts.dim) || base.batchShape.length !== 0) {
      if (!opts.base) base.dispose();
      throw new ShapeError(
        `Flow: the base must have eventShape [${opts.dim}] and batchShape [], got eventShape ${fmtShape(base.eventShape)}, batchShape ${fmtShape(base.batchShape)}.`,
      );
    }
    this.dim = opts.dim;
    this.transform = t;
    this.base = base;
    this.contextDim = opts.contextDim;
    if (t instanceof Module) this.addModule('transform', t as unknown as Module<never, unknown>);
  }

  /** Whether the base has `rsample` (true for the standard normal and every usual base). */
  get hasRsample(): boolean {
    return this.base.hasRsample;
  }

  /** `[]`: one distribution (a conditioned one has the context's batch shape). */
  get batchShape(): number[] {
    return [];
  }

  /** `[D]`. */
  get eventShape(): number[] {
    return [this.dim];
  }

  /** `[contextDim]` for a conditional flow, else undefined. */
  get contextShape(): readonly number[] | undefined {
    return this.contextDim === undefined ? undefined : [this.contextDim];
  }

  private checkX(x: Tensor, who: string, rows: boolean): void {
    if (!(x instanceof tf.Tensor)) throw new ValueError(`${who}: x must be a tf.Tensor.`);
    const ok = rows ? x.rank === 2 : x.rank >= 1;
    if (!ok || x.shape[x.rank - 1] !== this.dim) {
      throw new ShapeError(
        `${who}: x must have shape [N, ${this.dim}], got ${fmtShape(x.shape)}${rows ? ' (one context row per example)' : ` (any leading shape [..., ${this.dim}] works)`}.`,
      );
    }
  }

  private context(context: Tensor | undefined, n: number, who: string): Tensor | undefined {
    if (this.contextDim === undefined) {
      if (context !== undefined) {
        throw new ValueError(
          `${who}: this flow is unconditional but a context ${fmtShape(context.shape)} was given; build it with contextDim to condition it.`,
        );
      }
      return undefined;
    }
    if (context === undefined) {
      throw new ValueError(
        `${who}: this flow is conditional: pass a context of shape [${n}, ${this.contextDim}] (or use condition(context)).`,
      );
    }
    if (
      context.rank !== 2 ||
      context.shape[1] !== this.contextDim ||
      (context.shape[0] !== n && context.shape[0] !== 1)
    ) {
      throw new ShapeError(
        `${who}: context must have shape [${n} (or 1), ${this.contextDim}], got ${fmtShape(context.shape)}.`,
      );
    }
    return context.shape[0] === n ? context : broadcast(context, [n, this.contextDim]);
  }

  /**
   * log p(x) per example (nats), differentiable in the parameters: `x` `[..., D]` gives `[...]`.
   * A conditional flow takes `x` `[N, D]` and `context` `[N or 1, contextDim]` (or use
   * `condition(context).logProb(x)`, which broadcasts more generally). A wrong shape is a
   * `ShapeError` thrown before anything is allocated. `x` is not scanned for NaN / +-Inf (this
   * is the training hot path; the base Normal is built with `validate: false`, core's no-read-back
   * mode): a non-finite row gives a non-finite log-density for that example only.
   *
   * @example
   * ```ts
   * const nll = tf.neg(tf.mean(flow.logProb(x)));
   * ```
   */
  logProb(x: Tensor, context?: Tensor): Tensor {
    const who = `${this.label}.logProb`;
    const rows = context !== undefined || this.contextDim !== undefined;
    this.checkX(x, who, rows);
    return tf.tidy(() => {
      const lead = x.shape.slice(0, -1);
      const xr = x.rank === 2 ? x : tf.reshape(x, [-1, this.dim]);
      const c = this.context(context, xr.shape[0] as number, who);
      const { x: u, logDetJ } = this.transform.inverse(xr, c);
      const lp = tf.add(this.base.logProb(u), logDetJ);
      return x.rank === 2 ? lp : tf.reshape(lp, lead);
    });
  }

  /** `logProb(x)` (so a flow is a `Module`). */
  apply(x: Tensor): Tensor {
    return this.logProb(x);
  }

  /**
   * The flow as a core `TransformedDistribution` of the base under the transform, with a
   * context (batch shape its leading dims) or without. It references the base and the
   * transform (its `dispose()` frees neither).
   *
   * @example
   * ```ts
   * const td = flow.transformed(); // TransformedDistribution, batch [], event [D]
   * ```
   */
  transformed(context?: Tensor): TransformedDistribution {
    const who = `${this.label}.transformed`;
    contextBatchShape(context, this.contextShape, who);
    return new TransformedDistribution(this.base, this.transform, {
      ...(context === undefined ? {} : { context }),
      ownsBase: false,
      name: this.label,
    });
  }

  /** Checks sample options (positive sample sizes, an rng, the context) and runs `f`. */
  private draw<R>(
    opts: ConditionalSampleOptions,
    who: string,
    f: (td: TransformedDistribution) => R,
  ): R {
    drawShape(opts, who);
    contextBatchShape(opts.context, this.contextShape, who);
    const td = this.transformed(opts.context);
    try {
      return f(td);
    } finally {
      td.dispose();
    }
  }

  /**
   * Draws `[...sampleShape, D]` (with a context `[...B, contextDim]`: `[...sampleShape, ...B,
   * D]`) and their log-density, in one pass through the sampling direction, with gradients to
   * the parameters (reparameterised): what a variational posterior or a reverse-KL objective
   * needs.
   *
   * @example
   * ```ts
   * const { x, logProb } = flow.rsampleWithLogProb({ sampleShape: [64], rng }); // [64, D], [64]
   * ```
   */
  rsampleWithLogProb(opts: ConditionalSampleOptions): SampleWithLogProb {
    return this.draw(opts, `${this.label}.rsampleWithLogProb`, (td) => td.rsampleWithLogProb(opts));
  }

  /**
   * As {@link rsampleWithLogProb}.
   * @deprecated Use `rsampleWithLogProb({ sampleShape: [n], rng })`.
   */
  sampleWithLogProb(opts: ConditionalSampleOptions): SampleWithLogProb {
    return this.rsampleWithLogProb(opts);
  }

  /**
   * Reparameterised draws `[...sampleShape, D]` (gradients reach the parameters).
   *
   * @example
   * ```ts
   * const z = flow.rsample({ sampleShape: [8], rng }); // [8, D]
   * ```
   */
  rsample(opts: ConditionalSampleOptions): Tensor {
    return this.draw(opts, `${this.label}.rsample`, (td) => td.rsample(opts));
  }

  /**
   * Draws `[...sampleShape, D]` (with a context `[...B, contextDim]`: `[...sampleShape, ...B,
   * D]`); no gradient flows to the parameters (use `rsample` for that).
   *
   * @example
   * ```ts
   * const xs = flow.sample({ sampleShape: [500], rng: new Rng(1) }); // [500, D]
   * ```
   */
  sample(opts: ConditionalSampleOptions): Tensor {
    return this.draw(opts, `${this.label}.sample`, (td) => td.sample(opts));
  }

  /**
   * p(. | context) of a conditional flow: the core `TransformedDistribution` with that context,
   * batch shape the context's leading shape (see {@link transformed}).
   *
   * @example
   * ```ts
   * const p = flow.condition(h); // h [B, contextDim]: batch [B]
   * const lp = p.logProb(x);      // x [B, D] -> [B]
   * ```
   */
  condition(context: Tensor): Distribution {
    if (this.contextDim === undefined) {
      throw new ValueError(
        `${this.label}.condition: this flow is unconditional; use it directly as a Distribution (or build it with contextDim).`,
      );
    }
    return this.transformed(context);
  }

  /** Throws a `DgmError`: no closed form; estimate it from `rsampleWithLogProb`. */
  entropy(): Tensor {
    throw new DgmError(
      `${this.label}.entropy has no closed form; estimate it as -mean(rsampleWithLogProb({ sampleShape: [n], rng }).logProb).`,
    );
  }

  /** Throws a `DgmError`: no closed form; average samples. */
  get mean(): Tensor {
    throw new DgmError(
      `${this.label}.mean has no closed form; estimate it as the mean of sample({ sampleShape: [n], rng }) over axis 0.`,
    );
  }

  /** Throws a `DgmError`: no closed form. */
  get mode(): Tensor {
    throw new DgmError(
      `${this.label}.mode has no closed form; maximise logProb numerically (e.g. gradient ascent from samples).`,
    );
  }

  override dispose(): void {
    if (this.isDisposed) return;
    super.dispose();
    this.base.dispose();
    if (!(this.transform instanceof Module)) this.transform.dispose();
  }
}

/** Options of {@link FlowDistribution}. */
export interface FlowDistributionOptions {
  /** The context `[...batchShape, C]` passed to conditional bijectors (kept by reference). */
  context?: Tensor;
}

/**
 * A base distribution (e.g. a VAE encoder's diagonal Gaussian q0(z | x), batch `[B]`, event
 * `[D]`) pushed through a bijector: z_K = f(z_0 [, context]). A thin case of core's
 * `TransformedDistribution` (a reparameterizable base with a vector event; the transform's
 * name): `rsample`, `sample` and `logProb` (through the inverse, which for IAF, planar and
 * radial is the slow or iterative direction), and `rsampleWithLogProb`, which returns a
 * reparameterised sample and its exact log-density log q0(z_0) - log|det df/dz_0| from the
 * forward pass alone: the flow posterior of Rezende and Mohamed (2015) and Kingma et al. (2016).
 *
 * Owns the base (disposed with it); the bijector and the context stay the caller's.
 *
 * @example
 * ```ts
 * const q0 = new Independent(new Normal(mu, sigma), 1);        // batch [B], event [D]
 * const q = new FlowDistribution(q0, flowLayers, { context: h }); // h [B, C] for conditional layers
 * const { x: z, logProb } = q.rsampleWithLogProb({ sampleShape: [k], rng }); // z [k, B, D], logProb [k, B]
 * ```
 */
export class FlowDistribution extends TransformedDistribution {
  constructor(base: Distribution, transform: Bijector, opts: FlowDistributionOptions = {}) {
    if (!base?.hasRsample) {
      throw new ValueError(
        'FlowDistribution: the base must be reparameterizable (hasRsample), e.g. Independent(Normal(mu, sigma), 1).',
      );
    }
    if (base.eventShape.length !== 1) {
      throw new ShapeError(
        `FlowDistribution: the base must have a vector event shape [D], got ${fmtShape(base.eventShape)}.`,
      );
    }
    super(base, transform, {
      ...(opts.context === undefined ? {} : { context: opts.context }),
      name: 'FlowDistribution',
    });
  }

  /** The bijector (the same as `bijector`). */
  get transform(): Bijector {
    return this.bijector;
  }
}
