/**
 * Units of likelihood: the one bits-per-dimension conversion of dgm.js (flows, autoregressive
 * models and eval all use this one, so the name means one thing).
 */
import { ValueError } from './errors.js';
import { tf } from './tf.js';

/** Options of {@link bitsPerDim}. */
export interface BitsPerDimOptions {
  /**
   * Give this when the NLL is that of a continuous density over data rescaled to [0, 1) from
   * `levels` discrete values per dimension (a flow trained on uniformly dequantised images,
   * y = (k + u) / levels): the density of the rescaled data is converted to one of the
   * integer-valued data by adding dims * ln(levels) nats. Leave it out for a discrete model
   * (MADE, PixelCNN: the NLL already is that of the discrete values) and for a density of data
   * in its own units. Integer >= 2 (256 for 8-bit images).
   */
  levels?: number;
}

function checkArgs(dims: number, opts: unknown): number {
  if (!Number.isInteger(dims) || dims < 1) {
    throw new ValueError(
      `bitsPerDim: dims must be a positive integer (values per example, e.g. 784 for MNIST), got ${dims}.`,
    );
  }
  if (opts === undefined) return 0;
  if (typeof opts !== 'object' || opts === null) {
    throw new ValueError(
      `bitsPerDim: the third argument must be an options object such as { levels: 256 }, got ${JSON.stringify(opts)}.`,
    );
  }
  const levels = (opts as BitsPerDimOptions).levels;
  if (levels === undefined) return 0;
  if (!Number.isInteger(levels) || levels < 2) {
    throw new ValueError(
      `bitsPerDim: levels must be an integer >= 2 (discrete values per dimension, 256 for 8-bit data), got ${levels}.`,
    );
  }
  return dims * Math.log(levels);
}

/**
 * Bits per dimension from a negative log-likelihood.
 *
 * The convention, exactly: `nllNats` is a negative log-likelihood in nats per example (one
 * example's, or a mean over examples), `dims` the number of values per example. The result is
 * `(nllNats + dims * ln(levels)) / (dims * ln 2)` when `levels` is given, else
 * `nllNats / (dims * ln 2)`. Without `levels` the map is linear, so it also converts the
 * standard error of a mean NLL. A log-likelihood (higher is better) is negated first:
 * `bitsPerDim(-logLik, dims)`. Accepts a number or a tensor (any shape, elementwise; the result
 * is a new tensor the caller owns).
 *
 * @example
 * ```ts
 * import { bitsPerDim } from '@dgm-js/core-tensors';
 * bitsPerDim(784 * Math.LN2, 784); // 1: a discrete model at 1 bit per pixel
 * bitsPerDim(0, 784, { levels: 256 }); // 8: a flow with density 1 on dequantised [0, 1) pixels
 * bitsPerDim(-meanLogLik, 784, { levels: 256 }); // MNIST bits/dim of a flow
 * ```
 */
export function bitsPerDim(nllNats: number, dims: number, opts?: BitsPerDimOptions): number;
export function bitsPerDim(nllNats: tf.Tensor, dims: number, opts?: BitsPerDimOptions): tf.Tensor;
export function bitsPerDim(
  nllNats: number | tf.Tensor,
  dims: number,
  opts?: BitsPerDimOptions,
): number | tf.Tensor {
  const offset = checkArgs(dims, opts);
  const scale = dims * Math.LN2;
  if (nllNats instanceof tf.Tensor) {
    return tf.tidy(() => tf.div(offset === 0 ? nllNats : tf.add(nllNats, offset), scale));
  }
  if (typeof nllNats !== 'number') {
    throw new ValueError(
      `bitsPerDim: nllNats must be a number or a tf.Tensor (nats per example), got ${typeof nllNats}.`,
    );
  }
  return offset === 0 ? nllNats / scale : (nllNats + offset) / scale;
}
