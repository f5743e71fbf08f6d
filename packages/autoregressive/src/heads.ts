/**
 * Per-dimension conditionals of the autoregressive models: how a value is fed to the network,
 * its log-probability under the network's output parameters, and how to draw it.
 */
import {
  fmtShape,
  gumbelNoise,
  HALF_LOG_2PI,
  logSoftmax,
  type Rng,
  ShapeError,
  softplus,
  tf,
  ValueError,
} from '@dgm-js/core-tensors';
import { checkFinite, checkLevels } from './density.js';

/** The conditional p(x_d | x_<d) of each dimension, as a MADE or sequence-model head. */
export type HeadSpec =
  | 'bernoulli'
  | 'gaussian'
  | { type: 'bernoulli' }
  | {
      type: 'categorical';
      /** Number of categories K (values 0..K-1). */
      categories: number;
      /**
       * How values enter the network: 'onehot' (K inputs per dimension, default) or 'scaled'
       * (one input per dimension, value / (K - 1)).
       */
      inputEncoding?: 'onehot' | 'scaled';
    }
  | { type: 'gaussian' };

/** A resolved head. */
export interface Head {
  readonly type: 'bernoulli' | 'categorical' | 'gaussian';
  /** Network outputs per dimension: 1 logit, K logits, or (mean, log-scale). */
  readonly paramsPerDim: number;
  /** Network inputs per dimension: K for one-hot categorical values, else 1. */
  readonly inputsPerDim: number;
  /** Number of values for discrete heads (2 or K); undefined for the Gaussian. */
  readonly levels: number | undefined;
  /** The dtype of samples: float32, or int32 for categorical values. */
  readonly sampleDtype: 'float32' | 'int32';
  /** Throws a ValueError when `x` holds values outside the support. */
  validate(x: tf.Tensor, who: string): void;
  /** `x: [..., D]` to the network input `[..., D * inputsPerDim]`. */
  encode(x: tf.Tensor): tf.Tensor;
  /** Elementwise log p(x_d | params_d): `x [..., D]`, params `[..., D, paramsPerDim]` -> `[..., D]`. */
  logProbElements(x: tf.Tensor, params: tf.Tensor): tf.Tensor;
  /** One draw per row from params `[n, paramsPerDim]`: the value `[n]` and its encoding `[n, inputsPerDim]`. */
  draw(params: tf.Tensor, rng: Rng): { value: tf.Tensor; input: tf.Tensor };
}

class BernoulliHead implements Head {
  readonly type = 'bernoulli' as const;
  readonly paramsPerDim = 1;
  readonly inputsPerDim = 1;
  readonly levels = 2;
  readonly sampleDtype = 'float32' as const;
  validate(x: tf.Tensor, who: string): void {
    checkLevels(x, 2, who);
  }
  encode(x: tf.Tensor): tf.Tensor {
    return tf.cast(x, 'float32');
  }
  logProbElements(x: tf.Tensor, params: tf.Tensor): tf.Tensor {
    return tf.tidy(() => {
      const l = tf.squeeze(params, [params.rank - 1]);
      // log Bernoulli(x; sigmoid(l)) = x l - softplus(l)
      return tf.sub(tf.mul(tf.cast(x, 'float32'), l), softplus(l));
    });
  }
  draw(params: tf.Tensor, rng: Rng): { value: tf.Tensor; input: tf.Tensor } {
    return tf.tidy(() => {
      const l = tf.reshape(params, [-1]);
      const u = tf.randomUniform(l.shape, 0, 1, 'float32', rng.next());
      const value = tf.cast(tf.less(u, tf.sigmoid(l)), 'float32');
      return { value, input: tf.reshape(value, [-1, 1]) };
    });
  }
}

class CategoricalHead implements Head {
  readonly type = 'categorical' as const;
  readonly paramsPerDim: number;
  readonly inputsPerDim: number;
  readonly levels: number;
  readonly sampleDtype = 'int32' as const;
  readonly encoding: 'onehot' | 'scaled';
  constructor(categories: number, encoding: 'onehot' | 'scaled') {
    this.levels = categories;
    this.paramsPerDim = categories;
    this.encoding = encoding;
    this.inputsPerDim = encoding === 'onehot' ? categories : 1;
  }
  validate(x: tf.Tensor, who: string): void {
    checkLevels(x, this.levels, who);
  }
  encode(x: tf.Tensor): tf.Tensor {
    return tf.tidy(() => {
      const k = this.levels;
      if (this.encoding === 'scaled') return tf.div(tf.cast(x, 'float32'), k - 1);
      // int32 one-hot then cast (float one-hot is wrong on the wasm backend)
      const oh = tf.cast(tf.oneHot(tf.cast(x, 'int32'), k), 'float32');
      return tf.reshape(oh, [...x.shape.slice(0, -1), (x.shape[x.rank - 1] ?? 1) * k]);
    });
  }
  logProbElements(x: tf.Tensor, params: tf.Tensor): tf.Tensor {
    return tf.tidy(() => {
      const lp = logSoftmax(params, -1);
      const oh = tf.cast(tf.oneHot(tf.cast(x, 'int32'), this.levels), 'float32');
      return tf.sum(tf.mul(lp, oh), -1);
    });
  }
  draw(params: tf.Tensor, rng: Rng): { value: tf.Tensor; input: tf.Tensor } {
    return tf.tidy(() => {
      const value = tf.argMax(tf.add(params, gumbelNoise(params.shape, rng)), -1);
      const input =
        this.encoding === 'onehot'
          ? tf.cast(tf.oneHot(value, this.levels), 'float32')
          : tf.reshape(tf.div(tf.cast(value, 'float32'), this.levels - 1), [-1, 1]);
      return { value: tf.cast(value, 'int32'), input };
    });
  }
}

class GaussianHead implements Head {
  readonly type = 'gaussian' as const;
  readonly paramsPerDim = 2;
  readonly inputsPerDim = 1;
  readonly levels = undefined;
  readonly sampleDtype = 'float32' as const;
  validate(x: tf.Tensor, who: string): void {
    checkFinite(x, who);
  }
  encode(x: tf.Tensor): tf.Tensor {
    return tf.cast(x, 'float32');
  }
  logProbElements(x: tf.Tensor, params: tf.Tensor): tf.Tensor {
    return tf.tidy(() => {
      const [mu, ls] = tf.unstack(params, params.rank - 1) as [tf.Tensor, tf.Tensor];
      const z = tf.mul(tf.sub(tf.cast(x, 'float32'), mu), tf.exp(tf.neg(ls)));
      return tf.sub(tf.sub(tf.mul(tf.square(z), -0.5), ls), HALF_LOG_2PI);
    });
  }
  draw(params: tf.Tensor, rng: Rng): { value: tf.Tensor; input: tf.Tensor } {
    return tf.tidy(() => {
      const [mu, ls] = tf.unstack(params, 1) as [tf.Tensor, tf.Tensor];
      const eps = tf.randomNormal(mu.shape, 0, 1, 'float32', rng.next());
      const value = tf.add(mu, tf.mul(tf.exp(ls), eps));
      return { value, input: tf.reshape(value, [-1, 1]) };
    });
  }
}

/**
 * Resolves a head spec.
 *
 * @example
 * ```ts
 * resolveHead({ type: 'categorical', categories: 4 }).paramsPerDim; // 4
 * ```
 */
export function resolveHead(spec: HeadSpec | undefined, who: string): Head {
  const s = spec ?? 'bernoulli';
  const type = typeof s === 'string' ? s : s?.type;
  if (type === 'bernoulli') return new BernoulliHead();
  if (type === 'gaussian') return new GaussianHead();
  if (typeof s === 'object' && s !== null && s.type === 'categorical') {
    const k = s.categories;
    if (!Number.isInteger(k) || k < 2) {
      throw new ValueError(`${who}: head.categories must be an integer >= 2, got ${k}.`);
    }
    const enc = s.inputEncoding ?? 'onehot';
    if (enc !== 'onehot' && enc !== 'scaled') {
      throw new ValueError(
        `${who}: head.inputEncoding must be 'onehot' or 'scaled', got ${JSON.stringify(enc)}.`,
      );
    }
    return new CategoricalHead(k, enc);
  }
  throw new ValueError(
    `${who}: head must be 'bernoulli', 'gaussian', { type: 'categorical', categories } or { type: 'gaussian' }, got ${JSON.stringify(spec)}.`,
  );
}

/** Throws a ShapeError unless `x` is `[batch, ...eventShape]`. */
export function checkEvent(
  x: tf.Tensor,
  eventShape: readonly number[],
  who: string,
  what = 'x',
): void {
  if (!(x instanceof tf.Tensor)) {
    throw new ValueError(`${who}: ${what} must be a tf.Tensor, got ${typeof x}.`);
  }
  if (x.rank !== eventShape.length + 1 || x.shape.slice(1).join() !== eventShape.join()) {
    throw new ShapeError(
      `${who}: ${what} must have shape [batch, ${eventShape.join(', ')}], got ${fmtShape(x.shape)}.`,
    );
  }
}
