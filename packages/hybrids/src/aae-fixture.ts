/**
 * The AAE of the resume tests (test-only): a Gaussian-encoder AAE on 6-D binary data (2-D latent,
 * tiny MLPs, a mixture prior, 2 critic updates per step) trained by an {@link AaeTrainer} with
 * batches drawn from the step's seed stream; checkpoints every 3 steps in `dir`.
 */
import { DirectoryCheckpointStore, mlp, Rng, tf } from '@dgm-js/core-tensors';
import { MlpCritic } from '@dgm-js/gan';
import { bernoulliDecoder } from '@dgm-js/vae';
import { AAE } from './aae.js';
import { gaussianMixturePrior } from './aae-priors.js';
import { AaeTrainer } from './aae-train.js';

const D = 6;

export function toyAae(
  opts: { dir?: string; seed?: number; onStep?: (step: number) => void | Promise<void> } = {},
) {
  const rng = new Rng(opts.seed ?? 5);
  const model = new AAE({
    encoder: mlp([D, 8, 4], { rng, activation: 'tanh' }),
    posterior: 'gaussian',
    decoder: bernoulliDecoder(mlp([2, 8, D], { rng, activation: 'tanh' })),
    critic: new MlpCritic({ inputShape: 2, hidden: [8], rng }),
    prior: gaussianMixturePrior(3, { radius: 2, std: 0.5 }),
    latentDim: 2,
  });
  const pool = tf.tidy(() =>
    tf.cast(tf.less(tf.randomUniform([32, D], 0, 1, 'float32', 3), 0.5), 'float32'),
  );
  const data = (r: Rng) =>
    tf.tidy(() =>
      tf.gather(
        pool,
        tf.tensor1d(
          Array.from({ length: 8 }, () => Math.floor(r.float() * 32)),
          'int32',
        ),
      ),
    );
  const trainer = new AaeTrainer({
    model,
    data,
    nCritic: 2,
    autoencoderOptimizer: tf.train.adam(1e-2),
    criticOptimizer: tf.train.adam(1e-2, 0.5, 0.999),
    encoderOptimizer: tf.train.adam(1e-2, 0.5, 0.999),
    seed: 11,
    ...(opts.dir
      ? {
          checkpoint: { store: new DirectoryCheckpointStore(opts.dir), every: 3, keep: 100 },
          resume: true,
        }
      : {}),
    ...(opts.onStep ? { onStep: (s: number) => opts.onStep!(s) } : {}),
  });
  const state = () => {
    const out: Record<string, number[]> = {};
    for (const [n, v] of model.namedState()) out[n] = Array.from(v.dataSync());
    return out;
  };
  const dispose = () => {
    for (const p of Object.values(trainer.loop.players)) p.optimizer.dispose();
    trainer.dispose();
    model.dispose();
    pool.dispose();
  };
  return { trainer, model, data, state, dispose };
}
