/**
 * ActNorm (Kingma and Dhariwal 2018, Glow): a per-channel affine map with data-dependent
 * initialisation.
 */
import { checkInt, tf } from '@dgm-js/core-tensors';
import {
  BaseBijector,
  broadcast,
  checkInput,
  type ForwardResult,
  type InverseResult,
} from './bijector.js';

type Tensor = tf.Tensor;

/** Options of {@link ActNorm}. */
export interface ActNormOptions {
  /**
   * Initialise from the first batch seen (default true): the first call, in either direction,
   * sets the parameters so that its output has zero mean and unit variance per channel.
   */
  dataInit?: boolean;
  /** Added to the standard deviation at initialisation. Default 1e-6. */
  eps?: number;
}

/** Positions per example that share a channel's parameters (the product of the middle axes). */
function positions(x: Tensor): number {
  let p = 1;
  for (let i = 1; i < x.rank - 1; i++) p *= x.shape[i] as number;
  return p;
}

/**
 * y = x * exp(logScale) + loc per channel (the last axis), for inputs `[N, C]` or
 * `[N, ..., C]` (images NHWC: the same parameters at every pixel, logDetJ = H W sum(logScale)).
 *
 * Data-dependent initialisation: the first `forward` or `inverse` call sets `loc` and
 * `logScale` so that the output of that call is standardised per channel. Whether that has
 * happened is a buffer (`initialized`), saved and restored with the state, so a loaded model is
 * not re-initialised; `initialize(x, direction)` does it explicitly.
 *
 * @example
 * ```ts
 * const an = new ActNorm(2);
 * const { x } = an.inverse(data); // first call: x has mean 0, std 1 per channel
 * an.isInitialized;               // true
 * ```
 */
export class ActNorm extends BaseBijector {
  readonly channels: number;
  readonly loc: tf.Variable;
  readonly logScale: tf.Variable;
  private readonly flag: tf.Variable;
  private readonly dataInit: boolean;
  private readonly eps: number;
  private cache: { dataId: object; value: boolean } | undefined;

  constructor(channels: number, opts: ActNormOptions = {}) {
    super('ActNorm');
    checkInt(channels, 'channels', 'ActNorm');
    this.channels = channels;
    this.dataInit = opts.dataInit ?? true;
    this.eps = opts.eps ?? 1e-6;
    this.loc = this.addParameter('loc', tf.zeros([channels]));
    this.logScale = this.addParameter('logScale', tf.zeros([channels]));
    this.flag = this.addBuffer('initialized', tf.scalar(this.dataInit ? 0 : 1));
  }

  /**
   * Whether the data-dependent initialisation has run (or was loaded, or `dataInit` is false).
   * Reads the buffer back only when it changed (a `setState` or `loadModule` replaces it).
   */
  get isInitialized(): boolean {
    const id = this.flag.dataId as object;
    if (!this.cache || this.cache.dataId !== id) {
      this.cache = { dataId: id, value: (this.flag.dataSync()[0] as number) > 0 };
    }
    return this.cache.value;
  }

  /**
   * Sets the parameters from a batch so the output of `direction` on that batch is
   * standardised per channel, and marks the layer initialised.
   *
   * @example
   * ```ts
   * an.initialize(dataBatch, 'inverse');
   * ```
   */
  initialize(input: Tensor, direction: 'forward' | 'inverse'): void {
    checkInput(input, this.channels, `${this.label}.initialize`, 'input', true);
    tf.tidy(() => {
      const flat = tf.reshape(input, [-1, this.channels]);
      const { mean, variance } = tf.moments(flat, 0);
      const logStd = tf.log(tf.add(tf.sqrt(variance), this.eps));
      if (direction === 'inverse') {
        // x = (y - loc) exp(-logScale) standardised: loc = mean, logScale = log std
        this.loc.assign(mean);
        this.logScale.assign(logStd);
      } else {
        // y = x exp(logScale) + loc standardised: logScale = -log std, loc = -mean / std
        this.logScale.assign(tf.neg(logStd));
        this.loc.assign(tf.neg(tf.mul(mean, tf.exp(tf.neg(logStd)))));
      }
      this.flag.assign(tf.scalar(1));
    });
  }

  private maybeInit(input: Tensor, direction: 'forward' | 'inverse'): void {
    if (!this.isInitialized) this.initialize(input, direction);
  }

  private logDet(x: Tensor, sign: 1 | -1): Tensor {
    const n = x.shape[0] as number;
    const s = tf.mul(tf.sum(this.logScale), sign * positions(x));
    return broadcast(s, [n]);
  }

  forward(x: Tensor): ForwardResult {
    checkInput(x, this.channels, `${this.label}.forward`, 'x', true);
    this.maybeInit(x, 'forward');
    return tf.tidy(() => ({
      y: tf.add(tf.mul(x, tf.exp(this.logScale)), this.loc),
      logDetJ: this.logDet(x, 1),
    }));
  }

  inverse(y: Tensor): InverseResult {
    checkInput(y, this.channels, `${this.label}.inverse`, 'y', true);
    this.maybeInit(y, 'inverse');
    return tf.tidy(() => ({
      x: tf.mul(tf.sub(y, this.loc), tf.exp(tf.neg(this.logScale))),
      logDetJ: this.logDet(y, -1),
    }));
  }
}
