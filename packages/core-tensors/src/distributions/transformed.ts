/**
 * `TransformedDistribution`: a base distribution pushed through a bijector, y = f(x), x ~ base,
 * with the change-of-variables density log p(y) = log p_base(f^-1(y)) + log|det d f^-1 / dy|.
 * A normalizing flow, a log-normal, a location-scale family and the relaxed distributions are
 * all cases of it.
 */
import type { Bijector, ConditionalDistribution } from '../contracts.js';
import { fmtShape, ShapeError, ValueError } from '../errors.js';
import { stopGradient } from '../numerics.js';
import { tf } from '../tf.js';
import { isElementwise } from './bijectors.js';
import {
  BaseDistribution,
  broadcastShapes,
  type Distribution,
  type DistributionOptions,
  noClosedForm,
  type SampleOptions,
} from './distribution.js';

type Tensor = tf.Tensor;

/**
 * Options of {@link TransformedDistribution}.
 *
 * @example
 * ```ts
 * new TransformedDistribution(q0, flow, { context: h, ownsBase: true, ownsBijector: false });
 * ```
 */
export interface TransformedDistributionOptions extends DistributionOptions {
  /**
   * A context for a conditional bijector, `[...contextBatch, C]`: it broadcasts to the samples'
   * leading dims and reaches the bijector flattened to `[N, C]`, one row per example. Its leading
   * dims join the batch shape (`batchShape = broadcast(base.batchShape, contextBatch)`), so a
   * base with batch shape `[]` and a context `[B, C]` give a batch of B conditionals. Kept by
   * reference (it stays the caller's).
   */
  context?: Tensor;
  /** Whether `dispose()` disposes the base. Default true (as `Independent`). */
  ownsBase?: boolean;
  /**
   * Whether `dispose()` disposes the bijector. Default false: a bijector is usually a trained
   * module shared by many distributions (a flow posterior is rebuilt on every batch).
   */
  ownsBijector?: boolean;
  /** The name used in error messages. Default `'TransformedDistribution'`. */
  name?: string;
}

/**
 * A reparameterized sample and its log-density, both owned by the caller.
 *
 * @example
 * ```ts
 * const { x: z, logProb: logQ } = q.rsampleWithLogProb({ rng }); // z [B, D], logQ [B]
 * ```
 */
export interface SampleWithLogProb {
  /** The sample, `[...sampleShape, ...batchShape, ...eventShape]`. */
  x: Tensor;
  /** Its log-density, `[...sampleShape, ...batchShape]`. */
  logProb: Tensor;
}

/** Marks a subclass constructor that sets base and bijector itself (`init`) after `super()`. */
const DEFERRED: unique symbol = Symbol('deferred');

/** The placeholder a subclass passes to `super()` before calling `init` (internal). */
export function deferred<X>(): X {
  return DEFERRED as unknown as X;
}

/** Broadcasts `t` to `shape` by adding zeros (one sum in the gradient, unlike Tile). */
function broadcastTo(t: Tensor, shape: readonly number[]): Tensor {
  return tf.util.arraysEqual(t.shape, shape as number[])
    ? t
    : tf.add(t, tf.zeros(shape as number[]));
}

function product(s: readonly number[]): number {
  return s.reduce((a, b) => a * b, 1);
}

/**
 * The distribution of y = f(x), x ~ `base`, for a bijector f (`forward`: base space to data
 * space, log|det dy/dx| per example; `inverse`: data to base, log|det dx/dy|; see `Bijector`).
 * `sample` and `rsample` are f(base sample); `logProb(y)` = `base.logProb(x)` + log|det dx/dy|
 * with x = f^-1(y); `hasRsample` is the base's. The event shape is the base's (f preserves
 * shapes); the batch shape is the base's, broadcast with a context's leading dims or an
 * elementwise bijector's parameters.
 *
 * How shapes reach the bijector. A sample has shape `[...sampleShape, ...batchShape,
 * ...eventShape]`; call `lead` its leading part `[...sampleShape, ...batchShape]`.
 * - A contract `Bijector` (a flow) sees the sample flattened to `[N, ...eventShape]` with N =
 *   prod(lead), one example per row (`[N, 1]` for scalar events), and the context broadcast to
 *   `[...lead, C]` and flattened to `[N, C]`; its per-example log|det J| `[N]` is reshaped back
 *   to `lead`. The event dims are the bijector's trailing dims.
 * - An {@link ElementwiseBijector} (`Affine`, `Exp`, `Sigmoid`, `Invert` of one) sees the
 *   unflattened tensor, so its parameters broadcast against the batch; its elementwise
 *   log-derivative is summed over the event dims. It takes no context.
 *
 * The base is owned (`dispose()` disposes it) unless `ownsBase: false`; the bijector and the
 * context stay the caller's unless `ownsBijector: true`. Entropy, mean and mode have no closed
 * form in general and throw (estimate them from samples); subclasses override them when they do.
 * Values outside the bijector's image (y <= 0 under `Exp`) give NaN.
 *
 * @example
 * ```ts
 * import { Exp, Normal, Rng, TransformedDistribution, tf } from '@dgm-js/core-tensors';
 * const logNormal = new TransformedDistribution(new Normal(0, 0.5), new Exp());
 * const y = logNormal.sample({ sampleShape: [1000], rng: new Rng(0) }); // [1000], > 0
 * const lp = logNormal.logProb(y); // log-normal density
 * tf.dispose([y, lp]);
 * logNormal.dispose();
 * ```
 */
export class TransformedDistribution<
  B extends Distribution = Distribution,
  T extends Bijector = Bijector,
> extends BaseDistribution {
  override readonly hasRsample: boolean = false;
  private state: { base: B; bijector: T; context: Tensor | undefined } | undefined;
  private readonly ownsBase: boolean;
  private readonly ownsBijector: boolean;

  /**
   * @param base the distribution of x (owned unless `ownsBase: false`)
   * @param bijector f, base space to data space (the caller's unless `ownsBijector: true`)
   */
  constructor(base: B, bijector: T, opts: TransformedDistributionOptions = {}) {
    super(opts.name ?? 'TransformedDistribution', opts);
    this.ownsBase = opts.ownsBase ?? true;
    this.ownsBijector = opts.ownsBijector ?? false;
    if ((base as unknown) !== DEFERRED) this.init(base, bijector, opts.context);
  }

  /**
   * Sets base, bijector and context: called by the constructor, or by a subclass that passed
   * `deferred()` to `super()` (it resolves its parameters first with `param`, `binaryParams`).
   */
  protected init(base: B, bijector: T, context?: Tensor): void {
    const who = this.name;
    if (!base || typeof base.logProb !== 'function' || !Array.isArray(base.eventShape)) {
      throw new ValueError(`${who}: base must be a Distribution (with sample and logProb).`);
    }
    if (
      !bijector ||
      typeof bijector.forward !== 'function' ||
      typeof bijector.inverse !== 'function'
    ) {
      throw new ValueError(`${who}: bijector must be a Bijector (with forward and inverse).`);
    }
    const event = base.eventShape;
    let batch = base.batchShape;
    if (context !== undefined) {
      if (!(context instanceof tf.Tensor) || context.isDisposed || context.rank < 1) {
        throw new ValueError(
          `${who}: context must be a live tf.Tensor of shape [...batchShape, C], got ${context instanceof tf.Tensor ? fmtShape(context.shape) : typeof context}.`,
        );
      }
      batch = this.joinBatch(
        batch,
        context.shape.slice(0, -1),
        `context ${fmtShape(context.shape)}`,
      );
    }
    if (isElementwise(bijector) && bijector.paramShape.length > 0) {
      const full = broadcastShapes(
        [...batch, ...event],
        bijector.paramShape,
        `${who}: the ${bijector.kind} parameters and [...batchShape, ...eventShape]`,
      );
      const tail = full.slice(full.length - event.length);
      if (!tf.util.arraysEqual(tail, event)) {
        throw new ShapeError(
          `${who}: the ${bijector.kind} parameters of shape ${fmtShape(bijector.paramShape)} would change the event shape ${fmtShape(event)} to ${fmtShape(tail)}; give them size 1 (or the event size) on the event axes.`,
        );
      }
      batch = this.joinBatch(
        batch,
        full.slice(0, full.length - event.length),
        `the ${bijector.kind} parameters`,
      );
    }
    this.state = { base, bijector, context };
    (this as { hasRsample: boolean }).hasRsample = base.hasRsample;
    this.setShapes(batch, event);
  }

  /**
   * broadcast(baseBatch, other), requiring the base's batch shape to be the result's trailing
   * dims (extra leading batch dims are drawn as extra sample dims of the base).
   */
  private joinBatch(baseBatch: number[], other: readonly number[], what: string): number[] {
    const batch = broadcastShapes(
      baseBatch,
      other,
      `${this.name}: the base batch shape and ${what}`,
    );
    const tail = batch.slice(batch.length - baseBatch.length);
    if (!tf.util.arraysEqual(tail, baseBatch)) {
      throw new ShapeError(
        `${this.name}: ${what} broadcast the base's batch shape ${fmtShape(baseBatch)} to ${fmtShape(batch)}; ` +
          `the base would have to be expanded. Give the base the batch shape ${fmtShape(tail)} (or leading dims only in ${what}).`,
      );
    }
    return batch;
  }

  private get s(): { base: B; bijector: T; context: Tensor | undefined } {
    if (!this.state) throw new ValueError(`${this.name}: used before init (a subclass bug).`);
    return this.state;
  }

  /** The base distribution (of x). */
  get base(): B {
    return this.s.base;
  }

  /** The bijector f (base space to data space). */
  get bijector(): T {
    return this.s.bijector;
  }

  /** The context given to the bijector, or undefined. */
  get context(): Tensor | undefined {
    return this.s.context;
  }

  protected override disposeChildren(): void {
    if (!this.state) return;
    if (this.ownsBase) this.state.base.dispose();
    if (this.ownsBijector) this.state.bijector.dispose();
  }

  /** `[...sampleShape, ...extra batch dims]`: the sample shape to ask of the base. */
  private baseSampleShape(opts: SampleOptions, method: string): number[] {
    const s = this.sampleShapeOf(opts, method);
    const extra = this.batchShape.length - this.base.batchShape.length;
    return [...s, ...this.batchShape.slice(0, extra)];
  }

  /** Context `[...lead, C]` flattened to `[N, C]`, or undefined. */
  private flatContext(lead: readonly number[]): Tensor | undefined {
    const c = this.context;
    if (!c) return undefined;
    const k = c.shape[c.rank - 1] as number;
    return tf.reshape(broadcastTo(c, [...lead, k]), [product(lead), k]);
  }

  /** `x` `[...lead, ...event]` -> `[N, ...event]` (`[N, 1]` for scalar events). */
  private flat(x: Tensor, lead: readonly number[]): Tensor {
    const ev = this.eventShape;
    return tf.reshape(x, [product(lead), ...(ev.length === 0 ? [1] : ev)]);
  }

  private checkSameSize(out: Tensor, input: Tensor, dir: string): void {
    if (out.size !== input.size || out.shape[0] !== input.shape[0]) {
      throw new ShapeError(
        `${this.name}: ${this.bijector.kind}.${dir} mapped ${fmtShape(input.shape)} to ${fmtShape(out.shape)}; a TransformedDistribution needs a shape-preserving bijector.`,
      );
    }
  }

  /**
   * f(x) and log|det df/dx| per event for x `[...lead, ...event]`: y `[...lead, ...event]`,
   * logDet `[...lead]`. Runs inside a caller's tidy.
   */
  protected forwardWithLogDet(x: Tensor): { y: Tensor; logDet: Tensor } {
    const er = this.eventShape.length;
    const lead = x.shape.slice(0, x.rank - er);
    const b = this.bijector;
    if (isElementwise(b)) {
      const r = b.forwardElementwise(x);
      return { y: r.y, logDet: this.sumEvent(r.logDet, r.y.shape) };
    }
    const xf = this.flat(x, lead);
    const r = b.forward(xf, this.flatContext(lead));
    this.checkSameSize(r.y, xf, 'forward');
    return { y: tf.reshape(r.y, x.shape), logDet: tf.reshape(r.logDetJ, lead) };
  }

  /**
   * f^-1(y) and log|det df^-1/dy| per event for y `[...lead, ...event]`. Runs inside a caller's
   * tidy.
   */
  protected inverseWithLogDet(y: Tensor): { x: Tensor; logDet: Tensor } {
    const er = this.eventShape.length;
    const lead = y.shape.slice(0, y.rank - er);
    const b = this.bijector;
    if (isElementwise(b)) {
      const r = b.inverseElementwise(y);
      return { x: r.x, logDet: this.sumEvent(r.logDet, r.x.shape) };
    }
    const yf = this.flat(y, lead);
    const r = b.inverse(yf, this.flatContext(lead));
    this.checkSameSize(r.x, yf, 'inverse');
    return { x: tf.reshape(r.x, y.shape), logDet: tf.reshape(r.logDetJ, lead) };
  }

  /** Sums an elementwise log-derivative over the event dims (broadcast to `shape` first). */
  private sumEvent(logDet: Tensor, shape: readonly number[]): Tensor {
    const er = this.eventShape.length;
    if (er === 0) return logDet;
    const full = broadcastTo(logDet, shape);
    return tf.sum(
      full,
      Array.from({ length: er }, (_, i) => full.rank - er + i),
    );
  }

  /** f(base sample), `[...sampleShape, ...batchShape, ...eventShape]`; no gradient to parameters. */
  sample(opts: SampleOptions): Tensor {
    const s = this.baseSampleShape(opts, 'sample');
    return tf.tidy(() => {
      const x = this.base.sample({ ...opts, sampleShape: s });
      return stopGradient(this.forwardWithLogDet(x).y);
    });
  }

  /** f(base rsample), differentiable in the base's and the bijector's parameters. */
  override rsample(opts: SampleOptions): Tensor {
    const s = this.baseSampleShape(opts, 'rsample');
    return tf.tidy(() => this.forwardWithLogDet(this.base.rsample({ ...opts, sampleShape: s })).y);
  }

  /**
   * A reparameterized sample and its exact log-density, log p_base(x) - log|det df/dx|, from the
   * forward direction only (no inverse: the fast path for IAF, planar and radial flows, whose
   * inverse is slow or iterative). Differentiable in every parameter.
   *
   * @example
   * ```ts
   * const { x: z, logProb: logQ } = q.rsampleWithLogProb({ sampleShape: [k], rng });
   * const klEstimate = tf.sub(logQ, prior.logProb(z));
   * ```
   */
  rsampleWithLogProb(opts: SampleOptions): SampleWithLogProb {
    const s = this.baseSampleShape(opts, 'rsampleWithLogProb');
    return tf.tidy(() => {
      const x = this.base.rsample({ ...opts, sampleShape: s });
      const { y, logDet } = this.forwardWithLogDet(x);
      return { x: y, logProb: tf.sub(this.base.logProb(x), logDet) };
    });
  }

  /**
   * log p(y) = base.logProb(f^-1(y)) + log|det df^-1/dy|, shape broadcast(y's leading dims,
   * batchShape).
   */
  logProb(y: Tensor): Tensor {
    const lead = this.checkValue(y, 'logProb', 'y');
    return tf.tidy(() => {
      const isElem = isElementwise(this.bijector);
      // A flow sees one row per example: broadcast y over the batch first.
      const yb = isElem ? y : broadcastTo(y, [...lead, ...this.eventShape]);
      const { x, logDet } = this.inverseWithLogDet(yb);
      return broadcastTo(tf.add(this.base.logProb(x), logDet), lead);
    });
  }

  entropy(): Tensor {
    throw noClosedForm(
      `${this.name}.entropy`,
      'estimate it from samples: -mean(logProb(sample)) (or rsampleWithLogProb)',
    );
  }

  get mean(): Tensor {
    throw noClosedForm(`${this.name}.mean`, 'estimate it from samples');
  }

  get mode(): Tensor {
    throw noClosedForm(`${this.name}.mode`, 'estimate it from samples');
  }
}

/**
 * A conditional transformed distribution p(y | c): `condition(c)` is a
 * `TransformedDistribution` of the base (one shared distribution, or one made from the context)
 * under the bijector with context c. With a shared base of batch shape `[]` and c `[B, C]`, the
 * result has batch shape `[B]`. The module owns the bijector and a shared base
 * (`dispose()` frees them); each conditioned distribution owns only a base made for it.
 *
 * @example
 * ```ts
 * const flow = conditionalTransformed(standardNormal(2), conditionalMaf); // p(x | c)
 * const p = flow.condition(c);   // batch [B], event [2]
 * const lp = p.logProb(x);       // [B]
 * p.dispose(); lp.dispose();
 * ```
 */
export function conditionalTransformed<T extends Bijector>(
  base: Distribution | ((context: Tensor) => Distribution),
  bijector: T,
  opts: Pick<TransformedDistributionOptions, 'validate' | 'name'> = {},
): ConditionalDistribution<Tensor, TransformedDistribution<Distribution, T>> & {
  parameters(): tf.Variable[];
  dispose(): void;
} {
  const shared = typeof base === 'function' ? undefined : base;
  return {
    condition(context: Tensor): TransformedDistribution<Distribution, T> {
      const b = shared ?? (base as (c: Tensor) => Distribution)(context);
      try {
        return new TransformedDistribution(b, bijector, {
          ...opts,
          context,
          ownsBase: shared === undefined,
        });
      } catch (e) {
        if (shared === undefined) b.dispose();
        throw e;
      }
    },
    parameters(): tf.Variable[] {
      const p = (bijector as { parameters?: () => tf.Variable[] }).parameters;
      return typeof p === 'function' ? p.call(bijector) : [];
    },
    dispose(): void {
      bijector.dispose();
      shared?.dispose();
    },
  };
}
