/**
 * Estimator state in the Trainer's checkpoints and in the NaN guard's rollback (issue 19,
 * finding 1): a discrete VAE trained with RELAX (control-variate network + its optimiser) or
 * with an annealed Gumbel-Softmax (the schedule's step) resumes bit-identically after a crash,
 * and a diverging control variate is named as such.
 *
 * A crash is simulated in-process as a SIGKILL would leave things: a callback throws at step
 * `crashAt` (nothing is saved on the way out), and the resumed run is built from scratch (fresh
 * model, estimator and optimiser) from the checkpoints alone.
 */
import {
  type Callback,
  type GradientEstimator,
  MemoryCheckpointStore,
  NonFiniteError,
  Rng,
  Trainer,
  tf,
} from '@dgm-js/core-tensors';
import { exponentialTemperature, gumbelSoftmax, relax } from '@dgm-js/estimators';
import { describe, expect, it } from 'vitest';
import { CategoricalVAE } from './discrete.js';

const D = 12;

function batches(): tf.Tensor[] {
  return [0, 1, 2, 3].map((s) =>
    tf.tidy(() =>
      tf.cast(tf.less(tf.randomUniform([6, D], 0, 1, 'float32', 100 + s), 0.4), 'float32'),
    ),
  );
}

type Make = () => GradientEstimator;

const makeRelax: Make = () => relax({ hidden: 6, learningRate: 3e-2, seed: 3 });
const makeGumbel: Make = () =>
  gumbelSoftmax({ temperature: exponentialTemperature({ rate: 0.02, min: 0.05 }) });

class Crash extends Error {}

interface RunOut {
  params: number[][];
  state: ReturnType<GradientEstimator['getState']>;
  temperature: number | undefined;
}

async function run(
  make: Make,
  o: { maxSteps: number; store?: MemoryCheckpointStore; crashAt?: number; resume?: boolean },
): Promise<RunOut> {
  const est = make();
  const vae = CategoricalVAE.mlp({
    inputDim: D,
    hidden: [10],
    latents: 3,
    categories: 4,
    estimator: est,
    rng: new Rng(7),
  });
  const data = batches();
  const optimizer = tf.train.adam(1e-2);
  const crash: Callback = {
    name: 'crash',
    onStepEnd: (t) => {
      if (t.step === o.crashAt) throw new Crash(`killed at ${t.step}`);
    },
  };
  const trainer = new Trainer({
    model: vae,
    objective: vae.objective(),
    data,
    optimizer,
    maxSteps: o.maxSteps,
    quiet: true,
    ...(o.store ? { checkpoint: { store: o.store, every: 10, keep: 100 } } : {}),
    ...(o.resume ? { resume: true } : {}),
    callbacks: [crash],
  });
  try {
    await trainer.fit();
    const temp = (est as { temperature?: number }).temperature;
    return {
      params: vae.parameters().map((v) => Array.from(v.dataSync())),
      state: est.getState(),
      temperature: temp,
    };
  } finally {
    vae.dispose();
    optimizer.dispose();
    tf.dispose(data);
  }
}

describe('estimator state in checkpoints (issue 19, finding 1)', () => {
  it.each([
    ['relax (control-variate net + its Adam)', makeRelax],
    ['annealed gumbel-softmax (schedule step)', makeGumbel],
  ] as const)(
    '%s: a crash at step 25 and a resume give the uninterrupted run bit for bit',
    async (_n, make) => {
      const before = tf.memory().numTensors;
      const full = await run(make, { maxSteps: 40 });
      const store = new MemoryCheckpointStore();
      await expect(run(make, { maxSteps: 40, store, crashAt: 25 })).rejects.toBeInstanceOf(Crash);
      const resumed = await run(make, { maxSteps: 40, store, resume: true });
      expect(resumed.state.step).toBe(40);
      expect(resumed.state).toEqual(full.state);
      expect(resumed.temperature).toBe(full.temperature);
      expect(resumed.params).toEqual(full.params);
      expect(tf.memory().numTensors).toBe(before);
    },
  );
});

describe('the NaN guard and estimator state', () => {
  it('rollback restores the estimator state with the model and optimiser', async () => {
    const est = makeRelax();
    const vae = CategoricalVAE.mlp({
      inputDim: D,
      hidden: [10],
      latents: 3,
      categories: 4,
      estimator: est,
      rng: new Rng(7),
    });
    const data = batches();
    const optimizer = tf.train.adam(1e-2);
    const store = new MemoryCheckpointStore();
    let saved: ReturnType<GradientEstimator['getState']> | undefined;
    let restored: ReturnType<GradientEstimator['getState']> | undefined;
    const probe: Callback = {
      name: 'probe',
      onCheckpoint: (_t, e) => {
        if (e.step === 10 && !saved) saved = est.getState();
      },
      onStepEnd: (t) => {
        // poison the estimator's state after the checkpoint at step 10: the next steps go NaN
        if (t.step === 12) {
          const s = est.getState();
          for (const x of Object.values(s.tensors)) x.values = x.values.map(() => Number.NaN);
          est.setState(s);
        }
      },
      onRestore: (_t, e) => {
        if (e.mode === 'rollback') restored = est.getState();
      },
    };
    const trainer = new Trainer({
      model: vae,
      objective: vae.objective(),
      data,
      optimizer,
      maxSteps: 16,
      quiet: true,
      checkpoint: { store, every: 10 },
      nanGuard: { onLimit: 'rollback', maxConsecutive: 1 },
      callbacks: [probe],
    });
    const r = await trainer.fit();
    expect(r.step).toBe(16);
    expect(restored).toBeDefined();
    expect(saved?.step).toBe(10);
    expect(restored).toEqual(saved);
    const finite = Object.values(est.getState().tensors).every((t) =>
      t.values.every(Number.isFinite),
    );
    expect(finite).toBe(true);
    vae.dispose();
    optimizer.dispose();
    tf.dispose(data);
  });

  it('a control-variate learning rate of 10: the error names the estimator state and its learning rate', async () => {
    const est = relax({ hidden: 6, learningRate: 10, optimizer: 'sgd' });
    const vae = CategoricalVAE.mlp({
      inputDim: D,
      hidden: [10],
      latents: 3,
      categories: 4,
      estimator: est,
      rng: new Rng(7),
    });
    const data = batches();
    const optimizer = tf.train.adam(1e-3);
    const store = new MemoryCheckpointStore();
    const trainer = new Trainer({
      model: vae,
      objective: vae.objective(),
      data,
      optimizer,
      maxSteps: 400,
      quiet: true,
      checkpoint: { store, every: 1 },
      nanGuard: { onLimit: 'rollback', maxRollbacks: 2 },
    });
    const err = await trainer.fit().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(NonFiniteError);
    const e = err as NonFiniteError;
    expect(e.component).toBe('estimator state');
    expect(e.badState.length).toBeGreaterThan(0);
    expect(e.message).toMatch(/relax/);
    expect(e.message).toMatch(/learningRate/);
    expect(e.message).not.toMatch(/Lower the learning rate/);
    vae.dispose();
    optimizer.dispose();
    tf.dispose(data);
  });
});
