import { logSumExp, Rng, ShapeError, Trainer, tf, ValueError } from '@dgm-js/core-tensors';
import { expectNoLeaks } from '@dgm-js/test-utils';
import { describe, expect, it } from 'vitest';
import { Made } from './made.js';
import { MadeNet } from './made-net.js';
import { madeDegrees, resolveOrdering } from './masks.js';
import { nllObjective } from './objective.js';
import {
  allBinary,
  allCategorical,
  chi2Critical001,
  chiSquare,
  countIndices,
  dependencies,
  indexOf,
} from './test-helpers.js';

const D = 6;

/** Checks the dependency map of a MadeNet against its ordering: exactly the earlier dims. */
function expectAutoregressive(
  net: MadeNet,
  x: tf.Tensor,
  full: boolean,
  context?: tf.Tensor,
): void {
  const deps = dependencies(
    (xi) => net.forward(xi, context),
    x,
    net.dim,
    (out, d) => tf.slice(out, [0, d, 0], [-1, 1, -1]),
  );
  const rank = new Array<number>(net.dim);
  net.ordering.forEach((d, r) => {
    rank[d] = r;
  });
  const per = net.inputsPerDim;
  for (let d = 0; d < net.dim; d++) {
    for (let i = 0; i < net.dim * per; i++) {
      const e = Math.floor(i / per);
      const allowed = rank[e]! < rank[d]!;
      if (!allowed) expect(deps[d]![i], `output ${d} must not see input ${e}`).toBe(false);
      else if (full) expect(deps[d]![i], `output ${d} should see input ${e}`).toBe(true);
    }
  }
}

describe('MADE masks', () => {
  it('resolves orderings and rejects non-permutations', () => {
    expect(resolveOrdering('reverse', 4, new Rng(0))).toEqual([3, 2, 1, 0]);
    expect([...resolveOrdering('random', 5, new Rng(1))].sort()).toEqual([0, 1, 2, 3, 4]);
    expect(() => resolveOrdering([0, 0, 1], 3, new Rng(0))).toThrow(ValueError);
    expect(() => resolveOrdering([0, 1], 3, new Rng(0))).toThrow(/length 3/);
  });

  it('spreads hidden degrees evenly over 1..D-1 and keeps random ones in range', () => {
    const eq = madeDegrees([0, 1, 2], [4], 'equal', new Rng(0));
    expect([...eq.hidden[0]!]).toEqual([1, 1, 2, 2]);
    // fewer units than degrees: still spread over the whole range, up to D-1
    const few = madeDegrees(
      Array.from({ length: 101 }, (_, i) => i),
      [10],
      'equal',
      new Rng(0),
    );
    expect([...few.hidden[0]!]).toEqual([1, 11, 21, 31, 41, 51, 61, 71, 81, 91]);
    const rnd = madeDegrees([2, 0, 1, 3], [50, 50], 'random', new Rng(3));
    for (const h of rnd.hidden) for (const v of h) expect(v >= 1 && v <= 3).toBe(true);
    expect([...rnd.dimDegrees]).toEqual([2, 3, 1, 4]);
  });
});

describe('MADE autoregressive property (autodiff: d out_d / d x_j == 0 exactly for j not before d)', () => {
  const x = tf.randomNormal([4, D], 0, 1, 'float32', 11);
  const cases: [string, Partial<ConstructorParameters<typeof MadeNet>[0]>][] = [
    ['natural ordering, one layer', { hiddenSizes: [16] }],
    ['reverse ordering, three layers', { hiddenSizes: [16, 12, 16], ordering: 'reverse' }],
    [
      'random ordering + direct connections',
      { hiddenSizes: [16, 16], ordering: 'random', directConnections: true },
    ],
    ['explicit ordering, no hidden layer', { hiddenSizes: [], ordering: [3, 1, 5, 0, 2, 4] }],
    ['two params per dim (Gaussian)', { hiddenSizes: [16], paramsPerDim: 2, ordering: 'random' }],
  ];
  for (const [name, extra] of cases) {
    it(name, () => {
      const net = new MadeNet({
        dim: D,
        hiddenSizes: [16],
        activation: 'tanh',
        rng: new Rng(5),
        ...extra,
      });
      expectAutoregressive(net, x, true);
      net.dispose();
    });
  }

  it('holds for every mask of an order-agnostic, connectivity-agnostic set', () => {
    const net = new MadeNet({
      dim: D,
      hiddenSizes: [24, 24],
      numMasks: 4,
      orderAgnostic: true,
      activation: 'tanh',
      rng: new Rng(2),
    });
    const orders = new Set<string>();
    for (let m = 0; m < 4; m++) {
      net.useMask(m);
      orders.add(net.ordering.join());
      expectAutoregressive(net, x, false);
    }
    expect(orders.size).toBeGreaterThan(1);
    net.dispose();
  });

  it('holds for one-hot categorical inputs (K units per dimension) and with a context', () => {
    const net = new MadeNet({
      dim: 4,
      hiddenSizes: [20],
      paramsPerDim: 3,
      inputsPerDim: 3,
      contextDim: 2,
      ordering: [2, 0, 3, 1],
      activation: 'tanh',
      rng: new Rng(4),
    });
    const xi = tf.randomNormal([3, 12], 0, 1, 'float32', 1);
    const c = tf.randomNormal([3, 2], 0, 1, 'float32', 2);
    expectAutoregressive(net, xi, true, c);
    // the context reaches every output, including the first in the ordering
    const deps = dependencies(
      (ci) => net.forward(xi, ci),
      c,
      4,
      (out, d) => tf.slice(out, [0, d, 0], [-1, 1, -1]),
    );
    for (const row of deps) expect(row.every(Boolean)).toBe(true);
    tf.dispose([xi, c]);
    net.dispose();
  });
});

describe('MADE normalisation (exact enumeration)', () => {
  it('Bernoulli MADE over 8 binary dims: sum_x p(x) = 1 for several orderings and masks', () => {
    const xs = allBinary(8);
    const made = new Made({
      dim: 8,
      hiddenSizes: [16, 16],
      numMasks: 3,
      orderAgnostic: true,
      directConnections: true,
      rng: new Rng(7),
    });
    for (let m = 0; m < 3; m++) {
      made.useMask(m);
      const total = tf.tidy(() => logSumExp(made.logProb(xs), 0));
      expect(total).toBeAllclose(0, { rtol: 0, atol: 1e-5 });
      total.dispose();
    }
    const ens = tf.tidy(() => logSumExp(made.logProbEnsemble(xs), 0));
    expect(ens).toBeAllclose(0, { rtol: 0, atol: 1e-5 });
    ens.dispose();
    made.dispose();
    xs.dispose();
  });

  it('categorical MADE (one-hot and scaled inputs), conditional, sums to 1', () => {
    const xs = allCategorical(3, 4);
    for (const inputEncoding of ['onehot', 'scaled'] as const) {
      const made = new Made({
        dim: 3,
        hiddenSizes: [10],
        head: { type: 'categorical', categories: 4, inputEncoding },
        contextDim: 2,
        ordering: 'random',
        rng: new Rng(8),
      });
      const c = tf.tensor2d([[0.5, -1]]);
      const total = tf.tidy(() => logSumExp(made.logProb(xs, c), 0));
      expect(total).toBeAllclose(0, { rtol: 0, atol: 1e-5 });
      tf.dispose([c, total]);
      made.dispose();
    }
    xs.dispose();
  });

  it('Gaussian MADE in 2-D integrates to 1 (grid quadrature)', () => {
    const made = new Made({
      dim: 2,
      hiddenSizes: [8],
      head: 'gaussian',
      activation: 'tanh',
      rng: new Rng(9),
    });
    const n = 301;
    const lo = -9;
    const h = 18 / (n - 1);
    const g = tf.tidy(() => {
      const a = tf.linspace(lo, lo + h * (n - 1), n);
      const [u, v] = tf.meshgrid(a, a) as [tf.Tensor, tf.Tensor];
      return tf.stack([tf.reshape(u, [-1]), tf.reshape(v, [-1])], 1);
    });
    const integral = tf.tidy(() => tf.mul(tf.sum(tf.exp(made.logProb(g))), h * h));
    expect(integral).toBeAllclose(1, { rtol: 2e-3, atol: 0 });
    // and logProb is the sum of the two Normal conditionals from meanLogScale
    const x = tf.tensor2d([[0.3, -1.2]]);
    const { mean, logScale } = made.meanLogScale(x);
    const ref = tf.tidy(() => {
      const z = tf.div(tf.sub(x, mean), tf.exp(logScale));
      return tf.sum(
        tf.sub(tf.sub(tf.mul(tf.square(z), -0.5), logScale), 0.5 * Math.log(2 * Math.PI)),
        1,
      );
    });
    const lp = made.logProb(x);
    expect(lp).toBeAllclose(ref, { rtol: 1e-5, atol: 1e-5 });
    tf.dispose([g, integral, x, mean, logScale, ref, lp]);
    made.dispose();
  });
});

describe('MADE sampling', () => {
  it('the incremental sampler computes exactly the forward pass parameters', () => {
    const net = new MadeNet({
      dim: 5,
      hiddenSizes: [12, 9],
      paramsPerDim: 2,
      inputsPerDim: 2,
      directConnections: true,
      contextDim: 3,
      ordering: [4, 2, 0, 1, 3],
      rng: new Rng(3),
    });
    const x = tf.randomNormal([4, 10], 0, 1, 'float32', 5);
    const c = tf.randomNormal([4, 3], 0, 1, 'float32', 6);
    const got: tf.Tensor[] = new Array(5);
    const gen = net.sequential(4, c, (d, params) => {
      got[d] = tf.keep(tf.clone(params));
      return { input: tf.slice(x, [0, 2 * d], [4, 2]), value: tf.zeros([1]) };
    });
    let r = gen.next();
    while (!r.done) r = gen.next();
    tf.dispose(r.value);
    const full = net.forward(x, c);
    const seq = tf.stack(got, 1);
    expect(seq).toBeAllclose(full, { rtol: 1e-4, atol: 1e-5 });
    tf.dispose([x, c, full, seq, ...got]);
    net.dispose();
  });

  it('binary samples follow exp(logProb) (chi-square over all 16 outcomes, 20000 draws)', () => {
    const made = new Made({
      dim: 4,
      hiddenSizes: [8],
      ordering: [2, 0, 3, 1],
      directConnections: true,
      rng: new Rng(21),
    });
    const probs = tf.tidy(() => tf.exp(made.logProb(allBinary(4)))).dataSync();
    let steps = 0;
    const s = made.sample({
      sampleShape: [20000],
      rng: new Rng(5),
      onProgress: (p) => {
        steps = p.done;
      },
    });
    expect(steps).toBe(4);
    expect(s.shape).toEqual([20000, 4]);
    const { stat, df } = chiSquare(countIndices(indexOf(s.dataSync(), 4, 2), 16), probs);
    expect(df).toBeGreaterThan(5);
    expect(stat).toBeLessThan(chi2Critical001(df));
    s.dispose();
    made.dispose();
  });

  it('conditional categorical samples follow exp(logProb | context) (chi-square)', () => {
    const made = new Made({
      dim: 2,
      hiddenSizes: [8],
      head: { type: 'categorical', categories: 3 },
      contextDim: 1,
      rng: new Rng(22),
    });
    const c = tf.tensor2d([[1.5]]);
    const probs = tf.tidy(() => tf.exp(made.logProb(allCategorical(2, 3), c))).dataSync();
    const s = made.sample({ sampleShape: [20000], rng: new Rng(6), context: c });
    expect(s.dtype).toBe('int32');
    const { stat, df } = chiSquare(countIndices(indexOf(s.dataSync(), 2, 3), 9), probs);
    expect(stat).toBeLessThan(chi2Critical001(df));
    tf.dispose([s, c]);
    made.dispose();
  });

  it('Gaussian samples standardise to iid N(0, 1) under the model conditionals', () => {
    const made = new Made({
      dim: 3,
      hiddenSizes: [8],
      head: 'gaussian',
      ordering: 'reverse',
      rng: new Rng(23),
    });
    const s = made.sample({ sampleShape: [20000], rng: new Rng(7) });
    const { mean, logScale } = made.meanLogScale(s);
    const z = tf.tidy(() => tf.div(tf.sub(s, mean), tf.exp(logScale)));
    const m = tf.mean(z, 0);
    const v = tf.tidy(() => tf.mean(tf.square(tf.sub(z, m)), 0));
    // 4.5 standard errors: sd of a mean of 20000 N(0,1) is 0.0071, of the variance 0.01
    expect(m).toBeAllclose([0, 0, 0], { rtol: 0, atol: 0.032 });
    expect(v).toBeAllclose([1, 1, 1], { rtol: 0.045, atol: 0 });
    tf.dispose([s, mean, logScale, z, m, v]);
    made.dispose();
  });

  it('sampleAsync matches sample for the same seed and can be aborted without leaks', async () => {
    const made = new Made({ dim: 6, hiddenSizes: [8], rng: new Rng(1) });
    const a = made.sample({ sampleShape: [5], rng: new Rng(3) });
    const b = await made.sampleAsync({ sampleShape: [5], rng: new Rng(3), yieldEveryMs: 0 });
    expect(b).toBeAllclose(a, { rtol: 0, atol: 0 });
    tf.dispose([a, b]);
    const ctl = new AbortController();
    await expectNoLeaks(async () => {
      await expect(
        made.sampleAsync({
          sampleShape: [5],
          rng: new Rng(3),
          signal: ctl.signal,
          onProgress: (p) => {
            if (p.done === 2) ctl.abort(new Error('stop'));
          },
        }),
      ).rejects.toThrow('stop');
    }, 'aborted sampleAsync');
    made.dispose();
  });
});

describe('MADE training', () => {
  it('connectivity-agnostic training lowers the NLL towards the data entropy', async () => {
    // Data: x0 ~ Bern(0.5), x_{i} = x_{i-1} with prob 0.9: entropy = ln2 + 5 H(0.1)
    const rng = new Rng(4);
    const n = 512;
    const v = new Float32Array(n * 6);
    for (let i = 0; i < n; i++) {
      v[i * 6] = rng.float() < 0.5 ? 1 : 0;
      for (let j = 1; j < 6; j++)
        v[i * 6 + j] = rng.float() < 0.9 ? v[i * 6 + j - 1]! : 1 - v[i * 6 + j - 1]!;
    }
    const x = tf.tensor2d(v, [n, 6]);
    const made = new Made({ dim: 6, hiddenSizes: [32], numMasks: 2, rng: new Rng(0) });
    const before = tf.tidy(() => -tf.mean(made.logProb(x)).dataSync()[0]!);
    const trainer = new Trainer({
      model: made,
      objective: nllObjective(made),
      data: [x],
      optimizer: tf.train.adam(0.03),
      maxSteps: 150,
      quiet: true,
    });
    await trainer.fit();
    const h = (p: number) => -p * Math.log(p) - (1 - p) * Math.log(1 - p);
    const entropy = Math.LN2 + 5 * h(0.1);
    const after = tf.tidy(() => -tf.mean(made.logProbEnsemble(x)).dataSync()[0]!);
    expect(before).toBeGreaterThan(entropy + 0.5);
    expect(after).toBeLessThan(entropy + 0.15);
    x.dispose();
    made.dispose();
  });
});

describe('MADE leaks', () => {
  it('logProb, ensemble, params, sample, useMask and a training step leak nothing', async () => {
    const made = new Made({
      dim: 5,
      hiddenSizes: [8, 8],
      numMasks: 2,
      contextDim: 2,
      directConnections: true,
      rng: new Rng(0),
    });
    const x = tf.tensor2d([
      [0, 1, 1, 0, 1],
      [1, 1, 0, 0, 0],
    ]);
    const c = tf.ones([2, 2]);
    await expectNoLeaks(() => made.logProb(x, c).dispose(), 'logProb');
    await expectNoLeaks(() => made.logProbEnsemble(x, c).dispose(), 'logProbEnsemble');
    await expectNoLeaks(() => made.conditionalParams(x, c).dispose(), 'conditionalParams');
    const c1 = tf.ones([1, 2]);
    await expectNoLeaks(
      () => made.sample({ sampleShape: [3], rng: new Rng(1), context: c1 }).dispose(),
      'sample',
    );
    await expectNoLeaks(() => made.useMask(1), 'useMask');
    const opt = tf.train.adam(1e-3);
    const obj = nllObjective(made);
    const step = () =>
      opt.minimize(
        () =>
          obj.loss({ x, context: c }, { step: 0, epoch: 0, batchIndex: 0, rng: new Rng(0) })
            .loss as tf.Scalar,
      );
    step(); // creates the optimizer's slots
    await expectNoLeaks(step, 'training step');
    const g = new Made({ dim: 3, hiddenSizes: [4], head: 'gaussian', rng: new Rng(1) });
    const xg = tf.randomNormal([2, 3]);
    await expectNoLeaks(() => {
      const r = g.meanLogScale(xg);
      tf.dispose([r.mean, r.logScale]);
    }, 'meanLogScale');
    tf.dispose([x, c, c1, xg]);
    opt.dispose();
    made.dispose();
    g.dispose();
  });
});

describe('MADE errors', () => {
  const made = new Made({ dim: 3, hiddenSizes: [4], contextDim: 2, rng: new Rng(0) });
  const c = tf.zeros([2, 2]);
  it('names the shapes and values that are wrong', () => {
    expect(() => made.logProb(tf.zeros([2, 4]), c)).toThrow(ShapeError);
    expect(() => made.logProb(tf.zeros([2, 4]), c)).toThrow(/\[batch, 3\].*\[2, 4\]/);
    expect(() => made.logProb(tf.zeros([3]), c)).toThrow(ShapeError);
    expect(() => made.logProb(tf.fill([2, 3], 0.5), c)).toThrow(ValueError);
    expect(() => made.logProb(tf.fill([2, 3], 0.5), c)).toThrow(/0 or 1, got 0.5/);
    expect(() => made.logProb(tf.zeros([2, 3]))).toThrow(/conditional/);
    expect(() => made.logProb(tf.zeros([2, 3]), tf.zeros([2, 3]))).toThrow(ShapeError);
    expect(() => made.sample({ sampleShape: [0], rng: new Rng(0), context: c })).toThrow(
      /positive integer/,
    );
    expect(() => made.sample({ sampleShape: [2] } as never)).toThrow(/rng/);
    expect(() => made.meanLogScale(tf.zeros([2, 3]), c)).toThrow(/gaussian/);
    expect(() => made.useMask(1)).toThrow(/\[0, 0\]/);
  });
  it('rejects bad options', () => {
    expect(() => new Made({ dim: 0, hiddenSizes: [4], rng: new Rng(0) })).toThrow(ValueError);
    expect(
      () => new Made({ dim: 3, hiddenSizes: [4], ordering: [0, 1, 1], rng: new Rng(0) }),
    ).toThrow(/permutation/);
    expect(
      () =>
        new Made({
          dim: 3,
          hiddenSizes: [4],
          numMasks: 2,
          hiddenDegrees: 'equal',
          rng: new Rng(0),
        }),
    ).toThrow(/identical/);
    expect(
      () =>
        new Made({
          dim: 3,
          hiddenSizes: [4],
          head: { type: 'categorical', categories: 1 },
          rng: new Rng(0),
        }),
    ).toThrow(/categories/);
    const cat = new Made({
      dim: 2,
      hiddenSizes: [4],
      head: { type: 'categorical', categories: 3 },
      rng: new Rng(0),
    });
    expect(() => cat.logProb(tf.tensor2d([[0, 3]]))).toThrow(/integers in \[0, 2\], got 3/);
    cat.dispose();
    const un = new Made({ dim: 2, hiddenSizes: [4], rng: new Rng(0) });
    expect(() => un.logProb(tf.zeros([1, 2]), tf.zeros([1, 1]))).toThrow(/unconditional/);
    un.dispose();
  });
});
