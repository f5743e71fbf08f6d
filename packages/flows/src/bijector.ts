/**
 * The base class of the bijectors (the `Bijector` contract itself is core-tensors', re-exported
 * here), composition (`Chain`), inversion (`Invert`) and the shared checks of the flows package.
 *
 * Direction convention (as TensorFlow Probability and Pyro): `forward` maps the base (noise)
 * space to the data space, the generative direction; `inverse` maps data to noise, the density
 * direction. `forward(x).logDetJ` is log|det dy/dx| at x; `inverse(y).logDetJ` is log|det dx/dy|
 * at y, which equals `-forward(inverse(y).x).logDetJ`. Both are per example: shape `[N]` for an
 * input of shape `[N, ...]`.
 */
import {
  type Bijector,
  type ForwardResult,
  fmtShape,
  type InverseResult,
  Module,
  ShapeError,
  tf,
  ValueError,
} from '@dgm-js/core-tensors';

/**
 * The `Bijector` contract and its result types are core-tensors' (`@dgm-js/core-tensors`
 * contracts), re-exported here: `forward(x, context?) -> { y, logDetJ }` (base to data),
 * `inverse(y, context?) -> { x, logDetJ }`, log-determinants per example. Unconditional
 * bijectors ignore a context they are given (so a `Chain` can pass one context to all of its
 * members); conditional ones throw a `ValueError` when it is missing.
 */
export type { Bijector, ForwardResult, InverseResult };

type Tensor = tf.Tensor;

/**
 * An input lies outside the domain of a bijector (a probability outside [0, 1] given to the
 * logit transform, a NaN, ...). Subclass of `ValueError`.
 *
 * @example
 * ```ts
 * try { new LogitTransform().inverse(tf.tensor2d([[1.5]])); }
 * catch (e) { e instanceof DomainError; } // true
 * ```
 */
export class DomainError extends ValueError {}

/**
 * Base class of the bijectors in this package: a `Module` (parameters, save / load, dispose)
 * whose `apply(x)` is `forward(x)`. Subclasses implement `forward` and `inverse`.
 *
 * @example
 * ```ts
 * class Shift extends BaseBijector {
 *   readonly shift: tf.Variable;
 *   constructor(dim: number) {
 *     super('Shift');
 *     this.shift = this.addParameter('shift', tf.zeros([dim]));
 *   }
 *   forward(x: tf.Tensor) {
 *     return tf.tidy(() => ({ y: tf.add(x, this.shift), logDetJ: tf.zeros([x.shape[0]!]) }));
 *   }
 *   inverse(y: tf.Tensor) {
 *     return tf.tidy(() => ({ x: tf.sub(y, this.shift), logDetJ: tf.zeros([y.shape[0]!]) }));
 *   }
 * }
 * ```
 */
export abstract class BaseBijector extends Module<Tensor, ForwardResult> implements Bijector {
  abstract forward(x: Tensor, context?: Tensor): ForwardResult;
  abstract inverse(y: Tensor, context?: Tensor): InverseResult;

  /** `forward(x)` (so a bijector is a `Module`). */
  apply(x: Tensor): ForwardResult {
    return this.forward(x);
  }
}

/**
 * Throws a `ShapeError` unless `x` is a tensor of shape `[N, dim]` (or `[N, ..., dim]` when
 * `anyRank`). `who` is e.g. `AffineCoupling.forward`, `arg` the argument name.
 */
export function checkInput(
  x: unknown,
  dim: number | undefined,
  who: string,
  arg: string,
  anyRank = false,
): asserts x is Tensor {
  if (!(x instanceof tf.Tensor)) {
    throw new ValueError(`${who}: ${arg} must be a tf.Tensor, got ${typeof x}.`);
  }
  if (x.isDisposed) throw new ValueError(`${who}: ${arg} is a disposed tensor.`);
  const okRank = anyRank ? x.rank >= 2 : x.rank === 2;
  if (!okRank || (dim !== undefined && x.shape[x.rank - 1] !== dim)) {
    const want = anyRank ? `[N, ..., ${dim ?? 'D'}]` : `[N, ${dim ?? 'D'}]`;
    throw new ShapeError(
      `${who}: ${arg} must have shape ${want} (a batch of ${anyRank ? 'arrays' : 'vectors'}), got ${fmtShape(x.shape)}.` +
        (x.rank === 1 ? ' For a single example, reshape it to [1, D].' : ''),
    );
  }
}

/**
 * Checks a context for a conditional bijector: a tensor `[N, contextDim]` whose N matches the
 * input's. Throws a `ValueError` when it is missing, a `ShapeError` when its shape is wrong.
 */
export function checkContext(
  context: Tensor | undefined,
  contextDim: number,
  n: number,
  who: string,
): asserts context is Tensor {
  if (context === undefined) {
    throw new ValueError(
      `${who}: this bijector is conditional (contextDim ${contextDim}); pass a context of shape [N, ${contextDim}].`,
    );
  }
  if (!(context instanceof tf.Tensor)) {
    throw new ValueError(`${who}: context must be a tf.Tensor.`);
  }
  if (context.rank !== 2 || context.shape[1] !== contextDim || context.shape[0] !== n) {
    throw new ShapeError(
      `${who}: context must have shape [${n}, ${contextDim}] (one row per example of the input), got ${fmtShape(context.shape)}.`,
    );
  }
}

/**
 * Throws a `DomainError` naming the first element of `t` for which `ok` fails (reads `t` back).
 */
export function checkDomain(
  t: Tensor,
  ok: (v: number) => boolean,
  who: string,
  requirement: string,
  fix: string,
): void {
  const v = t.dataSync();
  for (let i = 0; i < v.length; i++) {
    const a = v[i] as number;
    if (!ok(a)) {
      throw new DomainError(
        `${who}: every element ${requirement}, but element ${i} (of shape ${fmtShape(t.shape)}) is ${a}. ${fix}`,
      );
    }
  }
}

/**
 * Runs `fn` on `inputs` with no gradient to them: the ops inside are not recorded on the
 * gradient tape (so comparisons, which have no gradient in tfjs, are allowed) and the result's
 * gradient with respect to every input is zero. For iterative solvers and bin searches.
 *
 * @example
 * ```ts
 * const idx = noGrad((x) => tf.cast(tf.greater(x, 0), 'float32'), x);
 * ```
 */
export function noGrad(fn: (...xs: Tensor[]) => Tensor, ...inputs: Tensor[]): Tensor {
  const f = tf.customGrad(((...args: unknown[]) => {
    const xs = args.slice(0, inputs.length) as Tensor[];
    return {
      value: fn(...xs),
      gradFunc: () => xs.map((x) => tf.zerosLike(x)),
    };
  }) as unknown as Parameters<typeof tf.customGrad>[0]);
  return (f as (...xs: Tensor[]) => Tensor)(...inputs);
}

/**
 * Broadcasts `t` to `shape` with a cheap gradient. (`tf.broadcastTo` and `tf.tile` run the Tile
 * kernel, whose gradient in tfjs is a loop of one slice and one add per repetition: 512 kernels
 * to broadcast a scalar over a batch of 512.) This adds zeros, whose gradient is one sum.
 *
 * @example
 * ```ts
 * const perExample = broadcast(tf.sum(logScale), [n]); // [n]
 * ```
 */
export function broadcast(t: Tensor, shape: readonly number[]): Tensor {
  return tf.add(t, tf.zeros(shape as number[]));
}

/** Sums every axis but the first: `[N, ...] -> [N]`. */
export function sumNonBatch(t: Tensor): Tensor {
  if (t.rank === 1) return tf.clone(t);
  return tf.sum(
    t,
    Array.from({ length: t.rank - 1 }, (_, i) => i + 1),
  );
}

/**
 * Composition of bijectors: `forward` applies them in order (the first maps the base space),
 * `inverse` in reverse order; log-determinants add. The chain owns its members (they become its
 * sub-modules `0`, `1`, ...; `dispose()` disposes them). The context is passed to every member.
 *
 * @example
 * ```ts
 * const rng = new Rng(0);
 * const flow = new Chain([
 *   new AffineCoupling(alternatingMask(2, 0), { rng }),
 *   new AffineCoupling(alternatingMask(2, 1), { rng }),
 * ]);
 * const { y, logDetJ } = flow.forward(tf.randomNormal([16, 2]));
 * ```
 */
export class Chain extends BaseBijector {
  readonly bijectors: readonly Bijector[];

  constructor(bijectors: readonly Bijector[]) {
    super('Chain');
    if (!Array.isArray(bijectors) || bijectors.length === 0) {
      throw new ValueError('Chain: needs a non-empty array of bijectors.');
    }
    this.bijectors = bijectors.map((b, i) => {
      if (b instanceof Module) this.addModule(String(i), b as unknown as Module<never, unknown>);
      return b;
    });
  }

  forward(x: Tensor, context?: Tensor): ForwardResult {
    return tf.tidy(() => {
      let h = x;
      let ld: Tensor | undefined;
      for (const b of this.bijectors) {
        const r = b.forward(h, context);
        h = r.y;
        ld = ld ? tf.add(ld, r.logDetJ) : r.logDetJ;
      }
      return { y: h === x ? tf.clone(x) : h, logDetJ: ld as Tensor };
    });
  }

  inverse(y: Tensor, context?: Tensor): InverseResult {
    return tf.tidy(() => {
      let h = y;
      let ld: Tensor | undefined;
      for (let i = this.bijectors.length - 1; i >= 0; i--) {
        const r = (this.bijectors[i] as Bijector).inverse(h, context);
        h = r.x;
        ld = ld ? tf.add(ld, r.logDetJ) : r.logDetJ;
      }
      return { x: h === y ? tf.clone(y) : h, logDetJ: ld as Tensor };
    });
  }

  override dispose(): void {
    super.dispose();
    // members that are not Modules (user-written bijectors) are disposed here
    for (const b of this.bijectors) if (!(b instanceof Module)) b.dispose();
  }
}

/**
 * The inverse of a bijector: `forward` is the wrapped bijector's `inverse` and vice versa. Use
 * it to put a bijector's fast direction where it is needed (e.g. a flow trained by maximum
 * likelihood evaluates `inverse` on every step). Owns the wrapped bijector.
 *
 * @example
 * ```ts
 * const lu = new LULinear(4, { rng: new Rng(0) });
 * const inv = new Invert(lu); // inv.forward(x) = lu.inverse(x)
 * ```
 */
export class Invert extends BaseBijector {
  readonly bijector: Bijector;

  constructor(bijector: Bijector) {
    super(`Invert(${bijector?.kind ?? '?'})`);
    if (!bijector || typeof bijector.forward !== 'function') {
      throw new ValueError('Invert: pass a bijector.');
    }
    this.bijector = bijector;
    if (bijector instanceof Module)
      this.addModule('inner', bijector as unknown as Module<never, unknown>);
  }

  forward(x: Tensor, context?: Tensor): ForwardResult {
    const r = this.bijector.inverse(x, context);
    return { y: r.x, logDetJ: r.logDetJ };
  }

  inverse(y: Tensor, context?: Tensor): InverseResult {
    const r = this.bijector.forward(y, context);
    return { x: r.y, logDetJ: r.logDetJ };
  }

  override dispose(): void {
    super.dispose();
    if (!(this.bijector instanceof Module)) this.bijector.dispose();
  }
}
