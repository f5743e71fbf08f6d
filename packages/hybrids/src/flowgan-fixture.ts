/**
 * The FlowGAN of the resume tests (test-only): a 4-dimensional hybrid FlowGAN (two couplings, a
 * small MLP critic, 2 critic steps) on 6-level "images", checkpoints every 3 steps in `dir`.
 */
import { DirectoryCheckpointStore, Rng, tf } from '@dgm-js/core-tensors';
import { MlpCritic } from '@dgm-js/gan';
import { dequantizedBatches, FlowGan, flowGanFlow } from './flowgan.js';
import { FlowGanTrainer } from './flowgan-train.js';

export function toyFlowGan(
  opts: { dir?: string; seed?: number; onStep?: (step: number) => void | Promise<void> } = {},
) {
  const rng = new Rng(opts.seed ?? 5);
  const model = new FlowGan({
    flow: flowGanFlow({ dim: 4, rng, layers: 2, hidden: [8] }),
    critic: new MlpCritic({ inputShape: 4, hidden: [8], rng }),
    mode: 'hybrid',
    lambda: 0.5,
    nCritic: 2,
  });
  const images = tf.tidy(() => tf.div(tf.floor(tf.randomUniform([16, 4], 0, 6, 'float32', 3)), 5));
  const trainer = new FlowGanTrainer({
    model,
    data: dequantizedBatches(images, 8, 6),
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
    trainer.dispose();
    model.dispose();
    images.dispose();
  };
  return { trainer, model, state, dispose };
}
