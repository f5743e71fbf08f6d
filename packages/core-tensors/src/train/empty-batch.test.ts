/**
 * A 0-row batch is a typed error before anything is applied (issue 19, finding 5): on wasm the
 * mean of nothing is a tiny garbage number (3.6e-41) that used to be trained on.
 */
import { describe, expect, it } from 'vitest';
import { ShapeError } from '../errors.js';
import { mlp } from '../nn/layers.js';
import { Rng } from '../rng.js';
import { tf } from '../tf.js';
import { Trainer } from './trainer.js';

describe('Trainer: empty batches', () => {
  it('a batch with 0 rows is a ShapeError naming the batch; the model is unchanged and nothing leaks', async () => {
    const net = mlp([2, 3, 1], { rng: new Rng(0) });
    const before = net.parameters().map((v) => Array.from(v.dataSync()));
    const good = tf.ones([4, 2]);
    const empty = tf.zeros([0, 2]);
    const optimizer = tf.train.sgd(0.1);
    const n0 = tf.memory().numTensors;
    let calls = 0;
    const trainer = new Trainer({
      model: net,
      objective: (x: tf.Tensor) => {
        calls++;
        return { loss: tf.mean(tf.square(net.apply(x))) };
      },
      data: [good, empty],
      optimizer,
      maxSteps: 5,
      quiet: true,
    });
    const err = (await trainer.fit().catch((e: unknown) => e)) as ShapeError;
    expect(err).toBeInstanceOf(ShapeError);
    expect(err.message).toMatch(/batch 1 of epoch 0 has 0 rows \(step 2\)/);
    expect(calls).toBe(1); // the empty batch never reached the objective
    expect(trainer.step).toBe(1);
    expect(tf.memory().numTensors).toBeLessThanOrEqual(n0 + 2); // optimizer slots of step 1
    const after = net.parameters().map((v) => Array.from(v.dataSync()));
    expect(after).not.toEqual(before); // step 1 trained
    tf.dispose([good, empty]);
    optimizer.dispose();
    net.dispose();
  });
});
