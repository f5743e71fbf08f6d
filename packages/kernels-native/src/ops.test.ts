import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadNative, type NativeIsa, nativeStatus } from './index.js';
import { testIsas } from './test-isa.js';

const k = loadNative();
const label = k ? 'addon loaded' : `skipped: ${nativeStatus().reason}`;

function rand(n: number, seed: number): Float32Array {
  const v = new Float32Array(n);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    v[i] = s / 2 ** 31 - 1;
  }
  return v;
}

const f = Math.fround;

// Every test at every instruction-set level the CPU supports (the addon's setIsa).
const levels: Array<NativeIsa | 'none'> = k ? testIsas(k) : ['none'];
for (const isa of levels) {
  describe(`@dgm-js/kernels-native ops on ${isa} (${label})`, () => {
    let prev: NativeIsa | undefined;
    beforeAll(() => {
      if (k && isa !== 'none') prev = k.setIsa(isa);
    });
    afterAll(() => {
      if (k && prev) k.setIsa(prev);
    });

    it.skipIf(!k)('adam: the float32 update of tf.train.adam, elementwise, in place', () => {
      const n = 1037; // not a multiple of any vector width
      const p = rand(n, 1);
      const g = rand(n, 2);
      const m = rand(n, 3).map((x) => x * 0.1);
      const v = rand(n, 4).map((x) => x * x * 0.01);
      const [p0, m0, v0] = [p.slice(), m.slice(), v.slice()];
      const [lr, b1, b2, eps, c1, c2] = [
        0.01,
        0.9,
        0.999,
        1e-7,
        f(1 - f(0.9 ** 3)),
        f(1 - f(0.999 ** 3)),
      ];
      k!.adam(p, g, m, v, lr, b1, b2, eps, c1, c2);
      for (let i = 0; i < n; i++) {
        // float32 at every step, in tfjs's order of operations
        const mi = f(f(m0[i]! * f(b1)) + f(g[i]! * f(1 - b1)));
        const vi = f(f(v0[i]! * f(b2)) + f(f(g[i]! * g[i]!) * f(1 - b2)));
        const upd = f(f(f(mi / c1) / f(f(Math.sqrt(f(vi / c2))) + f(eps))) * f(-lr));
        expect(m[i]).toBe(mi);
        expect(v[i]).toBe(vi);
        expect(p[i]).toBe(f(upd + p0[i]!));
      }
      expect(() => k!.adam(p, g.subarray(1), m, v, lr, b1, b2, eps, c1, c2)).toThrow(RangeError);
      expect(() =>
        k!.adam(p, [] as unknown as Float32Array, m, v, lr, b1, b2, eps, c1, c2),
      ).toThrow(TypeError);
    });

    it.skipIf(!k)('sumLeading / sumTrailing: column and row sums accumulated in double', () => {
      const rows = 301;
      const cols = 19;
      const x = rand(rows * cols, 5).map((t) => t + 1000); // large offset: float32 accumulation would drift
      const lead = new Float32Array(cols);
      const trail = new Float32Array(rows);
      k!.sumLeading(x, rows, cols, lead);
      k!.sumTrailing(x, rows, cols, trail);
      for (let j = 0; j < cols; j++) {
        let s = 0;
        for (let i = 0; i < rows; i++) s += x[i * cols + j]!;
        expect(lead[j]).toBe(f(s));
      }
      for (let i = 0; i < rows; i++) {
        let s = 0;
        for (let j = 0; j < cols; j++) s += x[i * cols + j]!;
        expect(Math.abs(trail[i]! - s)).toBeLessThanOrEqual(Math.abs(s) * 2 ** -23);
      }
      expect(() => k!.sumLeading(x, rows + 1, cols, lead)).toThrow(RangeError);
      expect(() => k!.sumTrailing(x, rows, cols, new Float32Array(rows - 1))).toThrow(RangeError);
      expect(() => k!.sumLeading(x, -1, cols, lead)).toThrow(TypeError);
    });

    it.skipIf(!k)('addBias (also in place) and step (NaN kept, alpha below zero)', () => {
      const x = rand(4 * 5, 6);
      const b = rand(5, 7);
      const out = new Float32Array(20);
      k!.addBias(x, 4, 5, b, out);
      for (let i = 0; i < 20; i++) expect(out[i]).toBe(f(x[i]! + b[i % 5]!));
      k!.addBias(x, 4, 5, b, x);
      expect(Array.from(x)).toEqual(Array.from(out));
      expect(() => k!.addBias(x, 4, 6, b, out)).toThrow(RangeError);
      const s = new Float32Array([-1, -0, 0, 2, Number.NaN, Number.NEGATIVE_INFINITY]);
      const o = new Float32Array(6);
      k!.step(s, 0.5, o);
      expect(Array.from(o)).toEqual([0.5, 0.5, 0.5, 1, Number.NaN, 0.5]);
      expect(() => k!.step(s, 0, new Float32Array(5))).toThrow(RangeError);
    });

    it.skipIf(!k)('bce / bceGrad: fused Bernoulli cross-entropy with logits vs float64', () => {
      const n = 203; // several 64-blocks and a tail
      const l = rand(n, 8).map((v) => v * 40);
      l[0] = 1e4;
      l[1] = -1e4;
      const x = rand(n, 9).map((v) => (v > 0 ? 1 : 0));
      x[2] = 0.3;
      const y = new Float32Array(n);
      const sum = k!.bce(l, x, y);
      let ref = 0;
      for (let i = 0; i < n; i++) {
        const li = l[i]!;
        const sp = Math.max(li, 0) + Math.log1p(Math.exp(-Math.abs(li)));
        const r = sp - x[i]! * li;
        ref += r;
        // float32 rounding of the two terms (the difference may cancel)
        expect(Math.abs(y[i]! - r)).toBeLessThanOrEqual(4e-7 * (sp + Math.abs(x[i]! * li)) + 1e-7);
      }
      expect(Math.abs(sum - ref)).toBeLessThanOrEqual(1e-6 * Math.abs(ref) + 1e-4);
      expect(k!.bce(l, x, null)).toBe(sum);
      const g = rand(n, 10);
      const out = new Float32Array(n);
      k!.bceGrad(l, x, g, 0, out);
      const outS = new Float32Array(n);
      k!.bceGrad(l, x, null, 0.5, outS);
      for (let i = 0; i < n; i++) {
        const d = 1 / (1 + Math.exp(-l[i]!)) - x[i]!;
        expect(Math.abs(out[i]! - g[i]! * d)).toBeLessThanOrEqual(1e-6);
        expect(Math.abs(outS[i]! - 0.5 * d)).toBeLessThanOrEqual(1e-6);
      }
      expect(() => k!.bce(l, x.subarray(1), null)).toThrow(RangeError);
      expect(() => k!.bceGrad(l, x, g.subarray(1), 0, out)).toThrow(RangeError);
    });
  });
}
