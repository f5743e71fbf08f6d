/**
 * The CRC-32 covers a checkpoint's metadata (issue 19, finding 3): an edit of `model.json` that
 * is still valid JSON of the right types is found and named; files written before the metadata
 * had a CRC still load, with a warning.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CheckpointError,
  CheckpointMetadataError,
  checkMetadataCrc,
  decodeState,
  encodeState,
  MANIFEST_FILE,
} from '../nn/serialize.js';
import { tf } from '../tf.js';
import { paramValues, toyTrainer } from './fixtures/toy.js';

let root: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'dgm-metacrc-'));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

type Manifest = { metadata: Record<string, unknown> } & Record<string, unknown>;

async function edit(ck: string, f: (m: Manifest) => void): Promise<void> {
  const path = join(ck, MANIFEST_FILE);
  const m = JSON.parse(await readFile(path, 'utf8')) as Manifest;
  f(m);
  await writeFile(path, JSON.stringify(m));
}

describe('the metadata CRC-32 (encodeState / decodeState)', () => {
  it('round-trips, and names an edited, added or removed field', async () => {
    const w = tf.ones([2]);
    const { manifest, data } = await encodeState({ w }, { epoch: 3, opt: { lr: 0.1, n: 2 } });
    expect(checkMetadataCrc(manifest, 's')).toBe(true);
    const cases: [string, (m: Record<string, unknown>) => void][] = [
      [
        'epoch',
        (m) => {
          m.epoch = 4;
        },
      ],
      [
        'opt.lr',
        (m) => {
          (m.opt as { lr: number }).lr = 0.2;
        },
      ],
      [
        'extra',
        (m) => {
          m.extra = 1;
        },
      ],
      [
        'opt.n',
        (m) => {
          delete (m.opt as { n?: number }).n;
        },
      ],
    ];
    for (const [field, f] of cases) {
      const m = JSON.parse(JSON.stringify(manifest));
      f(m.metadata);
      const err = (() => {
        try {
          decodeState(m, data, 's');
        } catch (e) {
          return e;
        }
      })() as CheckpointMetadataError;
      expect(err, field).toBeInstanceOf(CheckpointMetadataError);
      expect(err).toBeInstanceOf(CheckpointError);
      expect(err.field).toBe(field);
    }
    const renamed = JSON.parse(JSON.stringify(manifest));
    renamed.weightsManifest[0].weights[0].name = 'v';
    expect(() => decodeState(renamed, data, 's')).toThrow(/'weightsManifest' does not match/);
    // no CRC (an older file): decodes, and says it was not checked
    const old = JSON.parse(JSON.stringify(manifest));
    delete old.metadataCrc32;
    const back = decodeState(old, data, 's');
    expect(back.metadataChecked).toBe(false);
    expect(back.metadata).toEqual({ epoch: 3, opt: { lr: 0.1, n: 2 } });
    tf.dispose([w, back.tensors.w!]);
  });
});

describe('Trainer checkpoints: the CRC covers model.json (issue 19)', () => {
  it('a plausible edit ("step": 10 -> 7, a loss in the history) is a CheckpointMetadataError naming the field', async () => {
    const dir = join(root, 'edit');
    const a = toyTrainer({ maxSteps: 10, dir, every: 10 });
    await a.trainer.fit();
    const ck = join(dir, 'step-00000010');
    const original = await readFile(join(ck, MANIFEST_FILE), 'utf8');
    const cases: [string, (m: Manifest) => void][] = [
      [
        'step',
        (m) => {
          m.metadata.step = 7;
        },
      ],
      [
        'history',
        (m) => {
          (m.metadata.history as { loss: number }[])[0]!.loss = 0.001;
        },
      ],
      [
        'reason',
        (m) => {
          m.metadata.reason = 'final';
        },
      ],
    ];
    for (const [field, f] of cases) {
      await writeFile(join(ck, MANIFEST_FILE), original);
      await edit(ck, f);
      const b = toyTrainer({ maxSteps: 12, resume: ck });
      const err = (await b.trainer.fit().catch((e: unknown) => e)) as CheckpointMetadataError;
      expect(err, field).toBeInstanceOf(CheckpointMetadataError);
      expect(err.field).toBe(field);
      expect(err.message).toMatch(/does not match its CRC-32/);
      expect(b.trainer.step).toBe(0);
      b.net.dispose();
      b.optimizer.dispose();
    }
    a.net.dispose();
    a.optimizer.dispose();
  });

  it('a checkpoint written before the metadata had a CRC resumes, with a warning', async () => {
    const dir = join(root, 'old');
    const a = toyTrainer({ maxSteps: 6, dir, every: 3 });
    await a.trainer.fit();
    const full = toyTrainer({ maxSteps: 9 });
    await full.trainer.fit();
    await edit(join(dir, 'step-00000006'), (m) => {
      delete m.metadataCrc32;
    });
    const lines: string[] = [];
    const b = toyTrainer({
      maxSteps: 9,
      resume: join(dir, 'step-00000006'),
      extra: { quiet: false, progress: { stream: { write: (s: string) => lines.push(s) } } },
    });
    const r = await b.trainer.fit();
    expect(r.step).toBe(9);
    expect(paramValues(b.net)).toEqual(paramValues(full.net));
    expect(lines.join('')).toMatch(/warning: .*step-00000006 has no CRC-32 of its metadata/);
    for (const t of [a, b, full]) {
      t.net.dispose();
      t.optimizer.dispose();
    }
  });
});
