/**
 * The Gaussian VAE and the MLP builders: factories over the generic {@link VAE} from parts.
 */
import { type Activation, checkInt, Module, mlp, type Rng, ValueError } from '@dgm-js/core-tensors';
import {
  type BernoulliDecoder,
  checkLikelihood,
  type GaussianDecoder,
  GaussianEncoder,
  likelihoodDecoder,
  type TensorModule,
} from './conditionals.js';
import { stdNormal } from './distributions.js';
import { VAE } from './model.js';
import type { Likelihood } from './types.js';

/** Options of the VAEs built from an encoder network and a decoder network. */
export interface NetworkVaeOptions {
  /** x `[B, ...xShape]` -> the parameters of q(z | x), `[B, encoderOutputs]` (see each VAE). */
  encoder: TensorModule;
  /** z `[N, latentFeatures]` -> the parameters of p(x | z), `[N, ...]` with as many values as x has per example. */
  decoder: TensorModule;
  /** The likelihood the decoder parameterizes. Default 'bernoulli'. */
  likelihood?: Likelihood;
}

/**
 * Checks the networks and the likelihood of a {@link NetworkVaeOptions}; returns the likelihood.
 *
 * @example
 * ```ts
 * const likelihood = checkNetworks({ encoder: enc, decoder: dec }, 'GaussianVAE'); // 'bernoulli'
 * ```
 */
export function checkNetworks(opts: NetworkVaeOptions, who: string): Likelihood {
  if (!opts || !(opts.encoder instanceof Module) || !(opts.decoder instanceof Module)) {
    throw new ValueError(
      `${who}: pass { encoder, decoder } modules (e.g. from mlp([...], { rng })).`,
    );
  }
  return checkLikelihood(opts.likelihood, who);
}

/** Options of {@link GaussianVAE}. */
export interface GaussianVaeOptions extends NetworkVaeOptions {
  /** Latent dimensions d; the encoder returns `[B, 2d]` (means, then pre-softplus scales). */
  latentDim: number;
}

/**
 * The Gaussian VAE (Kingma & Welling 2014): p(z) = N(0, I), q(z | x) = N(mu(x), diag sigma(x)^2)
 * with sigma = softplus(.) + 1e-5 ({@link gaussianEncoder}), p(x | z) from the likelihood
 * ({@link bernoulliDecoder} or {@link gaussianDecoder}), trained with reparameterized samples; the
 * ELBO objective supports beta-VAE weights, KL warm-up and free bits, and the IWAE objective k
 * samples. A {@link VAE} with those parts.
 *
 * @example
 * ```ts
 * import { mlp, Rng, tf } from '@dgm-js/core-tensors';
 * import { GaussianVAE } from '@dgm-js/vae';
 * const rng = new Rng(0);
 * const vae = new GaussianVAE({
 *   latentDim: 40,
 *   encoder: mlp([784, 400, 80], { rng, activation: 'relu' }),
 *   decoder: mlp([40, 400, 784], { rng, activation: 'relu' }),
 * });
 * const opt = tf.train.adam(1e-3);
 * opt.minimize(() => vae.loss(x, { rng }).loss); // inside tf.tidy in a loop
 * ```
 */
export class GaussianVAE extends VAE<GaussianEncoder, BernoulliDecoder | GaussianDecoder> {
  readonly latentDim: number;
  readonly likelihood: Likelihood;

  constructor(opts: GaussianVaeOptions) {
    const likelihood = checkNetworks(opts, 'GaussianVAE');
    const d = checkInt(opts.latentDim, 'latentDim', 'GaussianVAE');
    super({
      name: 'GaussianVAE',
      encoder: new GaussianEncoder(opts.encoder, { latentDim: d }),
      decoder: likelihoodDecoder(opts.decoder, likelihood),
      prior: stdNormal(d),
    });
    this.latentDim = d;
    this.likelihood = likelihood;
  }

  /**
   * An MLP Gaussian VAE: encoder `[inputDim, ...hidden, 2 latentDim]`, decoder
   * `[latentDim, ...hidden reversed, inputDim]`.
   *
   * @example
   * ```ts
   * const vae = GaussianVAE.mlp({ inputDim: 784, hidden: [400], latentDim: 40, rng: new Rng(0) });
   * ```
   */
  static mlp(opts: MlpVaeOptions & { latentDim: number }): GaussianVAE {
    const { enc, dec } = mlpPair(opts, 2 * opts.latentDim, opts.latentDim);
    return new GaussianVAE({
      latentDim: opts.latentDim,
      encoder: enc,
      decoder: dec,
      ...(opts.likelihood === undefined ? {} : { likelihood: opts.likelihood }),
    });
  }
}

/** Options of the `mlp` factories. */
export interface MlpVaeOptions {
  /** Values per example (784 for MNIST). */
  inputDim: number;
  /** Hidden layer sizes of the encoder (the decoder mirrors them). */
  hidden: readonly number[];
  rng: Rng;
  /** Between layers. Default 'relu'. */
  activation?: Activation;
  likelihood?: Likelihood;
}

/**
 * An MLP encoder `[inputDim, ...hidden, encOut]` and decoder `[latentIn, ...hidden reversed,
 * inputDim]`, initialised in that order from `opts.rng`.
 *
 * @example
 * ```ts
 * const { enc, dec } = mlpPair({ inputDim: 784, hidden: [400], rng: new Rng(0) }, 80, 40);
 * ```
 */
export function mlpPair(
  opts: MlpVaeOptions,
  encOut: number,
  latentIn: number,
): { enc: TensorModule; dec: TensorModule } {
  const who = 'VAE.mlp';
  checkInt(opts.inputDim, 'inputDim', who);
  if (!Array.isArray(opts.hidden))
    throw new ValueError(`${who}: hidden must be an array of layer sizes.`);
  for (const h of opts.hidden) checkInt(h, 'every hidden size', who);
  const activation = opts.activation ?? 'relu';
  const enc = mlp([opts.inputDim, ...opts.hidden, encOut], { rng: opts.rng, activation });
  const dec = mlp([latentIn, ...[...opts.hidden].reverse(), opts.inputDim], {
    rng: opts.rng,
    activation,
  });
  return { enc: enc as unknown as TensorModule, dec: dec as unknown as TensorModule };
}
