/**
 * Gradient penalties, checked to the second derivative: the gradient of each penalty with respect
 * to the critic's parameters (autodiff through the input gradient, in float32) against central
 * differences (step 1e-6) of the same penalty computed by an independent float64 implementation
 * of the critic with a hand-written input gradient (test-reference.ts).
 *
 * Tolerance: the reference is exact to ~1e-9 (finite-difference truncation ~h^2 = 1e-12, rounding
 * ~1e-16 / h = 1e-10), so the difference is float32 rounding of the autodiff side, ~1e-5 relative
 * over these few dozen ops; we allow rtol 2e-3 plus atol 1e-4 of the largest entry. The error a
 * missing second-derivative term makes is O(10%) or more (shown below for tf.sigmoid), far outside.
 */
import { Dense, Rng, Sequential, ShapeError, tf, ValueError } from '@dgm-js/core-tensors';
import { expectNoLeaks } from '@dgm-js/test-utils';
import { describe, expect, it } from 'vitest';
import { type CriticActivation, criticActivationNames, safeSigmoid } from './activations.js';
import { nonSaturating, wasserstein } from './losses.js';
import { MlpCritic } from './networks.js';
import {
  type CriticFn,
  gradientPenalty,
  inputGradient,
  r1Penalty,
  r2Penalty,
} from './penalties.js';
import {
  type Case,
  checkPenalty,
  D,
  type RefAct,
  type RefLayer,
  refAct,
  refPen,
  refScoreAndGrad,
} from './test-reference.js';

/** Dense layers (kernel, bias pairs in order) with `act` between and optional output activation. */
function denseRef(
  params: Float64Array[],
  sizes: number[],
  act: RefAct,
  sigmas?: number[],
  outAct?: RefAct,
): RefLayer[] {
  const layers: RefLayer[] = [];
  for (let i = 0; i + 1 < sizes.length; i++) {
    const s = sigmas?.[i] ?? 1;
    const w = sigmas ? params[2 * i]!.map((x) => x / s) : params[2 * i]!;
    layers.push({ kind: 'dense', w, b: params[2 * i + 1]!, inF: sizes[i]!, outF: sizes[i + 1]! });
    if (i + 2 < sizes.length) layers.push({ kind: 'act', act });
  }
  if (outAct) layers.push({ kind: 'act', act: outAct });
  return layers;
}

function mlpCase(critic: MlpCritic, act: string, labels?: tf.Tensor): Case {
  const hidden = critic.layers.layers.map((l) => (l as Dense).outFeatures);
  const sizes = [D, ...hidden, 1];
  const named = critic.namedParameters().filter(([, v]) => v.trainable);
  const names = named.map(([n]) => n);
  const vars = named.map(([, v]) => v);
  const buffers = new Map(critic.namedBuffers().map(([n, v]) => [n, v.dataSync()]));
  const y = labels ? Array.from(labels.dataSync()) : undefined;
  const prefix = (i: number) => (i === sizes.length - 2 ? 'out' : `layers.${i}`);
  return {
    vars,
    score: (x) => critic.score(x, labels),
    ref: (params, points, pen) => {
      const p = (n: string) => params[names.indexOf(n)]!;
      // kernel, bias pairs in layer order
      const dense = sizes
        .slice(0, -1)
        .flatMap((_, i) => [p(`${prefix(i)}.kernel`), p(`${prefix(i)}.bias`)]);
      let sigmas: number[] | undefined;
      if (buffers.size > 0) {
        // sigma = v^T W u with the buffers u, v held constant (as the layer does)
        sigmas = sizes.slice(0, -1).map((inF, i) => {
          const u = buffers.get(`${prefix(i)}.sn_u`)!;
          const v = buffers.get(`${prefix(i)}.sn_v`)!;
          const w = dense[2 * i]!;
          const outF = sizes[i + 1]!;
          let s = 0;
          for (let a = 0; a < inF; a++)
            for (let b = 0; b < outF; b++) s += v[a]! * w[a * outF + b]! * u[b]!;
          return s;
        });
      }
      const layers = denseRef(dense, sizes, refAct(act), sigmas);
      const embed = y ? p('embed') : undefined;
      const h = hidden[hidden.length - 1]!;
      return refPen(
        (pt) => {
          const i = points.indexOf(pt);
          return refScoreAndGrad(
            layers,
            pt,
            embed
              ? {
                  embedRow: embed.subarray(y![i]! * h, (y![i]! + 1) * h),
                  featureLayer: layers.length - 2,
                }
              : undefined,
          );
        },
        points,
        pen,
      );
    },
  };
}

const ACTS: [CriticActivation, string][] = [
  ...criticActivationNames.map((a) => [a, a] as [CriticActivation, string]),
  [['leakyRelu', 0.1], 'leakyRelu:0.1'],
];

describe('gradient penalties: gradients w.r.t. critic parameters match float64 finite differences', () => {
  for (const [act, name] of ACTS) {
    it(`MLP critic with ${name}: WGAN-GP, R1, R2`, () => {
      const critic = new MlpCritic({
        inputShape: D,
        hidden: [5, 4],
        activation: act,
        rng: new Rng(11),
      });
      for (const [pen, seed] of [
        ['gp', 1],
        ['r1', 2],
        ['r2', 3],
      ] as const) {
        const r = checkPenalty(mlpCase(critic, name), pen, seed);
        expect(r.pass, `${name} ${pen}: ${r.message}`).toBe(true);
      }
      critic.dispose();
    });
  }

  it('spectrally normalised MLP critic (tanh): WGAN-GP and R1', () => {
    const critic = new MlpCritic({
      inputShape: D,
      hidden: [5, 4],
      activation: 'tanh',
      spectralNorm: true,
      rng: new Rng(12),
    });
    for (const [pen, seed] of [
      ['gp', 4],
      ['r1', 5],
    ] as const) {
      const r = checkPenalty(mlpCase(critic, 'tanh'), pen, seed);
      expect(r.pass, `${pen}: ${r.message}`).toBe(true);
    }
    critic.dispose();
  });

  it('conditional (projection) MLP critic: WGAN-GP and R1 with labels', () => {
    const critic = new MlpCritic({
      inputShape: D,
      hidden: [5, 4],
      numClasses: 3,
      rng: new Rng(13),
    });
    const labels = tf.tensor1d([2, 0, 1], 'int32');
    for (const [pen, seed] of [
      ['gp', 6],
      ['r1', 7],
    ] as const) {
      const r = checkPenalty(mlpCase(critic, 'leakyRelu', labels), pen, seed);
      expect(r.pass, `${pen}: ${r.message}`).toBe(true);
    }
    labels.dispose();
    critic.dispose();
  });
});

describe('the tfjs trap the safe activations guard against', () => {
  /** A hand-built critic with tfjs's stock activation (what a user might write). */
  function stockCase(
    activation: 'sigmoid' | 'tanh' | 'relu',
    output?: (t: tf.Tensor) => tf.Tensor,
  ): Case & { dispose: () => void } {
    const rng = new Rng(21);
    const net = new Sequential([new Dense(D, 5, { rng, activation }), new Dense(5, 1, { rng })]);
    return {
      vars: net.parameters(),
      score: (x) => tf.tidy(() => (output ? output(net.apply(x)) : net.apply(x))),
      ref: (params, points, pen) => {
        const layers = denseRef(
          params,
          [D, 5, 1],
          refAct(activation),
          undefined,
          output ? refAct('sigmoid') : undefined,
        );
        return refPen((p) => refScoreAndGrad(layers, p), points, pen);
      },
      dispose: () => net.dispose(),
    };
  }

  it('stock tf.sigmoid / tf.tanh in the critic give a wrong penalty gradient; the safe ones do not', () => {
    for (const act of ['sigmoid', 'tanh'] as const) {
      const stock = stockCase(act);
      const bad = checkPenalty(stock, 'gp', 31);
      // the f''(x) terms are dropped: a large error, not rounding
      expect(
        bad.pass,
        `stock ${act} unexpectedly matched: has tfjs fixed its second-order gradients?`,
      ).toBe(false);
      expect(bad.relErr).toBeGreaterThan(0.05);
      stock.dispose();
      const critic = new MlpCritic({
        inputShape: D,
        hidden: [5],
        activation: act,
        rng: new Rng(21),
      });
      const good = checkPenalty(mlpCase(critic, act), 'gp', 31);
      expect(good.pass, good.message).toBe(true);
      expect(good.relErr).toBeLessThan(1e-3);
      critic.dispose();
    }
  });

  it('a sigmoid-output critic: wrong with tf.sigmoid, right with safeSigmoid', () => {
    const stock = stockCase('relu', (t) => tf.sigmoid(t));
    const bad = checkPenalty(stock, 'r1', 32);
    expect(bad.pass).toBe(false);
    expect(bad.relErr).toBeGreaterThan(0.05);
    stock.dispose();
    const safe = stockCase('relu', safeSigmoid);
    const good = checkPenalty(safe, 'r1', 32);
    expect(good.pass, good.message).toBe(true);
    safe.dispose();
  });

  it('tf.leakyRelu cannot be differentiated twice at all (Greater has no gradient)', () => {
    const x = tf.tensor2d([[0.5, -1, 2]]);
    const w1 = tf.variable(
      tf.tensor2d([
        [1, -1],
        [2, 0.5],
        [-1, 1],
      ]),
    );
    const w2 = tf.variable(tf.tensor2d([[1], [-2]]));
    const critic: CriticFn = (v) => tf.matMul(tf.leakyRelu(tf.matMul(v, w1), 0.2), w2);
    expect(() => tf.variableGrads(() => r1Penalty(critic, x), [w1, w2])).toThrow(/Greater/);
    tf.dispose([x, w1, w2]);
  });

  it('the safe activations have the analytic second derivatives', () => {
    const s = (t: number) => 1 / (1 + Math.exp(-t));
    const xs = [-2.5, -0.7, 0.3, 1.9];
    const d2 = (f: (t: tf.Tensor) => tf.Tensor) =>
      tf.tidy(() =>
        Array.from(
          tf
            .grad((v: tf.Tensor) => tf.sum(tf.mul(tf.grad((u: tf.Tensor) => tf.sum(f(u)))(v), 1)))(
              tf.tensor1d(xs),
            )
            .dataSync(),
        ),
      );
    expect(d2(safeSigmoid)).toBeAllclose(
      xs.map((t) => s(t) * (1 - s(t)) * (1 - 2 * s(t))),
      { rtol: 1e-4, atol: 1e-6 },
    );
  });
});

describe('penalty values, errors and leaks', () => {
  it('equal the closed forms for a linear critic D(x) = a . x (gradient a everywhere)', () => {
    const a = tf.tensor1d([3, 4]); // |a| = 5
    const critic: CriticFn = (x) => tf.sum(tf.mul(x, a), 1);
    const real = tf.randomNormal([6, 2]);
    const fake = tf.randomNormal([6, 2]);
    const val = (t: tf.Tensor) => {
      const v = t.dataSync()[0]!;
      t.dispose();
      return v;
    };
    expect(val(gradientPenalty(critic, real, fake, { rng: new Rng(0) }))).toBeCloseTo(10 * 16, 3);
    expect(
      val(gradientPenalty(critic, real, fake, { rng: new Rng(0), weight: 1, target: 5 })),
    ).toBeCloseTo(0, 4);
    expect(val(r1Penalty(critic, real, { gamma: 2 }))).toBeCloseTo(25, 4);
    expect(val(r2Penalty(critic, fake))).toBeCloseTo(125, 3);
    const g = inputGradient(critic, real);
    expect(g).toBeAllclose(tf.tile(tf.reshape(a, [1, 2]), [6, 1]));
    tf.dispose([a, real, fake, g]);
  });

  it('reject bad arguments with typed errors that name them', () => {
    const critic: CriticFn = (x) => tf.sum(x, 1);
    const a = tf.zeros([4, 2]);
    const b = tf.zeros([3, 2]);
    expect(() => gradientPenalty(critic, a, b, { rng: new Rng(0) })).toThrow(ShapeError);
    expect(() => gradientPenalty(critic, a, b, { rng: new Rng(0) })).toThrow(
      /\[4, 2\] and \[3, 2\]/,
    );
    expect(() => gradientPenalty(critic, a, a, {})).toThrow(/random stream/);
    expect(() => gradientPenalty(critic, a, a, { epsilon: tf.zeros([2]) })).toThrow(
      /epsilon must be a tensor \[4\]/,
    );
    expect(() => gradientPenalty(critic, a, a, { rng: new Rng(0), weight: -1 })).toThrow(
      ValueError,
    );
    expect(() => r1Penalty('nope' as never, a)).toThrow(/critic must be a function/);
    expect(() => r1Penalty((x) => x, a)).toThrow(/critic\(x\) must be critic scores/);
    expect(() => r1Penalty(critic, tf.zeros([4]))).toThrow(ShapeError);
    tf.dispose([a, b]);
  });

  it('leak no tensors: values, and a critic step with each penalty (double backprop)', async () => {
    const critic = new MlpCritic({ inputShape: 2, hidden: [8], rng: new Rng(0) });
    const real = tf.randomNormal([4, 2]);
    const fake = tf.randomNormal([4, 2]);
    const score = (x: tf.Tensor) => critic.score(x);
    const rng = new Rng(1);
    for (const pen of [
      () => gradientPenalty(score, real, fake, { rng }),
      () => r1Penalty(score, real),
      () => r2Penalty(score, fake),
    ]) {
      await expectNoLeaks(() => pen().dispose(), 'penalty value');
      await expectNoLeaks(() => {
        const { value, grads } = tf.variableGrads(
          () => tf.add(wasserstein.critic(score(real), score(fake)), pen()) as tf.Scalar,
          critic.trainableParameters(),
        );
        value.dispose();
        tf.dispose(grads);
      }, 'critic step with penalty');
    }
    await expectNoLeaks(
      () => tf.tidy(() => nonSaturating.critic(score(real), score(fake))).dispose(),
      'loss',
    );
    tf.dispose([real, fake]);
    critic.dispose();
  });
});
