/**
 * Affine coupling layers (Dinh et al. 2017, RealNVP) and the conditioner networks shared with
 * the spline coupling.
 */
import {
  type Activation,
  checkInt,
  Dense,
  type Rng,
  Sequential,
  tf,
  ValueError,
} from '@dgm-js/core-tensors';
import {
  BaseBijector,
  checkContext,
  checkInput,
  type ForwardResult,
  type InverseResult,
} from './bijector.js';
import { readCouplingMask } from './permute.js';

type Tensor = tf.Tensor;

/** Options of the conditioner networks. */
export interface ConditionerOptions {
  /** Seeds the initial weights. */
  rng: Rng;
  /** Hidden layer widths. Default [64, 64]. */
  hidden?: readonly number[];
  /** Between layers. Default 'relu'. */
  activation?: Activation;
  /**
   * When set, the layer is conditional: a context `[N, contextDim]` is concatenated to the
   * conditioner's input (for conditional densities and VAE posteriors).
   */
  contextDim?: number;
}

/**
 * An MLP `inDim -> hidden... -> outDim` whose last layer starts at zero (so a coupling layer
 * starts as the identity, the usual initialisation).
 *
 * @example
 * ```ts
 * const net = conditionerNet(3, 4, { rng: new Rng(0), hidden: [32, 32] });
 * ```
 */
export function conditionerNet(
  inDim: number,
  outDim: number,
  opts: ConditionerOptions,
): Sequential {
  const hidden = opts.hidden ?? [64, 64];
  for (const h of hidden) checkInt(h, 'hidden width', 'conditionerNet');
  const sizes = [inDim, ...hidden];
  const layers: Dense[] = [];
  try {
    for (let i = 0; i + 1 < sizes.length; i++) {
      layers.push(
        new Dense(sizes[i] as number, sizes[i + 1] as number, {
          rng: opts.rng,
          activation: opts.activation ?? 'relu',
        }),
      );
    }
    layers.push(
      new Dense(sizes[sizes.length - 1] as number, outDim, { rng: opts.rng, kernelInit: 'zeros' }),
    );
  } catch (e) {
    for (const l of layers) l.dispose();
    throw e;
  }
  return new Sequential(layers);
}

/** Options of {@link AffineCoupling}. */
export interface AffineCouplingOptions extends ConditionerOptions {
  /**
   * The log-scale is soft-clamped to (-scaleClamp, scaleClamp) by s = c tanh(raw / c), which
   * keeps training stable. Default 3.
   */
  scaleClamp?: number;
}

/**
 * The affine coupling layer: with a 0/1 mask m (1 = passed through),
 * y = m x + (1 - m) (x exp(s) + t), where (s, t) = NN(m x [, context]) only see the passed-through
 * dimensions; log|det| = sum((1 - m) s). The inverse is exact and as cheap as the forward.
 * Alternate masks (`alternatingMask(D, 0)`, `alternatingMask(D, 1)`) or put permutations
 * between layers so that every dimension gets transformed.
 *
 * @example
 * ```ts
 * const rng = new Rng(0);
 * const layer = new AffineCoupling(alternatingMask(4, 0), { rng, hidden: [64, 64] });
 * const { y, logDetJ } = layer.forward(tf.randomNormal([16, 4]));
 * ```
 */
export class AffineCoupling extends BaseBijector {
  readonly dim: number;
  readonly contextDim: number | undefined;
  readonly mask: readonly number[];
  readonly net: Sequential;
  private readonly maskT: tf.Variable;
  private readonly clamp: number;

  constructor(mask: readonly number[] | Tensor, opts: AffineCouplingOptions) {
    super('AffineCoupling');
    const m = readCouplingMask(mask, 'AffineCoupling');
    if (opts.contextDim !== undefined) checkInt(opts.contextDim, 'contextDim', 'AffineCoupling');
    const clamp = opts.scaleClamp ?? 3;
    if (!(clamp > 0)) throw new ValueError(`AffineCoupling: scaleClamp must be > 0, got ${clamp}.`);
    this.dim = m.length;
    this.mask = m;
    this.contextDim = opts.contextDim;
    this.clamp = clamp;
    this.maskT = this.addBuffer('mask', tf.tensor1d(m));
    this.net = this.addModule(
      'net',
      conditionerNet(this.dim + (opts.contextDim ?? 0), 2 * this.dim, opts),
    );
  }

  /** (s, t), each `[N, D]`, zero on the passed-through dimensions. */
  private shiftScale(xm: Tensor, context: Tensor | undefined, who: string): [Tensor, Tensor] {
    let inp = xm;
    if (this.contextDim !== undefined) {
      checkContext(context, this.contextDim, xm.shape[0] as number, who);
      inp = tf.concat([xm, context], 1);
    }
    const out = this.net.apply(inp);
    const inv = tf.sub(1, this.maskT);
    const raw = tf.slice(out, [0, 0], [-1, this.dim]);
    const s = tf.mul(tf.mul(tf.tanh(tf.div(raw, this.clamp)), this.clamp), inv);
    const t = tf.mul(tf.slice(out, [0, this.dim], [-1, this.dim]), inv);
    return [s, t];
  }

  forward(x: Tensor, context?: Tensor): ForwardResult {
    const who = `${this.label}.forward`;
    checkInput(x, this.dim, who, 'x');
    return tf.tidy(() => {
      const [s, t] = this.shiftScale(tf.mul(x, this.maskT), context, who);
      // masked dims: s = t = 0, so y = x there
      const y = tf.add(tf.mul(x, tf.exp(s)), t);
      return { y, logDetJ: tf.sum(s, 1) };
    });
  }

  inverse(y: Tensor, context?: Tensor): InverseResult {
    const who = `${this.label}.inverse`;
    checkInput(y, this.dim, who, 'y');
    return tf.tidy(() => {
      const [s, t] = this.shiftScale(tf.mul(y, this.maskT), context, who);
      const x = tf.mul(tf.sub(y, t), tf.exp(tf.neg(s)));
      return { x, logDetJ: tf.neg(tf.sum(s, 1)) };
    });
  }
}
