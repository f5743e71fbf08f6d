import { Rng, tf, ValueError } from '@dgm-js/core-tensors';
import { checkGradient, expectNoLeaks } from '@dgm-js/test-utils';
import { describe, expect, it } from 'vitest';
import type { CriticActivation } from './activations.js';
import { ConvTranspose2d, DcganCritic, DcganGenerator } from './dcgan.js';
import { powerIterate } from './spectral.js';
import {
  type Case,
  checkPenalty,
  type RefLayer,
  refAct,
  refPen,
  refScoreAndGrad,
} from './test-reference.js';

/** A small DCGAN critic on 8x8x1 and its float64 reference (conv, act, conv, act, dense). */
function convCase(
  act: CriticActivation,
  name: string,
  sn: boolean,
): Case & { critic: DcganCritic } {
  const critic = new DcganCritic({
    inputShape: [8, 8, 1],
    channels: [2, 3],
    kernelSize: 4,
    activation: act,
    spectralNorm: sn,
    rng: new Rng(41),
  });
  const named = critic.namedParameters();
  const names = named.map(([n]) => n);
  const buffers = new Map(critic.namedBuffers().map(([n, v]) => [n, v.dataSync()]));
  const sigma = (w: Float64Array, layer: string, rows: number, cols: number) => {
    const u = buffers.get(`${layer}.sn_u`)!;
    const v = buffers.get(`${layer}.sn_v`)!;
    let s = 0;
    for (let a = 0; a < rows; a++)
      for (let b = 0; b < cols; b++) s += v[a]! * w[a * cols + b]! * u[b]!;
    return s;
  };
  return {
    critic,
    inputShape: [8, 8, 1],
    vars: named.map(([, v]) => v),
    score: (x) => critic.score(x),
    ref: (params, points, pen) => {
      const p = (n: string) => params[names.indexOf(n)]!;
      const norm = (n: string, rows: number, cols: number) => {
        const w = p(`${n}.kernel`);
        if (!sn) return w;
        const s = sigma(w, n, rows, cols);
        return w.map((x) => x / s);
      };
      const a = refAct(name);
      const layers: RefLayer[] = [
        {
          kind: 'conv',
          k: norm('conv1', 16, 2),
          b: p('conv1.bias'),
          kh: 4,
          kw: 4,
          cin: 1,
          cout: 2,
          stride: 2,
          h: 8,
          w: 8,
        },
        { kind: 'act', act: a },
        {
          kind: 'conv',
          k: norm('conv2', 32, 3),
          b: p('conv2.bias'),
          kh: 4,
          kw: 4,
          cin: 2,
          cout: 3,
          stride: 2,
          h: 4,
          w: 4,
        },
        { kind: 'act', act: a },
        { kind: 'dense', w: norm('out', 12, 1), b: p('out.bias'), inF: 12, outF: 1 },
      ];
      return refPen((pt) => refScoreAndGrad(layers, pt), points, pen);
    },
  };
}

describe('DCGAN critic: penalty gradients match float64 finite differences', () => {
  for (const [act, name, sn] of [
    ['leakyRelu', 'leakyRelu', false],
    ['tanh', 'tanh', false],
    ['softplus', 'softplus', true],
  ] as [CriticActivation, string, boolean][]) {
    it(`${name}${sn ? ', spectral norm' : ''}: WGAN-GP and R1`, () => {
      const c = convCase(act, name, sn);
      for (const [pen, seed] of [
        ['gp', 51],
        ['r1', 52],
      ] as const) {
        const r = checkPenalty(c, pen, seed);
        expect(r.pass, `${name} ${pen}: ${r.message}`).toBe(true);
      }
      c.critic.dispose();
    });
  }
});

describe('DCGAN networks', () => {
  it('ConvTranspose2d doubles the resolution and has the gradient of its definition', () => {
    const up = new ConvTranspose2d(2, 3, 4, { rng: new Rng(0) });
    const x = tf.randomNormal([1, 3, 3, 2], 0, 1, 'float32', 1);
    const y = up.apply(x);
    expect(y.shape).toEqual([1, 6, 6, 3]);
    // input gradient by finite differences (float32; checkGradient's default tolerances)
    const r = checkGradient((v) => tf.sum(tf.square(up.apply(v))), x);
    expect(r.pass, r.message).toBe(true);
    expect(() => up.apply(tf.zeros([1, 3, 3, 5]))).toThrow(/\[batch, height, width, 2\]/);
    tf.dispose([x, y]);
    up.dispose();
  });

  it('generator: [n, 28, 28, 1] in [0, 1]; conditional labels change the image', () => {
    const g = new DcganGenerator({
      latentDim: 8,
      channels: [8, 4],
      numClasses: 10,
      rng: new Rng(2),
    });
    const z = g.sampleLatent(3, new Rng(3));
    const a = g.forward(z, tf.tensor1d([0, 1, 2], 'int32'));
    const b = g.forward(z, tf.tensor1d([5, 6, 7], 'int32'));
    expect(a.shape).toEqual([3, 28, 28, 1]);
    const [lo, hi, diff] = tf.tidy(() =>
      [tf.min(a), tf.max(a), tf.max(tf.abs(tf.sub(a, b)))].map((t) => t.dataSync()[0]!),
    );
    expect(lo).toBeGreaterThanOrEqual(0);
    expect(hi).toBeLessThanOrEqual(1);
    expect(diff).toBeGreaterThan(1e-4);
    tf.dispose([z, a, b]);
    g.dispose();
    expect(
      () => new DcganGenerator({ latentDim: 8, outputShape: [30, 30, 1], rng: new Rng(0) }),
    ).toThrow(/divisible by 4/);
    expect(() => new DcganCritic({ inputShape: [28, 28], rng: new Rng(0) })).toThrow(ValueError);
  });

  it('critic: [N] scores; spectral norm buffers found by powerIterate; conditional projection', () => {
    const d = new DcganCritic({
      channels: [4, 8],
      spectralNorm: true,
      numClasses: 10,
      rng: new Rng(4),
    });
    expect(powerIterate(d)).toBe(3);
    const x = tf.randomUniform([2, 28, 28, 1], 0, 1, 'float32', 5);
    const s = d.score(x, tf.tensor1d([3, 4], 'int32'));
    expect(s.shape).toEqual([2]);
    tf.dispose([x, s]);
    d.dispose();
  });

  it('generate, score and a training gradient of both leak nothing', async () => {
    const g = new DcganGenerator({ latentDim: 8, channels: [8, 4], rng: new Rng(6) });
    const d = new DcganCritic({ channels: [4, 8], rng: new Rng(7) });
    await expectNoLeaks(() => {
      const x = g.generate(2, new Rng(8));
      d.score(x).dispose();
      x.dispose();
      const { value, grads } = tf.variableGrads(
        () => tf.mean(d.score(g.generate(2, new Rng(9)))) as tf.Scalar,
      );
      expect(Object.keys(grads).length).toBe(g.parameters().length + d.parameters().length);
      value.dispose();
      tf.dispose(grads);
    }, 'DCGAN generate + score + gradients');
    g.dispose();
    d.dispose();
  });
});
