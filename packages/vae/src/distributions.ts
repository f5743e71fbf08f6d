/**
 * Core distributions that own the parameter tensors they are built from (so an encoder, a
 * decoder or a prior hands the caller one object to dispose), the standard priors, and a
 * borrowed view of a distribution whose `dispose()` does nothing.
 */
import {
  Bernoulli,
  checkInt,
  type Distribution,
  Independent,
  Normal,
  OneHotCategorical,
  tf,
  ValueError,
} from '@dgm-js/core-tensors';

type Tensor = tf.Tensor;

class OwnedNormal extends Normal {
  constructor(loc: Tensor, scale: Tensor | number) {
    super(loc, scale, { validate: false });
    this.own(loc);
    if (scale instanceof tf.Tensor) this.own(scale);
  }
}

class OwnedBernoulli extends Bernoulli {
  constructor(logits: Tensor) {
    super({ logits }, { validate: false });
    this.own(logits);
  }
}

class OwnedOneHotCategorical extends OneHotCategorical {
  constructor(logits: Tensor) {
    super({ logits }, { validate: false });
    this.own(logits);
  }
}

/**
 * `Independent(Normal(loc, scale), eventRank)`, owning `loc` and `scale` (a tensor or a number).
 * No value checks (a hot path).
 *
 * @example
 * ```ts
 * const q = ownedNormal(tf.zeros([8, 2]), tf.ones([8, 2]), 1); // batch [8], event [2]
 * q.dispose(); // frees both tensors
 * ```
 */
export function ownedNormal(loc: Tensor, scale: Tensor | number, eventRank: number): Distribution {
  return new Independent(new OwnedNormal(loc, scale), eventRank);
}

/**
 * `Independent(Bernoulli({ logits }), eventRank)`, owning `logits`.
 *
 * @example
 * ```ts
 * const p = ownedBernoulli(tf.zeros([8, 784]), 1); // batch [8], event [784]
 * p.dispose();
 * ```
 */
export function ownedBernoulli(logits: Tensor, eventRank: number): Distribution {
  return new Independent(new OwnedBernoulli(logits), eventRank);
}

/**
 * `Independent(OneHotCategorical({ logits }), eventRank)` (categories on the last axis), owning
 * `logits`.
 *
 * @example
 * ```ts
 * const q = ownedOneHot(tf.zeros([8, 20, 10]), 1); // batch [8], event [20, 10]
 * q.dispose();
 * ```
 */
export function ownedOneHot(logits: Tensor, eventRank: number): Distribution {
  return new Independent(new OwnedOneHotCategorical(logits), eventRank);
}

function latentShapeOf(shape: number | readonly number[], who: string): number[] {
  const s = typeof shape === 'number' ? [shape] : [...shape];
  if (!Array.isArray(s) || s.length === 0) {
    throw new ValueError(`${who}: pass the latent shape, e.g. 32 or [20, 10].`);
  }
  for (const d of s) checkInt(d, 'every latent dimension', who);
  return s;
}

/**
 * The standard normal prior N(0, I) over latents of `shape` (a number d for `[d]`): batch `[]`,
 * event `shape`. The caller owns it (a `VAE` owns the prior it is given).
 *
 * @example
 * ```ts
 * import { stdNormal } from '@dgm-js/vae';
 * const p = stdNormal(32); // event [32]
 * p.dispose();
 * ```
 */
export function stdNormal(shape: number | readonly number[]): Distribution {
  const s = latentShapeOf(shape, 'stdNormal');
  return ownedNormal(tf.zeros(s), tf.ones(s), s.length);
}

/**
 * The uniform prior over binary latents of `shape`: independent Bernoulli(1/2) units, batch
 * `[]`, event `shape`.
 *
 * @example
 * ```ts
 * import { uniformBernoulli } from '@dgm-js/vae';
 * const p = uniformBernoulli(200); // event [200]
 * p.dispose();
 * ```
 */
export function uniformBernoulli(shape: number | readonly number[]): Distribution {
  const s = latentShapeOf(shape, 'uniformBernoulli');
  return ownedBernoulli(tf.zeros(s), s.length);
}

/**
 * The uniform prior over `latents` one-hot categorical variables of `categories` values each:
 * batch `[]`, event `[latents, categories]`.
 *
 * @example
 * ```ts
 * import { uniformCategorical } from '@dgm-js/vae';
 * const p = uniformCategorical(20, 10); // event [20, 10]
 * p.dispose();
 * ```
 */
export function uniformCategorical(latents: number, categories: number): Distribution {
  checkInt(latents, 'latents', 'uniformCategorical');
  checkInt(categories, 'categories', 'uniformCategorical', { min: 2 });
  return ownedOneHot(tf.zeros([latents, categories]), 1);
}

/**
 * A view of `d` that behaves exactly like it (same class, so the `kl` registry and `instanceof`
 * see it as `d`; same parameters, nothing copied) but whose `dispose()` does nothing: for
 * handing out a distribution someone else owns. It is valid while `d` is.
 *
 * @example
 * ```ts
 * const p = borrowed(vae.latentPrior);
 * p.dispose(); // a no-op: the VAE still owns the prior
 * ```
 */
export function borrowed<D extends Distribution>(d: D): D {
  const view = Object.create(d) as D;
  Object.defineProperty(view, 'dispose', { value: () => {}, enumerable: false });
  return view;
}
