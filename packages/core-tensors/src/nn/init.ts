/**
 * Seeded weight initializers (tfjs-core has none; they live in tfjs-layers, which dgm.js does not
 * depend on). Each is `(shape, rng) => Tensor`; fans follow Keras: for a kernel of shape
 * `[..., fanIn, fanOut]` the leading dimensions (a convolution's receptive field) multiply both.
 */
import { ValueError } from '../errors.js';
import type { Rng } from '../rng.js';
import { tf } from '../tf.js';

/** Makes the initial value of a parameter of `shape` from a seed stream. */
export type Initializer = (shape: number[], rng: Rng) => tf.Tensor;

/** The built-in initializers by name. */
export type InitializerName =
  | 'glorotUniform'
  | 'glorotNormal'
  | 'heUniform'
  | 'heNormal'
  | 'lecunUniform'
  | 'lecunNormal'
  | 'zeros'
  | 'ones';

/**
 * Fan-in and fan-out of a weight of `shape`: a vector has fanIn = fanOut = its length; a matrix
 * `[in, out]`; a convolution kernel `[kh, kw, in, out]` has fanIn = kh*kw*in, fanOut = kh*kw*out.
 *
 * @example
 * ```ts
 * computeFans([3, 3, 16, 32]); // { fanIn: 144, fanOut: 288 }
 * ```
 */
export function computeFans(shape: readonly number[]): { fanIn: number; fanOut: number } {
  if (shape.length === 0) return { fanIn: 1, fanOut: 1 };
  if (shape.length === 1) return { fanIn: shape[0]!, fanOut: shape[0]! };
  const receptive = shape.slice(0, -2).reduce((a, b) => a * b, 1);
  return {
    fanIn: shape[shape.length - 2]! * receptive,
    fanOut: shape[shape.length - 1]! * receptive,
  };
}

function uniform(limit: number): Initializer {
  return (shape, rng) => tf.randomUniform(shape, -limit, limit, 'float32', rng.next());
}

function normal(std: number): Initializer {
  return (shape, rng) => tf.randomNormal(shape, 0, std, 'float32', rng.next());
}

/**
 * Glorot (Xavier) uniform: U(-l, l) with l = sqrt(6 / (fanIn + fanOut)).
 *
 * @example
 * ```ts
 * const w = glorotUniform([784, 256], new Rng(0));
 * ```
 */
export const glorotUniform: Initializer = (shape, rng) => {
  const { fanIn, fanOut } = computeFans(shape);
  return uniform(Math.sqrt(6 / (fanIn + fanOut)))(shape, rng);
};

/**
 * Glorot (Xavier) normal: N(0, 2 / (fanIn + fanOut)).
 *
 * @example
 * ```ts
 * const w = glorotNormal([784, 256], new Rng(0));
 * ```
 */
export const glorotNormal: Initializer = (shape, rng) => {
  const { fanIn, fanOut } = computeFans(shape);
  return normal(Math.sqrt(2 / (fanIn + fanOut)))(shape, rng);
};

/**
 * He (Kaiming) uniform, for ReLU nets: U(-l, l) with l = sqrt(6 / fanIn).
 *
 * @example
 * ```ts
 * const w = heUniform([3, 3, 1, 32], new Rng(0));
 * ```
 */
export const heUniform: Initializer = (shape, rng) =>
  uniform(Math.sqrt(6 / computeFans(shape).fanIn))(shape, rng);

/**
 * He (Kaiming) normal: N(0, 2 / fanIn).
 *
 * @example
 * ```ts
 * const w = heNormal([3, 3, 1, 32], new Rng(0));
 * ```
 */
export const heNormal: Initializer = (shape, rng) =>
  normal(Math.sqrt(2 / computeFans(shape).fanIn))(shape, rng);

/**
 * LeCun uniform: U(-l, l) with l = sqrt(3 / fanIn).
 *
 * @example
 * ```ts
 * const w = lecunUniform([64, 64], new Rng(0));
 * ```
 */
export const lecunUniform: Initializer = (shape, rng) =>
  uniform(Math.sqrt(3 / computeFans(shape).fanIn))(shape, rng);

/**
 * LeCun normal: N(0, 1 / fanIn).
 *
 * @example
 * ```ts
 * const w = lecunNormal([64, 64], new Rng(0));
 * ```
 */
export const lecunNormal: Initializer = (shape, rng) =>
  normal(Math.sqrt(1 / computeFans(shape).fanIn))(shape, rng);

const INITIALIZERS: Record<InitializerName, Initializer> = {
  glorotUniform,
  glorotNormal,
  heUniform,
  heNormal,
  lecunUniform,
  lecunNormal,
  zeros: (shape) => tf.zeros(shape),
  ones: (shape) => tf.ones(shape),
};

/**
 * Resolves an initializer given by name or as a function.
 *
 * @example
 * ```ts
 * const init = getInitializer('heNormal');
 * const w = init([128, 64], new Rng(1));
 * ```
 */
export function getInitializer(init: InitializerName | Initializer): Initializer {
  if (typeof init === 'function') return init;
  const f = INITIALIZERS[init];
  if (!f) {
    throw new ValueError(
      `getInitializer: unknown initializer '${String(init)}'; use one of ${Object.keys(INITIALIZERS).join(', ')} or a function (shape, rng) => Tensor.`,
    );
  }
  return f;
}
