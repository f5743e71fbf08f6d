/**
 * A small, fully deterministic InfoVAE training run on the core `Trainer` (test-only): shared by
 * the kill/resume test and its child process. 64 fixed binary vectors of 12 values, shuffled
 * minibatches of 8 drawn from the per-epoch stream, the loss's draws from the per-step stream.
 */
import { mlp, Rng, type StepInfo, type TensorBatch, Trainer, tf } from '@dgm-js/core-tensors';
import { bernoulliDecoder, gaussianEncoder, stdNormal } from '@dgm-js/vae';
import { InfoVAE } from './infovae.js';

const D = 12;

/** Builds the model and its trainer (checkpoints every 3 steps when `dir` is given; resumes). */
export function toyInfoVae(o: {
  dir?: string;
  steps: number;
  onStep?: (i: StepInfo) => Promise<void>;
}) {
  const rng = new Rng(1);
  const model = new InfoVAE({
    encoder: gaussianEncoder(mlp([D, 16, 4], { rng, activation: 'tanh' })),
    decoder: bernoulliDecoder(mlp([2, 16, D], { rng, activation: 'tanh' })),
    prior: stdNormal(2),
    alpha: 0,
    lambda: 50,
    priorSamples: 40,
  });
  const all = tf.tidy(() =>
    tf.cast(tf.less(tf.randomUniform([64, D], 0, 1, 'float32', 17), 0.4), 'float32'),
  );
  // a generator: each batch's tensor is made when its step comes, and disposed after it
  function* data(_epoch: number, r: Rng): Generator<TensorBatch<{ x: tf.Tensor }>> {
    const idx = Array.from({ length: 64 }, (_, i) => i);
    for (let i = idx.length - 1; i > 0; i--) {
      const j = Math.floor(r.float() * (i + 1));
      [idx[i], idx[j]] = [idx[j]!, idx[i]!];
    }
    for (let b = 0; b < 64; b += 8) {
      const x = tf.tidy(() => tf.gather(all, tf.tensor1d(idx.slice(b, b + 8), 'int32')));
      yield { tensors: { x }, size: 8, dispose: () => x.dispose() };
    }
  }
  const trainer = new Trainer({
    model,
    objective: model.objective(),
    data,
    optimizer: tf.train.adam(1e-2),
    maxSteps: o.steps,
    seed: 3,
    quiet: true,
    disposeBatch: true,
    ...(o.dir ? { checkpoint: { dir: o.dir, every: 3, keep: 100 }, resume: true } : {}),
    ...(o.onStep ? { onStep: o.onStep } : {}),
  });
  return {
    trainer,
    /** Parameters by name as plain arrays. */
    state: (): Record<string, number[]> =>
      Object.fromEntries(model.namedParameters().map(([n, v]) => [n, Array.from(v.dataSync())])),
    dispose: () => {
      all.dispose();
      model.dispose();
    },
  };
}
