/**
 * Transforms for images: the logit transform (Dinh et al. 2017; Papamakarios et al. 2017) and
 * uniform dequantisation. Bits/dim: `bitsPerDim(nll, dims, { levels: 256 })` of core-tensors.
 */
import { logSigmoid, type Rng, tf, ValueError } from '@dgm-js/core-tensors';
import {
  BaseBijector,
  checkDomain,
  checkInput,
  type ForwardResult,
  type InverseResult,
  sumNonBatch,
} from './bijector.js';

type Tensor = tf.Tensor;

/** Options of {@link LogitTransform}. */
export interface LogitTransformOptions {
  /**
   * Squeezes [0, 1] into [alpha, 1 - alpha] before the logit, so pixel values 0 and 1 stay
   * finite: 1e-6 for MNIST (MAF), 0.05 for CIFAR-10 (RealNVP). Default 1e-6.
   */
  alpha?: number;
  /** Check that `inverse` inputs lie in the domain (reads them back). Default true. */
  validate?: boolean;
}

/**
 * Elementwise: data x in [0, 1] <-> logit space. `inverse(x)` = logit(alpha + (1 - 2 alpha) x),
 * the density direction; `forward(z)` = (sigmoid(z) - alpha) / (1 - 2 alpha). Works on any
 * `[N, ...]` input (log-determinants sum over all but the first axis). An input outside the
 * domain of `inverse` (beyond [0, 1] by more than the alpha margin, or NaN) throws a
 * `DomainError` naming the element.
 *
 * @example
 * ```ts
 * const logit = new LogitTransform({ alpha: 1e-6 });
 * const { x: z, logDetJ } = logit.inverse(dequantizedImages); // [N, 784] in logit space
 * ```
 */
export class LogitTransform extends BaseBijector {
  readonly alpha: number;
  readonly validate: boolean;

  constructor(opts: LogitTransformOptions = {}) {
    super('LogitTransform');
    const alpha = opts.alpha ?? 1e-6;
    if (!(alpha >= 0 && alpha < 0.5)) {
      throw new ValueError(`LogitTransform: alpha must be in [0, 0.5), got ${alpha}.`);
    }
    this.alpha = alpha;
    this.validate = opts.validate ?? true;
  }

  forward(z: Tensor): ForwardResult {
    checkInput(z, undefined, `${this.label}.forward`, 'x', true);
    const a = this.alpha;
    return tf.tidy(() => {
      const y = tf.div(tf.sub(tf.sigmoid(z), a), 1 - 2 * a);
      const per = tf.add(logSigmoid(z), logSigmoid(tf.neg(z)));
      const logDetJ = tf.sub(
        sumNonBatch(per),
        (z.size / (z.shape[0] as number)) * Math.log(1 - 2 * a),
      );
      return { y, logDetJ };
    });
  }

  inverse(x: Tensor): InverseResult {
    const who = `${this.label}.inverse`;
    checkInput(x, undefined, who, 'y', true);
    const a = this.alpha;
    const lo = -a / (1 - 2 * a);
    const hi = (1 - a) / (1 - 2 * a);
    if (this.validate) {
      checkDomain(
        x,
        (v) => v > lo && v < hi,
        who,
        a > 0
          ? `must lie in [0, 1] (strictly inside (${lo.toPrecision(3)}, ${hi.toPrecision(6)}))`
          : 'must lie strictly inside (0, 1)',
        'Scale pixel data to [0, 1] and dequantize it (dequantize()); use alpha > 0 for exact 0s and 1s.',
      );
    }
    return tf.tidy(() => {
      const s = tf.add(a, tf.mul(1 - 2 * a, x));
      const logS = tf.log(s);
      const log1mS = tf.log1p(tf.neg(s));
      const z = tf.sub(logS, log1mS);
      const d = x.size / (x.shape[0] as number);
      const logDetJ = tf.sub(d * Math.log(1 - 2 * a), sumNonBatch(tf.add(logS, log1mS)));
      return { x: z, logDetJ };
    });
  }
}

/** Options of {@link dequantize}. */
export interface DequantizeOptions {
  rng: Rng;
  /** Number of discrete levels. Default 256. */
  levels?: number;
  /**
   * 'unit' (default): x holds k / (levels - 1) in [0, 1] (as the MNIST loaders give);
   * 'integer': x holds k in {0, ..., levels - 1}.
   */
  input?: 'unit' | 'integer';
}

/**
 * Uniform dequantisation: y = (k + u) / levels with u ~ U[0, 1), a continuous value in [0, 1)
 * whose density lower-bounds the discrete model's likelihood (Theis et al. 2016). Returns a new
 * tensor shaped like `x`. Report the result in bits/dim with `bitsPerDim(nll, dims, { levels })`
 * of `@dgm-js/core-tensors` (the same `levels`).
 *
 * @example
 * ```ts
 * const y = dequantize(mnistBatch, { rng: new Rng(0) }); // [N, 784] in [0, 1)
 * ```
 */
export function dequantize(x: Tensor, opts: DequantizeOptions): Tensor {
  const levels = opts.levels ?? 256;
  if (!(Number.isInteger(levels) && levels >= 2)) {
    throw new ValueError(`dequantize: levels must be an integer >= 2, got ${levels}.`);
  }
  if (!opts.rng)
    throw new ValueError('dequantize: pass the random stream, e.g. { rng: new Rng(0) }.');
  return tf.tidy(() => {
    const k = opts.input === 'integer' ? tf.cast(x, 'float32') : tf.round(tf.mul(x, levels - 1));
    const u = tf.randomUniform(x.shape, 0, 1, 'float32', opts.rng.next());
    // keep y < 1 in float32 (u can round up to 1 after the add)
    return tf.minimum(tf.div(tf.add(k, u), levels), 1 - 1 / (levels * 1024));
  });
}
