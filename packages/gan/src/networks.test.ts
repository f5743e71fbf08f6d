import { Rng, ShapeError, tf, ValueError } from '@dgm-js/core-tensors';
import { expectNoLeaks } from '@dgm-js/test-utils';
import { describe, expect, it } from 'vitest';
import { MlpCritic, MlpGenerator } from './networks.js';

describe('MLP generator', () => {
  it('generates [n, ...outputShape], reproducibly from the rng', () => {
    const g = new MlpGenerator({
      latentDim: 4,
      outputShape: [2, 3],
      hidden: [16],
      rng: new Rng(0),
    });
    const a = g.generate(5, new Rng(7));
    const b = g.generate(5, new Rng(7));
    const c = g.generate(5, new Rng(8));
    expect(a.shape).toEqual([5, 2, 3]);
    expect(Array.from(b.dataSync())).toEqual(Array.from(a.dataSync()));
    expect(Array.from(c.dataSync())).not.toEqual(Array.from(a.dataSync()));
    // generate = forward(sampleLatent) with the same stream
    const z = g.sampleLatent(5, new Rng(7));
    expect(g.forward(z)).toBeAllclose(a);
    tf.dispose([a, b, c, z]);
    g.dispose();
  });

  it('conditional: the label changes the output; labels are checked', () => {
    const g = new MlpGenerator({
      latentDim: 3,
      outputShape: 2,
      hidden: [8],
      numClasses: 4,
      rng: new Rng(1),
    });
    const z = tf.randomNormal([3, 3], 0, 1, 'float32', 3);
    const y0 = g.forward(z, tf.tensor1d([0, 0, 0], 'int32'));
    const y1 = g.forward(z, tf.tensor1d([1, 1, 1], 'int32'));
    expect(tf.tidy(() => tf.max(tf.abs(tf.sub(y0, y1))).dataSync()[0]!)).toBeGreaterThan(1e-3);
    const s = g.generate(3, new Rng(0), { labels: [3, 2, 1] });
    expect(s.shape).toEqual([3, 2]);
    expect(() => g.generate(3, new Rng(0))).toThrow(/conditional \(numClasses 4\)/);
    expect(() => g.generate(3, new Rng(0), { labels: [0, 4, 1] })).toThrow(
      /\[0, 4\), got 4 at index 1/,
    );
    expect(() => g.generate(3, new Rng(0), { labels: [0, 1] })).toThrow(ShapeError);
    expect(() => g.forward(tf.zeros([3, 5]), tf.zeros([3], 'int32'))).toThrow(
      /z must have shape \[N, 3\], got \[3, 5\]/,
    );
    tf.dispose([z, y0, y1, s]);
    g.dispose();
    const u = new MlpGenerator({ latentDim: 3, outputShape: 2, hidden: [8], rng: new Rng(1) });
    expect(() => u.generate(2, new Rng(0), { labels: [0, 1] })).toThrow(/unconditional/);
    u.dispose();
  });

  it('validates its options', () => {
    const rng = new Rng(0);
    expect(() => new MlpGenerator({ latentDim: 0, outputShape: 2, hidden: [4], rng })).toThrow(
      ValueError,
    );
    expect(() => new MlpGenerator({ latentDim: 2, outputShape: [2, 0], hidden: [4], rng })).toThrow(
      /outputShape/,
    );
    expect(() => new MlpGenerator({ latentDim: 2, outputShape: 2, hidden: [4.5], rng })).toThrow(
      /hidden/,
    );
    expect(
      () => new MlpGenerator({ latentDim: 2, outputShape: 2, hidden: [4], rng, numClasses: 1 }),
    ).toThrow(/numClasses/);
    expect(() => new MlpGenerator({ latentDim: 2, outputShape: 2, hidden: [4] } as never)).toThrow(
      /rng/,
    );
  });
});

describe('MLP critic', () => {
  it('scores [N] from [N, ...inputShape]; conditional projection depends on the label', () => {
    const d = new MlpCritic({ inputShape: [2, 2], hidden: [8, 8], numClasses: 3, rng: new Rng(2) });
    const x = tf.randomNormal([4, 2, 2], 0, 1, 'float32', 1);
    const a = d.score(x, tf.tensor1d([0, 1, 2, 0], 'int32'));
    const b = d.score(x, tf.tensor1d([1, 2, 0, 1], 'int32'));
    expect(a.shape).toEqual([4]);
    expect(tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]!)).toBeGreaterThan(1e-4);
    expect(() => d.score(tf.zeros([4, 4]), tf.zeros([4], 'int32'))).toThrow(
      /x must have shape \[N, 2, 2\], got \[4, 4\]/,
    );
    expect(() => new MlpCritic({ inputShape: 2, hidden: [], rng: new Rng(0) })).toThrow(/hidden/);
    expect(
      () =>
        new MlpCritic({ inputShape: 2, hidden: [4], activation: 'elu' as never, rng: new Rng(0) }),
    ).toThrow(/second derivative/);
    tf.dispose([x, a, b]);
    d.dispose();
  });

  it('has parameters named by layer, spectral-norm buffers when asked', () => {
    const d = new MlpCritic({ inputShape: 2, hidden: [4], spectralNorm: true, rng: new Rng(3) });
    expect(d.namedParameters().map(([n]) => n)).toEqual([
      'layers.0.kernel',
      'layers.0.bias',
      'out.kernel',
      'out.bias',
    ]);
    expect(d.namedBuffers().map(([n]) => n)).toEqual([
      'layers.0.sn_u',
      'layers.0.sn_v',
      'out.sn_u',
      'out.sn_v',
    ]);
    d.dispose();
  });

  it('generate and score leak nothing, with and without gradients', async () => {
    const g = new MlpGenerator({
      latentDim: 3,
      outputShape: 2,
      hidden: [8],
      numClasses: 2,
      rng: new Rng(4),
    });
    const d = new MlpCritic({ inputShape: 2, hidden: [8], numClasses: 2, rng: new Rng(5) });
    const labels = tf.tensor1d([0, 1, 1], 'int32');
    await expectNoLeaks(() => {
      const x = g.generate(3, new Rng(1), { labels });
      d.score(x, labels).dispose();
      x.dispose();
      const { value, grads } = tf.variableGrads(
        () => tf.sum(d.score(g.generate(3, new Rng(2), { labels }), labels)) as tf.Scalar,
      );
      expect(Object.keys(grads).length).toBe(g.parameters().length + d.parameters().length);
      value.dispose();
      tf.dispose(grads);
    }, 'generate + score');
    labels.dispose();
    g.dispose();
    d.dispose();
  });
});
