import { clampedUniform, softplus, stopGradient } from '../numerics.js';
import { tf } from '../tf.js';
import {
  BaseDistribution,
  broadcastShapes,
  checkFinite,
  checkPositive,
  checkUnit,
  type DistributionOptions,
  type ParamLike,
  type SampleOptions,
} from './distribution.js';

type Tensor = tf.Tensor;

/**
 * The logistic distribution with location `loc` and scale `scale`, elementwise: cdf
 * sigmoid((x - loc) / scale). Reparameterized: `rsample` is `loc + scale * logit(u)`, u clamped
 * uniform. Logistic noise is the difference of two Gumbels, the noise of the Binary Concrete.
 *
 * @example
 * ```ts
 * import { Logistic, Rng } from '@dgm-js/core-tensors';
 * const d = new Logistic(0, 1);
 * const x = d.rsample({ sampleShape: [1000], rng: new Rng(0) }); // variance near pi^2/3
 * ```
 */
export class Logistic extends BaseDistribution {
  override readonly hasRsample = true;
  /** Location (mean, median and mode). */
  readonly loc: Tensor;
  /** Scale, > 0. */
  readonly scale: Tensor;

  constructor(loc: ParamLike, scale: ParamLike, opts: DistributionOptions = {}) {
    super('Logistic', opts);
    this.loc = this.param(loc, 'loc');
    this.scale = this.param(scale, 'scale');
    this.build(() => {
      this.setShapes(broadcastShapes(this.loc.shape, this.scale.shape, 'Logistic(loc, scale)'), []);
      if (this.validate) {
        checkFinite(this.loc, 'Logistic: loc');
        checkPositive(this.scale, 'Logistic: scale');
      }
    });
  }

  private draw(opts: SampleOptions, method: string): Tensor {
    const shape = this.extendedShape(this.sampleShapeOf(opts, method));
    return tf.tidy(() => {
      const u = clampedUniform(shape, opts.rng);
      const noise = tf.sub(tf.log(u), tf.log1p(tf.neg(u)));
      return tf.add(this.loc, tf.mul(this.scale, noise));
    });
  }

  override rsample(opts: SampleOptions): Tensor {
    return this.draw(opts, 'rsample');
  }

  sample(opts: SampleOptions): Tensor {
    return tf.tidy(() => stopGradient(this.draw(opts, 'sample')));
  }

  /** -z - 2 softplus(-z) - log scale, z = (x - loc) / scale. */
  logProb(x: Tensor): Tensor {
    this.checkValue(x);
    return tf.tidy(() => {
      const z = tf.div(tf.sub(x, this.loc), this.scale);
      return tf.sub(tf.sub(tf.neg(z), tf.mul(2, softplus(tf.neg(z)))), tf.log(this.scale));
    });
  }

  /** sigmoid((x - loc) / scale). */
  cdf(x: Tensor): Tensor {
    this.checkValue(x, 'cdf');
    return tf.tidy(() => tf.sigmoid(tf.div(tf.sub(x, this.loc), this.scale)));
  }

  /** loc + scale (log p - log(1 - p)), for p in [0, 1]. */
  icdf(p: Tensor): Tensor {
    this.checkValue(p, 'icdf', 'p');
    if (this.validate) checkUnit(p, 'Logistic.icdf: p');
    return tf.tidy(() =>
      tf.add(this.loc, tf.mul(this.scale, tf.sub(tf.log(p), tf.log1p(tf.neg(p))))),
    );
  }

  /** log scale + 2. */
  entropy(): Tensor {
    return tf.tidy(() => tf.broadcastTo(tf.add(tf.log(this.scale), 2), this.batchShape));
  }

  get mean(): Tensor {
    return tf.tidy(() => tf.broadcastTo(this.loc, this.batchShape));
  }

  get mode(): Tensor {
    return this.mean;
  }

  /** scale^2 pi^2 / 3. */
  get variance(): Tensor {
    return tf.tidy(() =>
      tf.broadcastTo(tf.mul(tf.square(this.scale), (Math.PI * Math.PI) / 3), this.batchShape),
    );
  }
}
