import { adam, Rng, ShapeError, tf, ValueError } from '@dgm-js/core-tensors';
import { eightGaussians } from '@dgm-js/datasets';
import { describe, expect, it } from 'vitest';
import { MlpCritic, MlpGenerator } from './networks.js';
import { gridModes, modeCoverage, modeSampler, ringModes, sampleModes } from './toy.js';
import { GanTrainer } from './train.js';

// P(||x - mu|| <= 3 std) for a 2-D isotropic Gaussian: 1 - exp(-9 / 2)
const P3 = 1 - Math.exp(-4.5);

describe('toy modes and VEEGAN metrics', () => {
  it('exact samples cover every mode with 1 - e^-4.5 = 98.9% high-quality samples', () => {
    const n = 20000;
    const tol = 4 * Math.sqrt((P3 * (1 - P3)) / n);
    const ring = ringModes();
    // the ring as @dgm-js/datasets samples it (an independent sampler of the same density)
    const fromDatasets = modeCoverage(
      eightGaussians({ radius: 2, std: 0.02 }).sample(n, new Rng(0)),
      ring,
    );
    expect(fromDatasets.modesCovered).toBe(8);
    expect(Math.abs(fromDatasets.highQualityFraction - P3)).toBeLessThan(tol);
    for (const modes of [ring, gridModes()]) {
      const r = modeCoverage(sampleModes(modes, n, new Rng(1)), modes);
      expect(r.modesCovered).toBe(modes.centres.length);
      expect(Math.abs(r.highQualityFraction - P3)).toBeLessThan(tol);
      // equal weights: each mode gets ~n/K high-quality samples
      const k = modes.centres.length;
      for (const c of r.perMode)
        expect(Math.abs(c - (n * P3) / k)).toBeLessThan(5 * Math.sqrt(n / k));
    }
    expect(gridModes().centres).toContainEqual([-4, -4]);
    expect(gridModes().centres).toContainEqual([4, 2]);
  });

  it('implements the rule exactly: within 3 std of the nearest centre; covered = nearest to a high-quality sample', () => {
    const ring = ringModes(); // std 0.02, centre 0 at (2, 0), centre 2 at (0, 2)
    const pts = [2 + 0.059, 0, 2 + 0.061, 0, 0, 2 - 0.05, 0, 0, 1, 1];
    const r = modeCoverage(pts, ring);
    expect(r.perMode).toEqual([1, 0, 1, 0, 0, 0, 0, 0]);
    expect(r.modesCovered).toBe(2);
    expect(r.highQualityFraction).toBeCloseTo(2 / 5, 12);
    expect(modeCoverage(pts, ring, { minSamples: 2 }).modesCovered).toBe(0);
    expect(modeCoverage(pts, ring, { threshold: 4 }).highQualityFraction).toBeCloseTo(3 / 5, 12);
    // a collapsed generator: every sample on one mode
    const collapsed = tf.tile(tf.tensor2d([[0, 2]]), [100, 1]);
    const c = modeCoverage(collapsed, ring);
    expect([c.modesCovered, c.highQualityFraction]).toEqual([1, 1]);
    collapsed.dispose();
  });

  it('rejects bad input', () => {
    const ring = ringModes();
    const bad = tf.zeros([4, 3]);
    expect(() => modeCoverage(bad, ring)).toThrow(ShapeError);
    expect(() => modeCoverage([1, 2, 3], ring)).toThrow(/odd length 3/);
    expect(() => modeCoverage([], ring)).toThrow(/no samples/);
    expect(() => ringModes({ std: 0 })).toThrow(ValueError);
    expect(() => gridModes({ side: 0 })).toThrow(/side/);
    expect(() => modeSampler(ring, 0)).toThrow(/batchSize/);
    bad.dispose();
  });

  it('a short non-saturating + R1 run on the 8-Gaussian ring moves samples onto the modes', async () => {
    // 400 steps, ~5 s: far from converged (see the bench for that); the property checked is the
    // direction of training, measured with VEEGAN's metrics on 2500 samples, not a tuned score.
    const modes = ringModes();
    const rng = new Rng(0);
    const generator = new MlpGenerator({ latentDim: 2, outputShape: 2, hidden: [64, 64], rng });
    const critic = new MlpCritic({ inputShape: 2, hidden: [64, 64], rng });
    const trainer = new GanTrainer({
      generator,
      critic,
      loss: 'non-saturating',
      penalty: { kind: 'r1', gamma: 1 },
      data: modeSampler(modes, 128),
      generatorOptimizer: adam(1e-3, 0.5, 0.999),
      criticOptimizer: adam(1e-3, 0.5, 0.999),
    });
    const measure = () => {
      const s = generator.generate(2500, new Rng(123));
      const r = modeCoverage(s, modes);
      // how far samples are from the ring of centres (radius 2)
      const radii = tf.tidy(() =>
        Array.from(tf.abs(tf.sub(tf.norm(s, 'euclidean', 1), 2)).dataSync()).sort((a, b) => a - b),
      );
      s.dispose();
      return { ...r, medianOffRing: radii[radii.length >> 1]! };
    };
    const before = measure();
    await trainer.fit({ steps: 400 });
    const after = measure();
    expect(before.modesCovered).toBeLessThanOrEqual(1);
    expect(after.modesCovered).toBeGreaterThanOrEqual(4); // at least half the modes, from (almost) none
    expect(after.highQualityFraction).toBeGreaterThan(before.highQualityFraction);
    expect(after.medianOffRing).toBeLessThan(before.medianOffRing / 2); // mass moved towards the ring
    trainer.dispose();
    generator.dispose();
    critic.dispose();
  });
});
