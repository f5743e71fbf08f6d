// The instruction-set levels of the addon (setIsa, DGM_NATIVE_ISA, info().isa) and the
// convolution path choice (setConvPath, convPath, the measured table): every stride-1 geometry
// runs at every level the CPU supports, through the direct kernels and through im2col, against
// float64 loops.
import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { CONVS, type Conv, checkConv, geom } from './conv-ref.js';
import { loadNative, nativeStatus } from './index.js';
import { forEachIsa, testIsas } from './test-isa.js';

const k = loadNative();
const status = nativeStatus();
const label = k ? 'addon loaded' : `skipped: ${status.reason}`;

describe(`@dgm-js/kernels-native instruction sets and convolution paths (${label})`, () => {
  /**
   * Stride 1 with channel counts in multiples of 8 / 16: the direct kernels (dgm_conv.c) at every
   * instruction-set level the CPU supports, each forced through the direct path and through
   * im2col. The widths and channel counts reach every block size of every level (big, mid and
   * single blocks of pixels and of filter rows; 2-vector and 1-vector channel blocks).
   */
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
    [
      '3x5 same, 16 -> 24 (8-float tails; 80 filter rows)',
      { h: 6, w: 13, ci: 16, co: 24, kh: 3, kw: 5, pt: 1, pb: 1, pl: 2, pr: 2 },
    ],
    ['3x3 same, 8 -> 8, width 14', { h: 3, w: 14, ci: 8, co: 8, pt: 1, pb: 1, pl: 1, pr: 1 }],
  ];
  const isas = testIsas(k);
  it.skipIf(!k)('supports the portable level and reports the level in use', () => {
    const info = k!.info();
    expect(info.isas).toContain('generic');
    expect(info.isas).toContain(info.isa);
    if (process.env.DGM_NATIVE_ISA && info.isas.includes(process.env.DGM_NATIVE_ISA as never)) {
      expect(info.isa).toBe(process.env.DGM_NATIVE_ISA);
    }
    expect(info.convPath).toBe('auto');
  });
  for (const [name, part] of DIRECT) {
    const c: Conv = {
      ...{ n: 2, h: 5, w: 5, ci: 16, co: 16, kh: 3, kw: 3, sh: 1, sw: 1, dh: 1, dw: 1 },
      ...{ pt: 0, pb: 0, pl: 0, pr: 0 },
      ...part,
    };
    for (const isa of isas) {
      for (const path of ['direct', 'im2col'] as const) {
        it.skipIf(!k)(`stride-1 conv (${name}) on ${isa}, ${path} path, matches loops`, () => {
          const prevIsa = k!.setIsa(isa);
          const prev = k!.setConvPath(path);
          try {
            const g = geom(c);
            // The direct kernels cover channel counts in multiples of the level's vector.
            const vl = { avx512: 16, avx2: 8, generic: 4 }[isa];
            const want = (ch: number) => (path === 'direct' && ch % vl === 0 ? 'direct' : 'im2col');
            expect(k!.convPath('conv2d', g)).toBe(want(c.co));
            expect(k!.convPath('conv2dBackpropFilter', g)).toBe(want(c.co));
            if (c.pt < c.kh && c.pl < c.kw) {
              expect(k!.convPath('conv2dBackpropInput', g)).toBe(want(c.ci));
            }
            checkConv(k!, c, 31);
          } finally {
            k!.setConvPath(prev);
            k!.setIsa(prevIsa);
          }
        });
      }
    }
  }

  it.skipIf(!k)(
    'the automatic path takes the direct kernels only where they cover the geometry',
    () => {
      // The bench's conv-step layers and a strided one, at every level.
      const layers: Conv[] = [
        {
          n: 64,
          h: 28,
          w: 28,
          ci: 1,
          co: 32,
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
        {
          n: 64,
          h: 28,
          w: 28,
          ci: 32,
          co: 32,
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
        {
          n: 64,
          h: 28,
          w: 28,
          ci: 32,
          co: 32,
          kh: 3,
          kw: 3,
          sh: 2,
          sw: 2,
          dh: 1,
          dw: 1,
          pt: 1,
          pb: 1,
          pl: 1,
          pr: 1,
        },
      ];
      forEachIsa(k!, () => {
        for (const c of layers) {
          const g = geom(c);
          for (const kind of ['conv2d', 'conv2dBackpropFilter', 'conv2dBackpropInput'] as const) {
            const auto = k!.convPath(kind, g);
            const prev = k!.setConvPath('direct');
            const covered = k!.convPath(kind, g) === 'direct';
            k!.setConvPath('im2col');
            expect(k!.convPath(kind, g)).toBe('im2col');
            k!.setConvPath(prev);
            if (!covered) expect(auto).toBe('im2col');
            if (c.sh !== 1) expect(covered).toBe(false);
          }
        }
      });
      const g1 = geom({ ...CONVS[0]![1], kh: 1, kw: 1, pt: 0, pb: 0, pl: 0, pr: 0 });
      expect(k!.convPath('conv2d', g1)).toBe('pointwise');
      expect(() => k!.convPath('conv3d' as never, g1)).toThrow(TypeError);
      expect(() => k!.convPath('conv2d', new Int32Array(3))).toThrow(RangeError);
    },
  );

  it.skipIf(!k)('DGM_NATIVE_ISA picks the level at load, and says why when it cannot', () => {
    const info = (isa: string) => {
      const code = `console.log(JSON.stringify(require(${JSON.stringify(status.path)}).info()))`;
      const out = execFileSync(process.execPath, ['-e', code], {
        env: { ...process.env, DGM_NATIVE_ISA: isa },
        encoding: 'utf8',
      });
      return JSON.parse(out) as ReturnType<NonNullable<typeof k>['info']>;
    };
    const supported = k!.info().isas;
    for (const isa of supported) {
      const got = info(isa);
      expect(got.isa).toBe(isa);
      expect(got.isaNote).toBeNull();
    }
    const bad = info('sse9');
    expect(bad.isa).toBe(supported[0]);
    expect(bad.isaNote).toMatch(/DGM_NATIVE_ISA=sse9 is not one of avx512, avx2, generic/);
    for (const isa of (['avx512', 'avx2'] as const).filter((i) => !supported.includes(i))) {
      expect(info(isa).isaNote).toMatch(/is not supported here/);
    }
  });

  it.skipIf(!k)('the automatic path follows the measured table of each level', () => {
    // 3x3 same convolutions [batch, size, ci, co]: on AVX-512 and AVX2 the conv-step layers take
    // the direct kernels; filters past a level's cache-sized limit, and narrow rows (7 columns)
    // with larger filters, take im2col (dgm_conv.c, PREFER). The portable kernels take only the
    // first layers' small filters against an AVX OpenBLAS.
    const same = (n: number, s: number, ci: number, co: number) =>
      geom({
        n,
        h: s,
        w: s,
        ci,
        co,
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
      });
    const kinds = ['conv2d', 'conv2dBackpropFilter', 'conv2dBackpropInput'] as const;
    const paths = (g: Int32Array) => kinds.map((kind) => k!.convPath(kind, g));
    const expected: Record<string, Array<[Int32Array, string[]]>> = {
      avx512: [
        [same(64, 28, 32, 32), ['direct', 'direct', 'direct']],
        [same(64, 7, 128, 128), ['im2col', 'direct', 'im2col']],
        [same(64, 4, 256, 256), ['im2col', 'im2col', 'im2col']],
        [same(64, 7, 32, 32), ['direct', 'direct', 'direct']],
      ],
      avx2: [
        [same(64, 28, 32, 32), ['direct', 'direct', 'direct']],
        [same(64, 7, 128, 128), ['im2col', 'direct', 'im2col']],
        [same(64, 7, 32, 32), ['im2col', 'direct', 'im2col']],
        [same(64, 4, 64, 64), ['direct', 'direct', 'direct']],
      ],
      // (past the first layers, the portable table depends on OpenBLAS's kernel: SSE or AVX)
      generic: [
        [same(64, 28, 1, 32), ['direct', 'direct', 'im2col']],
        [same(16, 28, 128, 128), ['im2col', 'im2col', 'im2col']],
        [same(64, 4, 256, 256), ['im2col', 'im2col', 'im2col']],
      ],
    };
    forEachIsa(k!, (isa) => {
      for (const [g, want] of expected[isa]!)
        expect(paths(g), `${isa} ${g.join(',')}`).toEqual(want);
    });
  });

  it.skipIf(!k)('setIsa and setConvPath reject what they cannot do', () => {
    expect(() => k!.setIsa('sse9' as never)).toThrow(TypeError);
    const all = ['avx512', 'avx2', 'generic'] as const;
    for (const isa of all.filter((i) => !k!.info().isas.includes(i))) {
      expect(() => k!.setIsa(isa)).toThrow(RangeError);
    }
    expect(() => k!.setConvPath('fast' as never)).toThrow(TypeError);
    // The deprecated switch maps onto the modes.
    expect(k!.setConvDirect(false)).toBe(true);
    expect(k!.info().convPath).toBe('im2col');
    expect(k!.setConvDirect(true)).toBe(false);
    expect(k!.info().convPath).toBe('auto');
  });
});
