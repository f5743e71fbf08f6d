/**
 * Masked autoregressive flow (Papamakarios, Pavlakou, Murray 2017) and inverse autoregressive
 * flow (Kingma, Salimans, Jozefowicz, Chen, Sutskever, Welling 2016), both on the MADE network
 * of `@dgm-js/autoregressive`. Each has a fast (one network pass) and a slow (D sequential
 * passes) direction; they are on opposite sides.
 */
import { MadeNet, type OrderingSpec } from '@dgm-js/autoregressive';
import {
  type Activation,
  checkInt,
  checkRng,
  logSigmoid,
  type Rng,
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

type Tensor = tf.Tensor;

/** Options of {@link MAF} and {@link IAF}. */
export interface AutoregressiveFlowOptions {
  /** Seeds the MADE weights and masks. */
  rng: Rng;
  /** MADE hidden widths. Default [64, 64]. */
  hidden?: readonly number[];
  /** Hidden activation. Default 'relu'. */
  activation?: Activation;
  /** The autoregressive ordering. Default 'natural'; alternate with 'reverse' between layers. */
  ordering?: OrderingSpec;
  /** A conditional flow: a context `[N, contextDim]` feeds every MADE hidden unit. */
  contextDim?: number;
  /**
   * How the slow direction runs: `'full'` (default) D full MADE passes, differentiable
   * everywhere; `'incremental'` MADE's incremental pass, far cheaper for large D (e.g. sampling
   * a MAF on MNIST) but, on the wasm backend, not differentiable with respect to the MADE
   * weights.
   */
  sequential?: 'full' | 'incremental';
}

/** Options of {@link MAF}. */
export interface MAFOptions extends AutoregressiveFlowOptions {
  /**
   * The log-scale is soft-clamped, a = c tanh(raw / c), so one layer never scales by more than
   * e^c. Default 5.
   */
  logScaleClamp?: number;
}

/** Options of {@link IAF}. */
export interface IAFOptions extends AutoregressiveFlowOptions {
  /**
   * Added to the gate's pre-activation so that the layer starts close to the identity
   * (Kingma et al. 2016 use 1 to 2). Default 2.
   */
  forgetBias?: number;
}

abstract class AutoregressiveBase extends BaseBijector {
  readonly dim: number;
  readonly contextDim: number | undefined;
  readonly made: MadeNet;
  /** How the slow direction runs (see {@link AutoregressiveFlowOptions.sequential}). */
  readonly mode: 'full' | 'incremental';

  constructor(kind: string, dim: number, opts: AutoregressiveFlowOptions) {
    super(kind);
    this.mode = opts?.sequential ?? 'full';
    if (this.mode !== 'full' && this.mode !== 'incremental') {
      throw new ValueError(
        `${kind}: sequential must be 'full' or 'incremental', got '${String(this.mode)}'.`,
      );
    }
    checkInt(dim, 'dim', kind);
    checkRng(opts?.rng, kind);
    if (opts.contextDim !== undefined) checkInt(opts.contextDim, 'contextDim', kind);
    this.dim = dim;
    this.contextDim = opts.contextDim;
    this.made = this.addModule(
      'made',
      new MadeNet({
        dim,
        hiddenSizes: opts.hidden ?? [64, 64],
        paramsPerDim: 2,
        rng: opts.rng,
        ...(opts.activation === undefined ? {} : { activation: opts.activation }),
        ...(opts.ordering === undefined ? {} : { ordering: opts.ordering }),
        ...(opts.contextDim === undefined ? {} : { contextDim: opts.contextDim }),
      }),
    );
  }

  /** The ordering in use: `ordering[r]` is the r-th dimension in autoregressive order. */
  get ordering(): readonly number[] {
    return this.made.ordering;
  }

  protected ctx(context: Tensor | undefined, n: number, who: string): Tensor | undefined {
    if (this.contextDim === undefined) return undefined;
    checkContext(context, this.contextDim, n, who);
    return context;
  }

  /** The two MADE outputs `[N, D]` each, from a full (parallel) pass. */
  protected madeOutputs(v: Tensor, context: Tensor | undefined): [Tensor, Tensor] {
    const p = this.made.forward(v, context);
    const [a, b] = tf.unstack(p, 2) as [Tensor, Tensor];
    return [a, b];
  }

  /**
   * The sequential pass. `'full'` (default): D full MADE passes, pass r fixing the dimension at
   * position r of the ordering (differentiable everywhere). `'incremental'`: MADE's own
   * incremental pass, which updates the first layer by one rank-1 product per step and computes
   * only the outputs of the current dimension (much cheaper for large D; on the wasm backend it
   * is not differentiable with respect to the MADE weights, as tfjs's gather gradient needs a
   * kernel wasm lacks). `update(target, p0, p1)` returns the new values `[N, D]` from the MADE
   * outputs; `logDet(p0, p1)` the per-dimension log-determinant terms.
   */
  protected sequential(
    target: Tensor,
    context: Tensor | undefined,
    update: (t: Tensor, p0: Tensor, p1: Tensor) => Tensor,
    logDet: (p0: Tensor, p1: Tensor) => Tensor,
  ): { out: Tensor; logDet: Tensor } {
    const n = target.shape[0] as number;
    if (this.mode === 'full') {
      return tf.tidy(() => {
        let v = tf.zerosLike(target);
        let p: [Tensor, Tensor] = this.madeOutputs(v, context);
        for (let r = 0; r < this.dim; r++) {
          if (r > 0) p = this.madeOutputs(v, context);
          v = update(target, p[0], p[1]);
        }
        // the outputs of the last pass saw every earlier dimension at its final value
        return { out: v, logDet: tf.sum(logDet(p[0], p[1]), 1) };
      });
    }
    const cols = tf.tidy(() => tf.unstack(target, 1));
    try {
      const gen = this.made.sequential(n, context, (d, params) =>
        tf.tidy(() => {
          const [p0, p1] = tf.unstack(params, 1) as [Tensor, Tensor];
          const col = tf.reshape(cols[d] as Tensor, [n, 1]);
          const value = tf.reshape(update(col, tf.reshape(p0, [n, 1]), tf.reshape(p1, [n, 1])), [
            n,
          ]);
          const ld = tf.reshape(logDet(tf.reshape(p0, [n, 1]), tf.reshape(p1, [n, 1])), [n]);
          return { input: tf.reshape(value, [n, 1]), value: tf.stack([value, ld], 1) };
        }),
      );
      let res = gen.next();
      while (!res.done) res = gen.next();
      const values = res.value;
      try {
        return tf.tidy(() => {
          const all = tf.stack(values, 1); // [N, D, 2]
          const [out, ld] = tf.unstack(all, 2) as [Tensor, Tensor];
          return { out, logDet: tf.sum(ld, 1) };
        });
      } finally {
        tf.dispose(values);
      }
    } finally {
      tf.dispose(cols);
    }
  }
}

/**
 * The masked autoregressive flow layer. In the density direction (data to noise, `inverse`),
 * u = (x - mu(x)) exp(-a(x)) with (mu, a) from one MADE pass: fast and parallel, as training by
 * maximum likelihood needs. log|det dx/du| = sum(a). Sampling (`forward`) is sequential:
 * x_d = u_d exp(a_d) + mu_d in the ordering, D incremental MADE passes.
 *
 * @example
 * ```ts
 * const rng = new Rng(0);
 * const layers = [new MAF(2, { rng }), new Reverse(2), new MAF(2, { rng })];
 * const flow = new Flow(new Chain(layers), { dim: 2 });
 * const nll = tf.neg(tf.mean(flow.logProb(data)));
 * ```
 */
export class MAF extends AutoregressiveBase {
  private readonly clamp: number;

  constructor(dim: number, opts: MAFOptions) {
    super('MAF', dim, opts);
    const c = opts.logScaleClamp ?? 5;
    if (!(c > 0)) throw new ValueError(`MAF: logScaleClamp must be > 0, got ${c}.`);
    this.clamp = c;
  }

  private softClamp(raw: Tensor): Tensor {
    return tf.mul(tf.tanh(tf.div(raw, this.clamp)), this.clamp);
  }

  /** Fast: one MADE pass. */
  inverse(x: Tensor, context?: Tensor): InverseResult {
    const who = `${this.label}.inverse`;
    checkInput(x, this.dim, who, 'y');
    const c = this.ctx(context, x.shape[0] as number, who);
    return tf.tidy(() => {
      const [mu, raw] = this.madeOutputs(x, c);
      const a = this.softClamp(raw);
      return { x: tf.mul(tf.sub(x, mu), tf.exp(tf.neg(a))), logDetJ: tf.neg(tf.sum(a, 1)) };
    });
  }

  /** Slow: D sequential MADE passes (see `sequential` in the options). */
  forward(u: Tensor, context?: Tensor): ForwardResult {
    const who = `${this.label}.forward`;
    checkInput(u, this.dim, who, 'x');
    const c = this.ctx(context, u.shape[0] as number, who);
    const { out, logDet } = this.sequential(
      u,
      c,
      (t, mu, raw) => tf.add(tf.mul(t, tf.exp(this.softClamp(raw))), mu),
      (_mu, raw) => this.softClamp(raw),
    );
    return { y: out, logDetJ: logDet };
  }
}

/**
 * The inverse autoregressive flow layer with Kingma et al.'s gated update. Sampling direction
 * (`forward`, fast, one MADE pass): [m, s] = MADE(z), g = sigmoid(s + forgetBias),
 * y = g z + (1 - g) m, log|det dy/dz| = sum(log g). This is what a VAE posterior needs:
 * rsample and its log-density in one pass. The density direction (`inverse`) is sequential:
 * z_d = (y_d - (1 - g_d) m_d) / g_d in the ordering, D incremental MADE passes.
 *
 * @example
 * ```ts
 * const iaf = new IAF(16, { rng: new Rng(0), contextDim: 32 }); // conditional on encoder features h
 * const { y: z, logDetJ } = iaf.forward(z0, h);
 * ```
 */
export class IAF extends AutoregressiveBase {
  readonly forgetBias: number;

  constructor(dim: number, opts: IAFOptions) {
    super('IAF', dim, opts);
    const fb = opts.forgetBias ?? 2;
    if (!Number.isFinite(fb)) throw new ValueError(`IAF: forgetBias must be finite, got ${fb}.`);
    this.forgetBias = fb;
  }

  /** Fast: one MADE pass. */
  forward(z: Tensor, context?: Tensor): ForwardResult {
    const who = `${this.label}.forward`;
    checkInput(z, this.dim, who, 'x');
    const c = this.ctx(context, z.shape[0] as number, who);
    return tf.tidy(() => {
      const [m, s] = this.madeOutputs(z, c);
      const pre = tf.add(s, this.forgetBias);
      const g = tf.sigmoid(pre);
      const y = tf.add(tf.mul(g, z), tf.mul(tf.sub(1, g), m));
      return { y, logDetJ: tf.sum(logSigmoid(pre), 1) };
    });
  }

  /** Slow: D sequential MADE passes (see `sequential` in the options). */
  inverse(y: Tensor, context?: Tensor): InverseResult {
    const who = `${this.label}.inverse`;
    checkInput(y, this.dim, who, 'y');
    const c = this.ctx(context, y.shape[0] as number, who);
    const { out, logDet } = this.sequential(
      y,
      c,
      (t, m, s) => {
        const g = tf.sigmoid(tf.add(s, this.forgetBias));
        return tf.div(tf.sub(t, tf.mul(tf.sub(1, g), m)), g);
      },
      (_m, s) => tf.neg(logSigmoid(tf.add(s, this.forgetBias))),
    );
    return { x: out, logDetJ: logDet };
  }
}
