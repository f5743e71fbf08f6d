import { Independent, Normal, Rng, tf, ValueError } from '@dgm-js/core-tensors';
import { expectNoLeaks } from '@dgm-js/test-utils';
import { describe, expect, it } from 'vitest';
import { ActNorm } from './actnorm.js';
import { BatchNormBijector, setTraining } from './batchnorm.js';
import { type Bijector, Chain } from './bijector.js';
import { AffineCoupling } from './coupling.js';
import { Flow, FlowDistribution, standardNormal } from './flow.js';
import { LULinear } from './linear.js';
import { IAF, MAF } from './maf.js';
import { alternatingMask, Reverse } from './permute.js';
import { Planar, Radial } from './planar.js';
import { SplineCoupling } from './spline.js';
import { randomizeParameters } from './test-helpers.js';

type Tensor = tf.Tensor;

const FAMILIES: { name: string; contextDim?: number; make: (rng: Rng) => Bijector[] }[] = [
  {
    name: 'RealNVP (affine coupling + ActNorm + LU)',
    make: (rng) => [
      new AffineCoupling(alternatingMask(2, 0), { rng, hidden: [16] }),
      new ActNorm(2, { dataInit: false }),
      new LULinear(2, { rng }),
      new AffineCoupling(alternatingMask(2, 1), { rng, hidden: [16] }),
    ],
  },
  {
    name: 'spline coupling',
    make: (rng) => [
      new SplineCoupling(alternatingMask(2, 0), { rng, hidden: [16], bins: 6, bound: 3 }),
      new SplineCoupling(alternatingMask(2, 1), { rng, hidden: [16], bins: 6, bound: 3 }),
    ],
  },
  {
    name: 'MAF',
    make: (rng) => [
      new MAF(2, { rng, hidden: [16] }),
      new Reverse(2),
      new MAF(2, { rng, hidden: [16] }),
    ],
  },
  {
    name: 'IAF',
    make: (rng) => [
      new IAF(2, { rng, hidden: [16] }),
      new Reverse(2),
      new IAF(2, { rng, hidden: [16] }),
    ],
  },
  {
    name: 'planar + radial',
    make: (rng) => [new Planar(2, { rng }), new Radial(2, { rng }), new Planar(2, { rng })],
  },
  {
    name: 'conditional spline + MAF (fixed context)',
    contextDim: 3,
    make: (rng) => [
      new SplineCoupling(alternatingMask(2, 0), { rng, hidden: [16], bins: 5, contextDim: 3 }),
      new MAF(2, { rng, hidden: [16], contextDim: 3 }),
    ],
  },
];

/** Integrates exp(logProb) over a grid with the midpoint rule. */
function gridMass(flow: Flow, half: number, steps: number, ctx?: Tensor): number {
  const h = (2 * half) / steps;
  const pts = new Float32Array(2 * steps * steps);
  for (let i = 0; i < steps; i++) {
    for (let j = 0; j < steps; j++) {
      pts[2 * (i * steps + j)] = -half + (i + 0.5) * h;
      pts[2 * (i * steps + j) + 1] = -half + (j + 0.5) * h;
    }
  }
  return tf.tidy(() => {
    const x = tf.tensor2d(pts, [steps * steps, 2]);
    const c = ctx ? tf.tile(ctx, [steps * steps, 1]) : undefined;
    return tf.sum(tf.exp(flow.logProb(x, c))).dataSync()[0]! * h * h;
  });
}

describe('Flow', () => {
  it.each(FAMILIES)('the density of a random $name flow integrates to 1 on a 2-D grid', (fam) => {
    const rng = new Rng(11);
    const flow = new Flow(fam.make(rng), {
      dim: 2,
      ...(fam.contextDim ? { contextDim: fam.contextDim } : {}),
    });
    randomizeParameters(flow, rng, 0.3);
    const ctx = fam.contextDim
      ? tf.randomNormal([1, fam.contextDim], 0, 1, 'float32', 5)
      : undefined;
    const mass = gridMass(flow, 9, 200, ctx);
    expect(mass).toBeGreaterThan(0.99);
    expect(mass).toBeLessThan(1.01);
    ctx?.dispose();
    flow.dispose();
  });

  it('rsampleWithLogProb returns the same log-density as logProb of the samples', () => {
    const rng = new Rng(3);
    const flow = new Flow(FAMILIES[0]!.make(rng), { dim: 2 });
    randomizeParameters(flow, rng, 0.3);
    const { x, logProb } = flow.rsampleWithLogProb({ sampleShape: [50], rng });
    expect(x.shape).toEqual([50, 2]);
    const lp = flow.logProb(x);
    expect(logProb).toBeAllclose(lp, { rtol: 1e-4, atol: 1e-4 });
    tf.dispose([x, logProb, lp]);
    flow.dispose();
  });

  it('samples follow the density (moments of a flow that is an affine map of the base)', () => {
    const rng = new Rng(4);
    const lin = new LULinear(2, { rng });
    const flow = new Flow([lin], { dim: 2 });
    const w = lin.weight();
    const xs = flow.sample({ sampleShape: [20000], rng });
    // x = u W with u ~ N(0, I): Cov(x) = W^T W
    const cov = tf.tidy(() => tf.div(tf.matMul(xs, xs, true, false), 20000));
    const want = tf.tidy(() => tf.matMul(w, w, true, false));
    expect(cov).toBeAllclose(want, { rtol: 0.05, atol: 0.03 });
    tf.dispose([w, xs, cov, want]);
    flow.dispose();
  });

  it('checks shapes and contexts with typed errors', () => {
    const rng = new Rng(0);
    const flow = new Flow(FAMILIES[1]!.make(rng), { dim: 2 });
    const bad = tf.zeros([3, 3]);
    expect(() => flow.logProb(bad)).toThrow(/must have shape \[N, 2\], got \[3, 3\]/);
    const ok = tf.zeros([3, 2]);
    expect(() => flow.logProb(ok, tf.zeros([3, 1]))).toThrow(ValueError);
    expect(() => flow.sample({ sampleShape: [0], rng })).toThrow(/positive integer/);
    expect(() => flow.sample({ sampleShape: [2] } as never)).toThrow(/rng/);
    const cond = new Flow(FAMILIES[5]!.make(rng), { dim: 2, contextDim: 3 });
    expect(() => cond.logProb(ok)).toThrow(/conditional/);
    expect(() => cond.logProb(ok, tf.zeros([2, 3]))).toThrow(
      /context must have shape \[3 \(or 1\), 3\]/,
    );
    expect(() => new Flow([new Reverse(2)], { dim: 2, base: standardNormal(3) })).toThrow(
      /eventShape \[2\]/,
    );
    tf.dispose([bad, ok]);
    flow.dispose();
    cond.dispose();
  });

  it('logProb, sample and a training step leak nothing', async () => {
    const rng = new Rng(5);
    const flow = new Flow(
      [...FAMILIES[0]!.make(rng), ...FAMILIES[2]!.make(rng), new BatchNormBijector(2)],
      { dim: 2 },
    );
    const x = tf.randomNormal([32, 2], 0, 1, 'float32', 1);
    const opt = tf.train.adam(1e-3);
    const step = () => {
      const loss = opt.minimize(() => tf.neg(tf.mean(flow.logProb(x))) as tf.Scalar, true);
      loss?.dispose();
    };
    step(); // creates the optimizer's slots
    await expectNoLeaks(() => step(), 'training step');
    setTraining(flow, false);
    await expectNoLeaks(() => flow.logProb(x).dispose(), 'logProb');
    await expectNoLeaks(() => flow.sample({ sampleShape: [8], rng }).dispose(), 'sample');
    await expectNoLeaks(() => {
      const r = flow.rsampleWithLogProb({ sampleShape: [8], rng });
      tf.dispose([r.x, r.logProb]);
    }, 'rsampleWithLogProb');
    x.dispose();
    opt.dispose();
    flow.dispose();
    expect(flow.isDisposed).toBe(true);
  });

  it('trains: a few hundred Adam steps of a spline flow move the NLL of a shifted Gaussian toward its entropy', () => {
    const rng = new Rng(6);
    const flow = new Flow(FAMILIES[1]!.make(rng), { dim: 2 });
    // data: N((1, -1), diag(0.5^2, 0.8^2)); entropy = log(2 pi e) + log(0.5 * 0.8)
    const data = tf.tidy(() =>
      tf.add(tf.mul(tf.randomNormal([512, 2], 0, 1, 'float32', 2), [0.5, 0.8]), [1, -1]),
    );
    const entropy = Math.log(2 * Math.PI * Math.E) + Math.log(0.4);
    const nll = () => tf.tidy(() => -tf.mean(flow.logProb(data)).dataSync()[0]!);
    const before = nll();
    const opt = tf.train.adam(1e-2);
    for (let i = 0; i < 150; i++) {
      opt.minimize(() => tf.neg(tf.mean(flow.logProb(data))) as tf.Scalar)?.dispose();
    }
    const after = nll();
    expect(after).toBeLessThan(before - 0.5);
    expect(after).toBeLessThan(entropy + 0.15);
    data.dispose();
    opt.dispose();
    flow.dispose();
  });
});

describe('FlowDistribution (a flow posterior)', () => {
  it('rsampleWithLogProb: shapes, agreement with logProb, reparameterised gradients, no leaks', async () => {
    const rng = new Rng(7);
    const B = 3;
    const D = 2;
    const C = 4;
    const mu = tf.variable(tf.randomNormal([B, D], 0, 1, 'float32', 1));
    const logSigma = tf.variable(tf.randomNormal([B, D], 0, 0.3, 'float32', 2));
    const h = tf.randomNormal([B, C], 0, 1, 'float32', 3);
    const layers = new Chain([
      new Planar(D, { rng, contextDim: C, initScale: 0.5 }),
      new Radial(D, { rng, contextDim: C, initScale: 0.5 }),
      new IAF(D, { rng, hidden: [8], contextDim: C }),
    ]);
    const make = () =>
      new FlowDistribution(new Independent(new Normal(mu, tf.exp(logSigma)), 1), layers, {
        context: h,
      });
    const q = make();
    expect(q.batchShape).toEqual([B]);
    expect(q.eventShape).toEqual([D]);
    const { x: z, logProb } = q.rsampleWithLogProb({ sampleShape: [5], rng });
    expect(z.shape).toEqual([5, B, D]);
    expect(logProb.shape).toEqual([5, B]);
    // the same density through the inverse (iterative for planar, sequential for IAF)
    const lp2 = q.logProb(z);
    expect(lp2).toBeAllclose(logProb, { rtol: 1e-3, atol: 2e-3 });
    tf.dispose([z, logProb, lp2]);
    q.dispose();
    // gradients reach the encoder's parameters and the flow's
    const { grads } = tf.variableGrads(() => {
      const qq = make();
      const r = qq.rsampleWithLogProb({ sampleShape: [2], rng });
      const loss = tf.mean(tf.add(r.logProb, tf.sum(tf.square(r.x), -1))) as tf.Scalar;
      qq.dispose();
      return loss;
    });
    for (const v of [mu, logSigma, ...layers.trainableParameters()]) {
      const g = grads[v.name];
      expect(g, v.name).toBeDefined();
      expect(Number.isFinite(tf.tidy(() => tf.sum(tf.abs(g!)).dataSync()[0]!))).toBe(true);
    }
    tf.dispose(Object.values(grads));
    await expectNoLeaks(
      () =>
        tf.tidy(() => {
          // (tf.exp(logSigma) is the caller's tensor; the tidy frees it)
          const qq = make();
          const r = qq.rsampleWithLogProb({ sampleShape: [2], rng });
          tf.dispose([r.x, r.logProb]);
          qq.rsample({ rng }).dispose();
          qq.sample({ rng }).dispose();
          qq.dispose();
        }),
      'FlowDistribution',
    );
    expect(() => q.entropy()).toThrow(/no closed form/);
    tf.dispose([mu, logSigma, h]);
    layers.dispose();
  });
});
