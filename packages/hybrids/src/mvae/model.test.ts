/**
 * MVAE and the JMVAE baseline: the posterior against the product of experts by hand (masks drop
 * experts), the ELBO against the decoders' log-likelihoods and the closed-form KL at the same
 * draw, the IWAE bound on log p(x, y) against numerical integration over a 1-D latent, masks
 * cutting a modality's gradients to zero, leaks of the bounds and of a training step, typed errors.
 */
import { mlp, Rng, ShapeError, type StepContext, tf, ValueError } from '@dgm-js/core-tensors';
import { disposeAll, expectNoLeaks } from '@dgm-js/test-utils';
import { describe, expect, it } from 'vitest';
import { JMVAE } from './jmvae.js';
import { GaussianExpert, mlpModality } from './modalities.js';
import { MVAE } from './model.js';
import { fromPaired, jmvaeObjective, mvaeObjective } from './objective.js';

type Tensor = tf.Tensor;
const D = 6;
const K = 3;

function parts(seed: number, d: number) {
  const rng = new Rng(seed);
  return [
    mlpModality({
      name: 'image',
      inputDim: D,
      hidden: [8],
      latentDim: d,
      likelihood: 'bernoulli',
      rng,
      activation: 'tanh',
    }),
    mlpModality({
      name: 'label',
      inputDim: K,
      hidden: [5],
      latentDim: d,
      likelihood: 'categorical',
      weight: 5,
      rng,
      activation: 'tanh',
    }),
  ];
}
const mvae = (seed = 0, d = 2) => new MVAE(parts(seed, d));
const jmvae = (seed = 0, d = 2) =>
  new JMVAE(parts(seed, d), {
    joint: new GaussianExpert(mlp([D + K, 8, 2 * d], { rng: new Rng(seed + 100) }), {
      latentDim: d,
    }),
  });

function data(n: number, seed: number) {
  return tf.tidy(() => ({
    image: tf.cast(tf.less(tf.randomUniform([n, D], 0, 1, 'float32', seed), 0.5), 'float32'),
    label: tf
      .oneHot(
        tf.tensor1d(
          [...Array(n)].map((_, i) => i % K),
          'int32',
        ),
        K,
      )
      .toFloat(),
  }));
}
const ctx = (step = 0, seed = 1): StepContext => ({
  step,
  epoch: 0,
  batchIndex: 0,
  rng: new Rng(seed),
});

describe('MVAE', () => {
  it('the posterior is the product of the prior and the present experts, by hand', () => {
    const m = mvae();
    const x = data(4, 3);
    const labelMask = tf.tensor1d([1, 0, 1, 0]);
    const imageMask = tf.tensor1d([1, 1, 0, 1]);
    const q = m.posterior({ data: x, masks: { image: imageMask, label: labelMask } });
    const ei = m.modality('image').encoder.gaussian(x.image);
    const el = m.modality('label').encoder.gaussian(x.label);
    const [mi, si, ml, sl] = [ei.loc, ei.scale, el.loc, el.scale].map(
      (t) => t.arraySync() as number[][],
    ) as [number[][], number[][], number[][], number[][]];
    const im = [1, 1, 0, 1];
    const lm = [1, 0, 1, 0];
    const wantLoc: number[][] = [];
    const wantScale: number[][] = [];
    for (let b = 0; b < 4; b++) {
      wantLoc.push([]);
      wantScale.push([]);
      for (let j = 0; j < 2; j++) {
        const ti = im[b]! / si[b]![j]! ** 2;
        const tl = lm[b]! / sl[b]![j]! ** 2;
        const T = 1 + ti + tl;
        wantLoc[b]!.push((ti * mi[b]![j]! + tl * ml[b]![j]!) / T);
        wantScale[b]!.push(1 / Math.sqrt(T));
      }
    }
    const mean = q.mean;
    expect(mean).toBeAllclose(tf.tensor2d(wantLoc), { rtol: 1e-5, atol: 1e-6 });
    // a modality absent from the batch is the same as masked out everywhere
    const qi = m.posterior({ data: { image: x.image } });
    const qMasked = m.posterior({ data: x, masks: { label: tf.zeros([4]) } });
    const a = qi.mean;
    const b = qMasked.mean;
    expect(b).toBeAllclose(a, { rtol: 1e-6, atol: 1e-7 });
    // scales through the density: log q at the mean is -sum log(sqrt(2 pi) sigma)
    const lq = q.logProb(mean);
    const want = wantScale.map((r) =>
      r.reduce((s, v) => s - Math.log(v) - 0.5 * Math.log(2 * Math.PI), 0),
    );
    expect(lq).toBeAllclose(tf.tensor1d(want), { rtol: 1e-5, atol: 1e-5 });
    disposeAll([x, labelMask, imageMask, ei, el, mean, a, b, lq]);
    for (const d of [q, qi, qMasked]) d.dispose();
    m.dispose();
  });

  it('the ELBO is sum_m lambda_m mask_m log p(x_m | z) - beta KL(q || N(0, I)) at the same draw', () => {
    const m = mvae(2, 3);
    const x = data(5, 4);
    const lm = tf.tensor1d([1, 0, 1, 1, 0]);
    const batch = { data: x, masks: { label: lm } };
    for (const weighted of [false, true]) {
      const e = m.elbo(batch, { rng: new Rng(9), klWeight: 0.3, weighted });
      const q = m.posterior(batch);
      const z = q.rsample({ rng: new Rng(9) });
      const want = tf.tidy(() => {
        const pi = m.modality('image').decoder.condition(z);
        const pl = m.modality('label').decoder.condition(z);
        const lpi = pi.logProb(x.image);
        const lpl = tf.mul(pl.logProb(x.label), lm);
        pi.dispose();
        pl.dispose();
        const mu = q.mean;
        const sd = tf.sqrt((q as unknown as { variance: Tensor }).variance);
        const klv = tf.sum(
          tf.mul(
            0.5,
            tf.sub(tf.add(tf.square(mu), tf.square(sd)), tf.add(1, tf.log(tf.square(sd)))),
          ),
          -1,
        );
        return tf.sub(tf.add(lpi, tf.mul(lpl, weighted ? 5 : 1)), tf.mul(klv, 0.3));
      });
      expect(e).toBeAllclose(want, { rtol: 1e-5, atol: 1e-4 });
      disposeAll([e, z, want]);
      q.dispose();
    }
    disposeAll([x, lm]);
    m.dispose();
  });

  it('the importance weights are unbiased for p(x, y) integrated numerically over a 1-D latent; IWAE is below it', () => {
    // wide experts (scale >= 3) so the weights have a small variance and the test has power
    const rng = new Rng(5);
    const p = parts(5, 1).map((q) => {
      q.encoder.dispose();
      return {
        ...q,
        encoder: new GaussianExpert(mlp([q.name === 'image' ? D : K, 4, 2], { rng }), {
          latentDim: 1,
          minScale: 3,
        }),
      };
    });
    const m = new MVAE(p);
    const x = data(3, 7);
    const k = 20000;
    const lw = m.logWeights({ data: x }, k, { rng: new Rng(2) }); // [k, 3]
    const iw = m.iwae({ data: x }, 50, { rng: new Rng(3) });
    // log p(x, y) = log int p(x|z) p(y|z) N(z; 0, 1) dz on a grid
    const n = 4001;
    const h = 20 / (n - 1);
    const grid = tf.tidy(() => tf.reshape(tf.linspace(-10, 10, n), [n, 1]));
    const want = tf.tidy(() => {
      const rows: Tensor[] = [];
      for (let b = 0; b < 3; b++) {
        const xi = tf.tile(tf.slice(x.image, [b], [1]), [n, 1]);
        const yi = tf.tile(tf.slice(x.label, [b], [1]), [n, 1]);
        const pi = m.modality('image').decoder.condition(grid);
        const pl = m.modality('label').decoder.condition(grid);
        const lj = tf.add(
          tf.add(pi.logProb(xi), pl.logProb(yi)),
          tf.sub(tf.mul(-0.5, tf.square(tf.reshape(grid, [n]))), 0.5 * Math.log(2 * Math.PI)),
        );
        pi.dispose();
        pl.dispose();
        rows.push(tf.add(tf.logSumExp(lj), Math.log(h)));
      }
      return tf.stack(rows);
    });
    // E_q[exp(lw)] = p(x, y): the mean of exp(lw - log p) is 1 within 4 standard errors
    const ratio = tf.tidy(() => tf.exp(tf.sub(lw, want)));
    const r = ratio.arraySync() as number[][];
    const w = want.arraySync() as number[];
    const ib = iw.arraySync() as number[];
    for (let b = 0; b < 3; b++) {
      const v = r.map((row) => row[b]!);
      const mean = v.reduce((a, c) => a + c, 0) / k;
      const sd = Math.sqrt(v.reduce((a, c) => a + (c - mean) ** 2, 0) / (k - 1));
      expect(Math.abs(mean - 1)).toBeLessThan(4 * (sd / Math.sqrt(k)) + 1e-3);
      expect(ib[b]!).toBeLessThan(w[b]! + 0.05);
    }
    disposeAll([x, lw, iw, grid, want, ratio]);
    m.dispose();
  });

  it('a modality masked out in every example gets no gradient (its expert and decoder drop out)', () => {
    const m = mvae(1, 2);
    const x = data(4, 5);
    const obj = mvaeObjective(m);
    const batch = { data: x, masks: { label: tf.zeros([4]) } };
    const label = m.modality('label');
    const vars = [...label.encoder.parameters(), ...label.decoder.parameters()];
    const { grads } = tf.variableGrads(() => obj.loss(batch, ctx()).loss as tf.Scalar, vars);
    for (const g of Object.values(grads)) expect(tf.max(tf.abs(g)).dataSync()[0]).toBe(0);
    const img = m.modality('image').decoder.parameters();
    const gi = tf.variableGrads(() => obj.loss(batch, ctx()).loss as tf.Scalar, img);
    expect(
      Math.max(...Object.values(gi.grads).map((g) => tf.max(tf.abs(g)).dataSync()[0]!)),
    ).toBeGreaterThan(0);
    disposeAll([x, batch.masks.label, grads, gi]);
    m.dispose();
  });

  it('the bounds, predictions and a training step do not leak (MVAE and JMVAE)', async () => {
    for (const make of [mvae, jmvae]) {
      const m = make();
      const x = data(4, 6);
      const masks = { label: tf.tensor1d([1, 0, 1, 1]), image: tf.tensor1d([1, 1, 0, 1]) };
      const batch = { data: x, masks };
      const obj =
        m instanceof MVAE
          ? mvaeObjective(m, { randomSubsets: 1, klWeight: (s) => Math.min(1, s / 10) })
          : jmvaeObjective(m as JMVAE, { alpha: 0.5 });
      const opt = tf.train.adam(1e-2);
      const step = (i: number) =>
        tf.tidy(() => {
          opt.minimize(() => obj.loss(batch, ctx(i)).loss as tf.Scalar);
        });
      step(0); // the optimiser's state is created on the first step
      await expectNoLeaks(() => {
        step(1);
        tf.dispose([
          m.elbo(batch, { rng: new Rng(1) }),
          m.elbo(batch, { rng: new Rng(1), subset: ['label'] }),
          m.iwae(batch, 3, { rng: new Rng(1) }),
          m.predict({ data: { image: x.image } }, 'label'),
          m.predict({ data: { label: x.label } }, 'image', { rng: new Rng(2) }),
        ]);
        m.posterior(batch).dispose();
      }, m.kind);
      disposeAll([x, masks]);
      opt.dispose();
      m.dispose();
    }
  });

  it('typed errors name the argument', () => {
    const m = mvae();
    const x = data(3, 1);
    expect(() => m.elbo({ data: x }, {} as never)).toThrow(/rng/);
    expect(() => m.posterior({ data: { sound: x.image } })).toThrow(/no modality named 'sound'/);
    expect(() => m.posterior({ data: x, masks: { label: tf.ones([4]) } })).toThrow(ShapeError);
    expect(() => m.posterior({ data: x, masks: { label: tf.ones([4]) } })).toThrow(/masks\.label/);
    expect(() => m.posterior({ data: { image: x.image, label: tf.zeros([2, K]) } })).toThrow(
      /data\.label has shape \[2,3\]|data\.label has shape \[2, 3\]/,
    );
    expect(() => m.posterior({ data: x }, { subset: [] })).toThrow(/subset/);
    expect(() => m.elbo({ data: x }, { rng: new Rng(0), klWeight: -1 })).toThrow(/klWeight/);
    expect(() => m.iwae({ data: x }, 0, { rng: new Rng(0) })).toThrow(/k/);
    expect(() => m.predict({ data: x }, 'sound')).toThrow(ValueError);
    expect(() => new MVAE([])).toThrow(/modalities/);
    const p = parts(0, 2);
    expect(() => new MVAE([p[0]!, { ...p[1]!, name: 'image' }])).toThrow(/unique/);
    expect(() =>
      mlpModality({
        name: 'a',
        inputDim: 3,
        hidden: [2],
        latentDim: 2,
        likelihood: 'poisson' as never,
        rng: new Rng(0),
      }),
    ).toThrow(/likelihood/);
    expect(() => mvaeObjective(m, { randomSubsets: -1 })).toThrow(/randomSubsets/);
    const j = jmvae();
    expect(() => j.jointParams({ data: { image: x.image } })).toThrow(/missing 'label'/);
    expect(() => jmvaeObjective(j, { alpha: Number.NaN })).toThrow(/alpha/);
    for (const q of p) {
      q.encoder.dispose();
      q.decoder.dispose();
    }
    disposeAll([x]);
    m.dispose();
    j.dispose();
  });
});

describe('fromPaired', () => {
  it('maps the fields of a paired batch to modalities and masks; the objective takes the paired batch as it is', () => {
    const m = mvae();
    const x = data(4, 8);
    const t = {
      image: x.image,
      label: tf.tensor1d([0, -1, 2, 0], 'int32'),
      labelOneHot: x.label,
      imageMask: tf.tensor1d([1, 1, 0, 1]),
      labelMask: tf.tensor1d([1, 0, 1, 1]),
    };
    const b = fromPaired(t);
    expect(Object.keys(b.data).sort()).toEqual(['image', 'label']);
    expect(b.data.label).toBe(t.labelOneHot);
    expect(b.masks?.image).toBe(t.imageMask);
    expect(b.masks?.label).toBe(t.labelMask);
    const obj = mvaeObjective<{ tensors: typeof t }>(m);
    const viaPaired = tf.tidy(() => obj.loss({ tensors: t }, ctx()).loss);
    const direct = tf.tidy(() => mvaeObjective(m).loss(b, ctx()).loss);
    expect(viaPaired).toBeAllclose(direct, { rtol: 0, atol: 0 });
    expect(() => fromPaired({ label: t.label })).toThrow(/no modality tensors/);
    disposeAll([t, viaPaired, direct]);
    m.dispose();
  });
});

describe('JMVAE', () => {
  it('complete examples use the joint encoder, incomplete ones the encoder of the modality they have', () => {
    const m = jmvae(3);
    const x = data(4, 2);
    const lm = tf.tensor1d([1, 0, 1, 1]);
    const im = tf.tensor1d([1, 1, 1, 0]);
    const q = m.posterior({ data: x, masks: { label: lm, image: im } });
    const j = m.jointParams({ data: x });
    const ui = m.modality('image').encoder.gaussian(x.image);
    const ul = m.modality('label').encoder.gaussian(x.label);
    const want = tf.tidy(() =>
      tf.stack([
        tf.gather(j.loc, 0),
        tf.gather(ui.loc, 1),
        tf.gather(j.loc, 2),
        tf.gather(ul.loc, 3),
      ]),
    );
    const mean = q.mean;
    expect(mean).toBeAllclose(want, { rtol: 1e-6, atol: 1e-7 });
    disposeAll([x, lm, im, j, ui, ul, want, mean]);
    q.dispose();
    m.dispose();
  });
});
