import { checkGradient, expectNoLeaks } from '@dgm-js/test-utils';
import { describe, expect, it } from 'vitest';
import { ShapeError, ValueError } from '../errors.js';
import { Rng } from '../rng.js';
import { tf } from '../tf.js';
import { Conv2d, type Conv2dPadding, MaskedConv2d, pixelcnnMask } from './conv.js';
import { Sequential } from './layers.js';

/** Cross-correlation by direct loops (float64), NHWC input, [kh, kw, in, out] kernel. */
function convRef(
  x: Float32Array,
  [n, h, w, c]: number[],
  k: Float32Array,
  [kh, kw, , co]: number[],
  b: Float32Array | undefined,
  [sh, sw]: [number, number],
  padding: Conv2dPadding,
): { y: number[]; shape: number[] } {
  let oh: number;
  let ow: number;
  let top: number;
  let left: number;
  if (padding === 'same') {
    oh = Math.ceil(h! / sh);
    ow = Math.ceil(w! / sw);
    top = Math.floor(Math.max((oh - 1) * sh + kh! - h!, 0) / 2);
    left = Math.floor(Math.max((ow - 1) * sw + kw! - w!, 0) / 2);
  } else {
    const [pr, pc] =
      padding === 'valid' ? [0, 0] : typeof padding === 'number' ? [padding, padding] : padding;
    oh = Math.floor((h! + 2 * pr - kh!) / sh) + 1;
    ow = Math.floor((w! + 2 * pc - kw!) / sw) + 1;
    top = pr;
    left = pc;
  }
  const y: number[] = [];
  for (let b0 = 0; b0 < n!; b0++) {
    for (let i = 0; i < oh; i++) {
      for (let j = 0; j < ow; j++) {
        for (let o = 0; o < co!; o++) {
          let s = b ? b[o]! : 0;
          for (let di = 0; di < kh!; di++) {
            for (let dj = 0; dj < kw!; dj++) {
              const r = i * sh + di - top;
              const q = j * sw + dj - left;
              if (r < 0 || r >= h! || q < 0 || q >= w!) continue;
              for (let ci = 0; ci < c!; ci++) {
                s +=
                  x[((b0 * h! + r) * w! + q) * c! + ci]! *
                  k[((di * kw! + dj) * c! + ci) * co! + o]!;
              }
            }
          }
          y.push(s);
        }
      }
    }
  }
  return { y, shape: [n!, oh, ow, co!] };
}

describe('Conv2d', () => {
  const cases: { stride: [number, number]; padding: Conv2dPadding; k: [number, number] }[] = [
    { stride: [1, 1], padding: 'same', k: [3, 3] },
    { stride: [2, 2], padding: 'same', k: [3, 3] },
    { stride: [2, 1], padding: 'valid', k: [3, 2] },
    { stride: [1, 2], padding: 1, k: [3, 3] },
    { stride: [1, 1], padding: [2, 0], k: [5, 1] },
  ];
  for (const { stride, padding, k } of cases) {
    it(`matches a direct loop: kernel ${k}, stride ${stride}, padding ${JSON.stringify(padding)}`, () => {
      const conv = new Conv2d(3, 4, k, { rng: new Rng(1), stride, padding, biasInit: 'ones' });
      const xShape = [2, 5, 6, 3];
      const x = tf.randomNormal(xShape, 0, 1, 'float32', 7);
      const y = conv.apply(x);
      const ref = convRef(
        x.dataSync() as Float32Array,
        xShape,
        conv.kernel.dataSync() as Float32Array,
        conv.kernel.shape,
        conv.bias!.dataSync() as Float32Array,
        stride,
        padding,
      );
      expect(y.shape).toEqual(ref.shape);
      expect(conv.outputShape(xShape)).toEqual(ref.shape);
      expect(Array.from(y.dataSync())).toBeAllclose(ref.y, { rtol: 1e-4, atol: 1e-5 });
      tf.dispose([x, y]);
      conv.dispose();
    });
  }

  it('has correct gradients with respect to kernel and input (finite differences)', () => {
    for (const padding of ['same', 'valid', 1] as Conv2dPadding[]) {
      const conv = new Conv2d(2, 3, 3, { rng: new Rng(2), stride: 2, padding });
      const x = tf.randomNormal([1, 5, 5, 2], 0, 1, 'float32', 3);
      const wOut = tf.randomNormal(conv.outputShape(x.shape), 0, 1, 'float32', 4);
      // the layer's kernel gradient (through apply) against central differences
      const { value, grads } = tf.variableGrads(
        () => tf.sum(tf.mul(conv.apply(x), wOut)) as tf.Scalar,
        [conv.kernel],
      );
      const analytic = Array.from(grads[conv.kernel.name]!.dataSync());
      tf.dispose([value, grads[conv.kernel.name]!]);
      const k0 = Array.from(conv.kernel.dataSync());
      const at = (i: number, d: number) =>
        tf.tidy(() => {
          const k = k0.slice();
          k[i] = k[i]! + d;
          conv.kernel.assign(tf.tensor(k, conv.kernel.shape));
          return tf.sum(tf.mul(conv.apply(x), wOut)).dataSync()[0]!;
        });
      const numeric = k0.map((_, i) => (at(i, 1e-2) - at(i, -1e-2)) / 2e-2);
      conv.kernel.assign(tf.tensor(k0, conv.kernel.shape));
      expect(analytic, `kernel gradient, padding ${padding}`).toBeAllclose(numeric, {
        rtol: 2e-2,
        atol: 2e-3,
      });
      const byInput = checkGradient((xi) => tf.sum(tf.mul(conv.apply(xi), wOut)), x);
      expect(byInput.pass, `input, padding ${padding}: ${byInput.message}`).toBe(true);
      tf.dispose([x, wOut]);
      conv.dispose();
    }
  });

  it('names the layer and the shapes on bad input, with an NCHW hint', () => {
    const net = new Sequential([
      new Conv2d(1, 4, 3, { rng: new Rng(0) }),
      new Conv2d(4, 2, 3, { rng: new Rng(0) }),
    ]);
    const nchw = tf.zeros([2, 1, 8, 8]);
    expect(() => net.apply(nchw)).toThrow(ShapeError);
    expect(() => net.apply(nchw)).toThrow(
      "Conv2d '0': expected input [batch, height, width, 1] (NHWC), got [2, 1, 8, 8]. It looks like NCHW",
    );
    const tiny = tf.zeros([1, 2, 2, 1]);
    const valid = new Conv2d(1, 1, 3, { rng: new Rng(0), padding: 'valid' });
    expect(() => valid.apply(tiny)).toThrow(/smaller than the kernel/);
    tf.dispose([nchw, tiny]);
    net.dispose();
    valid.dispose();
    expect(() => new Conv2d(1, 1, 3, { rng: new Rng(0), stride: 0 })).toThrow(ValueError);
  });

  it('apply leaks nothing, also under a gradient tape', async () => {
    const rng = new Rng(0);
    const mods = [
      new Conv2d(2, 3, 3, { rng, activation: 'relu' }),
      new MaskedConv2d(2, 3, 5, { rng, maskType: 'A' }),
    ];
    const x = tf.randomNormal([2, 6, 6, 2], 0, 1, 'float32', 1);
    for (const m of mods) {
      await expectNoLeaks(() => m.apply(x).dispose(), `${m.kind}.apply`);
      await expectNoLeaks(() => {
        const { value, grads } = tf.variableGrads(
          () => tf.sum(m.apply(x)) as tf.Scalar,
          m.parameters(),
        );
        tf.dispose([value, ...Object.values(grads)]);
      }, `${m.kind} gradient`);
      m.dispose();
    }
    x.dispose();
  });
});

describe('pixelcnnMask', () => {
  it('gives the spatial masks of types A and B', () => {
    expect(Array.from(pixelcnnMask(3, 3, 1, 1, 'A'))).toEqual([1, 1, 1, 1, 0, 0, 0, 0, 0]);
    expect(Array.from(pixelcnnMask(3, 3, 1, 1, 'B'))).toEqual([1, 1, 1, 1, 1, 0, 0, 0, 0]);
    expect(Array.from(pixelcnnMask(1, 3, 1, 1, 'A'))).toEqual([1, 0, 0]);
  });

  it('orders channel groups at the centre pixel', () => {
    // 3 input channels (R, G, B), 3 output channels, centre of a 1x1 kernel
    const a = Array.from(pixelcnnMask(1, 1, 3, 3, 'A', 3));
    const b = Array.from(pixelcnnMask(1, 1, 3, 3, 'B', 3));
    // rows = input channel, columns = output channel
    expect(a).toEqual([0, 1, 1, 0, 0, 1, 0, 0, 0]);
    expect(b).toEqual([1, 1, 1, 0, 1, 1, 0, 0, 1]);
    expect(() => pixelcnnMask(2, 3, 1, 1, 'A')).toThrow(/must be odd/);
    expect(() => pixelcnnMask(3, 3, 4, 3, 'B', 3)).toThrow(/multiples of channelGroups/);
    expect(() => pixelcnnMask(3, 3, 1, 1, 'C' as 'A')).toThrow(ValueError);
  });
});

/**
 * For each output pixel p of `f` on an [1, H, W, C] input, the set of input pixels with a
 * nonzero gradient of sum(f(x)[0, p, :]) (any channel).
 */
function dependencies(
  f: (x: tf.Tensor) => tf.Tensor,
  h: number,
  w: number,
  c: number,
): boolean[][] {
  const x = tf.randomNormal([1, h, w, c], 0, 1, 'float32', 11);
  const out: boolean[][] = [];
  for (let p = 0; p < h * w; p++) {
    const g = tf.tidy(() =>
      tf.grad((xi: tf.Tensor) => {
        const y = f(xi);
        const sel = tf.reshape(tf.oneHot(tf.tensor1d([p], 'int32'), h * w), [1, h, w, 1]);
        return tf.sum(tf.mul(y, sel));
      })(x),
    );
    const gv = g.dataSync();
    const row: boolean[] = [];
    for (let q = 0; q < h * w; q++) {
      let nz = false;
      for (let ci = 0; ci < c; ci++) if (gv[q * c + ci] !== 0) nz = true;
      row.push(nz);
    }
    out.push(row);
    g.dispose();
  }
  x.dispose();
  return out;
}

describe('MaskedConv2d: autoregressive property', () => {
  it('type A: output i has exactly zero gradient w.r.t. inputs j >= i (raster order)', () => {
    const layer = new MaskedConv2d(2, 3, 3, { rng: new Rng(5), maskType: 'A' });
    const dep = dependencies((x) => layer.apply(x), 4, 5, 2);
    for (let i = 0; i < 20; i++)
      for (let j = i; j < 20; j++) expect(dep[i]![j], `${i} <- ${j}`).toBe(false);
    // and it does see its left and upper neighbours (the test can fail)
    expect(dep[6]![5]).toBe(true); // (1,1) <- (1,0)
    expect(dep[6]![1]).toBe(true); // (1,1) <- (0,1)
    expect(dep[6]![2]).toBe(true); // (1,1) <- (0,2), above-right
    layer.dispose();
  });

  it('type B: zero for j > i, the centre is seen; a stack A, B, B stays causal', () => {
    const rng = new Rng(6);
    const b = new MaskedConv2d(2, 2, 3, { rng, maskType: 'B' });
    const depB = dependencies((x) => b.apply(x), 4, 4, 2);
    for (let i = 0; i < 16; i++) {
      for (let j = i + 1; j < 16; j++) expect(depB[i]![j]).toBe(false);
      expect(depB[i]![i]).toBe(true);
    }
    const stack = new Sequential([
      new MaskedConv2d(1, 4, 5, { rng, maskType: 'A', activation: 'relu' }),
      new MaskedConv2d(4, 4, 3, { rng, maskType: 'B', activation: 'tanh' }),
      new MaskedConv2d(4, 2, 3, { rng, maskType: 'B' }),
    ]);
    const dep = dependencies((x) => stack.apply(x), 5, 5, 1);
    let seen = 0;
    for (let i = 0; i < 25; i++) {
      for (let j = i; j < 25; j++) expect(dep[i]![j], `${i} <- ${j}`).toBe(false);
      for (let j = 0; j < i; j++) if (dep[i]![j]) seen++;
    }
    expect(seen).toBeGreaterThan(100); // the receptive field grows with depth
    b.dispose();
    stack.dispose();
  });

  it('channel groups: at the centre pixel output group g sees input groups < g (A)', () => {
    const layer = new MaskedConv2d(3, 6, 3, { rng: new Rng(7), maskType: 'A', channelGroups: 3 });
    const x = tf.randomNormal([1, 3, 3, 3], 0, 1, 'float32', 2);
    for (let g = 0; g < 3; g++) {
      const grad = tf.grad((xi: tf.Tensor) =>
        tf.sum(tf.slice(layer.apply(xi), [0, 1, 1, 2 * g], [1, 1, 1, 2])),
      )(x);
      const centre = tf.tidy(() =>
        Array.from(tf.slice(grad, [0, 1, 1, 0], [1, 1, 1, 3]).dataSync()),
      );
      expect(centre.map((v) => v !== 0)).toEqual([0, 1, 2].map((c) => c < g));
      // pixels after the centre: all zero
      const after = tf.tidy(() =>
        Array.from(tf.slice(grad, [0, 1, 2, 0], [1, 1, 1, 3]).dataSync()),
      );
      expect(after.every((v) => v === 0)).toBe(true);
      grad.dispose();
    }
    x.dispose();
    layer.dispose();
  });
});
