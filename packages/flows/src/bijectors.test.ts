/**
 * Every bijector against itself: inverse(forward(x)) = x, forward and inverse log-determinants
 * against log|det J| of the full autodiff Jacobian (random inputs and random parameters), the
 * two log-determinants cancel, and nothing leaks.
 */
import { Module, Rng, tf } from '@dgm-js/core-tensors';
import { expectNoLeaks } from '@dgm-js/test-utils';
import { describe, expect, it } from 'vitest';
import { ActNorm } from './actnorm.js';
import { BatchNormBijector } from './batchnorm.js';
import { type Bijector, Chain, Invert } from './bijector.js';
import { AffineCoupling } from './coupling.js';
import { LogitTransform } from './image.js';
import { InvertibleConv1x1, LULinear } from './linear.js';
import { IAF, MAF } from './maf.js';
import { alternatingMask, halfMask, Permute, Reverse } from './permute.js';
import { Planar, Radial } from './planar.js';
import { ElementwiseSpline, SplineCoupling } from './spline.js';
import { autodiffLogDet, randomizeParameters } from './test-helpers.js';

type Tensor = tf.Tensor;

interface Case {
  name: string;
  /** Shape of one example. */
  event: number[];
  contextDim?: number;
  make: (rng: Rng) => Bijector;
  /** Scale of the random parameters (default 0.5). */
  paramScale?: number;
  /** Scale of the random inputs (default 1). */
  inputScale?: number;
  /** Extra setup after randomising (buffers, modes). */
  setup?: (b: Bijector, rng: Rng) => void;
}

const CASES: Case[] = [
  { name: 'Planar', event: [3], make: (rng) => new Planar(3, { rng }), paramScale: 1 },
  {
    name: 'Planar (conditional)',
    event: [3],
    contextDim: 2,
    make: (rng) => new Planar(3, { rng, contextDim: 2 }),
    paramScale: 1,
  },
  { name: 'Radial', event: [3], make: (rng) => new Radial(3, { rng }), paramScale: 1 },
  {
    name: 'Radial (conditional)',
    event: [3],
    contextDim: 2,
    make: (rng) => new Radial(3, { rng, contextDim: 2 }),
    paramScale: 1,
  },
  {
    name: 'AffineCoupling',
    event: [4],
    make: (rng) => new AffineCoupling(alternatingMask(4, 0), { rng, hidden: [8] }),
  },
  {
    name: 'AffineCoupling (conditional, half mask)',
    event: [5],
    contextDim: 3,
    make: (rng) => new AffineCoupling(halfMask(5, false), { rng, hidden: [8, 8], contextDim: 3 }),
  },
  {
    name: 'SplineCoupling (inputs inside and beyond the bound)',
    event: [3],
    make: (rng) =>
      new SplineCoupling(alternatingMask(3, 1), { rng, hidden: [8], bins: 5, bound: 1.5 }),
    inputScale: 1.5,
  },
  {
    name: 'SplineCoupling (conditional)',
    event: [4],
    contextDim: 2,
    make: (rng) =>
      new SplineCoupling(alternatingMask(4, 0), {
        rng,
        hidden: [8],
        bins: 4,
        bound: 3,
        contextDim: 2,
      }),
  },
  {
    name: 'ElementwiseSpline',
    event: [3],
    make: () => new ElementwiseSpline(3, { bins: 6, bound: 2 }),
    paramScale: 1,
    inputScale: 1.5,
  },
  { name: 'ActNorm', event: [3], make: () => new ActNorm(3, { dataInit: false }) },
  {
    name: 'ActNorm (images NHWC)',
    event: [2, 2, 2],
    make: () => new ActNorm(2, { dataInit: false }),
  },
  { name: 'LULinear', event: [4], make: (rng) => new LULinear(4, { rng }) },
  {
    name: 'InvertibleConv1x1 (images NHWC)',
    event: [2, 1, 3],
    make: (rng) => new InvertibleConv1x1(3, { rng }),
  },
  { name: 'Permute', event: [4], make: (rng) => Permute.random(4, rng) },
  { name: 'Reverse', event: [3], make: () => new Reverse(3) },
  { name: 'MAF', event: [3], make: (rng) => new MAF(3, { rng, hidden: [8, 8] }) },
  {
    name: 'MAF (conditional, reverse ordering)',
    event: [3],
    contextDim: 2,
    make: (rng) => new MAF(3, { rng, hidden: [8], contextDim: 2, ordering: 'reverse' }),
  },
  { name: 'IAF', event: [3], make: (rng) => new IAF(3, { rng, hidden: [8, 8] }) },
  {
    name: 'IAF (conditional, random ordering)',
    event: [4],
    contextDim: 2,
    make: (rng) => new IAF(4, { rng, hidden: [8], contextDim: 2, ordering: 'random' }),
  },
  {
    name: 'BatchNormBijector (evaluation mode)',
    event: [3],
    make: () => new BatchNormBijector(3),
    setup: (b, rng) => {
      const bn = b as BatchNormBijector;
      bn.training = false;
      bn.runningMean.assign(tf.tidy(() => tf.randomNormal([3], 0, 1, 'float32', rng.next())));
      bn.runningVar.assign(tf.tidy(() => tf.randomUniform([3], 0.3, 2, 'float32', rng.next())));
    },
  },
  { name: 'LogitTransform', event: [3], make: () => new LogitTransform({ alpha: 0.05 }) },
  {
    name: 'Chain (spline, LU, MAF, ActNorm) and Invert',
    event: [3],
    contextDim: 2,
    make: (rng) =>
      new Chain([
        new SplineCoupling(alternatingMask(3, 0), { rng, hidden: [8], bins: 4, contextDim: 2 }),
        new Invert(new LULinear(3, { rng })),
        new MAF(3, { rng, hidden: [8] }),
        new ActNorm(3, { dataInit: false }),
      ]),
  },
];

function build(c: Case, seed: number): { b: Bijector; x: Tensor; ctx: Tensor | undefined } {
  const rng = new Rng(seed);
  const b = c.make(rng);
  if (b instanceof Module)
    randomizeParameters(b as Module<never, unknown>, rng, c.paramScale ?? 0.5);
  c.setup?.(b, rng);
  const n = 4;
  const x = tf.randomNormal([n, ...c.event], 0, c.inputScale ?? 1, 'float32', rng.next());
  const ctx = c.contextDim
    ? tf.randomNormal([n, c.contextDim], 0, 1, 'float32', rng.next())
    : undefined;
  return { b, x, ctx };
}

describe.each(CASES)('$name', (c) => {
  it('inverse(forward(x)) = x and the log-determinants cancel', () => {
    const { b, x, ctx } = build(c, 1);
    const f = b.forward(x, ctx);
    expect(f.y.shape).toEqual(x.shape);
    expect(f.logDetJ.shape).toEqual([x.shape[0]]);
    const r = b.inverse(f.y, ctx);
    expect(r.x).toBeAllclose(x, { rtol: 1e-3, atol: 2e-4 });
    expect(tf.add(f.logDetJ, r.logDetJ)).toBeAllclose(tf.zeros([x.shape[0]!]), {
      rtol: 0,
      atol: 2e-4,
    });
    // and the other way round: forward(inverse(y)) = y
    const y2 = b.forward(r.x, ctx).y;
    expect(y2).toBeAllclose(f.y, { rtol: 1e-3, atol: 2e-4 });
    tf.dispose([x, ctx, f.y, f.logDetJ, r.x, r.logDetJ, y2].filter((t) => t) as Tensor[]);
    b.dispose();
  });

  it('forward logDetJ = log|det J| of the autodiff Jacobian', () => {
    const { b, x, ctx } = build(c, 2);
    const want = autodiffLogDet((v) => b.forward(v, ctx).y, x);
    const got = b.forward(x, ctx);
    expect(got.logDetJ).toBeAllclose(want, { rtol: 1e-3, atol: 1e-3 });
    tf.dispose([x, got.y, got.logDetJ]);
    ctx?.dispose();
    b.dispose();
  });

  it('inverse logDetJ = log|det J| of the autodiff Jacobian', () => {
    const { b, x, ctx } = build(c, 3);
    const y = tf.tidy(() => b.forward(x, ctx).y);
    const want = autodiffLogDet((v) => b.inverse(v, ctx).x, y);
    const got = b.inverse(y, ctx);
    expect(got.logDetJ).toBeAllclose(want, { rtol: 1e-3, atol: 1e-3 });
    tf.dispose([x, y, got.x, got.logDetJ]);
    ctx?.dispose();
    b.dispose();
  });

  it('leaks nothing, in either direction or under gradients', async () => {
    const { b, x, ctx } = build(c, 4);
    // warm-up (ActNorm-style lazy state, kernels)
    tf.dispose(Object.values(b.forward(x, ctx)));
    await expectNoLeaks(() => tf.dispose(Object.values(b.forward(x, ctx))), `${c.name}.forward`);
    const y = tf.tidy(() => b.forward(x, ctx).y);
    await expectNoLeaks(() => tf.dispose(Object.values(b.inverse(y, ctx))), `${c.name}.inverse`);
    if (b instanceof Module && b.trainableParameters().length) {
      await expectNoLeaks(() => {
        const { value, grads } = tf.variableGrads(() =>
          tf.tidy(() => {
            const r = b.inverse(y, ctx);
            return tf.sum(tf.add(tf.sum(tf.square(r.x)), r.logDetJ)) as tf.Scalar;
          }),
        );
        tf.dispose([value, ...Object.values(grads)]);
      }, `${c.name} gradient`);
    }
    tf.dispose([x, y, ...(ctx ? [ctx] : [])]);
    b.dispose();
  });
});
