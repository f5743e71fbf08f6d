import { mlp, Rng, ShapeError, tf, ValueError } from '@dgm-js/core-tensors';
import { mmdTest } from '@dgm-js/eval';
import { checkGradient, disposeAll, expectNoLeaks } from '@dgm-js/test-utils';
import { bernoulliDecoder, categoricalEncoder, gaussianEncoder, stdNormal, VAE } from '@dgm-js/vae';
import { describe, expect, it } from 'vitest';
import { InfoVAE, kernelMmd2 } from './index.js';

const D = 12;
const d = 3;

function make(seed: number, extra: Record<string, unknown> = {}): InfoVAE {
  const rng = new Rng(seed);
  return new InfoVAE({
    encoder: gaussianEncoder(mlp([D, 10, 2 * d], { rng, activation: 'tanh' })),
    decoder: bernoulliDecoder(mlp([d, 10, D], { rng, activation: 'tanh' })),
    prior: stdNormal(d),
    ...extra,
  });
}

const data = () =>
  tf.tidy(() => tf.cast(tf.less(tf.randomUniform([8, D], 0, 1, 'float32', 4), 0.5), 'float32'));

/** The biased (V-statistic) MMD^2 in float64, written out (independent of both implementations). */
function mmdV(
  x: Float32Array,
  n: number,
  y: Float32Array,
  m: number,
  dim: number,
  k: (s: number) => number,
) {
  const at = (a: Float32Array, i: number, b: Float32Array, j: number) => {
    let s = 0;
    for (let t = 0; t < dim; t++) s += (a[i * dim + t]! - b[j * dim + t]!) ** 2;
    return k(s);
  };
  let xx = 0;
  let yy = 0;
  let xy = 0;
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) xx += at(x, i, x, j);
  for (let i = 0; i < m; i++) for (let j = 0; j < m; j++) yy += at(y, i, y, j);
  for (let i = 0; i < n; i++) for (let j = 0; j < m; j++) xy += at(x, i, y, j);
  return xx / (n * n) + yy / (m * m) - (2 * xy) / (n * m);
}

describe('kernelMmd2', () => {
  const x = tf.randomNormal([20, 4], 0.3, 1, 'float32', 1);
  const y = tf.randomNormal([30, 4], 0, 1.2, 'float32', 2);
  const xs = x.dataSync() as Float32Array;
  const ys = y.dataSync() as Float32Array;
  const f64 = (a: Float32Array) => Float64Array.from(a);

  it('unbiased: equals eval mmdTest (RBF and IMQ, fixed scales)', () => {
    for (const kernel of [
      { type: 'rbf' as const, sigma: 1.3 },
      { type: 'imq' as const, c: 2.5 },
    ]) {
      const ref = mmdTest(f64(xs), 20, f64(ys), 30, 4, { kernel, permutations: 0 }).mmd2;
      const got = kernelMmd2(x, y, { kernel, estimator: 'unbiased' });
      expect(got.dataSync()[0]!).toBeCloseTo(ref, 5);
      got.dispose();
    }
  });

  it("biased (default): the reference code's kernel exp(-||x-y||^2 / d^2) and IMQ c = 2d, by a float64 loop", () => {
    const rbf = kernelMmd2(x, y);
    expect(rbf.dataSync()[0]!).toBeCloseTo(
      mmdV(xs, 20, ys, 30, 4, (s) => Math.exp(-s / 16)),
      5,
    );
    const imq = kernelMmd2(x, y, { kernel: { type: 'imq' } });
    expect(imq.dataSync()[0]!).toBeCloseTo(
      mmdV(xs, 20, ys, 30, 4, (s) => 8 / (8 + s)),
      5,
    );
    tf.dispose([rbf, imq]);
  });

  it('its gradient matches finite differences; it leaks nothing', async () => {
    const ys5 = tf.slice(y, [0, 0], [6, 4]);
    const r = checkGradient(
      (a) => kernelMmd2(a, ys5, { kernel: { type: 'imq' } }),
      tf.slice(x, [0, 0], [5, 4]),
      {
        eps: 1e-2,
        rtol: 2e-2,
        atol: 2e-4,
      },
    );
    expect(r.pass, r.message).toBe(true);
    await expectNoLeaks(() => kernelMmd2(x, y).dispose(), 'kernelMmd2');
    ys5.dispose();
  });

  it('typed errors', () => {
    expect(() => kernelMmd2(x, tf.zeros([3, 5]))).toThrow(ShapeError);
    expect(() => kernelMmd2(tf.zeros([3]), y)).toThrow(/\[n, d\]/);
    expect(() => kernelMmd2(x, y, { kernel: { type: 'rbf', sigma: -1 } })).toThrow(ValueError);
    expect(() => kernelMmd2(x, y, { estimator: 'x' as never })).toThrow(/estimator/);
    expect(() => kernelMmd2(tf.zeros([1, 4]), y, { estimator: 'unbiased' })).toThrow(/at least 2/);
  });
});

describe('InfoVAE', () => {
  it('the gradient of the loss is the VAE loss gradient (KL weight 1 - alpha) plus (alpha + lambda - 1) times the MMD gradient', () => {
    const model = make(0, { alpha: 0.3, lambda: 5, priorSamples: 50, mmdEstimator: 'unbiased' });
    const x = data();
    const params = model.trainableParameters();
    const g = tf.variableGrads(() => model.loss(x, { rng: new Rng(11) }).loss, params);
    // the ELBO part from @dgm-js/vae's own loss, with the same draws
    const gVae = tf.variableGrads(
      () => VAE.prototype.loss.call(model, x, { rng: new Rng(11), klWeight: 0.7 }).loss,
      params,
    );
    // the MMD part: the same posterior draws, then the prior draws, from the same stream
    let zs: Float32Array | undefined;
    let ps: Float32Array | undefined;
    const gMmd = tf.variableGrads(() => {
      const rng = new Rng(11);
      const q = model.encode(x);
      const z = tf.reshape(q.rsample({ sampleShape: [1], rng }), [8, d]);
      q.dispose();
      const p = stdNormal(d).sample({ sampleShape: [50], rng });
      zs = z.dataSync() as Float32Array;
      ps = p.dataSync() as Float32Array;
      return kernelMmd2(z, p, { estimator: 'unbiased' });
    }, params);
    for (const k of Object.keys(g.grads)) {
      const gm = gMmd.grads[k]; // null for the decoder: the MMD does not depend on it
      const sum = gm ? tf.add(gVae.grads[k]!, tf.mul(gm, 0.3 + 5 - 1)) : tf.clone(gVae.grads[k]!);
      expect(g.grads[k]!).toBeAllclose(sum, { rtol: 1e-4, atol: 1e-5 });
      sum.dispose();
    }
    // the MMD metric equals eval's float64 estimate at those draws (RBF sigma = d / sqrt 2)
    const metrics = model.loss(x, { rng: new Rng(11) });
    const ref = mmdTest(Float64Array.from(zs!), 8, Float64Array.from(ps!), 50, d, {
      kernel: { type: 'rbf', sigma: d / Math.SQRT2 },
      permutations: 0,
    }).mmd2;
    expect((metrics.metrics.mmd as tf.Tensor).dataSync()[0]!).toBeCloseTo(ref, 5);
    disposeAll([g, gVae, gMmd, metrics, x]);
    model.dispose();
  });

  it('alpha = 1 drops the KL; the loss is -recon + lambda MMD', () => {
    const model = make(1, { alpha: 1, lambda: 2, kernel: { type: 'imq' } });
    const x = data();
    const t = model.terms(x, { rng: new Rng(3) });
    const l = model.loss(x, { rng: new Rng(3) });
    const want = -t.recon.dataSync()[0]! + 2 * t.mmd.dataSync()[0]!;
    expect(l.loss.dataSync()[0]!).toBeCloseTo(want, 4);
    expect((l.metrics.elbo as tf.Tensor).dataSync()[0]!).toBeCloseTo(
      t.recon.dataSync()[0]! - t.kl.dataSync()[0]!,
      4,
    );
    disposeAll([t, l, x]);
    model.dispose();
  });

  it('a training step, the terms and the bounds leak nothing', async () => {
    const model = make(2, { priorSamples: 20 });
    const x = data();
    const opt = tf.train.adam(1e-2);
    const rng = new Rng(5);
    tf.tidy(() => void opt.minimize(() => model.loss(x, { rng }).loss)); // optimizer slots
    await expectNoLeaks(() => {
      tf.tidy(() => void opt.minimize(() => model.loss(x, { rng }).loss));
    }, 'InfoVAE training step');
    await expectNoLeaks(() => disposeAll(model.terms(x, { rng, k: 2 })), 'InfoVAE.terms');
    await expectNoLeaks(() => model.iwae(x, 4, { rng }).dispose(), 'InfoVAE.iwae');
    opt.dispose();
    x.dispose();
    model.dispose();
  });

  it('typed errors on bad options', () => {
    const bad: [Record<string, unknown>, RegExp][] = [
      [{ alpha: Number.NaN }, /alpha must be a finite number/],
      [{ lambda: 0 }, /lambda must be > 0/],
      [{ alpha: -2, lambda: 1 }, /alpha \+ lambda - 1 must be >= 0/],
      [{ priorSamples: 1 }, /priorSamples/],
      [{ kernel: { type: 'gauss' } }, /kernel.type/],
      [{ mmdEstimator: 'v' }, /mmdEstimator/],
    ];
    for (const [opts, re] of bad) {
      expect(() => make(0, opts)).toThrow(ValueError);
      expect(() => make(0, opts)).toThrow(re);
    }
    const rng = new Rng(0);
    expect(
      () =>
        new InfoVAE({
          encoder: categoricalEncoder(mlp([D, 6], { rng }), { latents: 2, categories: 3 }),
          decoder: bernoulliDecoder(mlp([6, D], { rng })),
          prior: stdNormal(6),
          estimator: { estimate: () => undefined, dispose: () => undefined } as never,
        }),
    ).toThrow(/drop the estimator/);
    const model = make(0);
    const x = data();
    expect(() => model.loss(x, { rng, objective: 'iwae' })).toThrow(/alpha and lambda/);
    expect(() => model.loss(x, { rng, klWeight: 0.5 })).toThrow(ValueError);
    x.dispose();
    model.dispose();
  });
});
