/**
 * MADE (Germain, Gregor, Murray, Larochelle 2015) as a density: the masked network of
 * {@link MadeNet} with a Bernoulli, categorical or Gaussian conditional per dimension. A core
 * `Distribution` (and a `ConditionalDistribution` when built with a context).
 */
import { logSumExp, type Rng, stopGradient, tf, ValueError } from '@dgm-js/core-tensors';
import { checkContext } from './density.js';
import { checkEvent, type Head, type HeadSpec, resolveHead } from './heads.js';
import { MadeNet, type MadeNetOptions } from './made-net.js';
import { AutoregressiveModel } from './model.js';

/** Options of {@link Made}. */
export interface MadeOptions extends Omit<MadeNetOptions, 'paramsPerDim' | 'inputsPerDim'> {
  /** The conditional of each dimension. Default 'bernoulli'. */
  head?: HeadSpec;
  /** Check input values (binary / category range / finite) on every call. Default true. */
  validate?: boolean;
}

/**
 * MADE as a distribution over `x: [D]` (batch shape `[]`, event shape `[D]`): p(x) = prod_d
 * p(x_d | x_<d) in the network's ordering, each conditional Bernoulli (binary data; logits),
 * categorical (values 0..K-1; K logits, one-hot inputs by default) or Gaussian (mean,
 * log-scale). Exact `logProb`; `sample` draws each dimension from its conditional in order
 * (`hasRsample` is false). With a context it is a conditional MADE, p(x | c): a
 * `ConditionalDistribution` whose `condition(c)` is p(. | c).
 *
 * @example
 * ```ts
 * import { Made } from '@dgm-js/autoregressive';
 * import { Rng, tf } from '@dgm-js/core-tensors';
 * const made = new Made({ dim: 784, hiddenSizes: [500], rng: new Rng(0) });
 * const nll = tf.neg(made.logProb(xBatch)); // [batch], nats
 * const xs = made.sample({ sampleShape: [16], rng: new Rng(1) }); // [16, 784] of 0/1
 * made.dispose();
 * ```
 */
export class Made extends AutoregressiveModel {
  readonly net: MadeNet;
  readonly head: Head;
  readonly validateInputs: boolean;

  constructor(opts: MadeOptions) {
    super('Made');
    if (!opts || typeof opts !== 'object') throw new ValueError('Made: options are required.');
    this.head = resolveHead(opts.head, 'Made');
    const { head: _h, validate: _v, ...netOpts } = opts;
    this.net = this.addModule(
      'net',
      new MadeNet({
        ...netOpts,
        paramsPerDim: this.head.paramsPerDim,
        inputsPerDim: this.head.inputsPerDim,
      }),
    );
    this.setShapes(
      [this.net.dim],
      this.net.contextDim === undefined ? undefined : [this.net.contextDim],
    );
    this.validateInputs = opts.validate ?? true;
  }

  /** Number of connectivity masks. */
  get numMasks(): number {
    return this.net.numMasks;
  }

  /** The mask in use. */
  get maskIndex(): number {
    return this.net.maskIndex;
  }

  /** The ordering in use. */
  get ordering(): readonly number[] {
    return this.net.ordering;
  }

  /** Switches connectivity (see {@link MadeNet.useMask}). */
  useMask(index: number): void {
    this.net.useMask(index);
  }

  private check(x: tf.Tensor, context: tf.Tensor | undefined, who: string): void {
    checkEvent(x, this.eventShape, who);
    checkContext(context, this.contextShape, x.shape[0]!, who, true);
    if (this.validateInputs) this.head.validate(x, who);
  }

  /** The conditionals' parameters `[batch, D, paramsPerDim]` (no context). */
  apply(x: tf.Tensor): tf.Tensor {
    return this.conditionalParams(x);
  }

  /**
   * The parameters of every conditional given x: `[batch, D, 1]` logits (Bernoulli),
   * `[batch, D, K]` logits (categorical) or `[batch, D, 2]` (mean, log-scale).
   *
   * @example
   * ```ts
   * const logits = made.conditionalParams(x); // [batch, D, 1]
   * ```
   */
  conditionalParams(x: tf.Tensor, context?: tf.Tensor): tf.Tensor {
    const who = `${this.label}.conditionalParams`;
    this.check(x, context, who);
    return tf.tidy(() => this.net.forward(this.head.encode(x), context));
  }

  /**
   * The Gaussian conditionals' means and log-scales, each `[batch, D]`: a function of x with
   * the autoregressive property (mean[:, d], logScale[:, d] depend on x[:, <d] only), as a
   * MAF / IAF layer uses it. Gaussian head only.
   *
   * @example
   * ```ts
   * const made = new Made({ dim: 2, hiddenSizes: [64], head: 'gaussian', rng: new Rng(0) });
   * const { mean, logScale } = made.meanLogScale(x);
   * const u = tf.mul(tf.sub(x, mean), tf.exp(tf.neg(logScale))); // MAF forward
   * ```
   */
  meanLogScale(x: tf.Tensor, context?: tf.Tensor): { mean: tf.Tensor; logScale: tf.Tensor } {
    if (this.head.type !== 'gaussian') {
      throw new ValueError(
        `${this.label}.meanLogScale: needs head 'gaussian', this MADE has head '${this.head.type}'.`,
      );
    }
    const who = `${this.label}.meanLogScale`;
    checkEvent(x, this.eventShape, who);
    checkContext(context, this.contextShape, x.shape[0]!, who, true);
    return tf.tidy(() => {
      const p = this.net.forward(tf.cast(x, 'float32'), context);
      const [mean, logScale] = tf.unstack(p, 2) as [tf.Tensor, tf.Tensor];
      return { mean, logScale };
    });
  }

  protected logProbBatch(x: tf.Tensor, context: tf.Tensor | undefined, who: string): tf.Tensor {
    this.check(x, context, who);
    return tf.tidy(() => {
      const p = this.net.forward(this.head.encode(x), context);
      return tf.sum(this.head.logProbElements(x, p), -1);
    });
  }

  /**
   * The ensemble over masks (Germain et al. section 4.2): log (1/M) sum_m p_m(x), `[batch]`,
   * with masks `masks` (default all). Restores the mask in use afterwards.
   *
   * @example
   * ```ts
   * const lp = made.logProbEnsemble(x); // average of the numMasks connectivities
   * ```
   */
  logProbEnsemble(x: tf.Tensor, context?: tf.Tensor, masks?: readonly number[]): tf.Tensor {
    const who = `${this.label}.logProbEnsemble`;
    this.check(x, context, who);
    const list = masks ?? Array.from({ length: this.numMasks }, (_, i) => i);
    if (list.length === 0) throw new ValueError(`${who}: masks must not be empty.`);
    const before = this.maskIndex;
    const parts: tf.Tensor[] = [];
    try {
      for (const m of list) {
        this.useMask(m);
        parts.push(
          tf.tidy(() =>
            tf.sum(
              this.head.logProbElements(x, this.net.forward(this.head.encode(x), context)),
              -1,
            ),
          ),
        );
      }
      return tf.tidy(() => tf.sub(logSumExp(tf.stack(parts, 0), 0), Math.log(list.length)));
    } finally {
      tf.dispose(parts);
      this.useMask(before);
    }
  }

  protected get sequentialSteps(): number {
    return this.net.dim;
  }

  protected *drawSteps(
    n: number,
    context: tf.Tensor | undefined,
    rng: Rng,
  ): Generator<number, tf.Tensor, void> {
    const values = yield* this.net.sequential(n, context, (_d, params) =>
      this.head.draw(params, rng),
    );
    try {
      // a Gaussian draw is a function of the parameters: sample() passes no gradient
      return this.head.type === 'gaussian'
        ? tf.tidy(() => stopGradient(tf.stack(values, 1)))
        : tf.stack(values, 1);
    } finally {
      tf.dispose(values);
    }
  }
}
