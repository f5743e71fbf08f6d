/**
 * FlowGAN: the hybrid objective's gradient is the sum of its parts' gradients; the identity-
 * initialised flow with a logistic prior is exactly uniform on the cube (an analytic density);
 * training steps of each mode leak nothing; a resumed run equals an uninterrupted one; bad
 * options get typed errors.
 */
import { MemoryCheckpointStore, Rng, ShapeError, tf, ValueError } from '@dgm-js/core-tensors';
import { MlpCritic } from '@dgm-js/gan';
import { disposeAll, expectNoLeaks } from '@dgm-js/test-utils';
import { describe, expect, it } from 'vitest';
import {
  dequantizedBatches,
  FlowGan,
  type FlowGanMode,
  FlowGanTrainer,
  flowGanFlow,
} from './index.js';

const D = 6;
function make(mode: FlowGanMode, seed = 0, lambda?: number) {
  const rng = new Rng(seed);
  return new FlowGan({
    flow: flowGanFlow({ dim: D, rng, layers: 2, hidden: [8] }),
    critic: new MlpCritic({ inputShape: D, hidden: [8], rng }),
    mode,
    ...(lambda === undefined ? {} : { lambda }),
    nCritic: 2,
  });
}
const batch = () => tf.tidy(() => tf.randomUniform([5, D], 0.01, 0.99, 'float32', 7));

/** Perturbs every parameter so the couplings are not the identity. */
function perturb(m: FlowGan): void {
  const r = new Rng(42);
  for (const v of m.parameters()) {
    tf.tidy(() => v.assign(tf.add(v, tf.randomNormal(v.shape, 0, 0.1, 'float32', r.next()))));
  }
}

describe('FlowGan objectives', () => {
  it('the hybrid gradient is the gradient of the NLL plus lambda times the adversarial gradient', () => {
    const lambda = 0.7;
    const m = make('hybrid', 0, lambda);
    perturb(m);
    const x = batch();
    const vars = m.flow.parameters();
    const grad = (pick: 'loss' | 'nll' | 'adv') =>
      tf.variableGrads(() => {
        const r = m.generatorLoss(x, new Rng(3));
        const out = r[pick];
        tf.dispose(Object.values(r).filter((t) => t !== out));
        return out;
      }, vars);
    const total = grad('loss');
    const nll = grad('nll');
    const adv = grad('adv');
    let nonzero = 0;
    for (const v of vars) {
      const sum = tf.add(nll.grads[v.name]!, tf.mul(lambda, adv.grads[v.name]!));
      expect(total.grads[v.name]!).toBeAllclose(sum, { rtol: 1e-5, atol: 1e-6 });
      if (tf.max(tf.abs(adv.grads[v.name]!)).dataSync()[0]! > 0) nonzero++;
      sum.dispose();
    }
    expect(nonzero).toBeGreaterThan(0); // the adversarial part reaches the flow
    // the loss is the same combination of the parts' values
    const t = total.value.dataSync()[0]!;
    expect(t).toBeCloseTo(nll.value.dataSync()[0]! + lambda * adv.value.dataSync()[0]!, 5);
    disposeAll([total, nll, adv, x]);
    m.dispose();
  });

  it('mle and adv objectives are the NLL and the Wasserstein generator loss', () => {
    const x = batch();
    for (const mode of ['mle', 'adv'] as const) {
      const m = make(mode);
      perturb(m);
      const r = m.generatorLoss(x, new Rng(3));
      expect(r.loss).toBeAllclose(mode === 'mle' ? r.nll : r.adv, { rtol: 0, atol: 0 });
      // the NLL per dimension, independently from the flow's log-density
      const lp = m.flow.logProb(x);
      expect(r.nll.dataSync()[0]!).toBeCloseTo(-tf.mean(lp).dataSync()[0]! / D, 5);
      disposeAll([r, lp]);
      m.dispose();
    }
    x.dispose();
  });

  it('the identity-initialised flow with a logistic prior is uniform on the cube: log p = D log(1 - 2 alpha)', () => {
    const alpha = 0.01;
    const flow = flowGanFlow({ dim: D, rng: new Rng(0), layers: 2, hidden: [8], alpha });
    const x = batch();
    const lp = flow.logProb(x); // couplings start as the identity (zero last layer)
    const want = D * Math.log(1 - 2 * alpha);
    for (const v of lp.dataSync()) expect(v).toBeCloseTo(want, 4);
    const g = flowGanFlow({
      dim: D,
      rng: new Rng(0),
      layers: 2,
      hidden: [8],
      prior: 'gaussian',
      alpha,
    });
    // Gaussian prior: log N(logit(s)) + log|dz/dx|, z = logit(s), s = alpha + (1 - 2 alpha) x
    const xs = x.dataSync();
    const lg = g.logProb(x).dataSync();
    for (let i = 0; i < 5; i++) {
      let want2 = 0;
      for (let j = 0; j < D; j++) {
        const s = alpha + (1 - 2 * alpha) * xs[i * D + j]!;
        const z = Math.log(s / (1 - s));
        want2 +=
          -0.5 * z * z - 0.5 * Math.log(2 * Math.PI) + Math.log((1 - 2 * alpha) / (s * (1 - s)));
      }
      expect(lg[i]!).toBeCloseTo(want2, 3);
    }
    disposeAll([lp, x]);
    flow.dispose();
    g.dispose();
  });

  it('as a Generator: generate(n, rng) draws what sample does, and leaks nothing', async () => {
    const m = make('adv');
    perturb(m);
    await expectNoLeaks(() => m.generate(4, new Rng(1)).dispose(), 'generate');
    const a = m.generate(4, new Rng(1));
    const b = m.sample({ sampleShape: [4], rng: new Rng(1) });
    expect(a).toBeAllclose(b, { rtol: 1e-5, atol: 1e-6 });
    expect([m.latentDim, ...m.outputShape, m.numClasses]).toEqual([D, D, undefined]);
    disposeAll([a, b]);
    m.dispose();
  });

  it('the critic loss is the Wasserstein critic loss plus the gradient penalty', () => {
    const m = make('adv');
    const x = batch();
    const fake = m.sample({ sampleShape: [5], rng: new Rng(1) });
    const r = m.criticLoss(x, fake, new Rng(2));
    expect(r.loss.dataSync()[0]!).toBeCloseTo(r.adv.dataSync()[0]! + r.penalty.dataSync()[0]!, 5);
    expect(r.penalty.dataSync()[0]!).toBeGreaterThanOrEqual(0);
    const s = tf.tidy(() => tf.sub(tf.mean(m.critic!.score(fake)), tf.mean(m.critic!.score(x))));
    expect(r.adv).toBeAllclose(s, { rtol: 1e-6, atol: 1e-6 });
    disposeAll([r, x, fake, s]);
    m.dispose();
  });
});

describe('FlowGan training', () => {
  it.each(['mle', 'adv', 'hybrid'] as const)(
    'a %s training step leaks nothing and updates the flow',
    async (mode) => {
      const m = make(mode, 0, mode === 'hybrid' ? 1 : undefined);
      const images = tf.tidy(() =>
        tf.div(tf.floor(tf.randomUniform([20, D], 0, 8, 'float32', 1)), 7),
      );
      const trainer = new FlowGanTrainer({ model: m, data: dequantizedBatches(images, 8, 8) });
      await trainer.fit({ steps: 1 }); // optimizer slots are created on the first step
      const before = m.flow.namedParameters().map(([, v]) => v.dataSync().slice());
      const metrics: Record<string, number>[] = [];
      const t2 = new FlowGanTrainer({
        model: m,
        data: dequantizedBatches(images, 8, 8),
        generatorOptimizer: trainer.loop.players.generator!.optimizer,
        ...(mode === 'mle' ? {} : { criticOptimizer: trainer.loop.players.critic!.optimizer }),
        onStep: (_s, met) => {
          metrics.push(met);
        },
      });
      await expectNoLeaks(() => t2.fit({ steps: 2 }), `${mode} FlowGAN step`);
      const changed = m.flow.namedParameters().some(([, v], i) => {
        const a = v.dataSync();
        return a.some((u, j) => u !== before[i]![j]);
      });
      expect(changed).toBe(true);
      expect(Number.isFinite(metrics[0]!.nll!)).toBe(true);
      if (mode !== 'mle') expect(Number.isFinite(metrics[0]!.lossD!)).toBe(true);
      trainer.dispose();
      images.dispose();
      m.dispose();
    },
  );

  it('a resumed run (other initial weights) ends exactly where an uninterrupted one does', async () => {
    const images = tf.tidy(() =>
      tf.div(tf.floor(tf.randomUniform([20, D], 0, 8, 'float32', 1)), 7),
    );
    const run = async (seed: number, store: MemoryCheckpointStore | undefined, steps: number) => {
      const m = make('hybrid', seed, 0.5);
      const tr = new FlowGanTrainer({
        model: m,
        data: dequantizedBatches(images, 8, 8),
        seed: 3,
        ...(store ? { checkpoint: { store, every: 2 }, resume: true } : {}),
      });
      const r = await tr.fit({ steps });
      const s = Object.fromEntries(m.namedState().map(([n, v]) => [n, Array.from(v.dataSync())]));
      tr.dispose();
      m.dispose();
      return { r, s };
    };
    const full = await run(0, undefined, 5);
    const store = new MemoryCheckpointStore();
    await run(0, store, 2);
    const resumed = await run(9, store, 5);
    expect(resumed.r.resumedFrom).toBeDefined();
    expect(resumed.s).toEqual(full.s);
    images.dispose();
  });
});

describe('FlowGan typed errors', () => {
  const rng = new Rng(0);
  const flow = flowGanFlow({ dim: D, rng, layers: 1, hidden: [4] });
  const critic = new MlpCritic({ inputShape: D, hidden: [4], rng });
  it('rejects bad options, naming them', () => {
    expect(() => new FlowGan({ flow, critic, mode: 'gan' as FlowGanMode })).toThrow(ValueError);
    expect(() => new FlowGan({ flow, critic, mode: 'hybrid' })).toThrow(/lambda/);
    expect(() => new FlowGan({ flow, critic, mode: 'hybrid', lambda: -1 })).toThrow(ValueError);
    expect(() => new FlowGan({ flow, critic, mode: 'mle', lambda: 1 })).toThrow(/'hybrid' only/);
    expect(() => new FlowGan({ flow, mode: 'adv' })).toThrow(/needs a critic/);
    expect(() => new FlowGan({ flow, critic, mode: 'adv', nCritic: 0 })).toThrow(/nCritic/);
    expect(() => new FlowGan({ flow, critic, mode: 'adv', gpWeight: -2 })).toThrow(/gpWeight/);
    expect(() => new FlowGan({ flow: {} as never, mode: 'mle' })).toThrow(/Flow/);
    const c3 = new MlpCritic({ inputShape: 3, hidden: [4], rng });
    expect(() => new FlowGan({ flow, critic: c3, mode: 'adv' })).toThrow(ShapeError);
    c3.dispose();
    expect(() => flowGanFlow({ dim: D, rng, prior: 'cauchy' as never })).toThrow(/prior/);
    expect(() => flowGanFlow({ dim: 1, rng })).toThrow(/dim/);
    expect(() => dequantizedBatches(tf.zeros([3]), 2)).toThrow(ShapeError);
    const m = new FlowGan({ flow, mode: 'mle' });
    const bad = tf.zeros([2, D + 1]);
    expect(() => m.nll(bad)).toThrow(/\[N, 6\]/);
    expect(() => new FlowGanTrainer({ model: m, data: 3 as never })).toThrow(ValueError);
    bad.dispose();
    m.dispose(); // disposes flow
    critic.dispose();
  });
});
