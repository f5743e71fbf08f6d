/**
 * The Trainer takes batches that own their tensors (the structural TensorBatch: what
 * `@dgm-js/datasets`' `batches(...)` yields, mimicked here without importing datasets) as they
 * come, and disposes them after their step: no adapter, no `disposeBatch`.
 */
import { expectNoLeaks } from '@dgm-js/test-utils';
import { afterEach, describe, expect, it } from 'vitest';
import { mlp } from '../nn/layers.js';
import { Rng } from '../rng.js';
import { tf } from '../tf.js';
import { MemoryCheckpointStore } from './checkpoint.js';
import replica, {
  type FixtureBatch,
  type FixtureTensorBatch,
} from './fixtures/parallel-replica.mjs';
import { liveParallelWorkers } from './parallel.js';
import { Trainer } from './trainer.js';
import type { TensorBatch } from './types.js';

/** datasets' Batch, field for field: tensors, epoch, index, step, size, indices, dispose. */
interface XYBatch {
  readonly tensors: { readonly x: tf.Tensor2D; readonly y: tf.Tensor2D };
  readonly epoch: number;
  readonly index: number;
  readonly step: number;
  readonly size: number;
  readonly indices: Int32Array;
  dispose(): void;
}

/** Counts the batches made and disposed, and keeps them to check they were freed. */
class Source {
  made: XYBatch[] = [];
  disposed = 0;
  /** `perEpoch` fresh batches of 8 rows of y = x0 - 2 x1, the epoch's own draw. */
  *epoch(epoch: number, perEpoch = 4): Generator<XYBatch> {
    const rng = new Rng(epoch + 1);
    for (let b = 0; b < perEpoch; b++) {
      const xs: number[] = [];
      const ys: number[] = [];
      for (let i = 0; i < 8; i++) {
        const x0 = rng.float() * 2 - 1;
        const x1 = rng.float() * 2 - 1;
        xs.push(x0, x1);
        ys.push(x0 - 2 * x1);
      }
      const tensors = { x: tf.tensor2d(xs, [8, 2]), y: tf.tensor2d(ys, [8, 1]) };
      const batch: XYBatch = {
        tensors,
        epoch,
        index: b,
        step: this.made.length,
        size: 8,
        indices: new Int32Array(8),
        dispose: () => {
          this.disposed++;
          tf.dispose([tensors.x, tensors.y]);
        },
      };
      this.made.push(batch);
      yield batch;
    }
  }
}

function mse(pred: tf.Tensor, y: tf.Tensor): tf.Scalar {
  return tf.mean(tf.square(tf.sub(pred, y))) as tf.Scalar;
}

describe('Trainer: batches that own their tensors (TensorBatch)', () => {
  it('disposes each batch of an iterator after its step: no leak, no adapter, no disposeBatch', async () => {
    const net = mlp([2, 8, 1], { rng: new Rng(0), activation: 'tanh' });
    const optimizer = tf.train.adam(0.02);
    const src = new Source();
    // types: the batch type comes from the data source, and the objective reads b.tensors
    const make = (epochs: number) =>
      new Trainer({
        model: net,
        objective: (b) => ({ loss: mse(net.apply(b.tensors.x), b.tensors.y) }),
        data: (epoch: number) => src.epoch(epoch),
        optimizer,
        epochs,
        quiet: true,
      });
    await make(1).fit(); // warm-up: Adam's slots
    const examples: (number | undefined)[] = [];
    const again = new Trainer({
      model: net,
      objective: (b: XYBatch) => ({ loss: mse(net.apply(b.tensors.x), b.tensors.y) }),
      data: (epoch: number) => src.epoch(epoch),
      optimizer,
      epochs: 3,
      quiet: true,
      onProgress: (p) => examples.push(p.examplesPerSec),
    });
    const res = await expectNoLeaks(() => again.fit(), 'Trainer.fit over TensorBatches');
    expect(res.step).toBe(12);
    expect(src.made).toHaveLength(16);
    expect(src.disposed).toBe(16);
    for (const b of src.made) expect(b.tensors.x.isDisposed && b.tensors.y.isDisposed).toBe(true);
    // the examples come from `size`
    expect(examples.at(-1)).toBeGreaterThan(0);
    net.dispose();
    optimizer.dispose();
  });

  it('an array of TensorBatches is re-used every epoch (not disposed); disposeBatch: false keeps them too', async () => {
    const net = mlp([2, 4, 1], { rng: new Rng(1) });
    const optimizer = tf.train.sgd(0.05);
    const src = new Source();
    const fixed = [...src.epoch(0, 2)];
    const res = await new Trainer({
      model: net,
      objective: (b) => ({ loss: mse(net.apply(b.tensors.x), b.tensors.y) }),
      data: fixed,
      optimizer,
      epochs: 3,
      quiet: true,
    }).fit();
    expect(res.step).toBe(6);
    expect(src.disposed).toBe(0);
    const kept = new Source();
    await new Trainer({
      model: net,
      objective: (b: XYBatch) => ({ loss: mse(net.apply(b.tensors.x), b.tensors.y) }),
      data: kept.epoch(0, 3),
      optimizer,
      maxSteps: 3,
      disposeBatch: false,
      memoryCheck: 'off',
      quiet: true,
    }).fit();
    expect(kept.disposed).toBe(0);
    for (const b of [...fixed, ...kept.made]) b.dispose();
    net.dispose();
    optimizer.dispose();
  });

  it('a resumed run disposes the batches it skips to reach its place in the epoch', async () => {
    const store = new MemoryCheckpointStore();
    const run = async (src: Source, extra: { resume?: boolean; signal?: AbortSignal }) => {
      const net = mlp([2, 4, 1], { rng: new Rng(2) });
      const optimizer = tf.train.adam(0.01);
      const ctl = new AbortController();
      const trainer = new Trainer({
        model: net,
        objective: (b) => ({ loss: mse(net.apply(b.tensors.x), b.tensors.y) }),
        data: (epoch: number) => src.epoch(epoch),
        optimizer,
        maxSteps: 6,
        checkpoint: { store },
        signal: ctl.signal,
        onStep: (i) => {
          if (!extra.resume && i.step === 3) ctl.abort();
        },
        quiet: true,
        ...extra,
      });
      const r = await trainer.fit();
      net.dispose();
      optimizer.dispose();
      return r;
    };
    const before = tf.memory().numTensors;
    const first = new Source();
    expect((await run(first, {})).step).toBe(3);
    const second = new Source();
    const r = await run(second, { resume: true });
    expect(r.step).toBe(6);
    // epoch 0 again: 3 batches skipped, 1 trained; epoch 1: 2 trained (the budget ends there)
    expect(second.made.map((b) => `${b.epoch}.${b.index}`)).toEqual([
      '0.0',
      '0.1',
      '0.2',
      '0.3',
      '1.0',
      '1.1',
    ]);
    expect(second.disposed).toBe(second.made.length);
    expect(first.disposed).toBe(first.made.length);
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe('Trainer parallel: TensorBatches', () => {
  afterEach(() => {
    expect(liveParallelWorkers()).toBe(0);
  });

  it('main thread + 1 worker on TensorBatches: the single-process result, each batch disposed', async () => {
    const rng = new Rng(7);
    const recs: FixtureBatch[] = [9, 12, 7].map((rows) => ({
      x: tf.randomNormal([rows, 4], 0, 1, 'float32', rng.next()),
      y: tf.randomNormal([rows, 3], 0, 1, 'float32', rng.next()),
    }));
    let disposed = 0;
    const wrapped = (): FixtureTensorBatch[] =>
      recs.map((r) => ({ tensors: r, size: r.x.shape[0]!, dispose: () => void disposed++ }));
    const train = async (parallel: boolean) => {
      const { model, loss } = replica({
        workerIndex: -1,
        workers: parallel ? 1 : 0,
        options: { tensorBatch: parallel },
        backend: tf.getBackend(),
      });
      const optimizer = tf.train.adam(0.02);
      const trainer = new Trainer<FixtureBatch | TensorBatch<FixtureBatch>>({
        model,
        objective: loss,
        data: parallel ? () => wrapped() : recs,
        optimizer,
        maxSteps: 6,
        quiet: true,
        ...(parallel
          ? {
              parallel: {
                workers: 1,
                module: new URL('./fixtures/parallel-replica.mjs', import.meta.url),
                execArgv: [],
                options: { tensorBatch: true },
              },
            }
          : {}),
      });
      const r = await trainer.fit();
      const params = model.namedParameters().map(([, v]) => Array.from(v.dataSync()));
      model.dispose();
      optimizer.dispose();
      return { r, params };
    };
    const single = await train(false);
    const par = await train(true);
    expect(par.r.step).toBe(6);
    par.params.forEach((p, i) => {
      expect(p).toBeAllclose(single.params[i]!, { rtol: 1e-5, atol: 1e-6 });
    });
    expect(disposed).toBe(6);
    tf.dispose(recs.flatMap((r) => [r.x, r.y]));
  });
});
