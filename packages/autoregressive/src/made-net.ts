/**
 * The MADE network (Germain, Gregor, Murray, Larochelle 2015): masked layers x -> per-dimension
 * parameters with the autoregressive property, several connectivities, and the incremental
 * sequential pass of sampling. Reused by `Made` and by MAF / IAF in `@dgm-js/flows`.
 */
import {
  type Activation,
  type ActivationFn,
  checkInt,
  checkRng,
  Dense,
  fmtShape,
  getActivation,
  MaskedDense,
  Module,
  type Rng,
  ShapeError,
  tf,
  ValueError,
} from '@dgm-js/core-tensors';
import { checkContext } from './density.js';
import {
  degreeMask,
  type HiddenDegrees,
  type MadeDegrees,
  madeDegrees,
  maskRng,
  type OrderingSpec,
  permutation,
  repeatDegrees,
  resolveOrdering,
} from './masks.js';

/** Options of {@link MadeNet}. */
export interface MadeNetOptions {
  /** D, the number of dimensions (autoregressive positions). */
  dim: number;
  /** Hidden layer widths, e.g. [500] or [512, 512]. May be empty (a masked linear model). */
  hiddenSizes: readonly number[];
  /** Network outputs per dimension (1 logit, K logits, 2 for mean and log-scale, ...). Default 1. */
  paramsPerDim?: number;
  /** Network inputs per dimension (K for one-hot values). Default 1. */
  inputsPerDim?: number;
  /** The ordering of mask 0. Default 'natural' (0, 1, ..., D-1). */
  ordering?: OrderingSpec;
  /**
   * Number of connectivity masks for connectivity-agnostic training (Germain et al. section
   * 4.2). Default 1. Mask 0 uses `ordering`; masks 1.. use it too, or random orderings when
   * `orderAgnostic`.
   */
  numMasks?: number;
  /** Masks 1.. draw random orderings (order-agnostic training). Default false. */
  orderAgnostic?: boolean;
  /** Hidden degrees: 'equal' (evenly spread) or 'random'. Default 'equal' with one mask, else 'random'. */
  hiddenDegrees?: HiddenDegrees;
  /** Size of a context vector fed (unmasked) into the first layer: a conditional MADE. */
  contextDim?: number;
  /** Add masked direct input -> output connections. Default false. */
  directConnections?: boolean;
  /** Hidden activation. Default 'relu'. */
  activation?: Activation;
  /** Seed stream for the weights (required). */
  rng: Rng;
  /** Seed of the orderings and degrees of every mask. Default: drawn from `rng`. */
  maskSeed?: number;
}

/**
 * The MADE network: a stack of {@link MaskedDense} layers whose masks make output d (its
 * `paramsPerDim` values) depend only on the inputs of the dimensions before d in the
 * ordering (and on the context, when there is one). Input `[batch, D * inputsPerDim]` (the
 * `inputsPerDim` units of dimension d are contiguous), output `[batch, D, paramsPerDim]`.
 *
 * With `numMasks > 1` the network holds several connectivities (orderings and hidden degrees)
 * and `useMask(i)` switches between them: connectivity-agnostic training switches each step.
 *
 * @example
 * ```ts
 * import { MadeNet } from '@dgm-js/autoregressive';
 * import { Rng, tf } from '@dgm-js/core-tensors';
 * // the MAF conditioner: x -> (mu, log-scale) for 5 dimensions
 * const net = new MadeNet({ dim: 5, hiddenSizes: [64, 64], paramsPerDim: 2, rng: new Rng(0) });
 * const p = net.apply(tf.randomNormal([8, 5])); // [8, 5, 2]; p[:, d] depends on x[:, <d] only
 * ```
 */
export class MadeNet extends Module {
  readonly dim: number;
  readonly hiddenSizes: readonly number[];
  readonly paramsPerDim: number;
  readonly inputsPerDim: number;
  readonly contextDim: number | undefined;
  readonly numMasks: number;
  readonly hidden: readonly MaskedDense[];
  readonly output: MaskedDense;
  readonly direct: MaskedDense | undefined;
  readonly contextLayer: Dense | undefined;
  /** Context -> output (unmasked): the first dimension in the ordering sees the context too. */
  readonly contextOutput: Dense | undefined;
  private readonly act: ActivationFn;
  private readonly degrees: MadeDegrees[];
  private current = 0;

  constructor(opts: MadeNetOptions) {
    super('MadeNet');
    const who = 'MadeNet';
    if (!opts || typeof opts !== 'object') throw new ValueError(`${who}: options are required.`);
    checkRng(opts.rng, who);
    checkInt(opts.dim, 'dim', who);
    if (!Array.isArray(opts.hiddenSizes)) {
      throw new ValueError(`${who}: hiddenSizes must be an array of layer widths, e.g. [500].`);
    }
    for (const h of opts.hiddenSizes) checkInt(h, 'every hidden size', who);
    const k = opts.paramsPerDim ?? 1;
    const inPer = opts.inputsPerDim ?? 1;
    checkInt(k, 'paramsPerDim', who);
    checkInt(inPer, 'inputsPerDim', who);
    const numMasks = opts.numMasks ?? 1;
    checkInt(numMasks, 'numMasks', who);
    if (opts.contextDim !== undefined) checkInt(opts.contextDim, 'contextDim', who);
    if (opts.directConnections && opts.hiddenSizes.length === 0) {
      throw new ValueError(
        `${who}: directConnections needs at least one hidden layer (without hidden layers the output layer already is the direct connection).`,
      );
    }
    const strategy = opts.hiddenDegrees ?? (numMasks > 1 ? 'random' : 'equal');
    if (numMasks > 1 && strategy === 'equal' && !opts.orderAgnostic) {
      throw new ValueError(
        `${who}: numMasks > 1 with hiddenDegrees 'equal' and a fixed ordering gives ${numMasks} identical masks; use hiddenDegrees 'random' or orderAgnostic: true.`,
      );
    }
    this.dim = opts.dim;
    this.hiddenSizes = [...opts.hiddenSizes];
    this.paramsPerDim = k;
    this.inputsPerDim = inPer;
    this.contextDim = opts.contextDim;
    this.numMasks = numMasks;
    this.act = getActivation(opts.activation ?? 'relu');

    const seed = opts.maskSeed ?? opts.rng.next();
    if (!Number.isInteger(seed))
      throw new ValueError(`${who}: maskSeed must be an integer, got ${seed}.`);
    const order0 = resolveOrdering(opts.ordering ?? 'natural', this.dim, maskRng(seed, -1), who);
    this.degrees = [];
    for (let i = 0; i < numMasks; i++) {
      const r = maskRng(seed, i);
      const order = i > 0 && opts.orderAgnostic ? permutation(this.dim, r) : order0;
      this.degrees.push(madeDegrees(order, this.hiddenSizes, strategy, r));
    }

    const masks = this.buildMasks(0);
    const sizes = [this.dim * inPer, ...this.hiddenSizes];
    const hidden: MaskedDense[] = [];
    for (let l = 0; l < this.hiddenSizes.length; l++) {
      hidden.push(
        this.addModule(
          `hidden${l}`,
          this.maskedDense(masks.hidden[l]!, sizes[l]!, sizes[l + 1]!, { rng: opts.rng }),
        ),
      );
    }
    this.hidden = hidden;
    const last = sizes[sizes.length - 1]!;
    this.output = this.addModule(
      'output',
      this.maskedDense(masks.output, last, this.dim * k, { rng: opts.rng }),
    );
    this.direct = opts.directConnections
      ? this.addModule(
          'direct',
          this.maskedDense(masks.direct!, this.dim * inPer, this.dim * k, {
            rng: opts.rng,
            bias: false,
          }),
        )
      : undefined;
    this.contextLayer =
      opts.contextDim !== undefined
        ? this.addModule(
            'context',
            new Dense(opts.contextDim, this.hiddenSizes[0] ?? this.dim * k, {
              rng: opts.rng,
              bias: false,
            }),
          )
        : undefined;
    this.contextOutput =
      opts.contextDim !== undefined && this.hiddenSizes.length > 0
        ? this.addModule(
            'contextOut',
            new Dense(opts.contextDim, this.dim * k, { rng: opts.rng, bias: false }),
          )
        : undefined;
  }

  /** A MaskedDense with mask `m`; the temporary mask tensor is freed (the layer keeps a copy). */
  private maskedDense(
    m: Float32Array,
    rows: number,
    cols: number,
    opts: { rng: Rng; bias?: boolean },
  ): MaskedDense {
    const t = tf.tensor2d(m, [rows, cols]);
    try {
      return new MaskedDense(rows, cols, t, opts);
    } finally {
      t.dispose();
    }
  }

  private buildMasks(index: number): {
    hidden: Float32Array[];
    output: Float32Array;
    direct: Float32Array | undefined;
  } {
    const deg = this.degrees[index]!;
    const inDeg = repeatDegrees(deg.dimDegrees, this.inputsPerDim);
    const outDeg = repeatDegrees(deg.dimDegrees, this.paramsPerDim);
    const hidden: Float32Array[] = [];
    let prev = inDeg;
    for (const h of deg.hidden) {
      hidden.push(degreeMask(prev, h, false));
      prev = h;
    }
    return {
      hidden,
      output: degreeMask(prev, outDeg, true),
      direct: this.hiddenSizes.length > 0 ? degreeMask(inDeg, outDeg, true) : undefined,
    };
  }

  /** The mask in use (0-based). */
  get maskIndex(): number {
    return this.current;
  }

  /** The ordering of the mask in use: `ordering[r]` is the dimension generated at step r. */
  get ordering(): readonly number[] {
    return this.degrees[this.current]!.ordering;
  }

  /** The degrees (ordering and hidden-unit degrees) of mask `index`. */
  maskDegrees(index = this.current): MadeDegrees {
    this.checkMaskIndex(index);
    return this.degrees[index]!;
  }

  private checkMaskIndex(index: number): void {
    if (!Number.isInteger(index) || index < 0 || index >= this.numMasks) {
      throw new ValueError(
        `${this.label}: mask index must be an integer in [0, ${this.numMasks - 1}], got ${index}.`,
      );
    }
  }

  /**
   * Switches to connectivity `index` (its ordering and hidden degrees): the layers' mask
   * buffers are overwritten. A no-op when it is already in use.
   *
   * @example
   * ```ts
   * net.useMask(step % net.numMasks); // connectivity-agnostic training
   * ```
   */
  useMask(index: number): void {
    this.checkMaskIndex(index);
    if (index === this.current) return;
    const m = this.buildMasks(index);
    const assign = (layer: MaskedDense, data: Float32Array) => {
      const t = tf.tensor2d(data, [layer.inFeatures, layer.outFeatures]);
      layer.mask.assign(t);
      t.dispose();
    };
    for (let i = 0; i < this.hidden.length; i++) assign(this.hidden[i]!, m.hidden[i]!);
    assign(this.output, m.output);
    if (this.direct) assign(this.direct, m.direct!);
    this.current = index;
  }

  /** Checks the network input `[batch, D * inputsPerDim]`. */
  private checkInput(x: tf.Tensor, who: string): void {
    const n = this.dim * this.inputsPerDim;
    if (!(x instanceof tf.Tensor)) throw new ValueError(`${who}: x must be a tf.Tensor.`);
    if (x.rank !== 2 || x.shape[1] !== n) {
      throw new ShapeError(
        `${who}: x must have shape [batch, ${n}]${this.inputsPerDim > 1 ? ` (D = ${this.dim} dimensions x ${this.inputsPerDim} inputs each)` : ''}, got ${fmtShape(x.shape)}.`,
      );
    }
  }

  /** Parameters of every conditional (no context): `[batch, D, paramsPerDim]`. */
  apply(x: tf.Tensor): tf.Tensor {
    return this.forward(x);
  }

  /**
   * Parameters of every conditional, `[batch, D, paramsPerDim]`: `out[:, d]` depends only on
   * the inputs of the dimensions before d in the current ordering, and on `context`.
   *
   * @example
   * ```ts
   * const p = net.forward(x, context); // [batch, D, paramsPerDim]
   * ```
   */
  forward(x: tf.Tensor, context?: tf.Tensor): tf.Tensor {
    const who = `${this.label}.forward`;
    this.checkInput(x, who);
    checkContext(
      context,
      this.contextDim === undefined ? undefined : [this.contextDim],
      x.shape[0]!,
      who,
      true,
    );
    return tf.tidy(() => {
      const first = this.hidden[0] ?? this.output;
      let pre = first.apply(x);
      if (this.contextLayer && context) pre = tf.add(pre, this.contextLayer.apply(context));
      let out: tf.Tensor;
      if (this.hidden.length === 0) out = pre;
      else {
        let h = this.act(pre);
        for (let l = 1; l < this.hidden.length; l++) h = this.act(this.hidden[l]!.apply(h));
        out = this.output.apply(h);
        if (this.direct) out = tf.add(out, this.direct.apply(x));
        if (this.contextOutput && context) out = tf.add(out, this.contextOutput.apply(context));
      }
      return tf.reshape(out, [x.shape[0]!, this.dim, this.paramsPerDim]);
    });
  }

  /**
   * The sequential pass of sampling (and of inverting a MAF): for r = 0..D-1 it computes the
   * parameters `[n, paramsPerDim]` of dimension d = ordering[r] given the values chosen so far,
   * and `choose(d, params)` returns the chosen value's network input `[n, inputsPerDim]` plus
   * anything to keep (`value`). Only what changes is recomputed: the first layer's
   * pre-activation is updated by one rank-`inputsPerDim` product per step, and only the
   * output columns of d are computed. Yields the number of steps done; returns the kept values
   * by dimension (the caller owns them).
   */
  *sequential(
    n: number,
    context: tf.Tensor | undefined,
    choose: (d: number, params: tf.Tensor) => { input: tf.Tensor; value: tf.Tensor },
  ): Generator<number, tf.Tensor[], void> {
    const who = `${this.label}.sequential`;
    checkInt(n, 'n (the number of samples)', who);
    checkContext(
      context,
      this.contextDim === undefined ? undefined : [this.contextDim],
      n,
      who,
      true,
    );
    const k = this.paramsPerDim;
    const inPer = this.inputsPerDim;
    const first = this.hidden[0] ?? this.output;
    const eff = (l: MaskedDense) => tf.tidy(() => tf.mul(l.kernel, l.mask));
    const w1 = eff(first);
    const deeper = this.hidden.slice(1).map((l) => ({ w: eff(l), b: l.bias }));
    const wOutT = this.hidden.length
      ? tf.tidy(() => tf.transpose(tf.mul(this.output.kernel, this.output.mask)))
      : undefined;
    const wDirect = this.direct ? eff(this.direct) : undefined;
    const values: tf.Tensor[] = new Array(this.dim);
    // First-layer pre-activation with every input zero: bias + context term.
    let pre: tf.Tensor = tf.tidy(() => {
      let p: tf.Tensor = first.bias
        ? tf.tile(tf.reshape(first.bias, [1, -1]), [n, 1])
        : tf.zeros([n, first.outFeatures]);
      if (this.contextLayer && context) p = tf.add(p, this.contextLayer.apply(context));
      return p;
    });
    // Output terms that do not change while sampling: direct connections start at zero, the
    // context term is fixed.
    let directAcc: tf.Tensor | undefined =
      wDirect || (this.contextOutput && context)
        ? tf.tidy(() =>
            this.contextOutput && context
              ? tf.add(tf.zeros([n, this.dim * k]), this.contextOutput.apply(context))
              : tf.zeros([n, this.dim * k]),
          )
        : undefined;
    const order = this.ordering;
    let complete = false;
    try {
      for (let r = 0; r < this.dim; r++) {
        const d = order[r]!;
        const [nextPre, nextDirect, value] = tf.tidy(() => {
          // gather, not slice: slicing a big tensor copies all of it on the wasm backend
          const outIdx = tf.range(d * k, (d + 1) * k, 1, 'int32');
          const inIdx = tf.range(d * inPer, (d + 1) * inPer, 1, 'int32');
          let params: tf.Tensor;
          if (!wOutT) params = tf.gather(pre, outIdx, 1);
          else {
            let h = this.act(pre);
            for (const { w, b } of deeper)
              h = this.act(b ? tf.add(tf.matMul(h, w), b) : tf.matMul(h, w));
            params = tf.matMul(h, tf.transpose(tf.gather(wOutT, outIdx)));
            if (this.output.bias) params = tf.add(params, tf.gather(this.output.bias, outIdx));
            if (directAcc) params = tf.add(params, tf.gather(directAcc, outIdx, 1));
          }
          const c = choose(d, params);
          const p2 = tf.add(pre, tf.matMul(c.input, tf.gather(w1, inIdx)));
          const d2 =
            directAcc && wDirect
              ? tf.add(directAcc, tf.matMul(c.input, tf.gather(wDirect, inIdx)))
              : undefined;
          return [p2, d2, c.value] as const;
        });
        pre.dispose();
        pre = nextPre;
        if (nextDirect) {
          directAcc?.dispose();
          directAcc = nextDirect;
        }
        values[d] = value;
        yield r + 1;
      }
      complete = true;
      return values;
    } finally {
      // on an error or an early return (abort) the partial values are freed too
      if (!complete) for (const v of values) v?.dispose();
      pre.dispose();
      directAcc?.dispose();
      tf.dispose([w1, ...deeper.map((x) => x.w)]);
      if (wOutT) wOutT.dispose();
      if (wDirect) wDirect.dispose();
    }
  }
}
