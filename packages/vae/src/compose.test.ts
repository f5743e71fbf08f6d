/**
 * The VAE from parts, through the public API only: posteriors and priors the `kl` registry does
 * not know (the Monte Carlo KL path), checked against closed forms and exact enumeration; the
 * helpers reproduce GaussianVAE; leaks of construction, bounds, loss, sampling and dispose.
 */
import {
  Categorical,
  type ConditionalDistribution,
  Dense,
  Independent,
  kl,
  Logistic,
  MixtureSameFamily,
  mlp,
  Normal,
  OneHotCategorical,
  Rng,
  ShapeError,
  tf,
  ValueError,
} from '@dgm-js/core-tensors';
import { exact, reinforce } from '@dgm-js/estimators';
import { disposeAll, expectNoLeaks } from '@dgm-js/test-utils';
import { describe, expect, it } from 'vitest';
import {
  bernoulliDecoder,
  categoricalEncoder,
  GaussianVAE,
  gaussianEncoder,
  stdNormal,
  uniformCategorical,
  VAE,
} from './index.js';

type Tensor = tf.Tensor;
const D = 6;
const X3 = [
  [0.5, -1, 2],
  [0, 0.3, -0.7],
];
const X = [
  [1, 0, 1, 1, 0, 0],
  [0, 0, 1, 0, 1, 1],
  [1, 1, 1, 0, 0, 1],
];

function num(t: Tensor): number[] {
  const v = Array.from(t.dataSync());
  t.dispose();
  return v;
}
const meanOf = (v: number[]) => v.reduce((a, b) => a + b, 0) / v.length;
const seOf = (v: number[]) => {
  const m = meanOf(v);
  return Math.sqrt(v.reduce((a, b) => a + (b - m) ** 2, 0) / (v.length - 1) / v.length);
};

/** A Logistic that owns its parameter tensors (so the posterior is one object to dispose). */
class OwnedLogistic extends Logistic {
  constructor(loc: Tensor, scale: Tensor) {
    super(loc, scale, { validate: false });
    this.own(loc);
    this.own(scale);
  }
}

/** q(z | x) = prod_j Logistic(mu_j(x), s_j(x)): reparameterized, no KL registered against N(0, 1). */
function logisticEncoder(rng: Rng, d: number): ConditionalDistribution {
  const net = mlp([D, 16, 2 * d], { rng, activation: 'tanh' });
  return {
    condition: (x) => {
      const [loc, scale] = tf.tidy(() => {
        const [l, r] = tf.split(net.apply(x), 2, 1) as [Tensor, Tensor];
        return [l, tf.add(tf.softplus(r), 0.05)];
      });
      return new Independent(new OwnedLogistic(loc as Tensor, scale as Tensor), 1);
    },
    parameters: () => net.parameters(),
    dispose: () => net.dispose(),
  };
}

function logisticVae(seed = 0, d = 2): VAE {
  const rng = new Rng(seed);
  return new VAE({
    encoder: logisticEncoder(rng, d),
    decoder: bernoulliDecoder(mlp([d, 16, D], { rng, activation: 'tanh' })),
    prior: stdNormal(d),
  });
}

describe('a Logistic posterior (Monte Carlo KL, reparameterized)', () => {
  it('the KL is not in the registry, and elboTerms.kl matches the closed form KL(Logistic || N(0, 1))', () => {
    const vae = logisticVae();
    const x = tf.tensor2d([X[0]!]);
    const q = vae.encode(x);
    const p = vae.prior();
    expect(() => kl(q, p)).toThrow(/no KL divergence is registered/);
    // closed form per dimension: -log s - 2 + log(2 pi) / 2 + (mu^2 + pi^2 s^2 / 3) / 2
    const base = (q as Independent).base as Logistic;
    const mu = num(tf.clone(base.loc));
    const s = num(tf.clone(base.scale));
    const exactKl = mu.reduce(
      (acc, m, j) =>
        acc -
        Math.log(s[j]!) -
        2 +
        0.5 * Math.log(2 * Math.PI) +
        0.5 * (m * m + (Math.PI ** 2 * s[j]! ** 2) / 3),
      0,
    );
    q.dispose();
    p.dispose();
    // 50000 one-sample estimates (one per copy of x): mean within 4 standard errors
    const xs = tf.tile(x, [50000, 1]);
    const t = vae.elboTerms(xs, { rng: new Rng(1) });
    const k = num(t.kl);
    tf.dispose([t.elbo, t.recon]);
    const se = seOf(k);
    expect(se).toBeLessThan(0.02);
    expect(Math.abs(meanOf(k) - exactKl)).toBeLessThan(4 * se);
    tf.dispose([x, xs]);
    vae.dispose();
  });

  it('loss and elbo equal log p(x|z) + log p(z) - log q(z|x) computed from the same samples; free bits per unit', () => {
    const vae = logisticVae(1, 3);
    const x = tf.tensor2d(X);
    const k = 4;
    // the same draws: the loss takes q.rsample({ sampleShape: [k], rng }) first
    const byHand = tf.tidy(() => {
      const q = vae.encode(x) as Independent;
      const z = q.rsample({ sampleShape: [k], rng: new Rng(7) }); // [k, B, d]
      const ll = vae.logLikelihood(z, x); // [k, B]
      const pz = vae.prior() as Independent;
      const perUnit = tf.mean(tf.sub(q.base.logProb(z), pz.base.logProb(z)), 0); // [B, d]
      const recon = tf.mean(ll, 0);
      const klv = tf.sum(perUnit, -1);
      const fb = tf.sum(tf.maximum(tf.mean(perUnit, 0), 0.4));
      const out = tf.stack([
        tf.mean(tf.sub(klv, recon)), // loss, weight 1
        tf.sub(tf.mul(0.25, tf.mean(klv)), tf.mean(recon)), // weight 0.25
        tf.sub(fb, tf.mean(recon)), // free bits 0.4
        tf.mean(tf.sub(recon, klv)), // the elbo metric
      ]);
      q.dispose();
      return out;
    });
    const want = num(byHand);
    const got = [
      vae.loss(x, { rng: new Rng(7), k }),
      vae.loss(x, { rng: new Rng(7), k, klWeight: 0.25 }),
      vae.loss(x, { rng: new Rng(7), k, freeBits: 0.4 }),
    ];
    expect(got.map((r) => num(r.loss)[0]!)).toBeAllclose(want.slice(0, 3), {
      rtol: 1e-5,
      atol: 1e-5,
    });
    expect(num(got[0]!.metrics.elbo as Tensor)[0]).toBeAllclose(want[3]!, {
      rtol: 1e-5,
      atol: 1e-5,
    });
    disposeAll(got);
    // the evaluation bound with the same samples (exact samples: sample, not rsample, same draws)
    const e = tf.tidy(() => {
      const q = vae.encode(x);
      const z = q.sample({ sampleShape: [k], rng: new Rng(9) });
      const lw = tf.sub(tf.add(vae.logLikelihood(z, x), vae.prior().logProb(z)), q.logProb(z));
      q.dispose();
      return tf.mean(lw, 0);
    });
    expect(vae.elbo(x, { rng: new Rng(9), samples: k })).toBeAllclose(e, {
      rtol: 1e-5,
      atol: 1e-5,
    });
    tf.dispose([x, e]);
    vae.dispose();
  });

  it('trains: the gradient reaches encoder and decoder, the ELBO rises, a step leaks nothing', async () => {
    const vae = logisticVae(2);
    const x = tf.tile(tf.tensor2d(X), [4, 1]);
    const score = () => meanOf(num(vae.elbo(x, { rng: new Rng(3), samples: 200 })));
    const before = score();
    const vars = vae.trainableParameters();
    expect(vae.namedParameters().map(([n]) => n)).toContain('encoder.0');
    const g = tf.variableGrads(() => vae.loss(x, { rng: new Rng(0) }).loss, vars);
    for (const v of vars) {
      expect(num(tf.max(tf.abs(g.grads[v.name]!)))[0]!).toBeGreaterThan(0);
    }
    disposeAll([g.value, g.grads]);
    const opt = tf.train.adam(0.02);
    const rng = new Rng(4);
    const step = () =>
      tf.tidy(() => {
        opt.minimize(() => vae.loss(x, { rng }).loss);
      });
    step();
    await expectNoLeaks(step, 'Logistic-posterior training step');
    for (let i = 0; i < 60; i++) step();
    expect(score()).toBeGreaterThan(before + 0.5);
    opt.dispose();
    x.dispose();
    vae.dispose();
  });
});

/** A mixture of M one-hot categoricals over K values, owning its logits. */
class OwnedMixture extends MixtureSameFamily {
  constructor(mixLogits: Tensor, compLogits: Tensor) {
    super(
      new Categorical({ logits: mixLogits }, { validate: false }),
      new OneHotCategorical({ logits: compLogits }, { validate: false }),
    );
    this.own(mixLogits);
    this.own(compLogits);
  }
}

const K = 4;
const M = 2;

/** A VAE with one K-valued latent whose posterior is a mixture (no KL registered), uniform prior. */
function mixtureVae(seed = 0) {
  const rng = new Rng(seed);
  const net = mlp([D, 12, M + M * K], { rng, activation: 'tanh' });
  const encoder: ConditionalDistribution = {
    condition: (x) => {
      const [w, c] = tf.tidy(() => {
        const h = net.apply(x);
        const b = x.shape[0] as number;
        return [
          tf.slice(h, [0, 0], [b, M]),
          tf.reshape(tf.slice(h, [0, M], [b, M * K]), [b, M, K]),
        ];
      });
      return new OwnedMixture(w as Tensor, c as Tensor);
    },
    parameters: () => net.parameters(),
    dispose: () => net.dispose(),
  };
  return new VAE({
    encoder,
    decoder: bernoulliDecoder(mlp([K, 12, D], { rng, activation: 'tanh' })),
    prior: new OneHotCategorical({ probs: [0.1, 0.2, 0.3, 0.4] }),
    estimator: reinforce(),
  });
}

/** Exact log p(x), ELBO and KL by enumerating the K values of the latent: `[B]` each. */
function enumerate(vae: VAE, x: Tensor) {
  return tf.tidy(() => {
    const b = x.shape[0] as number;
    const zs = tf.tile(tf.reshape(tf.eye(K), [K, 1, K]), [1, b, 1]); // [K, B, K]
    const q = vae.encode(x);
    const lq = q.logProb(zs); // [K, B]
    const lp = vae.prior().logProb(zs);
    const joint = tf.add(vae.logLikelihood(zs, x), lp);
    const qz = tf.exp(lq);
    const out = {
      logp: num(tf.logSumExp(joint, 0)),
      elbo: num(tf.sum(tf.mul(qz, tf.sub(joint, lq)), 0)),
      kl: num(tf.sum(tf.mul(qz, tf.sub(lq, lp)), 0)),
      qsum: num(tf.sum(qz, 0)),
    };
    q.dispose();
    return out;
  });
}

describe('a mixture posterior over a 4-valued latent (Monte Carlo KL, score-function training)', () => {
  it('ELBO <= IWAE_k <= log p(x) by exact enumeration; the MC ELBO, KL and loss match it', () => {
    const vae = mixtureVae();
    const x = tf.tensor2d(X);
    const ex = enumerate(vae, x);
    expect(ex.qsum).toBeAllclose([1, 1, 1], { rtol: 1e-6, atol: 1e-6 });
    for (let i = 0; i < X.length; i++) {
      expect(ex.elbo[i]!).toBeLessThan(ex.logp[i]! - 0.01);
      const xi = tf.tile(tf.slice(x, [i], [1]), [2000, 1]);
      const t = vae.elboTerms(xi, { rng: new Rng(10 + i) });
      const e = num(t.elbo);
      const k = num(t.kl);
      t.recon.dispose();
      expect(Math.abs(meanOf(e) - ex.elbo[i]!)).toBeLessThan(4 * seOf(e));
      expect(Math.abs(meanOf(k) - ex.kl[i]!)).toBeLessThan(4 * seOf(k));
      const iw = [2, 8, 32].map((kk) => meanOf(num(vae.iwae(xi, kk, { rng: new Rng(20 + kk) }))));
      expect(ex.elbo[i]!).toBeLessThan(iw[0]!);
      expect(iw[0]!).toBeLessThan(iw[1]!);
      expect(iw[1]!).toBeLessThan(iw[2]!);
      expect(iw[2]!).toBeLessThan(ex.logp[i]! + 1e-3);
      // the loss through REINFORCE: its value is the Monte Carlo E_q[-log p(x|z) + log q - log p]
      // (one sample per row, so its standard error is that of the one-sample ELBOs above)
      const r = vae.loss(xi, { rng: new Rng(30 + i) });
      expect(Math.abs(num(r.loss)[0]! + ex.elbo[i]!)).toBeLessThan(4 * seOf(e));
      disposeAll(r);
      xi.dispose();
    }
    x.dispose();
    vae.dispose();
  });

  it('trains by REINFORCE without leaks, and the enumerated ELBO rises', async () => {
    const vae = mixtureVae(1);
    const x = tf.tile(tf.tensor2d(X), [8, 1]);
    const before = meanOf(enumerate(vae, x).elbo);
    const opt = tf.train.adam(0.02);
    const rng = new Rng(5);
    const step = () =>
      tf.tidy(() => {
        opt.minimize(() => vae.loss(x, { rng, k: 4 }).loss);
      });
    step();
    await expectNoLeaks(step, 'mixture-posterior training step');
    for (let i = 0; i < 80; i++) step();
    expect(meanOf(enumerate(vae, x).elbo)).toBeGreaterThan(before + 0.3);
    expect(() => vae.loss(x, { rng, freeBits: 0.1 })).toThrow(/freeBits/);
    opt.dispose();
    x.dispose();
    vae.dispose();
  });
});

describe('a mixture prior with exact enumeration as the estimator', () => {
  /** One 4-way categorical latent (event [1, 4]); prior: a 2-component mixture of categoricals. */
  function make(seed = 0) {
    const rng = new Rng(seed);
    const prior = new Independent(
      new MixtureSameFamily(
        new Categorical({ probs: [[0.3, 0.7]] }),
        new OneHotCategorical({
          probs: [
            [
              [0.7, 0.1, 0.1, 0.1],
              [0.05, 0.15, 0.3, 0.5],
            ],
          ],
        }),
      ),
      1,
    );
    return new VAE({
      encoder: categoricalEncoder(mlp([D, 10, K], { rng, activation: 'tanh' }), {
        latents: 1,
        categories: K,
      }),
      decoder: bernoulliDecoder(mlp([K, 10, D], { rng, activation: 'tanh' })),
      prior,
      estimator: exact(),
    });
  }

  /** -(weighted) ELBO by enumeration, batch mean, as a differentiable scalar. */
  function enumerated(vae: VAE, x: Tensor, w = 1): tf.Scalar {
    const b = x.shape[0] as number;
    const zs = tf.tile(tf.reshape(tf.eye(K), [K, 1, 1, K]), [1, b, 1, 1]); // [K, B, 1, K]
    const q = vae.encode(x);
    const lq = q.logProb(zs);
    const lp = vae.prior().logProb(zs);
    const ll = vae.logLikelihood(zs, x);
    const v = tf.mean(tf.sum(tf.mul(tf.exp(lq), tf.sub(tf.mul(w, tf.sub(lq, lp)), ll)), 0));
    q.dispose();
    return v as tf.Scalar;
  }

  it('loss and gradient equal the enumerated -ELBO and its gradient (weights 1 and 0.5)', () => {
    const vae = make();
    const x = tf.tensor2d(X);
    const vars = vae.trainableParameters();
    for (const w of [1, 0.5]) {
      const got = tf.variableGrads(() => vae.loss(x, { rng: new Rng(0), klWeight: w }).loss, vars);
      const want = tf.variableGrads(() => enumerated(vae, x, w), vars);
      expect(got.value).toBeAllclose(want.value, { rtol: 1e-5, atol: 1e-5 });
      for (const v of vars) {
        expect(got.grads[v.name]!).toBeAllclose(want.grads[v.name]!, { rtol: 1e-4, atol: 1e-6 });
      }
      disposeAll([got.value, got.grads, want.value, want.grads]);
    }
    const m = vae.loss(x, { rng: new Rng(0) }).metrics;
    const ref = tf.tidy(() => tf.neg(enumerated(vae, x)));
    expect(m.elbo as Tensor).toBeAllclose(ref, { rtol: 1e-5, atol: 1e-5 });
    disposeAll([m, ref]);
    tf.dispose(x);
    vae.dispose();
  });
});

describe('parts', () => {
  it('gaussianEncoder + bernoulliDecoder + stdNormal is GaussianVAE (same seeds, same numbers)', () => {
    const a = GaussianVAE.mlp({ inputDim: D, hidden: [8], latentDim: 3, rng: new Rng(4) });
    const rng = new Rng(4);
    const b = new VAE({
      encoder: gaussianEncoder(mlp([D, 8, 6], { rng, activation: 'relu' })),
      decoder: bernoulliDecoder(mlp([3, 8, D], { rng, activation: 'relu' })),
      prior: stdNormal(3),
    });
    const x = tf.tensor2d(X);
    expect(a.elbo(x, { rng: new Rng(1), samples: 2 })).toBeAllclose(
      b.elbo(x, { rng: new Rng(1), samples: 2 }),
      { rtol: 0, atol: 0 },
    );
    expect(a.loss(x, { rng: new Rng(2), objective: 'iwae', k: 3 }).loss).toBeAllclose(
      b.loss(x, { rng: new Rng(2), objective: 'iwae', k: 3 }).loss,
      { rtol: 0, atol: 0 },
    );
    expect(a.namedParameters().map(([n]) => n)).toEqual(b.namedParameters().map(([n]) => n));
    tf.dispose(x);
    a.dispose();
    b.dispose();
  });

  it('a decoder that holds its context by reference (the contract example): decode, and with the exact posterior IWAE = E[ELBO] = log p(x)', async () => {
    // z ~ N(0, I_3), x | z ~ N(z, I): p(x) = N(0, 2 I), p(z | x) = N(x / 2, I / 2)
    const decoder: ConditionalDistribution = {
      condition: (z) => new Independent(new Normal(z, 1, { validate: false }), 1), // keeps z
    };
    const enc = new Dense(3, 6, { rng: new Rng(5) });
    const raw = Math.log(Math.expm1(Math.sqrt(0.5) - 1e-5)); // softplus(raw) + 1e-5 = sqrt(1/2)
    enc.kernel.assign(
      tf.tensor2d([
        [0.5, 0, 0, 0, 0, 0],
        [0, 0.5, 0, 0, 0, 0],
        [0, 0, 0.5, 0, 0, 0],
      ]),
    );
    enc.bias!.assign(tf.tensor1d([0, 0, 0, raw, raw, raw]));
    const vae = new VAE({ encoder: gaussianEncoder(enc), decoder, prior: stdNormal(3) });
    const rng = new Rng(6);
    const x = tf.tensor2d(X3);
    const z = vae.prior().sample({ sampleShape: [4, 5], rng }); // [4, 5, 3]
    await expectNoLeaks(() => {
      const px = vae.decode(z); // batch [4, 5]; its mean is z
      const m = px.mean;
      expect(m).toBeAllclose(z, { rtol: 0, atol: 0 });
      tf.dispose(m);
      px.dispose();
    }, 'decode with a by-reference decoder');
    const logp = [0, 1].map(
      (i) => -1.5 * Math.log(4 * Math.PI) - X3[i]!.reduce((a, v) => a + v * v, 0) / 4,
    );
    // every log-weight log p(x, z) - log q(z | x) is log p(x), so IWAE_k is exact for any k ...
    expect(vae.iwae(x, 7, { rng })).toBeAllclose(logp, { rtol: 1e-5, atol: 1e-5 });
    // ... and the ELBO (Monte Carlo reconstruction, analytic KL) has mean log p(x)
    for (let i = 0; i < 2; i++) {
      const xi = tf.tile(tf.slice(x, [i], [1]), [20000, 1]);
      const e = num(vae.elbo(xi, { rng }));
      expect(Math.abs(meanOf(e) - logp[i]!)).toBeLessThan(4 * seOf(e));
      xi.dispose();
    }
    tf.dispose([x, z]);
    vae.dispose();
  });

  it('typed errors: no rsample and no estimator, wrong encoder batch, a batched prior', () => {
    const rng = new Rng(0);
    const x = tf.tensor2d(X);
    const noEst = new VAE({
      encoder: categoricalEncoder(mlp([D, K], { rng }), { latents: 1, categories: K }),
      decoder: bernoulliDecoder(mlp([K, D], { rng })),
      prior: uniformCategorical(1, K),
    });
    expect(() => noEst.loss(x, { rng })).toThrow(/estimator/);
    noEst.elbo(x, { rng }).dispose(); // evaluation needs no estimator
    noEst.dispose();
    const bad = new VAE({
      encoder: { condition: () => new Independent(new Logistic([[0, 0]], 1), 1) },
      decoder: bernoulliDecoder(mlp([2, D], { rng })),
      prior: stdNormal(2),
    });
    expect(() => bad.elbo(x, { rng })).toThrow(ShapeError);
    bad.dispose();
    const decoder = bernoulliDecoder(mlp([2, D], { rng }));
    expect(
      () =>
        new VAE({
          encoder: gaussianEncoder(mlp([D, 4], { rng })),
          decoder,
          prior: new Logistic(tf.zeros([2]), 1),
        }),
    ).toThrow(ShapeError);
    expect(() => new VAE({ encoder: {} as never, decoder, prior: stdNormal(2) })).toThrow(
      ValueError,
    );
    decoder.dispose();
    x.dispose();
  });
});

describe('leaks', () => {
  it.each([
    ['Logistic posterior', () => logisticVae(3)],
    ['mixture posterior + REINFORCE', () => mixtureVae(3)],
  ] as const)('%s: construction, elbo, iwae, loss, sample, decode, dispose', async (_n, make) => {
    await expectNoLeaks(() => make().dispose(), 'construction + dispose');
    const vae = make();
    const x = tf.tensor2d(X);
    const rng = new Rng(0);
    const opt = tf.train.adam(1e-3);
    tf.tidy(() => {
      opt.minimize(() => vae.loss(x, { rng }).loss); // creates the optimizer's and estimator's state
    });
    await expectNoLeaks(() => vae.elbo(x, { rng, samples: 2 }).dispose(), 'elbo');
    await expectNoLeaks(() => disposeAll(vae.elboTerms(x, { rng })), 'elboTerms');
    await expectNoLeaks(() => vae.iwae(x, 5, { rng }).dispose(), 'iwae');
    await expectNoLeaks(() => disposeAll(vae.loss(x, { rng })), 'loss');
    await expectNoLeaks(
      () => tf.tidy(() => void opt.minimize(() => vae.loss(x, { rng }).loss)),
      'training step',
    );
    await expectNoLeaks(() => vae.sample(4, { rng }).dispose(), 'sample');
    await expectNoLeaks(() => vae.sample(4, { rng, output: 'sample' }).dispose(), 'sample draws');
    await expectNoLeaks(
      () => vae.reconstruct(x, { rng, latent: 'sample' }).dispose(),
      'reconstruct',
    );
    await expectNoLeaks(() => {
      const z = vae.prior().sample({ rng, sampleShape: [2, 3] });
      const px = vae.decode(z); // batch [2, 3]
      const lp = px.logProb(x); // x [3, D] against batch [2, 3]
      expect(lp.shape).toEqual([2, 3]);
      tf.dispose([z, lp]);
      px.dispose();
    }, 'decode');
    opt.dispose();
    x.dispose();
    vae.dispose();
  });
});
