/**
 * The product of Gaussian experts (Wu & Goodman 2018; Hinton 2002): the normalised product of
 * diagonal Gaussians N(mu_i, sigma_i^2) is the Gaussian whose precision is the sum of the
 * experts' precisions and whose mean is the precision-weighted mean of theirs. Computed in
 * precision space (T_i = 1 / sigma_i^2), with per-example masks that drop an expert (a missing
 * modality) and an optional prior expert N(mu_0, sigma_0^2).
 */
import { fmtShape, Independent, Normal, ShapeError, tf, ValueError } from '@dgm-js/core-tensors';

type Tensor = tf.Tensor;

/** One diagonal Gaussian expert: means and standard deviations `[B, d]`. */
export interface GaussianParams {
  readonly loc: Tensor;
  readonly scale: Tensor;
}

/** Options of {@link productOfGaussians}. */
export interface ProductOfGaussiansOptions {
  /**
   * Per-expert presence masks `[B]` (1 present, 0 missing; fractional values weight the
   * precision), one entry per expert; `undefined` (the array or an entry) means always present.
   */
  readonly masks?: readonly (Tensor | undefined)[];
  /**
   * The prior expert, always present: `{ loc, scale }` as numbers or tensors broadcastable to
   * `[B, d]`. Default N(0, 1) per dimension; `null` for none (then every example needs at least
   * one present expert, or its precision is 0 and its scale infinite).
   */
  readonly prior?: { loc: number | Tensor; scale: number | Tensor } | null;
  /** Added to every expert's variance before inverting it. Default 1e-8. */
  readonly eps?: number;
}

function check2d(t: unknown, what: string): Tensor {
  if (!(t instanceof tf.Tensor) || t.isDisposed) {
    throw new ValueError(
      `productOfGaussians: ${what} must be a live tf.Tensor [batch, latentDim].`,
    );
  }
  if (t.rank !== 2) {
    throw new ShapeError(
      `productOfGaussians: ${what} has shape ${fmtShape(t.shape)}; it must be [batch, latentDim].`,
    );
  }
  return t;
}

/**
 * The product of diagonal Gaussian experts, in precision space: T = T_0 + sum_i m_i T_i with
 * T_i = 1 / (sigma_i^2 + eps), mu = (T_0 mu_0 + sum_i m_i T_i mu_i) / T, sigma = T^{-1/2}, where
 * m_i `[B]` is expert i's presence mask and (mu_0, sigma_0) the prior expert (N(0, 1) unless
 * `prior` says otherwise). Returns new tensors `[B, d]` the caller owns; differentiable.
 *
 * @example
 * ```ts
 * import { tf } from '@dgm-js/core-tensors';
 * import { productOfGaussians } from '@dgm-js/hybrids';
 * const a = { loc: tf.tensor2d([[1]]), scale: tf.tensor2d([[1]]) };
 * const b = { loc: tf.tensor2d([[3]]), scale: tf.tensor2d([[1]]) };
 * const { loc, scale } = productOfGaussians([a, b], { prior: null }); // loc 2, scale sqrt(1/2)
 * const withPrior = productOfGaussians([a, b]); // loc 4/3, scale sqrt(1/3)
 * const dropB = productOfGaussians([a, b], { masks: [undefined, tf.tensor1d([0])] }); // loc 1/2
 * ```
 */
export function productOfGaussians(
  experts: readonly GaussianParams[],
  opts: ProductOfGaussiansOptions = {},
): { loc: Tensor; scale: Tensor } {
  if (!Array.isArray(experts) || experts.length === 0) {
    throw new ValueError(
      'productOfGaussians: experts must be a non-empty array of { loc, scale } tensors [batch, latentDim].',
    );
  }
  const eps = opts.eps ?? 1e-8;
  if (!(Number.isFinite(eps) && eps >= 0)) {
    throw new ValueError(`productOfGaussians: eps must be a finite number >= 0, got ${eps}.`);
  }
  const masks = opts.masks;
  if (masks !== undefined && (!Array.isArray(masks) || masks.length !== experts.length)) {
    throw new ValueError(
      `productOfGaussians: masks must have one entry per expert (${experts.length}), got ${Array.isArray(masks) ? masks.length : typeof masks}; use undefined for an expert that is always present.`,
    );
  }
  const shape = check2d(experts[0]?.loc, 'experts[0].loc').shape;
  experts.forEach((e, i) => {
    for (const k of ['loc', 'scale'] as const) {
      const t = check2d(e?.[k], `experts[${i}].${k}`);
      if (t.shape[0] !== shape[0] || t.shape[1] !== shape[1]) {
        throw new ShapeError(
          `productOfGaussians: experts[${i}].${k} has shape ${fmtShape(t.shape)}, experts[0].loc ${fmtShape(shape)}; every expert's loc and scale must be [batch, latentDim] of the same shape.`,
        );
      }
    }
    const m = masks?.[i];
    if (m !== undefined && (!(m instanceof tf.Tensor) || m.rank !== 1 || m.shape[0] !== shape[0])) {
      throw new ShapeError(
        `productOfGaussians: masks[${i}] has shape ${m instanceof tf.Tensor ? fmtShape(m.shape) : typeof m}; it must be [${shape[0]}] (one 0/1 entry per example).`,
      );
    }
  });
  const prior = opts.prior === undefined ? { loc: 0, scale: 1 } : opts.prior;
  return tf.tidy(() => {
    let precision: Tensor | undefined;
    let weighted: Tensor | undefined;
    const add = (t: Tensor, tm: Tensor) => {
      precision = precision ? tf.add(precision, t) : t;
      weighted = weighted ? tf.add(weighted, tm) : tm;
    };
    if (prior) {
      const t0 = tf.div(1, tf.add(tf.square(prior.scale), eps));
      add(tf.mul(tf.onesLike(experts[0]!.loc), t0), tf.mul(t0, prior.loc));
    }
    experts.forEach((e, i) => {
      let t = tf.div(1, tf.add(tf.square(e.scale), eps));
      const m = masks?.[i];
      if (m !== undefined) t = tf.mul(t, tf.expandDims(tf.cast(m, 'float32'), 1));
      add(t, tf.mul(t, e.loc));
    });
    const p = precision as unknown as Tensor;
    return { loc: tf.div(weighted as unknown as Tensor, p), scale: tf.rsqrt(p) };
  });
}

class OwnedNormal extends Normal {
  constructor(loc: Tensor, scale: Tensor) {
    super(loc, scale, { validate: false });
    this.own(loc);
    this.own(scale);
  }
}

/**
 * `Independent(Normal(loc, scale), 1)` owning `loc` and `scale` `[B, d]`: batch `[B]`, event
 * `[d]`, reparameterized; core's KL registry gives its analytic KL to another diagonal Gaussian.
 *
 * @example
 * ```ts
 * const q = diagNormal(tf.zeros([4, 2]), tf.ones([4, 2])); // batch [4], event [2]
 * q.dispose(); // frees both tensors
 * ```
 */
export function diagNormal(loc: Tensor, scale: Tensor): Independent {
  return new Independent(new OwnedNormal(loc, scale), 1);
}
