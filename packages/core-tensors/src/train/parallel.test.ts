import { spawn } from 'node:child_process';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expectNoLeaks } from '@dgm-js/test-utils';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ValueError } from '../errors.js';
import { Rng } from '../rng.js';
import { tf } from '../tf.js';
import { MemoryCheckpointStore } from './checkpoint.js';
import replica, { type FixtureBatch } from './fixtures/parallel-replica.mjs';
import { liveParallelWorkers, type ParallelOptions, ParallelWorkerError } from './parallel.js';
import { type StepInfo, Trainer, type TrainerOptions } from './trainer.js';

const MODULE = new URL('./fixtures/parallel-replica.mjs', import.meta.url);
const fixtures = fileURLToPath(new URL('./fixtures/', import.meta.url));
const pkgRoot = fileURLToPath(new URL('../../', import.meta.url));

/** A batch of `rows` rows from its own seed (kept for the whole file). */
function makeBatch(rows: number, seed: number): FixtureBatch {
  const rng = new Rng(seed);
  return {
    x: tf.randomNormal([rows, 4], 0, 1, 'float32', rng.next()),
    y: tf.randomNormal([rows, 3], 0, 1, 'float32', rng.next()),
  };
}

const batches: FixtureBatch[] = [];
function batch(rows: number, seed: number): FixtureBatch {
  const b = makeBatch(rows, seed);
  batches.push(b);
  return b;
}

let root: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'dgm-parallel-'));
});
afterAll(async () => {
  for (const b of batches) tf.dispose([b.x, b.y]);
  await rm(root, { recursive: true, force: true });
});
afterEach(() => {
  // every fit, passed or failed, must have terminated its workers
  expect(liveParallelWorkers()).toBe(0);
});

interface RunOptions {
  data: FixtureBatch[];
  maxSteps: number;
  optimizer: () => tf.Optimizer;
  parallel?: Omit<ParallelOptions, 'module'> & { module?: ParallelOptions['module'] };
  /** Factory options of the main thread's replica (the workers get parallel.options). */
  mainOptions?: Record<string, unknown>;
  extra?: Partial<TrainerOptions<FixtureBatch>>;
}

function setup(o: RunOptions) {
  const { model, loss } = replica({
    workerIndex: -1,
    workers: o.parallel?.workers ?? 0,
    options: o.mainOptions ?? {},
    backend: tf.getBackend(),
  });
  const optimizer = o.optimizer();
  const trainer = new Trainer<FixtureBatch>({
    model,
    objective: loss,
    data: o.data,
    optimizer,
    maxSteps: o.maxSteps,
    quiet: true,
    // vitest runs with --conditions source: the workers must resolve the built package
    ...(o.parallel ? { parallel: { module: MODULE, execArgv: [], ...o.parallel } } : {}),
    ...o.extra,
  });
  const params = () =>
    Object.fromEntries(model.namedParameters().map(([n, v]) => [n, Array.from(v.dataSync())]));
  const dispose = () => {
    model.dispose();
    optimizer.dispose();
  };
  return { trainer, model, params, dispose };
}

async function train(o: RunOptions) {
  const s = setup(o);
  try {
    const result = await s.trainer.fit();
    return { result, params: s.params() };
  } finally {
    s.dispose();
  }
}

function expectParamsClose(
  got: Record<string, number[]>,
  want: Record<string, number[]>,
  tol: { rtol: number; atol: number },
) {
  expect(Object.keys(got)).toEqual(Object.keys(want));
  for (const k of Object.keys(want)) expect(got[k]!).toBeAllclose(want[k]!, tol);
}

describe('Trainer parallel: same result as one process', () => {
  it('main + 2 workers: Adam parameters after 6 steps match the single-process run', async () => {
    // 24 rows split 8/8/8, 17 split 6/6/5, 40 (the data buffers grow) split 14/13/13
    const data = [batch(24, 1), batch(17, 2), batch(40, 3)];
    const base = { data, maxSteps: 6, optimizer: () => tf.train.adam(0.02) };
    const single = await train(base);
    const par = await train({ ...base, parallel: { workers: 2 } });
    expectParamsClose(par.params, single.params, { rtol: 1e-5, atol: 1e-6 });
    expect(par.result.step).toBe(6);
    const losses = (r: typeof single) => r.result.history.map((h) => h.loss);
    expect(losses(par)).toBeAllclose(losses(single), { rtol: 1e-5, atol: 0 });
    // metrics are averaged over the batch's rows: 'rows' (each shard reports its own rows)
    // averages to sum(rows^2) / total, e.g. (8^2 * 3) / 24 = 8 on the first batch
    expect(par.result.history[0]!.metrics.rows).toBeCloseTo(8, 10);
    expect(single.result.history[0]!.metrics.rows).toBe(24);
    expect(par.result.history[0]!.metrics.mae).toBeAllclose(
      single.result.history[0]!.metrics.mae!,
      { rtol: 1e-5, atol: 0 },
    );
    // training moved the parameters (the comparison is not between two untouched models)
    const init = setup(base);
    const p0 = init.params();
    init.dispose();
    expect(Math.abs(par.params['0.kernel']![0]! - p0['0.kernel']![0]!)).toBeGreaterThan(1e-3);
  });

  it('uneven shards are weighted by rows: 7 rows as 3/2/2 give the full-batch gradient', async () => {
    const b = batch(7, 4);
    // One SGD step with learning rate 1: the parameter change is minus the gradient.
    const base = { data: [b], maxSteps: 1, optimizer: () => tf.train.sgd(1) };
    const before = setup(base);
    const p0 = before.params();
    // The full-batch gradient, and the unweighted mean of the per-shard gradients (what a
    // wrong weighting would give), computed here on the main thread.
    const { model, loss } = replica({ workerIndex: -1, workers: 0, options: {}, backend: '' });
    const vars = model.namedParameters();
    const gradOf = (x: tf.Tensor, y: tf.Tensor) =>
      tf.tidy(() => {
        const { grads } = tf.variableGrads(
          () =>
            loss({ x, y }, { step: 0, epoch: 0, batchIndex: 0, rng: new Rng(0) }).loss as tf.Scalar,
          vars.map(([, v]) => v),
        );
        return vars.map(([, v]) => Array.from(grads[v.name]!.dataSync()));
      });
    const full = gradOf(b.x, b.y);
    const shards = [
      [0, 3],
      [3, 2],
      [5, 2],
    ].map(([s, n]) => tf.tidy(() => gradOf(tf.slice(b.x, s!, n!), tf.slice(b.y, s!, n!))));
    model.dispose();
    before.dispose();
    const naive = full.map((g, i) =>
      g.map((_, j) => shards.reduce((a, s) => a + s[i]![j]!, 0) / 3),
    );

    const par = await train({ ...base, parallel: { workers: 2 } });
    const step = vars.map(([n]) => par.params[n]!.map((v, j) => p0[n]![j]! - v));
    step.forEach((s, i) => {
      expect(s).toBeAllclose(full[i]!, { rtol: 1e-4, atol: 1e-6 });
    });
    // the check discriminates: the unweighted mean is far from the full-batch gradient
    const gap = Math.max(...naive.flatMap((g, i) => g.map((v, j) => Math.abs(v - full[i]![j]!))));
    expect(gap).toBeGreaterThan(1e-3);

    // Workers only (no main shard), a loss summed over rows: 7 rows as 4/3, weights 1.
    const sum = { ...base, mainOptions: { sumLoss: true } };
    const single = await train(sum);
    const par2 = await train({
      ...sum,
      parallel: { workers: 2, mainShard: false, reduction: 'sum', options: { sumLoss: true } },
    });
    expectParamsClose(par2.params, single.params, { rtol: 1e-5, atol: 1e-6 });
    expect(par2.result.history[0]!.loss).toBeAllclose(single.result.history[0]!.loss, {
      rtol: 1e-5,
      atol: 0,
    });
  });
});

describe('Trainer parallel: the Trainer features keep working', () => {
  it('leaves no tensors behind on the main thread', async () => {
    const data = [batch(16, 5), batch(9, 6)];
    const s = setup({
      data,
      maxSteps: 4,
      optimizer: () => tf.train.sgd(0.1),
      parallel: { workers: 1 },
    });
    try {
      const r = await expectNoLeaks(() => s.trainer.fit(), 'parallel fit');
      expect(r.step).toBe(4);
    } finally {
      s.dispose();
    }
  });

  it('abort saves a checkpoint; resume continues to the single-process result', async () => {
    const data = [batch(12, 7), batch(12, 8)];
    const base = { data, maxSteps: 6, optimizer: () => tf.train.adam(0.02) };
    const single = await train(base);
    const store = new MemoryCheckpointStore();
    const ac = new AbortController();
    const first = await train({
      ...base,
      parallel: { workers: 1 },
      extra: {
        checkpoint: { store },
        signal: ac.signal,
        onStep: (i: StepInfo) => {
          if (i.step === 3) ac.abort();
        },
      },
    });
    expect(first.result.stopReason).toBe('aborted');
    expect(first.result.step).toBe(3);
    const resumed = await train({
      ...base,
      parallel: { workers: 1 },
      extra: { checkpoint: { store }, resume: true },
    });
    expect(resumed.result.resumedFrom).toBeDefined();
    expect(resumed.result.step).toBe(6);
    expectParamsClose(resumed.params, single.params, { rtol: 1e-5, atol: 1e-6 });
  });

  it('a NaN in the worker rows or in the main thread rows is caught: the step is skipped', async () => {
    const good = batch(6, 9);
    const nan = tf.fill([2, 4], Number.NaN);
    // 8 rows as 4 (main) / 4 (worker): NaN rows last go to the worker, first to the main thread
    const inWorker = { x: tf.concat([good.x, nan]), y: tf.concat([good.y, tf.zeros([2, 3])]) };
    const inMain = { x: tf.concat([nan, good.x]), y: tf.concat([tf.zeros([2, 3]), good.y]) };
    nan.dispose();
    batches.push(inWorker, inMain);
    const steps: StepInfo[] = [];
    const r = await train({
      data: [good, inWorker, inMain, good],
      maxSteps: 4,
      optimizer: () => tf.train.sgd(0.1),
      parallel: { workers: 1 },
      extra: { onStep: (i) => void steps.push(i) },
    });
    expect(steps.map((s) => s.skipped)).toEqual([false, true, true, false]);
    expect(steps[1]!.badGradients).toContain('0.kernel');
    expect(steps[2]!.badGradients).toContain('0.kernel');
    expect(steps[3]!.badGradients).toEqual([]);
    expect(r.result.skippedSteps).toBe(2);
  });

  it('rejects bad parallel options when the Trainer is built', () => {
    const v = tf.variable(tf.zeros([1]));
    const bad = (parallel: unknown) => () =>
      new Trainer({
        model: [v],
        objective: () => ({ loss: tf.sum(v) }),
        data: [],
        maxSteps: 1,
        optimizer: tf.train.sgd(0.1),
        parallel: parallel as ParallelOptions,
      });
    try {
      expect(bad({ workers: 0, module: MODULE })).toThrow(
        /parallel\.workers must be an integer >= 1, got 0/,
      );
      expect(bad({ workers: 1.5, module: MODULE })).toThrow(ValueError);
      expect(bad({ module: MODULE })).toThrow(/parallel\.workers is required/);
      expect(bad({ workers: 1, module: '' })).toThrow(/parallel\.module must be/);
      expect(bad({ workers: 1, module: MODULE })).not.toThrow();
    } finally {
      v.dispose();
    }
  });

  it('rejects a batch that is not made of tensors, naming the fix', async () => {
    const s = setup({
      data: [{ x: [[1, 2, 3, 4]], y: [[0, 0, 0]] } as unknown as FixtureBatch],
      maxSteps: 1,
      optimizer: () => tf.train.sgd(0.1),
      parallel: { workers: 1 },
    });
    try {
      await expect(s.trainer.fit()).rejects.toThrow(ValueError);
      await expect(s.trainer.fit()).rejects.toThrow(/batch\["x"\] is not a tensor/);
    } finally {
      s.dispose();
    }
  });
});

describe('Trainer parallel: worker errors', () => {
  it('an error in a worker loss surfaces as ParallelWorkerError naming the worker', async () => {
    const s = setup({
      data: [batch(9, 10)],
      maxSteps: 5,
      optimizer: () => tf.train.sgd(0.1),
      parallel: { workers: 2, options: { failAtStep: 2, failWorker: 1 } },
    });
    try {
      const err = await s.trainer.fit().then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(ParallelWorkerError);
      const e = err as ParallelWorkerError;
      expect(e.worker).toBe(1);
      expect(e.step).toBe(2);
      expect(e.workerMessage).toBe('Error: boom in the loss at step 2');
      expect(e.message).toMatch(/worker 1 \(of 2\) failed at step 2: Error: boom/);
      expect(e.workerStack).toMatch(/parallel-replica\.mjs/);
      expect(s.trainer.step).toBe(2);
    } finally {
      s.dispose();
    }
  });

  it('a worker that does not finish a step within stepTimeoutMs fails it and is terminated', async () => {
    const s = setup({
      data: [batch(6, 12)],
      maxSteps: 5,
      optimizer: () => tf.train.sgd(0.1),
      parallel: { workers: 2, stepTimeoutMs: 300, options: { hangAtStep: 1 } },
    });
    try {
      const t0 = performance.now();
      await expect(s.trainer.fit()).rejects.toThrow(
        /parallel worker 0 \(of 2\) failed at step 1: did not finish the step within 300 ms/,
      );
      expect(performance.now() - t0).toBeLessThan(10_000);
      expect(s.trainer.step).toBe(1);
    } finally {
      s.dispose();
    }
  });

  it('an error in the factory, or a model that does not match, fails the start', async () => {
    const base = { data: [batch(4, 11)], maxSteps: 1, optimizer: () => tf.train.sgd(0.1) };
    const a = setup({ ...base, parallel: { workers: 1, options: { throwInFactory: true } } });
    try {
      await expect(a.trainer.fit()).rejects.toThrow(
        /parallel worker 0 \(of 1\) failed while starting: RangeError: factory refused worker 0/,
      );
    } finally {
      a.dispose();
    }
    const b = setup({ ...base, parallel: { workers: 1, options: { hidden: 5 } } });
    try {
      await expect(b.trainer.fit()).rejects.toThrow(
        /does not match the Trainer's model: '0\.kernel' is float32 \[4, 5\] here, float32 \[4, 8\]/,
      );
    } finally {
      b.dispose();
    }
    const c = setup({
      ...base,
      parallel: { workers: 1, module: new URL('./fixtures/no-such-module.mjs', import.meta.url) },
    });
    try {
      await expect(c.trainer.fit()).rejects.toThrow(ParallelWorkerError);
    } finally {
      c.dispose();
    }
  });
});

interface ChildRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  out: string;
  stderr: string;
}

/** Runs the plain-Node child (the built package); sends SIGINT after step `killAt` if given. */
function runChild(args: string[], killAt?: number): Promise<ChildRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(fixtures, 'parallel-child.mjs'), ...args], {
      cwd: pkgRoot,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, DGM_BACKEND: tf.getBackend() },
    });
    let out = '';
    let stderr = '';
    let sent = false;
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`the child did not exit within 30 s (a hanging worker?): ${out}${stderr}`));
    }, 30_000);
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (killAt !== undefined && !sent && out.includes(`step ${killAt}\n`)) {
        sent = true;
        child.kill('SIGINT');
      }
    });
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, out, stderr });
    });
  });
}

describe('Trainer parallel: shutdown', () => {
  it('a process that trained with workers exits by itself when fit returns', async () => {
    const r = await runChild(['3', '0']);
    expect(r.stderr).not.toMatch(/error/i); // (the cpu backend prints a tfjs-node hint)
    expect(r.out).toContain('done 3');
    expect(r.code).toBe(0);
    // what the workers' loss printed (console.log in a worker) came through, every step
    for (const w of [0, 1]) {
      for (const s of [0, 1, 2]) expect(r.out).toContain(`replica ${w} step ${s}\n`);
    }
  });

  it('SIGINT: the step finishes, a checkpoint is saved, the workers stop, the signal is re-raised', async () => {
    const dir = join(root, 'sigint');
    const r = await runChild(['1000', '40', dir], 2);
    expect(r.signal).toBe('SIGINT');
    expect(r.out).not.toContain('done');
    const saved = await readdir(dir);
    expect(saved.some((n) => n.startsWith('step-'))).toBe(true);
  });
});
