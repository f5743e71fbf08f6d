/**
 * Errors, leaks, state round trips, temperature schedules, extreme inputs, and the building
 * blocks (detach, enumeration).
 */
import {
  Bernoulli,
  DgmError,
  Normal,
  OneHotCategorical,
  Rng,
  ShapeError,
  tf,
  ValueError,
} from '@dgm-js/core-tensors';
import { disposeAll, expectNoLeaks } from '@dgm-js/test-utils';
import { describe, expect, it } from 'vitest';
import { gradientStats, relaxToyProblem } from './analysis.js';
import { arm, disarm } from './arm.js';
import { enumerateConfigs, exact, exactExpectation } from './exact.js';
import { bernoulliLatent, categoricalLatent, detach } from './latent.js';
import { rebar, relax } from './relax.js';
import {
  gumbelSoftmax,
  reparam,
  straightThroughEstimator as straightThrough,
  straightThroughGumbelSoftmax,
} from './relaxed.js';
import { constantTemperature, exponentialTemperature, temperatureAt } from './schedule.js';
import { gumbelMaxEstimator as gumbelMax, nvil, reinforce, rloo, vimco } from './score.js';
import type { GradientEstimator, LatentInput } from './types.js';

type Tensor = tf.Tensor;

const fBern = (z: Tensor) => tf.sum(tf.square(tf.sub(z, 0.3)), -1); // [S, B, D] -> [S, B]
const fCat = (z: Tensor) => tf.sum(tf.mul(z, tf.tensor1d([1, -2, 0.5])), [-2, -1]); // [S, B, D, C] -> [S, B]

const all: [string, () => GradientEstimator, 'b' | 'c' | 'bc'][] = [
  ['reinforce', () => reinforce(), 'bc'],
  ['reinforce-ma', () => reinforce({ baseline: 'movingAverage' }), 'bc'],
  ['gumbel-max', () => gumbelMax(), 'bc'],
  ['nvil', () => nvil({ hidden: 4 }), 'bc'],
  ['rloo', () => rloo(), 'bc'],
  ['vimco', () => vimco(), 'bc'],
  ['gumbel-softmax', () => gumbelSoftmax({ temperature: 0.5 }), 'bc'],
  ['st-gumbel-softmax', () => straightThroughGumbelSoftmax({ temperature: 0.5 }), 'bc'],
  ['straight-through', () => straightThrough(), 'bc'],
  ['rebar', () => rebar(), 'bc'],
  ['relax', () => relax({ hidden: 4 }), 'bc'],
  ['arm', () => arm(), 'b'],
  ['disarm', () => disarm(), 'b'],
  ['exact', () => exact(), 'bc'],
];

describe('leaks: surrogate + gradient of every estimator', () => {
  for (const [name, make, kinds] of all) {
    it(name, async () => {
      const est = make();
      const logitsB = tf.variable(tf.randomNormal([2, 3], 0, 1, 'float32', 1));
      const logitsC = tf.variable(tf.randomNormal([2, 2, 3], 0, 1, 'float32', 2));
      const context = tf.ones([2, 5]);
      const rng = new Rng(0);
      const step = (kind: 'b' | 'c') => {
        const { value, grads } = tf.variableGrads(() => {
          const q = kind === 'b' ? bernoulliLatent(logitsB) : categoricalLatent(logitsC);
          const r = est.estimate(q, kind === 'b' ? fBern : fCat, { samples: 3, rng, context });
          return tf.mean(r.surrogate) as tf.Scalar;
        }, [kind === 'b' ? logitsB : logitsC]);
        const g = Object.values(grads)[0]!;
        expect(Array.from(g.dataSync()).every(Number.isFinite)).toBe(true);
        disposeAll([value, grads]);
      };
      for (const kind of ['b', 'c'] as const) {
        if (!kinds.includes(kind)) continue;
        step(kind); // warm-up creates lazily sized state
        await expectNoLeaks(() => step(kind), `${name} (${kind}) step`);
        await expectNoLeaks(
          () =>
            tf.dispose(
              est.estimate(
                kind === 'b' ? bernoulliLatent(logitsB) : categoricalLatent(logitsC),
                kind === 'b' ? fBern : fCat,
                {
                  samples: 3,
                  rng,
                  update: false,
                  context,
                },
              ).surrogate,
            ),
          `${name} (${kind}) no-update`,
        );
        if (name === 'relax' || name === 'nvil') break; // their networks are sized by the first latent
      }
      tf.dispose([logitsB, logitsC, context]);
      const before = tf.memory().numTensors;
      est.dispose();
      est.dispose();
      expect(tf.memory().numTensors).toBeLessThanOrEqual(before);
    });
  }

  it('reparam on a Normal', async () => {
    const est = reparam();
    const loc = tf.variable(tf.zeros([4]));
    const step = () => {
      const { value, grads } = tf.variableGrads(
        () =>
          tf.mean(
            est.estimate(new Normal(loc, 1, { validate: false }), (z) => tf.square(z), {
              samples: 5,
              rng: new Rng(1),
            }).surrogate,
          ) as tf.Scalar,
        [loc],
      );
      disposeAll([value, grads]);
    };
    // the Normal's own scale tensor lives in the tidy of variableGrads
    await expectNoLeaks(step, 'reparam step');
    loc.dispose();
  });

  it('gradientStats', async () => {
    const est = relax({ hidden: 4 });
    gradientStats(est, relaxToyProblem(), { samples: 1, repeats: 4, rng: new Rng(0) });
    await expectNoLeaks(
      () => gradientStats(est, relaxToyProblem(), { samples: 1, repeats: 4, rng: new Rng(0) }),
      'gradientStats',
    );
    est.dispose();
  });
});

describe('typed errors', () => {
  const q = () => bernoulliLatent(tf.zeros([2, 3]));

  it('temperature <= 0, NaN or a bad schedule is a ValueError naming the temperature', () => {
    for (const t of [0, -1, Number.NaN, Number.POSITIVE_INFINITY]) {
      expect(() => gumbelSoftmax({ temperature: t })).toThrow(ValueError);
      expect(() => gumbelSoftmax({ temperature: t })).toThrow(/temperature/);
      expect(() => straightThroughGumbelSoftmax({ temperature: t })).toThrow(ValueError);
      expect(() => constantTemperature(t)).toThrow(ValueError);
      expect(() => rebar({ temperature: t })).toThrow(ValueError);
    }
    expect(() => exponentialTemperature({ rate: 1e-3, min: 0 })).toThrow(/min/);
    expect(() => exponentialTemperature({ rate: -1, min: 0.5 })).toThrow(/rate/);
    expect(() => exponentialTemperature({ rate: 1, min: 0.5, every: 0 })).toThrow(/every/);
  });

  it('an objective of the wrong shape is a ShapeError that names the shapes', () => {
    const est = reinforce();
    const rng = new Rng(0);
    // [S, B, D] -> [S, B] expected; [S, D] (the wrong axis reduced), [B] (samples reduced) and
    // [S, B, D, 1] fail ([S, B, D] would be read as instance shape [B, D]: no latent dims)
    for (const bad of [
      (z: Tensor) => tf.sum(z, 1),
      (z: Tensor) => tf.sum(z, [0, 2]),
      (z: Tensor) => tf.expandDims(z, -1),
    ]) {
      expect(() => est.estimate(q(), bad, { samples: 3, rng })).toThrow(ShapeError);
    }
    expect(() => est.estimate(q(), (z) => tf.sum(z, [0, 2]), { samples: 3, rng })).toThrow(
      /returned shape \[2\] for samples of shape \[3, 2, 3\].*\[3, \.\.\.instanceShape\]/,
    );
    expect(() => disarm().estimate(q(), (z) => tf.sum(z, 1), { samples: 2, rng })).toThrow(
      ShapeError,
    );
  });

  it('bad logits and latents', () => {
    expect(() => categoricalLatent(tf.scalar(1))).toThrow(ShapeError);
    expect(() => bernoulliLatent([1, 2] as unknown as Tensor)).toThrow(ValueError);
    expect(() => bernoulliLatent(tf.zeros([2], 'int32'))).toThrow(/float32/);
    expect(() =>
      reinforce().estimate({} as LatentInput, fBern, { samples: 1, rng: new Rng(0) }),
    ).toThrow(ValueError);
  });

  it('sample counts, the rng and estimator/latent mismatches', () => {
    const rng = new Rng(0);
    expect(() => reinforce().estimate(q(), fBern, { samples: 0, rng })).toThrow(ValueError);
    expect(() => reinforce().estimate(q(), fBern, { samples: 1.5, rng })).toThrow(ValueError);
    expect(() => rloo().estimate(q(), fBern, { samples: 1, rng })).toThrow(/>= 2/);
    expect(() => vimco().estimate(q(), fBern, { samples: 1, rng })).toThrow(ValueError);
    expect(() =>
      reinforce().estimate(q(), fBern, { samples: 1 } as unknown as { samples: number; rng: Rng }),
    ).toThrow(/rng/);
    const cat = categoricalLatent(tf.zeros([2, 2, 3]));
    expect(() => arm().estimate(cat, fCat, { samples: 1, rng })).toThrow(/bernoulli/);
    expect(() => disarm().estimate(new Normal(0, 1), (z) => z, { samples: 1, rng })).toThrow(
      ValueError,
    );
    expect(() => reparam().estimate(q(), fBern, { samples: 1, rng })).toThrow(DgmError);
    expect(() => reparam().estimate(q(), fBern, { samples: 1, rng })).toThrow(
      /reparameterized sampler/,
    );
    expect(() =>
      nvil().estimate(q(), fBern, { samples: 1, rng, context: tf.zeros([3, 4]) }),
    ).toThrow(ShapeError);
  });

  it('exact enumeration refuses spaces that are too large', () => {
    expect(() => enumerateConfigs('bernoulli', [20], 1000)).toThrow(/2\^20 = 1048576/);
    expect(() =>
      exact().estimate(bernoulliLatent(tf.zeros([30])), (z) => tf.sum(z, -1), {
        samples: 1,
        rng: new Rng(0),
      }),
    ).toThrow(ValueError);
  });
});

describe('state', () => {
  const logits = () => tf.tensor2d([[0.3, -0.5, 1.0]]);
  const f = (z: Tensor) => tf.sum(tf.square(tf.sub(z, tf.tensor1d([0.2, 0.9, 0.4]))), -1);

  function trainAndCompare(make: () => GradientEstimator, context?: Tensor): void {
    const a = make();
    const rng = new Rng(3);
    const opts = context ? { context } : {};
    for (let i = 0; i < 7; i++) {
      tf.dispose(a.estimate(bernoulliLatent(logits()), f, { samples: 2, rng, ...opts }).surrogate);
    }
    const saved = JSON.parse(JSON.stringify(a.getState()));
    const b = make();
    b.setState(saved);
    expect(b.step).toBe(7);
    const next = (e: GradientEstimator) =>
      tf.tidy(() => {
        const l = logits();
        const g = tf.grad((t: Tensor) =>
          tf.sum(
            e.estimate(bernoulliLatent(t), f, { samples: 2, rng: new Rng(5), ...opts }).surrogate,
          ),
        )(l);
        return Array.from(g.dataSync());
      });
    expect(next(b)).toBeAllclose(next(a), { rtol: 1e-6, atol: 1e-7 });
    // both advanced identically
    expect(b.getState()).toEqual(a.getState());
    a.dispose();
    b.dispose();
  }

  it('reinforce moving average round trip', () =>
    trainAndCompare(() => reinforce({ baseline: 'movingAverage' })));
  it('nvil round trip (network, running moments, Adam moments)', () => {
    const ctx = tf.ones([1, 3]);
    trainAndCompare(() => nvil({ hidden: 4, learningRate: 0.1 }), ctx);
    ctx.dispose();
  });
  it('rebar round trip', () => trainAndCompare(() => rebar()));
  it('relax round trip', () => trainAndCompare(() => relax({ hidden: 4 })));
  it('gumbel-softmax: the step (and so the annealed temperature) round trips', () => {
    const sched = exponentialTemperature({ rate: 0.1, min: 0.5, every: 2 });
    const make = () => gumbelSoftmax({ temperature: sched });
    trainAndCompare(make);
  });

  it('a state from another estimator or with other shapes is refused, and nothing changes', () => {
    const a = relax({ hidden: 4 });
    tf.dispose(a.estimate(bernoulliLatent(logits()), f, { samples: 1, rng: new Rng(0) }).surrogate);
    const s = a.getState();
    expect(() => rebar().setState(s)).toThrow(/'relax' estimator/);
    const b = relax({ hidden: 5 });
    tf.dispose(b.estimate(bernoulliLatent(logits()), f, { samples: 1, rng: new Rng(0) }).surrogate);
    const before = b.getState();
    expect(() => b.setState(s)).toThrow(ShapeError);
    expect(b.getState()).toEqual(before);
    expect(() => b.setState({ ...s, version: 2 } as unknown as typeof s)).toThrow(ValueError);
    a.dispose();
    b.dispose();
  });
});

describe('temperature schedules', () => {
  it('constant and exponential max(min, exp(-r t)) updated every N steps', () => {
    expect(temperatureAt(constantTemperature(0.7), 1000)).toBe(0.7);
    const s = exponentialTemperature({ rate: 0.01, min: 0.5, every: 10 });
    expect(temperatureAt(s, 0)).toBe(1);
    expect(temperatureAt(s, 9)).toBe(1);
    expect(temperatureAt(s, 10)).toBeCloseTo(Math.exp(-0.1), 12);
    expect(temperatureAt(s, 25)).toBeCloseTo(Math.exp(-0.2), 12);
    expect(temperatureAt(s, 1e6)).toBe(0.5);
  });

  it('the estimator anneals with its step; update: false does not advance it', () => {
    const est = gumbelSoftmax({
      temperature: exponentialTemperature({ rate: 0.5, min: 0.1, every: 1 }),
    });
    const q = bernoulliLatent(tf.zeros([1, 2]));
    const call = (update: boolean) => {
      const r = est.estimate(q, fBern, { samples: 1, rng: new Rng(0), update });
      r.surrogate.dispose();
      return r.diagnostics.temperature!;
    };
    expect(call(true)).toBeCloseTo(1, 6);
    expect(call(false)).toBeCloseTo(Math.exp(-0.5), 6);
    expect(call(true)).toBeCloseTo(Math.exp(-0.5), 6);
    expect(est.temperature).toBeCloseTo(Math.exp(-1), 6);
  });

  it('samples approach one-hot as tau -> 0 and the uniform point as tau -> infinity', () => {
    const logits = tf.tensor2d([[1, 0.2, -0.5, 0.1]]);
    const maxComponent = (tau: number) =>
      tf.tidy(() => {
        let m = 0;
        const f = (z: Tensor) => {
          m = tf.mean(tf.max(z, -1)).dataSync()[0]!;
          return tf.sum(z, -1);
        };
        tf.dispose(
          gumbelSoftmax({ temperature: tau }).estimate(categoricalLatent(logits), f, {
            samples: 2000,
            rng: new Rng(1),
          }).surrogate,
        );
        return m;
      });
    expect(maxComponent(0.01)).toBeGreaterThan(0.99);
    expect(maxComponent(100)).toBeLessThan(0.27);
    logits.dispose();
  });
});

describe('extreme inputs stay finite', () => {
  it('logits of +-1e4 and temperatures 0.01 and 100', () => {
    const logits = tf.tensor2d([[1e4, -1e4, 0.5]]);
    const logitsC = tf.tensor3d([[[1e4, -1e4, 0]]]);
    const ests: GradientEstimator[] = [
      reinforce(),
      rloo(),
      vimco(),
      gumbelSoftmax({ temperature: 0.01 }),
      gumbelSoftmax({ temperature: 100 }),
      straightThroughGumbelSoftmax({ temperature: 0.01 }),
      straightThrough(),
      rebar(),
      relax({ hidden: 4 }),
      arm(),
      disarm(),
      exact(),
    ];
    for (const est of ests) {
      for (const kind of ['b', 'c'] as const) {
        if (kind === 'c' && (est.name === 'arm' || est.name === 'disarm')) continue;
        if (kind === 'c' && est.name === 'relax') continue; // its network is sized by the first call
        const g = tf.tidy(() =>
          tf
            .grad((t: Tensor) =>
              tf.sum(
                est.estimate(
                  kind === 'b' ? bernoulliLatent(t) : categoricalLatent(t),
                  kind === 'b' ? fBern : fCat,
                  {
                    samples: 3,
                    rng: new Rng(2),
                  },
                ).surrogate,
              ),
            )(kind === 'b' ? logits : logitsC)
            .dataSync(),
        );
        expect(Array.from(g).every(Number.isFinite), `${est.name} ${kind}: ${g}`).toBe(true);
      }
      est.dispose();
    }
    tf.dispose([logits, logitsC]);
  });
});

describe('building blocks', () => {
  it('detach shares data, blocks gradients and leaks nothing', async () => {
    const x = tf.tensor1d([1, -2, 3]);
    await expectNoLeaks(() => {
      const g = tf.grad((v: Tensor) => {
        const d = detach(v);
        // comparisons on detached values never break tf.grad
        return tf.sum(tf.mul(tf.mul(v, d), tf.cast(tf.greater(d, 0), 'float32')));
      })(x);
      expect(Array.from(g.dataSync()).map((v) => v + 0)).toEqual([1, 0, 3]);
      g.dispose();
    }, 'detach');
    const d = detach(x);
    d.dispose();
    expect(Array.from(x.dataSync())).toEqual([1, -2, 3]);
    x.dispose();
  });

  it('enumerateConfigs lists every configuration once', () => {
    const b = enumerateConfigs('bernoulli', [2]);
    expect(b.arraySync()).toEqual([
      [0, 0],
      [0, 1],
      [1, 0],
      [1, 1],
    ]);
    const c = enumerateConfigs('categorical', [2, 3]);
    expect(c.shape).toEqual([9, 2, 3]);
    const rows = (c.arraySync() as number[][][]).map((r) => r.map((v) => v.indexOf(1)).join());
    expect(new Set(rows).size).toBe(9);
    tf.dispose([b, c]);
  });

  it("exactExpectation: independent bits, E[sum z] = sum sigmoid(theta), gradient sigmoid'", () => {
    const theta = tf.tensor2d([[0.3, -1, 2]]);
    const sig = [0.3, -1, 2].map((t) => 1 / (1 + Math.exp(-t)));
    const { value, grad } = tf.valueAndGrad((t: Tensor) =>
      tf.sum(exactExpectation(bernoulliLatent(t), (z) => tf.sum(z, -1))),
    )(theta);
    expect(value.dataSync()[0]).toBeCloseTo(
      sig.reduce((a, b) => a + b, 0),
      5,
    );
    expect(Array.from(grad.dataSync())).toBeAllclose(
      sig.map((s) => s * (1 - s)),
      { rtol: 1e-5, atol: 1e-6 },
    );
    tf.dispose([theta, value, grad]);
  });

  it('accepts core-tensors Bernoulli and OneHotCategorical distributions', () => {
    const l = tf.tensor1d([0.4, -0.2]);
    const e1 = exactExpectation(new Bernoulli({ logits: l }), (z) => tf.sum(z, -1));
    const e2 = exactExpectation(bernoulliLatent(l), (z) => tf.sum(z, -1));
    expect(e1.dataSync()[0]).toBeCloseTo(e2.dataSync()[0]!, 6);
    const lc = tf.tensor2d([[0.1, 0.5, -1]]);
    const e3 = exactExpectation(new OneHotCategorical({ logits: lc }), (z) =>
      tf.sum(tf.mul(z, tf.tensor1d([1, 2, 3])), [-2, -1]),
    );
    const p = tf.softmax(lc).dataSync();
    expect(e3.dataSync()[0]).toBeCloseTo(p[0]! + 2 * p[1]! + 3 * p[2]!, 5);
    tf.dispose([l, e1, e2, lc, e3]);
  });
});

describe('REBAR / RELAX control variates', () => {
  it('the variance gradient (second-order autodiff) matches finite differences', () => {
    // plain SGD with learning rate lr: the update is -lr * d cvLoss / d psi
    const lr = 1e-3;
    const theta = tf.tensor2d([[0.4, -0.7]]);
    const f = (z: Tensor) => tf.sum(tf.square(tf.sub(z, tf.tensor1d([0.45, 0.8]))), -1);
    const make = (eta: number, temperature: number) =>
      rebar({ eta, temperature, optimizer: 'sgd', learningRate: lr });
    const loss = (eta: number, temperature: number) => {
      const e = make(eta, temperature);
      const r = e.estimate(bernoulliLatent(theta), f, {
        samples: 8,
        rng: new Rng(4),
        update: false,
      });
      r.surrogate.dispose();
      e.dispose();
      return r.diagnostics.cvLoss!;
    };
    const e = make(0.8, 0.6);
    const r = e.estimate(bernoulliLatent(theta), f, { samples: 8, rng: new Rng(4) });
    r.surrogate.dispose();
    const after = e.getState().tensors;
    const gEta = (0.8 - after.eta!.values[0]!) / lr;
    const gLogT = (Math.log(0.6) - after.logTemperature!.values[0]!) / lr;
    const h = 1e-2;
    const fdEta = (loss(0.8 + h, 0.6) - loss(0.8 - h, 0.6)) / (2 * h);
    const fdLogT = (loss(0.8, 0.6 * Math.exp(h)) - loss(0.8, 0.6 * Math.exp(-h))) / (2 * h);
    expect([gEta, gLogT]).toBeAllclose([fdEta, fdLogT], { rtol: 3e-2, atol: 1e-4 });
    e.dispose();
    theta.dispose();
  });

  it('on the RELAX toy, training the control variate cuts the variance well below REINFORCE', () => {
    const p = relaxToyProblem(0);
    const o = { samples: 1, repeats: 2000, rng: new Rng(1) };
    const vSf = gradientStats(reinforce(), p, o).variance[0]!;
    const est = relax({ hidden: 8, learningRate: 0.02 });
    const rng = new Rng(2);
    const theta = tf.tensor2d([[0]]);
    for (let i = 0; i < 150; i++) {
      tf.dispose(
        est.estimate(bernoulliLatent(theta), (z) => p.objective(z, theta), {
          samples: 1,
          rng,
          diagnostics: false,
        }).surrogate,
      );
    }
    const s = gradientStats(est, p, o);
    expect(s.maxAbsZ!).toBeLessThan(4.5);
    expect(s.variance[0]!).toBeLessThan(0.1 * vSf);
    theta.dispose();
    est.dispose();
  });
});
