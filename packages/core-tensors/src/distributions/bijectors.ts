/**
 * Elementwise bijectors: the small set `TransformedDistribution` needs for the distributions of
 * core (location-scale families, relaxed distributions, log-normal, logit-normal). Each is a
 * `Bijector` (the contract of `contracts.ts`: input `[N, ...]`, log|det J| per example `[N]`,
 * summed over every axis but the first) and also an {@link ElementwiseBijector}: it maps any
 * shape elementwise, its parameters broadcast against the whole input, and it reports the
 * log-derivative per element, so a distribution with a batch shape can push its samples through
 * it without flattening them (its parameters then index the batch).
 *
 * Flows' neural bijectors (couplings, MAF, splines) live in `@dgm-js/flows`.
 */
import type { Bijector, ForwardResult, InverseResult } from '../contracts.js';
import { fmtShape, ShapeError, ValueError } from '../errors.js';
import { softplus } from '../numerics.js';
import { tf } from '../tf.js';
import {
  broadcastShapes,
  checkFinite,
  checkPositive,
  type ParamLike,
  toParamTensor,
} from './distribution.js';

type Tensor = tf.Tensor;

/**
 * What the elementwise methods return: the mapped tensor and log|d out / d in| per element, of
 * a shape that broadcasts to the mapped tensor's (a constant derivative may have the parameters'
 * shape only).
 */
export interface ElementwiseForward {
  y: Tensor;
  logDet: Tensor;
}

/** See {@link ElementwiseForward}; the inverse direction. */
export interface ElementwiseInverse {
  x: Tensor;
  logDet: Tensor;
}

/**
 * A `Bijector` that acts elementwise on a tensor of any shape. `paramShape` is the broadcast
 * shape of its parameters (`[]` for none): an input broadcasts with it, so parameters of shape
 * `batchShape` (or `[...batchShape, ...eventShape]`) give each batch member its own map.
 *
 * @example
 * ```ts
 * const b: ElementwiseBijector = new Affine(tf.tensor1d([0, 1]), tf.tensor1d([1, 2]));
 * const { y, logDet } = b.forwardElementwise(tf.zeros([5, 2])); // y [5, 2], logDet [2]: log scale
 * tf.dispose([y, logDet]); b.dispose();
 * ```
 */
export interface ElementwiseBijector extends Bijector {
  readonly elementwise: true;
  /** Broadcast shape of the parameters (`[]` without parameters). */
  readonly paramShape: readonly number[];
  /** y = f(x) and log|f'(x)| elementwise. */
  forwardElementwise(x: Tensor): ElementwiseForward;
  /** x = f^-1(y) and log|(f^-1)'(y)| elementwise. */
  inverseElementwise(y: Tensor): ElementwiseInverse;
}

/**
 * Whether `b` is an {@link ElementwiseBijector}.
 *
 * @example
 * ```ts
 * isElementwise(new Exp()); // true
 * ```
 */
export function isElementwise(b: Bijector): b is ElementwiseBijector {
  const e = b as Partial<ElementwiseBijector>;
  return (
    e.elementwise === true &&
    typeof e.forwardElementwise === 'function' &&
    typeof e.inverseElementwise === 'function'
  );
}

/** Sums an elementwise log-derivative (broadcast to `shape` first) over every axis but the first. */
function perExample(logDet: Tensor, shape: readonly number[]): Tensor {
  const full = tf.util.arraysEqual(logDet.shape, shape as number[])
    ? logDet
    : tf.add(logDet, tf.zeros(shape as number[]));
  if (full.rank <= 1) return full === logDet ? tf.clone(full) : full;
  return tf.sum(
    full,
    Array.from({ length: full.rank - 1 }, (_, i) => i + 1),
  );
}

function checkBatched(x: unknown, who: string, arg: string): asserts x is Tensor {
  if (!(x instanceof tf.Tensor)) throw new ValueError(`${who}: ${arg} must be a tf.Tensor.`);
  if (x.rank < 1) {
    throw new ShapeError(
      `${who}: ${arg} has shape ${fmtShape(x.shape)}; it needs a leading example axis [N, ...] (reshape a scalar to [1]).`,
    );
  }
}

/**
 * Base of the elementwise bijectors: derives the contract's `forward` / `inverse` (log|det J|
 * per example, summed over every axis but the first) from the elementwise methods, and owns the
 * tensors it creates.
 */
abstract class ElementwiseBase implements ElementwiseBijector {
  readonly elementwise = true as const;
  readonly paramShape: readonly number[] = [];
  readonly kind: string;
  private owned: Tensor[] = [];

  protected constructor(kind: string) {
    this.kind = kind;
  }

  abstract forwardElementwise(x: Tensor): ElementwiseForward;
  abstract inverseElementwise(y: Tensor): ElementwiseInverse;

  /** Base to data; `x` `[N, ...]`, log|det dy/dx| per example `[N]`. The context is ignored. */
  forward(x: Tensor, _context?: Tensor): ForwardResult {
    checkBatched(x, `${this.kind}.forward`, 'x');
    return tf.tidy(() => {
      const r = this.forwardElementwise(x);
      return { y: r.y, logDetJ: perExample(r.logDet, r.y.shape) };
    });
  }

  /** Data to base; `y` `[N, ...]`, log|det dx/dy| per example `[N]`. The context is ignored. */
  inverse(y: Tensor, _context?: Tensor): InverseResult {
    checkBatched(y, `${this.kind}.inverse`, 'y');
    return tf.tidy(() => {
      const r = this.inverseElementwise(y);
      return { x: r.x, logDetJ: perExample(r.logDet, r.x.shape) };
    });
  }

  protected own(t: Tensor): Tensor {
    this.owned.push(t);
    return t;
  }

  /** Frees the tensors this bijector created (parameters you passed as tensors stay yours). */
  dispose(): void {
    for (const t of this.owned) if (!t.isDisposed) t.dispose();
    this.owned = [];
  }
}

/** Options of {@link Affine}. */
export interface AffineOptions {
  /** Check that `loc` is finite and `scale` finite and > 0 (reads them back). Default true. */
  validate?: boolean;
  /** The name used in error messages. Default `'Affine'`. */
  name?: string;
}

/**
 * y = loc + scale * x elementwise, scale > 0: log|dy/dx| = log scale. Parameters of any shapes
 * that broadcast (`paramShape`); tensors are kept by reference, numbers and arrays converted and
 * owned. The transform behind every location-scale family (`Gumbel`, `Logistic`).
 *
 * @example
 * ```ts
 * import { Affine, Normal, TransformedDistribution } from '@dgm-js/core-tensors';
 * const d = new TransformedDistribution(new Normal(0, 1), new Affine(3, 2), { ownsBijector: true });
 * // d is N(3, 2^2)
 * ```
 */
export class Affine extends ElementwiseBase {
  override readonly paramShape: readonly number[];
  /** Shift. */
  readonly loc: Tensor;
  /** Scale, > 0. */
  readonly scale: Tensor;

  constructor(loc: ParamLike, scale: ParamLike, opts: AffineOptions = {}) {
    const name = opts.name ?? 'Affine';
    super(name);
    try {
      const l = toParamTensor(loc, 'loc', name);
      this.loc = l.created ? this.own(l.tensor) : l.tensor;
      const s = toParamTensor(scale, 'scale', name);
      this.scale = s.created ? this.own(s.tensor) : s.tensor;
      this.paramShape = broadcastShapes(this.loc.shape, this.scale.shape, `${name}(loc, scale)`);
      if (opts.validate ?? true) {
        checkFinite(this.loc, `${name}: loc`);
        checkPositive(this.scale, `${name}: scale`);
      }
    } catch (e) {
      this.dispose();
      throw e;
    }
  }

  forwardElementwise(x: Tensor): ElementwiseForward {
    return tf.tidy(() => ({
      y: tf.add(this.loc, tf.mul(this.scale, x)),
      logDet: tf.log(this.scale),
    }));
  }

  inverseElementwise(y: Tensor): ElementwiseInverse {
    return tf.tidy(() => ({
      x: tf.div(tf.sub(y, this.loc), this.scale),
      logDet: tf.neg(tf.log(this.scale)),
    }));
  }
}

/**
 * y = exp(x): log|dy/dx| = x. Pushes a Normal to a log-normal, an `ExpRelaxedOneHotCategorical`
 * to the simplex. Its inverse (`new Invert(new Exp())`) is the log.
 *
 * @example
 * ```ts
 * const logNormal = new TransformedDistribution(new Normal(0, 0.5), new Exp());
 * ```
 */
export class Exp extends ElementwiseBase {
  constructor() {
    super('Exp');
  }

  forwardElementwise(x: Tensor): ElementwiseForward {
    return tf.tidy(() => ({ y: tf.exp(x), logDet: tf.clone(x) }));
  }

  /** x = log y, log|dx/dy| = -log y (NaN for y < 0, outside the image). */
  inverseElementwise(y: Tensor): ElementwiseInverse {
    return tf.tidy(() => {
      const x = tf.log(y);
      return { x, logDet: tf.neg(x) };
    });
  }
}

/**
 * y = sigmoid(x) = 1 / (1 + exp(-x)): log|dy/dx| = -softplus(-x) - softplus(x) (stable at any x).
 * The inverse is the logit, log y - log(1 - y), with log|dx/dy| = -log y - log(1 - y); use
 * `new Invert(new Sigmoid())` for the logit transform.
 *
 * @example
 * ```ts
 * const logitNormal = new TransformedDistribution(new Normal(0, 1), new Sigmoid()); // on (0, 1)
 * ```
 */
export class Sigmoid extends ElementwiseBase {
  constructor() {
    super('Sigmoid');
  }

  forwardElementwise(x: Tensor): ElementwiseForward {
    return tf.tidy(() => ({
      y: tf.sigmoid(x),
      logDet: tf.neg(tf.add(softplus(x), softplus(tf.neg(x)))),
    }));
  }

  inverseElementwise(y: Tensor): ElementwiseInverse {
    return tf.tidy(() => {
      const logY = tf.log(y);
      const log1mY = tf.log1p(tf.neg(y));
      return { x: tf.sub(logY, log1mY), logDet: tf.neg(tf.add(logY, log1mY)) };
    });
  }
}

/**
 * The inverse of a bijector: `forward` is the wrapped bijector's `inverse` and vice versa (the
 * context is passed through). Elementwise when the wrapped bijector is. Owns the wrapped
 * bijector (`dispose()` disposes it).
 *
 * @example
 * ```ts
 * const logit = new Invert(new Sigmoid()); // logit.forward(p) = log p - log(1 - p)
 * const log = new Invert(new Exp());
 * ```
 */
export class Invert implements Bijector {
  readonly kind: string;
  readonly bijector: Bijector;
  /** True when the wrapped bijector is elementwise (then the elementwise methods work). */
  readonly elementwise: boolean;
  readonly paramShape: readonly number[];

  constructor(bijector: Bijector) {
    if (!bijector || typeof bijector.forward !== 'function') {
      throw new ValueError('Invert: bijector must be a Bijector (with forward and inverse).');
    }
    this.bijector = bijector;
    this.kind = `Invert(${bijector.kind})`;
    this.elementwise = isElementwise(bijector);
    this.paramShape = isElementwise(bijector) ? bijector.paramShape : [];
  }

  forward(x: Tensor, context?: Tensor): ForwardResult {
    const r = this.bijector.inverse(x, context);
    return { y: r.x, logDetJ: r.logDetJ };
  }

  inverse(y: Tensor, context?: Tensor): InverseResult {
    const r = this.bijector.forward(y, context);
    return { x: r.y, logDetJ: r.logDetJ };
  }

  forwardElementwise(x: Tensor): ElementwiseForward {
    const r = this.inner().inverseElementwise(x);
    return { y: r.x, logDet: r.logDet };
  }

  inverseElementwise(y: Tensor): ElementwiseInverse {
    const r = this.inner().forwardElementwise(y);
    return { x: r.y, logDet: r.logDet };
  }

  private inner(): ElementwiseBijector {
    if (!isElementwise(this.bijector)) {
      throw new ValueError(
        `${this.kind}: the wrapped bijector is not elementwise; use forward / inverse on [N, ...] inputs.`,
      );
    }
    return this.bijector;
  }

  dispose(): void {
    this.bijector.dispose();
  }
}
