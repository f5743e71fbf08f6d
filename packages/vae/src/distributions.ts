/**
 * Distributions that own the parameter tensors they are built from, so `encode` / `decode` /
 * `prior` hand the caller one object to dispose.
 */
import {
  Bernoulli,
  type Distribution,
  Independent,
  Normal,
  OneHotCategorical,
  type tf,
} from '@dgm-js/core-tensors';

type Tensor = tf.Tensor;

class OwnedNormal extends Normal {
  constructor(loc: Tensor, scale: Tensor) {
    super(loc, scale, { validate: false });
    this.own(loc);
    this.own(scale);
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

/** Independent(Normal(loc, scale), eventRank), owning loc and scale. */
export function ownedNormal(loc: Tensor, scale: Tensor, eventRank: number): Distribution {
  return new Independent(new OwnedNormal(loc, scale), eventRank);
}

/** Independent(Bernoulli(logits), eventRank), owning logits. */
export function ownedBernoulli(logits: Tensor, eventRank: number): Distribution {
  return new Independent(new OwnedBernoulli(logits), eventRank);
}

/** Independent(OneHotCategorical(logits), eventRank), owning logits. */
export function ownedOneHot(logits: Tensor, eventRank: number): Distribution {
  return new Independent(new OwnedOneHotCategorical(logits), eventRank);
}
