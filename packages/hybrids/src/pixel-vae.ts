/**
 * PixelVAE (Gulrajani et al. 2017): a VAE whose decoder p(x | z) = prod_i p(x_i | x_<i, z) is a
 * conditional gated PixelCNN that is *shallow* (few autoregressive layers: the latent carries the
 * global structure, the decoder the local detail), and the PixelCNN of the same depth without a
 * latent, the baseline that shows what the latent buys.
 */
import { GatedPixelCNN } from '@dgm-js/autoregressive';
import {
  type ConditionalDistribution,
  Conv2d,
  checkInt,
  checkRng,
  Dense,
  type Distribution,
  fmtShape,
  Module,
  mlp,
  type Rng,
  ShapeError,
  tf,
  ValueError,
} from '@dgm-js/core-tensors';
import {
  BatchReshaped,
  ConvEncoder,
  type GaussianEncoder,
  gaussianEncoder,
  stdNormal,
  VAE,
} from '@dgm-js/vae';

type Tensor = tf.Tensor;
type TensorModule = Module<Tensor, Tensor>;

/** Options of the pixel decoders ({@link pixelDecoder}, {@link sameDepthPixelCnn}). */
export interface PixelDecoderOptions {
  height: number;
  width: number;
  /** Gated layers after the first (the autoregressive depth). Default 2 (shallow). */
  layers?: number;
  /** Feature channels. Default 32. */
  hiddenChannels?: number;
  /** Kernel of the first layer (odd). Default 7. */
  firstKernelSize?: number;
  /** Kernel of the later layers (odd, >= 3). Default 3. */
  kernelSize?: number;
  /** Seeds the weights. */
  rng: Rng;
}

function gatedOptions(opts: PixelDecoderOptions, who: string) {
  if (!opts || typeof opts !== 'object') throw new ValueError(`${who}: options are required.`);
  checkRng(opts.rng, who);
  return {
    height: checkInt(opts.height, 'height', who),
    width: checkInt(opts.width, 'width', who),
    numLayers: checkInt(opts.layers ?? 2, 'layers', who, { min: 0 }),
    hiddenChannels: checkInt(opts.hiddenChannels ?? 32, 'hiddenChannels', who),
    firstKernelSize: opts.firstKernelSize ?? 7,
    kernelSize: opts.kernelSize ?? 3,
    rng: opts.rng,
  };
}

/** Options of {@link LatentMap}. */
export interface LatentMapOptions {
  height: number;
  width: number;
  /** Channels of the map. Default 8. */
  channels?: number;
  /** Channels of the upsampling convolutions. Default 32. */
  hidden?: number;
  rng: Rng;
}

/**
 * The latent vector decoded to a feature map of the image's resolution (Gulrajani et al. 2017:
 * "upsampled via a deconvolutional network"): z `[n, d]` -> `[n, height, width, channels]`. For
 * sizes divisible by 4, a dense layer to a quarter-resolution map, then twice nearest-neighbour
 * upsampling by 2 and a 3x3 convolution (ReLU between); otherwise one dense layer.
 *
 * @example
 * ```ts
 * const toMap = new LatentMap(16, { height: 28, width: 28, channels: 8, rng });
 * const m = toMap.apply(z); // [n, 28, 28, 8]
 * ```
 */
export class LatentMap extends Module<Tensor, Tensor> {
  readonly latentDim: number;
  readonly height: number;
  readonly width: number;
  readonly channels: number;
  readonly hidden: number;
  readonly inp: Dense;
  readonly conv1: Conv2d | undefined;
  readonly conv2: Conv2d | undefined;

  constructor(latentDim: number, opts: LatentMapOptions) {
    super('LatentMap');
    const who = 'LatentMap';
    if (!opts || typeof opts !== 'object') throw new ValueError(`${who}: options are required.`);
    checkRng(opts.rng, who);
    this.latentDim = checkInt(latentDim, 'latentDim', who);
    this.height = checkInt(opts.height, 'height', who);
    this.width = checkInt(opts.width, 'width', who);
    this.channels = checkInt(opts.channels ?? 8, 'channels', who);
    this.hidden = checkInt(opts.hidden ?? 32, 'hidden', who);
    const rng = opts.rng;
    if (this.height % 4 === 0 && this.width % 4 === 0) {
      const cells = (this.height / 4) * (this.width / 4);
      this.inp = this.addModule(
        'inp',
        new Dense(latentDim, cells * this.hidden, { rng, activation: 'relu' }),
      );
      this.conv1 = this.addModule(
        'conv1',
        new Conv2d(this.hidden, this.hidden, 3, { rng, activation: 'relu' }),
      );
      this.conv2 = this.addModule('conv2', new Conv2d(this.hidden, this.channels, 3, { rng }));
    } else {
      this.inp = this.addModule(
        'inp',
        new Dense(latentDim, this.height * this.width * this.channels, { rng }),
      );
    }
  }

  /** `[n, latentDim]` -> `[n, height, width, channels]`. */
  apply(z: Tensor): Tensor {
    if (!(z instanceof tf.Tensor) || z.rank !== 2 || z.shape[1] !== this.latentDim) {
      throw new ShapeError(
        `${this.label}: expected latents [n, ${this.latentDim}], got ${z instanceof tf.Tensor ? fmtShape(z.shape) : typeof z}.`,
      );
    }
    return tf.tidy(() => {
      const n = z.shape[0] as number;
      const h = this.inp.apply(z);
      if (!this.conv1 || !this.conv2) {
        return tf.reshape(h, [n, this.height, this.width, this.channels]);
      }
      let m = tf.reshape(h, [n, this.height / 4, this.width / 4, this.hidden]) as tf.Tensor4D;
      m = tf.image.resizeNearestNeighbor(m, [this.height / 2, this.width / 2]);
      m = this.conv1.apply(m) as tf.Tensor4D;
      m = tf.image.resizeNearestNeighbor(m, [this.height, this.width]);
      return this.conv2.apply(m);
    });
  }
}

/** Options of {@link pixelDecoder}. */
export interface PixelDecoderVaeOptions extends PixelDecoderOptions {
  latentDim: number;
  /**
   * How z reaches the PixelCNN. 'map' (default, Gulrajani et al.): z is upsampled by a
   * {@link LatentMap} to a feature map of the image's size that enters every gated layer through
   * 1x1 convolutions, so the latent can say *where*. 'vector': z enters every gate as a
   * per-channel bias (the conditional PixelCNN of van den Oord et al. 2016b).
   */
  conditioning?: 'map' | 'vector';
  /** Channels of the latent map. Default 8. */
  mapChannels?: number;
}

/**
 * The PixelVAE decoder p(x | z) = prod_i p(x_i | x_<i, z): a binary-pixel `GatedPixelCNN`
 * conditioned on the latent (see {@link PixelDecoderVaeOptions.conditioning}). A
 * `ConditionalDistribution` and a `Module` (sub-modules `toMap` and `pixel`): `condition(z)` for
 * z `[n, latentDim]` is p(x | z) with batch `[n]`, event `[height, width, 1]`; it owns the map
 * it computed.
 *
 * @example
 * ```ts
 * const dec = new PixelDecoder({ height: 28, width: 28, latentDim: 32, layers: 2, rng });
 * const px = dec.condition(z); // batch [n], event [28, 28, 1]
 * px.dispose();
 * ```
 */
export class PixelDecoder
  extends Module<Tensor, Distribution>
  implements ConditionalDistribution<Tensor>
{
  readonly latentDim: number;
  readonly toMap: LatentMap | undefined;
  readonly pixel: GatedPixelCNN;

  constructor(opts: PixelDecoderVaeOptions) {
    super('PixelDecoder');
    const who = 'PixelDecoder';
    const o = gatedOptions(opts, who);
    this.latentDim = checkInt(opts.latentDim, 'latentDim', who);
    const mode = opts.conditioning ?? 'map';
    if (mode !== 'map' && mode !== 'vector') {
      throw new ValueError(
        `${who}: conditioning must be 'map' or 'vector', got '${String(mode)}'.`,
      );
    }
    if (mode === 'map') {
      const channels = checkInt(opts.mapChannels ?? 8, 'mapChannels', who);
      this.toMap = this.addModule(
        'toMap',
        new LatentMap(this.latentDim, { height: o.height, width: o.width, channels, rng: o.rng }),
      );
      this.pixel = this.addModule(
        'pixel',
        new GatedPixelCNN({ ...o, conditioning: { type: 'map', channels } }),
      );
    } else {
      this.toMap = undefined;
      this.pixel = this.addModule(
        'pixel',
        new GatedPixelCNN({ ...o, conditioning: { type: 'vector', dim: this.latentDim } }),
      );
    }
  }

  /** p(x | z) for z `[n, latentDim]`: batch `[n]`. The caller owns it. */
  condition(z: Tensor): Distribution {
    if (!this.toMap) return this.pixel.condition(z);
    const m = this.toMap.apply(z);
    let d: Distribution;
    try {
      d = this.pixel.condition(m);
    } catch (e) {
      m.dispose();
      throw e;
    }
    return new BatchReshaped(d, d.batchShape, [m]);
  }

  /** Same as {@link condition}. */
  apply(z: Tensor): Distribution {
    return this.condition(z);
  }
}

/**
 * A {@link PixelDecoder}.
 *
 * @example
 * ```ts
 * const dec = pixelDecoder({ height: 28, width: 28, latentDim: 32, layers: 2, rng });
 * ```
 */
export function pixelDecoder(opts: PixelDecoderVaeOptions): PixelDecoder {
  return new PixelDecoder(opts);
}

/**
 * The baseline of a PixelVAE: the unconditional gated PixelCNN with the same autoregressive depth
 * and width as its decoder (same `layers`, `hiddenChannels`, kernels).
 *
 * @example
 * ```ts
 * const baseline = sameDepthPixelCnn({ height: 28, width: 28, layers: 2, rng });
 * const nll = tf.neg(tf.mean(baseline.logProb(x)));
 * ```
 */
export function sameDepthPixelCnn(opts: PixelDecoderOptions): GatedPixelCNN {
  return new GatedPixelCNN(gatedOptions(opts, 'sameDepthPixelCnn'));
}

/** Options of {@link pixelVae}. */
export interface PixelVaeOptions extends PixelDecoderVaeOptions {
  /**
   * The encoder network, x `[B, ...]` -> `[B, 2 latentDim]` (means, pre-softplus scales).
   * Default: `ConvEncoder` of `@dgm-js/vae` for 28 x 28 images, else a 256-unit ReLU MLP.
   */
  encoder?: TensorModule;
  /** p(z). Default N(0, I). */
  prior?: Distribution;
}

/**
 * A PixelVAE (Gulrajani et al. 2017) with a vector latent: a Gaussian encoder (a conv net for 28
 * x 28 images), the prior N(0, I) (or yours), and a shallow conditional gated PixelCNN decoder
 * ({@link pixelDecoder}; by default z is upsampled to a feature map of the image's size, as in
 * the paper). A `VAE` of `@dgm-js/vae`, so its ELBO, IWAE, loss, objective and
 * checkpoints are the VAE's. Samples: `vae.sample(n, { rng, output: 'sample' })` (the decoder has
 * no closed-form mean; the sampler draws pixel by pixel on the receptive-field window).
 *
 * @example
 * ```ts
 * import { Rng, tf } from '@dgm-js/core-tensors';
 * const vae = pixelVae({ height: 28, width: 28, latentDim: 32, layers: 2, rng: new Rng(0) });
 * const opt = tf.train.adam(1e-3);
 * tf.tidy(() => opt.minimize(() => vae.loss(x, { rng }).loss)); // x [B, 784] of 0/1
 * const imgs = vae.sample(16, { rng, output: 'sample', shape: [28, 28] });
 * ```
 */
export function pixelVae(opts: PixelVaeOptions): VAE<GaussianEncoder, PixelDecoder> {
  const who = 'pixelVae';
  const o = gatedOptions(opts, who);
  const d = checkInt(opts.latentDim, 'latentDim', who);
  const net =
    opts.encoder ??
    (o.height === 28 && o.width === 28
      ? new ConvEncoder(2 * d, { rng: o.rng })
      : mlp([o.height * o.width, 256, 2 * d], { rng: o.rng, activation: 'relu' }));
  const decoder = new PixelDecoder({ ...opts, latentDim: d });
  return new VAE({
    name: 'PixelVAE',
    encoder: gaussianEncoder(net, { latentDim: d }),
    decoder,
    prior: opts.prior ?? stdNormal(d),
  });
}
