/**
 * A small shared helper for the suites that need a trained VAE on binarized MNIST as a fixture
 * (the `eval` suite's AIS / IWAE / BDMC rows): the core `Trainer` driving the VAE's own
 * `objective()` over seeded `batches(...)` of `@dgm-js/datasets`, with Adam. Nothing here is a
 * new training loop: it is the composition the vae package's README shows, with the bench's
 * defaults, so a suite that needs "some trained VAE" does not grow its own.
 */
import { adam, Trainer } from '@dgm-js/core-tensors';
import { batches } from '@dgm-js/datasets';
import type { TrainOptions, VAE } from '@dgm-js/vae';

/** Options of {@link trainVae}. */
export interface TrainVaeOptions {
  /** Adam steps. */
  steps: number;
  /** Examples per batch. Default 100. */
  batchSize?: number;
  /** Adam learning rate. Default 1e-3. */
  learningRate?: number;
  /** Seed of the batch order. Default 1. */
  seed?: number;
  /** The VAE objective's options (KL weight, IWAE objective, ...). Default: the ELBO. */
  objective?: TrainOptions;
}

/** What {@link trainVae} returns. */
export interface TrainVaeResult {
  /** Steps taken. */
  steps: number;
  /** The last logged batch ELBO (nats per example), when the objective reports it. */
  lastElbo?: number;
}

/**
 * Trains `vae` in place for `steps` Adam steps on seeded batches of `train` (an `x` field, e.g.
 * `loadBinarizedMnist(...).train`), through the core `Trainer` and `vae.objective()`.
 *
 * @example
 * ```ts
 * const mnist = await loadBinarizedMnist({ binarization: 'dynamic', seed: 0, flat: true });
 * const vae = GaussianVAE.mlp({ inputDim: 784, hidden: [200], latentDim: 10, rng: new Rng(0) });
 * await trainVae(vae, mnist.train.slice(0, 10000), { steps: 500 });
 * ```
 */
export async function trainVae(
  vae: VAE,
  train: Parameters<typeof batches>[0],
  opts: TrainVaeOptions,
): Promise<TrainVaeResult> {
  const batchSize = opts.batchSize ?? 100;
  const seed = opts.seed ?? 1;
  const optimizer = adam(opts.learningRate ?? 1e-3);
  try {
    const result = await new Trainer({
      model: vae,
      objective: vae.objective(opts.objective ?? {}),
      data: (epoch: number) =>
        batches(train, { batchSize, seed, startEpoch: epoch, fields: ['x'], dropLast: true }),
      optimizer,
      maxSteps: opts.steps,
      quiet: true,
    }).fit();
    const elbo = result.history.at(-1)?.metrics.elbo;
    return { steps: result.step, ...(elbo === undefined ? {} : { lastElbo: elbo }) };
  } finally {
    optimizer.dispose();
  }
}
