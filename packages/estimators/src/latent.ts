/**
 * Latent inputs (logits or distributions), sampling, log-probabilities and the shape rules
 * shared by the estimators.
 */
import {
  Bernoulli,
  clampedUniform,
  type Distribution,
  fmtShape,
  gumbelNoise,
  logSoftmax,
  OneHotCategorical,
  type Rng,
  ShapeError,
  softplus,
  tf,
  ValueError,
} from '@dgm-js/core-tensors';
import type { DiscreteLatent, LatentInput, LatentKind, Objective } from './types.js';

type Tensor = tf.Tensor;

/**
 * A Bernoulli latent from its log-odds `[...instance, ...latent]`.
 *
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
 * A categorical (one-hot) latent from unnormalized log-probabilities `[...instance, ...latent, C]`.
 *
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
}

/** A latent resolved to what the estimators work with. */
export type Resolved =
  | { kind: LatentKind; logits: Tensor; batchShape: number[] }
  | { kind: 'distribution'; dist: Distribution; batchShape: number[] };

function isDiscreteLatent(q: unknown): q is DiscreteLatent {
  return (
    typeof q === 'object' &&
    q !== null &&
    'kind' in q &&
    'logits' in q &&
    ((q as DiscreteLatent).kind === 'bernoulli' || (q as DiscreteLatent).kind === 'categorical')
  );
}

/** Resolves any input; Bernoulli and OneHotCategorical distributions become logits. */
export function resolve(q: LatentInput, who: string): Resolved {
  if (isDiscreteLatent(q)) {
    checkLogits(q.logits, who, q.kind === 'categorical' ? 1 : 0);
    return {
      kind: q.kind,
      logits: q.logits,
      batchShape: q.kind === 'categorical' ? q.logits.shape.slice(0, -1) : [...q.logits.shape],
    };
  }
  if (q instanceof Bernoulli)
    return { kind: 'bernoulli', logits: q.logits, batchShape: [...q.logits.shape] };
  if (q instanceof OneHotCategorical) {
    return { kind: 'categorical', logits: q.logits, batchShape: q.logits.shape.slice(0, -1) };
  }
  if (
    typeof q === 'object' &&
    q !== null &&
    typeof (q as Distribution).logProb === 'function' &&
    Array.isArray((q as Distribution).batchShape)
  ) {
    return { kind: 'distribution', dist: q, batchShape: [...q.batchShape] };
  }
  throw new ValueError(
    `${who}: q must be bernoulliLatent(logits), categoricalLatent(logits) or a Distribution from @dgm-js/core-tensors.`,
  );
}

/** Resolves a discrete input, or throws naming the estimator and what it accepts. */
export function resolveDiscrete(
  q: LatentInput,
  who: string,
  kinds: readonly LatentKind[] = ['bernoulli', 'categorical'],
): { kind: LatentKind; logits: Tensor; batchShape: number[] } {
  const r = resolve(q, who);
  if (r.kind === 'distribution' || !kinds.includes(r.kind)) {
    const got = r.kind === 'distribution' ? (r.dist.constructor?.name ?? 'a distribution') : r.kind;
    throw new ValueError(
      `${who}: works on ${kinds.join(' or ')} latents, got ${got}. Pass ${kinds
        .map((k) => `${k}Latent(logits)`)
        .join(' or ')}${kinds.includes('bernoulli') ? ' (or a Bernoulli)' : ''}${
        kinds.includes('categorical') ? ' (or a OneHotCategorical)' : ''
      }.`,
    );
  }
  return r;
}

/**
 * A tensor with the same values as `t` and no connection to the gradient tape: it shares
 * `t`'s data (no copy), so gradients never flow through it and non-differentiable ops
 * (comparisons, argmax) on it never break `tf.grad`. The caller owns it (disposing it does
 * not free `t`).
 *
 * @example
 * ```ts
 * const g = tf.grad((x) => tf.mul(x, detach(x)))(tf.scalar(3)); // 3, not 6
 * ```
 */
export function detach<T extends Tensor>(t: T): T {
  const engine = tf.engine();
  const backend = engine.backend as unknown as { incRef?: (id: unknown) => void };
  if (typeof backend.incRef !== 'function') {
    return tf.tensor(t.dataSync() as Float32Array, t.shape, t.dtype) as T;
  }
  backend.incRef(t.dataId);
  return engine.makeTensorFromDataId(t.dataId, t.shape, t.dtype) as T;
}

/** Throws a `ValueError` unless `samples` is an integer >= `min`. */
export function checkSamples(samples: unknown, who: string, min = 1): number {
  if (typeof samples !== 'number' || !Number.isInteger(samples) || samples < min) {
    throw new ValueError(
      `${who}: samples must be an integer >= ${min}, got ${String(samples)}${
        min > 1 ? ` (${who} compares each sample with the others)` : ''
      }.`,
    );
  }
  return samples;
}

/**
 * Evaluates f on samples with `s` in the leading axis and checks the result's shape:
 * `[s, ...instanceShape]`, instanceShape a leading part of `batchShape`. Returns the values
 * (float32) and the instance rank.
 */
export function evalObjective(
  f: Objective,
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
 * One-hot float32 vectors of `indices` (int32). tfjs-backend-wasm 4.22's OneHot kernel returns
 * all zeros when asked for a float32 result, so this builds int32 and casts.
 */
export function oneHot(indices: Tensor, depth: number): Tensor {
  return tf.tidy(() => tf.cast(tf.oneHot(tf.cast(indices, 'int32'), depth), 'float32'));
}

/** Bernoulli samples [s, ...logits] (float 0/1) from detached logits. */
export function sampleBernoulli(logitsD: Tensor, s: number, rng: Rng): Tensor {
  return tf.tidy(() => {
    const u = tf.randomUniform([s, ...logitsD.shape], 0, 1, 'float32', rng.next());
    return tf.cast(tf.less(u, tf.sigmoid(logitsD)), 'float32');
  });
}

/** One-hot categorical samples [s, ...logits] by Gumbel-Max from detached logits. */
export function sampleCategorical(logitsD: Tensor, s: number, rng: Rng): Tensor {
  return tf.tidy(() => {
    const c = logitsD.shape[logitsD.rank - 1] as number;
    const g = gumbelNoise([s, ...logitsD.shape], rng);
    return oneHot(tf.argMax(tf.add(logitsD, g), -1), c);
  });
}

/** Samples of a discrete latent from detached logits. */
export function sampleDiscrete(kind: LatentKind, logitsD: Tensor, s: number, rng: Rng): Tensor {
  return kind === 'bernoulli'
    ? sampleBernoulli(logitsD, s, rng)
    : sampleCategorical(logitsD, s, rng);
}

/**
 * log q(z) per sample and batch element: `[s, ...batchShape]` (summed over categories),
 * differentiable with respect to the logits. z must be exact 0/1 (one-hot) values.
 */
export function discreteLogProb(kind: LatentKind, logits: Tensor, z: Tensor): Tensor {
  return tf.tidy(() => {
    if (kind === 'bernoulli') return tf.sub(tf.mul(z, logits), softplus(logits));
    const ls = logSoftmax(logits);
    // where z = 0 the term is 0 even when log p = -Infinity
    const mask = tf.greater(detach(z), 0);
    const terms = tf.mul(z, ls);
    return tf.sum(tf.where(mask, terms, tf.zeros(terms.shape)), -1);
  });
}

/** Uniform noise on [1e-6, 1 - 1e-6] of the given shape. */
export function uniform(shape: number[], rng: Rng): Tensor {
  return clampedUniform(shape, rng);
}

/** log(u) - log(1 - u): standard logistic noise from uniforms. */
export function logistic(u: Tensor): Tensor {
  return tf.tidy(() => tf.sub(tf.log(u), tf.log1p(tf.neg(u))));
}

/**
 * Adds `ghat` (detached, the shape of `logits`) as the gradient of the result with respect to
 * `logits`, with value 0: `sum_latent ghat * (logits - detach(logits))`, shape `[...instance]`.
 */
export function injectGradient(logits: Tensor, ghat: Tensor, instRank: number): Tensor {
  return tf.tidy(() => {
    const zero = tf.sub(logits, detach(logits));
    const prod = tf.mul(detach(ghat), zero);
    const axes: number[] = [];
    for (let a = instRank; a < prod.rank; a++) axes.push(a);
    return axes.length ? tf.sum(prod, axes) : prod;
  });
}
