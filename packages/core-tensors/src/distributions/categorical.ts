import { DgmError, fmtShape, ShapeError, ValueError } from '../errors.js';
import { gumbelNoise } from '../numerics.js';
import type { Rng } from '../rng.js';
import { tf } from '../tf.js';
import {
  BaseDistribution,
  type CategoricalParams,
  checkValues,
  type DistributionOptions,
  type SampleOptions,
} from './distribution.js';
import { noGrad } from './util.js';

type Tensor = tf.Tensor;

/**
 * Gumbel-Max sampling: `one_hot(argmax(logits + g))` with g standard Gumbel noise, a draw from
 * Categorical(softmax(logits)) along the last axis. Logits need not be normalized; -Infinity
 * marks an impossible category. Returns float32 one-hot vectors of the shape of `logits`.
 *
 * @example
 * ```ts
 * import { gumbelMax, Rng, tf } from '@dgm-js/core-tensors';
 * const logits = tf.log(tf.tensor2d([[0.2, 0.5, 0.3]]));
 * gumbelMax(logits, new Rng(0)).print(); // e.g. [[0, 1, 0]]
 * ```
 */
export function gumbelMax(logits: Tensor, rng: Rng): Tensor {
  if (!(logits instanceof tf.Tensor) || logits.rank < 1) {
    throw new ShapeError(
      `gumbelMax: logits must be a tensor of rank >= 1 (categories on the last axis), got shape ${
        logits instanceof tf.Tensor ? fmtShape(logits.shape) : typeof logits
      }.`,
    );
  }
  const k = logits.shape[logits.rank - 1] as number;
  return tf.tidy(() => {
    const idx = tf.argMax(tf.add(logits, gumbelNoise(logits.shape, rng)), -1);
    return oneHotFloat(idx, k);
  });
}

/**
 * float32 one-hot vectors. (tf.oneHot(..., 'float32') is wrong on the wasm backend of tfjs 4.22:
 * it writes the int32 bit pattern of 1, i.e. 1.4e-45; build int32 and cast instead.)
 */
export function oneHotFloat(indices: Tensor, k: number): Tensor {
  // tf.oneHot also refuses k = 1; comparing with 0..k-1 works for every k
  return tf.tidy(() =>
    tf.cast(
      tf.equal(tf.expandDims(tf.cast(indices, 'int32'), -1), tf.range(0, k, 1, 'int32')),
      'float32',
    ),
  );
}

/** Integer draws (int32) from categorical log-probabilities `logits` [..., K], by Gumbel-Max. */
function drawIndices(logits: Tensor, shape: number[], rng: Rng): Tensor {
  return tf.tidy(() => tf.argMax(tf.add(logits, gumbelNoise(shape, rng)), -1));
}

/** -sum p log p along the last axis; 0 log 0 = 0 with finite gradients. */
function categoricalEntropy(logits: Tensor, probs: Tensor): Tensor {
  return tf.tidy(() => {
    const safe = tf.where(tf.isFinite(logits), logits, tf.zerosLike(logits));
    return tf.neg(tf.sum(tf.mul(probs, safe), -1));
  });
}

/**
 * The categorical distribution over {0, ..., K-1} from `logits` or `probs` [...batch, K].
 * Samples are int32 category indices of shape `[...sampleShape, ...batchShape]` (Gumbel-Max);
 * `logProb(x)` takes integer indices (int32 or integral float32). Logits are normalized
 * (`logits` holds log-probabilities); -Infinity marks an impossible category.
 *
 * @example
 * ```ts
 * import { Categorical, Rng, tf } from '@dgm-js/core-tensors';
 * const c = new Categorical({ probs: tf.tensor1d([0.2, 0.5, 0.3]) });
 * const x = c.sample({ sampleShape: [5], rng: new Rng(0) }); // int32 [5]
 * c.logProb(x).print();
 * ```
 */
export class Categorical extends BaseDistribution {
  /** Normalized log-probabilities [...batch, K]. */
  readonly logits: Tensor;
  /** Probabilities [...batch, K]. */
  readonly probs: Tensor;
  /** Number of categories K. */
  readonly numCategories: number;

  constructor(params: CategoricalParams, opts: DistributionOptions = {}) {
    super('Categorical', opts);
    [this.logits, this.probs] = this.categoricalParams(params);
    this.numCategories = this.logits.shape[this.logits.rank - 1] as number;
    this.setShapes(this.logits.shape.slice(0, -1), []);
  }

  sample(opts: SampleOptions): Tensor {
    const shape = [...this.extendedShape(this.sampleShapeOf(opts, 'sample')), this.numCategories];
    return drawIndices(this.logits, shape, opts.rng);
  }

  /** log p(x) for integer categories x (int32 or integral float32) of shape [...sample, ...batch]. */
  logProb(x: Tensor): Tensor {
    this.checkValue(x);
    const k = this.numCategories;
    if (this.validate) {
      checkValues(
        x,
        (v) => Number.isInteger(v) && v >= 0 && v < k,
        'Categorical.logProb: x',
        `must hold integer categories in [0, ${k - 1}]`,
      );
    }
    return tf.tidy(() => {
      // (not tf.oneHot: it refuses k = 1, a valid one-category distribution)
      const mask = tf.equal(tf.expandDims(tf.cast(x, 'int32'), -1), tf.range(0, k, 1, 'int32'));
      return tf.sum(tf.where(mask, this.logits, tf.zerosLike(this.logits)), -1);
    });
  }

  /** -sum p log p. */
  entropy(): Tensor {
    return categoricalEntropy(this.logits, this.probs);
  }

  /** Categories are unordered: throws. Use `probs`, or OneHotCategorical's mean. */
  get mean(): Tensor {
    throw new DgmError(
      'Categorical.mean: categories are unordered, so there is no mean; use probs (the mean of the OneHotCategorical).',
    );
  }

  /** The most probable category, int32 [...batch]. */
  get mode(): Tensor {
    return tf.argMax(this.logits, -1);
  }
}

/**
 * The categorical distribution over one-hot vectors: event shape [K], samples are float32 one-hot
 * vectors (Gumbel-Max), `mean` is `probs`. Parameters as {@link Categorical}.
 *
 * @example
 * ```ts
 * import { OneHotCategorical, Rng, tf } from '@dgm-js/core-tensors';
 * const c = new OneHotCategorical({ logits: tf.zeros([2, 4]) });
 * const x = c.sample({ rng: new Rng(0) }); // [2, 4] one-hot rows
 * c.logProb(x).print(); // [-ln 4, -ln 4]
 * ```
 */
export class OneHotCategorical extends BaseDistribution {
  /** Normalized log-probabilities [...batch, K]. */
  readonly logits: Tensor;
  /** Probabilities [...batch, K]. */
  readonly probs: Tensor;
  /** Number of categories K. */
  readonly numCategories: number;

  constructor(params: CategoricalParams, opts: DistributionOptions = {}) {
    super('OneHotCategorical', opts);
    [this.logits, this.probs] = this.categoricalParams(params);
    this.numCategories = this.logits.shape[this.logits.rank - 1] as number;
    this.setShapes(this.logits.shape.slice(0, -1), [this.numCategories]);
  }

  sample(opts: SampleOptions): Tensor {
    const shape = this.extendedShape(this.sampleShapeOf(opts, 'sample'));
    return tf.tidy(() =>
      oneHotFloat(drawIndices(this.logits, shape, opts.rng), this.numCategories),
    );
  }

  /**
   * sum_k x_k log p_k for one-hot x [..., K]. Differentiable in x too (d/dx_k = log p_k), as a
   * straight-through estimator needs.
   */
  logProb(x: Tensor): Tensor {
    this.checkValue(x);
    if (this.validate) this.checkOneHot(x);
    return tf.tidy(() => {
      // Where log p = -Infinity and x = 0 the term is 0 (not NaN), with zero gradient.
      const keep = noGrad(
        (xi, l) => tf.logicalOr(tf.notEqual(xi, 0), tf.isFinite(l)),
        x,
        this.logits,
      );
      const safe = tf.where(keep, this.logits, tf.zerosLike(this.logits));
      return tf.sum(tf.mul(x, safe), -1);
    });
  }

  private checkOneHot(x: Tensor): void {
    const v = x.dataSync() as ArrayLike<number>;
    const k = this.numCategories;
    for (let r = 0; r < v.length / k; r++) {
      let ones = 0;
      for (let j = 0; j < k; j++) {
        const e = v[r * k + j] as number;
        if (e === 1) ones++;
        else if (e !== 0) ones = -1e9;
      }
      if (ones !== 1) {
        const row = Array.from({ length: k }, (_, j) => v[r * k + j]);
        throw new ValueError(
          `OneHotCategorical.logProb: x must hold one-hot rows (one 1, the rest 0), but row ${r} is [${row.join(', ')}]. ` +
            'Pass validate: false to score relaxed (soft) vectors.',
        );
      }
    }
  }

  entropy(): Tensor {
    return categoricalEntropy(this.logits, this.probs);
  }

  get mean(): Tensor {
    return tf.clone(this.probs);
  }

  /** One-hot of the most probable category, float32 [...batch, K]. */
  get mode(): Tensor {
    return tf.tidy(() => oneHotFloat(tf.argMax(this.logits, -1), this.numCategories));
  }

  /** probs (1 - probs). */
  get variance(): Tensor {
    return tf.tidy(() => tf.mul(this.probs, tf.sub(1, this.probs)));
  }
}
