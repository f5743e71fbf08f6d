import { DgmError, fmtShape, ShapeError, ValueError } from '../errors.js';
import { logSigmoid } from '../numerics.js';
import { lgamma } from '../special.js';
import { tf } from '../tf.js';
import { Bernoulli } from './bernoulli.js';
import { Categorical, OneHotCategorical } from './categorical.js';
import { broadcastShapes, type Distribution } from './distribution.js';
import { Gumbel } from './gumbel.js';
import { Independent } from './independent.js';
import { Normal } from './normal.js';
import { TransformedDistribution } from './transformed.js';
import { Uniform } from './uniform.js';
import { EULER_GAMMA, noGrad } from './util.js';

type Tensor = tf.Tensor;

/**
 * A class of distributions (any constructor), the key of the KL registry.
 *
 * @example
 * ```ts
 * const key: DistributionClass<Normal> = Normal;
 * ```
 */
export type DistributionClass<D extends Distribution = Distribution> = abstract new (
  ...args: never[]
) => D;

/**
 * An analytic KL(p || q) for a pair of classes; returns a tensor of the broadcast batch shape.
 *
 * @example
 * ```ts
 * const f: KLFn<Uniform, Uniform> = (p, q) => tf.log(tf.div(tf.sub(q.high, q.low), tf.sub(p.high, p.low)));
 * ```
 */
export type KLFn<P extends Distribution, Q extends Distribution> = (p: P, q: Q) => Tensor;

const registry = new Map<unknown, Map<unknown, KLFn<Distribution, Distribution>>>();

/**
 * Registers an analytic KL(p || q) for distributions of classes `P` and `Q` (subclasses match
 * too; the most specific registration wins). Replaces an earlier registration of the same pair.
 * The function runs inside `tf.tidy`; return a tensor of shape broadcast(p.batchShape, q.batchShape).
 *
 * @example
 * ```ts
 * import { registerKL, Logistic, tf } from '@dgm-js/core-tensors';
 * registerKL(Logistic, Logistic, (p, q) => {
 *   // ... an analytic or numerical KL(p || q) of shape broadcast(p.batchShape, q.batchShape)
 *   return tf.zeros(p.batchShape);
 * });
 * ```
 */
export function registerKL<P extends Distribution, Q extends Distribution>(
  P: DistributionClass<P>,
  Q: DistributionClass<Q>,
  fn: KLFn<P, Q>,
): void {
  if (typeof P !== 'function' || typeof Q !== 'function' || typeof fn !== 'function') {
    throw new ValueError('registerKL(P, Q, fn): P and Q must be classes and fn a function.');
  }
  let row = registry.get(P);
  if (!row) {
    row = new Map();
    registry.set(P, row);
  }
  row.set(Q, fn as KLFn<Distribution, Distribution>);
}

/** The class chain of an object, most specific first. */
function chainOf(x: object): unknown[] {
  const out: unknown[] = [];
  for (
    let p = Object.getPrototypeOf(x);
    p && p !== Object.prototype;
    p = Object.getPrototypeOf(p)
  ) {
    out.push(p.constructor);
  }
  return out;
}

/** The registered KL function for (p, q), or undefined. Most specific pair first. */
function lookup(p: Distribution, q: Distribution): KLFn<Distribution, Distribution> | undefined {
  const cp = chainOf(p);
  const cq = chainOf(q);
  let best: { fn: KLFn<Distribution, Distribution>; rank: number } | undefined;
  cp.forEach((P, i) => {
    const row = registry.get(P);
    if (!row) return;
    cq.forEach((Q, j) => {
      const fn = row.get(Q);
      if (fn && (!best || i + j < best.rank)) best = { fn, rank: i + j };
    });
  });
  return best?.fn;
}

function className(d: unknown): string {
  return (d as { constructor?: { name?: string } })?.constructor?.name ?? typeof d;
}

/**
 * KL(p || q) = E_p[log p(x) - log q(x)], from the registry (analytic for Normal, Bernoulli,
 * Categorical, OneHotCategorical, Uniform, Gumbel and Independent pairs, and for two
 * TransformedDistributions of the same bijector and context: the KL of their bases). Shape: the broadcast
 * of the two batch shapes. Throws a `DgmError` when no KL is registered for the pair.
 *
 * @example
 * ```ts
 * import { kl, Normal, tf } from '@dgm-js/core-tensors';
 * const q = new Normal(tf.tensor1d([0.5, -1]), tf.tensor1d([0.8, 1.2]));
 * const prior = new Normal(0, 1);
 * kl(q, prior).print(); // [2]
 * ```
 */
export function kl(p: Distribution, q: Distribution): Tensor {
  const fn = lookup(p, q);
  if (!fn) {
    throw new DgmError(
      `kl: no KL divergence is registered for (${className(p)}, ${className(q)}). ` +
        `Register one with registerKL(${className(p)}, ${className(q)}, fn), or estimate it by Monte Carlo: ` +
        'mean(p.logProb(z) - q.logProb(z)) with z = p.sample(...).',
    );
  }
  if (
    p.eventShape.length !== q.eventShape.length ||
    p.eventShape.some((d, i) => d !== q.eventShape[i])
  ) {
    throw new ShapeError(
      `kl: p has event shape ${fmtShape(p.eventShape)} and q ${fmtShape(q.eventShape)}; they must be equal.`,
    );
  }
  const batch = broadcastShapes(p.batchShape, q.batchShape, 'kl(p, q) batch shapes');
  return tf.tidy(() => tf.broadcastTo(fn(p, q), batch));
}

// ---------------------------------------------------------------------------------------------
// Analytic KLs

/** sum_k p_k (log p_k - log q_k) over the last axis: 0 where p_k = 0, +Infinity where only q_k = 0. */
function categoricalKL(lp: Tensor, pp: Tensor, lq: Tensor): Tensor {
  const possible = tf.isFinite(lp);
  const zeros = tf.zerosLike(lp);
  const a = tf.where(possible, lp, zeros);
  // q's logits broadcast to p's shape by arithmetic: tf.where would broadcast them with a Tile,
  // which is slow on wasm (a prior's [n, C] against a batch's [B, n, C])
  const same = lq.rank === lp.rank && lq.shape.every((d, i) => d === lp.shape[i]);
  const b = tf.where(possible, same ? lq : tf.add(lq, zeros), zeros);
  return tf.sum(tf.mul(pp, tf.sub(a, b)), -1);
}

registerKL(Normal, Normal, (p, q) => {
  // log(sq / sp) + (sp^2 + (mp - mq)^2) / (2 sq^2) - 1/2
  const ratio = tf.square(tf.div(p.scale, q.scale));
  const t = tf.square(tf.div(tf.sub(p.loc, q.loc), q.scale));
  return tf.mul(0.5, tf.sub(tf.add(ratio, t), tf.add(1, tf.log(ratio))));
});

registerKL(Bernoulli, Bernoulli, (p, q) => {
  const t1 = tf.mul(p.probs, tf.sub(logSigmoid(p.logits), logSigmoid(q.logits)));
  const t0 = tf.mul(
    tf.sub(1, p.probs),
    tf.sub(logSigmoid(tf.neg(p.logits)), logSigmoid(tf.neg(q.logits))),
  );
  return tf.add(t1, t0);
});

registerKL(Categorical, Categorical, (p, q) => {
  if (p.numCategories !== q.numCategories) {
    throw new ShapeError(
      `kl: p has ${p.numCategories} categories and q ${q.numCategories}; they must be equal.`,
    );
  }
  return categoricalKL(p.logits, p.probs, q.logits);
});

registerKL(OneHotCategorical, OneHotCategorical, (p, q) =>
  categoricalKL(p.logits, p.probs, q.logits),
);

registerKL(Uniform, Uniform, (p, q) => {
  const v = tf.log(tf.div(tf.sub(q.high, q.low), tf.sub(p.high, p.low)));
  const outside = noGrad(
    (pl, ph, ql, qh) => tf.logicalOr(tf.greater(ql, pl), tf.less(qh, ph)),
    p.low,
    p.high,
    q.low,
    q.high,
  );
  return tf.where(outside, tf.fill(outside.shape, Number.POSITIVE_INFINITY), v);
});

registerKL(Gumbel, Gumbel, (p, q) => {
  // torch's _kl_gumbel_gumbel
  const ct1 = tf.div(p.scale, q.scale);
  const ct2 = tf.div(q.loc, q.scale);
  const ct3 = tf.div(p.loc, q.scale);
  const t1 = tf.add(tf.sub(tf.neg(tf.log(ct1)), ct2), ct3);
  const t2 = tf.mul(ct1, EULER_GAMMA);
  const t3 = tf.exp(tf.sub(tf.add(ct2, lgamma(tf.add(1, ct1))), ct3));
  return tf.sub(tf.add(tf.add(t1, t2), t3), 1 + EULER_GAMMA);
});

registerKL(Independent, Independent, (p, q) => {
  const n = p.reinterpretedBatchNdims;
  if (n !== q.reinterpretedBatchNdims) {
    throw new DgmError(
      `kl: Independent distributions reinterpret ${n} and ${q.reinterpretedBatchNdims} batch dims; ` +
        'KL is implemented only when they reinterpret the same number.',
    );
  }
  const inner = kl(p.base, q.base);
  return n === 0
    ? inner
    : tf.sum(
        inner,
        Array.from({ length: n }, (_, i) => inner.rank - n + i),
      );
});

registerKL<TransformedDistribution, TransformedDistribution>(
  TransformedDistribution,
  TransformedDistribution,
  (p, q) => {
    // A bijection preserves KL: KL(f#p || f#q) = KL(p || q), exactly, for the same f on both
    // sides (the same bijector object and context). Different maps give no such identity.
    const bp = p.bijector;
    const bq = q.bijector;
    if (bp !== bq || p.context !== q.context) {
      throw new DgmError(
        `kl: no KL divergence is registered for (${className(p)}, ${className(q)}), and the two transform their bases ` +
          `with different bijectors or contexts (${bp.kind} and ${bq.kind}), so their KL is not the bases' KL. ` +
          `Register one with registerKL(${className(p)}, ${className(q)}, fn), or estimate it by Monte Carlo: ` +
          'mean(p.logProb(z) - q.logProb(z)) with z = p.sample(...).',
      );
    }
    return kl(p.base, q.base);
  },
);
