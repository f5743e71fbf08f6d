/**
 * Dense layers: `Dense`, `MaskedDense` (MADE), the `Activation` module, `Sequential` and the
 * `mlp` builder.
 */
import { fmtShape, ShapeError, ValueError } from '../errors.js';
import type { Rng } from '../rng.js';
import { tf } from '../tf.js';
import { checkInt } from '../validate.js';
import { type Activation, type ActivationFn, getActivation } from './activations.js';
import { getInitializer, type Initializer, type InitializerName } from './init.js';
import { Module } from './module.js';

/** Options of {@link Dense} and {@link MaskedDense}. */
export interface DenseOptions {
  /** The seed stream for the initial weights (required, so every run is reproducible). */
  rng: Rng;
  /** Whether the layer has a bias. Default true. */
  bias?: boolean;
  /** Applied to the output. Default 'identity'. */
  activation?: Activation;
  /** Default 'glorotUniform'. */
  kernelInit?: InitializerName | Initializer;
  /** Default 'zeros'. */
  biasInit?: InitializerName | Initializer;
}

/**
 * A fully connected layer: y = act(x W + b), W of shape `[inFeatures, outFeatures]`. The input
 * may have any leading dimensions (`[..., inFeatures]`).
 *
 * @example
 * ```ts
 * import { Dense, Rng, tf } from '@dgm-js/core-tensors';
 * const layer = new Dense(784, 256, { rng: new Rng(0), activation: 'relu' });
 * const y = layer.apply(tf.zeros([32, 784])); // [32, 256]
 * y.dispose();
 * layer.dispose();
 * ```
 */
export class Dense extends Module {
  readonly inFeatures: number;
  readonly outFeatures: number;
  readonly kernel: tf.Variable;
  readonly bias: tf.Variable | undefined;
  protected readonly act: ActivationFn;

  constructor(inFeatures: number, outFeatures: number, opts: DenseOptions, kind = 'Dense') {
    super(kind);
    checkInt(inFeatures, 'inFeatures', kind);
    checkInt(outFeatures, 'outFeatures', kind);
    if (!opts?.rng) throw new ValueError(`${kind}: options.rng (an Rng) is required.`);
    this.inFeatures = inFeatures;
    this.outFeatures = outFeatures;
    this.act = getActivation(opts.activation ?? 'identity');
    const kinit = getInitializer(opts.kernelInit ?? 'glorotUniform');
    this.kernel = this.addParameter('kernel', kinit([inFeatures, outFeatures], opts.rng));
    this.bias =
      opts.bias === false
        ? undefined
        : this.addParameter(
            'bias',
            getInitializer(opts.biasInit ?? 'zeros')([outFeatures], opts.rng),
          );
  }

  /** The kernel as used in the product (MaskedDense multiplies in its mask). */
  protected effectiveKernel(): tf.Tensor {
    return this.kernel;
  }

  /** y = act(x W + b) over the last axis of `x`. */
  apply(x: tf.Tensor): tf.Tensor {
    const n = this.inFeatures;
    if (x.rank < 1 || x.shape[x.rank - 1] !== n) {
      throw new ShapeError(
        `${this.label}: expected input [..., ${n}] (last axis = inFeatures), got ${fmtShape(x.shape)}.`,
      );
    }
    return tf.tidy(() => {
      const x2 = x.rank === 2 ? x : tf.reshape(x, [-1, n]);
      let y = tf.matMul(x2, this.effectiveKernel());
      if (this.bias) y = tf.add(y, this.bias);
      y = this.act(y);
      return x.rank === 2 ? y : tf.reshape(y, [...x.shape.slice(0, -1), this.outFeatures]);
    });
  }
}

/** Reads a 0/1 mask given as a tensor or nested array and checks its shape and values (internal). */
export function readMask(
  mask: tf.Tensor | number[][] | number[][][][],
  shape: number[],
  who: string,
): tf.Tensor {
  const t =
    mask instanceof tf.Tensor
      ? tf.cast(mask, 'float32')
      : tf.tensor(mask as number[][], undefined, 'float32');
  if (t.shape.join() !== shape.join()) {
    const got = [...t.shape];
    t.dispose();
    throw new ShapeError(`${who}: mask must have shape ${fmtShape(shape)}, got ${fmtShape(got)}.`);
  }
  const vals = t.dataSync();
  for (let i = 0; i < vals.length; i++) {
    if (vals[i] !== 0 && vals[i] !== 1) {
      t.dispose();
      throw new ValueError(
        `${who}: mask entries must be 0 or 1, got ${vals[i]} at flat index ${i}.`,
      );
    }
  }
  return t;
}

/**
 * A dense layer whose kernel is multiplied elementwise by a fixed 0/1 mask of shape
 * `[inFeatures, outFeatures]` (MADE, Germain et al. 2015): y = act(x (W * M) + b). Masked
 * weights get zero gradient. The mask is a buffer: saved and loaded with the state, never
 * trained; `setMask` replaces it (e.g. to resample orderings).
 *
 * @example
 * ```ts
 * // output j sees inputs i < j (a strictly lower-triangular connectivity)
 * const mask = [[0, 1, 1], [0, 0, 1], [0, 0, 0]];
 * const layer = new MaskedDense(3, 3, mask, { rng: new Rng(0) });
 * ```
 */
export class MaskedDense extends Dense {
  readonly mask: tf.Variable;

  constructor(
    inFeatures: number,
    outFeatures: number,
    mask: tf.Tensor | number[][],
    opts: DenseOptions,
  ) {
    super(inFeatures, outFeatures, opts, 'MaskedDense');
    let m: tf.Tensor;
    try {
      m = readMask(mask, [inFeatures, outFeatures], 'MaskedDense');
    } catch (e) {
      this.dispose();
      throw e;
    }
    this.mask = this.addBuffer('mask', m);
  }

  /** Replaces the mask (same shape, 0/1 entries). */
  setMask(mask: tf.Tensor | number[][]): void {
    const m = readMask(mask, [this.inFeatures, this.outFeatures], this.label);
    this.mask.assign(m);
    m.dispose();
  }

  protected override effectiveKernel(): tf.Tensor {
    return tf.mul(this.kernel, this.mask);
  }
}

/**
 * An activation as a module (no parameters), for use inside {@link Sequential}.
 *
 * @example
 * ```ts
 * const net = new Sequential([new Dense(2, 4, { rng }), new ActivationLayer('tanh')]);
 * ```
 */
export class ActivationLayer extends Module {
  private readonly fn: ActivationFn;
  readonly activation: Activation;

  constructor(activation: Activation) {
    super('Activation');
    this.activation = activation;
    this.fn = getActivation(activation);
  }

  /** act(x), always a new tensor (identity returns a copy). */
  apply(x: tf.Tensor): tf.Tensor {
    return tf.tidy(() => {
      const y = this.fn(x);
      return y === x ? tf.clone(x) : y;
    });
  }
}

/**
 * Modules applied in order; children are named `0`, `1`, ... so parameters are `0.kernel`, ...
 *
 * @example
 * ```ts
 * const rng = new Rng(0);
 * const net = new Sequential([
 *   new Dense(2, 16, { rng, activation: 'relu' }),
 *   new Dense(16, 1, { rng }),
 * ]);
 * const y = net.apply(tf.zeros([5, 2])); // [5, 1]
 * ```
 */
export class Sequential extends Module {
  readonly layers: readonly Module[];

  constructor(layers: readonly Module[]) {
    super('Sequential');
    if (layers.length === 0) throw new ValueError('Sequential: needs at least one layer.');
    this.layers = layers.map((l, i) => this.addModule(String(i), l));
  }

  /** Applies every layer in turn. */
  apply(x: tf.Tensor): tf.Tensor {
    return tf.tidy(() => {
      let h = x;
      for (const l of this.layers) h = l.apply(h);
      return h;
    });
  }
}

/** Options of {@link mlp}. */
export interface MlpOptions {
  rng: Rng;
  /** Between layers. Default 'relu'. */
  activation?: Activation;
  /** After the last layer. Default 'identity'. */
  outputActivation?: Activation;
  bias?: boolean;
  kernelInit?: InitializerName | Initializer;
}

/**
 * A multilayer perceptron from layer sizes: `mlp([784, 256, 256, 10], ...)` is three `Dense`
 * layers (784->256->256->10) with `activation` between and `outputActivation` at the end.
 * Parameter names: `0.kernel`, `0.bias`, `1.kernel`, ...
 *
 * @example
 * ```ts
 * const net = mlp([2, 64, 64, 1], { rng: new Rng(0), activation: 'tanh' });
 * const y = net.apply(tf.randomNormal([8, 2])); // [8, 1]
 * ```
 */
export function mlp(sizes: readonly number[], opts: MlpOptions): Sequential {
  if (sizes.length < 2) {
    throw new ValueError(
      `mlp: sizes needs at least [inFeatures, outFeatures], got [${sizes.join(', ')}].`,
    );
  }
  const layers: Dense[] = [];
  try {
    for (let i = 0; i + 1 < sizes.length; i++) {
      const last = i + 2 === sizes.length;
      layers.push(
        new Dense(sizes[i]!, sizes[i + 1]!, {
          rng: opts.rng,
          activation: last ? (opts.outputActivation ?? 'identity') : (opts.activation ?? 'relu'),
          ...(opts.bias === undefined ? {} : { bias: opts.bias }),
          ...(opts.kernelInit === undefined ? {} : { kernelInit: opts.kernelInit }),
        }),
      );
    }
  } catch (e) {
    for (const l of layers) l.dispose();
    throw e;
  }
  return new Sequential(layers);
}
