/**
 * PixelVAE (Gulrajani et al. 2017): a VAE whose decoder p(x | z) = prod_i p(x_i | x_<i, z) is a
 * conditional gated PixelCNN that is *shallow* (few autoregressive layers: the latent carries the
 * global structure, the decoder the local detail), and the PixelCNN of the same depth without a
 * latent, the baseline that shows what the latent buys.
 */
import { GatedPixelCNN } from '@dgm-js/autoregressive';
import {
  checkInt,
  checkRng,
  type Distribution,
  type Module,
  mlp,
  type Rng,
  type tf,
  ValueError,
} from '@dgm-js/core-tensors';
import { ConvEncoder, type GaussianEncoder, gaussianEncoder, stdNormal, VAE } from '@dgm-js/vae';

type TensorModule = Module<tf.Tensor, tf.Tensor>;

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

/**
 * The PixelVAE decoder: a binary-pixel `GatedPixelCNN` conditioned on a latent vector (added to
 * every layer's gates through a linear map). A `ConditionalDistribution`: `condition(z)` for z
 * `[n, latentDim]` is p(x | z) with batch `[n]`, event `[height, width, 1]`.
 *
 * @example
 * ```ts
 * const dec = pixelDecoder({ height: 28, width: 28, latentDim: 32, layers: 2, rng });
 * ```
 */
export function pixelDecoder(opts: PixelDecoderOptions & { latentDim: number }): GatedPixelCNN {
  const o = gatedOptions(opts, 'pixelDecoder');
  const d = checkInt(opts.latentDim, 'latentDim', 'pixelDecoder');
  return new GatedPixelCNN({ ...o, conditioning: { type: 'vector', dim: d } });
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
export interface PixelVaeOptions extends PixelDecoderOptions {
  /** Latent dimensions d. */
  latentDim: number;
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
 * ({@link pixelDecoder}). A `VAE` of `@dgm-js/vae`, so its ELBO, IWAE, loss, objective and
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
export function pixelVae(opts: PixelVaeOptions): VAE<GaussianEncoder, GatedPixelCNN> {
  const who = 'pixelVae';
  const o = gatedOptions(opts, who);
  const d = checkInt(opts.latentDim, 'latentDim', who);
  const net =
    opts.encoder ??
    (o.height === 28 && o.width === 28
      ? new ConvEncoder(2 * d, { rng: o.rng })
      : mlp([o.height * o.width, 256, 2 * d], { rng: o.rng, activation: 'relu' }));
  const decoder = pixelDecoder({ ...opts, latentDim: d });
  return new VAE({
    name: 'PixelVAE',
    encoder: gaussianEncoder(net, { latentDim: d }),
    decoder,
    prior: opts.prior ?? stdNormal(d),
  });
}
