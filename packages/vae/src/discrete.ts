/**
 * VAEs with discrete latents: Bernoulli units and categorical variables with uniform priors,
 * trained with any gradient estimator of `@dgm-js/estimators` (one option), evaluated with exact
 * discrete samples. Factories over the generic {@link VAE} from parts.
 */
import { checkInt, type GradientEstimator, ValueError } from '@dgm-js/core-tensors';
import { ESTIMATOR_NAMES, type EstimatorName, estimatorByName } from '@dgm-js/estimators';
import {
  type BernoulliDecoder,
  BernoulliEncoder,
  CategoricalEncoder,
  type GaussianDecoder,
  likelihoodDecoder,
} from './conditionals.js';
import { uniformBernoulli, uniformCategorical } from './distributions.js';
import { VAE } from './model.js';
import { checkNetworks, type MlpVaeOptions, mlpPair, type NetworkVaeOptions } from './vae.js';

/** Options of the discrete-latent VAEs. */
export interface DiscreteVaeOptions extends NetworkVaeOptions {
  /**
   * How the encoder is trained through the discrete samples: any `GradientEstimator` from
   * `@dgm-js/estimators`, or a name of {@link estimatorByName}. The VAE owns it (disposes it).
   * With 'vimco' the loss is the k-sample IWAE bound; with every other estimator it is the ELBO
   * with the analytic KL, the estimator differentiating E_q[log p(x | z)].
   */
  estimator: GradientEstimator | EstimatorName;
}

function resolveEstimator(e: GradientEstimator | EstimatorName, who: string): GradientEstimator {
  if (typeof e === 'string') return estimatorByName(e);
  if (!e || typeof e.estimate !== 'function') {
    throw new ValueError(
      `${who}: estimator must be a GradientEstimator from @dgm-js/estimators or one of ${ESTIMATOR_NAMES.join(', ')}.`,
    );
  }
  return e;
}

type DiscreteEncoder = BernoulliEncoder | CategoricalEncoder;

/**
 * The base of the discrete-latent VAEs: a {@link VAE} whose estimator is required (a
 * `GradientEstimator` or a name of {@link estimatorByName}) and owned. The training loss is
 * E_q[-log p(x | z)] through the estimator plus the analytic KL (free bits optional), or with
 * VIMCO the k-sample IWAE bound; see {@link VAE.loss}.
 *
 * @example
 * ```ts
 * const vae: DiscreteVAE = BernoulliVAE.mlp({ inputDim: 784, hidden: [256], latentDim: 64, estimator: 'nvil', rng });
 * const state = vae.estimator.getState(); // JSON: baselines, control variates, step
 * ```
 */
export abstract class DiscreteVAE<E extends DiscreteEncoder = DiscreteEncoder> extends VAE<
  E,
  BernoulliDecoder | GaussianDecoder
> {
  /** The gradient estimator (owned: disposed with the VAE). */
  declare readonly estimator: GradientEstimator;
  readonly likelihood: NonNullable<NetworkVaeOptions['likelihood']>;

  protected constructor(
    kind: string,
    opts: DiscreteVaeOptions,
    encoder: (net: NetworkVaeOptions['encoder']) => E,
    prior: () => ReturnType<typeof uniformBernoulli>,
  ) {
    const likelihood = checkNetworks(opts, kind);
    const enc = encoder(opts.encoder);
    super({
      name: kind,
      encoder: enc,
      decoder: likelihoodDecoder(opts.decoder, likelihood),
      prior: prior(),
      estimator: resolveEstimator(opts.estimator, kind),
    });
    this.likelihood = likelihood;
  }
}

/** Options of {@link BernoulliVAE}. */
export interface BernoulliVaeOptions extends DiscreteVaeOptions {
  /** Number of Bernoulli latent units d; the encoder returns `[B, d]` logits. */
  latentDim: number;
}

/**
 * A VAE with d Bernoulli latent units, p(z) = Bernoulli(1/2)^d, q(z | x) = prod_j
 * Bernoulli(sigmoid(logit_j(x))) ({@link bernoulliEncoder}), trained with any gradient estimator
 * (the Bernoulli VAE of Jang et al. 2017 has d = 200).
 *
 * @example
 * ```ts
 * const vae = BernoulliVAE.mlp({ inputDim: 784, hidden: [512, 256], latentDim: 200,
 *   estimator: 'st-gumbel-softmax', rng: new Rng(0) });
 * ```
 */
export class BernoulliVAE extends DiscreteVAE<BernoulliEncoder> {
  readonly latentDim: number;

  constructor(opts: BernoulliVaeOptions) {
    const d = checkInt(opts?.latentDim, 'latentDim', 'BernoulliVAE');
    super(
      'BernoulliVAE',
      opts,
      (net) => new BernoulliEncoder(net, { latentDim: d }),
      () => uniformBernoulli(d),
    );
    this.latentDim = d;
  }

  /** An MLP Bernoulli VAE: encoder `[inputDim, ...hidden, latentDim]`, decoder mirrored. */
  static mlp(
    opts: MlpVaeOptions & { latentDim: number; estimator: GradientEstimator | EstimatorName },
  ): BernoulliVAE {
    const { enc, dec } = mlpPair(opts, opts.latentDim, opts.latentDim);
    return new BernoulliVAE({
      latentDim: opts.latentDim,
      encoder: enc,
      decoder: dec,
      estimator: opts.estimator,
      ...(opts.likelihood === undefined ? {} : { likelihood: opts.likelihood }),
    });
  }
}

/** Options of {@link CategoricalVAE}. */
export interface CategoricalVaeOptions extends DiscreteVaeOptions {
  /** Number of categorical latent variables n. */
  latents: number;
  /** Categories C of each; the encoder returns `[B, n * C]` logits. */
  categories: number;
}

/**
 * A VAE with n C-way categorical latents (one-hot), uniform prior, q(z | x) = prod_i
 * Cat(softmax(logits_i(x))) ({@link categoricalEncoder}), trained with any gradient estimator
 * (Jang et al. 2017: n = 20, C = 10). The decoder sees the n one-hot vectors flattened
 * (`[N, n C]`), so relaxed estimators can feed it points of the simplex.
 *
 * @example
 * ```ts
 * const vae = CategoricalVAE.mlp({ inputDim: 784, hidden: [512, 256], latents: 20, categories: 10,
 *   estimator: 'gumbel-softmax', rng: new Rng(0) });
 * ```
 */
export class CategoricalVAE extends DiscreteVAE<CategoricalEncoder> {
  readonly latents: number;
  readonly categories: number;

  constructor(opts: CategoricalVaeOptions) {
    const n = checkInt(opts?.latents, 'latents', 'CategoricalVAE');
    const c = checkInt(opts?.categories, 'categories', 'CategoricalVAE');
    if (c < 2) throw new ValueError('CategoricalVAE: categories must be >= 2.');
    super(
      'CategoricalVAE',
      opts,
      (net) => new CategoricalEncoder(net, { latents: n, categories: c }),
      () => uniformCategorical(n, c),
    );
    this.latents = n;
    this.categories = c;
  }

  /** An MLP categorical VAE: encoder `[inputDim, ...hidden, latents * categories]`, decoder mirrored. */
  static mlp(
    opts: MlpVaeOptions & {
      latents: number;
      categories: number;
      estimator: GradientEstimator | EstimatorName;
    },
  ): CategoricalVAE {
    const nc = opts.latents * opts.categories;
    const { enc, dec } = mlpPair(opts, nc, nc);
    return new CategoricalVAE({
      latents: opts.latents,
      categories: opts.categories,
      encoder: enc,
      decoder: dec,
      estimator: opts.estimator,
      ...(opts.likelihood === undefined ? {} : { likelihood: opts.likelihood }),
    });
  }
}
