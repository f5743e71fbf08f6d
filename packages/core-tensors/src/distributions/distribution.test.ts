import { describe, expect, it } from 'vitest';
import { ShapeError, ValueError } from '../errors.js';
import { Rng } from '../rng.js';
import { tf } from '../tf.js';
import { Bernoulli } from './bernoulli.js';
import { Categorical } from './categorical.js';
import { broadcastShapes } from './distribution.js';
import { Independent } from './independent.js';
import { Normal } from './normal.js';
import { RelaxedOneHotCategorical } from './relaxed.js';

const live = () => tf.memory().numTensors;

describe('tensor ownership', () => {
  it('keeps float32 parameter tensors by reference and never disposes them', () => {
    const loc = tf.tensor1d([0, 1]);
    const scale = tf.tensor1d([1, 2]);
    const before = live();
    const d = new Normal(loc, scale);
    expect(d.loc).toBe(loc);
    expect(d.scale).toBe(scale);
    expect(live()).toBe(before); // nothing created
    d.dispose();
    expect(loc.isDisposed || scale.isDisposed).toBe(false);
    tf.dispose([loc, scale]);
  });

  it('owns what it creates (from numbers, arrays, casts, derived parameters) and dispose() frees it', () => {
    const before = live();
    const d = new Normal([0, 1], 2);
    expect(live()).toBe(before + 2);
    d.dispose();
    expect(live()).toBe(before);
    d.dispose(); // idempotent
    expect(d.isDisposed).toBe(true);

    const ints = tf.tensor1d([0, 1], 'int32');
    const n = live();
    const c = new Normal(ints, 1);
    expect(c.loc.dtype).toBe('float32');
    c.dispose();
    expect(live()).toBe(n);
    expect(ints.isDisposed).toBe(false);
    ints.dispose();

    const logits = tf.tensor1d([0.5, -1]);
    const m = live();
    const b = new Bernoulli({ logits });
    expect(live()).toBe(m + 1); // probs = sigmoid(logits)
    b.dispose();
    expect(live()).toBe(m);
    logits.dispose();
  });

  it('wrappers own the distributions they wrap', () => {
    const before = live();
    const base = new Normal([[0, 1]], 1);
    const ind = new Independent(base, 1);
    ind.dispose();
    expect(base.isDisposed).toBe(true);
    expect(live()).toBe(before);
    const r = new RelaxedOneHotCategorical(0.5, { logits: [0, 1] });
    r.dispose();
    expect(r.base.isDisposed).toBe(true);
    expect(live()).toBe(before);
  });

  it('a distribution made inside tf.tidy lives in that scope only', () => {
    const before = live();
    const out = tf.tidy(() => {
      const d = new Categorical({ probs: [0.2, 0.8] });
      return d.logProb(tf.tensor1d([1], 'int32'));
    });
    expect(live()).toBe(before + 1);
    expect(out).toBeAllclose([Math.log(0.8)], { rtol: 1e-6 });
    out.dispose();
  });

  it('gradients flow to parameter tensors passed in', () => {
    const loc = tf.tensor1d([0.5]);
    const g = tf.grad((l: tf.Tensor) => tf.sum(new Normal(l, 1).logProb(tf.tensor1d([2]))))(loc);
    expect(g).toBeAllclose([1.5]);
    tf.dispose([loc, g]);
  });
});

describe('shapes and arguments', () => {
  it('batch shape is the broadcast of the parameters; samples are [...sample, ...batch, ...event]', () => {
    tf.tidy(() => {
      const d = new Normal(tf.zeros([3, 1]), tf.ones([4]));
      expect(d.batchShape).toEqual([3, 4]);
      expect(d.eventShape).toEqual([]);
      expect(d.sample({ sampleShape: [2, 5], rng: new Rng(0) }).shape).toEqual([2, 5, 3, 4]);
      expect(d.sample({ rng: new Rng(0) }).shape).toEqual([3, 4]);
      expect(d.mean.shape).toEqual([3, 4]);
      expect(d.entropy().shape).toEqual([3, 4]);
      // the returned shapes are copies
      d.batchShape.push(9);
      expect(d.batchShape).toEqual([3, 4]);
    });
  });

  it('broadcastShapes follows numpy and names the shapes when it fails', () => {
    expect(broadcastShapes([3, 1], [4], 'x')).toEqual([3, 4]);
    expect(broadcastShapes([], [2, 2], 'x')).toEqual([2, 2]);
    expect(() => broadcastShapes([3], [4], 'here')).toThrow(ShapeError);
    expect(() => broadcastShapes([3], [4], 'here')).toThrow(/here: shapes \[3\] and \[4\]/);
  });

  it('rejects disposed and malformed parameters', () => {
    const t = tf.tensor1d([1]);
    t.dispose();
    expect(() => new Normal(t, 1)).toThrow(/disposed tensor/);
    expect(() => new Normal('a' as never, 1)).toThrow(ValueError);
    const d = new Normal(0, 1);
    expect(() => d.logProb([1, 2] as never)).toThrow(/must be a tf.Tensor/);
    d.dispose();
  });
});
