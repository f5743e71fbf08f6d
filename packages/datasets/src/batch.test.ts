import { type Tensor1D, type Tensor2D, tf, ValueError } from '@dgm-js/core-tensors';
import { expectNoLeaks } from '@dgm-js/test-utils';
import { describe, expect, it } from 'vitest';
import { batches, forEachBatch } from './batch.js';
import { type Dataset, type FieldSpec, type FillBuffers, getBatch, toTensors } from './dataset.js';
import { imageDatasetsFromIdx } from './mnist.js';
import { pairedDataset } from './paired.js';
import { encodeIdx, tinyImageSet } from './testing/write-idx.js';
import { toyDataset } from './toy.js';

type RangeFields = {
  readonly id: FieldSpec<readonly [], 'int32'>;
  readonly v: FieldSpec<readonly [3], 'float32'>;
};

/** A dataset whose example i is id = i, v = [i, 2i, 3i]; records the buffers it is given. */
class RangeDataset implements Dataset<RangeFields> {
  readonly fields: RangeFields = {
    id: { shape: [] as const, dtype: 'int32' },
    v: { shape: [3] as const, dtype: 'float32' },
  };
  readonly meta;
  readonly seen: (Float32Array | Int32Array)[] = [];
  constructor(readonly size: number) {
    this.meta = {
      name: 'range',
      split: 'train',
      size,
      binarization: null,
      seed: null,
      source: null,
      params: {},
    };
  }
  fill(indices: ArrayLike<number>, out: FillBuffers<RangeFields>): void {
    if (out.id) this.seen.push(out.id);
    if (out.v) this.seen.push(out.v);
    for (let k = 0; k < indices.length; k++) {
      const i = indices[k]!;
      if (out.id) out.id[k] = i;
      if (out.v) out.v.set([i, 2 * i, 3 * i], 3 * k);
    }
  }
}

function run(ds: Dataset<RangeFields>, opts: Parameters<typeof batches<RangeFields>>[1]) {
  const out: { epoch: number; index: number; ids: number[] }[] = [];
  for (const b of batches(ds, opts)) {
    const ids = Array.from(b.tensors.id.dataSync());
    expect(ids).toEqual(Array.from(b.indices));
    out.push({ epoch: b.epoch, index: b.index, ids });
    b.dispose();
  }
  return out;
}

describe('batches', () => {
  it('visits every example exactly once per epoch, in a seeded shuffled order', () => {
    const ds = new RangeDataset(103);
    const r = run(ds, { batchSize: 10, seed: 1, epochs: 3, fields: ['id'] });
    expect(r.length).toBe(33);
    for (let e = 0; e < 3; e++) {
      const epoch = r.filter((b) => b.epoch === e);
      expect(epoch.map((b) => b.ids.length)).toEqual([10, 10, 10, 10, 10, 10, 10, 10, 10, 10, 3]);
      const all = epoch.flatMap((b) => b.ids);
      expect([...all].sort((a, b) => a - b)).toEqual(Array.from({ length: 103 }, (_, i) => i));
      expect(all).not.toEqual(Array.from({ length: 103 }, (_, i) => i)); // shuffled
    }
    const order = (e: number) => r.filter((b) => b.epoch === e).flatMap((b) => b.ids);
    expect(order(0)).not.toEqual(order(1)); // a new order every epoch
  });

  it('is reproducible from its seed (and differs between seeds)', () => {
    const ds = new RangeDataset(50);
    const a = run(ds, { batchSize: 8, seed: 42, epochs: 2 });
    const b = run(ds, { batchSize: 8, seed: 42, epochs: 2 });
    const c = run(ds, { batchSize: 8, seed: 43, epochs: 2 });
    expect(b).toEqual(a);
    expect(c).not.toEqual(a);
    // iterating the same iterator twice restarts it
    const it = batches(ds, { batchSize: 8, seed: 42, epochs: 2 });
    const sizes = (): number[] =>
      [...it].map((x) => {
        x.dispose();
        return x.size;
      });
    expect(sizes()).toEqual(sizes());
    expect(sizes()).toHaveLength(14);
    // resuming at epoch 1 reproduces epoch 1
    const resumed = run(ds, { batchSize: 8, seed: 42, epochs: 1, startEpoch: 1 });
    expect(resumed).toEqual(a.filter((x) => x.epoch === 1));
    expect(batches(ds, { batchSize: 8, seed: 42 }).epochOrder(1)).toEqual(
      Int32Array.from(a.filter((x) => x.epoch === 1).flatMap((x) => x.ids)),
    );
  });

  it('drops the incomplete last batch with dropLast; serves in order without shuffle', () => {
    const ds = new RangeDataset(25);
    const r = run(ds, { batchSize: 10, dropLast: true, epochs: 2 });
    expect(r.map((b) => b.ids.length)).toEqual([10, 10, 10, 10]);
    expect(batches(ds, { batchSize: 10, dropLast: true, epochs: 2 }).length).toBe(4);
    const ordered = run(ds, { batchSize: 10, shuffle: false });
    expect(ordered.flatMap((b) => b.ids)).toEqual(Array.from({ length: 25 }, (_, i) => i));
    expect(run(ds, { batchSize: 30, dropLast: true })).toEqual([]);
    expect(run(new RangeDataset(0), { batchSize: 4 })).toEqual([]);
  });

  it('makes typed tensors of the requested fields', () => {
    const ds = new RangeDataset(7);
    for (const b of batches(ds, { batchSize: 4, seed: 0 })) {
      const id: Tensor1D = b.tensors.id;
      const v: Tensor2D = b.tensors.v;
      expect(id.dtype).toBe('int32');
      expect(v.shape).toEqual([b.size, 3]);
      expect(v.arraySync()).toEqual(Array.from(b.indices, (i) => [i, 2 * i, 3 * i]));
      b.dispose();
    }
    for (const b of batches(ds, { batchSize: 4, fields: ['v'] })) {
      expect(Object.keys(b.tensors)).toEqual(['v']);
      b.dispose();
    }
  });

  it('reuses its JS buffers: one allocation per field for the whole run', () => {
    const ds = new RangeDataset(100);
    run(ds, { batchSize: 10, epochs: 3 });
    expect(ds.seen.length).toBe(60);
    expect(new Set(ds.seen).size).toBe(2);
  });

  for (const backend of ['wasm', 'cpu'] as const) {
    it(`a batch kept alive is not overwritten by the next one (${backend} backend)`, async () => {
      const prev = tf.getBackend();
      await tf.setBackend(backend);
      try {
        const ds = new RangeDataset(40);
        const kept: { ids: number[]; t: Tensor2D }[] = [];
        for (const b of batches(ds, { batchSize: 8, seed: 3 })) {
          kept.push({ ids: Array.from(b.indices), t: b.tensors.v });
          b.tensors.id.dispose();
        }
        for (const { ids, t } of kept) {
          expect(t.arraySync()).toEqual(ids.map((i) => [i, 2 * i, 3 * i]));
          t.dispose();
        }
      } finally {
        await tf.setBackend(prev);
      }
    });
  }

  it('is leak-free: dispose() and forEachBatch free everything, even when the callback throws', async () => {
    const ds = toyDataset('8gaussians', { size: 300, seed: 0 });
    await expectNoLeaks(() => {
      for (const b of batches(ds, { batchSize: 64, seed: 0, epochs: 2 })) b.dispose();
    }, 'batches + dispose');
    await expectNoLeaks(async () => {
      const n = await forEachBatch(
        ds,
        { batchSize: 64, seed: 0, epochs: 2 },
        async ({ tensors }) => {
          await tensors.x.data();
        },
      );
      expect(n).toBe(10);
    }, 'forEachBatch');
    await expectNoLeaks(async () => {
      await expect(
        forEachBatch(ds, { batchSize: 64 }, () => {
          throw new Error('boom');
        }),
      ).rejects.toThrow('boom');
    }, 'forEachBatch throwing');
  });

  it('passes the epoch to the dataset: dynamic binarization changes per epoch, reproducibly', async () => {
    const tiny = tinyImageSet(20, 4);
    const { train } = imageDatasetsFromIdx(
      {
        trainImages: encodeIdx('uint8', [20, 6, 5], tiny.trainImages),
        trainLabels: encodeIdx('uint8', [20], tiny.trainLabels),
        testImages: encodeIdx('uint8', [4, 6, 5], tiny.testImages),
        testLabels: encodeIdx('uint8', [4], tiny.testLabels),
      },
      { name: 'tiny', binarization: 'dynamic', seed: 5, flat: true },
    );
    const epochs: number[][][] = [[], []];
    await forEachBatch(
      train,
      { batchSize: 5, shuffle: false, epochs: 2, fields: ['x'] },
      ({ tensors, epoch }) => {
        const x: Tensor2D = tensors.x;
        epochs[epoch]!.push(...(x.arraySync() as number[][]));
      },
    );
    expect(epochs[0]![3]).toEqual(Array.from(train.image(3, 0)));
    expect(epochs[1]![3]).toEqual(Array.from(train.image(3, 1)));
    expect(epochs[0]).not.toEqual(epochs[1]);
    const paired = pairedDataset(train, { labelMissing: 0.5, seed: 1 });
    await expectNoLeaks(
      () => forEachBatch(paired, { batchSize: 6, seed: 2 }, () => {}),
      'paired batches',
    );
  });

  it('rejects bad options with typed errors', () => {
    const ds = new RangeDataset(10);
    expect(() => batches(ds, { batchSize: 0 })).toThrow(ValueError);
    expect(() => batches(ds, { batchSize: 2.5 })).toThrow(/batchSize must be an integer >= 1/);
    expect(() => batches(ds, { batchSize: 2, epochs: -1 })).toThrow(/epochs/);
    expect(() => batches(ds, { batchSize: 2, seed: 0.1 })).toThrow(/seed/);
    expect(() => batches(ds, { batchSize: 2, fields: ['nope' as 'id'] })).toThrow(
      /unknown field 'nope'.*id, v/,
    );
    expect(() => batches(ds, { batchSize: 2, fields: [] })).toThrow(/fields is empty/);
    expect(batches(ds, { batchSize: 3, epochs: Number.POSITIVE_INFINITY }).length).toBe(
      Number.POSITIVE_INFINITY,
    );
  });
});

describe('getBatch / toTensors', () => {
  it('returns fresh tensors of chosen examples and checks indices', () => {
    const ds = new RangeDataset(6);
    const { v } = getBatch(ds, [5, 0], { fields: ['v'] });
    expect(v.arraySync()).toEqual([
      [5, 10, 15],
      [0, 0, 0],
    ]);
    v.dispose();
    const all = toTensors(ds);
    expect(Array.from(all.id.dataSync())).toEqual([0, 1, 2, 3, 4, 5]);
    tf.dispose([all.id, all.v]);
    expect(() => getBatch(ds, [6])).toThrow(/indices\[0\] = 6 is not an integer in \[0, 6\)/);
    expect(() => getBatch(ds, [1.5])).toThrow(ValueError);
  });
});
