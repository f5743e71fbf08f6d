/**
 * The `Distribution` contract of dgm.js and the shared machinery of its implementations: parameter
 * conversion and validation, shape checks, and tensor ownership.
 *
 * Shapes follow torch.distributions: a sample has shape `[...sampleShape, ...batchShape,
 * ...eventShape]`; `logProb(x)` sums over the event dimensions and returns the broadcast of
 * `x`'s leading dimensions with `batchShape`.
 *
 * Ownership (the same for every distribution):
 * - Tensors you pass in as parameters are kept by reference. The distribution never disposes them;
 *   they stay yours, and must stay alive as long as the distribution is used.
 * - Tensors the distribution creates (from numbers or arrays you pass, casts to float32, derived
 *   parameters such as logits from probs) belong to it; `dispose()` frees them.
 * - Wrappers (`Independent`, `MixtureSameFamily`) own the distributions you give them:
 *   their `dispose()` disposes those too.
 * - Every method and getter that returns a tensor (`sample`, `rsample`, `logProb`, `entropy`,
 *   `mean`, `mode`, `variance`, `cdf`, ...) returns a new tensor that the caller owns.
 * - Created inside `tf.tidy`, a distribution's tensors are freed with the scope as usual.
 */
import { DgmError, fmtShape, ShapeError, ValueError } from '../errors.js';
import { logSoftmax } from '../numerics.js';
import type { Rng } from '../rng.js';
import { tf } from '../tf.js';
import { binaryLogits, logOfProbs } from './util.js';

type Tensor = tf.Tensor;

/**
 * A parameter: a tensor (kept by reference), or a number / nested array (copied to a tensor).
 *
 * @example
 * ```ts
 * new Normal(0, 1); new Normal([0, 1], [[1], [2]]); new Normal(tf.zeros([3]), tf.ones([3]));
 * ```
 */
export type ParamLike = tf.Tensor | number | number[] | number[][] | number[][][] | Float32Array;

/**
 * Logits (log-odds) or probabilities of a binary distribution: exactly one of the two.
 *
 * @example
 * ```ts
 * new Bernoulli({ logits: tf.tensor1d([-1, 2]) }); new Bernoulli({ probs: [0.3, 0.9] });
 * ```
 */
export type BinaryParams =
  | { logits: ParamLike; probs?: never }
  | { probs: ParamLike; logits?: never };

/**
 * Logits (unnormalized log-probabilities) or probabilities (non-negative weights, normalized
 * for you) of a categorical distribution, categories on the last axis: exactly one of the two.
 *
 * @example
 * ```ts
 * new Categorical({ logits: tf.zeros([8, 10]) }); new Categorical({ probs: [1, 2, 7] }); // [0.1, 0.2, 0.7]
 * ```
 */
export type CategoricalParams =
  | { logits: ParamLike; probs?: never }
  | { probs: ParamLike; logits?: never };

/**
 * Options of `sample` and `rsample`.
 *
 * @example
 * ```ts
 * d.sample({ sampleShape: [16], rng: new Rng(0) }); // shape [16, ...batchShape, ...eventShape]
 * ```
 */
export interface SampleOptions {
  /** Leading shape of independent draws. Default `[]` (one draw per batch element). */
  sampleShape?: readonly number[];
  /** The random stream the draw takes its seeds from. */
  rng: Rng;
  /**
   * Called after every sequential step of a long sampler (an autoregressive model draws one
   * pixel or dimension per step); ignored by distributions that sample in one step.
   */
  onProgress?: (p: SampleProgress) => void;
}

/** Progress of a long sampling run, reported after each sequential step. */
export interface SampleProgress {
  /** Sequential steps done (one per pixel / dimension / position in the ordering). */
  readonly done: number;
  /** Sequential steps in total. */
  readonly total: number;
  /** Milliseconds since sampling started. */
  readonly elapsedMs: number;
}

/**
 * Options every distribution's constructor accepts.
 *
 * @example
 * ```ts
 * const q = new Normal(mu, sigma, { validate: false }); // no read-back in a hot loop
 * ```
 */
export interface DistributionOptions {
  /**
   * Check parameter values (finite, in range) at construction and values given to `logProb` of
   * discrete distributions (integer category, 0/1, one-hot), throwing a `ValueError`. Reads the
   * tensors back (`dataSync`); turn off in hot loops once the code is known to be right.
   * Shape checks always run. Default `true`.
   */
  validate?: boolean;
}

/**
 * A probability distribution over tensors, batched: `batchShape` indexes independent (not
 * identically distributed) distributions, `eventShape` is the shape of one draw.
 *
 * Tensors returned by every method and getter are new and owned by the caller; see the module
 * notes for what `dispose()` frees. Quantities with no closed form (`entropy` of a mixture,
 * `mode` of a uniform, `mean` of a relaxed categorical, ...) throw a `DgmError` that says how to
 * estimate them instead.
 *
 * @example
 * ```ts
 * import { Normal, Rng, tf } from '@dgm-js/core-tensors';
 * const d: Distribution = new Normal(tf.zeros([3]), 1);
 * const z = d.rsample({ sampleShape: [10], rng: new Rng(0) }); // [10, 3], differentiable
 * const lp = d.logProb(z); // [10, 3]
 * tf.dispose([z, lp]);
 * d.dispose();
 * ```
 */
export interface Distribution {
  /** Shape of the batch of independent distributions. */
  readonly batchShape: number[];
  /** Shape of a single draw. */
  readonly eventShape: number[];
  /** Whether `rsample` (reparameterized, differentiable sampling) is available. */
  readonly hasRsample: boolean;
  /** Draws `[...sampleShape, ...batchShape, ...eventShape]`; no gradient flows to parameters. */
  sample(opts: SampleOptions): Tensor;
  /** Draws with gradients to the parameters (reparameterization); throws when `!hasRsample`. */
  rsample(opts: SampleOptions): Tensor;
  /** Log density (or mass) of `x`, summed over event dims: shape broadcast(x batch dims, batchShape). */
  logProb(x: Tensor): Tensor;
  /** Entropy, shape `batchShape`. */
  entropy(): Tensor;
  /** Mean, shape `[...batchShape, ...eventShape]`. */
  readonly mean: Tensor;
  /** Mode, shape `[...batchShape, ...eventShape]`. */
  readonly mode: Tensor;
  /** Frees the tensors (and wrapped distributions) this distribution owns. Idempotent. */
  dispose(): void;
}

/**
 * Broadcasts two shapes numpy-style, or throws a `ShapeError` naming `what`.
 *
 * @example
 * ```ts
 * broadcastShapes([3, 1], [4], 'loc and scale'); // [3, 4]
 * ```
 */
export function broadcastShapes(
  a: readonly number[],
  b: readonly number[],
  what: string,
): number[] {
  const n = Math.max(a.length, b.length);
  const out: number[] = new Array(n);
  for (let i = 0; i < n; i++) {
    const da = a[a.length - n + i] ?? 1;
    const db = b[b.length - n + i] ?? 1;
    if (da !== db && da !== 1 && db !== 1) {
      throw new ShapeError(
        `${what}: shapes ${fmtShape(a)} and ${fmtShape(b)} do not broadcast (dimension ${i} is ${da} vs ${db}). ` +
          'Make the shapes equal, or give size 1 where one should be repeated.',
      );
    }
    out[i] = da === 1 ? db : da;
  }
  return out;
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

/**
 * Base class of the distributions in dgm.js: keeps the shapes, the owned tensors and the
 * validation flag, and offers the shape checks. Subclass it to write your own distribution.
 *
 * @example
 * ```ts
 * class PointMass extends BaseDistribution {
 *   constructor(readonly at: tf.Tensor) {
 *     super('PointMass');
 *     this.setShapes(at.shape, []);
 *   }
 *   // ... implement sample, logProb, entropy, mean, mode
 * }
 * ```
 */
export abstract class BaseDistribution implements Distribution {
  readonly hasRsample: boolean = false;
  /** Whether parameter values and discrete `logProb` inputs are checked (see `DistributionOptions`). */
  readonly validate: boolean;
  /** The class name used in error messages. */
  protected readonly name: string;
  private shapes: { batch: number[]; event: number[] } = { batch: [], event: [] };
  private owned: Tensor[] = [];
  private disposed = false;

  protected constructor(name: string, opts: DistributionOptions = {}) {
    this.name = name;
    this.validate = opts.validate ?? true;
  }

  get batchShape(): number[] {
    return [...this.shapes.batch];
  }

  get eventShape(): number[] {
    return [...this.shapes.event];
  }

  /** Sets the shapes (subclass constructors call this once parameters are known). */
  protected setShapes(batchShape: readonly number[], eventShape: readonly number[]): void {
    this.shapes = { batch: [...batchShape], event: [...eventShape] };
  }

  /**
   * Runs the body of a subclass constructor; if it throws (bad parameters), frees what was
   * already created, so a failed construction leaks nothing.
   */
  protected build(body: () => void): void {
    try {
      body();
    } catch (e) {
      this.dispose();
      throw e;
    }
  }

  abstract sample(opts: SampleOptions): Tensor;
  abstract logProb(x: Tensor): Tensor;
  abstract entropy(): Tensor;
  abstract get mean(): Tensor;
  abstract get mode(): Tensor;

  rsample(_opts: SampleOptions): Tensor {
    throw new DgmError(
      `${this.name}.rsample: ${this.name} has no reparameterized sampler (hasRsample is false). ` +
        'Use sample() with a score-function estimator, or a relaxed (Concrete) distribution.',
    );
  }

  /** Whether `dispose()` has run. */
  get isDisposed(): boolean {
    return this.disposed;
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    for (const t of this.owned) if (!t.isDisposed) t.dispose();
    this.owned = [];
    this.disposeChildren();
  }

  /** Disposes wrapped distributions; overridden by wrappers. */
  protected disposeChildren(): void {}

  /**
   * Registers a tensor as owned (freed by `dispose()`). Like any tensor, it is also freed by an
   * enclosing `tf.tidy`: a distribution made inside a tidy scope lives only in that scope.
   */
  protected own<T extends Tensor>(t: T): T {
    this.owned.push(t);
    return t;
  }

  /**
   * Turns a parameter into a float32 tensor: tensors of dtype float32 are kept by reference,
   * anything else is converted and owned. On bad input it frees what the object already owns
   * and throws a `ValueError`.
   */
  protected param(x: ParamLike, argName: string): Tensor {
    let r: { tensor: Tensor; created: boolean };
    try {
      r = toParamTensor(x, argName, this.name);
    } catch (e) {
      this.dispose();
      throw e;
    }
    return r.created ? this.own(r.tensor) : r.tensor;
  }

  /**
   * Resolves `{ logits } | { probs }` of a binary distribution to [logits, probs]: the given one
   * by reference (or converted), the other derived and owned. Probabilities 0 and 1 give logits
   * of -+15.9 (clamped as torch does), so log-probabilities stay finite.
   */
  protected binaryParams(params: BinaryParams): [Tensor, Tensor] {
    const { logits, probs } = this.pickParams(params);
    let out: [Tensor, Tensor] | undefined;
    this.build(() => {
      if (logits !== undefined) {
        const l = this.param(logits, 'logits');
        if (this.validate)
          checkFinite(l, `${this.name}: logits`, 'for probability 0 or 1 pass probs');
        out = [l, this.own(tf.sigmoid(l))];
      } else {
        const p = this.param(probs as ParamLike, 'probs');
        if (this.validate) checkUnit(p, `${this.name}: probs`);
        out = [this.own(binaryLogits(p)), p];
      }
    });
    return out as [Tensor, Tensor];
  }

  /**
   * Resolves `{ logits } | { probs }` of a categorical distribution (categories on the last
   * axis) to normalized [logits, probs], both owned. Logits may be -Infinity (an impossible
   * category) unless `finite`; probs must be >= 0 and are normalized to sum to 1.
   */
  protected categoricalParams(params: CategoricalParams, finite = false): [Tensor, Tensor] {
    const { logits, probs } = this.pickParams(params);
    let out: [Tensor, Tensor] | undefined;
    this.build(() => {
      const given = this.param(
        (logits ?? probs) as ParamLike,
        logits !== undefined ? 'logits' : 'probs',
      );
      const what = `${this.name}: ${logits !== undefined ? 'logits' : 'probs'}`;
      checkRank(given, 1, what, 'categories on the last axis, e.g. [batch, K]');
      if ((given.shape[given.rank - 1] as number) < 1) {
        throw new ShapeError(
          `${what} has shape ${fmtShape(given.shape)}: the last axis needs >= 1 category.`,
        );
      }
      if (this.validate) checkCategorical(given, what, logits !== undefined, finite);
      const l = this.own(logits !== undefined ? logSoftmax(given) : logOfProbs(given));
      out = [l, this.own(tf.exp(l))];
    });
    return out as [Tensor, Tensor];
  }

  private pickParams(params: BinaryParams | CategoricalParams): {
    logits?: ParamLike;
    probs?: ParamLike;
  } {
    const logits = params?.logits;
    const probs = params?.probs;
    if ((logits === undefined) === (probs === undefined)) {
      this.dispose();
      throw new ValueError(
        `${this.name}: pass exactly one of { logits } or { probs } (got ${logits === undefined ? 'neither' : 'both'}).`,
      );
    }
    return logits !== undefined ? { logits } : { probs: probs as ParamLike };
  }

  /** Throws a `ShapeError` when `sampleShape` is not a list of non-negative integers. */
  protected sampleShapeOf(opts: SampleOptions | undefined, method: string): number[] {
    if (!opts || typeof opts.rng !== 'object' || opts.rng === null) {
      throw new ValueError(
        `${this.name}.${method}: pass the random stream, e.g. ${method}({ rng: new Rng(0) }).`,
      );
    }
    const s = [...(opts.sampleShape ?? [])];
    if (!s.every((d) => Number.isInteger(d) && d >= 0)) {
      throw new ShapeError(
        `${this.name}.${method}: sampleShape ${fmtShape(s)} must be a list of non-negative integers.`,
      );
    }
    return s;
  }

  /** `[...sampleShape, ...batchShape, ...eventShape]`. */
  protected extendedShape(sampleShape: readonly number[]): number[] {
    return [...sampleShape, ...this.batchShape, ...this.eventShape];
  }

  /**
   * Checks that `x` can be scored: its trailing dims equal `eventShape` and its leading dims
   * broadcast with `batchShape`. Returns the shape `logProb(x)` will have.
   */
  protected checkValue(x: Tensor, method = 'logProb', argName = 'x'): number[] {
    if (!(x instanceof tf.Tensor)) {
      throw new ValueError(`${this.name}.${method}: ${argName} must be a tf.Tensor.`);
    }
    const er = this.eventShape.length;
    const expected = `[...sampleShape, ...${fmtShape(this.batchShape)}, ...${fmtShape(this.eventShape)}]`;
    if (x.rank < er || !sameShape(x.shape.slice(x.rank - er), this.eventShape)) {
      throw new ShapeError(
        `${this.name}.${method}: ${argName} has shape ${fmtShape(x.shape)}, but its last ${er} dimension(s) ` +
          `must equal the event shape ${fmtShape(this.eventShape)}; pass ${argName} of shape ${expected}.`,
      );
    }
    const lead = x.shape.slice(0, x.rank - er);
    try {
      return broadcastShapes(lead, this.batchShape, `${this.name}.${method}`);
    } catch {
      throw new ShapeError(
        `${this.name}.${method}: ${argName} has shape ${fmtShape(x.shape)}, whose batch part ${fmtShape(lead)} ` +
          `does not broadcast with the batch shape ${fmtShape(this.batchShape)}; pass ${argName} of shape ${expected}.`,
      );
    }
  }
}

/**
 * A parameter as a float32 tensor: a float32 tensor is returned by reference (`created: false`),
 * anything else is converted (`created: true`, the caller owns it). Throws a `ValueError` naming
 * `who` and `argName` for a disposed tensor or a value that is not a number or a rectangular array.
 */
export function toParamTensor(
  x: ParamLike,
  argName: string,
  who: string,
): { tensor: Tensor; created: boolean } {
  if (x instanceof tf.Tensor) {
    if (x.isDisposed) {
      throw new ValueError(`${who}: ${argName} is a disposed tensor; pass a live tensor.`);
    }
    return x.dtype === 'float32'
      ? { tensor: x, created: false }
      : { tensor: tf.cast(x, 'float32'), created: true };
  }
  if (typeof x === 'number') return { tensor: tf.scalar(x, 'float32'), created: true };
  try {
    return { tensor: tf.tensor(x as number[], undefined, 'float32'), created: true };
  } catch (e) {
    throw new ValueError(
      `${who}: ${argName} must be a tensor, a number or a (rectangular) array of numbers ` +
        `(${e instanceof Error ? e.message : String(e)}).`,
    );
  }
}

// ---------------------------------------------------------------------------------------------
// Value checks (read tensors back; used when `validate` is on)

function valuesOf(t: Tensor): Float32Array | Int32Array | Uint8Array {
  return t.dataSync() as Float32Array | Int32Array | Uint8Array;
}

/** Throws a `ValueError` unless every element satisfies `ok`; names the first offender. */
export function checkValues(
  t: Tensor,
  ok: (v: number) => boolean,
  where: string,
  requirement: string,
): void {
  const v = valuesOf(t);
  for (let i = 0; i < v.length; i++) {
    const x = v[i] as number;
    if (!ok(x)) {
      throw new ValueError(
        `${where} ${requirement}, but element ${i} (of shape ${fmtShape(t.shape)}) is ${x}.`,
      );
    }
  }
}

/** Throws unless every element is finite. */
export function checkFinite(t: Tensor, where: string, fix = ''): void {
  checkValues(t, Number.isFinite, where, `must be finite${fix ? ` (${fix})` : ''}`);
}

/** Throws unless every element is finite and > 0. */
export function checkPositive(t: Tensor, where: string): void {
  checkValues(t, (v) => Number.isFinite(v) && v > 0, where, 'must be finite and > 0');
}

/** Throws unless every element lies in [0, 1]. */
export function checkUnit(t: Tensor, where: string): void {
  checkValues(t, (v) => v >= 0 && v <= 1, where, 'must lie in [0, 1]');
}

/** Throws a `ShapeError` unless `t` has rank >= `min`. */
export function checkRank(t: Tensor, min: number, where: string, hint: string): void {
  if (t.rank < min) {
    throw new ShapeError(
      `${where} has shape ${fmtShape(t.shape)} but needs rank >= ${min} (${hint}).`,
    );
  }
}

/** Checks categorical logits (no NaN, no +Inf, a finite entry per row) or probs (>= 0, row sum > 0). */
function checkCategorical(t: Tensor, what: string, isLogits: boolean, finite: boolean): void {
  const v = t.dataSync() as Float32Array;
  const k = t.shape[t.rank - 1] as number;
  for (let r = 0; r < v.length / k; r++) {
    let rowOk = false;
    let sum = 0;
    for (let j = 0; j < k; j++) {
      const i = r * k + j;
      const x = v[i] as number;
      const bad = isLogits
        ? Number.isNaN(x) || x === Number.POSITIVE_INFINITY || (finite && !Number.isFinite(x))
        : !(Number.isFinite(x) && (finite ? x > 0 : x >= 0));
      if (bad) {
        const need = isLogits
          ? finite
            ? 'must be finite'
            : 'must not be NaN or +Infinity (-Infinity marks an impossible category)'
          : finite
            ? 'must be finite and > 0'
            : 'must be finite and >= 0';
        throw new ValueError(
          `${what} ${need}, but element ${i} (of shape ${fmtShape(t.shape)}) is ${x}.`,
        );
      }
      if (isLogits && Number.isFinite(x)) rowOk = true;
      sum += isLogits ? 0 : x;
    }
    if (!isLogits) rowOk = sum > 0;
    if (!rowOk) {
      throw new ValueError(
        `${what}: row ${r} (of shape ${fmtShape(t.shape)}) gives every category probability 0; ` +
          'at least one category must be possible.',
      );
    }
  }
}

/** The error for a quantity a distribution does not have in closed form. */
export function noClosedForm(what: string, fix: string): DgmError {
  return new DgmError(`${what} has no closed form; ${fix}.`);
}
