/**
 * The conv net behind the shipped MNIST classifier (and any other 28x28 grey-scale classifier
 * trained the same way): two 5x5 convolutions with 2x2 max pooling, one hidden dense layer (the
 * feature space of FID) and the class logits. Built from core-tensors' `Conv2d` and `Dense`.
 */
import {
  Conv2d,
  checkInt,
  Dense,
  fmtShape,
  Module,
  type Rng,
  ShapeError,
  tf,
  ValueError,
} from '@dgm-js/core-tensors';

type Tensor = tf.Tensor;

/** The layer sizes of a {@link ConvClassifier}. */
export interface ConvClassifierConfig {
  /** Image height and width (square). Default 28. */
  size?: number;
  /** Channels of the first convolution. Default 16. */
  channels1?: number;
  /** Channels of the second convolution. Default 32. */
  channels2?: number;
  /** Units of the hidden dense layer: the feature dimension of FID. Default 64. */
  features?: number;
  /** Number of classes. Default 10. */
  classes?: number;
  /** Pixels are standardised as (x - inputMean) / inputStd first. Default 0.1307 (MNIST's). */
  inputMean?: number;
  /** Default 0.3081 (MNIST's pixel standard deviation). */
  inputStd?: number;
}

/** Every field of {@link ConvClassifierConfig}, resolved. */
export type ResolvedClassifierConfig = Required<ConvClassifierConfig>;

/** Fills in the defaults of a {@link ConvClassifierConfig} (internal). */
export function resolveClassifierConfig(c: ConvClassifierConfig = {}): ResolvedClassifierConfig {
  const r = {
    size: c.size ?? 28,
    channels1: c.channels1 ?? 16,
    channels2: c.channels2 ?? 32,
    features: c.features ?? 64,
    classes: c.classes ?? 10,
  };
  for (const [k, v] of Object.entries(r)) checkInt(v, `config.${k}`, 'ConvClassifier');
  if (r.size % 4 !== 0) {
    throw new ValueError(
      `ConvClassifier: config.size must be a multiple of 4 (two 2x2 poolings), got ${r.size}.`,
    );
  }
  if (r.classes < 2) throw new ValueError(`ConvClassifier: config.classes must be >= 2.`);
  const inputMean = c.inputMean ?? 0.1307;
  const inputStd = c.inputStd ?? 0.3081;
  if (!Number.isFinite(inputMean) || !(inputStd > 0)) {
    throw new ValueError(
      `ConvClassifier: config.inputMean must be finite and inputStd positive, got ${inputMean} and ${inputStd}.`,
    );
  }
  return { ...r, inputMean, inputStd };
}

/** What {@link ConvClassifier.forward} returns: the penultimate features and the logits. */
export interface ClassifierOutput {
  /** `[n, features]`: the hidden layer's ReLU activations (the feature space of FID). */
  features: Tensor;
  /** `[n, classes]`: unnormalised class scores. */
  logits: Tensor;
}

/**
 * standardise - conv5x5(c1) - relu - maxpool2 - conv5x5(c2) - relu - maxpool2 - dense(features) - relu -
 * dense(classes). Input `[n, size, size, 1]` or flat `[n, size * size]`, pixels in [0, 1].
 *
 * @example
 * ```ts
 * import { Rng, tf } from '@dgm-js/core-tensors';
 * import { ConvClassifier } from '@dgm-js/eval';
 * const net = new ConvClassifier({ rng: new Rng(0) });
 * const logits = net.apply(tf.zeros([2, 28, 28, 1])); // [2, 10]
 * tf.dispose(logits);
 * net.dispose();
 * ```
 */
export class ConvClassifier extends Module {
  readonly config: ResolvedClassifierConfig;
  readonly conv1: Conv2d;
  readonly conv2: Conv2d;
  readonly hidden: Dense;
  readonly out: Dense;

  constructor(opts: ConvClassifierConfig & { rng: Rng }) {
    super('ConvClassifier');
    if (!opts?.rng) throw new ValueError('ConvClassifier: options.rng (an Rng) is required.');
    const c = resolveClassifierConfig(opts);
    this.config = c;
    const rng = opts.rng;
    const flat = (c.size / 4) * (c.size / 4) * c.channels2;
    this.conv1 = this.addModule(
      'conv1',
      new Conv2d(1, c.channels1, 5, { rng, activation: 'relu', kernelInit: 'heNormal' }),
    );
    this.conv2 = this.addModule(
      'conv2',
      new Conv2d(c.channels1, c.channels2, 5, { rng, activation: 'relu', kernelInit: 'heNormal' }),
    );
    this.hidden = this.addModule(
      'hidden',
      new Dense(flat, c.features, { rng, activation: 'relu', kernelInit: 'heNormal' }),
    );
    this.out = this.addModule('out', new Dense(c.features, c.classes, { rng }));
  }

  /** `x` as `[n, size, size, 1]` (accepts flat `[n, size * size]`); throws a ShapeError else. */
  private asImages(x: Tensor): tf.Tensor4D {
    const s = this.config.size;
    if (x.rank === 2 && x.shape[1] === s * s) return tf.reshape(x, [-1, s, s, 1]);
    if (x.rank === 4 && x.shape[1] === s && x.shape[2] === s && x.shape[3] === 1) {
      return x as tf.Tensor4D;
    }
    if (x.rank === 3 && x.shape[1] === s && x.shape[2] === s) return tf.expandDims(x, 3);
    throw new ShapeError(
      `ConvClassifier: images must be [n, ${s}, ${s}, 1], [n, ${s}, ${s}] or [n, ${s * s}] with pixels in [0, 1], got ${fmtShape(x.shape)}.`,
    );
  }

  /**
   * The features and the logits in one pass. `dropout` (training only) zeroes each feature
   * with that probability (inverted dropout) using `rng`.
   */
  forward(x: Tensor, opts: { dropout?: number; rng?: Rng } = {}): ClassifierOutput {
    const p = opts.dropout ?? 0;
    if (!(p >= 0 && p < 1)) {
      throw new ValueError(`ConvClassifier.forward: dropout must be in [0, 1), got ${p}.`);
    }
    if (p > 0 && !opts.rng) {
      throw new ValueError('ConvClassifier.forward: dropout > 0 needs opts.rng.');
    }
    return tf.tidy(() => {
      const { inputMean, inputStd } = this.config;
      const img = tf.div(tf.sub(this.asImages(x), inputMean), inputStd) as tf.Tensor4D;
      const h1 = tf.maxPool(this.conv1.apply(img) as tf.Tensor4D, 2, 2, 'valid');
      const h2 = tf.maxPool(this.conv2.apply(h1) as tf.Tensor4D, 2, 2, 'valid');
      const flat = tf.reshape(h2, [h2.shape[0], -1]);
      const features = this.hidden.apply(flat);
      let h = features;
      if (p > 0) {
        const keep = tf.less(tf.randomUniform(h.shape, 0, 1, 'float32', opts.rng!.next()), 1 - p);
        h = tf.div(tf.mul(h, tf.cast(keep, 'float32')), 1 - p);
      }
      return { features, logits: this.out.apply(h) };
    });
  }

  /** The class logits `[n, classes]`. */
  apply(x: Tensor): Tensor {
    return tf.tidy(() => this.forward(x).logits);
  }

  /** The penultimate-layer features `[n, features]`. */
  features(x: Tensor): Tensor {
    return tf.tidy(() => this.forward(x).features);
  }
}
