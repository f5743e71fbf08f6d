import { logSumExp, MaskedConv2d, Rng, ShapeError, tf, ValueError } from '@dgm-js/core-tensors';
import { checkGradient, expectNoLeaks } from '@dgm-js/test-utils';
import { describe, expect, it } from 'vitest';
import { nllObjective } from './objective.js';
import type { PixelModel } from './pixel-model.js';
import { GatedPixelCNN, PixelCNN } from './pixelcnn.js';
import {
  allCategorical,
  chi2Critical001,
  chiSquare,
  countIndices,
  indexOf,
} from './test-helpers.js';

/**
 * Dependency map of a pixel model: for output pixel (i, j) (channel `oc`), which input pixel
 * channels have a nonzero gradient (autodiff), over a small batch of random images.
 */
function pixelDeps(model: PixelModel, x: tf.Tensor4D, i: number, j: number, oc = 0): boolean[][][] {
  const [, H, W, C] = x.shape;
  const k = model.paramsPerChannel;
  const g = tf.tidy(() =>
    tf.grad((xi: tf.Tensor) => {
      const out = model.logits(xi);
      const o =
        k === 1
          ? tf.slice(out, [0, i, j, oc], [-1, 1, 1, 1])
          : tf.slice(out, [0, i, j, oc, 0], [-1, 1, 1, 1, -1]);
      return tf.sum(o);
    })(x),
  );
  const v = g.dataSync();
  g.dispose();
  const deps = Array.from({ length: H }, () =>
    Array.from({ length: W }, () => new Array<boolean>(C).fill(false)),
  );
  for (let q = 0; q < v.length; q++) {
    if (v[q] !== 0) {
      const c = q % C;
      const jj = Math.floor(q / C) % W;
      const ii = Math.floor(q / (C * W)) % H;
      deps[ii]![jj]![c] = true;
    }
  }
  return deps;
}

/** Real-valued random inputs in [0, 1] make every path active (the network takes any values). */
function randomImages(b: number, h: number, w: number, c: number, seed: number): tf.Tensor4D {
  return tf.randomUniform([b, h, w, c], 0, 1, 'float32', seed) as tf.Tensor4D;
}

describe('masked convolutions (the two PixelCNN mask types)', () => {
  it("type 'A' excludes the centre pixel, type 'B' includes it; neither sees later pixels", () => {
    const x = randomImages(2, 5, 5, 1, 1);
    for (const maskType of ['A', 'B'] as const) {
      const conv = new MaskedConv2d(1, 3, 3, { rng: new Rng(1), maskType });
      const g = tf.tidy(() =>
        tf.grad((xi: tf.Tensor) => tf.sum(tf.slice(conv.apply(xi), [0, 2, 2, 0], [-1, 1, 1, -1])))(
          x,
        ),
      );
      const v = g.dataSync();
      for (let p = 0; p < 25; p++) {
        const [ii, jj] = [Math.floor(p / 5), p % 5];
        const before = ii * 5 + jj < 12;
        const inWindow = Math.abs(ii - 2) <= 1 && Math.abs(jj - 2) <= 1;
        const expected = inWindow && (before || (p === 12 && maskType === 'B'));
        expect(v[p] !== 0, `${maskType} at (${ii}, ${jj})`).toBe(expected);
      }
      g.dispose();
      conv.dispose();
    }
    x.dispose();
  });
});

describe('PixelCNN autoregressive property (autodiff)', () => {
  const H = 5;
  const W = 5;

  function checkStrict(model: PixelModel, x: tf.Tensor4D, expectAllBefore: boolean): number {
    let missing = 0;
    for (let i = 0; i < H; i++) {
      for (let j = 0; j < W; j++) {
        const deps = pixelDeps(model, x, i, j);
        for (let ii = 0; ii < H; ii++) {
          for (let jj = 0; jj < W; jj++) {
            const before = ii * W + jj < i * W + j;
            if (!before)
              expect(deps[ii]![jj]![0], `(${i}, ${j}) must not see (${ii}, ${jj})`).toBe(false);
            else if (!deps[ii]![jj]![0]) {
              missing++;
              if (expectAllBefore)
                expect.fail(`(${i}, ${j}) should see (${ii}, ${jj}) (blind spot)`);
            }
          }
        }
      }
    }
    return missing;
  }

  it('PixelCNN (mask A then residual blocks of mask B): output (i, j) never sees (i, j) or later pixels', () => {
    const model = new PixelCNN({
      height: H,
      width: W,
      hiddenChannels: 4,
      numLayers: 3,
      firstKernelSize: 5,
      validate: false,
      rng: new Rng(1),
    });
    const x = randomImages(3, H, W, 1, 2);
    const missing = checkStrict(model, x, false);
    // the classic blind spot: some earlier pixels inside the nominal reach are never seen
    expect(missing).toBeGreaterThan(0);
    x.dispose();
    model.dispose();
  });

  it('Gated PixelCNN: strictly causal and no blind spot (every earlier pixel is seen)', () => {
    const model = new GatedPixelCNN({
      height: H,
      width: W,
      hiddenChannels: 4,
      numLayers: 3,
      firstKernelSize: 5,
      validate: false,
      rng: new Rng(2),
    });
    expect(model.receptiveReach().right).toBeGreaterThanOrEqual(W - 1);
    const x = randomImages(3, H, W, 1, 3);
    expect(checkStrict(model, x, true)).toBe(0);
    x.dispose();
    model.dispose();
  });

  it('conditioned Gated PixelCNN (vector and feature map) stays causal in x', () => {
    for (const conditioning of [
      { type: 'vector', dim: 3 },
      { type: 'map', channels: 2 },
    ] as const) {
      const model = new GatedPixelCNN({
        height: 4,
        width: 4,
        hiddenChannels: 4,
        numLayers: 2,
        firstKernelSize: 3,
        conditioning,
        validate: false,
        rng: new Rng(3),
      });
      const x = randomImages(2, 4, 4, 1, 4);
      const c =
        conditioning.type === 'vector' ? tf.randomNormal([2, 3]) : tf.randomNormal([2, 4, 4, 2]);
      for (const [i, j] of [
        [0, 0],
        [1, 2],
        [3, 3],
      ] as const) {
        const g = tf.tidy(() =>
          tf.grad((xi: tf.Tensor) =>
            tf.sum(tf.slice(model.logits(xi, c), [0, i, j, 0], [-1, 1, 1, 1])),
          )(x),
        );
        const v = g.dataSync();
        for (let p = 0; p < 16; p++)
          if (p >= i * 4 + j) expect(v[p] === 0 && v[16 + p] === 0).toBe(true);
        g.dispose();
      }
      tf.dispose([x, c]);
      model.dispose();
    }
  });

  it('multi-channel PixelCNN: channel c of a pixel sees channels < c of that pixel, not >= c', () => {
    const model = new PixelCNN({
      height: 3,
      width: 3,
      channels: 3,
      levels: 4,
      hiddenChannels: 6,
      numLayers: 1,
      firstKernelSize: 3,
      validate: false,
      rng: new Rng(4),
    });
    const x = randomImages(2, 3, 3, 3, 5);
    for (let oc = 0; oc < 3; oc++) {
      const deps = pixelDeps(model, x, 1, 1, oc);
      for (let ic = 0; ic < 3; ic++) expect(deps[1]![1]![ic], `out ${oc} in ${ic}`).toBe(ic < oc);
      expect(deps[1]![2]!.some(Boolean)).toBe(false);
      expect(deps[0]![1]!.every(Boolean)).toBe(true);
    }
    x.dispose();
    model.dispose();
  });
});

describe('Gated PixelCNN gradients (one-sided padded and shifted convolutions)', () => {
  it('on wasm (dgm.js conv kernels) equal the cpu backend stock kernels, for input and every weight', async () => {
    const run = () => {
      const m = new GatedPixelCNN({
        height: 4,
        width: 5,
        hiddenChannels: 3,
        numLayers: 1,
        firstKernelSize: 3,
        conditioning: { type: 'vector', dim: 2 },
        validate: false,
        rng: new Rng(3),
      });
      let out: { gx: number[]; gw: (readonly [string, number[]])[] } = { gx: [], gw: [] };
      tf.tidy(() => {
        const x = randomImages(2, 4, 5, 1, 7);
        const c = tf.randomNormal([2, 2], 0, 1, 'float32', 9);
        const wts = tf.randomNormal([2, 4, 5, 1], 0, 1, 'float32', 8);
        const f = (xi: tf.Tensor) => tf.sum(tf.mul(m.logits(xi, c), wts)) as tf.Scalar;
        const gx = Array.from(tf.grad(f)(x).dataSync());
        const { grads } = tf.variableGrads(() => f(x), m.trainableParameters());
        const gw = m
          .namedParameters()
          .map(([n, v]) => [n, Array.from(grads[v.name]!.dataSync())] as const);
        out = { gx, gw };
      });
      m.dispose();
      return out;
    };
    const backend = tf.getBackend();
    const ours = run();
    await tf.setBackend('cpu');
    let ref: ReturnType<typeof run>;
    try {
      ref = run();
    } finally {
      await tf.setBackend(backend);
    }
    expect(ours.gx).toBeAllclose(ref.gx, { rtol: 1e-4, atol: 1e-6 });
    expect(ours.gw.length).toBe(ref.gw.length);
    ours.gw.forEach(([n, g], i) => {
      expect(ref.gw[i]![0]).toBe(n);
      expect(g, n).toBeAllclose(ref.gw[i]![1], { rtol: 1e-4, atol: 1e-6 });
    });
  });

  it('match central finite differences for the input (smooth part of the network)', () => {
    const m = new GatedPixelCNN({
      height: 3,
      width: 4,
      hiddenChannels: 3,
      numLayers: 1,
      firstKernelSize: 3,
      validate: false,
      rng: new Rng(4),
    });
    const x = randomImages(1, 3, 4, 1, 5);
    // the logits are piecewise smooth (ReLUs in the head); a tiny input makes no ReLU flip
    const r = checkGradient((xi) => tf.sum(tf.square(m.logits(xi))), x, {
      eps: 1e-3,
      rtol: 2e-2,
      atol: 2e-3,
    });
    expect(r.pass, r.message).toBe(true);
    x.dispose();
    m.dispose();
  });
});

describe('PixelCNN normalisation (exact enumeration)', () => {
  it('binary 2x4 images (256 of them): sum p = 1 for PixelCNN, Gated and a conditional Gated', () => {
    const xs = tf.reshape(allCategorical(8, 2), [256, 2, 4, 1]);
    const models: [PixelModel, tf.Tensor | undefined][] = [
      [
        new PixelCNN({
          height: 2,
          width: 4,
          hiddenChannels: 4,
          numLayers: 2,
          firstKernelSize: 3,
          rng: new Rng(1),
        }),
        undefined,
      ],
      [
        new GatedPixelCNN({
          height: 2,
          width: 4,
          hiddenChannels: 4,
          numLayers: 2,
          firstKernelSize: 3,
          rng: new Rng(2),
        }),
        undefined,
      ],
      [
        new GatedPixelCNN({
          height: 2,
          width: 4,
          hiddenChannels: 4,
          numLayers: 1,
          firstKernelSize: 3,
          conditioning: { type: 'vector', dim: 2 },
          rng: new Rng(3),
        }),
        tf.tensor2d([[1, -2]]),
      ],
    ];
    for (const [m, c] of models) {
      const total = tf.tidy(() => logSumExp(m.logProb(xs, c), 0));
      expect(total).toBeAllclose(0, { rtol: 0, atol: 1e-5 });
      tf.dispose([total, c ?? []]);
      m.dispose();
    }
    xs.dispose();
  });

  it('categorical pixels: 4 levels on a 1x3 image, and 3 levels x 2 channels on 1x2', () => {
    const a = new GatedPixelCNN({
      height: 1,
      width: 3,
      levels: 4,
      hiddenChannels: 4,
      numLayers: 1,
      firstKernelSize: 3,
      rng: new Rng(5),
    });
    const xa = tf.reshape(allCategorical(3, 4), [64, 1, 3, 1]);
    const ta = tf.tidy(() => logSumExp(a.logProb(xa), 0));
    expect(ta).toBeAllclose(0, { rtol: 0, atol: 1e-5 });
    const b = new PixelCNN({
      height: 1,
      width: 2,
      channels: 2,
      levels: 3,
      hiddenChannels: 4,
      numLayers: 1,
      firstKernelSize: 3,
      rng: new Rng(6),
    });
    const xb = tf.reshape(allCategorical(4, 3), [81, 1, 2, 2]);
    const tb = tf.tidy(() => logSumExp(b.logProb(xb), 0));
    expect(tb).toBeAllclose(0, { rtol: 0, atol: 1e-5 });
    tf.dispose([xa, ta, xb, tb]);
    a.dispose();
    b.dispose();
  });

  it('256-way pixels: sum over all 65536 two-pixel images is 1', () => {
    const m = new GatedPixelCNN({
      height: 1,
      width: 2,
      levels: 256,
      hiddenChannels: 4,
      numLayers: 1,
      firstKernelSize: 3,
      rng: new Rng(6),
    });
    const parts: tf.Tensor[] = [];
    for (let first = 0; first < 256; first += 32) {
      parts.push(
        tf.tidy(() => {
          // images (a, b) for a in [first, first + 32), every b
          const a = tf.add(tf.floorDiv(tf.range(0, 32 * 256, 1, 'int32'), 256), first);
          const b = tf.mod(tf.range(0, 32 * 256, 1, 'int32'), 256);
          const x = tf.reshape(tf.stack([a, b], 1), [32 * 256, 1, 2, 1]);
          return logSumExp(m.logProb(x), 0);
        }),
      );
    }
    const total = tf.tidy(() => logSumExp(tf.stack(parts), 0));
    expect(total).toBeAllclose(0, { rtol: 0, atol: 1e-4 });
    tf.dispose([...parts, total]);
    m.dispose();
  });
});

describe('PixelCNN sampling', () => {
  it('binary 2x2 samples follow exp(logProb) (chi-square, 20000 draws), Gated and residual', () => {
    for (const m of [
      new GatedPixelCNN({
        height: 2,
        width: 2,
        hiddenChannels: 4,
        numLayers: 1,
        firstKernelSize: 3,
        rng: new Rng(7),
      }),
      new PixelCNN({
        height: 2,
        width: 2,
        hiddenChannels: 4,
        numLayers: 1,
        firstKernelSize: 3,
        rng: new Rng(8),
      }),
    ]) {
      const probs = tf
        .tidy(() => tf.exp(m.logProb(tf.reshape(allCategorical(4, 2), [16, 2, 2, 1]))))
        .dataSync();
      let last = 0;
      const s = m.sample({
        sampleShape: [20000],
        rng: new Rng(9),
        onProgress: (p) => {
          last = p.done;
        },
      });
      expect(last).toBe(4);
      const { stat, df } = chiSquare(countIndices(indexOf(s.dataSync(), 4, 2), 16), probs);
      expect(stat).toBeLessThan(chi2Critical001(df));
      s.dispose();
      m.dispose();
    }
  });

  it('3-level, 2-channel samples follow exp(logProb) (chi-square over 81 outcomes)', () => {
    const m = new PixelCNN({
      height: 1,
      width: 2,
      channels: 2,
      levels: 3,
      hiddenChannels: 4,
      numLayers: 1,
      firstKernelSize: 3,
      rng: new Rng(10),
    });
    const probs = tf
      .tidy(() => tf.exp(m.logProb(tf.reshape(allCategorical(4, 3), [81, 1, 2, 2]))))
      .dataSync();
    const s = m.sample({ sampleShape: [20000], rng: new Rng(11) });
    expect(s.dtype).toBe('int32');
    const { stat, df } = chiSquare(countIndices(indexOf(s.dataSync(), 4, 3), 81), probs);
    expect(stat).toBeLessThan(chi2Critical001(df));
    s.dispose();
    m.dispose();
  });

  it('the receptive-field window gives the same samples as full-image passes', () => {
    for (const m of [
      new GatedPixelCNN({
        height: 9,
        width: 8,
        hiddenChannels: 4,
        numLayers: 2,
        firstKernelSize: 3,
        conditioning: { type: 'map', channels: 1 },
        rng: new Rng(12),
      }),
      new PixelCNN({
        height: 9,
        width: 8,
        hiddenChannels: 4,
        numLayers: 1,
        firstKernelSize: 3,
        conditioning: { type: 'map', channels: 1 },
        rng: new Rng(13),
      }),
    ]) {
      expect(m.receptiveReach().up).toBeLessThan(8);
      const c = tf.randomNormal([4, 9, 8, 1], 0, 1, 'float32', 3);
      const a = m.sample({ rng: new Rng(14), context: c }); // one image per context row
      m.windowedSampling = false;
      const b = m.sample({ rng: new Rng(14), context: c });
      expect(a).toBeAllclose(b, { rtol: 0, atol: 0 });
      tf.dispose([a, b, c]);
      m.dispose();
    }
  });
});

describe('PixelCNN leaks and errors', () => {
  it('logProb, logits, sample, sampleAsync and a training step leak nothing', async () => {
    for (const m of [
      new GatedPixelCNN({
        height: 4,
        width: 4,
        hiddenChannels: 4,
        numLayers: 1,
        firstKernelSize: 3,
        conditioning: { type: 'vector', dim: 2 },
        rng: new Rng(1),
      }),
      new PixelCNN({
        height: 4,
        width: 4,
        levels: 4,
        hiddenChannels: 4,
        numLayers: 1,
        firstKernelSize: 3,
        conditioning: { type: 'vector', dim: 2 },
        rng: new Rng(2),
      }),
    ]) {
      const x = tf.tidy(() =>
        tf.cast(
          tf.greater(tf.randomUniform([2, 4, 4, 1], 0, m.levels, 'float32', 1), 1),
          'float32',
        ),
      );
      const flat = tf.reshape(x, [2, 16]);
      const c = tf.ones([2, 2]);
      await expectNoLeaks(() => m.logProb(x, c).dispose(), 'logProb');
      await expectNoLeaks(() => m.logProb(flat, c).dispose(), 'logProb (flat)');
      await expectNoLeaks(() => m.logits(x, c).dispose(), 'logits');
      await expectNoLeaks(() => m.sample({ rng: new Rng(0), context: c }).dispose(), 'sample');
      await expectNoLeaks(
        async () => (await m.sampleAsync({ rng: new Rng(0), context: c })).dispose(),
        'sampleAsync',
      );
      const opt = tf.train.adam(1e-3);
      const obj = nllObjective(m);
      const step = () =>
        opt.minimize(
          () =>
            obj.loss({ x, context: c }, { step: 0, epoch: 0, batchIndex: 0, rng: new Rng(0) })
              .loss as tf.Scalar,
        );
      step();
      await expectNoLeaks(step, 'training step');
      opt.dispose();
      tf.dispose([x, flat, c]);
      m.dispose();
    }
  });

  it('typed errors name the bad shapes, values and options', () => {
    const m = new GatedPixelCNN({
      height: 4,
      width: 4,
      hiddenChannels: 4,
      numLayers: 1,
      firstKernelSize: 3,
      rng: new Rng(1),
    });
    expect(() => m.logProb(tf.zeros([2, 4, 5, 1]))).toThrow(ShapeError);
    expect(() => m.logProb(tf.zeros([2, 4, 5, 1]))).toThrow(/\[batch, 4, 4, 1\].*\[2, 4, 5, 1\]/);
    expect(() => m.logProb(tf.zeros([2, 1, 4, 4]))).toThrow(/NCHW/);
    expect(() => m.logProb(tf.zeros([2, 4, 4]))).toThrow(/expandDims/);
    expect(() => m.logProb(tf.fill([1, 4, 4, 1], 0.5))).toThrow(ValueError);
    expect(() => m.logProb(tf.zeros([1, 4, 4, 1]), tf.zeros([1, 2]))).toThrow(/unconditional/);
    expect(() => m.sample({ sampleShape: [1.5], rng: new Rng(0) })).toThrow(/positive integer/);
    m.dispose();
    const cond = new PixelCNN({
      height: 4,
      width: 4,
      hiddenChannels: 4,
      numLayers: 0,
      firstKernelSize: 3,
      conditioning: { type: 'map', channels: 2 },
      rng: new Rng(1),
    });
    expect(() => cond.logProb(tf.zeros([1, 4, 4, 1]))).toThrow(/conditional/);
    expect(() => cond.logProb(tf.zeros([1, 4, 4, 1]), tf.zeros([1, 4, 4, 3]))).toThrow(ShapeError);
    const lv = new PixelCNN({
      height: 2,
      width: 2,
      levels: 256,
      hiddenChannels: 4,
      numLayers: 0,
      firstKernelSize: 3,
      rng: new Rng(1),
    });
    expect(() => lv.logProb(tf.fill([1, 2, 2, 1], 256))).toThrow(/\[0, 255\], got 256/);
    lv.dispose();
    cond.dispose();
    expect(
      () => new PixelCNN({ height: 4, width: 4, firstKernelSize: 4, rng: new Rng(0) }),
    ).toThrow(/odd/);
    expect(() => new PixelCNN({ height: 4, width: 4, levels: 1, rng: new Rng(0) })).toThrow(
      /levels/,
    );
    expect(() => new GatedPixelCNN({ height: 4, width: 4, channels: 3, rng: new Rng(0) })).toThrow(
      /one image channel/,
    );
    expect(
      () => new PixelCNN({ height: 4, width: 4, channels: 3, hiddenChannels: 4, rng: new Rng(0) }),
    ).toThrow(/multiples of 3/);
  });
});
