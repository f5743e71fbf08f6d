/**
 * The four hybrid shapes of issue 13, each composed in a few lines from the public APIs
 * (`@dgm-js/vae`, `@dgm-js/flows`, `@dgm-js/autoregressive`, `@dgm-js/estimators` and this
 * package's index), trained a few steps without leaks, and checked against an independent
 * computation: the ELBO / loss by hand from the parts at the same samples (through the flows'
 * inverse direction, not the forward cache), or exact enumeration of the latent.
 */
import { GatedPixelCNN } from '@dgm-js/autoregressive';
import { HALF_LOG_2PI, mlp, Rng, tf } from '@dgm-js/core-tensors';
import { exact, relax } from '@dgm-js/estimators';
import type { Flow } from '@dgm-js/flows';
import { disposeAll, expectNoLeaks } from '@dgm-js/test-utils';
import {
  bernoulliDecoder,
  categoricalEncoder,
  gaussianEncoder,
  stdNormal,
  uniformCategorical,
  VAE,
} from '@dgm-js/vae';
import { describe, expect, it } from 'vitest';
import { type FlowPosterior, flatContext, iafPosterior, mafPrior } from './index.js';

type Tensor = tf.Tensor;
const D = 6;
const X = [
  [1, 0, 1, 1, 0, 0],
  [0, 0, 1, 0, 1, 1],
  [1, 1, 1, 0, 0, 1],
];
const num = (t: Tensor): number[] => {
  const v = Array.from(t.dataSync());
  t.dispose();
  return v;
};
const meanOf = (v: number[]) => v.reduce((a, b) => a + b, 0) / v.length;
const seOf = (v: number[]) => {
  const m = meanOf(v);
  return Math.sqrt(v.reduce((a, b) => a + (b - m) ** 2, 0) / (v.length - 1) / v.length);
};
/** log N(u; 0, I) per row, by formula. */
const stdNormalLogProb = (u: Tensor): Tensor =>
  tf.sub(tf.mul(-0.5, tf.sum(tf.square(u), -1)), (u.shape[u.rank - 1] as number) * HALF_LOG_2PI);

/**
 * E[IWAE_k] for a latent with finitely many values: q the posterior probabilities, logw the
 * log-weights log p(x, z) - log q(z | x) of each value. Sums over the multinomial counts of the
 * k draws (in float64).
 */
function expectedIwae(q: number[], logw: number[], k: number): number {
  const lf = [0];
  for (let i = 1; i <= k; i++) lf.push(lf[i - 1]! + Math.log(i));
  let total = 0;
  const counts = new Array<number>(q.length).fill(0);
  const visit = (j: number, left: number) => {
    if (j === q.length - 1) {
      counts[j] = left;
      let lpmf = lf[k]!;
      const terms: number[] = [];
      counts.forEach((n, m) => {
        lpmf += n * Math.log(q[m]!) - lf[n]!;
        if (n > 0) terms.push(Math.log(n) + logw[m]!);
      });
      const mx = Math.max(...terms);
      const lse = mx + Math.log(terms.reduce((a, t) => a + Math.exp(t - mx), 0));
      total += Math.exp(lpmf) * (lse - Math.log(k));
      return;
    }
    for (let n = 0; n <= left; n++) {
      counts[j] = n;
      visit(j + 1, left - n);
    }
  };
  visit(0, k);
  return total;
}

/** Trains `steps` Adam steps on `loss`, the second one inside a leak check. */
async function train(vae: VAE, x: Tensor, steps: number, lr: number, opts = {}): Promise<void> {
  const opt = tf.train.adam(lr);
  const rng = new Rng(11);
  const step = () =>
    tf.tidy(() => {
      opt.minimize(() => vae.loss(x, { rng, ...opts }).loss);
    });
  step();
  await expectNoLeaks(step, `${vae.kind} training step`);
  for (let i = 2; i < steps; i++) step();
  opt.dispose();
}

describe('(a) a VAE whose posterior is an IAF conditioned on the encoder (Kingma et al. 2016)', () => {
  const d = 2;
  const c = 4;
  const make = (seed = 0) => {
    const rng = new Rng(seed);
    return new VAE({
      encoder: iafPosterior(mlp([D, 16, 2 * d + c], { rng, activation: 'tanh' }), {
        latentDim: d,
        contextDim: c,
        layers: 2,
        hidden: [8],
        forgetBias: 0.5,
        rng,
      }),
      decoder: bernoulliDecoder(mlp([d, 16, D], { rng, activation: 'tanh' })),
      prior: stdNormal(d),
    });
  };

  /**
   * -ELBO from the parts at the draws of `Rng(seed)`: z0 = mu + sigma eps, z = IAF(z0; h), and
   * log q(z | x) through the flow's INVERSE (log q0(f^-1(z)) + log|det df^-1/dz|).
   */
  function byHand(vae: VAE, x: Tensor, k: number, seed: number): tf.Scalar {
    const enc = vae.encoder as FlowPosterior;
    const { loc, scale, context } = enc.baseParams(x);
    const b = x.shape[0] as number;
    const eps = tf.randomNormal([k, b, d], 0, 1, 'float32', new Rng(seed).next());
    const z0 = tf.reshape(tf.add(loc, tf.mul(scale, eps)), [k * b, d]);
    const ctx = tf.reshape(tf.tile(tf.expandDims(context as Tensor, 0), [k, 1, 1]), [k * b, c]);
    const z = enc.flow.forward(z0, ctx).y;
    const inv = enc.flow.inverse(z, ctx);
    const u = tf.div(tf.sub(tf.reshape(inv.x, [k, b, d]), loc), scale);
    const lq0 = tf.sub(stdNormalLogProb(u), tf.sum(tf.log(scale), -1));
    const lq = tf.add(lq0, tf.reshape(inv.logDetJ, [k, b]));
    const lp = stdNormalLogProb(tf.reshape(z, [k, b, d]));
    const px = vae.decoder.condition(z);
    const ll = tf.reshape(px.logProb(tf.tile(x, [k, 1])), [k, b]);
    px.dispose();
    return tf.neg(tf.mean(tf.sub(tf.add(ll, lp), lq))) as tf.Scalar;
  }

  it('loss, its gradient and the ELBO equal log p(x|z) + log p(z) - log q(z|x) by hand (q through the inverse)', () => {
    const vae = make();
    const x = tf.tensor2d(X);
    const vars = vae.trainableParameters();
    // the IAF layers and the encoder's context layer are trained parameters of the VAE
    expect(vae.namedParameters().some(([n]) => n.startsWith('encoder.flow.'))).toBe(true);
    const got = tf.variableGrads(() => vae.loss(x, { rng: new Rng(7), k: 3 }).loss, vars);
    const want = tf.variableGrads(() => byHand(vae, x, 3, 7), vars);
    expect(got.value).toBeAllclose(want.value, { rtol: 1e-5, atol: 1e-5 });
    for (const v of vars) {
      expect(got.grads[v.name]!).toBeAllclose(want.grads[v.name]!, { rtol: 1e-3, atol: 1e-5 });
    }
    disposeAll([got, want]);
    // evaluation: exact samples (same draws), the same quantity
    const e = tf.tidy(() => tf.mean(vae.elbo(x, { rng: new Rng(9), samples: 4 })));
    const h = tf.tidy(() => tf.neg(byHand(vae, x, 4, 9)));
    expect(e).toBeAllclose(h, { rtol: 1e-5, atol: 1e-5 });
    tf.dispose([e, h, x]);
    vae.dispose();
  });

  it('trains without leaks and the ELBO rises', async () => {
    const vae = make(1);
    const x = tf.tile(tf.tensor2d(X), [4, 1]);
    const score = () => meanOf(num(vae.elbo(x, { rng: new Rng(3), samples: 100 })));
    const before = score();
    await train(vae, x, 40, 0.02);
    expect(score()).toBeGreaterThan(before + 0.5);
    x.dispose();
    vae.dispose();
  });
});

describe('(b) a VAE with a MAF prior', () => {
  const d = 2;
  const make = (seed = 0) => {
    const rng = new Rng(seed);
    return new VAE({
      encoder: gaussianEncoder(mlp([D, 16, 2 * d], { rng, activation: 'tanh' })),
      decoder: bernoulliDecoder(mlp([d, 16, D], { rng, activation: 'tanh' })),
      prior: mafPrior(d, { rng, layers: 2, hidden: [8] }),
    });
  };

  it('the prior is a normalised density (grid integral 1), and the loss and its gradient equal the ELBO by hand', () => {
    const vae = make();
    const prior = vae.latentPrior as Flow;
    // integral of p(z) over [-7, 7]^2 by the midpoint rule
    const n = 281;
    const h = 14 / n;
    const mass = tf.tidy(() => {
      const g = tf.add(-7 + h / 2, tf.mul(h, tf.range(0, n)));
      const zz = tf.stack(
        [tf.reshape(tf.tile(tf.expandDims(g, 1), [1, n]), [-1]), tf.tile(g, [n])],
        1,
      );
      return tf.mul(tf.sum(tf.exp(prior.logProb(zz))), h * h);
    });
    expect(mass).toBeAllclose(1, { rtol: 0, atol: 2e-3 });
    mass.dispose();
    const x = tf.tensor2d(X);
    const k = 3;
    const vars = vae.trainableParameters();
    expect(vae.namedParameters().some(([nm]) => nm.startsWith('prior.'))).toBe(true);
    const byHand = () => {
      const q = vae.encode(x);
      const z = q.rsample({ sampleShape: [k], rng: new Rng(7) }); // the loss draws the same
      const lq = q.logProb(z);
      const zf = tf.reshape(z, [-1, d]);
      const inv = prior.transform.inverse(zf); // density direction, by hand
      const lp = tf.reshape(tf.add(stdNormalLogProb(inv.x), inv.logDetJ), [k, -1]);
      const px = vae.decoder.condition(zf);
      const ll = tf.reshape(px.logProb(tf.tile(x, [k, 1])), [k, -1]);
      px.dispose();
      q.dispose();
      return tf.neg(tf.mean(tf.sub(tf.add(ll, lp), lq))) as tf.Scalar;
    };
    const got = tf.variableGrads(() => vae.loss(x, { rng: new Rng(7), k }).loss, vars);
    const want = tf.variableGrads(byHand, vars);
    expect(got.value).toBeAllclose(want.value, { rtol: 1e-5, atol: 1e-5 });
    for (const v of vars) {
      expect(got.grads[v.name]!).toBeAllclose(want.grads[v.name]!, { rtol: 1e-4, atol: 1e-6 });
    }
    // the prior's parameters receive a gradient
    const priorGrad = prior
      .parameters()
      .reduce((s, v) => s + num(tf.sum(tf.abs(got.grads[v.name]!)))[0]!, 0);
    expect(priorGrad).toBeGreaterThan(0);
    disposeAll([got, want]);
    x.dispose();
    vae.dispose();
  });

  it('trains without leaks: the prior moves and the ELBO rises', async () => {
    const vae = make(1);
    const x = tf.tile(tf.tensor2d(X), [4, 1]);
    const prior = vae.latentPrior as Flow;
    const p0 = num(tf.concat(prior.parameters().map((v) => tf.reshape(v, [-1]))));
    const score = () => meanOf(num(vae.elbo(x, { rng: new Rng(3), samples: 100 })));
    const before = score();
    await train(vae, x, 40, 0.02);
    expect(score()).toBeGreaterThan(before + 0.5);
    const p1 = num(tf.concat(prior.parameters().map((v) => tf.reshape(v, [-1]))));
    expect(Math.max(...p1.map((v, i) => Math.abs(v - p0[i]!)))).toBeGreaterThan(1e-3);
    x.dispose();
    vae.dispose();
  });
});

describe('(c) a VAE whose decoder is a conditional PixelCNN over 3x3 binary images, one 4-way categorical latent', () => {
  const K = 4;
  const make = (seed = 0) => {
    const rng = new Rng(seed);
    return new VAE({
      encoder: categoricalEncoder(mlp([9, 16, K], { rng, activation: 'tanh' }), {
        latents: 1,
        categories: K,
      }),
      decoder: flatContext(
        new GatedPixelCNN({
          height: 3,
          width: 3,
          numLayers: 1,
          hiddenChannels: 8,
          firstKernelSize: 3,
          conditioning: { type: 'vector', dim: K },
          rng,
        }),
      ),
      prior: uniformCategorical(1, K),
      estimator: exact(),
    });
  };
  /** Every 3x3 binary image, [512, 9]. */
  const all = () =>
    tf.tensor2d(
      Array.from({ length: 512 }, (_, i) => Array.from({ length: 9 }, (_, j) => (i >> j) & 1)),
    );
  /** The four latent values for each of B images: [4, B, 1, 4]. */
  const latents = (b: number) => tf.tile(tf.reshape(tf.eye(K), [K, 1, 1, K]), [1, b, 1, 1]);
  /** Exact log p(x) and ELBO by enumerating z, [B] each (differentiable). */
  function enumerate(vae: VAE, x: Tensor): { logp: Tensor; elbo: Tensor } {
    const zs = latents(x.shape[0] as number);
    const q = vae.encode(x);
    const lq = q.logProb(zs); // [4, B]
    const joint = tf.add(vae.logLikelihood(zs, x), vae.prior().logProb(zs));
    const out = {
      logp: tf.logSumExp(joint, 0),
      elbo: tf.sum(tf.mul(tf.exp(lq), tf.sub(joint, lq)), 0),
    };
    q.dispose();
    return out;
  }

  it('p(x) sums to 1 over all 512 images; ELBO <= IWAE_k <= log p(x) and IWAE_k -> log p(x); the MC ELBO and the loss match enumeration', () => {
    const vae = make();
    const xs = all();
    const ex = tf.tidy(() => {
      const r = enumerate(vae, xs);
      return { total: tf.sum(tf.exp(r.logp)), gap: tf.min(tf.sub(r.logp, r.elbo)) };
    });
    expect(ex.total).toBeAllclose(1, { rtol: 0, atol: 1e-4 });
    expect(num(ex.gap)[0]!).toBeGreaterThanOrEqual(-1e-5);
    ex.total.dispose();
    for (const i of [0, 137, 511]) {
      const xi = tf.slice(xs, [i], [1]);
      const r = enumerate(vae, xi);
      const logp = num(r.logp)[0]!;
      const elbo = num(r.elbo)[0]!;
      expect(elbo).toBeLessThan(logp);
      // E[IWAE_k] exactly, by enumerating the counts of the k draws over the 4 latent values
      const { q, logw } = tf.tidy(() => {
        const zs = latents(1);
        const qd = vae.encode(xi);
        const lq = qd.logProb(zs);
        qd.dispose();
        const lw = tf.sub(tf.add(vae.logLikelihood(zs, xi), vae.prior().logProb(zs)), lq);
        return { q: Array.from(tf.exp(lq).dataSync()), logw: Array.from(lw.dataSync()) };
      });
      const ks = [1, 4, 64];
      const exactIw = ks.map((k) => expectedIwae(q, logw, k));
      expect(exactIw[0]!).toBeAllclose(elbo, { rtol: 1e-5, atol: 1e-5 }); // E[IWAE_1] = ELBO
      expect(exactIw[1]!).toBeGreaterThan(exactIw[0]!);
      expect(exactIw[2]!).toBeGreaterThan(exactIw[1]!);
      expect(exactIw[2]!).toBeLessThan(logp);
      // IWAE_k -> log p(x): the gap at k = 64 is a small fraction of the ELBO's
      expect(logp - exactIw[2]!).toBeLessThan((logp - elbo) / 10);
      // the VAE's Monte Carlo ELBO and IWAE_k agree with the exact expectations
      const rep = tf.tile(xi, [300, 1]);
      const e = num(vae.elbo(rep, { rng: new Rng(i) }));
      expect(Math.abs(meanOf(e) - elbo)).toBeLessThan(4 * seOf(e));
      ks.forEach((k, j) => {
        const v = num(vae.iwae(rep, k, { rng: new Rng(100 + k) }));
        expect(Math.abs(meanOf(v) - exactIw[j]!)).toBeLessThan(4 * seOf(v) + 1e-5);
      });
      // the loss (exact enumeration as the estimator) is -ELBO
      const l = vae.loss(xi, { rng: new Rng(1) });
      expect(l.loss).toBeAllclose(-elbo, { rtol: 1e-5, atol: 1e-5 });
      disposeAll([l, xi, rep]);
    }
    xs.dispose();
    vae.dispose();
  });

  it('trains without leaks and the exact ELBO rises', async () => {
    const vae = make(1);
    const x = tf.tidy(() =>
      tf.gather(all(), tf.tensor1d([0, 7, 56, 448, 273, 84, 511, 146], 'int32')),
    );
    const score = () => tf.tidy(() => meanOf(Array.from(enumerate(vae, x).elbo.dataSync())));
    const before = score();
    await train(vae, x, 30, 0.03);
    expect(score()).toBeGreaterThan(before + 0.5);
    x.dispose();
    vae.dispose();
  });
});

describe('(d) a VAE with categorical latents trained by RELAX', () => {
  const L = 2;
  const C = 3;
  const make = (seed = 0) => {
    const rng = new Rng(seed);
    return new VAE({
      encoder: categoricalEncoder(mlp([D, 16, L * C], { rng, activation: 'tanh' }), {
        latents: L,
        categories: C,
      }),
      decoder: bernoulliDecoder(mlp([L * C, 16, D], { rng, activation: 'tanh' })),
      prior: uniformCategorical(L, C),
      estimator: relax({ hidden: 8 }),
    });
  };
  /** The 9 latent configurations for each of B inputs: [9, B, 2, 3]. */
  const configs = (b: number) =>
    tf.tidy(() => {
      const rows = [];
      for (let i = 0; i < C; i++) for (let j = 0; j < C; j++) rows.push([i, j]);
      const oh = tf.oneHot(tf.tensor2d(rows, [C * C, L], 'int32'), C).toFloat(); // [9, 2, 3]
      return tf.tile(tf.expandDims(oh, 1), [1, b, 1, 1]);
    });
  /** -ELBO by enumeration, batch mean (differentiable). */
  function negElbo(vae: VAE, x: Tensor): tf.Scalar {
    const zs = configs(x.shape[0] as number);
    const q = vae.encode(x);
    const lq = q.logProb(zs);
    const w = tf.exp(lq);
    const joint = tf.add(vae.logLikelihood(zs, x), vae.prior().logProb(zs));
    q.dispose();
    return tf.neg(tf.mean(tf.sum(tf.mul(w, tf.sub(joint, lq)), 0))) as tf.Scalar;
  }

  it('the loss is a Monte Carlo estimate of -ELBO and its gradient is unbiased (against enumeration)', () => {
    const vae = make();
    const x = tf.tensor2d(X);
    const vars = vae.trainableParameters();
    const want = tf.variableGrads(() => negElbo(vae, x), vars);
    // the loss' value: E_q[-log p(x|z)] by the estimator's samples + the analytic KL
    const rep = tf.tile(x, [1000, 1]);
    const exactRep = num(tf.tidy(() => negElbo(vae, rep)))[0]!;
    const terms = vae.elboTerms(rep, { rng: new Rng(2) }); // exact samples: the per-row spread
    const se = seOf(num(terms.recon));
    disposeAll(terms);
    const l = vae.loss(rep, { rng: new Rng(3) });
    expect(Math.abs(num(l.loss)[0]! - exactRep)).toBeLessThan(4 * se);
    disposeAll(l);
    rep.dispose();
    // the gradient: two independent estimates with many samples; their mean is within a few
    // noise scales (|g1 - g2| / 2) of the exact gradient
    const flat = (g: Record<string, Tensor>) =>
      num(tf.concat(vars.map((v) => tf.reshape(g[v.name]!, [-1]))));
    const est = [5, 6].map((s) => {
      const g = tf.variableGrads(() => vae.loss(x, { rng: new Rng(s), k: 2000 }).loss, vars);
      const f = flat(g.grads);
      disposeAll(g);
      return f;
    });
    const ex = flat(want.grads);
    disposeAll(want);
    const norm = (v: number[]) => Math.sqrt(v.reduce((a, b) => a + b * b, 0));
    const mean = est[0]!.map((v, i) => (v + est[1]![i]!) / 2);
    const noise = norm(est[0]!.map((v, i) => v - est[1]![i]!)) / 2;
    const err = norm(mean.map((v, i) => v - ex[i]!));
    expect(err).toBeLessThan(3 * noise);
    expect(noise).toBeLessThan(0.5 * norm(ex)); // the check has power: noise well below signal
    x.dispose();
    vae.dispose();
  });

  it('trains without leaks and the enumerated ELBO rises', async () => {
    const vae = make(1);
    const x = tf.tile(tf.tensor2d(X), [4, 1]);
    const before = -num(tf.tidy(() => negElbo(vae, x)))[0]!;
    await train(vae, x, 40, 0.02, { k: 4 });
    expect(-num(tf.tidy(() => negElbo(vae, x)))[0]!).toBeGreaterThan(before + 0.3);
    expect(vae.estimator!.step).toBeGreaterThan(0);
    x.dispose();
    vae.dispose();
  });
});
