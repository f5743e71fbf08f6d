/**
 * Planar and radial flows (Rezende and Mohamed 2015), unconditional or amortised (their
 * parameters computed from a context, e.g. an encoder's features, for VAE posteriors).
 */
import { checkInt, type Rng, softplus, tf } from '@dgm-js/core-tensors';
import {
  BaseBijector,
  checkContext,
  checkInput,
  type ForwardResult,
  type InverseResult,
  noGrad,
} from './bijector.js';

type Tensor = tf.Tensor;

/** Options of {@link Planar} and {@link Radial}. */
export interface PlanarOptions {
  /** Seeds the initial parameters. */
  rng: Rng;
  /**
   * When set, the flow is conditional: its parameters are an affine function of a context
   * `[N, contextDim]` (amortised, as the encoder-produced flow parameters of Rezende and
   * Mohamed 2015), one set per example.
   */
  contextDim?: number;
  /** Standard deviation of the initial parameters. Default 0.1 (close to the identity). */
  initScale?: number;
}

/**
 * The parameters of a (possibly amortised) elementwise-free flow layer: `count` numbers per
 * example, either shared variables `[1, count]` or `context W + b` `[N, count]`.
 */
class ParamSource {
  readonly bias: tf.Variable;
  readonly kernel: tf.Variable | undefined;

  constructor(
    owner: {
      addParameter: (name: string, t: Tensor) => tf.Variable;
    },
    count: number,
    opts: PlanarOptions,
  ) {
    const s = opts.initScale ?? 0.1;
    this.bias = owner.addParameter(
      'params',
      tf.randomNormal([1, count], 0, s, 'float32', opts.rng.next()),
    );
    if (opts.contextDim !== undefined) {
      checkInt(opts.contextDim, 'contextDim', 'flow');
      const c = opts.contextDim;
      this.kernel = owner.addParameter(
        'contextKernel',
        tf.randomNormal([c, count], 0, s / Math.sqrt(c), 'float32', opts.rng.next()),
      );
    }
  }

  get(n: number, context: Tensor | undefined, contextDim: number | undefined, who: string): Tensor {
    if (this.kernel) {
      checkContext(context, contextDim as number, n, who);
      return tf.add(tf.matMul(context, this.kernel), this.bias);
    }
    return this.bias;
  }
}

/**
 * The planar flow f(z) = z + u_hat tanh(w^T z + b), with u_hat = u + (m(w^T u) - w^T u) w / |w|^2
 * and m(a) = -1 + softplus(a), so w^T u_hat > -1 and f is invertible (Rezende and Mohamed
 * 2015, appendix A). log|det df/dz| = log(1 + w^T u_hat (1 - tanh^2(w^T z + b))).
 *
 * `forward` is closed form. `inverse` solves the scalar equation
 * w^T y = a + w^T u_hat tanh(a + b) for a = w^T z (monotone in a) by bisection and Newton, then
 * z = y - u_hat tanh(a + b); one implicit-function Newton step makes it differentiable.
 *
 * @example
 * ```ts
 * const flows = [new Planar(2, { rng }), new Planar(2, { rng })];
 * const { y, logDetJ } = new Chain(flows).forward(z0);
 * ```
 */
export class Planar extends BaseBijector {
  readonly dim: number;
  readonly contextDim: number | undefined;
  private readonly source: ParamSource;

  constructor(dim: number, opts: PlanarOptions) {
    super('Planar');
    checkInt(dim, 'dim', 'Planar');
    this.dim = dim;
    this.contextDim = opts.contextDim;
    this.source = new ParamSource(
      { addParameter: (n, t) => this.addParameter(n, t) },
      2 * dim + 1,
      opts,
    );
  }

  /** u_hat [M, D], w [M, D], b [M, 1], wu = w^T u_hat [M, 1] (M = 1 or N). */
  private layerParams(n: number, context: Tensor | undefined, who: string) {
    const p = this.source.get(n, context, this.contextDim, who);
    const d = this.dim;
    const u = tf.slice(p, [0, 0], [-1, d]);
    const w = tf.slice(p, [0, d], [-1, d]);
    const b = tf.slice(p, [0, 2 * d], [-1, 1]);
    const wu = tf.sum(tf.mul(w, u), 1, true);
    const mwu = tf.sub(softplus(wu), 1);
    const w2 = tf.add(tf.sum(tf.square(w), 1, true), 1e-12);
    const uhat = tf.add(u, tf.mul(tf.div(tf.sub(mwu, wu), w2), w));
    return { uhat, w, b, wuhat: mwu };
  }

  /**
   * The constrained u_hat `[M, D]` (M = 1, or N with a context): w^T u_hat > -1 always.
   *
   * @example
   * ```ts
   * planar.uHat().print();
   * ```
   */
  uHat(context?: Tensor): Tensor {
    const n = context ? (context.shape[0] as number) : 1;
    return tf.tidy(() => this.layerParams(n, context, `${this.label}.uHat`).uhat);
  }

  forward(z: Tensor, context?: Tensor): ForwardResult {
    checkInput(z, this.dim, `${this.label}.forward`, 'x');
    return tf.tidy(() => {
      const { uhat, w, b, wuhat } = this.layerParams(
        z.shape[0] as number,
        context,
        `${this.label}.forward`,
      );
      const a = tf.add(tf.sum(tf.mul(z, w), 1, true), b); // [N, 1]
      const h = tf.tanh(a);
      const y = tf.add(z, tf.mul(uhat, h));
      // 1 + u_hat^T psi = 1 + w^T u_hat (1 - tanh^2(a)) > 0
      const logDetJ = tf.reshape(tf.log1p(tf.mul(wuhat, tf.sub(1, tf.square(h)))), [-1]);
      return { y, logDetJ };
    });
  }

  inverse(y: Tensor, context?: Tensor): InverseResult {
    checkInput(y, this.dim, `${this.label}.inverse`, 'y');
    return tf.tidy(() => {
      const { uhat, w, b, wuhat } = this.layerParams(
        y.shape[0] as number,
        context,
        `${this.label}.inverse`,
      );
      const t = tf.sum(tf.mul(y, w), 1, true); // w^T y, [N, 1]
      const c = wuhat; // > -1
      // g(a) = a + c tanh(a + b) - t is increasing; its root lies in [t - |c|, t + |c|].
      const root = noGrad(
        (cs, bs, ts) => {
          const g = (a: Tensor) => tf.sub(tf.add(a, tf.mul(cs, tf.tanh(tf.add(a, bs)))), ts);
          let lo = tf.sub(ts, tf.abs(cs));
          let hi = tf.add(ts, tf.abs(cs));
          for (let i = 0; i < 30; i++) {
            const mid = tf.mul(tf.add(lo, hi), 0.5);
            const pos = tf.greater(g(mid), 0);
            hi = tf.where(pos, mid, hi);
            lo = tf.where(pos, lo, mid);
          }
          let a = tf.mul(tf.add(lo, hi), 0.5);
          for (let i = 0; i < 3; i++) {
            const th = tf.tanh(tf.add(a, bs));
            const gp = tf.add(1, tf.mul(cs, tf.sub(1, tf.square(th))));
            a = tf.sub(a, tf.div(g(a), gp));
          }
          return a;
        },
        c,
        b,
        t,
      );
      // One Newton step with gradients: its value is the root, its gradient the implicit one.
      const th0 = tf.tanh(tf.add(root, b));
      const gp = tf.add(1, tf.mul(c, tf.sub(1, tf.square(th0))));
      const a = tf.sub(root, tf.div(tf.sub(tf.add(root, tf.mul(c, th0)), t), gp));
      const h = tf.tanh(tf.add(a, b));
      const x = tf.sub(y, tf.mul(uhat, h));
      const logDetJ = tf.reshape(tf.neg(tf.log1p(tf.mul(c, tf.sub(1, tf.square(h))))), [-1]);
      return { x, logDetJ };
    });
  }
}

/**
 * The radial flow f(z) = z + beta h(alpha, r) (z - z0), h = 1 / (alpha + r), r = |z - z0|,
 * with alpha = softplus(.) > 0 and beta = -alpha + softplus(.) > -alpha so that f is
 * invertible (Rezende and Mohamed 2015). log|det| = (D - 1) log(1 + beta h) +
 * log(1 + beta alpha / (alpha + r)^2). `inverse` is closed form (the positive root of a
 * quadratic in r).
 *
 * @example
 * ```ts
 * const radial = new Radial(2, { rng: new Rng(0) });
 * const { y, logDetJ } = radial.forward(tf.randomNormal([8, 2]));
 * ```
 */
export class Radial extends BaseBijector {
  readonly dim: number;
  readonly contextDim: number | undefined;
  private readonly source: ParamSource;

  constructor(dim: number, opts: PlanarOptions) {
    super('Radial');
    checkInt(dim, 'dim', 'Radial');
    this.dim = dim;
    this.contextDim = opts.contextDim;
    this.source = new ParamSource(
      { addParameter: (n, t) => this.addParameter(n, t) },
      dim + 2,
      opts,
    );
  }

  private layerParams(n: number, context: Tensor | undefined, who: string) {
    const p = this.source.get(n, context, this.contextDim, who);
    const d = this.dim;
    const z0 = tf.slice(p, [0, 0], [-1, d]);
    const alpha = softplus(tf.slice(p, [0, d], [-1, 1]));
    const beta = tf.sub(softplus(tf.slice(p, [0, d + 1], [-1, 1])), alpha);
    return { z0, alpha, beta };
  }

  private logDet(r: Tensor, alpha: Tensor, beta: Tensor): Tensor {
    const ar = tf.add(alpha, r);
    const bh = tf.div(beta, ar);
    const t1 = tf.mul(this.dim - 1, tf.log1p(bh));
    const t2 = tf.log1p(tf.div(tf.mul(beta, alpha), tf.square(ar)));
    return tf.reshape(tf.add(t1, t2), [-1]);
  }

  forward(z: Tensor, context?: Tensor): ForwardResult {
    checkInput(z, this.dim, `${this.label}.forward`, 'x');
    return tf.tidy(() => {
      const { z0, alpha, beta } = this.layerParams(
        z.shape[0] as number,
        context,
        `${this.label}.forward`,
      );
      const d = tf.sub(z, z0);
      const r = tf.sqrt(tf.add(tf.sum(tf.square(d), 1, true), 1e-20));
      const y = tf.add(z, tf.mul(tf.div(beta, tf.add(alpha, r)), d));
      return { y, logDetJ: this.logDet(r, alpha, beta) };
    });
  }

  inverse(y: Tensor, context?: Tensor): InverseResult {
    checkInput(y, this.dim, `${this.label}.inverse`, 'y');
    return tf.tidy(() => {
      const { z0, alpha, beta } = this.layerParams(
        y.shape[0] as number,
        context,
        `${this.label}.inverse`,
      );
      const dy = tf.sub(y, z0);
      const ry = tf.sqrt(tf.add(tf.sum(tf.square(dy), 1, true), 1e-20));
      // r^2 + (alpha + beta - ry) r - ry alpha = 0, positive root, cancellation-free form
      const bq = tf.sub(tf.add(alpha, beta), ry);
      const disc = tf.sqrt(tf.add(tf.square(bq), tf.mul(4, tf.mul(ry, alpha))));
      const rPos = tf.div(tf.mul(2, tf.mul(ry, alpha)), tf.add(tf.maximum(bq, 0), disc));
      const rNeg = tf.mul(0.5, tf.sub(disc, tf.minimum(bq, 0)));
      // bq > 0: 2 ry alpha / (bq + disc); bq <= 0: (disc - bq) / 2
      const pos = tf.greaterEqual(bq, 0);
      const r = tf.where(pos, rPos, rNeg);
      const x = tf.add(z0, tf.div(dy, tf.add(1, tf.div(beta, tf.add(alpha, r)))));
      return { x, logDetJ: tf.neg(this.logDet(r, alpha, beta)) };
    });
  }
}
