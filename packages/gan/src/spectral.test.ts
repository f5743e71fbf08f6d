import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadModule, Rng, saveModule, tf, ValueError } from '@dgm-js/core-tensors';
import { expectNoLeaks } from '@dgm-js/test-utils';
import { describe, expect, it } from 'vitest';
import { MlpCritic } from './networks.js';
import { powerIterate, SNConv2d, SNDense } from './spectral.js';

/** The largest singular value of a row-major [rows, cols] matrix: float64 power iteration on W^T W. */
function sigmaMax(w: ArrayLike<number>, rows: number, cols: number): number {
  let x = Float64Array.from({ length: cols }, (_, i) => Math.sin(i + 1) + 0.1);
  let lambda = 0;
  for (let it = 0; it < 20000; it++) {
    const wx = new Float64Array(rows);
    for (let r = 0; r < rows; r++)
      for (let c = 0; c < cols; c++) wx[r]! += w[r * cols + c]! * x[c]!;
    const y = new Float64Array(cols);
    for (let r = 0; r < rows; r++)
      for (let c = 0; c < cols; c++) y[c]! += w[r * cols + c]! * wx[r]!;
    const n = Math.hypot(...y);
    lambda = n / Math.hypot(...x);
    x = y.map((v) => v / n);
  }
  return Math.sqrt(lambda);
}

const scalar = (t: tf.Tensor) => {
  const v = t.dataSync()[0]!;
  t.dispose();
  return v;
};

describe('spectral normalisation', () => {
  it('SNDense: sigma converges to the largest singular value; the normalised kernel has norm 1', () => {
    const layer = new SNDense(7, 5, { rng: new Rng(0), initialIterations: 0 });
    const w = layer.kernel.dataSync();
    const exact = sigmaMax(w, 7, 5);
    layer.powerIteration(200);
    expect(scalar(layer.sigma())).toBeCloseTo(exact, 4);
    // Lipschitz 1: |f(a) - f(b)| <= |a - b| for the linear layer, with equality approached
    const a = tf.randomNormal([64, 7], 0, 1, 'float32', 1);
    const b = tf.randomNormal([64, 7], 0, 1, 'float32', 2);
    const ratio = tf.tidy(() => {
      const dy = tf.norm(tf.sub(layer.apply(a), layer.apply(b)), 'euclidean', 1);
      const dx = tf.norm(tf.sub(a, b), 'euclidean', 1);
      return tf.max(tf.div(dy, dx));
    });
    expect(scalar(ratio)).toBeLessThanOrEqual(1 + 1e-5);
    const eff = tf.tidy(() => tf.div(layer.kernel, layer.sigma()));
    expect(sigmaMax(eff.dataSync(), 7, 5)).toBeCloseTo(1, 4);
    tf.dispose([a, b, eff]);
    layer.dispose();
  });

  it('one power iteration per step tracks a slowly changing weight', () => {
    const layer = new SNDense(6, 6, { rng: new Rng(1) }); // 15 initial iterations
    for (let step = 0; step < 30; step++) {
      layer.kernel.assign(
        tf.tidy(() =>
          tf.add(layer.kernel, tf.mul(0.01, tf.randomNormal([6, 6], 0, 1, 'float32', step + 10))),
        ),
      );
      layer.powerIteration();
    }
    const exact = sigmaMax(layer.kernel.dataSync(), 6, 6);
    expect(Math.abs(scalar(layer.sigma()) - exact) / exact).toBeLessThan(0.02);
    layer.dispose();
  });

  it('SNConv2d normalises the kernel as the matrix [kh * kw * in, out]', () => {
    const conv = new SNConv2d(2, 3, 3, { rng: new Rng(2), stride: 2 });
    conv.powerIteration(300);
    expect(scalar(conv.sigma())).toBeCloseTo(sigmaMax(conv.kernel.dataSync(), 18, 3), 4);
    const y = conv.apply(tf.zeros([2, 8, 8, 2]));
    expect(y.shape).toEqual([2, 4, 4, 3]);
    y.dispose();
    expect(conv.namedBuffers().map(([n, v]) => `${n} ${v.shape}`)).toEqual(['sn_u 3', 'sn_v 18']);
    conv.dispose();
  });

  it('u and v are saved and restored with the module: a loaded copy continues identically', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gan-sn-'));
    try {
      const a = new MlpCritic({
        inputShape: 3,
        hidden: [8, 8],
        spectralNorm: true,
        rng: new Rng(3),
      });
      expect(powerIterate(a, 3)).toBe(3);
      await saveModule(a, dir);
      const b = new MlpCritic({
        inputShape: 3,
        hidden: [8, 8],
        spectralNorm: true,
        rng: new Rng(99),
      });
      await loadModule(b, dir);
      powerIterate(a);
      powerIterate(b);
      const x = tf.randomNormal([4, 3], 0, 1, 'float32', 5);
      const sa = a.score(x);
      const sb = b.score(x);
      expect(Array.from(sb.dataSync())).toEqual(Array.from(sa.dataSync()));
      for (const [[n, u], [, v]] of a
        .namedBuffers()
        .map((e, i) => [e, b.namedBuffers()[i]!] as const)) {
        expect(Array.from(v.dataSync()), n).toEqual(Array.from(u.dataSync()));
      }
      tf.dispose([x, sa, sb]);
      a.dispose();
      b.dispose();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('rejects bad iteration counts and leaks nothing', async () => {
    const layer = new SNDense(3, 2, { rng: new Rng(4) });
    expect(() => layer.powerIteration(-1)).toThrow(ValueError);
    expect(() => new SNDense(3, 2, { rng: new Rng(4), initialIterations: 1.5 })).toThrow(
      /iterations/,
    );
    const x = tf.ones([2, 3]);
    await expectNoLeaks(() => {
      layer.powerIteration(2);
      layer.sigma().dispose();
      layer.apply(x).dispose();
      const { value, grads } = tf.variableGrads(() => tf.sum(layer.apply(x)) as tf.Scalar);
      value.dispose();
      tf.dispose(grads);
    }, 'SNDense');
    await expectNoLeaks(() => {
      const c = new SNConv2d(1, 2, 3, { rng: new Rng(5) });
      const x1 = tf.ones([1, 4, 4, 1]);
      c.apply(x1).dispose();
      x1.dispose();
      c.dispose();
    }, 'SNConv2d');
    x.dispose();
    layer.dispose();
  });
});
