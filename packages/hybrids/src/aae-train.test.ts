import { MemoryCheckpointStore, mlp, Rng, type tf, ValueError } from '@dgm-js/core-tensors';
import { MlpCritic } from '@dgm-js/gan';
import { expectNoLeaks } from '@dgm-js/test-utils';
import { bernoulliDecoder, stdNormal } from '@dgm-js/vae';
import { describe, expect, it } from 'vitest';
import { toyAae } from './aae-fixture.js';
import { AaeTrainer } from './index.js';

describe('AaeTrainer', () => {
  it("drives AAE.step's schedule exactly: the same parameters as AAE.step with the same optimizers, batches and draws", async () => {
    const a = toyAae();
    await a.trainer.fit({ steps: 4 });
    const b = toyAae();
    const p = b.trainer.loop.players;
    const opts = {
      autoencoder: p.autoencoder!.optimizer,
      critic: p.critic!.optimizer,
      encoder: p.encoder!.optimizer,
    };
    const root = new Rng(11); // the trainer's seed: one split per step
    for (let i = 0; i < 4; i++) {
      const r = root.split();
      const x = b.data(r.split());
      b.model.step(x, opts, { rng: r, nCritic: 2 });
      x.dispose();
    }
    const got = a.state();
    const want = b.state();
    expect(Object.keys(got)).toEqual(Object.keys(want));
    let moved = 0;
    const init = toyAae();
    const s0 = init.state();
    for (const k of Object.keys(want)) {
      expect(got[k], k).toEqual(want[k]);
      if (got[k]!.some((v, i) => v !== s0[k]![i])) moved++;
    }
    expect(moved).toBe(Object.keys(want).length); // every parameter trained
    a.dispose();
    b.dispose();
    init.dispose();
  });

  it('a trainer step leaks no tensors (checkpoint written, and resumed from)', async () => {
    const t = toyAae();
    const store = new MemoryCheckpointStore();
    const mk = () =>
      new AaeTrainer({
        model: t.model,
        data: t.data,
        checkpoint: { store, every: 1 },
        resume: true,
      });
    const tr = mk();
    await tr.fit({ steps: 1 }); // the optimizers' slots are created on the first step
    await expectNoLeaks(() => tr.fit({ steps: 2 }), 'AaeTrainer step');
    tr.dispose();
    const again = mk(); // fresh optimizers: restoring creates their slots, so warm them first
    await again.fit({ steps: 3 });
    await expectNoLeaks(async () => {
      await again.fit({ steps: 4 });
      await again.loop.resume();
    }, 'AaeTrainer step and resume');
    again.dispose();
    t.dispose();
  });

  it('checkpoints to a store and resumes: a fresh trainer continues at the saved step', async () => {
    const store = new MemoryCheckpointStore();
    const mk = () => {
      const t = toyAae();
      const tr = new AaeTrainer({
        model: t.model,
        data: t.data,
        nCritic: 2,
        seed: 3,
        checkpoint: { store, every: 2 },
        resume: true,
      });
      return { t, tr };
    };
    const one = mk();
    await one.tr.fit({ steps: 2 });
    const two = mk();
    const r = await two.tr.fit({ steps: 3 });
    expect(r.resumedFrom).toBeDefined();
    expect(two.tr.step).toBe(3);
    for (const x of [one, two]) {
      x.tr.dispose();
      x.t.dispose();
    }
  });

  it('bad options are ValueErrors naming the fix', () => {
    const rng = new Rng(0);
    const aae = toyAae();
    expect(() => new AaeTrainer({ model: {} as never, data: aae.data })).toThrow(ValueError);
    expect(() => new AaeTrainer({ model: aae.model, data: 3 as never })).toThrow(/data must be/);
    expect(() => new AaeTrainer({ model: aae.model, data: aae.data, nCritic: 0 })).toThrow(
      /nCritic/,
    );
    const critic = new MlpCritic({ inputShape: 2, hidden: [4], rng });
    const noModuleCritic = {
      encoder: mlp([6, 4, 2], { rng }),
      decoder: bernoulliDecoder(mlp([2, 4, 6], { rng })),
      critic: { score: (z: tf.Tensor) => critic.score(z) },
      prior: stdNormal(2),
      latentDim: 2,
    };
    return import('./aae.js').then(({ AAE }) => {
      const m = new AAE(noModuleCritic as never);
      expect(() => new AaeTrainer({ model: m, data: aae.data })).toThrow(/critic must be a Module/);
      m.dispose();
      critic.dispose();
      aae.dispose();
    });
  });
});
