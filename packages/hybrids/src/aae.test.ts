import { mlp, Rng, ShapeError, tf, ValueError } from '@dgm-js/core-tensors';
import { toyDensity } from '@dgm-js/datasets';
import { mmdTest } from '@dgm-js/eval';
import { MlpCritic, nonSaturating } from '@dgm-js/gan';
import { disposeAll, expectNoLeaks } from '@dgm-js/test-utils';
import { bernoulliDecoder, gaussianDecoder, stdNormal } from '@dgm-js/vae';
import { describe, expect, it } from 'vitest';
import { AAE, type AaeOptions, gaussianMixturePrior } from './index.js';

const D = 10;

function make(seed: number, extra: Partial<AaeOptions> = {}, d = 2): AAE {
  const rng = new Rng(seed);
  const gaussian = extra.posterior === 'gaussian';
  return new AAE({
    encoder: mlp([D, 12, gaussian ? 2 * d : d], { rng, activation: 'tanh' }),
    decoder: bernoulliDecoder(mlp([d, 12, D], { rng, activation: 'tanh' })),
    critic: new MlpCritic({ inputShape: d, hidden: [16], rng }),
    prior: stdNormal(d),
    latentDim: d,
    ...extra,
  });
}

const data = () =>
  tf.tidy(() => tf.cast(tf.less(tf.randomUniform([8, D], 0, 1, 'float32', 4), 0.5), 'float32'));

const optimizers = () => ({
  autoencoder: tf.train.adam(1e-2),
  critic: tf.train.adam(1e-2),
  encoder: tf.train.adam(1e-2),
});

describe('AAE', () => {
  it('the joint encoder objective: its gradient is the reconstruction gradient plus advWeight times the adversarial one (Gaussian encoder, same draws)', () => {
    const aae = make(0, { posterior: 'gaussian' });
    const x = data();
    const vars = aae.autoencoderParameters();
    const g = tf.variableGrads(() => aae.encoderLoss(x, { rng: new Rng(7), advWeight: 0.4 }), vars);
    const gr = tf.variableGrads(() => aae.terms(x, { rng: new Rng(7) }).recon, vars);
    const ga = tf.variableGrads(() => aae.terms(x, { rng: new Rng(7) }).generator, vars);
    for (const k of Object.keys(g.grads)) {
      const adv = ga.grads[k]; // null for the decoder
      const sum = adv ? tf.add(gr.grads[k]!, tf.mul(adv, 0.4)) : tf.clone(gr.grads[k]!);
      expect(g.grads[k]!).toBeAllclose(sum, { rtol: 1e-4, atol: 1e-6 });
      sum.dispose();
    }
    disposeAll([g, gr, ga]);
    x.dispose();
    aae.dispose();
  });

  it("the critic's term is gan's loss on (prior draws, codes): the value and the critic gradient by a separate computation", () => {
    const aae = make(1);
    const x = data();
    const vars = aae.criticParameters();
    const g = tf.variableGrads(() => aae.terms(x, { rng: new Rng(3) }).critic, vars);
    const want = tf.variableGrads(() => {
      const z = aae.encode(x);
      const real = stdNormal(2).sample({ sampleShape: [8], rng: new Rng(3) });
      return nonSaturating.critic(aae.critic.score(real), aae.critic.score(z));
    }, vars);
    expect(g.value).toBeAllclose(want.value, { rtol: 1e-6, atol: 1e-7 });
    for (const k of Object.keys(g.grads)) {
      expect(g.grads[k]!).toBeAllclose(want.grads[k]!, { rtol: 1e-5, atol: 1e-7 });
    }
    disposeAll([g, want, x]);
    aae.dispose();
  });

  it('a training step (both encoders, with a WGAN-GP critic), the terms, samples and codes leak nothing', async () => {
    for (const extra of [
      {},
      { posterior: 'gaussian' as const, loss: 'wasserstein' as const, gradientPenalty: {} },
    ]) {
      const aae = make(2, extra);
      const x = data();
      const o = optimizers();
      const rng = new Rng(5);
      aae.step(x, o, { rng }); // optimiser slots
      const r = await expectNoLeaks(() => aae.step(x, o, { rng, nCritic: 2 }), 'AAE.step');
      expect(
        Number.isFinite(r.recon) && Number.isFinite(r.critic) && Number.isFinite(r.generator),
      ).toBe(true);
      await expectNoLeaks(() => disposeAll(aae.terms(x, { rng })), 'AAE.terms');
      await expectNoLeaks(() => aae.sample(5, { rng }).dispose(), 'AAE.sample');
      await expectNoLeaks(() => aae.encode(x, { rng }).dispose(), 'AAE.encode');
      await expectNoLeaks(() => aae.apply(x).dispose(), 'AAE.apply');
      disposeAll([x]);
      Object.values(o).forEach((v) => {
        v.dispose();
      });
      aae.dispose();
    }
  });

  it('training on a toy moves q(z) to a swiss-roll prior (MMD by eval, before vs after)', () => {
    const roll = toyDensity('swissroll');
    const rng = new Rng(0);
    const aae = new AAE({
      encoder: mlp([2, 32, 2], { rng, activation: 'tanh' }),
      decoder: gaussianDecoder(mlp([2, 32, 2], { rng, activation: 'tanh' }), { scale: 0.3 }),
      critic: new MlpCritic({ inputShape: 2, hidden: [32, 32], rng }),
      prior: (n, r) => roll.sampleTensor(n, r),
      latentDim: 2,
    });
    const xAll = tf.randomNormal([512, 2], 0, 1, 'float32', 1);
    const mmdNow = () => {
      const z = aae.encode(xAll);
      const p = aae.samplePrior(512, new Rng(9));
      const r = mmdTest(
        Float64Array.from(z.dataSync()),
        512,
        Float64Array.from(p.dataSync()),
        512,
        2,
        {
          permutations: 0,
        },
      );
      tf.dispose([z, p]);
      return r.mmd2;
    };
    const before = mmdNow();
    const o = {
      autoencoder: tf.train.adam(3e-3),
      critic: tf.train.adam(2e-3, 0.5),
      encoder: tf.train.adam(2e-3, 0.5),
    };
    const r = new Rng(2);
    for (let i = 0; i < 150; i++) {
      const x = tf.randomNormal([64, 2], 0, 1, 'float32', r.next());
      aae.step(x, o, { rng: r });
      x.dispose();
    }
    const after = mmdNow();
    expect(after).toBeLessThan(before / 3);
    Object.values(o).forEach((v) => {
      v.dispose();
    });
    xAll.dispose();
    aae.dispose();
  });

  it('gaussianMixturePrior: k components on a circle, exact samples', () => {
    const p = gaussianMixturePrior(10, { radius: 4, std: 0.1 });
    const z = p.sample({ sampleShape: [400], rng: new Rng(0) });
    const r = tf.tidy(() => tf.sqrt(tf.sum(tf.square(z), -1)));
    const radii = r.dataSync();
    for (const v of radii) expect(Math.abs(v - 4)).toBeLessThan(0.6);
    disposeAll([z, r]);
    p.dispose();
    expect(() => gaussianMixturePrior(0)).toThrow(ValueError);
    expect(() => gaussianMixturePrior(3, { std: 0 })).toThrow(/std > 0/);
  });

  it('typed errors on bad options', () => {
    const rng = new Rng(0);
    expect(() => make(0, { latentDim: 0 })).toThrow(/latentDim/);
    expect(() => make(0, { prior: stdNormal(3) })).toThrow(ShapeError);
    expect(() => make(0, { prior: 5 as never })).toThrow(/prior must be/);
    expect(() => make(0, { critic: {} as never })).toThrow(/critic must be a Critic/);
    expect(() => make(0, { posterior: 'flow' as never })).toThrow(/posterior/);
    expect(() => make(0, { loss: 'nope' as never })).toThrow();
    expect(() => make(0, { gradientPenalty: { weight: -1 } })).toThrow(ValueError);
    const aae = make(0);
    const x = data();
    expect(() => aae.step(x, {} as never, { rng })).toThrow(/optimizers/);
    expect(() => aae.step(x, optimizers(), { rng, nCritic: 0 })).toThrow(/nCritic/);
    expect(() => aae.encoderLoss(x, { rng, advWeight: -1 })).toThrow(/advWeight/);
    expect(() => aae.encode(tf.zeros([3]))).toThrow(ShapeError);
    const bad = make(0, { prior: (n: number) => tf.zeros([n, 3]) });
    expect(() => bad.samplePrior(4, rng)).toThrow(/must return \[4, 2\]/);
    disposeAll([x]);
    aae.dispose();
    bad.dispose();
  });
});
