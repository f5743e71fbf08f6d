/**
 * Continuous relaxations of discrete distributions: the Concrete / Gumbel-Softmax distribution
 * (Maddison, Mnih & Teh 2017; Jang, Gu & Poole 2017) on the simplex and in log space, and the
 * Binary Concrete on (0, 1) and in logit space. Densities follow torch.distributions.
 */
import {
  clampedUniform,
  gumbelNoise,
  logSoftmax,
  logSumExp,
  softplus,
  stopGradient,
} from '../numerics.js';
import { tf } from '../tf.js';
import {
  BaseDistribution,
  type BinaryParams,
  broadcastShapes,
  type CategoricalParams,
  checkPositive,
  type DistributionOptions,
  noClosedForm,
  type ParamLike,
  type SampleOptions,
} from './distribution.js';
import { clampST, EPS32, expandLast, lgammaInt } from './util.js';

type Tensor = tf.Tensor;

const SAMPLE_HINT = 'estimate it from samples';

/**
 * The ExpConcrete distribution: the log of a Concrete (RelaxedOneHotCategorical) sample,
 * `y = logSoftmax((logits + g) / temperature)`, g standard Gumbel. It lives in log space, so it
 * stays exact at low temperature, where the Concrete sample's small components underflow to 0.
 * Event shape [K]. `logProb(y)` is the density of y (torch's ExpRelaxedCategorical):
 * lgamma(K) + (K-1) log t + sum_k (l_k - t y_k) - K logsumexp(l - t y).
 *
 * @example
 * ```ts
 * import { ExpRelaxedOneHotCategorical, Rng, tf } from '@dgm-js/core-tensors';
 * const d = new ExpRelaxedOneHotCategorical(0.1, { logits: tf.tensor1d([1, 2, 0]) });
 * const y = d.rsample({ rng: new Rng(0) }); // log of a point on the simplex
 * d.logProb(y).print();
 * ```
 */
export class ExpRelaxedOneHotCategorical extends BaseDistribution {
  override readonly hasRsample = true;
  /** Normalized log-probabilities [...batch, K]. */
  readonly logits: Tensor;
  /** Probabilities [...batch, K]. */
  readonly probs: Tensor;
  /** Temperature (> 0), broadcastable with the batch shape. */
  readonly temperature: Tensor;
  /** Number of categories K. */
  readonly numCategories: number;

  /**
   * @param temperature > 0; small values approach one-hot samples, large ones the uniform point
   * @param params logits or probs [...batch, K] (finite logits, positive probs)
   */
  constructor(temperature: ParamLike, params: CategoricalParams, opts: DistributionOptions = {}) {
    super('ExpRelaxedOneHotCategorical', opts);
    this.temperature = this.param(temperature, 'temperature');
    [this.logits, this.probs] = this.categoricalParams(params, true);
    this.numCategories = this.logits.shape[this.logits.rank - 1] as number;
    this.build(() => {
      if (this.validate) checkPositive(this.temperature, `${this.name}: temperature`);
      const batch = broadcastShapes(
        this.logits.shape.slice(0, -1),
        this.temperature.shape,
        `${this.name}(temperature, logits)`,
      );
      this.setShapes(batch, [this.numCategories]);
    });
  }

  override rsample(opts: SampleOptions): Tensor {
    const shape = this.extendedShape(this.sampleShapeOf(opts, 'rsample'));
    return tf.tidy(() => {
      const gumbel = gumbelNoise(shape, opts.rng);
      return logSoftmax(tf.div(tf.add(this.logits, gumbel), expandLast(this.temperature)));
    });
  }

  sample(opts: SampleOptions): Tensor {
    return tf.tidy(() => stopGradient(this.rsample(opts)));
  }

  logProb(y: Tensor): Tensor {
    this.checkValue(y, 'logProb', 'y');
    const k = this.numCategories;
    return tf.tidy(() => {
      const score = tf.sub(this.logits, tf.mul(expandLast(this.temperature), y));
      const s = tf.sub(tf.sum(score, -1), tf.mul(k, logSumExp(score, -1)));
      return tf.add(s, tf.add(tf.mul(k - 1, tf.log(this.temperature)), lgammaInt(k)));
    });
  }

  entropy(): Tensor {
    throw noClosedForm(`${this.name}.entropy`, `${SAMPLE_HINT}: -mean(logProb(sample))`);
  }

  get mean(): Tensor {
    throw noClosedForm(`${this.name}.mean`, SAMPLE_HINT);
  }

  get mode(): Tensor {
    throw noClosedForm(`${this.name}.mode`, SAMPLE_HINT);
  }
}

/**
 * The Concrete / Gumbel-Softmax distribution on the simplex (Maddison et al. 2017, Jang et al.
 * 2017): `x = softmax((logits + g) / temperature)`, g standard Gumbel. Reparameterized; as the
 * temperature goes to 0 samples approach one-hot vectors (distributed as Categorical(probs)),
 * as it grows they approach the uniform point 1/K. Samples are computed in log space and
 * clamped to [eps, 1 - eps] (eps = 1.19e-7, as torch) with a straight-through gradient, so
 * `logProb(rsample)` and its gradients stay finite at any temperature. Event shape [K].
 *
 * @example
 * ```ts
 * import { RelaxedOneHotCategorical, Rng, tf } from '@dgm-js/core-tensors';
 * const q = new RelaxedOneHotCategorical(0.5, { logits: tf.zeros([20, 10]) });
 * const x = q.rsample({ rng: new Rng(0) }); // [20, 10], rows on the simplex
 * ```
 */
export class RelaxedOneHotCategorical extends BaseDistribution {
  override readonly hasRsample = true;
  /** The log-space distribution of `log x`. */
  readonly base: ExpRelaxedOneHotCategorical;

  constructor(temperature: ParamLike, params: CategoricalParams, opts: DistributionOptions = {}) {
    super('RelaxedOneHotCategorical', opts);
    this.base = new ExpRelaxedOneHotCategorical(temperature, params, opts);
    this.setShapes(this.base.batchShape, this.base.eventShape);
  }

  /** Normalized log-probabilities [...batch, K]. */
  get logits(): Tensor {
    return this.base.logits;
  }

  /** Probabilities [...batch, K]. */
  get probs(): Tensor {
    return this.base.probs;
  }

  /** Temperature (> 0). */
  get temperature(): Tensor {
    return this.base.temperature;
  }

  protected override disposeChildren(): void {
    this.base.dispose();
  }

  override rsample(opts: SampleOptions): Tensor {
    this.sampleShapeOf(opts, 'rsample');
    return tf.tidy(() => clampST(tf.exp(this.base.rsample(opts)), EPS32, 1 - EPS32));
  }

  sample(opts: SampleOptions): Tensor {
    return tf.tidy(() => stopGradient(this.rsample(opts)));
  }

  /** Density of x on the simplex: ExpRelaxed logProb(log x) - sum log x. */
  logProb(x: Tensor): Tensor {
    this.checkValue(x);
    return tf.tidy(() => {
      const y = tf.log(x);
      return tf.sub(this.base.logProb(y), tf.sum(y, -1));
    });
  }

  entropy(): Tensor {
    throw noClosedForm(`${this.name}.entropy`, `${SAMPLE_HINT}: -mean(logProb(sample))`);
  }

  get mean(): Tensor {
    throw noClosedForm(`${this.name}.mean`, SAMPLE_HINT);
  }

  get mode(): Tensor {
    throw noClosedForm(`${this.name}.mode`, SAMPLE_HINT);
  }
}

/**
 * The logit of a Binary Concrete (RelaxedBernoulli) variable: `y = (logits + L) / temperature`,
 * L standard logistic noise. Exact at any temperature (no squashing). Density as torch's
 * LogitRelaxedBernoulli: log t + (l - t y) - 2 softplus(l - t y).
 *
 * @example
 * ```ts
 * import { LogitRelaxedBernoulli, Rng, tf } from '@dgm-js/core-tensors';
 * const d = new LogitRelaxedBernoulli(0.5, { logits: tf.tensor1d([-1, 2]) });
 * const y = d.rsample({ rng: new Rng(0) }); // sigmoid(y) is a relaxed Bernoulli sample
 * ```
 */
export class LogitRelaxedBernoulli extends BaseDistribution {
  override readonly hasRsample = true;
  /** Log-odds. */
  readonly logits: Tensor;
  /** sigmoid(logits). */
  readonly probs: Tensor;
  /** Temperature (> 0). */
  readonly temperature: Tensor;

  constructor(temperature: ParamLike, params: BinaryParams, opts: DistributionOptions = {}) {
    super('LogitRelaxedBernoulli', opts);
    this.temperature = this.param(temperature, 'temperature');
    [this.logits, this.probs] = this.binaryParams(params);
    this.build(() => {
      if (this.validate) checkPositive(this.temperature, `${this.name}: temperature`);
      this.setShapes(
        broadcastShapes(
          this.logits.shape,
          this.temperature.shape,
          `${this.name}(temperature, logits)`,
        ),
        [],
      );
    });
  }

  override rsample(opts: SampleOptions): Tensor {
    const shape = this.extendedShape(this.sampleShapeOf(opts, 'rsample'));
    return tf.tidy(() => {
      const u = clampedUniform(shape, opts.rng);
      const noise = tf.sub(tf.log(u), tf.log1p(tf.neg(u)));
      return tf.div(tf.add(this.logits, noise), this.temperature);
    });
  }

  sample(opts: SampleOptions): Tensor {
    return tf.tidy(() => stopGradient(this.rsample(opts)));
  }

  logProb(y: Tensor): Tensor {
    this.checkValue(y, 'logProb', 'y');
    return tf.tidy(() => {
      const diff = tf.sub(this.logits, tf.mul(this.temperature, y));
      return tf.add(tf.log(this.temperature), tf.sub(diff, tf.mul(2, softplus(diff))));
    });
  }

  entropy(): Tensor {
    throw noClosedForm(`${this.name}.entropy`, `${SAMPLE_HINT}: -mean(logProb(sample))`);
  }

  get mean(): Tensor {
    throw noClosedForm(`${this.name}.mean`, SAMPLE_HINT);
  }

  get mode(): Tensor {
    throw noClosedForm(`${this.name}.mode`, SAMPLE_HINT);
  }
}

/**
 * The Binary Concrete distribution on (0, 1) (Maddison et al. 2017): `x = sigmoid((logits + L) /
 * temperature)`, L standard logistic noise: a reparameterized relaxation of Bernoulli(probs).
 * Samples are clamped to [eps, 1 - eps] with a straight-through gradient, so `logProb(rsample)`
 * stays finite at any temperature.
 *
 * @example
 * ```ts
 * import { RelaxedBernoulli, Rng, tf } from '@dgm-js/core-tensors';
 * const q = new RelaxedBernoulli(0.5, { probs: tf.tensor1d([0.1, 0.9]) });
 * const x = q.rsample({ sampleShape: [3], rng: new Rng(0) }); // [3, 2] in (0, 1)
 * ```
 */
export class RelaxedBernoulli extends BaseDistribution {
  override readonly hasRsample = true;
  /** The distribution of logit(x). */
  readonly base: LogitRelaxedBernoulli;

  constructor(temperature: ParamLike, params: BinaryParams, opts: DistributionOptions = {}) {
    super('RelaxedBernoulli', opts);
    this.base = new LogitRelaxedBernoulli(temperature, params, opts);
    this.setShapes(this.base.batchShape, []);
  }

  /** Log-odds. */
  get logits(): Tensor {
    return this.base.logits;
  }

  /** sigmoid(logits). */
  get probs(): Tensor {
    return this.base.probs;
  }

  /** Temperature (> 0). */
  get temperature(): Tensor {
    return this.base.temperature;
  }

  protected override disposeChildren(): void {
    this.base.dispose();
  }

  override rsample(opts: SampleOptions): Tensor {
    this.sampleShapeOf(opts, 'rsample');
    return tf.tidy(() => clampST(tf.sigmoid(this.base.rsample(opts)), EPS32, 1 - EPS32));
  }

  sample(opts: SampleOptions): Tensor {
    return tf.tidy(() => stopGradient(this.rsample(opts)));
  }

  /** LogitRelaxedBernoulli logProb(logit x) - log x - log(1 - x). */
  logProb(x: Tensor): Tensor {
    this.checkValue(x);
    return tf.tidy(() => {
      const logX = tf.log(x);
      const log1mX = tf.log1p(tf.neg(x));
      return tf.sub(this.base.logProb(tf.sub(logX, log1mX)), tf.add(logX, log1mX));
    });
  }

  entropy(): Tensor {
    throw noClosedForm(`${this.name}.entropy`, `${SAMPLE_HINT}: -mean(logProb(sample))`);
  }

  get mean(): Tensor {
    throw noClosedForm(`${this.name}.mean`, SAMPLE_HINT);
  }

  get mode(): Tensor {
    throw noClosedForm(`${this.name}.mode`, SAMPLE_HINT);
  }
}
