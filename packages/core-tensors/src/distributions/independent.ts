import { fmtShape, ValueError } from '../errors.js';
import { tf } from '../tf.js';
import {
  BaseDistribution,
  type Distribution,
  noClosedForm,
  type SampleOptions,
} from './distribution.js';

type Tensor = tf.Tensor;

/** Sums the last `n` axes of `t` (a copy when n = 0). */
function sumLast(t: Tensor, n: number): Tensor {
  if (n === 0) return tf.clone(t);
  const axes = Array.from({ length: n }, (_, i) => t.rank - n + i);
  return tf.sum(t, axes);
}

/**
 * Reinterprets the last `reinterpretedBatchNdims` batch dimensions of `base` as event
 * dimensions: `logProb` and `entropy` sum over them. `Independent(new Normal(loc, scale), 1)`
 * with loc [B, D] is a diagonal Gaussian over D-vectors with batch shape [B].
 * Owns `base`: `dispose()` disposes it.
 *
 * @example
 * ```ts
 * import { Independent, Normal, tf } from '@dgm-js/core-tensors';
 * const q = new Independent(new Normal(tf.zeros([8, 2]), tf.ones([8, 2])), 1);
 * q.batchShape; // [8]
 * q.eventShape; // [2]
 * q.logProb(tf.zeros([8, 2])).shape; // [8]
 * ```
 */
export class Independent extends BaseDistribution {
  /** The wrapped distribution (owned). */
  readonly base: Distribution;
  /** How many trailing batch dims became event dims. */
  readonly reinterpretedBatchNdims: number;
  override readonly hasRsample: boolean;

  constructor(base: Distribution, reinterpretedBatchNdims: number) {
    super('Independent');
    const b = base.batchShape;
    const n = reinterpretedBatchNdims;
    if (!Number.isInteger(n) || n < 0 || n > b.length) {
      throw new ValueError(
        `Independent: reinterpretedBatchNdims must be an integer in [0, ${b.length}] (the rank of the base batch shape ${fmtShape(b)}), got ${n}.`,
      );
    }
    this.base = base;
    this.reinterpretedBatchNdims = n;
    this.hasRsample = base.hasRsample;
    this.setShapes(b.slice(0, b.length - n), [...b.slice(b.length - n), ...base.eventShape]);
  }

  protected override disposeChildren(): void {
    this.base.dispose();
  }

  sample(opts: SampleOptions): Tensor {
    this.sampleShapeOf(opts, 'sample');
    return this.base.sample(opts);
  }

  override rsample(opts: SampleOptions): Tensor {
    this.sampleShapeOf(opts, 'rsample');
    return this.base.rsample(opts);
  }

  logProb(x: Tensor): Tensor {
    this.checkValue(x);
    return tf.tidy(() => sumLast(this.base.logProb(x), this.reinterpretedBatchNdims));
  }

  entropy(): Tensor {
    return tf.tidy(() => sumLast(this.base.entropy(), this.reinterpretedBatchNdims));
  }

  get mean(): Tensor {
    return this.base.mean;
  }

  get mode(): Tensor {
    return this.base.mode;
  }

  /** The base's variance (throws when the base has none). */
  get variance(): Tensor {
    if (!('variance' in this.base)) {
      throw noClosedForm(
        'Independent.variance: the base distribution has no variance, so it',
        'estimate it from samples',
      );
    }
    return (this.base as { variance: Tensor }).variance;
  }
}
