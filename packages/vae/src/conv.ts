/**
 * Convolutional encoder / decoder networks for 28 x 28 x 1 images (MNIST-sized), drop-in
 * replacements for the MLPs of `GaussianVAE.mlp`: the encoder takes x flat `[B, 784]` (the MLP
 * convention) or NHWC `[B, 28, 28, 1]`, the decoder returns flat logits / means `[N, 784]`.
 */
import {
  type Activation,
  Conv2d,
  checkInt,
  Dense,
  fmtShape,
  getActivation,
  Module,
  type Rng,
  ShapeError,
  tf,
  ValueError,
} from '@dgm-js/core-tensors';
import type { Likelihood } from './types.js';
import { GaussianVAE } from './vae.js';

type Tensor = tf.Tensor;

const SIDE = 28;
const PIXELS = SIDE * SIDE;
const SMALL = 7;

/** Options of {@link ConvEncoder} and {@link ConvDecoder}. */
export interface ConvNetOptions {
  /** The seed stream for the initial weights (required). */
  rng: Rng;
  /** Channels of the two convolutions (the decoder mirrors them). Default `[32, 64]`. */
  channels?: readonly [number, number];
  /** Between layers. Default 'relu'. */
  activation?: Activation;
}

function checkChannels(opts: ConvNetOptions, who: string): [number, number] {
  if (!opts || typeof opts !== 'object' || !opts.rng) {
    throw new ValueError(`${who}: options.rng (an Rng) is required.`);
  }
  const ch = opts.channels ?? [32, 64];
  if (!Array.isArray(ch) || ch.length !== 2) {
    throw new ValueError(
      `${who}: channels must be a pair [c1, c2] of integers >= 1, got ${JSON.stringify(ch)}.`,
    );
  }
  return [checkInt(ch[0], 'channels[0]', who), checkInt(ch[1], 'channels[1]', who)];
}

/**
 * A convolutional encoder for 28 x 28 x 1 images: two stride-2 3x3 convolutions (28 -> 14 -> 7,
 * `channels` default `[32, 64]`, 'same' padding) and a dense layer to `outputs` values. Input x is
 * flat `[B, 784]` (as for the MLP encoders) or NHWC `[B, 28, 28, 1]`; output `[B, outputs]`.
 * Other shapes throw a ShapeError.
 *
 * @example
 * ```ts
 * import { Rng, tf } from '@dgm-js/core-tensors';
 * import { ConvEncoder } from '@dgm-js/vae';
 * const enc = new ConvEncoder(2 * 16, { rng: new Rng(0) });
 * const h = enc.apply(tf.zeros([8, 784])); // [8, 32]
 * ```
 */
export class ConvEncoder extends Module<Tensor, Tensor> {
  readonly outputs: number;
  readonly conv1: Conv2d;
  readonly conv2: Conv2d;
  readonly out: Dense;

  constructor(outputs: number, opts: ConvNetOptions) {
    super('ConvEncoder');
    const [c1, c2] = checkChannels(opts, 'ConvEncoder');
    this.outputs = checkInt(outputs, 'outputs', 'ConvEncoder');
    const activation = opts.activation ?? 'relu';
    const rng = opts.rng;
    this.conv1 = this.addModule('conv1', new Conv2d(1, c1, 3, { rng, stride: 2, activation }));
    this.conv2 = this.addModule('conv2', new Conv2d(c1, c2, 3, { rng, stride: 2, activation }));
    this.out = this.addModule('out', new Dense(SMALL * SMALL * c2, outputs, { rng }));
  }

  /** `[B, 784]` or `[B, 28, 28, 1]` -> `[B, outputs]`. */
  apply(x: Tensor): Tensor {
    const s = x.shape;
    const flat = s.length === 2 && s[1] === PIXELS;
    const nhwc = s.length === 4 && s[1] === SIDE && s[2] === SIDE && s[3] === 1;
    if (!flat && !nhwc) {
      throw new ShapeError(
        `${this.label}: expected images [batch, 784] or [batch, 28, 28, 1] (NHWC), got ${fmtShape(s)}.`,
      );
    }
    return tf.tidy(() => {
      const img = flat ? tf.reshape(x, [s[0] as number, SIDE, SIDE, 1]) : x;
      const h = this.conv2.apply(this.conv1.apply(img));
      return this.out.apply(tf.reshape(h, [h.shape[0] as number, -1]));
    });
  }
}

/**
 * A convolutional decoder to 28 x 28 x 1 images: a dense layer from the latent to 7 x 7 x c2,
 * then twice nearest-neighbour upsampling by 2 followed by a 3x3 convolution (7 -> 14 -> 28,
 * channels c2 -> c1 -> 1). Input z `[N, latentDim]`; output the per-pixel parameters (Bernoulli
 * logits, or Gaussian means) flat `[N, 784]`, as the MLP decoders return.
 *
 * @example
 * ```ts
 * import { Rng, tf } from '@dgm-js/core-tensors';
 * import { ConvDecoder } from '@dgm-js/vae';
 * const dec = new ConvDecoder(16, { rng: new Rng(0) });
 * const logits = dec.apply(tf.zeros([8, 16])); // [8, 784]
 * ```
 */
export class ConvDecoder extends Module<Tensor, Tensor> {
  readonly latentDim: number;
  readonly channels: readonly [number, number];
  readonly inp: Dense;
  readonly conv1: Conv2d;
  readonly conv2: Conv2d;

  constructor(latentDim: number, opts: ConvNetOptions) {
    super('ConvDecoder');
    const [c1, c2] = checkChannels(opts, 'ConvDecoder');
    this.latentDim = checkInt(latentDim, 'latentDim', 'ConvDecoder');
    this.channels = [c1, c2];
    const activation = opts.activation ?? 'relu';
    getActivation(activation); // validate early
    const rng = opts.rng;
    this.inp = this.addModule('inp', new Dense(latentDim, SMALL * SMALL * c2, { rng, activation }));
    this.conv1 = this.addModule('conv1', new Conv2d(c2, c1, 3, { rng, activation }));
    this.conv2 = this.addModule('conv2', new Conv2d(c1, 1, 3, { rng }));
  }

  /** `[N, latentDim]` -> `[N, 784]`. */
  apply(z: Tensor): Tensor {
    if (z.rank !== 2 || z.shape[1] !== this.latentDim) {
      throw new ShapeError(
        `${this.label}: expected latents [batch, ${this.latentDim}], got ${fmtShape(z.shape)}.`,
      );
    }
    return tf.tidy(() => {
      const n = z.shape[0] as number;
      let h = tf.reshape(this.inp.apply(z), [n, SMALL, SMALL, this.channels[1]]) as tf.Tensor4D;
      h = tf.image.resizeNearestNeighbor(h, [2 * SMALL, 2 * SMALL]);
      h = this.conv1.apply(h) as tf.Tensor4D;
      h = tf.image.resizeNearestNeighbor(h, [SIDE, SIDE]);
      return tf.reshape(this.conv2.apply(h), [n, PIXELS]);
    });
  }
}

/** Options of {@link convGaussianVAE}. */
export interface ConvVaeOptions extends ConvNetOptions {
  latentDim: number;
  /** Default 'bernoulli'. */
  likelihood?: Likelihood;
}

/**
 * A Gaussian VAE for 28 x 28 x 1 images with a {@link ConvEncoder} (to 2 latentDim values: means,
 * then pre-softplus scales) and a {@link ConvDecoder}. x may be flat `[B, 784]` or
 * `[B, 28, 28, 1]`; decoder outputs, samples and reconstructions are flat `[N, 784]` (pass
 * `shape: [28, 28]` to `sample` / `reconstruct` for images).
 *
 * @example
 * ```ts
 * import { Rng, tf } from '@dgm-js/core-tensors';
 * import { convGaussianVAE } from '@dgm-js/vae';
 * const rng = new Rng(0);
 * const vae = convGaussianVAE({ latentDim: 16, rng });
 * const opt = tf.train.adam(1e-3);
 * tf.tidy(() => opt.minimize(() => vae.loss(x, { rng }).loss)); // x: [B, 784] of 0/1
 * ```
 */
export function convGaussianVAE(opts: ConvVaeOptions): GaussianVAE {
  if (!opts || typeof opts !== 'object') {
    throw new ValueError('convGaussianVAE: pass options { latentDim, rng }.');
  }
  const d = checkInt(opts.latentDim, 'latentDim', 'convGaussianVAE');
  const net: ConvNetOptions = {
    rng: opts.rng,
    ...(opts.channels === undefined ? {} : { channels: opts.channels }),
    ...(opts.activation === undefined ? {} : { activation: opts.activation }),
  };
  return new GaussianVAE({
    latentDim: d,
    encoder: new ConvEncoder(2 * d, net),
    decoder: new ConvDecoder(d, net),
    ...(opts.likelihood === undefined ? {} : { likelihood: opts.likelihood }),
  });
}
