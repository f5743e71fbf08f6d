/**
 * Second derivatives of the input-saving sigmoid / tanh / exp / softmax against central finite
 * differences of their first derivatives (tfjs's built-in versions fail this: the saved output's
 * clone is taped before the op, so the second-order term through it is dropped).
 */
import { tf } from '@dgm-js/core-tensors';
import { expect, it } from 'vitest';
import { exp2, sigmoid2, softmax2, tanh2 } from './smooth.js';

type Tensor = tf.Tensor;

it('d/dl d/dx of compositions matches finite differences', () => {
  const cases: [string, (x: Tensor, l: Tensor) => Tensor][] = [
    ['sigmoid(x / l)', (x, l) => sigmoid2(tf.div(x, l))],
    ['exp(x l)', (x, l) => exp2(tf.mul(x, l))],
    ['tanh(x l)', (x, l) => tanh2(tf.mul(x, l))],
    [
      'softmax([x, 0.1] / l) . [1, 2]',
      (x, l) =>
        tf.sum(tf.mul(softmax2(tf.div(tf.stack([x, tf.scalar(0.1)]), l)), tf.tensor1d([1, 2]))),
    ],
    [
      '(sigmoid(x / exp l) - 0.45)^2',
      (x, l) => tf.square(tf.sub(sigmoid2(tf.div(x, exp2(l))), 0.45)),
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
  expect(sigmoid2(x)).toBeAllclose(tf.sigmoid(x), { rtol: 1e-6, atol: 1e-7 });
  expect(tanh2(x)).toBeAllclose(tf.tanh(x), { rtol: 1e-6, atol: 1e-7 });
  expect(exp2(x)).toBeAllclose(tf.exp(x), { rtol: 1e-6, atol: 1e-7 });
  expect(softmax2(x)).toBeAllclose(tf.softmax(x), { rtol: 1e-6, atol: 1e-7 });
  expect(tf.grad(sigmoid2)(x)).toBeAllclose(tf.grad(tf.sigmoid)(x), { rtol: 1e-6, atol: 1e-7 });
});
