/**
 * The double-backprop-safe activations: second derivatives against analytic values computed in
 * float64 here (sigmoid'', tanh'', exp'', softmax Hessian-vector products), mixed partials of
 * compositions against central finite differences of the first derivative, and tfjs's stock ops
 * shown wrong on the same checks, so the guard is dropped the day tfjs fixes the trap and not
 * before.
 */
import { expectNoLeaks } from '@dgm-js/test-utils';
import { describe, expect, it } from 'vitest';
import { ValueError } from '../errors.js';
import { tf } from '../tf.js';
import {
  checkLeakySlope,
  safeExp,
  safeLeakyRelu,
  safeSigmoid,
  safeSoftmax,
  safeTanh,
} from './second-order.js';

type Tensor = tf.Tensor;
type Fn = (x: Tensor) => Tensor;

const XS = [-2.5, -0.7, 0.3, 1.9];
/** Weights on f(x) inside the first gradient and on f'(x) inside the second. */
const A = [1, 2, 3, 4];
const W = [0.5, -1, 2, 1];

const sig = (t: number) => 1 / (1 + Math.exp(-t));

/**
 * d/dx sum(W * d/dx sum(A * f(x) + x^2)): elementwise W_i (A_i f''(x_i) + 2). The x^2 term keeps
 * a path from x to the result when the f'' path is lost (then tf.grad returns W * 2, not throws).
 */
function secondDerivative(f: Fn, xs: number[] = XS): number[] {
  return tf.tidy(() => {
    const inner = (u: Tensor) =>
      tf.sum(tf.add(tf.mul(f(u), tf.tensor1d(A)), tf.square(u))) as tf.Scalar;
    const outer = (v: Tensor) => tf.sum(tf.mul(tf.grad(inner)(v), tf.tensor1d(W))) as tf.Scalar;
    return Array.from(tf.grad(outer)(tf.tensor1d(xs)).dataSync());
  });
}

const expected = (f2: (t: number) => number) => XS.map((t, i) => W[i]! * (A[i]! * f2(t) + 2));

const ANALYTIC: [string, Fn, Fn, (t: number) => number][] = [
  ['sigmoid', safeSigmoid, tf.sigmoid, (t) => sig(t) * (1 - sig(t)) * (1 - 2 * sig(t))],
  ['tanh', safeTanh, tf.tanh, (t) => -2 * Math.tanh(t) * (1 - Math.tanh(t) ** 2)],
  ['exp', safeExp, tf.exp, Math.exp],
];

describe('second derivatives against analytic values', () => {
  for (const [name, safe, , f2] of ANALYTIC) {
    it(`${name}''`, () => {
      expect(secondDerivative(safe)).toBeAllclose(expected(f2), { rtol: 1e-5, atol: 1e-6 });
    });
  }

  it('softmax: Hessian-vector products of c . softmax(x), row by row', () => {
    const x = [
      [0.3, -1.2, 2.0, 0.1],
      [-0.5, 0.5, 0.0, 1.5],
    ];
    const c = [1, -2, 0.5, 3];
    const v = [
      [0.7, 0.2, -1.1, 0.4],
      [1.0, -0.3, 0.6, -0.8],
    ];
    const got = tf.tidy(() => {
      const g = (u: Tensor) => tf.sum(tf.mul(safeSoftmax(u), tf.tensor1d(c))) as tf.Scalar;
      const hv = (u: Tensor) => tf.sum(tf.mul(tf.grad(g)(u), tf.tensor2d(v))) as tf.Scalar;
      return tf.grad(hv)(tf.tensor2d(x)).arraySync() as number[][];
    });
    // H_ik = s_i (c_i - cbar) (delta_ik - s_k) - s_i s_k (c_k - cbar), cbar = sum_j s_j c_j
    const want = x.map((row, r) => {
      const m = Math.max(...row);
      const e = row.map((t) => Math.exp(t - m));
      const z = e.reduce((a, b) => a + b, 0);
      const s = e.map((t) => t / z);
      const cbar = s.reduce((acc, si, j) => acc + si * c[j]!, 0);
      return s.map((si, i) =>
        s.reduce((acc, sk, k) => {
          const h = si * (c[i]! - cbar) * ((i === k ? 1 : 0) - sk) - si * sk * (c[k]! - cbar);
          return acc + h * v[r]![k]!;
        }, 0),
      );
    });
    expect(got).toBeAllclose(want, { rtol: 1e-5, atol: 1e-6 });
  });

  it("leaky ReLU: the second pass runs and gives f'' = 0 (the stock op throws)", () => {
    for (const alpha of [0.2, 0.1, 0]) {
      expect(secondDerivative((u) => safeLeakyRelu(u, alpha))).toBeAllclose(
        expected(() => 0),
        { rtol: 1e-6, atol: 1e-6 },
      );
      // d/dl d/dx leakyRelu(l x) = f'(l x) + l x f''(l x) = 1 for x > 0, alpha for x < 0
      const mixed = tf.tidy(() => {
        const inner = (l: Tensor) =>
          tf.grad((u: Tensor) => tf.sum(safeLeakyRelu(tf.mul(u, l), alpha)) as tf.Scalar)(
            tf.tensor1d(XS),
          );
        return Array.from(
          tf
            .grad((l: Tensor) => tf.sum(inner(l)) as tf.Scalar)(tf.scalar(0.6))
            .dataSync(),
        );
      });
      const n = XS.filter((t) => t > 0).length;
      expect(mixed[0]).toBeCloseTo(n + alpha * (XS.length - n), 5);
    }
    expect(() => secondDerivative((u) => tf.leakyRelu(u, 0.2))).toThrow(/Greater/);
  });
});

describe("tfjs's stock ops drop the f'' terms (the trap these guard against)", () => {
  for (const [name, , stock, f2] of ANALYTIC) {
    it(`tf.${name}: the second derivative comes out without f''`, () => {
      const got = secondDerivative(stock);
      // Exactly what is left when the f'' path is lost: W * 2 from the x^2 term alone. If tfjs
      // fixes its tape order, this fails: then the safe versions can go.
      expect(got, `has tfjs fixed ${name}'s second derivative?`).toBeAllclose(
        expected(() => 0),
        { rtol: 1e-6, atol: 1e-6 },
      );
      const want = expected(f2);
      const err = Math.max(...got.map((g, i) => Math.abs(g - want[i]!)));
      expect(err).toBeGreaterThan(0.1);
    });
  }

  it('tf.softmax: the Hessian-vector product is lost too', () => {
    const got = tf.tidy(() => {
      const g = (u: Tensor) =>
        tf.sum(tf.add(tf.mul(tf.softmax(u), tf.tensor1d([1, -2, 3])), tf.square(u))) as tf.Scalar;
      const hv = (u: Tensor) => tf.sum(tf.mul(tf.grad(g)(u), tf.tensor1d([1, 1, -1]))) as tf.Scalar;
      return Array.from(
        tf
          .grad(hv)(tf.tensor1d([0.2, -0.4, 1]))
          .dataSync(),
      );
    });
    expect(got).toBeAllclose([2, 2, -2], { rtol: 1e-6, atol: 1e-6 });
  });
});

describe('mixed partials of compositions against finite differences', () => {
  // moved from @dgm-js/estimators' smooth.test.ts (sigmoid2/tanh2/exp2/softmax2 there)
  it('d/dl d/dx of compositions matches finite differences', () => {
    const cases: [string, (x: Tensor, l: Tensor) => Tensor][] = [
      ['sigmoid(x / l)', (x, l) => safeSigmoid(tf.div(x, l))],
      ['exp(x l)', (x, l) => safeExp(tf.mul(x, l))],
      ['tanh(x l)', (x, l) => safeTanh(tf.mul(x, l))],
      [
        'softmax([x, 0.1] / l) . [1, 2]',
        (x, l) =>
          tf.sum(
            tf.mul(safeSoftmax(tf.div(tf.stack([x, tf.scalar(0.1)]), l)), tf.tensor1d([1, 2])),
          ),
      ],
      [
        '(sigmoid(x / exp l) - 0.45)^2',
        (x, l) => tf.square(tf.sub(safeSigmoid(tf.div(x, safeExp(l))), 0.45)),
      ],
    ];
    for (const [name, fn] of cases) {
      tf.tidy(() => {
        const x0 = tf.scalar(0.3);
        const inner = (l: Tensor) => tf.grad((x: Tensor) => fn(x, l))(x0);
        const g = tf.grad(inner)(tf.scalar(0.6)).dataSync()[0]!;
        const h = 1e-2;
        const fd =
          (inner(tf.scalar(0.6 + h)).dataSync()[0]! - inner(tf.scalar(0.6 - h)).dataSync()[0]!) /
          (2 * h);
        expect(g, name).toBeAllclose(fd, { rtol: 1e-3, atol: 1e-5 });
        // first derivatives and values equal the built-ins
        expect(fn(x0, tf.scalar(0.6)).dataSync()[0]!, name).toBeGreaterThan(-Infinity);
      });
    }
    const x = tf.tensor1d([-3, 0.2, 4]);
    expect(safeSigmoid(x)).toBeAllclose(tf.sigmoid(x), { rtol: 1e-6, atol: 1e-7 });
    expect(safeTanh(x)).toBeAllclose(tf.tanh(x), { rtol: 1e-6, atol: 1e-7 });
    expect(safeExp(x)).toBeAllclose(tf.exp(x), { rtol: 1e-6, atol: 1e-7 });
    expect(safeSoftmax(x)).toBeAllclose(tf.softmax(x), { rtol: 1e-6, atol: 1e-7 });
    expect(tf.grad(safeSigmoid)(x)).toBeAllclose(tf.grad(tf.sigmoid)(x), {
      rtol: 1e-6,
      atol: 1e-7,
    });
  });
});

describe('values, first derivatives, errors, leaks', () => {
  const x = [-30, -3, -0.5, 0, 0.2, 4, 30];
  const PAIRS: [string, Fn, Fn][] = [
    ['sigmoid', safeSigmoid, tf.sigmoid],
    ['tanh', safeTanh, tf.tanh],
    ['exp', safeExp, tf.exp],
    ['softmax', safeSoftmax, (t) => tf.softmax(t)],
    ['leakyRelu', safeLeakyRelu, (t) => tf.leakyRelu(t, 0.2)],
    ['leakyRelu 0.05', (t) => safeLeakyRelu(t, 0.05), (t) => tf.leakyRelu(t, 0.05)],
  ];

  it('equal the stock ops in value and first derivative, also at +-30 and on a batch', () => {
    tf.tidy(() => {
      const t = tf.tensor2d([x, x.map((v) => -v / 2)]);
      for (const [name, safe, stock] of PAIRS) {
        expect(safe(t), name).toBeAllclose(stock(t), { rtol: 1e-6, atol: 1e-7 });
        const w = tf.randomUniform(t.shape, -1, 1, 'float32', 3);
        const g = (f: Fn) => tf.grad((u: Tensor) => tf.sum(tf.mul(f(u), w)))(t);
        expect(g(safe), name).toBeAllclose(g(stock), { rtol: 1e-5, atol: 1e-7 });
      }
    });
  });

  it('allocate nothing beyond their result, through two backward passes', async () => {
    const t = tf.tensor1d(x.slice(1, -1));
    for (const [name, safe] of PAIRS) {
      await expectNoLeaks(() => safe(t).dispose(), `${name} forward`);
      await expectNoLeaks(() => {
        const d2 = tf.grad((v: Tensor) =>
          tf.sum(tf.grad((u: Tensor) => tf.sum(tf.mul(safe(u), u)))(v)),
        )(t);
        d2.dispose();
      }, `${name} second derivative`);
    }
    t.dispose();
  });

  it('reject a bad leaky ReLU slope with a ValueError naming it', () => {
    const t = tf.tensor1d([1]);
    for (const bad of [1, -0.1, Number.NaN, 2]) {
      expect(() => safeLeakyRelu(t, bad)).toThrow(ValueError);
      expect(() => safeLeakyRelu(t, bad)).toThrow(/safeLeakyRelu: the leaky ReLU slope/);
    }
    expect(() => checkLeakySlope('0.1', 'myCritic')).toThrow(/myCritic: .* got 0\.1\./);
    expect(checkLeakySlope(0, 'x')).toBe(0);
    t.dispose();
  });
});
