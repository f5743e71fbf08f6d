import { fmtShape, ShapeError, ValueError } from '../errors.js';
import { logSumExp } from '../numerics.js';
import { tf } from '../tf.js';
import { Categorical } from './categorical.js';
import {
  BaseDistribution,
  type Distribution,
  noClosedForm,
  type SampleOptions,
} from './distribution.js';

type Tensor = tf.Tensor;

/**
 * A mixture of K components of one family: `p(x) = sum_k pi_k p_k(x)`. `mixture` is a
 * Categorical with batch shape B and K categories; `components` has batch shape [...B, K]
 * (the last batch dim indexes the components) and any event shape. `logProb` is a stable
 * log-sum-exp; sampling picks a component per draw (not reparameterized). Owns both
 * distributions: `dispose()` disposes them.
 *
 * @example
 * ```ts
 * import { Categorical, MixtureSameFamily, Normal, Rng, tf } from '@dgm-js/core-tensors';
 * const m = new MixtureSameFamily(
 *   new Categorical({ probs: tf.tensor1d([0.3, 0.7]) }),
 *   new Normal(tf.tensor1d([-2, 2]), tf.tensor1d([0.5, 1])),
 * );
 * const x = m.sample({ sampleShape: [100], rng: new Rng(0) }); // [100]
 * m.logProb(x); // [100]
 * ```
 */
export class MixtureSameFamily extends BaseDistribution {
  /** The mixing distribution over components. */
  readonly mixture: Categorical;
  /** The components: batch shape [...batchShape, K]. */
  readonly components: Distribution;

  constructor(mixture: Categorical, components: Distribution) {
    super('MixtureSameFamily');
    if (!(mixture instanceof Categorical)) {
      throw new ValueError(
        'MixtureSameFamily: mixture must be a Categorical (a OneHotCategorical or other distribution is not accepted).',
      );
    }
    const k = mixture.numCategories;
    const mb = mixture.batchShape;
    const cb = components.batchShape;
    const ok =
      cb.length === mb.length + 1 && cb[cb.length - 1] === k && mb.every((d, i) => d === cb[i]);
    if (!ok) {
      throw new ShapeError(
        `MixtureSameFamily: components have batch shape ${fmtShape(cb)}, but with a mixture of batch shape ` +
          `${fmtShape(mb)} over ${k} components it must be ${fmtShape([...mb, k])} (components on the last batch axis).`,
      );
    }
    this.mixture = mixture;
    this.components = components;
    this.setShapes(mb, components.eventShape);
  }

  protected override disposeChildren(): void {
    this.mixture.dispose();
    this.components.dispose();
  }

  /** Number of components K. */
  get numComponents(): number {
    return this.mixture.numCategories;
  }

  /** Reshapes mixture weights [...B, K] to [...B, K, 1, ..., 1] (event rank ones). */
  private weightsForEvent(w: Tensor): Tensor {
    const er = this.eventShape.length;
    return er === 0 ? w : tf.reshape(w, [...w.shape, ...new Array(er).fill(1)]);
  }

  sample(opts: SampleOptions): Tensor {
    const sampleShape = this.sampleShapeOf(opts, 'sample');
    const er = this.eventShape.length;
    return tf.tidy(() => {
      const idx = this.mixture.sample({ sampleShape, rng: opts.rng }); // [...S, ...B]
      const all = this.components.sample({ sampleShape, rng: opts.rng }); // [...S, ...B, K, ...E]
      const mask = this.weightsForEvent(tf.oneHot(idx, this.numComponents)); // [...S, ...B, K, 1..]
      const picked = tf.where(
        tf.cast(tf.broadcastTo(mask, all.shape), 'bool'),
        all,
        tf.zerosLike(all),
      );
      return tf.sum(picked, all.rank - er - 1);
    });
  }

  /** log sum_k pi_k p_k(x), for x [...sample, ...batch, ...event]. */
  logProb(x: Tensor): Tensor {
    this.checkValue(x);
    const er = this.eventShape.length;
    return tf.tidy(() => {
      const xk = tf.expandDims(x, x.rank - er); // [..., ...B, 1, ...E]
      const lp = this.components.logProb(xk); // [..., ...B, K]
      return logSumExp(tf.add(lp, this.mixture.logits), -1);
    });
  }

  /** sum_k pi_k mean_k. */
  get mean(): Tensor {
    const er = this.eventShape.length;
    return tf.tidy(() => {
      const means = this.components.mean; // [...B, K, ...E]
      const w = this.weightsForEvent(this.mixture.probs);
      return tf.sum(tf.mul(w, means), means.rank - er - 1);
    });
  }

  /**
   * Law of total variance: sum_k pi_k (var_k + mean_k^2) - mean^2 (elementwise). Needs a
   * `variance` on the components.
   */
  get variance(): Tensor {
    if (!('variance' in this.components)) {
      throw noClosedForm(
        'MixtureSameFamily.variance: the components have no variance, so it',
        'estimate it from samples',
      );
    }
    const er = this.eventShape.length;
    return tf.tidy(() => {
      const means = this.components.mean;
      const vars = (this.components as unknown as { variance: Tensor }).variance;
      const w = this.weightsForEvent(this.mixture.probs);
      const axis = means.rank - er - 1;
      const m = tf.sum(tf.mul(w, means), axis);
      const second = tf.sum(tf.mul(w, tf.add(vars, tf.square(means))), axis);
      return tf.sub(second, tf.square(m));
    });
  }

  /** No closed form: throws. */
  get mode(): Tensor {
    throw noClosedForm('MixtureSameFamily.mode', 'search the density numerically or from samples');
  }

  /** No closed form: throws. */
  entropy(): Tensor {
    throw noClosedForm(
      'MixtureSameFamily.entropy',
      'estimate it from samples: -mean(logProb(sample))',
    );
  }
}
