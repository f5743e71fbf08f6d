/**
 * An autoregressive model of discrete sequences (DNA, characters, tokens): each position is a
 * categorical over a vocabulary given the positions before it, computed by a stack of causal
 * gated convolutions (a WaveNet-style stack without dilation) over one-hot inputs. A core
 * `Distribution` over sequences `[T]` (a `ConditionalDistribution` with a context vector).
 */
import {
  checkInt,
  checkRng,
  Dense,
  fmtShape,
  logSoftmax,
  type Rng,
  ShapeError,
  tf,
  ValueError,
} from '@dgm-js/core-tensors';
import { checkContext, checkLevels } from './density.js';
import { AutoregressiveModel } from './model.js';
import { PadConv } from './padconv.js';

/** Options of {@link SequenceModel}. */
export interface SequenceModelOptions {
  /** Sequence length T. */
  length: number;
  /** Vocabulary size V (tokens 0..V-1). */
  vocabSize: number;
  /** Channels of the causal stack. Default 64. */
  hiddenChannels?: number;
  /** Gated residual layers after the first. Default 4. */
  numLayers?: number;
  /** Width of each causal convolution (positions it covers). Default 3. */
  kernelSize?: number;
  /** Size of a context vector (a conditional model p(x | c)). */
  contextDim?: number;
  /** Check token values on every call. Default true. */
  validate?: boolean;
  /** Seed stream for the weights (required). */
  rng: Rng;
}

/**
 * p(x) = prod_t Cat(x_t | softmax(f(x_<t))) over token sequences `x: [batch, T]` (int32 or
 * float32 holding 0..V-1). The first layer sees positions t-k..t-1 (the input shifted by one),
 * later layers are causal gated residual convolutions, so position t depends on exactly the
 * positions before it within the reach (`receptiveReach()`); a context vector, when given, is
 * added to every layer. Exact `logProb`; `sample` draws position by position, running the
 * network on the window of positions the next one can see.
 *
 * (For short fixed-length sequences, `new Made({ head: { type: 'categorical', categories: V } })`
 * is the fully connected alternative with the same interface.)
 *
 * @example
 * ```ts
 * import { SequenceModel } from '@dgm-js/autoregressive';
 * import { Rng, tf } from '@dgm-js/core-tensors';
 * const dna = new SequenceModel({ length: 100, vocabSize: 4, rng: new Rng(0) }); // A, C, G, T
 * const lp = dna.logProb(tf.zeros([8, 100], 'int32')); // [8]
 * const seqs = dna.sample({ sampleShape: [4], rng: new Rng(1) }); // [4, 100] int32
 * ```
 */
export class SequenceModel extends AutoregressiveModel {
  readonly length: number;
  readonly vocabSize: number;
  readonly hiddenChannels: number;
  readonly kernelSize: number;
  readonly validateInputs: boolean;
  /** Sample with the receptive-field window (true, default) or the whole sequence each step. */
  windowedSampling = true;
  private readonly layers: readonly {
    a: PadConv;
    b: PadConv;
    out: PadConv | undefined;
    condA: Dense | undefined;
    condB: Dense | undefined;
  }[];
  private readonly head1: PadConv;
  private readonly head2: PadConv;

  constructor(opts: SequenceModelOptions) {
    super('SequenceModel');
    if (!opts || typeof opts !== 'object')
      throw new ValueError('SequenceModel: options are required.');
    checkRng(opts.rng, 'SequenceModel');
    checkInt(opts.length, 'length', 'SequenceModel', { min: 1 });
    checkInt(opts.vocabSize, 'vocabSize', 'SequenceModel', { min: 2 });
    const h = opts.hiddenChannels ?? 64;
    checkInt(h, 'hiddenChannels', 'SequenceModel', { min: 1 });
    const numLayers = opts.numLayers ?? 4;
    checkInt(numLayers, 'numLayers', 'SequenceModel', { min: 0 });
    const k = opts.kernelSize ?? 3;
    checkInt(k, 'kernelSize', 'SequenceModel', { min: 1 });
    if (opts.contextDim !== undefined)
      checkInt(opts.contextDim, 'contextDim', 'SequenceModel', { min: 1 });
    this.length = opts.length;
    this.vocabSize = opts.vocabSize;
    this.hiddenChannels = h;
    this.kernelSize = k;
    this.setShapes([opts.length], opts.contextDim === undefined ? undefined : [opts.contextDim]);
    this.validateInputs = opts.validate ?? true;
    const rng = opts.rng;
    const V = opts.vocabSize;
    const cond = (name: string) =>
      opts.contextDim === undefined
        ? undefined
        : this.addModule(name, new Dense(opts.contextDim, h, { rng, bias: false }));
    const layers = [];
    for (let l = 0; l <= numLayers; l++) {
      // layer 0 sees t-k..t-1 (a [1, k] kernel plus a zero column: the input shifted right by
      // one); later layers see t-k+1..t of the layer below
      const conv = () =>
        l === 0
          ? new PadConv(V, h, [1, k], { left: k }, rng, { zeroLast: 'cols' })
          : new PadConv(h, h, [1, k], { left: k - 1 }, rng);
      layers.push({
        a: this.addModule(`layer${l}_a`, conv()),
        b: this.addModule(`layer${l}_b`, conv()),
        out:
          l === 0 ? undefined : this.addModule(`layer${l}_out`, new PadConv(h, h, [1, 1], {}, rng)),
        condA: cond(`layer${l}_condA`),
        condB: cond(`layer${l}_condB`),
      });
    }
    this.layers = layers;
    this.head1 = this.addModule('head1', new PadConv(h, h, [1, 1], {}, rng));
    this.head2 = this.addModule('head2', new PadConv(h, V, [1, 1], {}, rng));
  }

  /** How many positions back the prediction at a position can see. */
  receptiveReach(): number {
    return this.kernelSize + (this.layers.length - 1) * (this.kernelSize - 1);
  }

  /** One-hot `[b, 1, t, V]` of int tokens `[b, t]`. */
  private encode(x: tf.Tensor): tf.Tensor4D {
    return tf.tidy(() => {
      const oh = tf.cast(tf.oneHot(tf.cast(x, 'int32'), this.vocabSize), 'float32');
      return tf.expandDims(oh, 1) as tf.Tensor4D;
    });
  }

  /** Logits `[b, t, V]` of every position given the ones before (any t). */
  private network(x1h: tf.Tensor4D, context: tf.Tensor | undefined): tf.Tensor {
    return tf.tidy(() => {
      const ctx = (d: Dense | undefined, t: tf.Tensor) => {
        if (!d || !context) return t;
        const v = d.apply(context);
        return tf.add(t, tf.reshape(v, [v.shape[0]!, 1, 1, v.shape[1]!]));
      };
      let hs: tf.Tensor = x1h;
      for (const L of this.layers) {
        const g = tf.mul(
          tf.tanh(ctx(L.condA, L.a.apply(hs))),
          tf.sigmoid(ctx(L.condB, L.b.apply(hs))),
        );
        hs = L.out ? tf.add(hs, L.out.apply(g)) : g;
      }
      const out = this.head2.apply(tf.relu(this.head1.apply(tf.relu(hs))));
      return tf.reshape(out, [out.shape[0]!, out.shape[2]!, this.vocabSize]);
    });
  }

  /**
   * The logits `[batch, T, V]` from a (possibly relaxed) one-hot input `[batch, T, V]` of any
   * real values: differentiable in the input (Gumbel-softmax training, gradient checks).
   *
   * @example
   * ```ts
   * const logits = dna.logitsFromOneHot(tf.softmax(tf.randomNormal([2, 100, 4])));
   * ```
   */
  logitsFromOneHot(x: tf.Tensor, context?: tf.Tensor): tf.Tensor {
    const who = `${this.label}.logitsFromOneHot`;
    if (
      !(x instanceof tf.Tensor) ||
      x.rank !== 3 ||
      x.shape[2] !== this.vocabSize ||
      x.shape[1]! < 1
    ) {
      throw new ShapeError(
        `${who}: x must have shape [batch, t, ${this.vocabSize}], got ${x instanceof tf.Tensor ? fmtShape(x.shape) : typeof x}.`,
      );
    }
    checkContext(context, this.contextShape, x.shape[0]!, who, true);
    return tf.tidy(() =>
      this.network(tf.expandDims(tf.cast(x, 'float32'), 1) as tf.Tensor4D, context),
    );
  }

  private toTokens(x: tf.Tensor, who: string): tf.Tensor {
    if (!(x instanceof tf.Tensor)) throw new ValueError(`${who}: x must be a tf.Tensor.`);
    const T = this.length;
    if (x.rank === 2 && x.shape[1] === T) return x;
    if (x.rank === 3 && x.shape[1] === T && x.shape[2] === this.vocabSize) {
      // one-hot input: check it is one-hot, then take the argmax
      const v = x.dataSync();
      const V = this.vocabSize;
      for (let r = 0; r < v.length / V; r++) {
        let s = 0;
        for (let m = 0; m < V; m++) {
          const e = v[r * V + m]!;
          if (e !== 0 && e !== 1) {
            throw new ValueError(`${who}: a one-hot x must hold 0 or 1, got ${e} at row ${r}.`);
          }
          s += e;
        }
        if (s !== 1) throw new ValueError(`${who}: one-hot row ${r} sums to ${s}, not 1.`);
      }
      return tf.argMax(x, -1);
    }
    throw new ShapeError(
      `${who}: x must be tokens [batch, ${T}] or one-hot [batch, ${T}, ${this.vocabSize}], got ${fmtShape(x.shape)}.`,
    );
  }

  /** The conditional logits of every position, `[batch, T, V]` (no context). */
  apply(x: tf.Tensor): tf.Tensor {
    return this.logits(x);
  }

  /**
   * The logits of p(x_t | x_<t) for every position: `[batch, T, V]`.
   *
   * @example
   * ```ts
   * const logits = dna.logits(x); // [batch, 100, 4]
   * ```
   */
  logits(x: tf.Tensor, context?: tf.Tensor): tf.Tensor {
    const who = `${this.label}.logits`;
    const tok = this.toTokens(x, who);
    try {
      checkContext(context, this.contextShape, tok.shape[0]!, who, true);
      if (this.validateInputs) checkLevels(tok, this.vocabSize, who);
      return tf.tidy(() => this.network(this.encode(tok), context));
    } finally {
      if (tok !== x) tok.dispose();
    }
  }

  /**
   * One-hot input `[batch, T, V]` keeps its meaning (it is not a stack of `[T]` token rows).
   */
  protected override leadingShape(x: tf.Tensor): number[] | undefined {
    if (x instanceof tf.Tensor && x.rank === 3 && x.shape[1] === this.length) {
      if (x.shape[2] === this.vocabSize) return undefined;
    }
    return super.leadingShape(x);
  }

  /** log p(x | context) per sequence, `[batch]`, nats (tokens `[batch, T]` or one-hot). */
  protected logProbBatch(x: tf.Tensor, context: tf.Tensor | undefined, who: string): tf.Tensor {
    const tok = this.toTokens(x, who);
    try {
      checkContext(context, this.contextShape, tok.shape[0]!, who, true);
      if (this.validateInputs) checkLevels(tok, this.vocabSize, who);
      return tf.tidy(() => {
        const oh = this.encode(tok);
        const lp = logSoftmax(this.network(oh, context), -1);
        return tf.sum(tf.mul(lp, tf.squeeze(oh, [1])), [1, 2]);
      });
    } finally {
      if (tok !== x) tok.dispose();
    }
  }

  protected get sequentialSteps(): number {
    return this.length;
  }

  protected *drawSteps(
    n: number,
    context: tf.Tensor | undefined,
    rng: Rng,
  ): Generator<number, tf.Tensor, void> {
    const T = this.length;
    const V = this.vocabSize;
    const reach = this.windowedSampling ? this.receptiveReach() : T;
    const tokens = new Int32Array(n * T);
    for (let t = 0; t < T; t++) {
      const t0 = Math.max(0, t - reach);
      const w = t - t0 + 1;
      const win = new Int32Array(n * w);
      for (let s = 0; s < n; s++) win.set(tokens.subarray(s * T + t0, s * T + t + 1), s * w);
      const probs = tf.tidy(() => {
        const out = this.network(this.encode(tf.tensor2d(win, [n, w], 'int32')), context);
        const flat = tf.reshape(out, [n, w * V]);
        return tf.softmax(tf.gather(flat, tf.range((w - 1) * V, w * V, 1, 'int32'), 1));
      });
      const pv = probs.dataSync();
      probs.dispose();
      for (let s = 0; s < n; s++) {
        const u = rng.float();
        let v = V - 1;
        let acc = 0;
        for (let m = 0; m < V; m++) {
          acc += pv[s * V + m]!;
          if (u < acc) {
            v = m;
            break;
          }
        }
        tokens[s * T + t] = v;
      }
      yield t + 1;
    }
    return tf.tensor2d(tokens, [n, T], 'int32');
  }
}
