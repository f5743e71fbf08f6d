/**
 * Continuous relaxations of discrete distributions: the Concrete / Gumbel-Softmax distribution
 * (Maddison, Mnih & Teh 2017; Jang, Gu & Poole 2017) on the simplex and in log space, and the
 * Binary Concrete on (0, 1) and in logit space. Densities follow torch.distributions.
 *
 * Which are transformed distributions, and why:
 * - `LogitRelaxedBernoulli` is the standard logistic pushed through y = (x + logits) / t: its
 *   change-of-variables density is term for term the closed form (logits - t y feeds the
 *   logistic log-density, log t is the log-determinant), so it needs no override.
 * - `RelaxedBernoulli` = sigmoid of `LogitRelaxedBernoulli`, `RelaxedOneHotCategorical` = exp
 *   of `ExpRelaxedOneHotCategorical`: the transform's log-determinants (-log x - log(1 - x),
 *   -sum log x) are exactly torch's formulas. Their samples are clamped to [eps, 1 - eps] with
 *   a straight-through gradient (so `logProb(rsample)` stays finite); the base stays in log /
 *   logit space, where it is exact at any temperature.
 * - `ExpRelaxedOneHotCategorical` keeps its closed form: y = logSoftmax((logits + g) / t) maps K
 *   Gumbel variables onto a (K-1)-dimensional set, which no bijector does.
 */
import { gumbelNoise, logSoftmax, logSumExp, stopGradient } from '../numerics.js';
import { tf } from '../tf.js';
import { Affine, type ElementwiseBijector, Exp, Invert, Sigmoid } from './bijectors.js';
import {
  BaseDistribution,
  type BinaryParams,
  broadcastShapes,
  type CategoricalParams,
  checkPositive,
  type Distribution,
  type DistributionOptions,
  noClosedForm,
  type ParamLike,
  type SampleOptions,
} from './distribution.js';
import { STANDARD_LOGISTIC, Standardized } from './location-scale.js';
import { deferred, type SampleWithLogProb, TransformedDistribution } from './transformed.js';
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
 * The logit of a Binary Concrete (RelaxedBernoulli) variable: `y = (logits + L) / temperature`,
 * L standard logistic noise. Exact at any temperature (no squashing). A `TransformedDistribution`
 * of the standard logistic under the inverse of `Affine(-logits, temperature)`, whose density is
 * torch's LogitRelaxedBernoulli: log t + (l - t y) - 2 softplus(l - t y).
 *
 * @example
 * ```ts
 * import { LogitRelaxedBernoulli, Rng, tf } from '@dgm-js/core-tensors';
 * const d = new LogitRelaxedBernoulli(0.5, { logits: tf.tensor1d([-1, 2]) });
 * const y = d.rsample({ rng: new Rng(0) }); // sigmoid(y) is a relaxed Bernoulli sample
 * ```
 */
export class LogitRelaxedBernoulli extends TransformedDistribution<Standardized, Invert> {
  /** Log-odds. */
  readonly logits: Tensor;
  /** sigmoid(logits). */
  readonly probs: Tensor;
  /** Temperature (> 0). */
  readonly temperature: Tensor;

  /**
   * @param temperature > 0
   * @param params logits or probs, broadcastable with the temperature
   */
  constructor(temperature: ParamLike, params: BinaryParams, opts: DistributionOptions = {}) {
    super(deferred(), deferred(), { ...opts, name: 'LogitRelaxedBernoulli', ownsBijector: true });
    this.temperature = this.param(temperature, 'temperature');
    [this.logits, this.probs] = this.binaryParams(params);
    this.build(() => {
      if (this.validate) checkPositive(this.temperature, `${this.name}: temperature`);
      const batch = broadcastShapes(
        this.logits.shape,
        this.temperature.shape,
        `${this.name}(temperature, logits)`,
      );
      // forward x -> (x - (-logits)) / t = (x + logits) / t; inverse y -> t y - logits, log t.
      const negLogits = this.own(tf.neg(this.logits));
      const affine = new Affine(negLogits, this.temperature, { validate: false, name: this.name });
      this.init(new Standardized(STANDARD_LOGISTIC, batch), new Invert(affine));
    });
  }
}

/** What the relaxed distributions on the simplex / (0, 1) share: a log-space base with parameters. */
interface RelaxedBase extends Distribution {
  readonly logits: Tensor;
  readonly probs: Tensor;
  readonly temperature: Tensor;
}

/**
 * A relaxed distribution as the exp / sigmoid of its log-space base, with samples clamped to
 * [eps, 1 - eps] (eps = 1.19e-7, as torch) and a straight-through gradient.
 */
abstract class ClampedRelaxed<B extends RelaxedBase> extends TransformedDistribution<
  B,
  ElementwiseBijector
> {
  /** Normalized log-probabilities (categorical) or log-odds (binary). */
  get logits(): Tensor {
    return this.base.logits;
  }

  /** Probabilities. */
  get probs(): Tensor {
    return this.base.probs;
  }

  /** Temperature (> 0). */
  get temperature(): Tensor {
    return this.base.temperature;
  }

  private clamped(opts: SampleOptions, method: string): Tensor {
    this.sampleShapeOf(opts, method);
    return tf.tidy(() => clampST(super.rsample(opts), EPS32, 1 - EPS32));
  }

  override rsample(opts: SampleOptions): Tensor {
    return this.clamped(opts, 'rsample');
  }

  override sample(opts: SampleOptions): Tensor {
    return tf.tidy(() => stopGradient(this.clamped(opts, 'sample')));
  }

  /** The clamped `rsample` and the log-density of that (clamped) value. */
  override rsampleWithLogProb(opts: SampleOptions): SampleWithLogProb {
    return tf.tidy(() => {
      const x = this.clamped(opts, 'rsampleWithLogProb');
      return { x, logProb: this.logProb(x) };
    });
  }
}

/**
 * The Concrete / Gumbel-Softmax distribution on the simplex (Maddison et al. 2017, Jang et al.
 * 2017): `x = softmax((logits + g) / temperature)`, g standard Gumbel. Reparameterized; as the
 * temperature goes to 0 samples approach one-hot vectors (distributed as Categorical(probs)),
 * as it grows they approach the uniform point 1/K. The `Exp` of an
 * {@link ExpRelaxedOneHotCategorical} (`base`): samples are computed in log space and clamped
 * to [eps, 1 - eps] (eps = 1.19e-7, as torch) with a straight-through gradient, so
 * `logProb(rsample)` and its gradients stay finite at any temperature. Event shape [K].
 *
 * @example
 * ```ts
 * import { RelaxedOneHotCategorical, Rng, tf } from '@dgm-js/core-tensors';
 * const q = new RelaxedOneHotCategorical(0.5, { logits: tf.zeros([20, 10]) });
 * const x = q.rsample({ rng: new Rng(0) }); // [20, 10], rows on the simplex
 * ```
 */
export class RelaxedOneHotCategorical extends ClampedRelaxed<ExpRelaxedOneHotCategorical> {
  constructor(temperature: ParamLike, params: CategoricalParams, opts: DistributionOptions = {}) {
    super(new ExpRelaxedOneHotCategorical(temperature, params, opts), new Exp(), {
      ...opts,
      name: 'RelaxedOneHotCategorical',
      ownsBijector: true,
    });
  }
}

/**
 * The Binary Concrete distribution on (0, 1) (Maddison et al. 2017): `x = sigmoid((logits + L) /
 * temperature)`, L standard logistic noise: a reparameterized relaxation of Bernoulli(probs).
 * The `Sigmoid` of a {@link LogitRelaxedBernoulli} (`base`); samples are clamped to
 * [eps, 1 - eps] with a straight-through gradient, so `logProb(rsample)` stays finite at any
 * temperature.
 *
 * @example
 * ```ts
 * import { RelaxedBernoulli, Rng, tf } from '@dgm-js/core-tensors';
 * const q = new RelaxedBernoulli(0.5, { probs: tf.tensor1d([0.1, 0.9]) });
 * const x = q.rsample({ sampleShape: [3], rng: new Rng(0) }); // [3, 2] in (0, 1)
 * ```
 */
export class RelaxedBernoulli extends ClampedRelaxed<LogitRelaxedBernoulli> {
  constructor(temperature: ParamLike, params: BinaryParams, opts: DistributionOptions = {}) {
    super(new LogitRelaxedBernoulli(temperature, params, opts), new Sigmoid(), {
      ...opts,
      name: 'RelaxedBernoulli',
      ownsBijector: true,
    });
  }
}
