/**
 * The Learner trains control-variate parameters with core's adam, its slots in the estimator's
 * state: its steps equal core's Adam on the same problem (an independent run of the same
 * optimizer on trainable copies), its slots round-trip through the state, and it leaks nothing.
 */
import { adam, tf } from '@dgm-js/core-tensors';
import { expectNoLeaks } from '@dgm-js/test-utils';
import { expect, it } from 'vitest';
import { Learner, StateStore } from './state.js';

type Tensor = tf.Tensor;

const target = [0.5, -1.5, 2];
const loss = (w: Tensor, b: Tensor) =>
  tf.add(tf.sum(tf.square(tf.sub(w, tf.tensor1d(target)))), tf.square(tf.sub(b, 3)));

it("Learner's Adam steps equal core adam's, and its state round-trips and resumes exactly", async () => {
  const store = new StateStore('test');
  const w = store.ensure('w', [3], () => tf.zeros([3]));
  const b = store.ensure('b', [], () => tf.scalar(1));
  const learner = new Learner(
    store,
    'adam',
    [
      ['w', w],
      ['b', b],
    ],
    { learningRate: 0.1 },
  );
  // reference: core's adam (epsilon 1e-8) on trainable copies
  const w2 = tf.variable(tf.zeros([3]));
  const b2 = tf.variable(tf.scalar(1));
  const opt = adam(0.1, 0.9, 0.999, 1e-8);
  for (let i = 0; i < 5; i++) {
    tf.dispose(tf.tidy(() => learner.minimize(() => loss(w, b))));
    opt.minimize(() => loss(w2, b2) as tf.Scalar, false, [w2, b2]);
  }
  expect(w).toBeAllclose(w2, { rtol: 1e-6, atol: 1e-7 });
  expect(b).toBeAllclose(b2, { rtol: 1e-6, atol: 1e-7 });
  const state = store.serialize('test', 5);
  expect(Object.keys(state.tensors).sort()).toEqual([
    'adam.beta1Power',
    'adam.beta2Power',
    'adam.m.b',
    'adam.m.w',
    'adam.v.b',
    'adam.v.w',
    'b',
    'w',
  ]);
  expect(state.tensors['adam.beta1Power']!.values[0]).toBeCloseTo(0.9 ** 6, 6);
  // a fresh store restored from the state continues exactly as the original
  const copy = new StateStore('test');
  copy.restore(JSON.parse(JSON.stringify(state)), 'test');
  const w3 = copy.ensure('w', [3], () => tf.zeros([3]));
  const b3 = copy.ensure('b', [], () => tf.scalar(1));
  const resumed = new Learner(
    copy,
    'adam',
    [
      ['w', w3],
      ['b', b3],
    ],
    { learningRate: 0.1 },
  );
  expect(copy.serialize('test', 5)).toEqual(state);
  tf.dispose(tf.tidy(() => learner.minimize(() => loss(w, b))));
  tf.dispose(tf.tidy(() => resumed.minimize(() => loss(w3, b3))));
  expect(copy.serialize('test', 6)).toEqual(store.serialize('test', 6));
  // the parameters and slots are not trainable: user optimizers never see them
  expect([w, b].every((v) => !v.trainable)).toBe(true);
  await expectNoLeaks(
    () => tf.dispose(tf.tidy(() => learner.minimize(() => loss(w, b)))),
    'Learner step',
  );
  const before = tf.memory().numTensors;
  store.dispose();
  copy.dispose();
  expect(tf.memory().numTensors).toBe(before - 16);
  opt.dispose();
  tf.dispose([w2, b2]);
});
