/**
 * Test helpers (not exported from the package): deterministic inputs, convolution geometries and
 * the float64 reference loops every convolution test compares the addon against.
 *
 * @example
 * ```ts
 * checkConv(k, { ...CONVS[0]![1] }, 11); // conv2d and both gradients against float64 loops
 * ```
 */
import type { AllcloseOptions } from '@dgm-js/test-utils';
import { expect } from 'vitest';
import { convGeometry, type NativeKernels } from './index.js';

/** Deterministic values in [-1, 1). */
export function rand(n: number, seed: number): Float32Array {
  const v = new Float32Array(n);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    v[i] = s / 2 ** 31 - 1;
  }
  return v;
}

export interface Conv {
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

export function outSize(c: Conv): [number, number] {
  const eh = (c.kh - 1) * c.dh + 1;
  const ew = (c.kw - 1) * c.dw + 1;
  return [
    Math.floor((c.h + c.pt + c.pb - eh) / c.sh) + 1,
    Math.floor((c.w + c.pl + c.pr - ew) / c.sw) + 1,
  ];
}

export function geom(c: Conv): Int32Array {
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
export function eachTap(c: Conv, f: (xi: number, wi: number, yi: number) => void): void {
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

export const CONVS: Array<[string, Conv]> = [
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

export const TOL: AllcloseOptions = { rtol: 1e-4, atol: 1e-5 };

/** The three convolutions of `c` on the addon against float64 loops (NaN-filled outputs). */
export function checkConv(k: NativeKernels, c: Conv, seed: number): void {
  const [oh, ow] = outSize(c);
  const g = geom(c);
  const x = rand(c.n * c.h * c.w * c.ci, seed);
  const w = rand(c.kh * c.kw * c.ci * c.co, seed + 1);
  const dy = rand(c.n * oh * ow * c.co, seed + 2);
  const y = new Float32Array(dy.length).fill(Number.NaN);
  const dw = new Float32Array(w.length).fill(Number.NaN);
  const dx = new Float32Array(x.length).fill(Number.NaN);
  k.conv2d(x, w, y, g);
  k.conv2dBackpropFilter(x, dy, dw, g);
  k.conv2dBackpropInput(dy, w, dx, g);
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
