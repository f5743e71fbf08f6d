import { adam, Rng, tf } from '@dgm-js/core-tensors';
import { expectNoLeaks } from '@dgm-js/test-utils';
import { describe, expect, it } from 'vitest';
import { MlpCritic, MlpGenerator } from './networks.js';
import { GanTrainer } from './train.js';

const gauss = (r: Rng) => tf.randomNormal([16, 2], 1, 0.5, 'float32', r.next());

function players(seed: number) {
  const rng = new Rng(seed);
  const generator = new MlpGenerator({ latentDim: 3, outputShape: 2, hidden: [8], rng });
  const critic = new MlpCritic({ inputShape: 2, hidden: [8], rng });
  return { generator, critic };
}

describe('GanTrainer optimizer ownership', () => {
  it('a construct-train-dispose cycle with the default optimizers leaks nothing', async () => {
    const { generator, critic } = players(3);
    await expectNoLeaks(async () => {
      const t = new GanTrainer({ generator, critic, loss: 'non-saturating', data: gauss });
      await t.fit({ steps: 2 }); // creates the Adam slots (the tensors a leak would keep)
      t.dispose();
    }, 'GanTrainer with default optimizers');
    generator.dispose();
    critic.dispose();
  });

  it('leaves optimizers passed in to the caller: usable after dispose, freed by the caller', async () => {
    const { generator, critic } = players(4);
    await expectNoLeaks(async () => {
      const generatorOptimizer = adam(1e-3);
      const criticOptimizer = adam(1e-3);
      const t = new GanTrainer({
        generator,
        critic,
        loss: 'non-saturating',
        data: gauss,
        generatorOptimizer,
        criticOptimizer,
      });
      await t.fit({ steps: 2 });
      const before = tf.memory().numTensors;
      t.dispose();
      // the trainer freed only its own tensors (fixed noise); the optimizers' slots survive
      const weights = await generatorOptimizer.getWeights();
      expect(weights.length).toBeGreaterThan(0);
      for (const w of weights) expect(w.tensor.isDisposed).toBe(false);
      tf.dispose(weights.filter((w) => !(w.tensor instanceof tf.Variable)).map((w) => w.tensor));
      expect(tf.memory().numTensors).toBeLessThan(before);
      generatorOptimizer.dispose();
      criticOptimizer.dispose();
    }, 'GanTrainer with caller optimizers, caller disposes them');
    generator.dispose();
    critic.dispose();
  });
});
