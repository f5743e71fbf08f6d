/**
 * The bounds against exact values:
 * - a linear-Gaussian VAE, where log p(x) = log N(x; b, K^T K + s^2 I) and the ELBO of a
 *   Gaussian q are closed forms (Roweis 1998 / Tipping & Bishop 1999 for the marginal);
 * - tiny Bernoulli and categorical VAEs, where log p(x) and the ELBO are sums over every latent
 *   configuration (exact enumeration);
 * and the KL terms against the `kl()` registry of core-tensors and the textbook formulas.
 */
import { Dense, type Independent, kl, mlp, type Normal, Rng, tf } from '@dgm-js/core-tensors';
import { describe, expect, it } from 'vitest';
import { BernoulliVAE, CategoricalVAE } from './discrete.js';
import { GaussianVAE } from './vae.js';

type M = number[][];
const LOG2PI = Math.log(2 * Math.PI);

function matmul(a: M, b: M): M {
  return a.map((r) => b[0]!.map((_, j) => r.reduce((s, v, k) => s + v * b[k]![j]!, 0)));
}
function transpose(a: M): M {
  return a[0]!.map((_, j) => a.map((r) => r[j]!));
}
/** Inverse and log-determinant of a symmetric positive definite matrix (Gauss-Jordan). */
function invLogDet(a: M): { inv: M; logDet: number } {
  const n = a.length;
  const m = a.map((r, i) => [...r, ...r.map((_, j) => (i === j ? 1 : 0))]);
  let logDet = 0;
  for (let c = 0; c < n; c++) {
    const piv = m[c]![c]!;
    logDet += Math.log(piv);
    for (let j = 0; j < 2 * n; j++) m[c]![j]! /= piv;
    for (let r = 0; r < n; r++) {
      if (r === c) continue;
      const f = m[r]![c]!;
      for (let j = 0; j < 2 * n; j++) m[r]![j]! -= f * m[c]![j]!;
    }
  }
  return { inv: m.map((r) => r.slice(n)), logDet };
}

/** A linear-Gaussian VAE with a fixed decoder and an encoder set to a diagonal approximation of the posterior. */
function linearGaussian() {
  const d = 2;
  const D = 3;
  const sigma = 0.5;
  const K: M = [
    [1.0, 0.6, -0.4],
    [0.5, -0.8, 0.9],
  ]; // [d, D]: mean = z K + b
  const b = [0.2, -0.1, 0.3];
  const rng = new Rng(3);
  const enc = new Dense(D, 2 * d, { rng });
  const dec = new Dense(d, D, { rng });
  dec.kernel.assign(tf.tensor2d(K));
  dec.bias!.assign(tf.tensor1d(b));
  // exact posterior: cov P = (I + K K^T / s^2)^-1, mean = (x - b) K^T P / s^2
  const kkt = matmul(K, transpose(K));
  const prec = kkt.map((r, i) => r.map((v, j) => v / sigma ** 2 + (i === j ? 1 : 0)));
  const P = invLogDet(prec).inv;
  const A = matmul(transpose(K), P).map((r) => r.map((v) => v / sigma ** 2)); // [D, d]
  const bias = matmul([b], A)[0]!.map((v) => -v);
  // scales: the posterior's marginal std, inflated (an overdispersed proposal)
  const scales = P.map((r, i) => 1.3 * Math.sqrt(r[i]!));
  const raw = scales.map((s) => Math.log(Math.expm1(s - 1e-5)));
  enc.kernel.assign(tf.tensor2d(A.map((r) => [...r, 0, 0])));
  enc.bias!.assign(tf.tensor1d([...bias, ...raw]));
  const vae = new GaussianVAE({
    latentDim: d,
    encoder: enc,
    decoder: dec,
    likelihood: { type: 'gaussian', scale: sigma },
  });
  const C = matmul(transpose(K), K).map((r, i) => r.map((v, j) => v + (i === j ? sigma ** 2 : 0)));
  const { inv: Ci, logDet } = invLogDet(C);
  const logp = (x: number[]) => {
    const r = x.map((v, i) => v - b[i]!);
    const q = r.reduce((s, ri, i) => s + ri * r.reduce((t, rj, j) => t + Ci[i]![j]! * rj, 0), 0);
    return -0.5 * q - 0.5 * logDet - (D / 2) * LOG2PI;
  };
  const elbo = (x: number[]) => {
    const m = matmul([x.map((v, i) => v - b[i]!)], A)[0]!; // posterior mean used by q
    const mean = matmul([m], K)[0]!.map((v, i) => v + b[i]!);
    const sq = x.reduce((s, v, i) => s + (v - mean[i]!) ** 2, 0);
    const tr = scales.reduce((s, sj, j) => s + sj ** 2 * K[j]!.reduce((t, v) => t + v * v, 0), 0);
    const recon = -(D / 2) * Math.log(2 * Math.PI * sigma ** 2) - (sq + tr) / (2 * sigma ** 2);
    const klv = m.reduce(
      (s, mj, j) => s + 0.5 * (scales[j]! ** 2 + mj * mj - 1) - Math.log(scales[j]!),
      0,
    );
    return recon - klv;
  };
  return { vae, logp, elbo, D };
}

function meanOf(t: tf.Tensor): number {
  const v = tf.tidy(() => tf.mean(t).dataSync()[0] as number);
  t.dispose();
  return v;
}

describe('linear-Gaussian VAE (analytic log p(x))', () => {
  const x = [1.1, -0.7, 0.4];

  it('the ELBO matches its closed form', () => {
    const { vae, elbo } = linearGaussian();
    const xt = tf.tensor2d([x]);
    const e = meanOf(vae.elbo(xt, { rng: new Rng(1), samples: 40000 }));
    expect(e).toBeAllclose(elbo(x), { rtol: 0, atol: 0.02 });
    xt.dispose();
    vae.dispose();
  });

  it('ELBO <= IWAE_5 <= IWAE_50 <= IWAE_500 <= log p(x), and IWAE_5000 reaches log p(x)', () => {
    const { vae, logp, elbo } = linearGaussian();
    const R = 400;
    const xt = tf.tile(tf.tensor2d([x]), [R, 1]);
    const rng = new Rng(2);
    const lp = logp(x);
    const est = [5, 50, 500].map((k) => meanOf(vae.iwae(xt, k, { rng })));
    const e = elbo(x);
    expect(lp - e).toBeGreaterThan(0.05); // a diagonal q leaves a real gap
    expect(e).toBeLessThan(est[0]!);
    expect(est[0]!).toBeLessThan(est[1]!);
    expect(est[1]!).toBeLessThan(est[2]!);
    expect(est[2]!).toBeLessThan(lp + 1e-3);
    const few = tf.slice(xt, [0], [40]);
    const big = meanOf(vae.iwae(few, 5000, { rng }));
    expect(big).toBeAllclose(lp, { rtol: 0, atol: 2e-3 });
    tf.dispose([xt, few]);
    vae.dispose();
  });

  it('the KL term equals kl(q, p) of the registry and the closed form', () => {
    const { vae } = linearGaussian();
    const xt = tf.tensor2d([x, [0, 0, 0]]);
    const t = vae.elboTerms(xt, { rng: new Rng(0) });
    const q = vae.encode(xt);
    const p = vae.prior();
    const ref = kl(q, p);
    expect(t.kl).toBeAllclose(ref, { rtol: 1e-5, atol: 1e-6 });
    const base = (q as Independent).base as Normal;
    const closed = tf.tidy(() =>
      tf.sum(
        tf.sub(
          tf.mul(0.5, tf.sub(tf.add(tf.square(base.scale), tf.square(base.loc)), 1)),
          tf.log(base.scale),
        ),
        -1,
      ),
    );
    expect(t.kl).toBeAllclose(closed, { rtol: 1e-5, atol: 1e-6 });
    tf.dispose([xt, t.elbo, t.recon, t.kl, ref, closed]);
    q.dispose();
    p.dispose();
    vae.dispose();
  });
});

/** All configurations of the latent, `[configs, 1, ...latentShape]`. */
function bernoulliConfigs(d: number): tf.Tensor {
  const rows: number[][] = [];
  for (let m = 0; m < 2 ** d; m++) rows.push(Array.from({ length: d }, (_, j) => (m >> j) & 1));
  return tf.tensor3d(rows.map((r) => [r]));
}
function categoricalConfigs(n: number, c: number): tf.Tensor {
  const out: number[][][][] = [];
  for (let m = 0; m < c ** n; m++) {
    const z: number[][] = [];
    let r = m;
    for (let i = 0; i < n; i++) {
      z.push(Array.from({ length: c }, (_, j) => (j === r % c ? 1 : 0)));
      r = Math.floor(r / c);
    }
    out.push([z]);
  }
  return tf.tensor4d(out);
}

/** Exact log p(x) and ELBO by enumeration through the public encode / decode / prior. */
function enumerate(
  vae: BernoulliVAE | CategoricalVAE,
  x: tf.Tensor,
  zs: tf.Tensor,
): { logp: Float32Array; elbo: Float32Array } {
  return tf.tidy(() => {
    const pz = vae.prior();
    const q = vae.encode(x);
    const px = vae.decode(zs); // batch [configs, 1]
    const joint = tf.add(px.logProb(x), pz.logProb(zs)); // [configs, B]
    const lq = q.logProb(zs); // [configs, B]
    const logp = tf.logSumExp(joint, 0);
    const elbo = tf.sum(tf.mul(tf.exp(lq), tf.sub(joint, lq)), 0);
    const out = { logp: logp.dataSync() as Float32Array, elbo: elbo.dataSync() as Float32Array };
    pz.dispose();
    q.dispose();
    px.dispose();
    return out;
  });
}

describe.each([
  [
    'bernoulli',
    () => {
      const rng = new Rng(5);
      return {
        vae: new BernoulliVAE({
          latentDim: 3,
          encoder: mlp([6, 8, 3], { rng, activation: 'tanh' }),
          decoder: mlp([3, 8, 6], { rng, activation: 'tanh' }),
          estimator: 'score-function',
        }),
        zs: bernoulliConfigs(3),
      };
    },
  ],
  [
    'categorical',
    () => {
      const rng = new Rng(6);
      return {
        vae: new CategoricalVAE({
          latents: 2,
          categories: 3,
          encoder: mlp([6, 8, 6], { rng, activation: 'tanh' }),
          decoder: mlp([6, 8, 6], { rng, activation: 'tanh' }),
          estimator: 'gumbel-softmax',
        }),
        zs: categoricalConfigs(2, 3),
      };
    },
  ],
] as const)('%s VAE against exact enumeration', (_name, make) => {
  const xData = [
    [1, 0, 1, 1, 0, 0],
    [0, 0, 1, 0, 1, 1],
  ];

  it('ELBO (exact samples) -> enumerated ELBO, IWAE_k rises to the enumerated log p(x)', () => {
    const { vae, zs } = make();
    // a poor encoder (weights x 2), so the bounds' gaps are wide
    for (const v of vae.encoder.parameters()) v.assign(tf.tidy(() => tf.mul(v, 2)));
    const x = tf.tensor2d(xData);
    const ex = enumerate(vae, x, zs);
    for (let i = 0; i < 2; i++) {
      expect(ex.elbo[i]!).toBeLessThan(ex.logp[i]! - 0.1);
      const xi = tf.tile(tf.slice(x, [i], [1]), [1000, 1]);
      const rng = new Rng(10 + i);
      const e = meanOf(vae.elbo(xi, { rng, samples: 50 }));
      expect(e).toBeAllclose(ex.elbo[i]!, { rtol: 0, atol: 0.01 });
      const iw = [2, 10, 100].map((k) => meanOf(vae.iwae(xi, k, { rng })));
      expect(ex.elbo[i]!).toBeLessThan(iw[0]!);
      expect(iw[0]!).toBeLessThan(iw[1]!);
      expect(iw[1]!).toBeLessThan(iw[2]!);
      expect(iw[2]!).toBeLessThan(ex.logp[i]! + 2e-3);
      // IWAE_2000 on 50 copies: mean within 4 standard errors (+ its tiny bias) of log p(x)
      const x50 = tf.slice(xi, [0], [50]);
      const big = vae.iwae(x50, 2000, { rng });
      const v = Array.from(big.dataSync());
      const m = v.reduce((a, b) => a + b, 0) / v.length;
      const se = Math.sqrt(v.reduce((a, b) => a + (b - m) ** 2, 0) / (v.length - 1) / v.length);
      expect(Math.abs(m - ex.logp[i]!)).toBeLessThan(4 * se + 1e-3);
      expect(se).toBeLessThan(0.05);
      tf.dispose([xi, x50, big]);
    }
    tf.dispose([x, zs]);
    vae.dispose();
  });

  it('the analytic KL equals kl(q, p) of the registry and the enumerated KL', () => {
    const { vae, zs } = make();
    const x = tf.tensor2d(xData);
    const t = vae.elboTerms(x, { rng: new Rng(0) });
    const q = vae.encode(x);
    const p = vae.prior();
    const ref = kl(q, p);
    expect(t.kl).toBeAllclose(ref, { rtol: 1e-5, atol: 1e-6 });
    const enumKl = tf.tidy(() => {
      const lq = q.logProb(zs);
      return tf.sum(tf.mul(tf.exp(lq), tf.sub(lq, p.logProb(zs))), 0);
    });
    expect(t.kl).toBeAllclose(enumKl, { rtol: 1e-4, atol: 1e-5 });
    tf.dispose([x, zs, t.elbo, t.recon, t.kl, ref, enumKl]);
    q.dispose();
    p.dispose();
    vae.dispose();
  });
});
