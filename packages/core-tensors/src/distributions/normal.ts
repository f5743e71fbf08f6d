import { stopGradient } from '../numerics.js';
import { tf } from '../tf.js';
import { HALF_LOG_2PI } from '../validate.js';
import {
  BaseDistribution,
  broadcastShapes,
  checkFinite,
  checkPositive,
  checkValues,
  type DistributionOptions,
  type ParamLike,
  type SampleOptions,
} from './distribution.js';

type Tensor = tf.Tensor;

/**
 * The normal distribution N(loc, scale^2), elementwise (a diagonal Gaussian; wrap it in
 * `Independent` to score vectors). `batchShape` is the broadcast of the parameters' shapes.
 * Reparameterized: `rsample` is `loc + scale * eps`, eps ~ N(0, 1).
 *
 * @example
 * ```ts
 * import { Normal, Rng, tf } from '@dgm-js/core-tensors';
 * const q = new Normal(tf.tensor1d([0, 1]), tf.tensor1d([1, 0.5]));
 * const z = q.rsample({ sampleShape: [100], rng: new Rng(0) }); // [100, 2]
 * const lp = q.logProb(z); // [100, 2]
 * ```
 */
export class Normal extends BaseDistribution {
  override readonly hasRsample = true;
  /** Location (mean); a parameter tensor (yours if you passed a tensor). */
  readonly loc: Tensor;
  /** Standard deviation, > 0. */
  readonly scale: Tensor;

  /**
   * @param loc mean, any shape
   * @param scale standard deviation (> 0), broadcastable with `loc`
   */
  constructor(loc: ParamLike, scale: ParamLike, opts: DistributionOptions = {}) {
    super('Normal', opts);
    this.loc = this.param(loc, 'loc');
    this.scale = this.param(scale, 'scale');
    this.build(() => {
      this.setShapes(broadcastShapes(this.loc.shape, this.scale.shape, 'Normal(loc, scale)'), []);
      if (this.validate) {
        checkFinite(this.loc, 'Normal: loc');
        checkPositive(this.scale, 'Normal: scale');
      }
    });
  }

  override rsample(opts: SampleOptions): Tensor {
    const shape = this.extendedShape(this.sampleShapeOf(opts, 'rsample'));
    return tf.tidy(() =>
      tf.add(
        this.loc,
        tf.mul(this.scale, tf.randomNormal(shape, 0, 1, 'float32', opts.rng.next())),
      ),
    );
  }

  sample(opts: SampleOptions): Tensor {
    const shape = this.extendedShape(this.sampleShapeOf(opts, 'sample'));
    return tf.tidy(() =>
      stopGradient(
        tf.add(
          this.loc,
          tf.mul(this.scale, tf.randomNormal(shape, 0, 1, 'float32', opts.rng.next())),
        ),
      ),
    );
  }

  /**
   * log N(x; loc, scale^2), elementwise; +-Inf gives -Inf (the limit, zero density). With
   * `validate` on (the default) a NaN in `x` is a `ValueError` naming its first position, as
   * Bernoulli and Categorical check that `x` is in their support; build with
   * `{ validate: false }` to skip that read-back in a hot loop (then a NaN `x` gives NaN).
   *
   * @example
   * ```ts
   * const lp = new Normal(0, 1).logProb(tf.tensor1d([0, 1])); // [-0.919, -1.419]
   * ```
   */
  logProb(x: Tensor): Tensor {
    this.checkValue(x);
    if (this.validate) {
      checkValues(
        x,
        (v) => !Number.isNaN(v),
        'Normal.logProb: x',
        'must not be NaN (clean the data, or build the Normal with { validate: false } to skip this read-back)',
      );
    }
    return tf.tidy(() => {
      const z = tf.div(tf.sub(x, this.loc), this.scale);
      return tf.sub(tf.mul(-0.5, tf.square(z)), tf.add(tf.log(this.scale), HALF_LOG_2PI));
    });
  }

  /** P(X <= x) = (1 + erf((x - loc) / (scale sqrt 2))) / 2. */
  cdf(x: Tensor): Tensor {
    this.checkValue(x, 'cdf');
    return tf.tidy(() =>
      tf.mul(0.5, tf.add(1, tf.erf(tf.div(tf.sub(x, this.loc), tf.mul(this.scale, Math.SQRT2))))),
    );
  }

  entropy(): Tensor {
    return tf.tidy(() =>
      tf.broadcastTo(tf.add(tf.log(this.scale), 0.5 + HALF_LOG_2PI), this.batchShape),
    );
  }

  get mean(): Tensor {
    return tf.tidy(() => tf.broadcastTo(this.loc, this.batchShape));
  }

  get mode(): Tensor {
    return this.mean;
  }

  /** scale^2. */
  get variance(): Tensor {
    return tf.tidy(() => tf.broadcastTo(tf.square(this.scale), this.batchShape));
  }

  /** scale, broadcast to `batchShape`. */
  get stddev(): Tensor {
    return tf.tidy(() => tf.broadcastTo(this.scale, this.batchShape));
  }
}
