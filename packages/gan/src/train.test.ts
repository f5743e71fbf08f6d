import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { adam, MemoryCheckpointStore, Rng, tf, ValueError } from '@dgm-js/core-tensors';
import { expectNoLeaks } from '@dgm-js/test-utils';
import { describe, expect, it } from 'vitest';
import { imageGridSaver, type SampleEvent } from './callbacks.js';
import { DcganCritic, DcganGenerator } from './dcgan.js';
import { GanDivergenceError } from './errors.js';
import { ganLossNames } from './losses.js';
import { MlpCritic, MlpGenerator } from './networks.js';
import { GanTrainer } from './train.js';
import type { GanTrainerOptions, PenaltyOption } from './train-options.js';

const gauss = (r: Rng) => tf.randomNormal([16, 2], 1, 0.5, 'float32', r.next());

function players(seed: number, opts: { sn?: boolean; classes?: number } = {}) {
  const rng = new Rng(seed);
  const generator = new MlpGenerator({
    latentDim: 3,
    outputShape: 2,
    hidden: [8],
    rng,
    ...(opts.classes ? { numClasses: opts.classes } : {}),
  });
  const critic = new MlpCritic({
    inputShape: 2,
    hidden: [8],
    rng,
    activation: 'tanh',
    ...(opts.sn ? { spectralNorm: true } : {}),
    ...(opts.classes ? { numClasses: opts.classes } : {}),
  });
  return {
    generator,
    critic,
    dispose: () => {
      generator.dispose();
      critic.dispose();
    },
  };
}

/** Every tensor of a run's state, by name: both players, the EMA, both optimizers. */
async function snapshot(t: GanTrainer): Promise<Map<string, number[]>> {
  const out = new Map<string, number[]>();
  for (const [n, v] of t.generator.namedState()) out.set(`g/${n}`, Array.from(v.dataSync()));
  for (const [n, v] of (t.critic as MlpCritic).namedState())
    out.set(`d/${n}`, Array.from(v.dataSync()));
  for (const [n, v] of t.ema?.weights ?? []) out.set(`ema/${n}`, Array.from(v.dataSync()));
  for (const [who, opt] of [
    ['og', t.generatorOptimizer],
    ['od', t.criticOptimizer],
  ] as const) {
    const w = await opt.getWeights();
    w.forEach((x, i) => {
      out.set(`${who}/${i}`, Array.from(x.tensor.dataSync()));
    });
    for (const x of w) if (!(x.tensor instanceof tf.Variable)) x.tensor.dispose();
  }
  return out;
}

describe('GanTrainer', () => {
  it('a full training step of every loss (with each penalty, nCritic 2) leaks nothing', async () => {
    const pens: (PenaltyOption | undefined)[] = [
      undefined,
      { kind: 'wgan-gp' },
      { kind: 'r1' },
      { kind: 'r2' },
    ];
    let i = 0;
    for (const loss of ganLossNames) {
      const penalty = pens[i++ % pens.length];
      const p = players(1, { sn: loss === 'hinge' });
      const t = new GanTrainer({
        ...p,
        loss,
        data: gauss,
        nCritic: 2,
        ema: { decay: 0.9 },
        ...(penalty ? { penalty } : {}),
      });
      await t.fit({ steps: 1 }); // optimizer slots are created on the first step
      await expectNoLeaks(
        () => t.fit({ steps: 3 }),
        `${loss} step${penalty ? ` + ${penalty.kind}` : ''}`,
      );
      expect(t.step).toBe(3);
      t.dispose();
      p.dispose();
    }
  });

  it('a conditional DCGAN step (WGAN-GP) leaks nothing and moves both players', async () => {
    const rng = new Rng(2);
    const generator = new DcganGenerator({
      latentDim: 4,
      outputShape: [8, 8, 1],
      channels: [4, 2],
      numClasses: 3,
      rng,
    });
    const critic = new DcganCritic({ inputShape: [8, 8, 1], channels: [2, 4], numClasses: 3, rng });
    const t = new GanTrainer({
      generator,
      critic,
      loss: 'wasserstein',
      penalty: { kind: 'wgan-gp' },
      data: (r) => ({
        x: tf.randomUniform([4, 8, 8, 1], 0, 1, 'float32', r.next()),
        labels: tf.tensor1d([0, 1, 2, 0], 'int32'),
      }),
    });
    const g0 = generator.getState();
    const d0 = critic.getState();
    await t.fit({ steps: 1 });
    await expectNoLeaks(() => t.fit({ steps: 2 }), 'DCGAN step');
    const moved = (a: Record<string, tf.Tensor>, m: typeof generator | typeof critic) =>
      m
        .namedParameters()
        .some(([n, v]) => tf.tidy(() => tf.any(tf.notEqual(v, a[n]!)).dataSync()[0] === 1));
    expect(moved(g0, generator)).toBe(true);
    expect(moved(d0, critic)).toBe(true);
    tf.dispose([...Object.values(g0), ...Object.values(d0)]);
    t.dispose();
    generator.dispose();
    critic.dispose();
  });

  it('resumes exactly: both players, spectral-norm vectors, the EMA and both optimizers', async () => {
    const base = (store: MemoryCheckpointStore, seed: number): GanTrainerOptions => {
      const p = players(seed, { sn: true });
      return {
        ...p,
        loss: 'non-saturating',
        penalty: { kind: 'r1', gamma: 1 },
        nCritic: 2,
        ema: { decay: 0.8 },
        data: gauss,
        seed: 7,
        checkpoint: { store, every: 3 },
        resume: true,
      };
    };
    const storeA = new MemoryCheckpointStore();
    const a = new GanTrainer(base(storeA, 3));
    await a.fit({ steps: 7 });
    const full = await snapshot(a);

    const storeB = new MemoryCheckpointStore();
    const b1 = new GanTrainer(base(storeB, 3));
    await b1.fit({ steps: 3 }); // "killed" after the checkpoint of step 3
    b1.generator.dispose();
    b1.critic.dispose();
    b1.dispose();
    const b2 = new GanTrainer(base(storeB, 99)); // fresh players with other initial weights
    const r = await b2.fit({ steps: 7 });
    expect(r.resumedFrom).toBe('memory:step-00000003');
    const resumed = await snapshot(b2);
    expect([...resumed.keys()]).toEqual([...full.keys()]);
    for (const [k, v] of full) expect(resumed.get(k), k).toEqual(v);
    expect(r.history).toEqual(
      (await a.fit({ steps: 7 })).history.map((h) => ({ ...h, elapsedMs: expect.any(Number) })),
    );
    for (const t of [a, b2]) {
      t.generator.dispose();
      t.critic.dispose();
      t.dispose();
    }
  });

  it('resumes from a checkpoint directory path; refuses a checkpoint of another model, naming the mismatch', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gan-resume-'));
    try {
      const a = players(10);
      const t = new GanTrainer({ ...a, loss: 'hinge', data: gauss, checkpoint: { dir, every: 2 } });
      await t.fit({ steps: 2 });
      t.dispose();
      const b = players(11);
      const t2 = new GanTrainer({
        ...b,
        loss: 'hinge',
        data: gauss,
        resume: join(dir, 'step-00000002'),
      });
      const r = await t2.fit({ steps: 3 });
      expect(r.resumedFrom).toBe(join(dir, 'step-00000002'));
      expect(r.step).toBe(3);
      t2.dispose();
      const rng = new Rng(12);
      const other = new MlpCritic({ inputShape: 2, hidden: [9], rng });
      const t3 = new GanTrainer({
        generator: b.generator,
        critic: other,
        loss: 'hinge',
        data: gauss,
        checkpoint: { dir },
        resume: true,
      });
      await expect(t3.fit({ steps: 4 })).rejects.toThrow(
        /critic.*wrong shape: layers.0.kernel expected \[2, 9\]/,
      );
      const t4 = new GanTrainer({
        ...b,
        loss: 'wasserstein',
        data: gauss,
        checkpoint: { dir },
        resume: true,
      });
      await expect(t4.fit({ steps: 4 })).rejects.toThrow(
        /loss 'hinge'.*'wasserstein'.*same settings/,
      );
      for (const x of [t3, t4]) x.dispose();
      other.dispose();
      a.dispose();
      b.dispose();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('stops on divergence before applying the update, naming the last good checkpoint', async () => {
    const p = players(4);
    const store = new MemoryCheckpointStore();
    const t = new GanTrainer({
      ...p,
      loss: 'wasserstein',
      data: (r, step) => (step >= 4 ? tf.fill([16, 2], Number.NaN) : gauss(r)),
      checkpoint: { store, every: 2 },
    });
    const err = await t.fit({ steps: 10 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(GanDivergenceError);
    const e = err as GanDivergenceError;
    expect(e.step).toBe(5);
    expect(e.player).toBe('critic');
    expect(Number.isNaN(e.value)).toBe(true);
    expect(e.lastCheckpoint).toBe('memory:step-00000004');
    expect(e.message).toMatch(
      /step 5: the critic's loss is NaN.*not applied.*memory:step-00000004/,
    );
    // nothing of step 5 was applied
    expect(
      p.critic.namedParameters().every(([, v]) => Array.from(v.dataSync()).every(Number.isFinite)),
    ).toBe(true);
    t.dispose();
    p.dispose();

    // a blow-up (not NaN): a leaky-ReLU critic's scores grow with its input
    const q = players(5);
    const critic = new MlpCritic({ inputShape: 2, hidden: [8], rng: new Rng(5) });
    const big = new GanTrainer({
      generator: q.generator,
      critic,
      loss: 'wasserstein',
      data: (r) => tf.mul(gauss(r), 1e9),
      divergence: { maxLoss: 1e3 },
    });
    await expect(big.fit({ steps: 1 })).rejects.toThrow(
      /loss is .*beyond the limit 1000.*No checkpoint had been written/,
    );
    big.dispose();
    critic.dispose();
    q.dispose();
  });

  it('writes fixed-noise sample grids (PNG) every k steps and at checkpoints, with the EMA grid', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gan-samples-'));
    try {
      const rng = new Rng(6);
      const generator = new DcganGenerator({
        latentDim: 4,
        outputShape: [8, 8, 1],
        channels: [4, 2],
        rng,
      });
      const critic = new DcganCritic({ inputShape: [8, 8, 1], channels: [2, 4], rng });
      const seen: number[] = [];
      const save = imageGridSaver(dir);
      const t = new GanTrainer({
        generator,
        critic,
        loss: 'hinge',
        data: (r) => tf.randomUniform([4, 8, 8, 1], 0, 1, 'float32', r.next()),
        ema: { decay: 0.5 },
        samples: {
          every: 2,
          n: 9,
          save: async (e: SampleEvent) => {
            seen.push(e.step);
            expect(e.samples.shape).toEqual([9, 8, 8, 1]);
            expect(e.emaSamples?.shape).toEqual([9, 8, 8, 1]);
            await save(e);
          },
        },
        checkpoint: { store: new MemoryCheckpointStore(), every: 3 },
      });
      await t.fit({ steps: 4 });
      expect(seen).toEqual([2, 3, 4]);
      const png = readFileSync(join(dir, 'step-00000004.png'));
      expect(Array.from(png.subarray(1, 4))).toEqual([0x50, 0x4e, 0x47]); // 'PNG'
      expect(existsSync(join(dir, 'step-00000004-ema.png'))).toBe(true);
      t.dispose();
      generator.dispose();
      critic.dispose();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('rejects bad options with typed errors', () => {
    const p = players(8);
    const c = players(9, { classes: 3 });
    const ok = { ...p, loss: 'hinge' as const, data: gauss };
    expect(() => new GanTrainer({ ...ok, nCritic: 0 })).toThrow(/nCritic must be an integer >= 1/);
    expect(() => new GanTrainer({ ...ok, loss: 'nope' as never })).toThrow(ValueError);
    expect(() => new GanTrainer({ ...ok, penalty: { kind: 'r3' } as never })).toThrow(
      /penalty.kind/,
    );
    expect(() => new GanTrainer({ ...ok, critic: c.critic })).toThrow(/numClasses/);
    const opt = adam();
    expect(() => new GanTrainer({ ...ok, generatorOptimizer: opt, criticOptimizer: opt })).toThrow(
      /separate/,
    );
    expect(() => new GanTrainer({ ...ok, resume: true })).toThrow(/resume: true needs/);
    expect(() => new GanTrainer({ ...ok, data: 3 as never })).toThrow(/data must be a function/);
    p.dispose();
    c.dispose();
  });
});
