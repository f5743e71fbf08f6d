/**
 * Location-scale families as transformed distributions: X = loc + scale * Z, Z a standardized
 * variable (standard Gumbel, standard logistic). One helper for every family: the base is the
 * standardized variable with the batch shape, the bijector an `Affine(loc, scale)`, and cdf,
 * icdf, entropy, mean, mode and variance follow from the standardized ones.
 *
 * The change-of-variables density is exact here: log p(x) = log p_Z((x - loc) / scale) -
 * log scale, where log p_Z is the closed form of the standard family (no Uniform base is pushed
 * through exp / log transforms, which would round u = exp(-exp(-z)) to 0 or 1 in the tails and
 * give -Infinity).
 */
import { clampedUniform, gumbelNoise, softplus } from '../numerics.js';
import type { Rng } from '../rng.js';
import { tf } from '../tf.js';
import { Affine } from './bijectors.js';
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
import { deferred, TransformedDistribution } from './transformed.js';
import { EULER_GAMMA } from './util.js';

type Tensor = tf.Tensor;

/** The law of a standardized variable Z: its noise, density, cdf, quantile and moments. */
export interface StandardFamily {
  /** The family's name (`'Gumbel'`, `'Logistic'`). */
  readonly name: string;
  /** Draws of Z of the given shape (clamped uniforms inside, so they are finite). */
  noise(shape: number[], rng: Rng): Tensor;
  /** log p_Z(z), elementwise. */
  logProb(z: Tensor): Tensor;
  /** P(Z <= z). */
  cdf(z: Tensor): Tensor;
  /** The quantile of p in [0, 1]. */
  icdf(p: Tensor): Tensor;
  readonly entropy: number;
  readonly mean: number;
  readonly mode: number;
  readonly variance: number;
}

/** Logistic noise log u - log(1 - u), u clamped uniform. */
export function logisticNoise(shape: number[], rng: Rng): Tensor {
  return tf.tidy(() => {
    const u = clampedUniform(shape, rng);
    return tf.sub(tf.log(u), tf.log1p(tf.neg(u)));
  });
}

/** The standard Gumbel: cdf exp(-exp(-z)), log-density -(z + exp(-z)). */
export const STANDARD_GUMBEL: StandardFamily = {
  name: 'Gumbel',
  noise: gumbelNoise,
  logProb: (z) => tf.tidy(() => tf.neg(tf.add(z, tf.exp(tf.neg(z))))),
  cdf: (z) => tf.tidy(() => tf.exp(tf.neg(tf.exp(tf.neg(z))))),
  icdf: (p) => tf.tidy(() => tf.neg(tf.log(tf.neg(tf.log(p))))),
  entropy: EULER_GAMMA + 1,
  mean: EULER_GAMMA,
  mode: 0,
  variance: (Math.PI * Math.PI) / 6,
};

/** The standard logistic: cdf sigmoid(z), log-density -z - 2 softplus(-z). */
export const STANDARD_LOGISTIC: StandardFamily = {
  name: 'Logistic',
  noise: logisticNoise,
  logProb: (z) =>
    tf.tidy(() => {
      const nz = tf.neg(z);
      return tf.sub(nz, tf.mul(2, softplus(nz)));
    }),
  cdf: (z) => tf.sigmoid(z),
  icdf: (p) => tf.tidy(() => tf.sub(tf.log(p), tf.log1p(tf.neg(p)))),
  entropy: 2,
  mean: 0,
  mode: 0,
  variance: (Math.PI * Math.PI) / 3,
};

/**
 * The standardized variable Z of a family with a batch shape (no parameters): the base of a
 * location-scale family. Sampling is reparameterized trivially (no parameters to differentiate).
 */
export class Standardized extends BaseDistribution {
  override readonly hasRsample = true;
  readonly family: StandardFamily;

  constructor(family: StandardFamily, batchShape: readonly number[]) {
    super(`Standard${family.name}`);
    this.family = family;
    this.setShapes(batchShape, []);
  }

  sample(opts: SampleOptions): Tensor {
    return this.family.noise(this.extendedShape(this.sampleShapeOf(opts, 'sample')), opts.rng);
  }

  override rsample(opts: SampleOptions): Tensor {
    return this.family.noise(this.extendedShape(this.sampleShapeOf(opts, 'rsample')), opts.rng);
  }

  logProb(z: Tensor): Tensor {
    const shape = this.checkValue(z);
    return tf.tidy(() => tf.broadcastTo(this.family.logProb(z), shape));
  }

  private constant(v: number): Tensor {
    return tf.fill(this.batchShape, v);
  }

  entropy(): Tensor {
    return this.constant(this.family.entropy);
  }

  get mean(): Tensor {
    return this.constant(this.family.mean);
  }

  get mode(): Tensor {
    return this.constant(this.family.mode);
  }

  get variance(): Tensor {
    return this.constant(this.family.variance);
  }
}

/**
 * A location-scale family X = loc + scale * Z, elementwise, as a `TransformedDistribution` of
 * the standardized Z under `Affine(loc, scale)`; `batchShape` is the broadcast of the parameters'
 * shapes. Reparameterized. Subclasses pick the family (`Gumbel`, `Logistic`).
 *
 * Internal to the distributions module (not exported): `Gumbel` and `Logistic` are its cases.
 *
 * @example
 * ```ts
 * const g = new Gumbel(loc, scale); // = TransformedDistribution(StandardGumbel, Affine(loc, scale))
 * g.base;     // the standard Gumbel with g's batch shape
 * g.bijector; // Affine(loc, scale)
 * ```
 */
export abstract class LocationScale extends TransformedDistribution<Standardized, Affine> {
  /** Location. */
  readonly loc: Tensor;
  /** Scale, > 0. */
  readonly scale: Tensor;

  protected constructor(
    family: StandardFamily,
    loc: ParamLike,
    scale: ParamLike,
    opts: DistributionOptions = {},
  ) {
    const name = family.name;
    super(deferred(), deferred(), { ...opts, name, ownsBijector: true });
    this.loc = this.param(loc, 'loc');
    this.scale = this.param(scale, 'scale');
    this.build(() => {
      const batch = broadcastShapes(this.loc.shape, this.scale.shape, `${name}(loc, scale)`);
      if (this.validate) {
        checkFinite(this.loc, `${name}: loc`);
        checkPositive(this.scale, `${name}: scale`);
      }
      this.init(
        new Standardized(family, batch),
        new Affine(this.loc, this.scale, { validate: false, name }),
      );
    });
  }

  private get family(): StandardFamily {
    return this.base.family;
  }

  /** loc + scale * c, broadcast to the batch shape (loc itself when c = 0). */
  private affine(c: number): Tensor {
    return tf.tidy(() =>
      tf.broadcastTo(c === 0 ? this.loc : tf.add(this.loc, tf.mul(this.scale, c)), this.batchShape),
    );
  }

  /** P(X <= x) = F_Z((x - loc) / scale). */
  cdf(x: Tensor): Tensor {
    this.checkValue(x, 'cdf');
    return tf.tidy(() => this.family.cdf(tf.div(tf.sub(x, this.loc), this.scale)));
  }

  /** Inverse cdf (quantile): loc + scale F_Z^-1(p), for p in [0, 1]. */
  icdf(p: Tensor): Tensor {
    this.checkValue(p, 'icdf', 'p');
    if (this.validate) checkUnit(p, `${this.name}.icdf: p`);
    return tf.tidy(() => tf.add(this.loc, tf.mul(this.scale, this.family.icdf(p))));
  }

  /** log scale + H(Z). */
  override entropy(): Tensor {
    return tf.tidy(() =>
      tf.broadcastTo(tf.add(tf.log(this.scale), this.family.entropy), this.batchShape),
    );
  }

  /** loc + scale E[Z]. */
  override get mean(): Tensor {
    return this.affine(this.family.mean);
  }

  /** loc + scale mode(Z). */
  override get mode(): Tensor {
    return this.affine(this.family.mode);
  }

  /** scale^2 Var(Z). */
  get variance(): Tensor {
    return tf.tidy(() =>
      tf.broadcastTo(tf.mul(tf.square(this.scale), this.family.variance), this.batchShape),
    );
  }
}
