/**
 * The model kinds `dgm train` knows, their options (flags and defaults) and the metrics `dgm eval`
 * computes for each: plain data, so `--help` and flag errors answer without loading TensorFlow.js.
 */
import { CliError } from './errors.js';

/** The kinds of model, by the name given to `dgm train <model>`. */
export const MODEL_KINDS = [
  'gaussian-vae',
  'bernoulli-vae',
  'categorical-vae',
  'realnvp',
  'mlp-gan',
] as const;

/** One of {@link MODEL_KINDS}. */
export type ModelKind = (typeof MODEL_KINDS)[number];

/** What a model kind is trained as. */
export type Family = 'vae' | 'flow' | 'gan';

/** A model's options as stored in `run.json`. */
export interface ModelOptions {
  /** Hidden layer sizes of every MLP of the model. */
  hidden: number[];
  /** Latent dimension (Gaussian and Bernoulli VAEs, the GAN's noise). */
  latentDim?: number;
  /** Number of categorical latent variables (categorical VAE). */
  latents?: number;
  /** Categories per latent variable (categorical VAE). */
  categories?: number;
  /** The gradient estimator through discrete latents (a name of @dgm-js/estimators). */
  estimator?: string;
  /** Number of affine coupling layers (RealNVP). */
  couplings?: number;
}

/** The option keys of {@link ModelOptions}, with their flags. */
export const OPTION_FLAGS: Record<keyof ModelOptions, string> = {
  hidden: '--hidden',
  latentDim: '--latent-dim',
  latents: '--latents',
  categories: '--categories',
  estimator: '--estimator',
  couplings: '--couplings',
};

/** One model kind. */
export interface ModelSpec {
  kind: ModelKind;
  family: Family;
  description: string;
  /** The options this kind takes, with their defaults. */
  defaults: ModelOptions;
  /** The metrics `dgm eval` computes for it (the first ones are the default). */
  metrics: readonly string[];
  defaultMetrics: readonly string[];
}

/** Every model kind. */
export const MODELS: Record<ModelKind, ModelSpec> = {
  'gaussian-vae': {
    kind: 'gaussian-vae',
    family: 'vae',
    description: 'VAE with Gaussian latents (reparameterized), Bernoulli pixels, binarized MNIST',
    defaults: { hidden: [256], latentDim: 16 },
    metrics: ['elbo', 'iwae', 'fid'],
    defaultMetrics: ['elbo', 'iwae'],
  },
  'bernoulli-vae': {
    kind: 'bernoulli-vae',
    family: 'vae',
    description: 'VAE with Bernoulli latents through a gradient estimator, binarized MNIST',
    defaults: { hidden: [256], latentDim: 32, estimator: 'straight-through' },
    metrics: ['elbo', 'iwae', 'fid'],
    defaultMetrics: ['elbo', 'iwae'],
  },
  'categorical-vae': {
    kind: 'categorical-vae',
    family: 'vae',
    description: 'VAE with categorical latents through a gradient estimator, binarized MNIST',
    defaults: { hidden: [256], latents: 20, categories: 10, estimator: 'gumbel-softmax' },
    metrics: ['elbo', 'iwae', 'fid'],
    defaultMetrics: ['elbo', 'iwae'],
  },
  realnvp: {
    kind: 'realnvp',
    family: 'flow',
    description: 'RealNVP flow (affine couplings, logit transform), dequantized MNIST',
    defaults: { hidden: [256], couplings: 4 },
    metrics: ['nll', 'bpd', 'fid'],
    defaultMetrics: ['nll', 'bpd'],
  },
  'mlp-gan': {
    kind: 'mlp-gan',
    family: 'gan',
    description: 'GAN with MLP generator and critic (non-saturating loss), MNIST in [0, 1]',
    defaults: { hidden: [256], latentDim: 64 },
    metrics: ['fid'],
    defaultMetrics: ['fid'],
  },
};

/**
 * Checks a model kind given on the command line.
 *
 * @example
 * ```ts
 * modelKind('realnvp'); // 'realnvp'
 * ```
 */
export function modelKind(name: string): ModelKind {
  if ((MODEL_KINDS as readonly string[]).includes(name)) return name as ModelKind;
  throw new CliError(`<model>: unknown model '${name}'; choose one of ${MODEL_KINDS.join(', ')}.`);
}
