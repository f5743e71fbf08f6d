/**
 * Latent inputs (core distributions, or the deprecated `{ kind, logits }` form, which becomes
 * the core distribution), the tape cut `detach`, and the shape rules shared by the estimators.
 */
import {
  Bernoulli,
  Categorical,
  customGrad,
  type Distribution,
  fmtShape,
  Independent,
  OneHotCategorical,
  ShapeError,
  stopGradient,
  tf,
  ValueError,
} from '@dgm-js/core-tensors';
import type { DiscreteLatent, Integrand, LatentInput, LatentKind } from './types.js';

type Tensor = tf.Tensor;

/**
 * A Bernoulli latent from its log-odds `[...instance, ...latent]`: the `{ kind, logits }` form,
 * which every estimator turns into `new Bernoulli({ logits })`.
 *
 * @deprecated Pass `new Bernoulli({ logits }, { validate: false })` from `@dgm-js/core-tensors`.
 * @example
 * ```ts
 * const q = bernoulliLatent(tf.zeros([2, 5])); // 2 instances of a 5-bit latent (if f returns [S, 2])
 * ```
 */
export function bernoulliLatent(logits: Tensor): DiscreteLatent {
  checkLogits(logits, 'bernoulliLatent', 0);
  return { kind: 'bernoulli', logits };
}

/**
 * A categorical (one-hot) latent from unnormalized log-probabilities
 * `[...instance, ...latent, C]`: the `{ kind, logits }` form, which every estimator turns into
 * `new OneHotCategorical({ logits })`.
 *
 * @deprecated Pass `new OneHotCategorical({ logits }, { validate: false })`.
 * @example
 * ```ts
 * const q = categoricalLatent(tf.zeros([32, 20, 10])); // 32 instances of 20 x 10-way latents
 * ```
 */
export function categoricalLatent(logits: Tensor): DiscreteLatent {
  checkLogits(logits, 'categoricalLatent', 1);
  return { kind: 'categorical', logits };
}

function checkLogits(logits: Tensor, who: string, minRank: number): void {
  if (!(logits instanceof tf.Tensor)) {
    throw new ValueError(`${who}: logits must be a tf.Tensor.`);
  }
  if (logits.rank < minRank) {
    throw new ShapeError(
      `${who}: logits have shape ${fmtShape(logits.shape)} but need rank >= ${minRank} (categories on the last axis).`,
    );
  }
  if (logits.dtype !== 'float32') {
    throw new ValueError(`${who}: logits must be float32, got ${logits.dtype}.`);
  }
  // NaN / +-Inf logits make every estimator's surrogate NaN (issue 19's fuzzing found it)
  const v = logits.dataSync();
  for (let i = 0; i < v.length; i++) {
    if (!Number.isFinite(v[i] as number)) {
      throw new ValueError(
        `${who}: logits[${i}] (flat index) is ${v[i]}; logits must be finite (for a near-certain outcome use a large finite value such as +-30).`,
      );
    }
  }
}

/** A discrete latent resolved to its core distribution and the logits the estimators use. */
export type DiscreteResolved =
  | { kind: 'bernoulli'; dist: Bernoulli; logits: Tensor; batchShape: number[] }
  | { kind: 'categorical'; dist: OneHotCategorical; logits: Tensor; batchShape: number[] };

/** Any latent resolved: discrete, or a distribution the estimator only samples and scores. */
export type Resolved =
  | DiscreteResolved
  | { kind: 'distribution'; dist: Distribution; batchShape: number[] };

function isDiscreteLatent(q: unknown): q is DiscreteLatent {
  return (
    typeof q === 'object' &&
    q !== null &&
    !(q instanceof Bernoulli) &&
    !(q instanceof OneHotCategorical) &&
    'kind' in q &&
    'logits' in q &&
    ((q as DiscreteLatent).kind === 'bernoulli' || (q as DiscreteLatent).kind === 'categorical')
  );
}

function isDistribution(q: unknown): q is Distribution {
  return (
    typeof q === 'object' &&
    q !== null &&
    typeof (q as Distribution).logProb === 'function' &&
    typeof (q as Distribution).sample === 'function' &&
    Array.isArray((q as Distribution).batchShape)
  );
}

/**
 * `q` without `Independent` wrappers when its base is a discrete distribution (`Bernoulli`,
 * `OneHotCategorical`, `Categorical`): the reinterpreted dimensions are latent dimensions
 * either way (f reduces over them, log q is summed over them), so the estimators work on the
 * base. Any other `q` is returned as it is.
 */
export function unwrapDiscrete<Q>(q: Q): Q | Distribution {
  let d: unknown = q;
  while (d instanceof Independent) d = d.base;
  const discrete =
    d instanceof Bernoulli || d instanceof OneHotCategorical || d instanceof Categorical;
  return discrete ? (d as Distribution) : q;
}

/**
 * Whether `q` is a discrete latent exact enumeration handles: `Bernoulli`, `OneHotCategorical`,
 * `Categorical` (or `Independent` of one), or the `{ kind, logits }` form.
 */
export function isEnumerable(q: unknown): boolean {
  const d = unwrapDiscrete(q);
  return (
    isDiscreteLatent(d) ||
    d instanceof Bernoulli ||
    d instanceof OneHotCategorical ||
    d instanceof Categorical
  );
}

/**
 * Resolves any input. The `{ kind, logits }` form becomes a core `Bernoulli` / `OneHotCategorical`
 * (built without value checks; call inside a tidy scope: its derived tensors are the scope's);
 * `Independent` wrappers of a discrete distribution are peeled off ({@link unwrapDiscrete}).
 */
export function resolve(input: LatentInput, who: string): Resolved {
  const q = unwrapDiscrete(input);
  if (isDiscreteLatent(q)) {
    checkLogits(q.logits, who, q.kind === 'categorical' ? 1 : 0);
    if (q.kind === 'bernoulli') {
      const dist = new Bernoulli({ logits: q.logits }, { validate: false });
      return { kind: 'bernoulli', dist, logits: dist.logits, batchShape: dist.batchShape };
    }
    const dist = new OneHotCategorical({ logits: q.logits }, { validate: false });
    return { kind: 'categorical', dist, logits: dist.logits, batchShape: dist.batchShape };
  }
  if (q instanceof Bernoulli) {
    return { kind: 'bernoulli', dist: q, logits: q.logits, batchShape: q.batchShape };
  }
  if (q instanceof OneHotCategorical) {
    return { kind: 'categorical', dist: q, logits: q.logits, batchShape: q.batchShape };
  }
  if (isDistribution(q)) return { kind: 'distribution', dist: q, batchShape: q.batchShape };
  throw new ValueError(
    `${who}: q must be a Distribution from @dgm-js/core-tensors (Bernoulli, OneHotCategorical, Normal, ...) ` +
      'or the deprecated bernoulliLatent(logits) / categoricalLatent(logits).',
  );
}

/** Resolves a discrete input, or throws naming the estimator and what it accepts. */
export function resolveDiscrete(
  q: LatentInput,
  who: string,
  kinds: readonly LatentKind[] = ['bernoulli', 'categorical'],
): DiscreteResolved {
  const r = resolve(q, who);
  if (r.kind === 'distribution' || !kinds.includes(r.kind)) {
    const got = r.kind === 'distribution' ? (r.dist.constructor?.name ?? 'a distribution') : r.kind;
    const accepted = kinds.map((k) => (k === 'bernoulli' ? 'Bernoulli' : 'OneHotCategorical'));
    const hint =
      r.dist instanceof Categorical && kinds.includes('categorical')
        ? ' For a Categorical (integer samples) pass new OneHotCategorical({ logits: q.logits }) and a one-hot f.'
        : '';
    throw new ValueError(
      `${who}: works on ${kinds.join(' or ')} latents, got ${got}. Pass a ${accepted.join(' or ')} ` +
        `from @dgm-js/core-tensors (or ${kinds.map((k) => `${k}Latent(logits)`).join(' / ')}).${hint}`,
    );
  }
  if (r.logits.size === 0) {
    // tfjs's gradients of empty tensors fail with untyped shape errors (found by the fuzz suite)
    throw new ShapeError(
      `${who}: the latent's logits have shape ${fmtShape(r.logits.shape)}, with no entries; a latent needs at least one variable (and one instance).`,
    );
  }
  return r;
}

/**
 * A copy of `t` cut from the gradient tape: gradients never flow through it, and
 * non-differentiable ops on it (comparisons, which have no gradient in tfjs) never break
 * `tf.grad`. Core's `stopGradient` gives a zero gradient but stays on the tape, so a
 * `tf.greater` downstream of it throws inside `tf.grad`, and the backward pass walks (and zeroes)
 * everything computed from it; the estimators use this for samples, learning signals and
 * control variates, and `stopGradient` for the `x - stopGradient(x)` terms of surrogates.
 * Built on `tf.customGrad` with no inputs (the copy is made inside the op, where tfjs records
 * nothing). The caller owns the result (it shares `t`'s data; disposing it does not free `t`).
 *
 * @example
 * ```ts
 * const g = tf.grad((x) => tf.mul(x, detach(x)))(tf.scalar(3)); // 3, not 6
 * ```
 */
export function detach<T extends Tensor>(t: T): T {
  return customGrad<[]>(() => ({ value: tf.clone(t), gradFunc: () => [] }))() as T;
}

/**
 * Evaluates f on samples with `s` in the leading axis and checks the result's shape:
 * `[s, ...instanceShape]`, instanceShape a leading part of `batchShape`. Returns the values
 * (float32) and the instance rank.
 */
export function evalObjective(
  f: Integrand,
  z: Tensor,
  s: number,
  batchShape: readonly number[],
  who: string,
): { fz: Tensor; instRank: number } {
  if (typeof f !== 'function') throw new ValueError(`${who}: f must be a function (z) => Tensor.`);
  const fz = f(z);
  if (!(fz instanceof tf.Tensor)) {
    throw new ValueError(`${who}: the objective must return a tf.Tensor, got ${typeof fz}.`);
  }
  const inst = fz.shape.slice(1);
  const ok =
    fz.rank >= 1 &&
    fz.shape[0] === s &&
    inst.length <= batchShape.length &&
    inst.every((d, i) => d === batchShape[i]);
  if (!ok) {
    throw new ShapeError(
      `${who}: the objective returned shape ${fmtShape(fz.shape)} for samples of shape ${fmtShape(z.shape)}; ` +
        `it must return [${s}, ...instanceShape], where instanceShape is a leading part of the batch shape ` +
        `${fmtShape(batchShape)} (the remaining dimensions are latent dimensions: reduce over them inside f).`,
    );
  }
  return { fz: fz.dtype === 'float32' ? fz : tf.cast(fz, 'float32'), instRank: inst.length };
}

/** Sums `t` [s, ...batch] over the latent dimensions (axes after 1 + instRank). */
export function sumLatent(t: Tensor, instRank: number): Tensor {
  const axes: number[] = [];
  for (let a = 1 + instRank; a < t.rank; a++) axes.push(a);
  return axes.length ? tf.sum(t, axes) : t;
}

/** Appends size-1 axes to `t` until it has rank `rank` (for broadcasting over latent dims). */
export function expandTo(t: Tensor, rank: number): Tensor {
  if (t.rank >= rank) return t;
  return tf.reshape(t, [...t.shape, ...new Array<number>(rank - t.rank).fill(1)]);
}

/**
 * One-hot float32 vectors of int32 `indices`, built as int32 and cast (tfjs-backend-wasm 4.22's
 * float32 OneHot writes the int32 bit pattern of 1), as core's distributions do internally.
 */
export function oneHot(indices: Tensor, depth: number): Tensor {
  // not tf.oneHot: it refuses depth 1 (a one-category latent; found by the fuzz suite)
  return tf.tidy(() =>
    tf.cast(
      tf.equal(tf.expandDims(tf.cast(indices, 'int32'), -1), tf.range(0, depth, 1, 'int32')),
      'float32',
    ),
  );
}

/**
 * Adds `ghat` (the shape of `logits`) as the gradient of the result with respect to `logits`,
 * with value 0: `sum_latent detach(ghat) * (logits - stopGradient(logits))`, shape `[...instance]`.
 */
export function injectGradient(logits: Tensor, ghat: Tensor, instRank: number): Tensor {
  return tf.tidy(() => {
    const prod = tf.mul(detach(ghat), tf.sub(logits, stopGradient(logits)));
    const axes: number[] = [];
    for (let a = instRank; a < prod.rank; a++) axes.push(a);
    return axes.length ? tf.sum(prod, axes) : prod;
  });
}
