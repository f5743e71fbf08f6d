import { disposeAll, expectNoLeaks } from '@dgm-js/test-utils';
import { describe, expect, it } from 'vitest';
import { ShapeError, ValueError } from '../errors.js';
import { Rng } from '../rng.js';
import { tf } from '../tf.js';
import { type ActivationName, activationNames, getActivation } from './activations.js';
import { computeFans, getInitializer, glorotUniform, heNormal } from './init.js';
import { ActivationLayer, Dense, MaskedDense, mlp, Sequential } from './layers.js';
import { Module, StateMismatchError } from './module.js';

function erf(x: number): number {
  // Abramowitz-Stegun 7.1.26 is too coarse; use the series / continued fraction via high-order
  // Taylor for |x| <= 3 (enough here).
  let sum = 0;
  let term = x;
  for (let n = 0; n < 60; n++) {
    sum += term / (2 * n + 1);
    term *= (-x * x) / (n + 1);
  }
  return (2 / Math.sqrt(Math.PI)) * sum;
}

const REF: Record<ActivationName, (x: number) => number> = {
  identity: (x) => x,
  linear: (x) => x,
  relu: (x) => Math.max(x, 0),
  leakyRelu: (x) => (x > 0 ? x : 0.01 * x),
  elu: (x) => (x > 0 ? x : Math.expm1(x)),
  tanh: Math.tanh,
  sigmoid: (x) => 1 / (1 + Math.exp(-x)),
  softplus: (x) => Math.log1p(Math.exp(x)),
  gelu: (x) => 0.5 * x * (1 + erf(x / Math.SQRT2)),
};

/** x W + b computed with loops in float64. */
function denseRef(x: number[][], w: number[][], b: number[] | undefined): number[][] {
  return x.map((row) =>
    w[0]!.map((_, j) => row.reduce((s, xi, i) => s + xi * w[i]![j]!, b ? b[j]! : 0)),
  );
}

describe('activations', () => {
  it('match their formulas and leak nothing', async () => {
    const xs = [-3, -1, -0.25, 0, 0.5, 2];
    const x = tf.tensor1d(xs);
    for (const name of activationNames) {
      const y = getActivation(name)(x);
      expect(y, name).toBeAllclose(xs.map(REF[name]), { rtol: 1e-5, atol: 1e-6 });
      if (y !== x) y.dispose();
    }
    for (const name of activationNames) {
      await expectNoLeaks(() => {
        const y = getActivation(name)(x);
        if (y !== x) y.dispose();
      }, name);
    }
    x.dispose();
    expect(() => getActivation('swish' as ActivationName)).toThrow(
      /unknown activation 'swish'.*relu/,
    );
  });

  it('ActivationLayer returns a new tensor even for identity', async () => {
    const x = tf.tensor1d([-1, 1]);
    const layer = new ActivationLayer('identity');
    await expectNoLeaks(() => layer.apply(x).dispose(), 'ActivationLayer.apply');
    const y = layer.apply(x);
    expect(y).not.toBe(x);
    y.dispose();
    expect(x.isDisposed).toBe(false);
    x.dispose();
  });
});

describe('initializers', () => {
  it('computes fans like Keras', () => {
    expect(computeFans([3, 3, 16, 32])).toEqual({ fanIn: 144, fanOut: 288 });
    expect(computeFans([10, 20])).toEqual({ fanIn: 10, fanOut: 20 });
  });

  it('glorotUniform: bounded by sqrt(6/(in+out)) with variance limit^2/3, reproducible', () => {
    const limit = Math.sqrt(6 / (200 + 300));
    const w = glorotUniform([200, 300], new Rng(5));
    const v = w.dataSync();
    let s = 0;
    let s2 = 0;
    let maxAbs = 0;
    for (const a of v) {
      s += a;
      s2 += a * a;
      maxAbs = Math.max(maxAbs, Math.abs(a));
    }
    expect(maxAbs).toBeLessThanOrEqual(limit);
    expect(maxAbs).toBeGreaterThan(0.99 * limit);
    expect(Math.abs(s / v.length)).toBeLessThan(0.002);
    expect(s2 / v.length).toBeAllclose((limit * limit) / 3, { rtol: 0.02 });
    const again = glorotUniform([200, 300], new Rng(5));
    const other = glorotUniform([200, 300], new Rng(6));
    expect(again).toBeAllclose(w, { rtol: 0, atol: 0 });
    expect(Array.from(other.dataSync().slice(0, 5))).not.toEqual(Array.from(v.slice(0, 5)));
    tf.dispose([w, again, other]);
  });

  it('heNormal has standard deviation sqrt(2/fanIn)', () => {
    const w = heNormal([3, 3, 8, 4000], new Rng(1));
    const v = w.dataSync();
    let s2 = 0;
    for (const a of v) s2 += a * a;
    expect(Math.sqrt(s2 / v.length)).toBeAllclose(Math.sqrt(2 / 72), { rtol: 0.01 });
    w.dispose();
    expect(() => getInitializer('nope' as 'zeros')).toThrow(ValueError);
  });
});

describe('Dense', () => {
  it('computes act(x W + b) for rank-2 and rank-3 input', () => {
    const layer = new Dense(3, 2, { rng: new Rng(0), activation: 'tanh', biasInit: 'ones' });
    const xs = [
      [0.5, -1, 2],
      [1, 0, -0.5],
    ];
    const x = tf.tensor2d(xs);
    const w = layer.kernel.arraySync() as number[][];
    const b = layer.bias!.arraySync() as number[];
    const expected = denseRef(xs, w, b).map((r) => r.map(Math.tanh));
    const y = layer.apply(x);
    expect(y).toBeAllclose(expected, { rtol: 1e-5, atol: 1e-6 });
    const x3 = tf.reshape(x, [2, 1, 3]);
    const y3 = layer.apply(x3);
    expect(y3).toBeAllclose([[expected[0]!], [expected[1]!]], { rtol: 1e-5, atol: 1e-6 });
    tf.dispose([x, y, x3, y3]);
    layer.dispose();
  });

  it('names the layer, the expected and the got shape on bad input', () => {
    const net = mlp([4, 3, 2], { rng: new Rng(0) });
    const x = tf.zeros([5, 4]);
    const bad = tf.zeros([5, 7]);
    expect(() => net.apply(bad)).toThrow(ShapeError);
    expect(() => net.apply(bad)).toThrow(
      "Dense '0': expected input [..., 4] (last axis = inFeatures), got [5, 7].",
    );
    // the second layer's name appears when it is the one that fails
    expect(() => (net.layers[1] as Dense).apply(x)).toThrow(
      /Dense '1': expected input \[\.\.\., 3\].*got \[5, 4\]/,
    );
    tf.dispose([x, bad]);
    net.dispose();
    expect(() => new Dense(0, 2, { rng: new Rng(0) })).toThrow(
      /inFeatures must be an integer >= 1/,
    );
  });

  it('apply leaks nothing (Dense, MaskedDense, mlp)', async () => {
    const rng = new Rng(0);
    const mods = [
      new Dense(3, 2, { rng, activation: 'gelu' }),
      new MaskedDense(
        3,
        2,
        [
          [1, 0],
          [1, 1],
          [0, 1],
        ],
        { rng },
      ),
      mlp([3, 8, 8, 2], { rng, activation: 'elu', outputActivation: 'sigmoid' }),
    ];
    const x = tf.randomNormal([4, 3], 0, 1, 'float32', 1);
    for (const m of mods) {
      await expectNoLeaks(() => m.apply(x).dispose(), `${m.kind}.apply`);
      // and under a gradient tape
      await expectNoLeaks(() => {
        const { value, grads } = tf.variableGrads(
          () => tf.sum(m.apply(x)) as tf.Scalar,
          m.parameters(),
        );
        disposeAll([value, grads]);
      }, `${m.kind} gradient`);
    }
    x.dispose();
    for (const m of mods) m.dispose();
  });
});

describe('MaskedDense', () => {
  const mask = [
    [0, 1, 1],
    [0, 0, 1],
    [1, 0, 0],
  ];

  it('multiplies the mask into the kernel; masked weights get zero gradient', () => {
    const layer = new MaskedDense(3, 3, mask, { rng: new Rng(3), bias: false });
    const xs = [[0.3, -1.2, 0.7]];
    const w = (layer.kernel.arraySync() as number[][]).map((r, i) =>
      r.map((v, j) => v * mask[i]![j]!),
    );
    const x = tf.tensor2d(xs);
    const y = layer.apply(x);
    expect(y).toBeAllclose(denseRef(xs, w, undefined), { rtol: 1e-5, atol: 1e-6 });
    const { value, grads } = tf.variableGrads(
      () => tf.sum(layer.apply(x)) as tf.Scalar,
      [layer.kernel],
    );
    const g = grads[layer.kernel.name]!;
    value.dispose();
    const gv = g.arraySync() as number[][];
    for (let i = 0; i < 3; i++) {
      for (let j = 0; j < 3; j++) {
        if (mask[i]![j] === 0) expect(gv[i]![j] === 0).toBe(true);
        else expect(gv[i]![j]).toBeCloseTo(xs[0]![i]!, 6);
      }
    }
    // output 0 depends only on input 2
    const dx = tf.grad((xi: tf.Tensor) => tf.sum(tf.slice(layer.apply(xi), [0, 0], [1, 1])))(x);
    expect(Array.from(dx.dataSync()).map((v) => v !== 0)).toEqual([false, false, true]);
    tf.dispose([x, y, g, dx]);
    layer.dispose();
  });

  it('checks the mask shape and values, and setMask replaces it', () => {
    const rng = new Rng(0);
    const before = tf.memory().numTensors;
    expect(() => new MaskedDense(3, 2, mask, { rng })).toThrow(
      'MaskedDense: mask must have shape [3, 2], got [3, 3].',
    );
    expect(() => new MaskedDense(1, 2, [[1, 0.5]], { rng })).toThrow(
      /entries must be 0 or 1, got 0.5/,
    );
    expect(tf.memory().numTensors).toBe(before);
    const layer = new MaskedDense(3, 3, mask, { rng });
    const t = tf.eye(3);
    layer.setMask(t);
    expect(layer.mask).toBeAllclose(tf.eye(3).arraySync() as number[][]);
    expect(layer.namedBuffers().map(([n]) => n)).toEqual(['mask']);
    expect(layer.numParams()).toBe(12);
    t.dispose();
    layer.dispose();
  });
});

describe('mlp / Sequential', () => {
  it('builds Dense layers with the given activations', () => {
    const net = mlp([2, 5, 3], {
      rng: new Rng(0),
      activation: 'relu',
      outputActivation: 'sigmoid',
    });
    expect(net.namedParameters().map(([n, v]) => `${n} ${v.shape.join('x')}`)).toEqual([
      '0.kernel 2x5',
      '0.bias 5',
      '1.kernel 5x3',
      '1.bias 3',
    ]);
    const xs = [[1, -2]];
    const x = tf.tensor2d(xs);
    const [l0, l1] = net.layers as Dense[];
    const h = denseRef(
      xs,
      l0!.kernel.arraySync() as number[][],
      l0!.bias!.arraySync() as number[],
    ).map((r) => r.map((v) => Math.max(v, 0)));
    const out = denseRef(
      h,
      l1!.kernel.arraySync() as number[][],
      l1!.bias!.arraySync() as number[],
    ).map((r) => r.map((v) => 1 / (1 + Math.exp(-v))));
    const y = net.apply(x);
    expect(y).toBeAllclose(out, { rtol: 1e-5, atol: 1e-6 });
    tf.dispose([x, y]);
    net.dispose();
    expect(() => mlp([3], { rng: new Rng(0) })).toThrow(/at least \[inFeatures, outFeatures\]/);
    expect(() => new Sequential([])).toThrow(ValueError);
  });
});

class Encoder extends Module {
  readonly layers: Sequential;
  readonly scale: tf.Variable;
  constructor(rng: Rng) {
    super('Encoder');
    this.layers = this.addModule(
      'layers',
      new Sequential([new Dense(2, 3, { rng, activation: 'tanh' }), new Dense(3, 1, { rng })]),
    );
    this.scale = this.addParameter('scale', tf.ones([1]), { trainable: false });
  }
  apply(x: tf.Tensor): tf.Tensor {
    return tf.tidy(() => tf.mul(this.layers.apply(x), this.scale));
  }
}

class Model extends Module {
  readonly encoder: Encoder;
  constructor(rng: Rng) {
    super('Model');
    this.encoder = this.addModule('encoder', new Encoder(rng));
  }
  apply(x: tf.Tensor): tf.Tensor {
    return this.encoder.apply(x);
  }
}

describe('Module', () => {
  it('names parameters by dotted path and counts them', () => {
    const m = new Model(new Rng(0));
    expect(m.namedParameters().map(([n, v]) => `${n} ${v.shape.join('x')}`)).toEqual([
      'encoder.scale 1',
      'encoder.layers.0.kernel 2x3',
      'encoder.layers.0.bias 3',
      'encoder.layers.1.kernel 3x1',
      'encoder.layers.1.bias 1',
    ]);
    expect(m.numParams()).toBe(1 + 6 + 3 + 3 + 1);
    expect(m.numParams({ trainableOnly: true })).toBe(13);
    expect(m.encoder.layers.layers[1]!.label).toBe("Dense 'encoder.layers.1'");
    expect(m.label).toBe('Model');
    expect(m.summary()).toContain('encoder.layers.0.kernel  [2, 3]');
    m.dispose();
  });

  it('freezes and unfreezes with setTrainable', () => {
    const m = new Model(new Rng(0));
    m.encoder.layers.setTrainable(false);
    expect(m.trainableParameters()).toHaveLength(0);
    m.setTrainable(true);
    expect(m.trainableParameters()).toHaveLength(5);
    m.dispose();
  });

  it('rejects duplicate and dotted names, and a module registered twice', () => {
    const made: Module[] = [];
    class Bad extends Module {
      constructor(which: number) {
        super('Bad');
        made.push(this);
        this.addParameter('w', tf.zeros([1]));
        if (which === 0) this.addParameter('w', tf.zeros([1]));
        if (which === 1) this.addParameter('a.b', tf.zeros([1]));
      }
      apply(x: tf.Tensor) {
        return x;
      }
    }
    expect(() => new Bad(0)).toThrow(/'w' is already registered/);
    expect(() => new Bad(1)).toThrow(ValueError);
    const d = new Dense(1, 1, { rng: new Rng(0) });
    const s = new Sequential([d]);
    expect(() => new Sequential([d])).toThrow(/already belongs to another module/);
    s.dispose();
    for (const m of made) m.dispose();
  });

  it('getState / setState copies parameters exactly, without leaks', async () => {
    const a = mlp([2, 4, 1], { rng: new Rng(1) });
    const b = mlp([2, 4, 1], { rng: new Rng(2) });
    const x = tf.randomNormal([5, 2], 0, 1, 'float32', 3);
    const ya = a.apply(x);
    const yb0 = b.apply(x);
    expect(Array.from(ya.dataSync())).not.toEqual(Array.from(yb0.dataSync()));
    await expectNoLeaks(() => {
      const s = a.getState();
      b.setState(s);
      tf.dispose(Object.values(s));
    }, 'getState/setState');
    const yb = b.apply(x);
    expect(yb).toBeAllclose(ya, { rtol: 0, atol: 0 });
    tf.dispose([x, ya, yb0, yb]);
    a.dispose();
    b.dispose();
  });

  it('setState lists every missing, unexpected and wrong-shaped name, and assigns nothing', () => {
    const m = mlp([2, 3, 1], { rng: new Rng(0) });
    const before = m.namedParameters().map(([, v]) => Array.from(v.dataSync()));
    const state = {
      '0.kernel': tf.ones([2, 3]),
      '0.bias': tf.ones([4]),
      '1.kernel': tf.ones([3, 1]),
      '9.extra': tf.ones([1]),
    };
    let err: unknown;
    try {
      m.setState(state);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(StateMismatchError);
    const e = err as StateMismatchError;
    expect(e.missing).toEqual(['1.bias']);
    expect(e.unexpected).toEqual(['9.extra']);
    expect(e.wrongShape).toEqual([
      { name: '0.bias', expected: [3], got: [4], expectedDtype: 'float32', gotDtype: 'float32' },
    ]);
    expect(e.message).toMatch(
      /missing .*1\.bias.*unexpected .*9\.extra.*0\.bias expected \[3\] float32, got \[4\]/,
    );
    expect(m.namedParameters().map(([, v]) => Array.from(v.dataSync()))).toEqual(before);
    // non-strict: the shared names load, but a wrong shape is still an error
    expect(() => m.setState(state, { strict: false })).toThrow(StateMismatchError);
    const ok = { '0.kernel': state['0.kernel'], other: state['9.extra'] };
    m.setState(ok, { strict: false });
    expect(m.namedParameters()[0]![1]).toBeAllclose(tf.ones([2, 3]).arraySync());
    tf.dispose(Object.values(state));
    m.dispose();
  });

  it('dispose frees every variable', () => {
    const before = tf.memory().numTensors;
    const m = new Model(new Rng(0));
    expect(tf.memory().numTensors).toBe(before + 5);
    m.dispose();
    m.dispose();
    expect(m.isDisposed).toBe(true);
    expect(tf.memory().numTensors).toBe(before);
  });
});
