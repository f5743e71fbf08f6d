/**
 * Internal: a convolution with one-sided padding folded into the conv op (see {@link PadConv}).
 */
import { getInitializer, Module, type Rng, tf } from '@dgm-js/core-tensors';

/**
 * A stride-1 convolution with explicit (possibly one-sided) zero padding, done inside the
 * convolution op (no separate pad or slice ops, which are slow on the wasm backend). With
 * `zeroLast` the kernel gets one more all-zero row ('rows') or column ('cols') at its end:
 * with one extra row of top padding that is a one-row downward shift folded into the
 * convolution, with one extra column of left padding a one-column right shift.
 */
export class PadConv extends Module {
  readonly kernel: tf.Variable;
  readonly bias: tf.Variable | undefined;
  private readonly pad: [[number, number], [number, number], [number, number], [number, number]];
  private readonly zeroLast: 'rows' | 'cols' | undefined;

  constructor(
    cin: number,
    cout: number,
    kernel: [number, number],
    pad: { top?: number; left?: number; right?: number },
    rng: Rng,
    opts: { bias?: boolean; zeroLast?: 'rows' | 'cols' } = {},
  ) {
    super('PadConv');
    this.kernel = this.addParameter(
      'kernel',
      getInitializer('glorotUniform')([...kernel, cin, cout], rng),
    );
    this.bias = opts.bias === false ? undefined : this.addParameter('bias', tf.zeros([cout]));
    this.pad = [
      [0, 0],
      [pad.top ?? 0, 0],
      [pad.left ?? 0, pad.right ?? 0],
      [0, 0],
    ];
    this.zeroLast = opts.zeroLast;
  }

  apply(x: tf.Tensor): tf.Tensor {
    return tf.tidy(() => {
      let k: tf.Tensor = this.kernel;
      if (this.zeroLast) {
        const [kh, kw, ci, co] = k.shape as [number, number, number, number];
        const axis = this.zeroLast === 'rows' ? 0 : 1;
        k = tf.concat([k, tf.zeros(axis === 0 ? [1, kw, ci, co] : [kh, 1, ci, co])], axis);
      }
      const y = tf.conv2d(x as tf.Tensor4D, k as tf.Tensor4D, 1, this.pad, 'NHWC');
      return this.bias ? tf.add(y, this.bias) : y;
    });
  }
}
