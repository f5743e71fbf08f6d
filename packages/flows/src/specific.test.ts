/**
 * Properties of single bijectors beyond the shared checks: MAF / IAF fast and slow directions,
 * ActNorm's data-dependent initialisation across save / load, batch-norm modes, the planar
 * invertibility constraint, spline identity and tails, and the typed errors.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  bitsPerDim,
  loadModule,
  Rng,
  ShapeError,
  saveModule,
  tf,
  ValueError,
} from '@dgm-js/core-tensors';
import { expectNoLeaks } from '@dgm-js/test-utils';
import { describe, expect, it } from 'vitest';
import { ActNorm } from './actnorm.js';
import { BatchNormBijector } from './batchnorm.js';
import { Chain, DomainError } from './bijector.js';
import { AffineCoupling } from './coupling.js';
import { dequantize, LogitTransform } from './image.js';
import { invertTriangular, LULinear, luDecompose } from './linear.js';
import { IAF, MAF } from './maf.js';
import { alternatingMask, halfMask, Permute, Reverse } from './permute.js';
import { Planar } from './planar.js';
import { rationalQuadraticSpline, SplineCoupling } from './spline.js';
import { randomizeParameters } from './test-helpers.js';

type Tensor = tf.Tensor;

/** The slow direction done naively: D full MADE passes, each fixing one more dimension. */
function naiveSequential(
  made: MAF['made'],
  target: Tensor,
  ctx: Tensor | undefined,
  update: (t: Tensor, p0: Tensor, p1: Tensor) => Tensor,
): Tensor {
  return tf.tidy(() => {
    let v = tf.zerosLike(target);
    for (let i = 0; i < (target.shape[1] as number); i++) {
      const [p0, p1] = tf.unstack(made.forward(v, ctx), 2) as [Tensor, Tensor];
      v = update(target, p0, p1);
    }
    return v;
  });
}

describe('MAF and IAF: fast and slow directions', () => {
  it('MAF: the sequential forward equals D naive full passes, and the parallel inverse undoes it', () => {
    const rng = new Rng(1);
    const maf = new MAF(5, { rng, hidden: [16, 16], contextDim: 2, ordering: 'random' });
    randomizeParameters(maf, rng, 0.4);
    const u = tf.randomNormal([7, 5], 0, 1, 'float32', 1);
    const ctx = tf.randomNormal([7, 2], 0, 1, 'float32', 2);
    const slow = maf.forward(u, ctx);
    // (the sequential pass is itself D full passes by default; the incremental one is compared
    // with it below)
    const naive = naiveSequential(maf.made, u, ctx, (t, mu, raw) =>
      tf.add(tf.mul(t, tf.exp(tf.mul(tf.tanh(tf.div(raw, 5)), 5))), mu),
    );
    expect(slow.y).toBeAllclose(naive, { rtol: 1e-4, atol: 1e-5 });
    const fast = maf.inverse(slow.y, ctx);
    expect(fast.x).toBeAllclose(u, { rtol: 1e-4, atol: 1e-5 });
    expect(fast.logDetJ).toBeAllclose(tf.neg(slow.logDetJ), { rtol: 1e-5, atol: 1e-5 });
    tf.dispose([u, ctx, slow.y, slow.logDetJ, naive, fast.x, fast.logDetJ]);
    maf.dispose();
  });

  it('IAF: the sequential inverse equals D naive full passes, and the parallel forward undoes it', () => {
    const rng = new Rng(2);
    const iaf = new IAF(5, { rng, hidden: [16], ordering: 'reverse' });
    randomizeParameters(iaf, rng, 0.4);
    const y = tf.randomNormal([6, 5], 0, 1, 'float32', 3);
    const slow = iaf.inverse(y);
    const naive = naiveSequential(iaf.made, y, undefined, (t, m, s) => {
      const g = tf.sigmoid(tf.add(s, iaf.forgetBias));
      return tf.div(tf.sub(t, tf.mul(tf.sub(1, g), m)), g);
    });
    expect(slow.x).toBeAllclose(naive, { rtol: 1e-4, atol: 1e-5 });
    const fast = iaf.forward(slow.x);
    expect(fast.y).toBeAllclose(y, { rtol: 1e-4, atol: 1e-5 });
    expect(fast.logDetJ).toBeAllclose(tf.neg(slow.logDetJ), { rtol: 1e-5, atol: 1e-5 });
    tf.dispose([y, slow.x, slow.logDetJ, naive, fast.y, fast.logDetJ]);
    iaf.dispose();
  });

  it.each(['maf', 'iaf'] as const)(
    '%s: the incremental sequential pass (MADE.sequential) equals the full-pass one',
    (kind) => {
      const make = (mode: 'full' | 'incremental') => {
        const rng = new Rng(5);
        const o = {
          rng,
          hidden: [16],
          contextDim: 2,
          ordering: 'random' as const,
          sequential: mode,
        };
        const b = kind === 'maf' ? new MAF(4, o) : new IAF(4, o);
        randomizeParameters(b, rng, 0.4);
        return b;
      };
      const full = make('full');
      const inc = make('incremental');
      const v = tf.randomNormal([6, 4], 0, 1, 'float32', 8);
      const c = tf.randomNormal([6, 2], 0, 1, 'float32', 9);
      const a = kind === 'maf' ? full.forward(v, c) : full.inverse(v, c);
      const b = kind === 'maf' ? inc.forward(v, c) : inc.inverse(v, c);
      const [a0, a1] = Object.values(a) as Tensor[];
      const [b0, b1] = Object.values(b) as Tensor[];
      expect(b0).toBeAllclose(a0!, { rtol: 1e-4, atol: 1e-5 });
      expect(b1).toBeAllclose(a1!, { rtol: 1e-4, atol: 1e-5 });
      tf.dispose([v, c, a0!, a1!, b0!, b1!]);
      full.dispose();
      inc.dispose();
    },
  );

  it('the autoregressive property: output d of the fast direction depends only on inputs before d', () => {
    const rng = new Rng(3);
    const maf = new MAF(4, { rng, hidden: [16], ordering: [2, 0, 3, 1] });
    randomizeParameters(maf, rng, 0.5);
    const x = tf.randomNormal([1, 4], 0, 1, 'float32', 4);
    const rank = [1, 3, 0, 2]; // position of each dimension in the ordering
    for (let j = 0; j < 4; j++) {
      const g = tf.tidy(() =>
        tf
          .grad((v: Tensor) => tf.sum(tf.slice(maf.inverse(v).x, [0, j], [1, 1])))(x)
          .dataSync(),
      );
      for (let i = 0; i < 4; i++) {
        if (i !== j && rank[i]! > rank[j]!) expect(g[i], `d u_${j} / d x_${i}`).toBe(0);
      }
      expect(g[j]).not.toBe(0);
    }
    x.dispose();
    maf.dispose();
  });
});

describe('ActNorm', () => {
  it('initialises from the first batch, in the direction it is first used', () => {
    const data = tf.tidy(() =>
      tf.add(tf.mul(tf.randomNormal([256, 3], 0, 1, 'float32', 1), [2, 0.5, 3]), [1, -2, 0]),
    );
    const a = new ActNorm(3);
    expect(a.isInitialized).toBe(false);
    const { x } = a.inverse(data);
    expect(a.isInitialized).toBe(true);
    const m = tf.moments(x, 0);
    expect(m.mean).toBeAllclose([0, 0, 0], { rtol: 0, atol: 1e-4 });
    expect(m.variance).toBeAllclose([1, 1, 1], { rtol: 1e-3, atol: 1e-4 });
    const b = new ActNorm(3);
    const { y } = b.forward(data);
    const m2 = tf.moments(y, 0);
    expect(m2.mean).toBeAllclose([0, 0, 0], { rtol: 0, atol: 1e-4 });
    expect(m2.variance).toBeAllclose([1, 1, 1], { rtol: 1e-3, atol: 1e-4 });
    tf.dispose([data, x, y, m.mean, m.variance, m2.mean, m2.variance]);
    a.dispose();
    b.dispose();
  });

  it('initialises inside a training step, and the initialisation is saved and restored (not redone)', async () => {
    const rng = new Rng(4);
    const data = tf.tidy(() => tf.add(tf.mul(tf.randomNormal([128, 2], 0, 1, 'float32', 5), 3), 1));
    const make = () =>
      new Chain([new ActNorm(2), new AffineCoupling(alternatingMask(2, 0), { rng, hidden: [8] })]);
    const flow = make();
    const opt = tf.train.adam(1e-2);
    opt.minimize(() => tf.neg(tf.mean(flow.inverse(data).logDetJ)) as tf.Scalar)?.dispose();
    const an = flow.bijectors[0] as ActNorm;
    expect(an.isInitialized).toBe(true);
    const other = tf.tidy(() => tf.mul(tf.randomNormal([64, 2], 0, 1, 'float32', 6), 10));
    const want = flow.inverse(other);
    // in memory
    const copy = make();
    copy.setState(flow.getState());
    expect((copy.bijectors[0] as ActNorm).isInitialized).toBe(true);
    const got = copy.inverse(other); // a new batch must not re-initialise the loaded layer
    expect(got.x).toBeAllclose(want.x, { rtol: 1e-6, atol: 1e-6 });
    // through files
    const dir = await mkdtemp(join(tmpdir(), 'flows-actnorm-'));
    try {
      await saveModule(flow, dir);
      const loaded = make();
      await loadModule(loaded, dir);
      const got2 = loaded.inverse(other);
      expect(got2.x).toBeAllclose(want.x, { rtol: 1e-6, atol: 1e-6 });
      expect(got2.logDetJ).toBeAllclose(want.logDetJ, { rtol: 1e-6, atol: 1e-6 });
      tf.dispose([got2.x, got2.logDetJ]);
      loaded.dispose();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
    tf.dispose([data, other, want.x, want.logDetJ, got.x, got.logDetJ]);
    opt.dispose();
    flow.dispose();
    copy.dispose();
  });

  it('the first (initialising) call leaks nothing', async () => {
    const x = tf.randomNormal([16, 2, 2, 3], 0, 1, 'float32', 7);
    const a = new ActNorm(3);
    await expectNoLeaks(() => tf.dispose(Object.values(a.forward(x))), 'ActNorm init');
    x.dispose();
    a.dispose();
  });
});

describe('BatchNormBijector', () => {
  it('training mode standardises the batch and updates the running averages; evaluation mode uses them', () => {
    const bn = new BatchNormBijector(2, { momentum: 0.5 });
    const y = tf.tidy(() =>
      tf.add(tf.mul(tf.randomNormal([400, 2], 0, 1, 'float32', 1), [2, 0.5]), [3, -1]),
    );
    const { x, logDetJ } = bn.inverse(y);
    const m = tf.moments(x, 0);
    expect(m.mean).toBeAllclose([0, 0], { rtol: 0, atol: 1e-4 });
    expect(m.variance).toBeAllclose([1, 1], { rtol: 1e-3, atol: 1e-4 });
    const yv = tf.moments(y, 0);
    const want = tf.tidy(() =>
      tf.broadcastTo(tf.sum(tf.mul(-0.5, tf.log(tf.add(yv.variance, 1e-5)))), [400]),
    );
    expect(logDetJ).toBeAllclose(want, { rtol: 1e-5, atol: 1e-5 });
    expect(bn.runningMean).toBeAllclose(tf.mul(yv.mean, 0.5), { rtol: 1e-5, atol: 1e-5 });
    bn.training = false;
    const before = tf.clone(bn.runningMean);
    const r = bn.inverse(y);
    expect(bn.runningMean).toBeAllclose(before, { rtol: 0, atol: 0 });
    tf.dispose([
      y,
      x,
      logDetJ,
      m.mean,
      m.variance,
      yv.mean,
      yv.variance,
      want,
      before,
      r.x,
      r.logDetJ,
    ]);
    expect(() => {
      bn.training = true;
      bn.inverse(tf.zeros([1, 2]));
    }).toThrow(/at least 2 examples/);
    bn.dispose();
  });
});

describe('Planar', () => {
  it('stays invertible for any parameters: w^T u_hat > -1', () => {
    const rng = new Rng(9);
    for (let s = 0; s < 5; s++) {
      const p = new Planar(3, { rng, initScale: 3 });
      const [w] = [tf.tidy(() => tf.slice(p.parameters()[0]!, [0, 3], [1, 3]))];
      const u = p.uHat();
      const wu = tf.tidy(() => tf.sum(tf.mul(w!, u)).dataSync()[0]!);
      expect(wu).toBeGreaterThan(-1);
      tf.dispose([w!, u]);
      p.dispose();
    }
  });
});

describe('rational-quadratic spline', () => {
  it('all-zero parameters give the identity; outside the bound it is the identity', () => {
    const x = tf.tensor1d([-5, -2.9, -0.3, 0, 1.7, 3, 9]);
    const w = tf.zeros([7, 8]);
    const d = tf.zeros([7, 7]);
    const r = rationalQuadraticSpline(x, w, w, d, { bound: 3 });
    expect(r.outputs).toBeAllclose(x, { rtol: 1e-5, atol: 1e-5 });
    expect(r.logAbsDet).toBeAllclose(tf.zeros([7]), { rtol: 0, atol: 1e-5 });
    const rw = tf.randomNormal([7, 8], 0, 2, 'float32', 1);
    const rd = tf.randomNormal([7, 7], 0, 2, 'float32', 2);
    const q = rationalQuadraticSpline(x, rw, rw, rd, { bound: 3 });
    const out = q.outputs.dataSync();
    expect(out[0]).toBeCloseTo(-5, 5);
    expect(out[6]).toBeCloseTo(9, 5);
    // monotone
    const xs = tf.linspace(-3, 3, 101);
    const pw = tf.tile(tf.randomNormal([1, 8], 0, 2, 'float32', 3), [101, 1]);
    const pd = tf.tile(tf.randomNormal([1, 7], 0, 2, 'float32', 4), [101, 1]);
    const mono = rationalQuadraticSpline(xs, pw, tf.reverse(pw, 1), pd, {
      bound: 3,
    }).outputs.dataSync();
    for (let i = 1; i < 101; i++) expect(mono[i]!).toBeGreaterThan(mono[i - 1]!);
    expect(mono[0]).toBeCloseTo(-3, 4);
    expect(mono[100]).toBeCloseTo(3, 4);
    tf.dispose([x, w, d, r.outputs, r.logAbsDet, rw, rd, q.outputs, q.logAbsDet, xs, pw, pd]);
  });
});

describe('rational-quadratic spline: the fused kernel against the tensor-op reference', () => {
  it.each([false, true])(
    'inverse = %s: values and gradients (inputs, widths, heights, derivatives) agree',
    (inverse) => {
      const rng = new Rng(21);
      const n = 40;
      const k = 5;
      const x = tf.randomNormal([n], 0, 2, 'float32', rng.next()); // some beyond the bound
      const w = tf.randomNormal([n, k], 0, 1.5, 'float32', rng.next());
      const h = tf.randomNormal([n, k], 0, 1.5, 'float32', rng.next());
      const d = tf.randomNormal([n, k - 1], 0, 1.5, 'float32', rng.next());
      const gy = tf.randomNormal([n], 0, 1, 'float32', rng.next());
      const gl = tf.randomNormal([n], 0, 1, 'float32', rng.next());
      const run = (impl: 'fused' | 'ops') => {
        const loss = (xi: Tensor, wi: Tensor, hi: Tensor, di: Tensor) => {
          const r = rationalQuadraticSpline(xi, wi, hi, di, { bound: 2.5, inverse, impl });
          return tf.add(tf.sum(tf.mul(r.outputs, gy)), tf.sum(tf.mul(r.logAbsDet, gl)));
        };
        const r = rationalQuadraticSpline(x, w, h, d, { bound: 2.5, inverse, impl });
        const grads = tf.grads(loss)([x, w, h, d]);
        return [r.outputs, r.logAbsDet, ...grads];
      };
      const fused = run('fused');
      const ops = run('ops');
      const names = [
        'outputs',
        'logAbsDet',
        'd/dinputs',
        'd/dwidths',
        'd/dheights',
        'd/dderivatives',
      ];
      fused.forEach((t, i) => {
        expect(t, names[i]).toBeAllclose(ops[i]!, { rtol: 2e-3, atol: 2e-4 });
      });
      tf.dispose([x, w, h, d, gy, gl, ...fused, ...ops]);
    },
  );

  it('leaks nothing, with gradients', async () => {
    const x = tf.randomNormal([8, 3], 0, 2, 'float32', 1);
    const w = tf.randomNormal([8, 3, 4], 0, 1, 'float32', 2);
    const d = tf.randomNormal([8, 3, 3], 0, 1, 'float32', 3);
    await expectNoLeaks(() => {
      const g = tf.grads((a: Tensor, b: Tensor, c: Tensor) => {
        const r = rationalQuadraticSpline(a, b, b, c, { inverse: true });
        return tf.add(tf.sum(r.outputs), tf.sum(r.logAbsDet));
      })([x, w, d]);
      tf.dispose(g);
    }, 'fused spline');
    tf.dispose([x, w, d]);
  });
});

describe('LU helpers', () => {
  it('luDecompose reconstructs A = P L U; invertTriangular inverts', () => {
    const n = 4;
    const a = Float64Array.from(
      { length: n * n },
      (_, i) => Math.sin(i * 1.7) + (i % 5 === 0 ? 2 : 0),
    );
    const { p, l, u } = luDecompose(a, n);
    const A = tf.tensor2d(Float32Array.from(a), [n, n]);
    const P = tf.tensor2d(Float32Array.from(p), [n, n]);
    const L = tf.tensor2d(Float32Array.from(l), [n, n]);
    const U = tf.tensor2d(Float32Array.from(u), [n, n]);
    const rec = tf.matMul(P, tf.matMul(L, U));
    expect(rec).toBeAllclose(A, { rtol: 1e-5, atol: 1e-5 });
    const Li = invertTriangular(L, true);
    expect(tf.matMul(L, Li)).toBeAllclose(tf.eye(n), { rtol: 1e-5, atol: 1e-5 });
    const Ui = invertTriangular(U, false);
    expect(tf.matMul(Ui, U)).toBeAllclose(tf.eye(n), { rtol: 1e-4, atol: 1e-4 });
    tf.dispose([A, P, L, U, rec, Li, Ui]);
  });
});

describe('image transforms', () => {
  it('dequantize lands inside the pixel bins and bitsPerDim converts', () => {
    const x = tf.tensor2d([[0, 1 / 255, 128 / 255, 1]]);
    const y = dequantize(x, { rng: new Rng(0) });
    const v = y.dataSync();
    const k = [0, 1, 128, 255];
    for (let i = 0; i < 4; i++) {
      expect(v[i]!).toBeGreaterThanOrEqual(k[i]! / 256);
      expect(v[i]!).toBeLessThan((k[i]! + 1) / 256);
    }
    // a uniform density on [0, 1)^D has nll 0, i.e. 8 bits/dim (core's bitsPerDim, 256 levels)
    expect(bitsPerDim(0, 784, { levels: 256 })).toBeCloseTo(8, 10);
    tf.dispose([x, y]);
  });
});

describe('typed errors', () => {
  it('name the argument, the shapes and the fix', () => {
    const rng = new Rng(0);
    const c = new AffineCoupling(alternatingMask(3, 0), { rng });
    const t2 = tf.zeros([2, 2]);
    expect(() => c.forward(t2)).toThrow(ShapeError);
    expect(() => c.forward(t2)).toThrow(
      /AffineCoupling.forward: x must have shape \[N, 3\].*got \[2, 2\]/,
    );
    const t1 = tf.zeros([3]);
    expect(() => c.inverse(t1)).toThrow(/reshape it to \[1, D\]/);
    expect(() => new AffineCoupling([1, 1], { rng })).toThrow(/at least one 1 .* and one 0/);
    expect(() => new AffineCoupling([1, 2], { rng })).toThrow(ValueError);
    const cc = new AffineCoupling(halfMask(3, true), { rng, contextDim: 2 });
    const x3 = tf.zeros([4, 3]);
    expect(() => cc.forward(x3)).toThrow(
      /conditional \(contextDim 2\); pass a context of shape \[N, 2\]/,
    );
    const badCtx = tf.zeros([3, 2]);
    expect(() => cc.forward(x3, badCtx)).toThrow(/context must have shape \[4, 2\]/);
    expect(() => new Permute([0, 0, 1])).toThrow(/repeated/);
    expect(() => new Reverse(0)).toThrow(/dim must be an integer >= 1/);
    expect(() => new SplineCoupling(alternatingMask(2, 0), { rng, bins: 1 })).toThrow(/bins/);
    expect(() => new SplineCoupling(alternatingMask(2, 0), { rng, bound: -1 })).toThrow(/bound/);
    expect(() => new MAF(2, {} as never)).toThrow(/rng/);
    expect(() => new LULinear(0, { rng })).toThrow(/dim/);
    // domain errors
    const logit = new LogitTransform({ alpha: 0 });
    const out = tf.tensor2d([[0.5, 1.2]]);
    expect(() => logit.inverse(out)).toThrow(DomainError);
    expect(() => logit.inverse(out)).toThrow(/element 1 .* is 1.2/);
    const nan = tf.tensor2d([[Number.NaN, 0.5]]);
    expect(() => logit.inverse(nan)).toThrow(DomainError);
    const edge = tf.tensor2d([[0, 1]]);
    expect(() => logit.inverse(edge)).toThrow(/alpha > 0/);
    const safe = new LogitTransform({ alpha: 1e-6 }).inverse(edge);
    expect(Number.isFinite(safe.logDetJ.dataSync()[0]!)).toBe(true);
    expect(() => new LogitTransform({ alpha: 0.5 })).toThrow(/alpha/);
    tf.dispose([t2, t1, x3, badCtx, out, nan, edge, safe.x, safe.logDetJ]);
    c.dispose();
    cc.dispose();
  });
});
