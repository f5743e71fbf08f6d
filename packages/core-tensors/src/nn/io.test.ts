import { mkdtemp, readdir, readFile, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expectNoLeaks } from '@dgm-js/test-utils';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Rng } from '../rng.js';
import { tf } from '../tf.js';
import { loadModule, loadState, saveModule, saveState } from './io.js';
import { mlp } from './layers.js';
import { StateMismatchError } from './module.js';
import { CheckpointError, crc32, decodeState, encodeState, parseManifest } from './serialize.js';

let root: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'dgm-nn-io-'));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

function params(m: { namedParameters(): [string, tf.Variable][] }): Record<string, number[]> {
  return Object.fromEntries(m.namedParameters().map(([n, v]) => [n, Array.from(v.dataSync())]));
}

describe('encodeState / decodeState', () => {
  it('crc32 is the IEEE CRC (check value of "123456789")', () => {
    expect(crc32(new TextEncoder().encode('123456789'))).toBe(0xcbf43926);
  });

  it('round-trips float32 (with NaN and Inf) and int32 exactly, with metadata', async () => {
    const a = tf.tensor2d([
      [1.5, Number.NaN, Number.NEGATIVE_INFINITY],
      [3e-38, -0, 7],
    ]);
    const b = tf.tensor1d([-2147483648, 5, 2147483647], 'int32');
    const c = tf.zeros([0, 3]);
    const { manifest, data } = await encodeState({ a, b, c }, { note: 'x', n: [1, 2] });
    expect(manifest.byteLength).toBe(36);
    expect(data.byteLength).toBe(36);
    const n0 = tf.memory().numTensors;
    const back = decodeState(JSON.stringify(manifest), data);
    expect(tf.memory().numTensors).toBe(n0 + 3);
    expect(back.metadata).toEqual({ note: 'x', n: [1, 2] });
    expect(back.tensors.a).toBeAllclose(a, { rtol: 0, atol: 0 });
    expect(back.tensors.b!.dtype).toBe('int32');
    expect(Array.from(back.tensors.b!.dataSync())).toEqual([-2147483648, 5, 2147483647]);
    expect(back.tensors.c!.shape).toEqual([0, 3]);
    tf.dispose([a, b, c, ...Object.values(back.tensors)]);
  });

  it('rejects truncated, corrupt and malformed input with CheckpointError', async () => {
    const t = tf.ones([4]);
    const { manifest, data } = await encodeState({ t });
    t.dispose();
    const before = tf.memory().numTensors;
    expect(() => decodeState(manifest, data.slice(0, 12), 'ck')).toThrow(CheckpointError);
    expect(() => decodeState(manifest, data.slice(0, 12), 'ck')).toThrow(
      'ck/weights.bin: 12 bytes, the manifest says 16; the file is truncated',
    );
    const flipped = data.slice();
    flipped[5] = flipped[5]! ^ 1;
    expect(() => decodeState(manifest, flipped, 'ck')).toThrow(
      /CRC-32 is [0-9a-f]{8}, the manifest says/,
    );
    expect(() => decodeState('{"format": "dgmjs-state", ', data, 'ck')).toThrow(
      /ck\/model\.json: not valid JSON/,
    );
    expect(() => parseManifest({ ...manifest, format: 'other' }, 'm')).toThrow(/format is "other"/);
    expect(() => parseManifest({ ...manifest, byteLength: 20 }, 'm')).toThrow(
      /byteLength 20 does not equal the 16 bytes/,
    );
    expect(tf.memory().numTensors).toBe(before);
    const bool = tf.tensor1d([true], 'bool');
    await expect(encodeState({ bool })).rejects.toThrow(/dtype bool; only float32 and int32/);
    bool.dispose();
  });
});

describe('saveModule / loadModule', () => {
  it('round-trips parameters and metadata, written atomically', async () => {
    const dir = join(root, 'net');
    const a = mlp([3, 5, 2], { rng: new Rng(1) });
    const b = mlp([3, 5, 2], { rng: new Rng(2) });
    await saveModule(a, dir, { metadata: { sizes: [3, 5, 2] } });
    // overwrite with the same content, then with new content: one weights file remains
    await saveModule(a, dir, { metadata: { sizes: [3, 5, 2] } });
    const meta = await expectNoLeaks(() => loadModule(b, dir), 'loadModule');
    expect(meta).toEqual({ sizes: [3, 5, 2] });
    expect(params(b)).toEqual(params(a));
    const files = (await readdir(dir)).sort();
    expect(files).toHaveLength(2);
    expect(files[0]).toBe('model.json');
    expect(files[1]).toMatch(/^weights-[0-9a-f]{8}\.bin$/);
    const m = JSON.parse(await readFile(join(dir, 'model.json'), 'utf8'));
    expect(m.weightsManifest[0].weights.map((w: { name: string }) => w.name)).toEqual([
      '0.kernel',
      '0.bias',
      '1.kernel',
      '1.bias',
    ]);
    a.dispose();
    b.dispose();
  });

  it('replacing a state leaves only the new weights file and no temp files', async () => {
    const dir = join(root, 'replace');
    await saveState(dir, { w: tf.tidy(() => tf.ones([3])) }, {});
    const w2 = tf.tensor1d([4, 5, 6]);
    await saveState(dir, { w: w2 });
    const files = await readdir(dir);
    expect(files).toHaveLength(2);
    expect(files.some((f) => f.includes('.tmp'))).toBe(false);
    const { tensors } = await loadState(dir);
    expect(tensors.w).toBeAllclose([4, 5, 6]);
    tf.dispose([w2, tensors.w!]);
  });

  it('truncated or corrupt files give a typed error and leave the module unchanged', async () => {
    const dir = join(root, 'corrupt');
    const a = mlp([2, 3, 1], { rng: new Rng(1) });
    await saveModule(a, dir);
    const b = mlp([2, 3, 1], { rng: new Rng(2) });
    const before = params(b);
    const bin = (await readdir(dir)).find((f) => f.endsWith('.bin'))!;
    await truncate(join(dir, bin), 10);
    const err = await loadModule(b, dir).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CheckpointError);
    expect((err as Error).message).toMatch(/10 bytes, the manifest says 52; the file is truncated/);
    await writeFile(join(dir, 'model.json'), '{"format": "dgmjs-st');
    await expect(loadModule(b, dir)).rejects.toThrow(/model\.json: not valid JSON/);
    await expect(loadModule(b, join(root, 'nowhere'))).rejects.toThrow(
      /nowhere\/model\.json: the manifest .* not found/,
    );
    expect(params(b)).toEqual(before);
    a.dispose();
    b.dispose();
  });

  it('name and shape mismatches list exactly what is wrong', async () => {
    const dir = join(root, 'mismatch');
    const a = mlp([2, 3, 1], { rng: new Rng(1) });
    await saveModule(a, dir);
    const wider = mlp([2, 4, 1], { rng: new Rng(1) });
    const deeper = mlp([2, 3, 3, 1], { rng: new Rng(1) });
    const e1 = (await loadModule(wider, dir).catch((e: unknown) => e)) as StateMismatchError;
    expect(e1).toBeInstanceOf(StateMismatchError);
    expect(e1.missing).toEqual([]);
    expect(e1.unexpected).toEqual([]);
    expect(e1.wrongShape.map((w) => `${w.name} ${w.expected} ${w.got}`)).toEqual([
      '0.kernel 2,4 2,3',
      '0.bias 4 3',
      '1.kernel 4,1 3,1',
    ]);
    expect(e1.message).toContain(`loadModule('${dir}') into Sequential`);
    const e2 = (await loadModule(deeper, dir).catch((e: unknown) => e)) as StateMismatchError;
    expect(e2.missing).toEqual(['2.kernel', '2.bias']);
    expect(e2.wrongShape.map((w) => w.name)).toEqual(['1.kernel', '1.bias']);
    expect(e2.message).toMatch(/missing \(in the module, not in the state\): 2\.kernel, 2\.bias/);
    a.dispose();
    wider.dispose();
    deeper.dispose();
  });
});
