import { DgmError } from '../errors.js';
import { stopGradient } from '../numerics.js';
import { tf } from '../tf.js';
import {
  BaseDistribution,
  broadcastShapes,
  checkFinite,
  checkUnit,
  checkValues,
  type DistributionOptions,
  type ParamLike,
  type SampleOptions,
} from './distribution.js';
import { noGrad } from './util.js';

type Tensor = tf.Tensor;

/**
 * The continuous uniform distribution on [low, high), elementwise. Reparameterized:
 * `rsample` is `low + (high - low) * u`, u ~ U[0, 1). `logProb` is -Infinity outside the support.
 *
 * @example
 * ```ts
 * import { Rng, Uniform } from '@dgm-js/core-tensors';
 * const u = new Uniform(-1, 1);
 * const x = u.rsample({ sampleShape: [5], rng: new Rng(0) }); // [5]
 * u.logProb(x).print(); // log(1/2) each
 * ```
 */
export class Uniform extends BaseDistribution {
  override readonly hasRsample = true;
  /** Lower end (inclusive). */
  readonly low: Tensor;
  /** Upper end (exclusive), > low. */
  readonly high: Tensor;

  constructor(low: ParamLike, high: ParamLike, opts: DistributionOptions = {}) {
    super('Uniform', opts);
    this.low = this.param(low, 'low');
    this.high = this.param(high, 'high');
    this.build(() => {
      this.setShapes(broadcastShapes(this.low.shape, this.high.shape, 'Uniform(low, high)'), []);
      if (this.validate) {
        checkFinite(this.low, 'Uniform: low');
        checkFinite(this.high, 'Uniform: high');
        const width = tf.sub(this.high, this.low);
        try {
          checkValues(width, (v) => v > 0, 'Uniform: high - low', 'must be > 0 (low < high)');
        } finally {
          width.dispose();
        }
      }
    });
  }

  private draw(opts: SampleOptions, method: string): Tensor {
    const shape = this.extendedShape(this.sampleShapeOf(opts, method));
    return tf.tidy(() => {
      const u = tf.randomUniform(shape, 0, 1, 'float32', opts.rng.next());
      return tf.add(this.low, tf.mul(tf.sub(this.high, this.low), u));
    });
  }

  override rsample(opts: SampleOptions): Tensor {
    return this.draw(opts, 'rsample');
  }

  sample(opts: SampleOptions): Tensor {
    return tf.tidy(() => stopGradient(this.draw(opts, 'sample')));
  }

  logProb(x: Tensor): Tensor {
    const shape = this.checkValue(x);
    return tf.tidy(() => {
      const inside = noGrad(
        (xi, lo, hi) => tf.logicalAnd(tf.greaterEqual(xi, lo), tf.less(xi, hi)),
        x,
        this.low,
        this.high,
      );
      const lp = tf.broadcastTo(tf.neg(tf.log(tf.sub(this.high, this.low))), shape);
      return tf.where(inside, lp, tf.fill(shape, Number.NEGATIVE_INFINITY));
    });
  }

  /** P(X <= x) = clip((x - low) / (high - low), 0, 1). */
  cdf(x: Tensor): Tensor {
    this.checkValue(x, 'cdf');
    return tf.tidy(() =>
      tf.clipByValue(tf.div(tf.sub(x, this.low), tf.sub(this.high, this.low)), 0, 1),
    );
  }

  /** Inverse cdf: low + p (high - low), for p in [0, 1]. */
  icdf(p: Tensor): Tensor {
    this.checkValue(p, 'icdf', 'p');
    if (this.validate) checkUnit(p, 'Uniform.icdf: p');
    return tf.tidy(() => tf.add(this.low, tf.mul(p, tf.sub(this.high, this.low))));
  }

  entropy(): Tensor {
    return tf.tidy(() => tf.broadcastTo(tf.log(tf.sub(this.high, this.low)), this.batchShape));
  }

  get mean(): Tensor {
    return tf.tidy(() => tf.broadcastTo(tf.mul(0.5, tf.add(this.low, this.high)), this.batchShape));
  }

  /** Every point of [low, high) is a mode: throws. Use `mean` for a central point. */
  get mode(): Tensor {
    throw new DgmError(
      'Uniform.mode: every point of [low, high) is a mode, so there is no single one; use mean for a central point.',
    );
  }

  /** (high - low)^2 / 12. */
  get variance(): Tensor {
    return tf.tidy(() =>
      tf.broadcastTo(tf.div(tf.square(tf.sub(this.high, this.low)), 12), this.batchShape),
    );
  }
}
