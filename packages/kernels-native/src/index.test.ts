import type { AllcloseOptions } from '@dgm-js/test-utils';
import { describe, expect, it } from 'vitest';
import { Activation, convGeometry, loadNative, nativeStatus } from './index.js';

const k = loadNative();
const status = nativeStatus();
const label = k ? 'addon loaded' : `skipped: ${status.reason}`;

/** Deterministic values in [-1, 1). */
function rand(n: number, seed: number): Float32Array {
  const v = new Float32Array(n);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    v[i] = s / 2 ** 31 - 1;
  }
  return v;
}

/** Reference row-major GEMM in float64. */
function refGemm(
  ta: boolean,
  tb: boolean,
  m: number,
  n: number,
  kk: number,
  alpha: number,
  a: Float32Array,
  lda: number,
  b: Float32Array,
  ldb: number,
  beta: number,
  c: Float32Array,
  ldc: number,
): Float32Array {
  const out = Float32Array.from(c);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let p = 0; p < kk; p++) {
        const av = ta ? a[p * lda + i]! : a[i * lda + p]!;
        const bv = tb ? b[j * ldb + p]! : b[p * ldb + j]!;
        s += av * bv;
      }
      out[i * ldc + j] = alpha * s + (beta === 0 ? 0 : beta * c[i * ldc + j]!);
    }
  }
  return out;
}

interface Conv {
  n: number;
  h: number;
  w: number;
  ci: number;
  co: number;
  kh: number;
  kw: number;
  sh: number;
  sw: number;
  dh: number;
  dw: number;
  pt: number;
  pb: number;
  pl: number;
  pr: number;
}

function outSize(c: Conv): [number, number] {
  const eh = (c.kh - 1) * c.dh + 1;
  const ew = (c.kw - 1) * c.dw + 1;
  return [
    Math.floor((c.h + c.pt + c.pb - eh) / c.sh) + 1,
    Math.floor((c.w + c.pl + c.pr - ew) / c.sw) + 1,
  ];
}

function geom(c: Conv): Int32Array {
  const [oh, ow] = outSize(c);
  return convGeometry({
    batch: c.n,
    inHeight: c.h,
    inWidth: c.w,
    inChannels: c.ci,
    outHeight: oh,
    outWidth: ow,
    outChannels: c.co,
    filterHeight: c.kh,
    filterWidth: c.kw,
    strideHeight: c.sh,
    strideWidth: c.sw,
    dilationHeight: c.dh,
    dilationWidth: c.dw,
    padTop: c.pt,
    padLeft: c.pl,
  });
}

/** Visits every (output pixel, tap, in channel, out channel) of a direct convolution. */
function eachTap(c: Conv, f: (xi: number, wi: number, yi: number) => void): void {
  const [oh, ow] = outSize(c);
  for (let b = 0; b < c.n; b++)
    for (let y = 0; y < oh; y++)
      for (let x = 0; x < ow; x++)
        for (let i = 0; i < c.kh; i++)
          for (let j = 0; j < c.kw; j++) {
            const ih = y * c.sh - c.pt + i * c.dh;
            const iw = x * c.sw - c.pl + j * c.dw;
            if (ih < 0 || ih >= c.h || iw < 0 || iw >= c.w) continue;
            for (let p = 0; p < c.ci; p++)
              for (let q = 0; q < c.co; q++)
                f(
                  ((b * c.h + ih) * c.w + iw) * c.ci + p,
                  ((i * c.kw + j) * c.ci + p) * c.co + q,
                  ((b * oh + y) * ow + x) * c.co + q,
                );
          }
}

const CONVS: Array<[string, Conv]> = [
  [
    '3x3 pad 1 stride 1',
    {
      n: 2,
      h: 7,
      w: 6,
      ci: 3,
      co: 4,
      kh: 3,
      kw: 3,
      sh: 1,
      sw: 1,
      dh: 1,
      dw: 1,
      pt: 1,
      pb: 1,
      pl: 1,
      pr: 1,
    },
  ],
  [
    '3x3 valid stride 2',
    {
      n: 1,
      h: 9,
      w: 8,
      ci: 2,
      co: 5,
      kh: 3,
      kw: 3,
      sh: 2,
      sw: 2,
      dh: 1,
      dw: 1,
      pt: 0,
      pb: 0,
      pl: 0,
      pr: 0,
    },
  ],
  [
    '2x4 asymmetric pads strides 2x3',
    {
      n: 2,
      h: 8,
      w: 11,
      ci: 2,
      co: 3,
      kh: 2,
      kw: 4,
      sh: 2,
      sw: 3,
      dh: 1,
      dw: 1,
      pt: 1,
      pb: 0,
      pl: 2,
      pr: 1,
    },
  ],
  [
    '3x3 dilation 2',
    {
      n: 1,
      h: 9,
      w: 9,
      ci: 2,
      co: 2,
      kh: 3,
      kw: 3,
      sh: 1,
      sw: 1,
      dh: 2,
      dw: 2,
      pt: 2,
      pb: 2,
      pl: 2,
      pr: 2,
    },
  ],
  [
    '1x1 pointwise',
    {
      n: 3,
      h: 4,
      w: 5,
      ci: 6,
      co: 2,
      kh: 1,
      kw: 1,
      sh: 1,
      sw: 1,
      dh: 1,
      dw: 1,
      pt: 0,
      pb: 0,
      pl: 0,
      pr: 0,
    },
  ],
  [
    '1x1 stride 2',
    {
      n: 1,
      h: 5,
      w: 5,
      ci: 3,
      co: 2,
      kh: 1,
      kw: 1,
      sh: 2,
      sw: 2,
      dh: 1,
      dw: 1,
      pt: 0,
      pb: 0,
      pl: 0,
      pr: 0,
    },
  ],
  [
    '5x5 over a 3x3 input, pad 2',
    {
      n: 2,
      h: 3,
      w: 3,
      ci: 1,
      co: 3,
      kh: 5,
      kw: 5,
      sh: 1,
      sw: 1,
      dh: 1,
      dw: 1,
      pt: 2,
      pb: 2,
      pl: 2,
      pr: 2,
    },
  ],
];

const TOL: AllcloseOptions = { rtol: 1e-4, atol: 1e-5 };

/** The three convolutions of `c` on the addon against float64 loops (NaN-filled outputs). */
function checkConv(c: Conv, seed: number): void {
  const [oh, ow] = outSize(c);
  const g = geom(c);
  const x = rand(c.n * c.h * c.w * c.ci, seed);
  const w = rand(c.kh * c.kw * c.ci * c.co, seed + 1);
  const dy = rand(c.n * oh * ow * c.co, seed + 2);
  const y = new Float32Array(dy.length).fill(Number.NaN);
  const dw = new Float32Array(w.length).fill(Number.NaN);
  const dx = new Float32Array(x.length).fill(Number.NaN);
  k!.conv2d(x, w, y, g);
  k!.conv2dBackpropFilter(x, dy, dw, g);
  k!.conv2dBackpropInput(dy, w, dx, g);
  const yRef = new Float64Array(y.length);
  const dwRef = new Float64Array(w.length);
  const dxRef = new Float64Array(x.length);
  eachTap(c, (xi, wi, yi) => {
    yRef[yi]! += x[xi]! * w[wi]!;
    dwRef[wi]! += x[xi]! * dy[yi]!;
    dxRef[xi]! += w[wi]! * dy[yi]!;
  });
  expect(y).toBeAllclose(yRef, TOL);
  expect(dw).toBeAllclose(dwRef, TOL);
  expect(dx).toBeAllclose(dxRef, TOL);
}

describe(`@dgm-js/kernels-native (${label})`, () => {
  it('loadNative never throws and explains a missing addon', () => {
    expect(status.loaded).toBe(k !== null);
    if (!k) expect(status.reason).toMatch(/\S/);
    else expect(status.reason).toBeNull();
  });

  it.skipIf(!k)('reports its BLAS and defaults to one thread', () => {
    const info = k!.info();
    expect(info.corename).toMatch(/\S/);
    expect(info.config).toMatch(/OpenBLAS/);
    expect(info.threads).toBe(Number(process.env.DGM_NATIVE_THREADS ?? 1));
    k!.setNumThreads(2);
    expect(k!.getNumThreads()).toBe(2);
    k!.setNumThreads(1);
    expect(k!.getNumThreads()).toBe(1);
    expect(() => k!.setNumThreads(0)).toThrow(RangeError);
  });

  for (const [ta, tb] of [
    [false, false],
    [true, false],
    [false, true],
    [true, true],
  ] as const) {
    it.skipIf(!k)(`sgemm transA=${ta} transB=${tb} with padded leading dims, alpha, beta`, () => {
      const [m, n, kk] = [5, 7, 3];
      const lda = (ta ? m : kk) + 2;
      const ldb = (tb ? kk : n) + 1;
      const ldc = n + 3;
      const a = rand((ta ? kk : m) * lda, 1);
      const b = rand((tb ? n : kk) * ldb, 2);
      const c = rand(m * ldc, 3);
      const want = refGemm(ta, tb, m, n, kk, 0.5, a, lda, b, ldb, 2, c, ldc);
      k!.sgemm(ta, tb, m, n, kk, 0.5, a, lda, b, ldb, 2, c, ldc);
      expect(c).toBeAllclose(want, TOL);
    });
  }

  it.skipIf(!k)('sgemm batches with a broadcast operand (batchB = 1)', () => {
    const [batch, m, n, kk] = [3, 4, 5, 6];
    const a = rand(batch * m * kk, 4);
    const b = rand(kk * n, 5);
    const c = new Float32Array(batch * m * n);
    k!.sgemm(
      false,
      false,
      m,
      n,
      kk,
      1,
      a,
      kk,
      b,
      n,
      0,
      c,
      n,
      m * kk,
      batch,
      kk * n,
      1,
      m * n,
      batch,
    );
    for (let i = 0; i < batch; i++) {
      const want = refGemm(
        false,
        false,
        m,
        n,
        kk,
        1,
        a.subarray(i * m * kk),
        kk,
        b,
        n,
        0,
        new Float32Array(m * n),
        n,
      );
      expect(c.subarray(i * m * n, (i + 1) * m * n)).toBeAllclose(want, TOL);
    }
  });

  it.skipIf(!k)('sgemm with k = 0 writes beta * C; empty outputs are fine', () => {
    const c = new Float32Array([1, 2, 3, 4]);
    k!.sgemm(false, false, 2, 2, 0, 1, new Float32Array(0), 1, new Float32Array(0), 2, 0, c, 2);
    expect(Array.from(c)).toEqual([0, 0, 0, 0]);
    k!.sgemm(false, false, 0, 2, 3, 1, new Float32Array(0), 3, new Float32Array(6), 2, 0, c, 2);
  });

  it.skipIf(!k)('sgemm rejects arrays shorter than the shapes need (no memory is touched)', () => {
    const a = new Float32Array(5);
    const b = new Float32Array(6);
    const c = new Float32Array(4);
    expect(() => k!.sgemm(false, false, 2, 2, 3, 1, a, 3, b, 2, 0, c, 2)).toThrow(RangeError);
    expect(() => k!.sgemm(false, false, 2, 2, 3, 1, new Float32Array(6), 2, b, 2, 0, c, 2)).toThrow(
      /leading dimension/,
    );
    expect(() =>
      k!.sgemm(false, false, 2, 2, 3, 1, new Float32Array(6), 3, b, 2, 0, c, 2, 6, 1, 6, 1, 4, 2),
    ).toThrow(/c is shorter/);
    expect(() =>
      k!.sgemm(false, false, 2, 2, 3, 1, [1, 2] as unknown as Float32Array, 3, b, 2, 0, c, 2),
    ).toThrow(TypeError);
  });

  it.skipIf(!k)('biasActivation: per-column and elementwise bias, every activation', () => {
    const rows = 3;
    const cols = 4;
    const base = rand(rows * cols, 6);
    const bias = rand(cols, 7);
    const full = rand(rows * cols, 8);
    const fns: Record<string, (v: number) => number> = {
      linear: (v) => v,
      relu: (v) => Math.max(v, 0),
      relu6: (v) => Math.min(Math.max(v, 0), 6),
      elu: (v) => (v >= 0 ? v : Math.expm1(v)),
      sigmoid: (v) => 1 / (1 + Math.exp(-v)),
      leakyrelu: (v) => (v < 0 ? 0.3 * v : v),
    };
    for (const [name, f] of Object.entries(fns)) {
      const code = Activation[name as keyof typeof Activation];
      const c = Float32Array.from(base);
      k!.biasActivation(c, rows, cols, bias, code, 0.3);
      expect(c).toBeAllclose(
        Array.from(base, (v, i) => f(v + bias[i % cols]!)),
        TOL,
      );
      const d = Float32Array.from(base);
      k!.biasActivation(d, rows, cols, full, code, 0.3);
      expect(d).toBeAllclose(
        Array.from(base, (v, i) => f(v + full[i]!)),
        TOL,
      );
    }
    expect(() => k!.biasActivation(new Float32Array(12), 3, 4, new Float32Array(5), 0, 0)).toThrow(
      RangeError,
    );
  });

  for (const [name, c] of CONVS) {
    it.skipIf(!k)(`conv2d, backprop filter and backprop input match direct loops (${name})`, () => {
      checkConv(c, 11);
    });
  }

  /** Stride 1 with 16 / 32 channels: the direct path (dgm_conv.c); also run through im2col. */
  const DIRECT: Array<[string, Partial<Conv>]> = [
    [
      '3x3 same, 32 -> 32 (block tails: width 29)',
      { h: 5, w: 29, ci: 32, co: 32, pt: 1, pb: 1, pl: 1, pr: 1 },
    ],
    ['3x3 valid, 16 -> 48', { h: 6, w: 7, ci: 16, co: 48, kh: 3, kw: 3 }],
    [
      '5x3 asymmetric pads, 3 -> 16',
      { h: 7, w: 9, ci: 3, co: 16, kh: 5, kw: 3, pt: 2, pb: 1, pl: 0, pr: 2 },
    ],
    ['1x3 pad 0/1, 32 -> 16', { h: 4, w: 30, ci: 32, co: 16, kh: 1, kw: 3, pl: 1, pr: 1 }],
    ['3x3 same, 1 -> 32 (first layer)', { h: 8, w: 8, ci: 1, co: 32, pt: 1, pb: 1, pl: 1, pr: 1 }],
  ];
  for (const [name, part] of DIRECT) {
    const c: Conv = {
      ...{ n: 2, h: 5, w: 5, ci: 16, co: 16, kh: 3, kw: 3, sh: 1, sw: 1, dh: 1, dw: 1 },
      ...{ pt: 0, pb: 0, pl: 0, pr: 0 },
      ...part,
    };
    for (const direct of [true, false]) {
      it.skipIf(!k)(
        `stride-1 conv (${name}, direct path ${direct ? 'on' : 'off'}) matches loops`,
        () => {
          const prev = k!.setConvDirect(direct);
          try {
            checkConv(c, 31);
          } finally {
            k!.setConvDirect(prev);
          }
        },
      );
    }
  }

  it.skipIf(!k)('conv chunks (im2col blocks) do not change the result', () => {
    const c = CONVS[0]![1];
    const g = geom(c);
    const x = rand(c.n * c.h * c.w * c.ci, 21);
    const w = rand(c.kh * c.kw * c.ci * c.co, 22);
    const [oh, ow] = outSize(c);
    const big = new Float32Array(c.n * oh * ow * c.co);
    const small = new Float32Array(big.length);
    const dwBig = new Float32Array(w.length);
    const dwSmall = new Float32Array(w.length);
    k!.conv2d(x, w, big, g);
    k!.conv2dBackpropFilter(x, big, dwBig, g);
    const old = k!.setChunkFloats(1024); // 37 rows per chunk here: several chunks
    try {
      k!.conv2d(x, w, small, g);
      k!.conv2dBackpropFilter(x, big, dwSmall, g);
    } finally {
      k!.setChunkFloats(old);
    }
    expect(small).toBeAllclose(big, TOL);
    expect(dwSmall).toBeAllclose(dwBig, TOL);
  });

  it.skipIf(!k)('conv functions reject arrays that do not match the geometry', () => {
    const c = CONVS[0]![1];
    const g = geom(c);
    const x = new Float32Array(c.n * c.h * c.w * c.ci);
    const w = new Float32Array(c.kh * c.kw * c.ci * c.co);
    expect(() => k!.conv2d(x, w, new Float32Array(3), g)).toThrow(/do not match the geometry/);
    expect(() => k!.conv2d(x, w, new Float32Array(3), new Int32Array(3))).toThrow(RangeError);
    const bad = Int32Array.from(g);
    bad[9] = 0; // stride 0
    expect(() => k!.conv2d(x, w, new Float32Array(3), bad)).toThrow(/zero kernel, stride/);
  });
});
