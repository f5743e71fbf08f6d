import { sigmoidCrossEntropyWithLogits } from '../losses.js';
import { softplus } from '../numerics.js';
import { tf } from '../tf.js';
import {
  BaseDistribution,
  type BinaryParams,
  checkUnit,
  type DistributionOptions,
  type SampleOptions,
} from './distribution.js';
import { noGrad } from './util.js';

type Tensor = tf.Tensor;

/**
 * The Bernoulli distribution over {0, 1}, elementwise, from `logits` (log-odds) or `probs`.
 * `logProb(x) = x * logits - softplus(logits)` is finite for logits of any size (and accepts x
 * in [0, 1], where it is the negative binary cross-entropy). Samples are float32 0/1.
 *
 * @example
 * ```ts
 * import { Bernoulli, Rng, tf } from '@dgm-js/core-tensors';
 * const b = new Bernoulli({ logits: tf.tensor1d([-2, 0, 3]) });
 * const x = b.sample({ sampleShape: [4], rng: new Rng(0) }); // [4, 3] of 0/1
 * b.logProb(x); // [4, 3]
 * ```
 */
export class Bernoulli extends BaseDistribution {
  /** Log-odds (given, or derived from clamped probs). */
  readonly logits: Tensor;
  /** P(x = 1) (given, or sigmoid(logits)). */
  readonly probs: Tensor;

  constructor(params: BinaryParams, opts: DistributionOptions = {}) {
    super('Bernoulli', opts);
    const [logits, probs] = this.binaryParams(params);
    this.logits = logits;
    this.probs = probs;
    this.setShapes(logits.shape, []);
  }

  sample(opts: SampleOptions): Tensor {
    const shape = this.extendedShape(this.sampleShapeOf(opts, 'sample'));
    return tf.tidy(() => {
      const u = tf.randomUniform(shape, 0, 1, 'float32', opts.rng.next());
      return tf.cast(
        noGrad((a, p) => tf.less(a, p), u, this.probs),
        'float32',
      );
    });
  }

  logProb(x: Tensor): Tensor {
    this.checkValue(x);
    if (this.validate) checkUnit(x, 'Bernoulli.logProb: x');
    // One fused kernel (and one for its gradient) with the native kernels when shapes match.
    return tf.tidy(() => tf.neg(sigmoidCrossEntropyWithLogits(x, this.logits)));
  }

  /** softplus(logits) - probs * logits. */
  entropy(): Tensor {
    return tf.tidy(() => tf.sub(softplus(this.logits), tf.mul(this.probs, this.logits)));
  }

  get mean(): Tensor {
    return tf.clone(this.probs);
  }

  /** 1 where probs > 0.5, else 0 (ties go to 0). */
  get mode(): Tensor {
    return tf.tidy(() =>
      tf.cast(
        noGrad((p) => tf.greater(p, 0.5), this.probs),
        'float32',
      ),
    );
  }

  /** probs (1 - probs). */
  get variance(): Tensor {
    return tf.tidy(() => tf.mul(this.probs, tf.sub(1, this.probs)));
  }
}
