/**
 * `batches(ds, ...)` goes straight into core's Trainer: typed batches, disposed by the Trainer
 * after their step (no adapter, no `disposeBatch`), and an exact resume when the data source is
 * a function of the epoch.
 */
import {
  MemoryCheckpointStore,
  type Tensor2D,
  type TensorBatch,
  Trainer,
  tf,
} from '@dgm-js/core-tensors';
import { expectNoLeaks } from '@dgm-js/test-utils';
import { describe, expect, it } from 'vitest';
import { batches } from './batch.js';
import { toyDataset } from './toy.js';

/** A diagonal Gaussian fitted by maximum likelihood: its parameters and mean NLL (+ const). */
function gaussian() {
  const mu = tf.tidy(() => tf.variable(tf.zeros([2]), true, 'gauss-mu'));
  const logSigma = tf.tidy(() => tf.variable(tf.zeros([2]), true, 'gauss-log-sigma'));
  const nll = (x: Tensor2D) =>
    tf.tidy(() => {
      const z = tf.div(tf.sub(x, mu), tf.exp(logSigma));
      return tf.mean(tf.sum(tf.add(logSigma, tf.mul(0.5, tf.square(z))), 1)) as tf.Scalar;
    });
  return { mu, logSigma, nll, dispose: () => tf.dispose([mu, logSigma]) };
}

describe('datasets -> Trainer', () => {
  const ds = toyDataset('8gaussians', { size: 256, seed: 3 });

  it('new Trainer({ data: batches(ds, ...) }) trains as written and leaks nothing', async () => {
    const g = gaussian();
    const optimizer = tf.train.adam(0.05);
    const make = (maxSteps: number) =>
      new Trainer({
        model: [g.mu, g.logSigma],
        // the batch is datasets' typed Batch: tensors.x is a Tensor2D
        objective: (b) => ({ loss: g.nll(b.tensors.x) }),
        data: batches(ds, { batchSize: 64, seed: 1, epochs: Number.POSITIVE_INFINITY }),
        optimizer,
        maxSteps,
        quiet: true,
      });
    await make(1).fit(); // warm-up: Adam's slots
    const res = await expectNoLeaks(() => make(8).fit(), 'Trainer over batches(ds)');
    expect(res.step).toBe(8);
    expect(res.history.every((h) => Number.isFinite(h.loss))).toBe(true);
    // datasets' Batch is core's structural TensorBatch (a compile-time check)
    const asCore: TensorBatch<{ readonly x: Tensor2D }> = [...batches(ds, { batchSize: 256 })][0]!;
    expect(asCore.size).toBe(256);
    asCore.dispose();
    g.dispose();
    optimizer.dispose();
  });

  it('full-batch maximum likelihood from batches(ds) reaches the sample mean and variance', async () => {
    const g = gaussian();
    const optimizer = tf.train.adam(0.05);
    // one batch per epoch, a function of the epoch (fresh order each epoch, exact resume); the
    // `epoch: number` annotation lets TypeScript infer the batch type before it types `objective`
    const res = await new Trainer({
      model: [g.mu, g.logSigma],
      objective: (b) => ({ loss: g.nll(b.tensors.x) }),
      data: (epoch: number) => batches(ds, { batchSize: ds.size, seed: 1, startEpoch: epoch }),
      optimizer,
      epochs: 600,
      quiet: true,
    }).fit();
    expect(res.step).toBe(600);
    // the MLE in float64 from the points themselves
    const p = ds.points;
    const n = ds.size;
    const mean = [0, 0];
    const v = [0, 0];
    for (let i = 0; i < n; i++) for (let d = 0; d < 2; d++) mean[d]! += p[2 * i + d]! / n;
    for (let i = 0; i < n; i++) {
      for (let d = 0; d < 2; d++) v[d]! += (p[2 * i + d]! - mean[d]!) ** 2 / n;
    }
    expect(Array.from(g.mu.dataSync())).toBeAllclose(mean, { rtol: 0, atol: 2e-3 });
    expect(Array.from(g.logSigma.dataSync())).toBeAllclose(
      v.map((x) => 0.5 * Math.log(x)),
      { rtol: 0, atol: 2e-3 },
    );
    g.dispose();
    optimizer.dispose();
  });

  it('abort and resume from a checkpoint continue the batches exactly (bit-identical parameters)', async () => {
    const run = async (store: MemoryCheckpointStore | undefined, abortAt?: number) => {
      const g = gaussian();
      const optimizer = tf.train.adam(0.05);
      const ctl = new AbortController();
      const trainer = new Trainer({
        model: [g.mu, g.logSigma],
        objective: (b) => ({ loss: g.nll(b.tensors.x) }),
        data: (epoch: number) => batches(ds, { batchSize: 48, seed: 5, startEpoch: epoch }),
        optimizer,
        maxSteps: 14, // 6 batches per epoch: the abort at 4 and the end at 14 are mid-epoch
        quiet: true,
        signal: ctl.signal,
        ...(store ? { checkpoint: { store }, resume: true } : {}),
        onStep: (i) => {
          if (i.step === abortAt) ctl.abort();
        },
      });
      const r = await trainer.fit();
      const params = [...g.mu.dataSync(), ...g.logSigma.dataSync()];
      g.dispose();
      optimizer.dispose();
      return { r, params };
    };
    const before = tf.memory().numTensors;
    const full = await run(undefined);
    const store = new MemoryCheckpointStore();
    expect((await run(store, 4)).r.step).toBe(4);
    const resumed = await run(store);
    expect(resumed.r.resumedFrom).toBe('memory:step-00000004');
    expect(resumed.r.step).toBe(14);
    expect(resumed.params).toEqual(full.params);
    expect(tf.memory().numTensors).toBe(before);
  });
});
