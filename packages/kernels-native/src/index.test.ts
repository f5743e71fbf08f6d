import { describe, expect, it } from 'vitest';
import { CONVS, checkConv, geom, outSize, rand, TOL } from './conv-ref.js';
import { Activation, loadNative, nativeStatus } from './index.js';

const k = loadNative();
const status = nativeStatus();
const label = k ? 'addon loaded' : `skipped: ${status.reason}`;

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
      checkConv(k!, c, 11);
    });
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
