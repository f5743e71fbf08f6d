/**
 * The Trainer's callback interface (user callbacks: hook order, state in checkpoints), and the
 * guards on what a checkpoint may hold: no non-finite state (the NaN guard checks the parameters
 * after each update), validated metadata, a writable directory found before training.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ValueError } from '../errors.js';
import { Dense } from '../nn/layers.js';
import { CheckpointError, decodeState, MANIFEST_FILE } from '../nn/serialize.js';
import { Rng } from '../rng.js';
import { tf } from '../tf.js';
import type { Callback, CallbackState, TrainerHandle } from './callback.js';
import { MemoryCheckpointStore } from './checkpoint.js';
import { CheckpointMetadataError, NonFiniteError } from './errors.js';
import { paramValues, toyTrainer } from './fixtures/toy.js';
import { Trainer } from './trainer.js';

let root: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'dgm-callbacks-'));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

/**
 * A stateful user callback: counts steps (JSON state) and keeps an exponential moving average of
 * the first parameter (tensor state), the kind of state an estimator or a GAN's EMA copy has.
 */
class EmaCallback implements Callback {
  readonly name = 'ema';
  count = 0;
  ema: tf.Variable | undefined;
  readonly events: string[] = [];
  private init(t: TrainerHandle): tf.Variable {
    this.ema ??= tf.variable(tf.zerosLike(t.params[0]![1]), false);
    return this.ema;
  }
  onFitStart(t: TrainerHandle): void {
    this.events.push('fitStart');
    this.init(t);
  }
  onStepEnd(t: TrainerHandle): void {
    this.events.push('step');
    this.count++;
    const ema = this.init(t);
    const p = t.params[0]![1];
    tf.tidy(() => ema.assign(tf.add(tf.mul(ema, 0.9), tf.mul(p, 0.1))));
  }
  onCheckpoint(): void {
    this.events.push('checkpoint');
  }
  onFitEnd(): void {
    this.events.push('fitEnd');
  }
  saveState(): CallbackState {
    return { json: { count: this.count }, tensors: { ema: this.ema! } };
  }
  loadState(t: TrainerHandle, s: CallbackState): void {
    this.count = (s.json as { count: number }).count;
    this.init(t).assign(s.tensors!.ema!);
  }
}

describe('Trainer callbacks', () => {
  it('a user callback runs after the built-in ones; its JSON and tensor state resume bit-identical', async () => {
    const refCb = new EmaCallback();
    const ref = toyTrainer({ maxSteps: 12, extra: { callbacks: [refCb] } });
    await ref.trainer.fit();
    // interrupted after step 7 (checkpoints at 5, and at 7 on the abort) ...
    const store = new MemoryCheckpointStore();
    const ctl = new AbortController();
    const aCb = new EmaCallback();
    const a = toyTrainer({
      maxSteps: 12,
      store,
      signal: ctl.signal,
      onStep: (i) => {
        if (i.step === 7) ctl.abort();
      },
      extra: { callbacks: [aCb] },
    });
    expect((await a.trainer.fit()).step).toBe(7);
    expect(aCb.events.slice(0, 2)).toEqual(['fitStart', 'step']);
    expect(aCb.events.filter((e) => e === 'checkpoint')).toHaveLength(2);
    expect(aCb.events.at(-1)).toBe('fitEnd');
    // ... and resumed by a new trainer and callback: the count and the EMA continue exactly
    const bCb = new EmaCallback();
    const b = toyTrainer({ maxSteps: 12, store, resume: true, extra: { callbacks: [bCb] } });
    await b.trainer.fit();
    expect(bCb.count).toBe(12);
    expect(refCb.count).toBe(12);
    expect(paramValues(b.net)).toEqual(paramValues(ref.net));
    expect(Array.from(bCb.ema!.dataSync())).toEqual(Array.from(refCb.ema!.dataSync()));
    for (const t of [ref, a, b]) {
      t.net.dispose();
      t.optimizer.dispose();
    }
    for (const c of [refCb, aCb, bCb]) c.ema?.dispose();
  });

  it('user callbacks are given with `callbacks`; names must differ', async () => {
    const layer = new Dense(2, 1, { rng: new Rng(0) });
    const optimizer = tf.train.sgd(0.1);
    const seen: string[] = [];
    const mine: Callback = {
      name: 'mine',
      onFitStart: () => void seen.push('start'),
      onStepEnd: (t, e) => void seen.push(`step ${t.step} ${e.applied}`),
      onHistory: (_t, h) => void seen.push(`history ${h.step}`),
      onFitEnd: (_t, e) => void seen.push(`end ${e.stopReason}`),
    };
    const base = {
      model: layer,
      objective: () => ({ loss: tf.mean(layer.apply(tf.ones([2, 2]))) }),
      data: [null],
      optimizer,
      maxSteps: 2,
      quiet: true,
    };
    await new Trainer({ ...base, callbacks: [mine] }).fit();
    expect(seen).toEqual([
      'start',
      'history 1',
      'step 1 true',
      'history 2',
      'step 2 true',
      'end max-steps',
    ]);
    expect(() => new Trainer({ ...base, callbacks: [mine, { name: 'mine' }] })).toThrow(
      /two callbacks are named 'mine'/,
    );
    expect(() => new Trainer({ ...base, callbacks: [{ name: 'progress' }] })).toThrow(ValueError);
    layer.dispose();
    optimizer.dispose();
  });
});

/** The model parameters of every checkpoint in a store. */
async function storedParams(store: MemoryCheckpointStore): Promise<Record<string, number[]>[]> {
  const out: Record<string, number[]>[] = [];
  for (const name of await store.list()) {
    const files = await store.read(name);
    const manifest = files[MANIFEST_FILE]!;
    const m = JSON.parse(new TextDecoder().decode(manifest)) as {
      weightsManifest: { paths: string[] }[];
    };
    const { tensors } = decodeState(manifest, files[m.weightsManifest[0]!.paths[0]!]!, name);
    const rec: Record<string, number[]> = {};
    for (const [k, t] of Object.entries(tensors)) {
      if (k.startsWith('model/')) rec[k] = Array.from(t.dataSync());
      t.dispose();
    }
    out.push(rec);
  }
  return out;
}

describe('Trainer: the NaN guard checks the update (issue 19)', () => {
  function run(extra: { onLimit?: 'rollback'; restoreAt?: number }) {
    const layer = new Dense(2, 1, { rng: new Rng(0) });
    const optimizer = tf.train.sgd(0.1);
    const store = new MemoryCheckpointStore();
    const lines: string[] = [];
    const trainer = new Trainer<null>({
      model: layer,
      objective: () => ({
        loss: tf.mean(tf.square(tf.sub(layer.apply(tf.tensor2d([1, 2, 3, 4], [2, 2])), 1))),
      }),
      data: [null],
      optimizer,
      maxSteps: 6,
      checkpoint: { store, every: 1, keep: 10 },
      progress: { stream: { write: (s: string) => lines.push(s) } },
      ...(extra.onLimit ? { nanGuard: { onLimit: extra.onLimit } } : {}),
      onStep: (i) => {
        // a learning rate that turns NaN after step 2 (finite loss and gradients at step 3)
        if (i.step === 2) optimizer.setLearningRate(Number.NaN);
        if (i.step === extra.restoreAt) optimizer.setLearningRate(0.1);
      },
    });
    return { layer, optimizer, store, lines, trainer };
  }

  it('an update that makes the parameters non-finite stops at once, names them, and is never checkpointed', async () => {
    const { layer, optimizer, store, trainer } = run({});
    const err = (await trainer.fit().catch((e: unknown) => e)) as NonFiniteError;
    expect(err).toBeInstanceOf(NonFiniteError);
    expect(err.step).toBe(3);
    expect(err.component).toBe('model parameters');
    expect(err.badState).toEqual(['kernel', 'bias']);
    expect(Number.isFinite(err.loss)).toBe(true);
    expect(err.message).toMatch(
      /step 3: the update made model parameter\(s\) kernel, bias non-finite .*learning rate.*The last good checkpoint is memory:step-00000002/,
    );
    expect(err.lastCheckpoint).toBe('memory:step-00000002');
    expect((await store.list()).sort()).toEqual(['step-00000001', 'step-00000002']);
    for (const p of await storedParams(store)) {
      for (const v of Object.values(p)) expect(v.every(Number.isFinite)).toBe(true);
    }
    layer.dispose();
    optimizer.dispose();
  });

  it('with onLimit: rollback it restores the last good checkpoint and goes on', async () => {
    const { layer, optimizer, store, lines, trainer } = run({ onLimit: 'rollback', restoreAt: 3 });
    const res = await trainer.fit();
    expect(res.step).toBe(6);
    expect(lines.join('')).toMatch(
      /step 3: the update made model parameter\(s\) kernel, bias non-finite .*rolled back parameters and optimizer state to memory:step-00000002/,
    );
    expect(Array.from(layer.kernel.dataSync()).every(Number.isFinite)).toBe(true);
    for (const p of await storedParams(store)) {
      for (const v of Object.values(p)) expect(v.every(Number.isFinite)).toBe(true);
    }
    layer.dispose();
    optimizer.dispose();
  });

  it('a checkpoint is never written with non-finite parameters, optimizer or callback state; the error names which', async () => {
    const layer = new Dense(2, 1, { rng: new Rng(0) });
    const optimizer = tf.train.adam(0.1);
    const store = new MemoryCheckpointStore();
    const bad = tf.variable(tf.tensor1d([1, Number.NaN]), false);
    let poisonCallback = false;
    const trainer = new Trainer<null>({
      model: layer,
      objective: () => ({ loss: tf.mean(layer.apply(tf.ones([2, 2]))) }),
      data: [null],
      optimizer,
      maxSteps: 1,
      checkpoint: { store },
      quiet: true,
      callbacks: [
        { name: 'relax', saveState: () => (poisonCallback ? { tensors: { cv: bad } } : undefined) },
      ],
    });
    await trainer.fit();
    expect(await store.list()).toEqual(['step-00000001']);
    poisonCallback = true;
    const e1 = (await trainer.saveCheckpoint('x', 'cb').catch((e: unknown) => e)) as NonFiniteError;
    expect(e1).toBeInstanceOf(NonFiniteError);
    expect(e1.component).toBe('callback state');
    expect(e1.message).toMatch(
      /NaN or Inf in the callback state \(relax\.cv\); the checkpoint was not written/,
    );
    poisonCallback = false;
    // an optimizer slot (Adam's first moment of the kernel)
    const weights = await optimizer.getWeights();
    const slot = weights.find((w) => w.name.endsWith('/m'))!.tensor as tf.Variable;
    const keepSlot = tf.clone(slot);
    slot.assign(tf.fill(slot.shape, Number.POSITIVE_INFINITY));
    const e2 = (await trainer
      .saveCheckpoint('x', 'opt')
      .catch((e: unknown) => e)) as NonFiniteError;
    expect(e2.component).toBe('optimizer state');
    expect(e2.badState).toEqual(['kernel/m']);
    slot.assign(keepSlot);
    layer.kernel.assign(tf.fill(layer.kernel.shape, Number.NaN));
    const e3 = (await trainer
      .saveCheckpoint('x', 'model')
      .catch((e: unknown) => e)) as NonFiniteError;
    expect(e3.component).toBe('model parameters');
    expect(e3.badState).toEqual(['kernel']);
    expect(await store.list()).toEqual(['step-00000001']);
    tf.dispose([
      bad,
      keepSlot,
      ...weights.filter((w) => !(w.tensor instanceof tf.Variable)).map((w) => w.tensor),
    ]);
    layer.dispose();
    optimizer.dispose();
  });
});

describe('Trainer: checkpoint metadata is validated (issue 19)', () => {
  async function editMeta(dir: string, edit: (meta: Record<string, unknown>) => void) {
    const path = join(dir, MANIFEST_FILE);
    const m = JSON.parse(await readFile(path, 'utf8')) as { metadata: Record<string, unknown> };
    edit(m.metadata);
    await writeFile(path, JSON.stringify(m));
  }

  it('"step": "abc" in model.json gives a CheckpointMetadataError naming the field (not an endless loop)', async () => {
    const dir = join(root, 'meta');
    const a = toyTrainer({ maxSteps: 10, dir, every: 5 });
    await a.trainer.fit();
    await editMeta(join(dir, 'step-00000010'), (m) => {
      m.step = 'abc';
    });
    const b = toyTrainer({ maxSteps: 20, resume: join(dir, 'step-00000010') });
    const err = (await b.trainer.fit().catch((e: unknown) => e)) as CheckpointMetadataError;
    expect(err).toBeInstanceOf(CheckpointMetadataError);
    expect(err).toBeInstanceOf(CheckpointError);
    expect(err.field).toBe('step');
    expect(err.message).toMatch(/field 'step' must be an integer >= 0, got "abc"/);
    expect(b.trainer.step).toBe(0);
    // resume: true passes over it to the previous checkpoint, saying why
    const lines: string[] = [];
    const c = toyTrainer({
      maxSteps: 10,
      dir,
      resume: true,
      extra: { quiet: false, progress: { stream: { write: (s: string) => lines.push(s) } } },
    });
    const rc = await c.trainer.fit();
    expect(rc.resumedFrom).toBe(join(dir, 'step-00000005'));
    expect(rc.step).toBe(10);
    expect(lines.join('')).toMatch(/cannot resume from .*step-00000010 .*'step'/);
    for (const t of [a, b, c]) {
      t.net.dispose();
      t.optimizer.dispose();
    }
  });

  it('other fields too: counts, the optimizer, the history, the validation state', async () => {
    const dir = join(root, 'meta2');
    const a = toyTrainer({ maxSteps: 5, dir });
    await a.trainer.fit();
    const ck = join(dir, 'step-00000005');
    const original = await readFile(join(ck, MANIFEST_FILE), 'utf8');
    // [the field named, the path edited, the bad value]
    const cases: [string, (string | number)[], unknown][] = [
      ['batchInEpoch', ['batchInEpoch'], -1],
      ['rngState', ['rngState'], 1.5],
      ['optimizer.count', ['optimizer', 'count'], 1e300],
      ['optimizer.names', ['optimizer', 'names'], ['x']],
      ['history[0].loss', ['history', 0, 'loss'], 'x'],
      ['acc', ['acc'], null],
      [
        'callbacks.validation.sinceBest',
        ['callbacks'],
        { validation: { validation: [], best: null, sinceBest: 'no' } },
      ],
    ];
    const setPath = (m: Record<string, unknown>, path: (string | number)[], v: unknown) => {
      let o = m as Record<string | number, unknown>;
      for (const k of path.slice(0, -1)) o = o[k] as Record<string | number, unknown>;
      o[path.at(-1)!] = v;
    };
    for (const [field, path, value] of cases) {
      await writeFile(join(ck, MANIFEST_FILE), original);
      await editMeta(ck, (m) => setPath(m, path, value));
      const b = toyTrainer({ maxSteps: 6, resume: ck });
      const err = (await b.trainer.fit().catch((e: unknown) => e)) as CheckpointMetadataError;
      expect(err, field).toBeInstanceOf(CheckpointMetadataError);
      expect(err.field).toBe(field);
      b.net.dispose();
      b.optimizer.dispose();
    }
    a.net.dispose();
    a.optimizer.dispose();
  });
});

describe('Trainer: older checkpoints', () => {
  it('a checkpoint with the validation state at the top level (before callbacks) still resumes it', async () => {
    const dir = join(root, 'legacy');
    const validation = {
      every: 2,
      evaluate: ({ step }: { step: number }) => ({ nll: 10 - step }),
      patience: 2,
    };
    const a = toyTrainer({ maxSteps: 6, dir, extra: { validation } });
    await a.trainer.fit();
    const ck = join(dir, 'step-00000006');
    const path = join(ck, MANIFEST_FILE);
    const m = JSON.parse(await readFile(path, 'utf8')) as { metadata: Record<string, unknown> };
    // the layout of a checkpoint written before this change
    const { validation: v } = m.metadata.callbacks as { validation: Record<string, unknown> };
    Object.assign(m.metadata, { validation: v.validation, best: v.best, sinceBest: v.sinceBest });
    delete m.metadata.callbacks;
    delete m.metadata.callbackTensors;
    // nor had its metadata a CRC-32 (issue 19)
    delete (m as { metadataCrc32?: unknown }).metadataCrc32;
    await writeFile(path, JSON.stringify(m));
    const b = toyTrainer({ maxSteps: 8, resume: ck, extra: { validation } });
    const r = await b.trainer.fit();
    expect(r.validation.map((e) => [e.step, e.metrics.nll])).toEqual([
      [2, 8],
      [4, 6],
      [6, 4],
      [8, 2],
    ]);
    expect(r.best).toEqual({ metric: 'nll', value: 2, step: 8 });
    for (const t of [a, b]) {
      t.net.dispose();
      t.optimizer.dispose();
    }
  });
});

describe('Trainer: the checkpoint directory is probed when the Trainer is built (issue 19)', () => {
  it('an unwritable directory fails fit before the first step, with a typed error', async () => {
    const file = join(root, 'a-file');
    await writeFile(file, 'not a directory');
    let steps = 0;
    const t = toyTrainer({
      maxSteps: 5,
      dir: join(file, 'checkpoints'),
      onStep: () => void steps++,
    });
    const err = (await t.trainer.fit().catch((e: unknown) => e)) as CheckpointError;
    expect(err).toBeInstanceOf(CheckpointError);
    expect(err.path).toBe(join(file, 'checkpoints'));
    expect(err.message).toMatch(
      /checkpoint directory .*a-file\/checkpoints is not writable \(.*ENOTDIR/,
    );
    expect(steps).toBe(0);
    t.net.dispose();
    t.optimizer.dispose();
  });
});
