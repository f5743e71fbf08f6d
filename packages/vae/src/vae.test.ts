/**
 * Training-loss behaviour (beta, KL warm-up, free bits, IWAE objective), leaks of every public
 * op, typed errors, sampling and images.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  type Independent,
  kl,
  Normal,
  Rng,
  ShapeError,
  Trainer,
  tf,
  ValueError,
} from '@dgm-js/core-tensors';
import { ESTIMATOR_NAMES, estimatorByName, reinforce } from '@dgm-js/estimators';
import { disposeAll, expectNoLeaks } from '@dgm-js/test-utils';
import { describe, expect, it } from 'vitest';
import { BernoulliVAE, CategoricalVAE } from './discrete.js';
import {
  sampleGridPng,
  saveInterpolations,
  saveReconstructions,
  saveSampleGrid,
} from './images.js';
import { klCyclical, klWarmup } from './schedules.js';
import { GaussianVAE } from './vae.js';

const D = 16;

function data(b = 8, seed = 0): tf.Tensor {
  return tf.tidy(() =>
    tf.cast(tf.less(tf.randomUniform([b, D], 0, 1, 'float32', seed), 0.4), 'float32'),
  );
}

function gaussian(seed = 0): GaussianVAE {
  return GaussianVAE.mlp({ inputDim: D, hidden: [12], latentDim: 4, rng: new Rng(seed) });
}

function value(t: tf.Tensor | number): number {
  return typeof t === 'number' ? t : (t.dataSync()[0] as number);
}

/** Loss and metrics as numbers (disposes the tensors). */
function lossOf(
  vae: GaussianVAE | BernoulliVAE,
  x: tf.Tensor,
  opts: Parameters<GaussianVAE['loss']>[1],
) {
  const r = vae.loss(x, opts);
  const out = {
    loss: value(r.loss),
    ...Object.fromEntries(Object.entries(r.metrics).map(([k, v]) => [k, value(v)])),
  };
  disposeAll(r);
  return out as Record<string, number> & { loss: number };
}

describe('KL weight (beta-VAE), warm-up and free bits', () => {
  it('loss = -recon + beta * KL for constant beta and for a schedule at its step', () => {
    const vae = gaussian();
    const x = data();
    const l1 = lossOf(vae, x, { rng: new Rng(1) });
    expect(l1.loss).toBeAllclose(-l1.recon! + l1.kl!, { rtol: 1e-5, atol: 1e-5 });
    expect(l1.elbo).toBeAllclose(l1.recon! - l1.kl!, { rtol: 1e-5, atol: 1e-5 });
    const l4 = lossOf(vae, x, { rng: new Rng(1), klWeight: 4 });
    expect(l4.loss).toBeAllclose(-l4.recon! + 4 * l4.kl!, { rtol: 1e-5, atol: 1e-5 });
    expect(l4.recon).toBeAllclose(l1.recon!, { rtol: 1e-6, atol: 1e-6 }); // same rng, same samples
    const warm = klWarmup({ steps: 100 });
    const lw = lossOf(vae, x, { rng: new Rng(1), klWeight: warm, step: 25 });
    expect(lw.klWeight).toBeAllclose(0.25, { rtol: 1e-7, atol: 0 });
    expect(lw.loss).toBeAllclose(-l1.recon! + 0.25 * l1.kl!, { rtol: 1e-5, atol: 1e-5 });
    tf.dispose(x);
    vae.dispose();
  });

  it('warm-up and cyclical schedules', () => {
    const w = klWarmup({ steps: 10, from: 0.1, start: 5 });
    expect([w(0), w(5), w(10), w(15), w(100)]).toBeAllclose([0.1, 0.1, 0.55, 1, 1], {
      rtol: 1e-12,
      atol: 1e-12,
    });
    const c = klCyclical({ period: 8, ratio: 0.5 });
    expect([c(0), c(2), c(4), c(7), c(8), c(10)]).toBeAllclose([0, 0.5, 1, 1, 0, 0.5], {
      rtol: 1e-12,
      atol: 1e-12,
    });
    expect(() => klWarmup({ steps: 0 })).toThrow(ValueError);
  });

  it('free bits: each latent unit KL (batch mean) counts as at least lambda nats, with no gradient below it', () => {
    const vae = gaussian();
    const x = data();
    const lambda = 0.5;
    const perDim = tf.tidy(() => {
      const q = vae.encode(x) as Independent;
      const p = new Normal(0, 1);
      const k = kl(q.base, p); // [B, d]
      const m = tf.mean(k, 0);
      q.dispose();
      p.dispose();
      return m;
    });
    const m = Array.from(perDim.dataSync());
    const base = lossOf(vae, x, { rng: new Rng(2) });
    const fb = lossOf(vae, x, { rng: new Rng(2), freeBits: lambda });
    const expected = -base.recon! + m.reduce((s, v) => s + Math.max(lambda, v), 0);
    expect(fb.loss).toBeAllclose(expected, { rtol: 1e-5, atol: 1e-5 });
    // with a huge lambda no unit's KL has a gradient: the loss gradient equals the reconstruction's
    const huge = 1e3;
    const vars = vae.encoder.parameters();
    const g1 = tf.variableGrads(() => vae.loss(x, { rng: new Rng(3), freeBits: huge }).loss, vars);
    const g0 = tf.variableGrads(() => {
      const r = vae.loss(x, { rng: new Rng(3), klWeight: 0 });
      return r.loss;
    }, vars);
    for (const name of Object.keys(g0.grads)) {
      expect(g1.grads[name]!).toBeAllclose(g0.grads[name]!, { rtol: 1e-4, atol: 1e-6 });
    }
    tf.dispose([
      x,
      perDim,
      g1.value,
      g0.value,
      ...Object.values(g1.grads),
      ...Object.values(g0.grads),
    ]);
    vae.dispose();
  });

  it('the IWAE objective: loss = -IWAE_k, and k = 1 equals the ELBO with a sampled KL in expectation', () => {
    const vae = gaussian();
    const x = tf.tile(data(1), [10000, 1]);
    const r = lossOf(vae, x, { rng: new Rng(4), objective: 'iwae', k: 1 });
    expect(r.loss).toBeAllclose(-r.iwae!, { rtol: 1e-6, atol: 1e-6 });
    expect(r.iwae).toBeAllclose(r.elbo!, { rtol: 0, atol: 0.05 });
    const r5 = lossOf(vae, x, { rng: new Rng(4), objective: 'iwae', k: 5 });
    expect(r5.iwae!).toBeGreaterThan(r.iwae!);
    expect(() => vae.loss(x, { rng: new Rng(0), objective: 'iwae', klWeight: 2 })).toThrow(
      ValueError,
    );
    tf.dispose(x);
    vae.dispose();
  });

  it('a discrete VAE with free bits and a weight keeps the same rule', () => {
    const vae = BernoulliVAE.mlp({
      inputDim: D,
      hidden: [12],
      latentDim: 6,
      estimator: 'straight-through',
      rng: new Rng(0),
    });
    const x = data();
    const a = lossOf(vae, x, { rng: new Rng(1), klWeight: 0 });
    const b = lossOf(vae, x, { rng: new Rng(1), klWeight: 2 });
    expect(b.loss - a.loss).toBeAllclose(2 * a.kl!, { rtol: 1e-4, atol: 1e-5 });
    const c = lossOf(vae, x, { rng: new Rng(1), freeBits: 100 });
    expect(c.loss - a.loss).toBeAllclose(600, { rtol: 1e-6, atol: 1e-3 });
    tf.dispose(x);
    vae.dispose();
  });
});

describe('training', () => {
  it('the Gaussian VAE improves its ELBO through the Trainer, with no leaks across steps', async () => {
    const vae = gaussian(1);
    const x = data(32, 7);
    const before = tf.tidy(
      () => tf.mean(vae.elbo(x, { rng: new Rng(0), samples: 20 })).dataSync()[0]!,
    );
    const trainer = new Trainer({
      model: vae,
      objective: vae.objective({ klWeight: klWarmup({ steps: 20 }) }),
      data: [x],
      optimizer: tf.train.adam(1e-2),
      maxSteps: 150,
      quiet: true,
      memoryCheck: 'throw',
    });
    const res = await trainer.fit();
    const after = tf.tidy(
      () => tf.mean(vae.elbo(x, { rng: new Rng(0), samples: 20 })).dataSync()[0]!,
    );
    expect(res.step).toBe(150);
    expect(after).toBeGreaterThan(before + 1);
    x.dispose();
    vae.dispose();
  });

  it.each([
    'score-function',
    'nvil',
    'vimco',
    'straight-through',
    'gumbel-softmax',
    'st-gumbel-softmax',
    'rebar',
    'relax',
  ] as const)(
    'a training step with %s leaks nothing (after the first step creates the estimator and optimizer state)',
    async (name) => {
      const vae = CategoricalVAE.mlp({
        inputDim: D,
        hidden: [12],
        latents: 3,
        categories: 4,
        estimator: name,
        rng: new Rng(0),
      });
      const x = data();
      const opt = tf.train.adam(1e-3);
      const k = name === 'vimco' ? 3 : 1;
      const step = (s: number) =>
        tf.tidy(() => {
          opt.minimize(() => vae.loss(x, { rng: new Rng(s), k }).loss);
        });
      step(0);
      await expectNoLeaks(() => step(1), `${name} training step`);
      opt.dispose();
      x.dispose();
      vae.dispose();
    },
  );
});

describe('leaks', () => {
  it.each([
    ['gaussian', () => gaussian()],
    [
      'bernoulli',
      () =>
        BernoulliVAE.mlp({
          inputDim: D,
          hidden: [12],
          latentDim: 5,
          estimator: reinforce(),
          rng: new Rng(0),
        }),
    ],
    [
      'categorical',
      () =>
        CategoricalVAE.mlp({
          inputDim: D,
          hidden: [12],
          latents: 3,
          categories: 4,
          estimator: 'gumbel-softmax',
          rng: new Rng(0),
        }),
    ],
  ] as const)(
    '%s: elbo, iwae, logWeights, encode, decode, prior, sample, reconstruct, interpolate, apply',
    async (_n, make) => {
      const vae = make();
      const x = data();
      const rng = new Rng(0);
      await expectNoLeaks(() => vae.elbo(x, { rng }).dispose(), 'elbo');
      await expectNoLeaks(() => disposeAll(vae.elboTerms(x, { rng, samples: 3 })), 'elboTerms');
      await expectNoLeaks(() => vae.iwae(x, 7, { rng }).dispose(), 'iwae');
      await expectNoLeaks(() => vae.logWeights(x, 3, { rng }).dispose(), 'logWeights');
      await expectNoLeaks(() => {
        const q = vae.encode(x);
        const z = q.sample({ rng });
        const lp = q.logProb(z);
        const px = vae.decode(z);
        const lx = px.logProb(x);
        const p = vae.prior();
        const lpz = p.logProb(z);
        tf.dispose([z, lp, lx, lpz]);
        q.dispose();
        px.dispose();
        p.dispose();
      }, 'encode / decode / prior');
      await expectNoLeaks(() => vae.sample(5, { rng }).dispose(), 'sample');
      await expectNoLeaks(
        () => vae.sample(5, { rng, output: 'sample', shape: [4, 4] }).dispose(),
        'sample draws',
      );
      await expectNoLeaks(
        () => vae.reconstruct(x, { rng, latent: 'sample' }).dispose(),
        'reconstruct',
      );
      await expectNoLeaks(() => vae.interpolate(x, x, 4).dispose(), 'interpolate');
      await expectNoLeaks(() => vae.apply(x).dispose(), 'apply');
      await expectNoLeaks(() => disposeAll(vae.loss(x, { rng })), 'loss');
      const s = vae.sample(3, { rng, shape: [4, 4] });
      expect(s.shape).toEqual([3, 4, 4]);
      const v = s.dataSync();
      expect(Math.min(...v)).toBeGreaterThanOrEqual(0);
      expect(Math.max(...v)).toBeLessThanOrEqual(1);
      s.dispose();
      x.dispose();
      vae.dispose();
    },
  );

  it('exact discrete samples at test time: one-hot / 0-1 latents from encode and the bounds', () => {
    const vae = CategoricalVAE.mlp({
      inputDim: D,
      hidden: [12],
      latents: 3,
      categories: 4,
      estimator: 'gumbel-softmax',
      rng: new Rng(0),
    });
    const x = data();
    const q = vae.encode(x);
    const z = q.sample({ rng: new Rng(1), sampleShape: [5] });
    expect(z.shape).toEqual([5, 8, 3, 4]);
    const sums = tf.tidy(() => tf.sum(z, -1));
    expect(sums).toBeAllclose(tf.ones([5, 8, 3]), { rtol: 0, atol: 0 });
    tf.dispose([z, sums]);
    q.dispose();
    x.dispose();
    vae.dispose();
  });
});

describe('images', () => {
  it('writes sample grids, reconstructions and interpolations as PNG', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'vae-img-'));
    const vae = gaussian();
    const x = data(6);
    const rng = new Rng(0);
    const png = await sampleGridPng(vae, 9, { imageShape: [4, 4], rng });
    expect(Array.from(png.slice(1, 4))).toEqual([80, 78, 71]); // 'PNG'
    const xr = tf.reverse(x, 0);
    await expectNoLeaks(async () => {
      await saveSampleGrid(vae, join(dir, 's.png'), 16, { imageShape: [4, 4], rng, cols: 4 });
      await saveReconstructions(vae, join(dir, 'r.png'), x, { imageShape: [4, 4], rng, cols: 3 });
      await saveInterpolations(vae, join(dir, 'i.png'), x, xr, 5, { imageShape: [4, 4], rng });
    }, 'image writers');
    for (const f of ['s.png', 'r.png', 'i.png'])
      expect((await readFile(join(dir, f))).length).toBeGreaterThan(50);
    await rm(dir, { recursive: true });
    tf.dispose([x, xr]);
    vae.dispose();
  });
});

describe('errors', () => {
  it('bad shapes, k <= 0, bad options and estimators get typed errors naming the argument', () => {
    const vae = gaussian();
    const x = data();
    const rng = new Rng(0);
    expect(() => vae.iwae(x, 0, { rng })).toThrow(/k must be an integer >= 1/);
    expect(() => vae.iwae(x, -3, { rng })).toThrow(ValueError);
    expect(() => vae.iwae(x, 1.5, { rng })).toThrow(ValueError);
    expect(() => vae.elbo(x, { rng, samples: 0 })).toThrow(/samples/);
    const v = tf.ones([D]);
    expect(() => vae.elbo(v, { rng })).toThrow(ShapeError);
    const wrong = tf.ones([4, D + 1]);
    expect(() => vae.elbo(wrong, { rng })).toThrow(ShapeError);
    expect(() => vae.decode(tf.ones([3, 5]))).toThrow(/latent shape \[4\]/);
    expect(() => vae.elbo(x, {} as never)).toThrow(/random stream/);
    expect(() => vae.loss(x, { rng, freeBits: -1 })).toThrow(/freeBits/);
    expect(() => vae.loss(x, { rng, klWeight: Number.NaN })).toThrow(/KL weight/);
    expect(() => vae.loss(x, { rng, objective: 'nope' as never })).toThrow(/objective/);
    expect(() => estimatorByName('nope' as never)).toThrow(/unknown estimator/);
    expect(ESTIMATOR_NAMES).toContain('relax');
    const bern = BernoulliVAE.mlp({
      inputDim: D,
      hidden: [8],
      latentDim: 3,
      estimator: 'nvil',
      rng,
    });
    expect(() => bern.loss(x, { rng, objective: 'iwae' })).toThrow(/vimco/);
    expect(
      () => new GaussianVAE({ latentDim: 4, encoder: {} as never, decoder: {} as never }),
    ).toThrow(ValueError);
    expect(
      () =>
        new GaussianVAE({
          latentDim: 4,
          encoder: gaussian().encoder as never,
          decoder: gaussian().decoder as never,
          likelihood: { type: 'gaussian', scale: 0 },
        }),
    ).toThrow(/likelihood/);
    tf.dispose([x, v, wrong]);
    bern.dispose();
    vae.dispose();
  });
});

describe('objective batches', () => {
  it('takes a tensor, { x } and a dataset batch { tensors: { x } } alike, and names the forms otherwise', () => {
    const vae = gaussian(3);
    const x = data(8, 4);
    const obj = vae.objective();
    const at = (b: unknown) => {
      const { loss, metrics } = obj.loss(b as tf.Tensor, { rng: new Rng(9), step: 0 } as never);
      const v = value(loss);
      tf.dispose([loss, ...Object.values(metrics ?? {}).filter((m) => m instanceof tf.Tensor)]);
      return v;
    };
    const plain = at(x);
    expect(at({ x })).toBe(plain);
    expect(at({ tensors: { x } })).toBe(plain);
    expect(() => at({ tensors: { y: x } })).toThrow(/tensors: \{ x \}/);
    x.dispose();
    vae.dispose();
  });
});
