import { mkdtemp, readdir, readFile, rm, truncate } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expectNoLeaks } from '@dgm-js/test-utils';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ValueError } from '../errors.js';
import { loadModule } from '../nn/io.js';
import { Dense, mlp } from '../nn/layers.js';
import { StateMismatchError } from '../nn/module.js';
import { CheckpointError } from '../nn/serialize.js';
import { Rng } from '../rng.js';
import { tf } from '../tf.js';
import {
  DirectoryCheckpointStore,
  latestCheckpoint,
  listCheckpoints,
  MemoryCheckpointStore,
} from './checkpoint.js';
import { MemoryLeakError, NonFiniteError } from './errors.js';
import { paramValues, toyTrainer } from './fixtures/toy.js';
import { Trainer } from './trainer.js';

let root: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'dgm-trainer-'));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

/** y = X w* + b* + noise; the least-squares solution from the normal equations in float64. */
function regressionProblem() {
  const rng = new Rng(11);
  const n = 64;
  const X: number[][] = [];
  const y: number[] = [];
  const wTrue = [1.5, -2, 0.5];
  for (let i = 0; i < n; i++) {
    const row = [rng.float() * 2 - 1, rng.float() * 2 - 1, rng.float() * 2 - 1];
    X.push(row);
    y.push(row.reduce((s, v, j) => s + v * wTrue[j]!, 0.3) + 0.1 * (rng.float() - 0.5));
  }
  // Normal equations for [X, 1]: A beta = c, solved by Gaussian elimination with pivoting.
  const d = 4;
  const A = Array.from({ length: d }, () => new Array<number>(d + 1).fill(0));
  for (let i = 0; i < n; i++) {
    const r = [...X[i]!, 1];
    for (let a = 0; a < d; a++) {
      for (let b = 0; b < d; b++) A[a]![b]! += r[a]! * r[b]!;
      A[a]![d]! += r[a]! * y[i]!;
    }
  }
  for (let c = 0; c < d; c++) {
    let p = c;
    for (let r = c + 1; r < d; r++) if (Math.abs(A[r]![c]!) > Math.abs(A[p]![c]!)) p = r;
    [A[c], A[p]] = [A[p]!, A[c]!];
    for (let r = 0; r < d; r++) {
      if (r === c) continue;
      const f = A[r]![c]! / A[c]![c]!;
      for (let k = c; k <= d; k++) A[r]![k]! -= f * A[c]![k]!;
    }
  }
  const beta = A.map((row, i) => row[d]! / row[i]!);
  return { X, y, w: beta.slice(0, 3), b: beta[3]! };
}

describe('Trainer: convergence', () => {
  it('linear regression converges to the closed-form least-squares solution', async () => {
    const { X, y, w, b } = regressionProblem();
    const layer = new Dense(3, 1, { rng: new Rng(0) });
    const xs = tf.tensor2d(X);
    const ys = tf.tensor2d(y, [y.length, 1]);
    const optimizer = tf.train.sgd(0.5);
    const trainer = new Trainer({
      model: layer,
      objective: () => ({ loss: tf.mean(tf.square(tf.sub(layer.apply(xs), ys))) }),
      data: [null],
      optimizer,
      epochs: 400,
      quiet: true,
      historyEvery: 100,
    });
    const result = await trainer.fit();
    expect(result.stopReason).toBe('epochs');
    expect(result.step).toBe(400);
    expect(result.history.map((h) => h.step)).toEqual([100, 200, 300, 400]);
    expect(result.history[3]!.steps).toBe(100);
    expect(result.history[3]!.loss).toBeLessThan(result.history[0]!.loss);
    expect(Array.from(layer.kernel.dataSync())).toBeAllclose(w, { rtol: 1e-4, atol: 1e-4 });
    expect(layer.bias!.dataSync()[0]).toBeAllclose(b, { rtol: 1e-4, atol: 1e-4 });
    tf.dispose([xs, ys]);
    optimizer.dispose();
    layer.dispose();
  });
});

describe('Trainer: checkpoints and resume', () => {
  it('abort + resume reproduces the uninterrupted run exactly; so does resuming an older checkpoint', async () => {
    const full = toyTrainer({ maxSteps: 30, initSeed: 1 });
    const fullRes = await full.trainer.fit();
    const expected = paramValues(full.net);

    const dir = join(root, 'resume');
    const ctl = new AbortController();
    const first = toyTrainer({
      maxSteps: 30,
      initSeed: 1,
      dir,
      every: 5,
      signal: ctl.signal,
      onStep: (i) => {
        if (i.step === 13) ctl.abort();
      },
    });
    const r1 = await first.trainer.fit();
    expect(r1.stopReason).toBe('aborted');
    expect(r1.step).toBe(13);
    expect((await listCheckpoints(new DirectoryCheckpointStore(dir))).map((c) => c.step)).toEqual([
      5, 10, 13,
    ]);

    // a hard kill after step 10's checkpoint: resume from step 10 (mid-epoch: 8 batches/epoch)
    const third = toyTrainer({ maxSteps: 30, initSeed: 5, resume: join(dir, 'step-00000010') });
    const r3 = await third.trainer.fit();
    expect(r3.step).toBe(30);
    expect(paramValues(third.net)).toEqual(expected);

    // different initial weights: resume must overwrite them
    const second = toyTrainer({ maxSteps: 30, initSeed: 99, dir, resume: true });
    const r2 = await second.trainer.fit();
    expect(r2.resumedFrom).toBe(join(dir, 'step-00000013'));
    expect(r2.step).toBe(30);
    expect(paramValues(second.net)).toEqual(expected);
    expect(r2.history).toEqual(
      fullRes.history.map((h) => ({ ...h, elapsedMs: expect.any(Number) })),
    );

    for (const t of [full, first, second, third]) {
      t.net.dispose();
      t.optimizer.dispose();
    }
  });

  it('fit() again after an abort continues the same run', async () => {
    const full = toyTrainer({ maxSteps: 12 });
    await full.trainer.fit();
    const ctl = new AbortController();
    const t = toyTrainer({
      maxSteps: 12,
      store: new MemoryCheckpointStore(),
      signal: ctl.signal,
      onStep: (i) => {
        if (i.step === 6) ctl.abort();
      },
    });
    expect((await t.trainer.fit()).stopReason).toBe('aborted');
    const r = await t.trainer.fit({ signal: new AbortController().signal });
    expect(r.step).toBe(12);
    expect(paramValues(t.net)).toEqual(paramValues(full.net));
    for (const x of [full, t]) {
      x.net.dispose();
      x.optimizer.dispose();
    }
  });

  it('writes model + Adam state, keeps the last K, and loadModule reads a checkpoint', async () => {
    const dir = join(root, 'keep');
    const t = toyTrainer({ maxSteps: 12, dir, every: 2, keep: 2 });
    const res = await t.trainer.fit();
    expect(res.lastCheckpoint).toBe(join(dir, 'step-00000012'));
    expect((await readdir(dir)).sort()).toEqual(['step-00000010', 'step-00000012']);
    expect(await latestCheckpoint(dir)).toBe(join(dir, 'step-00000012'));
    const manifest = JSON.parse(await readFile(join(dir, 'step-00000012', 'model.json'), 'utf8'));
    const names: string[] = manifest.weightsManifest[0].weights.map(
      (w: { name: string }) => w.name,
    );
    // 4 parameters + Adam's iteration count and two moments per parameter
    expect(names.filter((n) => n.startsWith('model/'))).toEqual([
      'model/0.kernel',
      'model/0.bias',
      'model/1.kernel',
      'model/1.bias',
    ]);
    expect(names.filter((n) => n.startsWith('optimizer/'))).toHaveLength(9);
    expect(manifest.metadata.optimizer.names.slice(0, 2)).toEqual(['iter', '0.kernel/m']);
    expect(manifest.metadata.step).toBe(12);
    const copy = mlp([3, 8, 1], { rng: new Rng(42), activation: 'tanh' });
    await loadModule(copy, join(dir, 'step-00000012'), { prefix: 'model/' });
    expect(paramValues(copy)).toEqual(paramValues(t.net));
    copy.dispose();
    t.net.dispose();
    t.optimizer.dispose();
  });

  it('refuses to overwrite another run; falls back past a corrupt checkpoint; rejects another model', async () => {
    const dir = join(root, 'guard');
    const a = toyTrainer({ maxSteps: 10, dir, every: 5 });
    await a.trainer.fit();
    const b = toyTrainer({ maxSteps: 10, dir });
    await expect(b.trainer.fit()).rejects.toThrow(
      /already holds checkpoints .*resume: true.*nothing was overwritten/,
    );

    // corrupt the newest: resume uses step 5 instead, and says so
    await truncate(join(dir, 'step-00000010', 'weights.bin'), 100);
    const lines: string[] = [];
    const c = toyTrainer({
      maxSteps: 10,
      dir,
      resume: true,
      extra: { quiet: false, progress: { stream: { write: (s: string) => lines.push(s) } } },
    });
    const rc = await c.trainer.fit();
    expect(rc.resumedFrom).toBe(join(dir, 'step-00000005'));
    expect(lines.join('')).toMatch(/cannot resume from .*step-00000010 .*truncated/);
    expect(paramValues(c.net)).toEqual(paramValues(a.net));

    // a checkpoint of another architecture: every mismatch listed
    const other = mlp([3, 4, 1], { rng: new Rng(0) });
    const opt = tf.train.adam(0.01);
    const d = new Trainer({
      model: other,
      objective: () => ({ loss: tf.sum(other.apply(tf.zeros([1, 3]))) }),
      data: [null],
      optimizer: opt,
      maxSteps: 1,
      quiet: true,
      resume: join(dir, 'step-00000005'),
    });
    const err = (await d.fit().catch((e: unknown) => e)) as StateMismatchError;
    expect(err).toBeInstanceOf(StateMismatchError);
    expect(err.wrongShape.map((w) => w.name)).toEqual(['0.kernel', '0.bias', '1.kernel']);
    await expect(
      toyTrainer({ maxSteps: 1, resume: join(dir, 'nope') }).trainer.fit(),
    ).rejects.toThrow(CheckpointError);
    for (const t of [a, b, c]) {
      t.net.dispose();
      t.optimizer.dispose();
    }
    other.dispose();
    opt.dispose();
  });

  it('runs in memory (browser path) with a MemoryCheckpointStore and a JSONL log without duplicates', async () => {
    const store = new MemoryCheckpointStore();
    const logFile = join(root, 'log', 'train.jsonl');
    const ctl = new AbortController();
    const a = toyTrainer({
      maxSteps: 12,
      store,
      every: 4,
      logFile,
      signal: ctl.signal,
      onStep: (i) => {
        if (i.step === 6) ctl.abort();
      },
    });
    await a.trainer.fit();
    // the interrupted run logged steps 1..6; the last checkpoint is the abort one at 6, so
    // simulate a hard kill after step 4's checkpoint by dropping it
    await store.remove('step-00000006');
    const b = toyTrainer({ maxSteps: 12, store, resume: true, logFile });
    const rb = await b.trainer.fit();
    expect(rb.resumedFrom).toBe('memory:step-00000004');
    const steps = (await readFile(logFile, 'utf8'))
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l).step);
    expect(steps).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
    for (const t of [a, b]) {
      t.net.dispose();
      t.optimizer.dispose();
    }
  });
});

describe('Trainer: non-finite guard', () => {
  function poisoned(bad: (step: number) => boolean) {
    const layer = new Dense(2, 1, { rng: new Rng(0) });
    const optimizer = tf.train.adam(0.05);
    const batches = (_e: number) => {
      const out: number[][][] = [];
      for (let i = 0; i < 4; i++)
        out.push([
          [1, 2],
          [3, 4],
        ]);
      return out;
    };
    return { layer, optimizer, batches, bad };
  }

  it('skips a poisoned step (parameters unchanged), names the gradients, and goes on', async () => {
    const { layer, optimizer, batches } = poisoned(() => false);
    const snapshots: number[][] = [];
    const infos: { step: number; skipped: boolean; bad: string[]; loss: number }[] = [];
    const trainer = new Trainer<number[][]>({
      model: { enc: layer },
      objective: (batch, ctx) => {
        const x = tf.tensor2d(
          ctx.step === 2
            ? [
                [Number.NaN, 1],
                [1, 1],
              ]
            : batch,
        );
        return { loss: tf.mean(tf.square(tf.sub(layer.apply(x), 1))) };
      },
      data: batches,
      optimizer,
      maxSteps: 5,
      quiet: true,
      onStep: (i) => {
        snapshots.push(Array.from(layer.kernel.dataSync()));
        infos.push({ step: i.step, skipped: i.skipped, bad: i.badGradients, loss: i.loss });
      },
    });
    const res = await trainer.fit();
    expect(res.step).toBe(5);
    expect(res.skippedSteps).toBe(1);
    expect(infos.map((i) => i.skipped)).toEqual([false, false, true, false, false]);
    expect(infos[2]!.bad).toEqual(['enc.kernel', 'enc.bias']); // the NaN row reaches both
    expect(Number.isNaN(infos[2]!.loss)).toBe(true);
    expect(snapshots[2]).toEqual(snapshots[1]); // not applied
    expect(snapshots[3]).not.toEqual(snapshots[2]);
    expect(res.history[2]).toMatchObject({ step: 3, steps: 0, skipped: 1 });
    layer.dispose();
    optimizer.dispose();
  });

  it('stops with a NonFiniteError after N consecutive bad steps; the last good checkpoint is kept', async () => {
    const { layer, optimizer, batches } = poisoned(() => true);
    const store = new MemoryCheckpointStore();
    const trainer = new Trainer<number[][]>({
      model: layer,
      objective: (batch, ctx) => {
        const x = tf.tensor2d(batch);
        const scale = ctx.step >= 5 ? Number.POSITIVE_INFINITY : 1;
        return {
          loss: tf.mean(tf.square(tf.sub(tf.mul(layer.apply(x), scale), 1))),
          metrics: { s: scale },
        };
      },
      data: batches,
      optimizer,
      maxSteps: 20,
      quiet: true,
      checkpoint: { store, every: 4 },
      nanGuard: { maxConsecutive: 3 },
    });
    const good = await new Promise<number[]>((resolve, reject) => {
      trainer
        .fit()
        .then(() => reject(new Error('fit should have thrown')))
        .catch((e: unknown) => {
          try {
            expect(e).toBeInstanceOf(NonFiniteError);
            const err = e as NonFiniteError;
            expect(err.step).toBe(8);
            expect(err.loss).toBe(Number.POSITIVE_INFINITY);
            expect(err.badMetrics).toEqual(['s']);
            expect(err.lastCheckpoint).toBe('memory:step-00000004');
            expect(err.message).toMatch(
              /step 8: loss is Infinity; non-finite gradient of kernel, bias; non-finite metric s\. 3 consecutive non-finite steps .*none of them was applied\. The last good checkpoint is memory:step-00000004 \(kept\)/,
            );
            resolve(Array.from(layer.kernel.dataSync()));
          } catch (x) {
            reject(x);
          }
        });
    });
    // steps 6-8 were not applied: the kernel is the one after step 5 ... and the checkpoint
    // after step 4 is intact and alone
    expect((await store.list()).sort()).toEqual(['step-00000004']);
    expect(good.every(Number.isFinite)).toBe(true);
    layer.dispose();
    optimizer.dispose();
  });

  it('rolls back to the last checkpoint when asked', async () => {
    const { layer, optimizer, batches } = poisoned(() => true);
    const store = new MemoryCheckpointStore();
    const lines: string[] = [];
    let atCheckpoint: number[] = [];
    const trainer = new Trainer<number[][]>({
      model: layer,
      objective: (batch, ctx) => {
        const bad = ctx.step >= 5 && ctx.step < 8;
        const x = tf.tensor2d(
          bad
            ? [
                [Number.NaN, 0],
                [0, 0],
              ]
            : batch,
        );
        return { loss: tf.mean(tf.square(tf.sub(layer.apply(x), 1))) };
      },
      data: batches,
      optimizer,
      maxSteps: 10,
      checkpoint: { store, every: 4 },
      nanGuard: { maxConsecutive: 3, onLimit: 'rollback' },
      progress: { stream: { write: (s: string) => lines.push(s) } },
      onCheckpoint: (c) => {
        if (c.step === 4) atCheckpoint = Array.from(layer.kernel.dataSync());
      },
      onStep: (i) => {
        if (i.step === 8) expect(Array.from(layer.kernel.dataSync())).toEqual(atCheckpoint);
      },
    });
    const res = await trainer.fit();
    expect(res.step).toBe(10);
    expect(res.skippedSteps).toBe(3);
    expect(lines.join('')).toMatch(
      /rolled back parameters and optimizer state to memory:step-00000004/,
    );
    layer.dispose();
    optimizer.dispose();
  });
});

describe('Trainer: memory', () => {
  it('a training step leaks nothing (after the warm-up step)', async () => {
    const t = toyTrainer({ maxSteps: 1 });
    await t.trainer.fit(); // warm-up: Adam creates its moment variables
    const again = new Trainer({
      model: t.net,
      objective: (b: number) => ({ loss: tf.sum(tf.square(t.net.apply(tf.fill([2, 3], b)))) }),
      data: [0.5, 1, 1.5],
      optimizer: t.optimizer,
      maxSteps: 6,
      quiet: true,
    });
    await expectNoLeaks(() => again.fit(), 'Trainer.fit (6 steps)');
    t.net.dispose();
    t.optimizer.dispose();
  });

  it('throws a MemoryLeakError naming the leak size when the objective keeps tensors', async () => {
    const layer = new Dense(2, 1, { rng: new Rng(0) });
    const optimizer = tf.train.sgd(0.1);
    const kept: tf.Tensor[] = [];
    const trainer = new Trainer({
      model: layer,
      objective: () => {
        const y = layer.apply(tf.ones([3, 2]));
        kept.push(tf.keep(tf.clone(y)), tf.keep(tf.clone(y)));
        return { loss: tf.mean(y) };
      },
      data: [1],
      optimizer,
      epochs: 10,
      quiet: true,
    });
    const err = (await trainer.fit().catch((e: unknown) => e)) as MemoryLeakError;
    expect(err).toBeInstanceOf(MemoryLeakError);
    expect(err.leaked).toBe(2);
    expect(err.step).toBe(2);
    expect(err.message).toMatch(/2 tensor\(s\) leaked between step 1 and step 2/);
    tf.dispose(kept);
    layer.dispose();
    optimizer.dispose();
  });
});

describe('Trainer: progress, validation, options', () => {
  it('prints plain lines off a TTY and a redrawn bar on one; quiet prints nothing', async () => {
    const run = async (
      stream: { write: (s: string) => unknown; isTTY?: boolean },
      quiet = false,
    ) => {
      const t = toyTrainer({ maxSteps: 16, extra: { quiet, progress: { stream, everySteps: 5 } } });
      await t.trainer.fit();
      t.net.dispose();
      t.optimizer.dispose();
    };
    const plain: string[] = [];
    await run({ write: (s) => plain.push(s) });
    const steps = plain.map(
      (l) =>
        /^step (\d+)\/16 \| loss \S+ maxErr \S+ lr 0\.02 \| \S+ steps\/s \d+ ex\/s/.exec(l)?.[1],
    );
    expect(steps).toEqual(['1', '6', '11', '16']);
    expect(plain.every((l) => l.endsWith('\n'))).toBe(true);
    const tty: string[] = [];
    await run({ write: (s) => tty.push(s), isTTY: true });
    expect(tty[0]!.startsWith('\r\u001b[2K')).toBe(true);
    expect(tty[0]).toMatch(/\[#*\.*\]\s+\d+% step 1\/16/);
    expect(tty[tty.length - 1]).toMatch(/\[#+\] 100% step 16\/16 .*ETA 0:00\n$/);
    const none: string[] = [];
    await run({ write: (s) => none.push(s) }, true);
    expect(none).toEqual([]);
  });

  it('validates, tracks the best metric, stops early and saves the best checkpoint', async () => {
    const store = new MemoryCheckpointStore();
    const values = [5, 3, 4, 4, 4, 1];
    const t = toyTrainer({
      maxSteps: 100,
      store,
      every: 50,
      extra: {
        validation: {
          every: 2,
          evaluate: ({ step }) => ({ nll: values[step / 2 - 1]!, other: 0 }),
          patience: 3,
        },
        checkpoint: { store, every: 50, saveBest: true },
      },
    });
    const res = await t.trainer.fit();
    expect(res.stopReason).toBe('early-stopped');
    expect(res.step).toBe(10); // best 3 at step 4, then 4, 4, 4
    expect(res.best).toEqual({ metric: 'nll', value: 3, step: 4 });
    expect(res.validation.map((v) => v.metrics.nll)).toEqual([5, 3, 4, 4, 4]);
    expect((await store.list()).sort()).toEqual(['best', 'step-00000010']);
    t.net.dispose();
    t.optimizer.dispose();
  });

  it('rejects bad options and bad objectives with clear errors', async () => {
    const layer = new Dense(2, 1, { rng: new Rng(0) });
    const optimizer = tf.train.sgd(0.1);
    const base = { model: layer, data: [1], optimizer, quiet: true };
    expect(() => new Trainer({ ...base, objective: () => ({ loss: tf.scalar(0) }) })).toThrow(
      /give a budget: maxSteps, epochs, or both/,
    );
    expect(
      () => new Trainer({ ...base, objective: () => ({ loss: tf.scalar(0) }), maxSteps: 1.5 }),
    ).toThrow(ValueError);
    const before = tf.memory().numTensors;
    const vector = new Trainer({
      ...base,
      maxSteps: 1,
      objective: () => ({ loss: layer.apply(tf.ones([3, 2])) }),
    });
    await expect(vector.fit()).rejects.toThrow(
      /loss must be a scalar, got shape \[3, 1\]; reduce it/,
    );
    const unrelated = new Trainer({
      ...base,
      maxSteps: 1,
      objective: () => ({ loss: tf.scalar(1) }),
    });
    await expect(unrelated.fit()).rejects.toThrow(
      /does not depend on any trainable parameter \(kernel, bias\)/,
    );
    const badMetric = new Trainer({
      ...base,
      maxSteps: 1,
      objective: () => ({
        loss: tf.mean(layer.apply(tf.ones([3, 2]))),
        metrics: { v: tf.ones([2]) },
      }),
    });
    await expect(badMetric.fit()).rejects.toThrow(
      /metric 'v' must be a number or a one-element tensor, got shape \[2\]/,
    );
    expect(tf.memory().numTensors).toBe(before); // failed steps leak nothing
    layer.dispose();
    optimizer.dispose();
  });
});
