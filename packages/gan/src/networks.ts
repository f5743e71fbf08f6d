/**
 * MLP generators and critics (conditional when given `numClasses`), built from core-tensors'
 * `Dense` / `mlp` and, for critics, the double-backprop-safe activations and spectral norm.
 */
import {
  type Activation,
  type Critic,
  checkInt,
  Dense,
  fmtShape,
  type GenerateOptions,
  type Generator,
  type Initializer,
  type InitializerName,
  Module,
  mlp,
  type Rng,
  Sequential,
  ShapeError,
  tf,
  ValueError,
} from '@dgm-js/core-tensors';
import { type CriticActivation, criticActivation } from './activations.js';
import { checkLabels, oneHot } from './labels.js';
import { SNDense } from './spectral.js';

type Tensor = tf.Tensor;

/** A shape given as a number or an array, checked (internal). */
export function checkShape(s: number | readonly number[], what: string, who: string): number[] {
  const shape = typeof s === 'number' ? [s] : [...s];
  if (shape.length === 0 || !shape.every((d) => Number.isInteger(d) && d >= 1)) {
    throw new ValueError(
      `${who}: ${what} must be a positive integer or an array of them, got ${JSON.stringify(s)}.`,
    );
  }
  return shape;
}

/** Checks that x is `[N, ...shape]` and returns N (internal). */
export function checkBatch(x: Tensor, shape: readonly number[], what: string, who: string): number {
  if (!(x instanceof tf.Tensor)) throw new ValueError(`${who}: ${what} must be a tensor.`);
  if (x.rank !== shape.length + 1 || x.shape.slice(1).join() !== shape.join()) {
    throw new ShapeError(
      `${who}: ${what} must have shape [N, ${shape.join(', ')}], got ${fmtShape(x.shape)}.`,
    );
  }
  return x.shape[0]!;
}

/**
 * The shared part of generators (internal): latents, labels and `generate`.
 */
export abstract class BaseGenerator extends Module implements Generator {
  readonly latentDim: number;
  readonly outputShape: readonly number[];
  readonly numClasses: number | undefined;

  constructor(kind: string, latentDim: number, outputShape: number[], numClasses?: number) {
    super(kind);
    this.latentDim = checkInt(latentDim, 'latentDim', kind);
    this.outputShape = outputShape;
    this.numClasses =
      numClasses === undefined ? undefined : checkInt(numClasses, 'numClasses', kind, { min: 2 });
  }

  /** The network from `[n, latentDim (+ numClasses)]` to `[n, ...outputShape]` (tidy-wrapped). */
  protected abstract net(input: Tensor): Tensor;

  sampleLatent(n: number, rng: Rng): Tensor {
    checkInt(n, 'n', `${this.label}.sampleLatent`);
    return tf.randomNormal([n, this.latentDim], 0, 1, 'float32', rng.next());
  }

  forward(z: Tensor, labels?: Tensor): Tensor {
    const n = checkBatch(z, [this.latentDim], 'z', `${this.label}.forward`);
    const y = checkLabels(labels, n, this.numClasses, `${this.label}.forward`);
    try {
      return tf.tidy(() => this.net(y ? tf.concat([z, oneHot(y, this.numClasses!)], 1) : z));
    } finally {
      y?.dispose();
    }
  }

  /** G(z) of an unconditional generator (`forward(z)`). */
  apply(z: Tensor): Tensor {
    return this.forward(z);
  }

  generate(n: number, rng: Rng, opts: GenerateOptions = {}): Tensor {
    checkInt(n, 'n', `${this.label}.generate`);
    const y = checkLabels(opts.labels, n, this.numClasses, `${this.label}.generate`);
    try {
      return tf.tidy(() => this.forward(this.sampleLatent(n, rng), y));
    } finally {
      y?.dispose();
    }
  }
}

/** Options of {@link MlpGenerator}. */
export interface MlpGeneratorOptions {
  /** Dimension of z. */
  latentDim: number;
  /** The shape of one example (`2` for the toys, `[28, 28, 1]` for flat MNIST reshaped). */
  outputShape: number | readonly number[];
  /** Hidden layer sizes, e.g. `[128, 128]`. */
  hidden: readonly number[];
  /** The seed stream of the initial weights. */
  rng: Rng;
  /** Between layers. Default 'relu'. */
  activation?: Activation;
  /** On the output: 'identity' (default) for real data, 'tanh' / 'sigmoid' for images in a box. */
  outputActivation?: Activation;
  /** Conditional on a class label (one-hot concatenated to z) when given. */
  numClasses?: number;
  /** Default 'glorotUniform'. */
  kernelInit?: InitializerName | Initializer;
}

/**
 * A generator MLP: z (and the one-hot label) -> hidden layers -> `outputShape`.
 *
 * @example
 * ```ts
 * import { Rng } from '@dgm-js/core-tensors';
 * import { MlpGenerator } from '@dgm-js/gan';
 * const g = new MlpGenerator({ latentDim: 8, outputShape: 2, hidden: [64, 64], rng: new Rng(0) });
 * const x = g.generate(16, new Rng(1)); // [16, 2]
 * x.dispose(); g.dispose();
 * ```
 */
export class MlpGenerator extends BaseGenerator {
  readonly layers: Sequential;

  constructor(opts: MlpGeneratorOptions) {
    const who = 'MlpGenerator';
    if (!opts?.rng) throw new ValueError(`${who}: options.rng (an Rng) is required.`);
    const shape = checkShape(opts.outputShape, 'outputShape', who);
    super(who, opts.latentDim, shape, opts.numClasses);
    const hidden = [...(opts.hidden ?? [])];
    for (const h of hidden) checkInt(h, 'each hidden size', who);
    const out = shape.reduce((a, b) => a * b, 1);
    this.layers = this.addModule(
      'layers',
      mlp([this.latentDim + (this.numClasses ?? 0), ...hidden, out], {
        rng: opts.rng,
        activation: opts.activation ?? 'relu',
        outputActivation: opts.outputActivation ?? 'identity',
        ...(opts.kernelInit ? { kernelInit: opts.kernelInit } : {}),
      }),
    );
  }

  protected net(input: Tensor): Tensor {
    const y = this.layers.apply(input);
    return tf.reshape(y, [input.shape[0]!, ...this.outputShape]);
  }
}

/** Options of {@link MlpCritic}. */
export interface MlpCriticOptions {
  /** The shape of one input example (`2` for the toys, `[28, 28, 1]` for MNIST). */
  inputShape: number | readonly number[];
  /** Hidden layer sizes (at least one), e.g. `[128, 128]`. */
  hidden: readonly number[];
  /** The seed stream of the initial weights. */
  rng: Rng;
  /** A double-backprop-safe activation (see `criticActivation`). Default 'leakyRelu' (slope 0.2). */
  activation?: CriticActivation;
  /** Spectrally normalise every layer (Miyato et al. 2018). Default false. */
  spectralNorm?: boolean;
  /**
   * Conditional on a class label when given: a projection critic (Miyato & Koyama 2018),
   * score = w . phi(x) + b + embed(y) . phi(x).
   */
  numClasses?: number;
  /** Default 'glorotUniform'. */
  kernelInit?: InitializerName | Initializer;
}

/**
 * The shared part of critics (internal): input checks, labels and the projection head.
 */
export abstract class BaseCritic extends Module implements Critic {
  readonly inputShape: readonly number[];
  readonly numClasses: number | undefined;
  protected embed: tf.Variable | undefined;

  constructor(kind: string, inputShape: number[], numClasses?: number) {
    super(kind);
    this.inputShape = inputShape;
    this.numClasses =
      numClasses === undefined ? undefined : checkInt(numClasses, 'numClasses', kind, { min: 2 });
  }

  /** Registers the projection embedding `[numClasses, features]` (conditional critics). */
  protected addProjection(features: number, rng: Rng): void {
    if (this.numClasses === undefined) return;
    const limit = Math.sqrt(6 / (this.numClasses + features));
    this.embed = this.addParameter(
      'embed',
      tf.randomUniform([this.numClasses, features], -limit, limit, 'float32', rng.next()),
    );
  }

  /** phi(x): `[N, features]` (tidy-wrapped by the caller). */
  protected abstract features(x: Tensor): Tensor;
  /** The linear head on phi(x): `[N, 1]`. */
  protected abstract head(h: Tensor): Tensor;

  score(x: Tensor, labels?: Tensor): Tensor {
    const n = checkBatch(x, this.inputShape, 'x', `${this.label}.score`);
    const y = checkLabels(labels, n, this.numClasses, `${this.label}.score`);
    try {
      return tf.tidy(() => {
        const h = this.features(x);
        let s = tf.reshape(this.head(h), [n]);
        if (y && this.embed) {
          // one-hot matMul, not tf.gather: Gather's gradient needs UnsortedSegmentSum (not on wasm)
          const e = tf.matMul(oneHot(y, this.numClasses!), this.embed);
          s = tf.add(s, tf.sum(tf.mul(h, e), 1));
        }
        return s;
      });
    } finally {
      y?.dispose();
    }
  }

  /** The scores of an unconditional critic (`score(x)`). */
  apply(x: Tensor): Tensor {
    return this.score(x);
  }
}

/**
 * A critic MLP: x -> hidden layers (safe activation) -> one score per example, optionally
 * spectrally normalised and conditional (projection).
 *
 * @example
 * ```ts
 * import { Rng, tf } from '@dgm-js/core-tensors';
 * import { MlpCritic } from '@dgm-js/gan';
 * const d = new MlpCritic({ inputShape: 2, hidden: [64, 64], rng: new Rng(0) });
 * const s = d.score(tf.zeros([5, 2])); // [5]
 * s.dispose(); d.dispose();
 * ```
 */
export class MlpCritic extends BaseCritic {
  readonly layers: Sequential;
  readonly out: Dense;

  constructor(opts: MlpCriticOptions) {
    const who = 'MlpCritic';
    if (!opts?.rng) throw new ValueError(`${who}: options.rng (an Rng) is required.`);
    const shape = checkShape(opts.inputShape, 'inputShape', who);
    super(who, shape, opts.numClasses);
    const hidden = [...(opts.hidden ?? [])];
    if (hidden.length === 0) throw new ValueError(`${who}: hidden needs at least one layer size.`);
    for (const h of hidden) checkInt(h, 'each hidden size', who);
    const act = criticActivation(opts.activation ?? 'leakyRelu');
    const sizes = [shape.reduce((a, b) => a * b, 1), ...hidden];
    const make = (i: number, o: number, activation: Activation) => {
      const o2 = {
        rng: opts.rng,
        activation,
        ...(opts.kernelInit ? { kernelInit: opts.kernelInit } : {}),
      };
      return opts.spectralNorm ? new SNDense(i, o, o2) : new Dense(i, o, o2);
    };
    this.layers = this.addModule(
      'layers',
      new Sequential(hidden.map((h, i) => make(sizes[i]!, h, act))),
    );
    this.out = this.addModule('out', make(hidden[hidden.length - 1]!, 1, 'identity'));
    this.addProjection(hidden[hidden.length - 1]!, opts.rng);
  }

  protected features(x: Tensor): Tensor {
    return this.layers.apply(x.rank === 2 ? x : tf.reshape(x, [x.shape[0]!, -1]));
  }

  protected head(h: Tensor): Tensor {
    return this.out.apply(h);
  }
}
