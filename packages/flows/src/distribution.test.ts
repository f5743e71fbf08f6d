/**
 * Flows through the core contracts only (`Distribution`, `ConditionalDistribution`): shapes of
 * `sample` / `rsample` with any `sampleShape`, `logProb` agreeing with the direct call and with
 * the density computed alongside the sample, reparameterised gradients, no leaks, and the errors
 * of what has no closed form.
 */
import {
  type ConditionalDistribution,
  DgmError,
  type Distribution,
  Rng,
  tf,
} from '@dgm-js/core-tensors';
import { expectNoLeaks } from '@dgm-js/test-utils';
import { describe, expect, it } from 'vitest';
import { AffineCoupling } from './coupling.js';
import { Flow } from './flow.js';
import { MAF } from './maf.js';
import { alternatingMask, Reverse } from './permute.js';
import { SplineCoupling } from './spline.js';
import { randomizeParameters } from './test-helpers.js';

describe('Flow as a Distribution', () => {
  it('sample shape [...sampleShape, D], logProb finite and equal to the direct call and to rsampleWithLogProb, no leaks', async () => {
    const rng = new Rng(41);
    const flow = new Flow(
      [
        new AffineCoupling(alternatingMask(3, 0), { rng, hidden: [8] }),
        new MAF(3, { rng, hidden: [8] }),
        new Reverse(3),
      ],
      { dim: 3 },
    );
    randomizeParameters(flow, rng, 0.3);
    const d: Distribution = flow;
    expect(d.batchShape).toEqual([]);
    expect(d.eventShape).toEqual([3]);
    expect(d.hasRsample).toBe(true);
    const xs = d.sample({ sampleShape: [4, 5], rng });
    expect(xs.shape).toEqual([4, 5, 3]);
    const lp = d.logProb(xs);
    expect(lp.shape).toEqual([4, 5]);
    expect(Array.from(lp.dataSync()).every(Number.isFinite)).toBe(true);
    const direct = flow.logProb(tf.reshape(xs, [20, 3]));
    expect(lp).toBeAllclose(tf.reshape(direct, [4, 5]), { rtol: 1e-6, atol: 1e-6 });
    // the density computed with the draw (forward direction) equals logProb (inverse direction)
    const r = flow.rsampleWithLogProb({ sampleShape: [6], rng });
    const lpr = d.logProb(r.x);
    expect(r.logProb).toBeAllclose(lpr, { rtol: 1e-4, atol: 1e-4 });
    // one draw is one example; its log-density a scalar
    const one = d.sample({ rng });
    expect(one.shape).toEqual([3]);
    const lpOne = d.logProb(one);
    expect(lpOne.shape).toEqual([]);
    await expectNoLeaks(() => d.sample({ sampleShape: [2, 2], rng }).dispose(), 'sample');
    await expectNoLeaks(() => d.rsample({ sampleShape: [2], rng }).dispose(), 'rsample');
    await expectNoLeaks(() => d.logProb(xs).dispose(), 'logProb');
    expect(() => d.entropy()).toThrow(DgmError);
    expect(() => d.entropy()).toThrow(/no closed form; estimate it/);
    expect(() => d.mean).toThrow(/no closed form; estimate it/);
    expect(() => d.mode).toThrow(/no closed form/);
    tf.dispose([xs, lp, direct, r.x, r.logProb, lpr, one, lpOne]);
    flow.dispose();
  });

  it('rsample passes gradients to the parameters, sample does not', () => {
    const rng = new Rng(42);
    const flow = new Flow([new AffineCoupling(alternatingMask(2, 0), { rng, hidden: [4] })], {
      dim: 2,
    });
    randomizeParameters(flow, rng, 0.3);
    const d: Distribution = flow;
    const vars = flow.trainableParameters();
    const norm = (f: () => tf.Scalar) => {
      const { value, grads } = tf.variableGrads(f, vars);
      const s = tf.tidy(() =>
        Object.values(grads).reduce((a, g) => a + tf.sum(tf.abs(g)).dataSync()[0]!, 0),
      );
      tf.dispose([value, ...Object.values(grads)]);
      return s;
    };
    expect(
      norm(() => tf.sum(tf.square(d.rsample({ sampleShape: [8], rng: new Rng(1) }))) as tf.Scalar),
    ).toBeGreaterThan(0);
    expect(
      norm(() => tf.sum(tf.square(d.sample({ sampleShape: [8], rng: new Rng(1) }))) as tf.Scalar),
    ).toBe(0);
    flow.dispose();
  });

  it('a conditional flow is a ConditionalDistribution: condition(c) integrates to 1 per context, shapes, no leaks', async () => {
    const rng = new Rng(43);
    const flow = new Flow(
      [
        new SplineCoupling(alternatingMask(2, 0), { rng, hidden: [8], bins: 5, contextDim: 2 }),
        new MAF(2, { rng, hidden: [8], contextDim: 2 }),
      ],
      { dim: 2, contextDim: 2 },
    );
    randomizeParameters(flow, rng, 0.3);
    const cd: ConditionalDistribution = flow;
    const c = tf.tensor2d([
      [1, -1],
      [0.5, 2],
    ]);
    const p = cd.condition(c);
    expect(p.batchShape).toEqual([2]);
    expect(p.eventShape).toEqual([2]);
    expect(p.hasRsample).toBe(true);
    // midpoint rule on [-9, 9]^2: the grid [G, 1, 2] broadcast against the batch [2] -> [G, 2]
    const steps = 160;
    const h = 18 / steps;
    const pts = new Float32Array(2 * steps * steps);
    for (let i = 0; i < steps; i++) {
      for (let j = 0; j < steps; j++) {
        pts[2 * (i * steps + j)] = -9 + (i + 0.5) * h;
        pts[2 * (i * steps + j) + 1] = -9 + (j + 0.5) * h;
      }
    }
    const grid = tf.tensor3d(pts, [steps * steps, 1, 2]);
    const mass = tf.tidy(() => tf.mul(tf.sum(tf.exp(p.logProb(grid)), 0), h * h));
    expect(mass).toBeAllclose([1, 1], { rtol: 0.01, atol: 0 });
    const xs = p.sample({ sampleShape: [3], rng });
    expect(xs.shape).toEqual([3, 2, 2]);
    const lp = p.logProb(xs);
    expect(lp.shape).toEqual([3, 2]);
    const direct = flow.logProb(tf.reshape(xs, [6, 2]), tf.tile(c, [3, 1]));
    expect(lp).toBeAllclose(tf.reshape(direct, [3, 2]), { rtol: 1e-6, atol: 1e-6 });
    const r = flow.rsampleWithLogProb({ sampleShape: [3], rng, context: c });
    const lpr = p.logProb(r.x);
    expect(r.logProb).toBeAllclose(lpr, { rtol: 1e-4, atol: 1e-4 });
    await expectNoLeaks(() => {
      const q = cd.condition(c);
      q.sample({ sampleShape: [2], rng }).dispose();
      q.rsample({ sampleShape: [2], rng }).dispose();
      q.logProb(xs).dispose();
      q.dispose();
    }, 'condition, sample, rsample, logProb');
    expect(() => flow.sample({ sampleShape: [2], rng })).toThrow(/conditional/);
    tf.dispose([c, grid, mass, xs, lp, direct, r.x, r.logProb, lpr]);
    p.dispose();
    flow.dispose();
  });
});
