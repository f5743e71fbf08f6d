/**
 * Classifier scores against closed forms (IS of balanced one-hot predictions = C, of identical
 * predictions = 1), the MODE-score identity, histograms, the MMD permutation test's
 * calibration (KS over repeats under H0) and power, and precision / recall on identical and
 * disjoint sets.
 */
import { Rng, ValueError } from '@dgm-js/core-tensors';
import { describe, expect, it } from 'vitest';
import { mmdTest } from './mmd.js';
import { knnRadii, precisionRecall } from './precision-recall.js';
import { classHistogram, inceptionScore, modeScore } from './scores.js';

/** log p(y|x) rows from probabilities. */
function logRows(rows: number[][]): Float64Array {
  return Float64Array.from(rows.flat(), (p) => Math.log(p));
}

/** n one-hot rows cycling over C classes. */
function oneHotCycle(n: number, c: number): Float64Array {
  const rows: number[][] = [];
  for (let i = 0; i < n; i++) rows.push(Array.from({ length: c }, (_, y) => (y === i % c ? 1 : 0)));
  return logRows(rows);
}

/** Random softmax rows (seeded). */
function randomRows(n: number, c: number, seed: number, sharp = 3): Float64Array {
  const rng = new Rng(seed);
  const rows: number[][] = [];
  for (let i = 0; i < n; i++) {
    const l = Array.from({ length: c }, () => sharp * (rng.float() * 2 - 1));
    const m = Math.max(...l);
    const z = l.reduce((s, v) => s + Math.exp(v - m), 0);
    rows.push(l.map((v) => Math.exp(v - m) / z));
  }
  return logRows(rows);
}

/** Standard normal draws by Box-Muller from an Rng. */
function normals(n: number, rng: Rng): Float64Array {
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const u = 1 - rng.float();
    out[i] = Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rng.float());
  }
  return out;
}

describe('inceptionScore', () => {
  it('is C for confident predictions balanced over C classes, in every split', () => {
    for (const c of [2, 10]) {
      const s = inceptionScore(oneHotCycle(100 * c, c), 100 * c, c, 10);
      expect(s.full).toBeCloseTo(c, 12);
      expect(s.mean).toBeCloseTo(c, 12);
      expect(s.std).toBeLessThan(1e-12);
    }
  });

  it('is 1 when every sample gets the same prediction', () => {
    const rows = Array.from({ length: 50 }, () => [0.2, 0.5, 0.3]);
    expect(inceptionScore(logRows(rows), 50, 3, 5).mean).toBeCloseTo(1, 12);
  });

  it('matches a direct two-sample computation', () => {
    // p(y|x1) = [0.9, 0.1], p(y|x2) = [0.2, 0.8]; p(y) = [0.55, 0.45]
    const p = [
      [0.9, 0.1],
      [0.2, 0.8],
    ];
    const py = [0.55, 0.45];
    const kl = (r: number[]) => r.reduce((s, v, y) => s + v * Math.log(v / py[y]!), 0);
    const want = Math.exp((kl(p[0]!) + kl(p[1]!)) / 2);
    expect(inceptionScore(logRows(p), 2, 2, 1).mean).toBeCloseTo(want, 13);
  });

  it('rejects bad splits and sizes with ValueError', () => {
    expect(() => inceptionScore(oneHotCycle(10, 2), 10, 2, 11)).toThrow(ValueError);
    expect(() => inceptionScore(new Float64Array(5), 3, 2)).toThrow(/expected n \* C/);
  });
});

describe('modeScore', () => {
  const n = 600;
  const c = 10;
  const lp = randomRows(n, c, 7);
  const skewed = Array.from({ length: c }, (_, y) => (y + 1) / 55);

  it("form 'che' equals the Inception-style score for any p* (the p* terms cancel)", () => {
    const is = inceptionScore(lp, n, c, 10);
    for (const marginal of ['uniform', skewed] as const) {
      const ms = modeScore(lp, n, c, { marginal });
      expect(ms.mean).toBeCloseTo(is.mean, 12);
    }
  });

  it("form 'marginal-penalty' is IS * exp(-KL(p(y) || p*)), below IS unless p(y) = p*", () => {
    const is = inceptionScore(lp, n, c, 1).full;
    const py = new Array<number>(c).fill(0);
    for (let i = 0; i < n; i++) for (let y = 0; y < c; y++) py[y]! += Math.exp(lp[i * c + y]!) / n;
    const kl = py.reduce((s, p, y) => s + p * Math.log(p / skewed[y]!), 0);
    const ms = modeScore(lp, n, c, { marginal: skewed, form: 'marginal-penalty', splits: 1 });
    expect(ms.full).toBeCloseTo(is * Math.exp(-kl), 12);
    // balanced one-hot samples against the uniform p*: no penalty, MODE = C
    const bal = modeScore(oneHotCycle(100, 10), 100, 10, {
      marginal: 'uniform',
      form: 'marginal-penalty',
    });
    expect(bal.mean).toBeCloseTo(10, 12);
  });

  it('rejects a marginal that is not a distribution', () => {
    expect(() => modeScore(lp, n, c, { marginal: [0.5, 0.5] })).toThrow(/10 probabilities/);
    expect(() => modeScore(lp, n, c, { marginal: new Array(10).fill(0.2) })).toThrow(
      /summing to 1/,
    );
  });
});

describe('classHistogram', () => {
  it('counts argmax classes and measures the distance to a reference', () => {
    const rows = [
      [0.7, 0.2, 0.1],
      [0.1, 0.8, 0.1],
      [0.6, 0.3, 0.1],
      [0.5, 0.1, 0.4],
    ];
    const h = classHistogram(logRows(rows), 4, 3, { reference: [1 / 3, 1 / 3, 1 / 3] });
    expect(h.counts).toEqual([3, 1, 0]);
    expect(h.modesCovered).toBe(2);
    expect(h.soft[0]).toBeCloseTo((0.7 + 0.1 + 0.6 + 0.5) / 4, 12);
    expect(h.totalVariation).toBeCloseTo(0.5 * (0.75 - 1 / 3 + (1 / 3 - 0.25) + 1 / 3), 12);
    expect(h.klToReference).toBeCloseTo(0.75 * Math.log(2.25) + 0.25 * Math.log(0.75), 12);
  });
});

describe('mmdTest', () => {
  it('gives MMD^2 ~ 0 and a large p-value for two samples of one distribution', () => {
    const rng = new Rng(1);
    const r = mmdTest(normals(400, rng), 200, normals(400, rng), 200, 2, { permutations: 200 });
    expect(Math.abs(r.mmd2)).toBeLessThan(4 * r.nullStd);
    expect(r.pValue).toBeGreaterThan(0.01);
  });

  it('is calibrated: p-values under H0 are ~uniform over 60 repeats (KS distance < 0.21)', () => {
    const rng = new Rng(2);
    for (const kernel of [{ type: 'rbf' as const }, { type: 'imq' as const }]) {
      const ps: number[] = [];
      for (let r = 0; r < 60; r++) {
        const res = mmdTest(normals(60, rng), 30, normals(60, rng), 30, 2, {
          kernel,
          permutations: 99,
          seed: r,
        });
        ps.push(res.pValue);
      }
      ps.sort((a, b) => a - b);
      let ks = 0;
      for (let i = 0; i < ps.length; i++) {
        ks = Math.max(ks, Math.abs((i + 1) / ps.length - ps[i]!), Math.abs(i / ps.length - ps[i]!));
      }
      // the 1% critical value of the one-sample KS statistic at n = 60 is 1.63 / sqrt(60) = 0.21
      expect(ks).toBeLessThan(0.21);
    }
  });

  it('is powerful: a mean shift of 0.5 sd in 2-D with 150 per side is detected (p < 0.01)', () => {
    const rng = new Rng(3);
    const x = normals(300, rng);
    const y = normals(300, rng).map((v, i) => (i % 2 === 0 ? v + 0.5 : v));
    for (const kernel of [{ type: 'rbf' as const }, { type: 'imq' as const }]) {
      const r = mmdTest(x, 150, y, 150, 2, { kernel, permutations: 300 });
      expect(r.pValue).toBeLessThan(0.01);
      expect(r.mmd2).toBeGreaterThan(0);
    }
  });

  it('matches the unbiased estimator computed by a direct double sum', () => {
    const x = new Float64Array([0, 1, 3]);
    const y = new Float64Array([0.5, 2, 5, -1]);
    const k = (a: number, b: number) => Math.exp(-((a - b) ** 2) / 2); // sigma = 1
    let xx = 0;
    let yy = 0;
    let xy = 0;
    for (let i = 0; i < 3; i++) for (let j = 0; j < 3; j++) if (i !== j) xx += k(x[i]!, x[j]!);
    for (let i = 0; i < 4; i++) for (let j = 0; j < 4; j++) if (i !== j) yy += k(y[i]!, y[j]!);
    for (let i = 0; i < 3; i++) for (let j = 0; j < 4; j++) xy += k(x[i]!, y[j]!);
    const want = xx / 6 + yy / 12 - (2 * xy) / 12;
    const r = mmdTest(x, 3, y, 4, 1, { kernel: { type: 'rbf', sigma: 1 }, permutations: 0 });
    expect(r.mmd2).toBeCloseTo(want, 13);
    expect(Number.isNaN(r.pValue)).toBe(true);
    const imq = mmdTest(x, 3, y, 4, 1, { kernel: { type: 'imq', c: 2 }, permutations: 0 });
    const ki = (a: number, b: number) => 2 / (2 + (a - b) ** 2);
    let xx2 = 0;
    let yy2 = 0;
    let xy2 = 0;
    for (let i = 0; i < 3; i++) for (let j = 0; j < 3; j++) if (i !== j) xx2 += ki(x[i]!, x[j]!);
    for (let i = 0; i < 4; i++) for (let j = 0; j < 4; j++) if (i !== j) yy2 += ki(y[i]!, y[j]!);
    for (let i = 0; i < 3; i++) for (let j = 0; j < 4; j++) xy2 += ki(x[i]!, y[j]!);
    expect(imq.mmd2).toBeCloseTo(xx2 / 6 + yy2 / 12 - (2 * xy2) / 12, 13);
  });

  it('rejects tiny samples, wrong lengths and bad kernels', () => {
    expect(() => mmdTest(new Float64Array(1), 1, new Float64Array(2), 2, 1)).toThrow(ValueError);
    expect(() => mmdTest(new Float64Array(4), 2, new Float64Array(3), 2, 2)).toThrow(/m\*d/);
    expect(() =>
      mmdTest(new Float64Array([0, 1]), 2, new Float64Array([2, 3]), 2, 1, {
        kernel: { type: 'rbf', sigma: -1 },
      }),
    ).toThrow(/bandwidth/);
  });
});

describe('precisionRecall', () => {
  it('knnRadii: squared distance to the k-th neighbour', () => {
    expect([...knnRadii(new Float64Array([0, 1, 3, 7]), 4, 1, 1)]).toEqual([1, 1, 4, 16]);
    expect([...knnRadii(new Float64Array([0, 1, 3, 7]), 4, 1, 2)]).toEqual([9, 4, 9, 36]);
  });

  it('is 1 / 1 on identical sets', () => {
    const rng = new Rng(4);
    const x = normals(300 * 3, rng);
    const r = precisionRecall(x, 300, x, 300, 3);
    expect(r.precision).toBe(1);
    expect(r.recall).toBe(1);
  });

  it('is 0 / 0 on far-apart sets, and precision stays high for a subset (low recall)', () => {
    const rng = new Rng(5);
    const x = normals(400 * 2, rng);
    const far = x.map((v) => v + 100);
    const r = precisionRecall(x, 400, far, 400, 2);
    expect(r.precision).toBe(0);
    expect(r.recall).toBe(0);
    // the generated set covers only the x > 0.5 half plane (a "mode-dropping" model)
    const keep: number[] = [];
    for (let i = 0; i < 400; i++) if (x[2 * i]! > 0.5) keep.push(x[2 * i]!, x[2 * i + 1]!);
    const sub = Float64Array.from(keep);
    const pr = precisionRecall(x, 400, sub, sub.length / 2, 2);
    expect(pr.precision).toBe(1);
    expect(pr.recall).toBeLessThan(0.6);
  });
});
