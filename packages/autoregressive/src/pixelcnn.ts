/**
 * PixelCNN (van den Oord, Kalchbrenner, Kavukcuoglu 2016, "Pixel Recurrent Neural Networks")
 * with masked convolutions of type A and B and residual blocks, and the Gated PixelCNN (van den
 * Oord et al. 2016, "Conditional Image Generation with PixelCNN Decoders") whose vertical and
 * horizontal stacks remove the blind spot. Both are {@link DensityModel}s over images
 * `[batch, height, width, channels]` with binary or L-level categorical pixels, optionally
 * conditioned on a vector or on a feature map.
 */
import {
  type Activation,
  type ActivationFn,
  Conv2d,
  Dense,
  fmtShape,
  getActivation,
  logSoftmax,
  MaskedConv2d,
  Module,
  type Rng,
  ShapeError,
  softplus,
  tf,
  ValueError,
} from '@dgm-js/core-tensors';
import {
  checkContext,
  checkLevels,
  checkSampleCount,
  checkSampleOptions,
  type DensityModel,
  drain,
  drainAsync,
  type SampleAsyncOptions,
  type SampleOptions,
} from './density.js';
import { PadConv } from './padconv.js';

/** What a pixel model is conditioned on. */
export type PixelConditioning =
  | { type: 'vector'; dim: number }
  | {
      /** A feature map `[batch, height, width, channels]` of the image's spatial size. */
      type: 'map';
      channels: number;
    };

/** Options shared by {@link PixelCNN} and {@link GatedPixelCNN}. */
export interface PixelModelOptions {
  height: number;
  width: number;
  /** Image channels. Default 1. */
  channels?: number;
  /** Values per pixel channel: 2 (binary, one logit) up to 256 (softmax over levels). Default 2. */
  levels?: number;
  /** Feature channels of the hidden layers (the residual stream has 2x this in PixelCNN). Default 32. */
  hiddenChannels?: number;
  /** Number of residual blocks (PixelCNN) or gated layers after the first (GatedPixelCNN). Default 4. */
  numLayers?: number;
  /** Kernel size of the first (type A) layer; odd. Default 7. */
  firstKernelSize?: number;
  /** Kernel size of the later layers; odd. Default 3. */
  kernelSize?: number;
  /** Channels of the 1x1 output layers. Default: hiddenChannels. */
  outputChannels?: number;
  /** Condition on a vector or a feature map (the context of logProb / sample). */
  conditioning?: PixelConditioning;
  /** Check pixel values on every call. Default true. */
  validate?: boolean;
  /** Seed stream for the weights (required). */
  rng: Rng;
}

interface Reach {
  up: number;
  left: number;
  right: number;
}

function checkOdd(v: number, what: string, who: string, min: number): void {
  if (!Number.isInteger(v) || v < min || v % 2 !== 1) {
    throw new ValueError(`${who}: ${what} must be an odd integer >= ${min}, got ${v}.`);
  }
}

function checkInt(v: number, what: string, who: string, min: number): void {
  if (!Number.isInteger(v) || v < min) {
    throw new ValueError(`${who}: ${what} must be an integer >= ${min}, got ${v}.`);
  }
}

/**
 * The shared part of the pixel models: input checks and encoding, the likelihood from logits,
 * and the sampler. The sampler draws pixel by pixel in raster order (and channel by channel
 * within a pixel), running the network only on the window of already-drawn pixels that the
 * output at the current pixel can see (its receptive field), not on the whole image.
 *
 * @example
 * ```ts
 * function bitsPerDim(model: PixelModel, x: tf.Tensor): number {
 *   const dims = model.height * model.width * model.channels;
 *   return tf.tidy(() => -tf.mean(model.logProb(x)).dataSync()[0]! / (dims * Math.LN2));
 * }
 * ```
 */
export abstract class PixelModel extends Module implements DensityModel {
  readonly height: number;
  readonly width: number;
  readonly channels: number;
  readonly levels: number;
  readonly hiddenChannels: number;
  readonly numLayers: number;
  readonly firstKernelSize: number;
  readonly kernelSize: number;
  readonly conditioning: PixelConditioning | undefined;
  readonly eventShape: readonly number[];
  readonly contextShape: readonly number[] | undefined;
  readonly validateInputs: boolean;
  /** Network outputs per pixel channel: 1 logit (binary) or `levels` logits. */
  readonly paramsPerChannel: number;
  /** Sample with the receptive-field window (true, default) or the full image each step. */
  windowedSampling = true;

  protected constructor(kind: string, opts: PixelModelOptions) {
    super(kind);
    if (!opts || typeof opts !== 'object') throw new ValueError(`${kind}: options are required.`);
    if (!opts.rng) throw new ValueError(`${kind}: options.rng (an Rng) is required.`);
    checkInt(opts.height, 'height', kind, 1);
    checkInt(opts.width, 'width', kind, 1);
    this.height = opts.height;
    this.width = opts.width;
    this.channels = opts.channels ?? 1;
    checkInt(this.channels, 'channels', kind, 1);
    this.levels = opts.levels ?? 2;
    if (!Number.isInteger(this.levels) || this.levels < 2 || this.levels > 256) {
      throw new ValueError(`${kind}: levels must be an integer in [2, 256], got ${this.levels}.`);
    }
    this.hiddenChannels = opts.hiddenChannels ?? 32;
    checkInt(this.hiddenChannels, 'hiddenChannels', kind, 1);
    this.numLayers = opts.numLayers ?? 4;
    checkInt(this.numLayers, 'numLayers', kind, 0);
    this.firstKernelSize = opts.firstKernelSize ?? 7;
    checkOdd(this.firstKernelSize, 'firstKernelSize', kind, 3);
    this.kernelSize = opts.kernelSize ?? 3;
    checkOdd(this.kernelSize, 'kernelSize', kind, 1);
    const cond = opts.conditioning;
    if (cond !== undefined) {
      if (cond.type === 'vector') checkInt(cond.dim, 'conditioning.dim', kind, 1);
      else if (cond.type === 'map') checkInt(cond.channels, 'conditioning.channels', kind, 1);
      else {
        throw new ValueError(
          `${kind}: conditioning must be { type: 'vector', dim } or { type: 'map', channels }, got ${JSON.stringify(cond)}.`,
        );
      }
    }
    this.conditioning = cond;
    this.eventShape = [this.height, this.width, this.channels];
    this.contextShape =
      cond === undefined
        ? undefined
        : cond.type === 'vector'
          ? [cond.dim]
          : [this.height, this.width, cond.channels];
    this.validateInputs = opts.validate ?? true;
    this.paramsPerChannel = this.levels === 2 ? 1 : this.levels;
  }

  /**
   * The network: encoded input `[b, h, w, channels]` (any h, w: a window of the image) and the
   * context (a vector `[b or 1, dim]` or the map window `[b, h, w, c]`) to logits
   * `[b, h, w, channels * paramsPerChannel]`; channel c's logits are contiguous.
   */
  protected abstract network(x: tf.Tensor4D, context: tf.Tensor | undefined): tf.Tensor4D;

  /** How far up, left and right (in pixels) the output at a pixel can see. */
  abstract receptiveReach(): Reach;

  private toImage(x: tf.Tensor, who: string): tf.Tensor4D {
    if (!(x instanceof tf.Tensor)) throw new ValueError(`${who}: x must be a tf.Tensor.`);
    const [h, w, c] = this.eventShape as [number, number, number];
    if (x.rank === 4 && x.shape[1] === h && x.shape[2] === w && x.shape[3] === c) {
      return x as tf.Tensor4D;
    }
    if (x.rank === 2 && x.shape[1] === h * w * c) {
      return tf.reshape(x, [x.shape[0]!, h, w, c]) as tf.Tensor4D;
    }
    const hint =
      x.rank === 4 && x.shape[1] === c && x.shape[3] === w
        ? ' It looks like NCHW: transpose with tf.transpose(x, [0, 2, 3, 1]).'
        : x.rank === 3 && c === 1
          ? ' Add the channel axis with tf.expandDims(x, -1).'
          : '';
    throw new ShapeError(
      `${who}: x must have shape [batch, ${h}, ${w}, ${c}] (NHWC) or [batch, ${h * w * c}] (flattened), got ${fmtShape(x.shape)}.${hint}`,
    );
  }

  /** Values 0..levels-1 to the network input (value / (levels - 1)). */
  protected encode(x: tf.Tensor): tf.Tensor4D {
    return tf.tidy(() => {
      const f = tf.cast(x, 'float32');
      return (this.levels === 2 ? f : tf.div(f, this.levels - 1)) as tf.Tensor4D;
    });
  }

  private checkAll(x: tf.Tensor, context: tf.Tensor | undefined, who: string): tf.Tensor4D {
    const img = this.toImage(x, who);
    try {
      checkContext(
        context,
        this.contextShape,
        img.shape[0],
        who,
        this.conditioning?.type === 'vector',
      );
      if (this.validateInputs) checkLevels(img, this.levels, who);
    } catch (e) {
      if (img !== x) img.dispose();
      throw e;
    }
    return img;
  }

  /**
   * The logits of every pixel's conditional given the pixels before it: `[batch, height,
   * width, channels]` (binary) or `[batch, height, width, channels, levels]`.
   *
   * @example
   * ```ts
   * const logits = model.logits(x); // [batch, 28, 28, 1] for binary MNIST
   * ```
   */
  logits(x: tf.Tensor, context?: tf.Tensor): tf.Tensor {
    const who = `${this.label}.logits`;
    const img = this.checkAll(x, context, who);
    return tf.tidy(() => {
      const out = this.network(this.encode(img), context);
      if (img !== x) img.dispose();
      const [b, h, w] = out.shape;
      return this.levels === 2 ? out : tf.reshape(out, [b, h, w, this.channels, this.levels]);
    });
  }

  /** The network output, `[batch, height, width, channels * paramsPerChannel]` (no context). */
  apply(x: tf.Tensor): tf.Tensor {
    return this.logits(x);
  }

  /**
   * log p(x | context) per image, `[batch]`, nats: the sum over pixels and channels of
   * log p(x_i | x_<i) in raster order. `x` is `[batch, height, width, channels]` (or
   * flattened `[batch, height * width * channels]`) with values 0..levels-1.
   *
   * @example
   * ```ts
   * const nll = tf.neg(model.logProb(xBinary)); // [batch]
   * ```
   */
  logProb(x: tf.Tensor, context?: tf.Tensor): tf.Tensor {
    const who = `${this.label}.logProb`;
    const img = this.checkAll(x, context, who);
    return tf.tidy(() => {
      const out = this.network(this.encode(img), context);
      const xf = tf.cast(img, 'float32');
      if (img !== x) img.dispose();
      let lp: tf.Tensor;
      if (this.levels === 2) lp = tf.sub(tf.mul(xf, out), softplus(out));
      else {
        const [b, h, w] = out.shape;
        const l = logSoftmax(tf.reshape(out, [b, h, w, this.channels, this.levels]), -1);
        const oh = tf.cast(tf.oneHot(tf.cast(xf, 'int32'), this.levels), 'float32');
        lp = tf.sum(tf.mul(l, oh), -1);
      }
      return tf.sum(lp, [1, 2, 3]);
    });
  }

  private *sampleSteps(n: number, opts: SampleOptions): Generator<number, tf.Tensor, void> {
    const who = `${this.label}.sample`;
    checkSampleCount(n, who);
    checkSampleOptions(opts, who);
    const context = opts.context;
    checkContext(context, this.contextShape, n, who, this.conditioning?.type === 'vector');
    const rng = opts.rng;
    const [H, W, C] = this.eventShape as [number, number, number];
    const L = this.levels;
    const k = this.paramsPerChannel;
    const scale = L === 2 ? 1 : 1 / (L - 1);
    const values = new Float32Array(n * H * W * C);
    const reach = this.windowedSampling ? this.receptiveReach() : { up: H, left: W, right: W };
    // a feature-map context is windowed like the image (read once: slicing a tensor copies
    // all of it on the wasm backend)
    const mapVals = context && this.conditioning?.type === 'map' ? context.dataSync() : undefined;
    const mapC = this.conditioning?.type === 'map' ? this.conditioning.channels : 0;
    let done = 0;
    for (let i = 0; i < H; i++) {
      const r0 = Math.max(0, i - reach.up);
      const rows = i - r0 + 1;
      for (let j = 0; j < W; j++) {
        const c0 = Math.max(0, j - reach.left);
        const c1 = Math.min(W - 1, j + reach.right);
        const cols = c1 - c0 + 1;
        for (let c = 0; c < C; c++) {
          // the window of the image drawn so far (zeros where nothing is drawn yet)
          const win = new Float32Array(n * rows * cols * C);
          let p = 0;
          for (let s = 0; s < n; s++) {
            for (let y = r0; y <= i; y++) {
              const base = ((s * H + y) * W + c0) * C;
              for (let q = 0; q < cols * C; q++) win[p++] = values[base + q]! * scale;
            }
          }
          const probs = tf.tidy(() => {
            const xw = tf.tensor4d(win, [n, rows, cols, C]);
            let ctx = context;
            if (mapVals) {
              const cw = new Float32Array(n * rows * cols * mapC);
              let q = 0;
              for (let s = 0; s < n; s++) {
                for (let y = r0; y <= i; y++) {
                  const base = ((s * H + y) * W + c0) * mapC;
                  cw.set(mapVals.subarray(base, base + cols * mapC) as Float32Array, q);
                  q += cols * mapC;
                }
              }
              ctx = tf.tensor4d(cw, [n, rows, cols, mapC]);
            }
            const out = this.network(xw, ctx);
            const flat = tf.reshape(out, [n, -1]);
            const at = ((i - r0) * cols + (j - c0)) * C * k + c * k;
            const l = tf.gather(flat, tf.range(at, at + k, 1, 'int32'), 1);
            return k === 1 ? tf.sigmoid(l) : tf.softmax(l);
          });
          const pv = probs.dataSync();
          probs.dispose();
          for (let s = 0; s < n; s++) {
            const u = rng.float();
            let v: number;
            if (k === 1) v = u < pv[s]! ? 1 : 0;
            else {
              v = L - 1;
              let acc = 0;
              for (let m = 0; m < L; m++) {
                acc += pv[s * L + m]!;
                if (u < acc) {
                  v = m;
                  break;
                }
              }
            }
            values[((s * H + i) * W + j) * C + c] = v;
          }
          yield ++done;
        }
      }
    }
    return L === 2
      ? tf.tensor4d(values, [n, H, W, C])
      : tf.tensor4d(Int32Array.from(values), [n, H, W, C], 'int32');
  }

  /**
   * `n` images `[n, height, width, channels]` drawn pixel by pixel in raster order (channels in
   * order within a pixel), each from its conditional given everything drawn before: one
   * network pass per pixel channel, over the receptive-field window only. Binary images are
   * float32 0/1, L-level ones int32.
   *
   * @example
   * ```ts
   * const imgs = model.sample(16, {
   *   rng: new Rng(0),
   *   onProgress: ({ done, total }) => done % 100 === 0 && console.log(`${done}/${total}`),
   * });
   * ```
   */
  sample(n: number, opts: SampleOptions): tf.Tensor {
    return drain(
      this.sampleSteps(n, opts),
      this.height * this.width * this.channels,
      opts?.onProgress,
    );
  }

  /**
   * As {@link sample}, yielding to the event loop while it works, stoppable with `signal`.
   *
   * @example
   * ```ts
   * const imgs = await model.sampleAsync(16, { rng: new Rng(0), signal });
   * ```
   */
  sampleAsync(n: number, opts: SampleAsyncOptions): Promise<tf.Tensor> {
    return drainAsync(this.sampleSteps(n, opts), this.height * this.width * this.channels, opts);
  }
}

/** Per-layer conditioning: a vector through a Dense, or a feature map through a 1x1 Conv2d. */
function makeCond(
  cond: PixelConditioning | undefined,
  out: number,
  rng: Rng,
): Dense | Conv2d | undefined {
  if (!cond) return undefined;
  return cond.type === 'vector'
    ? new Dense(cond.dim, out, { rng, bias: false })
    : new Conv2d(cond.channels, out, 1, { rng, bias: false });
}

/** The conditioning term to add to a `[b, h, w, c]` activation. */
function condTerm(
  layer: Dense | Conv2d | undefined,
  context: tf.Tensor | undefined,
): tf.Tensor | undefined {
  if (!layer || !context) return undefined;
  if (layer instanceof Conv2d) return layer.apply(context);
  const v = layer.apply(context);
  return tf.reshape(v, [v.shape[0]!, 1, 1, v.shape[1]!]);
}

/** Options of {@link PixelCNN}. */
export interface PixelCNNOptions extends PixelModelOptions {
  /** Activation inside the residual blocks. Default 'relu'. */
  activation?: Activation;
}

/**
 * PixelCNN with residual blocks (van den Oord et al. 2016a, figure 5): a type-A masked
 * convolution (`firstKernelSize`, centre pixel excluded), then `numLayers` residual blocks
 * (1x1 -> k x k type-B masked -> 1x1 on a stream of 2h channels), then two 1x1 type-B
 * layers to the logits. With several image channels the masks split channels into groups
 * (R before G before B at the same pixel). The stacked masks leave a blind spot up and to the
 * right (see {@link GatedPixelCNN} for the fix).
 *
 * @example
 * ```ts
 * import { PixelCNN } from '@dgm-js/autoregressive';
 * import { Rng } from '@dgm-js/core-tensors';
 * const model = new PixelCNN({ height: 28, width: 28, hiddenChannels: 16, numLayers: 4, rng: new Rng(0) });
 * const lp = model.logProb(xBinary); // [batch]
 * ```
 */
export class PixelCNN extends PixelModel {
  readonly first: MaskedConv2d;
  readonly blocks: readonly {
    in1: MaskedConv2d;
    conv: MaskedConv2d;
    out1: MaskedConv2d;
    cond: Dense | Conv2d | undefined;
  }[];
  readonly head1: MaskedConv2d;
  readonly head2: MaskedConv2d;
  readonly firstCond: Dense | Conv2d | undefined;
  private readonly act: ActivationFn;

  constructor(opts: PixelCNNOptions) {
    super('PixelCNN', opts);
    const C = this.channels;
    const h = this.hiddenChannels;
    const outC = opts.outputChannels ?? h;
    if (C > 1 && (h % C !== 0 || outC % C !== 0)) {
      throw new ValueError(
        `PixelCNN: with ${C} image channels, hiddenChannels (${h}) and outputChannels (${outC}) must be multiples of ${C} (channel groups).`,
      );
    }
    this.act = getActivation(opts.activation ?? 'relu');
    const rng = opts.rng;
    const g = C;
    const mc = (i: number, o: number, k: number, type: 'A' | 'B', name: string) =>
      this.addModule(name, new MaskedConv2d(i, o, k, { rng, maskType: type, channelGroups: g }));
    this.first = mc(C, 2 * h, this.firstKernelSize, 'A', 'first');
    this.firstCond = makeCond(this.conditioning, 2 * h, rng);
    if (this.firstCond) this.addModule('firstCond', this.firstCond);
    const blocks = [];
    for (let l = 0; l < this.numLayers; l++) {
      const cond = makeCond(this.conditioning, h, rng);
      blocks.push({
        in1: mc(2 * h, h, 1, 'B', `block${l}_in`),
        conv: mc(h, h, this.kernelSize, 'B', `block${l}_conv`),
        out1: mc(h, 2 * h, 1, 'B', `block${l}_out`),
        cond: cond ? this.addModule(`block${l}_cond`, cond) : undefined,
      });
    }
    this.blocks = blocks;
    this.head1 = mc(2 * h, outC, 1, 'B', 'head1');
    this.head2 = mc(outC, C * this.paramsPerChannel, 1, 'B', 'head2');
  }

  receptiveReach(): Reach {
    const r = (this.firstKernelSize - 1) / 2 + this.numLayers * ((this.kernelSize - 1) / 2);
    return { up: r, left: r, right: r };
  }

  protected network(x: tf.Tensor4D, context: tf.Tensor | undefined): tf.Tensor4D {
    return tf.tidy(() => {
      let s = this.first.apply(x);
      const c0 = condTerm(this.firstCond, context);
      if (c0) s = tf.add(s, c0);
      for (const b of this.blocks) {
        let t = b.in1.apply(this.act(s));
        t = b.conv.apply(this.act(t));
        const cb = condTerm(b.cond, context);
        if (cb) t = tf.add(t, cb);
        s = tf.add(s, b.out1.apply(this.act(t)));
      }
      return this.head2.apply(this.act(this.head1.apply(this.act(s)))) as tf.Tensor4D;
    });
  }
}

interface GatedLayer {
  /** Vertical stack, gate halves: `[p+1, k]` over the rows above and the current one. */
  va: PadConv;
  vb: PadConv;
  /** Horizontal stack, gate halves: `[1, p+1]` (first layer: `[1, p]`, right-shifted). */
  ha: PadConv;
  hb: PadConv;
  /** Vertical output, shifted down one row, into the horizontal gate halves. */
  v2ha: PadConv;
  v2hb: PadConv;
  /** Horizontal output 1x1 (the residual branch). */
  hOut: PadConv;
  condA: Dense | Conv2d | undefined;
  condB: Dense | Conv2d | undefined;
  /** Half-width p of the layer's kernel. */
  p: number;
}

/**
 * Gated PixelCNN (van den Oord et al. 2016b): a vertical stack (convolutions over the rows
 * above, fed into the horizontal stack after a one-row shift) and a horizontal stack
 * (convolutions over the pixels to the left in the current row), with gated activations
 * tanh(a) * sigmoid(b), residual connections in the horizontal stack, and conditioning added to
 * both stacks' pre-activations. Its receptive field has no blind spot: the output at a pixel
 * depends on every pixel above (within the reach) and to the left. One image channel.
 *
 * @example
 * ```ts
 * import { GatedPixelCNN } from '@dgm-js/autoregressive';
 * import { Rng } from '@dgm-js/core-tensors';
 * const model = new GatedPixelCNN({
 *   height: 28, width: 28, hiddenChannels: 32, numLayers: 6,
 *   conditioning: { type: 'vector', dim: 10 }, rng: new Rng(0),
 * });
 * const lp = model.logProb(x, oneHotLabels); // [batch]
 * const imgs = model.sample(10, { rng: new Rng(1), context: oneHotLabels });
 * ```
 */
export class GatedPixelCNN extends PixelModel {
  readonly layers: readonly GatedLayer[];
  readonly head1: Conv2d;
  readonly head2: Conv2d;

  constructor(opts: PixelModelOptions) {
    super('GatedPixelCNN', opts);
    if (this.channels !== 1) {
      throw new ValueError(
        `GatedPixelCNN: supports one image channel, got channels ${this.channels}; use PixelCNN (channel-grouped masks) for multi-channel images.`,
      );
    }
    if (this.kernelSize < 3) {
      throw new ValueError(`GatedPixelCNN: kernelSize must be >= 3, got ${this.kernelSize}.`);
    }
    const h = this.hiddenChannels;
    const rng = opts.rng;
    const layers: GatedLayer[] = [];
    for (let l = 0; l <= this.numLayers; l++) {
      const k = l === 0 ? this.firstKernelSize : this.kernelSize;
      const p = (k - 1) / 2;
      const cin = l === 0 ? this.channels : h;
      const add = <M extends Module>(name: string, m: M): M =>
        this.addModule(`layer${l}_${name}`, m);
      const vert = () => new PadConv(cin, h, [p + 1, k], { top: p, left: p, right: p }, rng);
      const horiz = () =>
        l === 0
          ? new PadConv(cin, h, [1, p], { left: p }, rng, { zeroLast: 'cols' })
          : new PadConv(cin, h, [1, p + 1], { left: p }, rng);
      const v2h = () =>
        new PadConv(h, h, [1, 1], { top: 1 }, rng, { bias: false, zeroLast: 'rows' });
      const cA = makeCond(this.conditioning, h, rng);
      const cB = makeCond(this.conditioning, h, rng);
      layers.push({
        va: add('va', vert()),
        vb: add('vb', vert()),
        ha: add('ha', horiz()),
        hb: add('hb', horiz()),
        v2ha: add('v2ha', v2h()),
        v2hb: add('v2hb', v2h()),
        hOut: add('hout', new PadConv(h, h, [1, 1], {}, rng)),
        condA: cA ? add('condA', cA) : undefined,
        condB: cB ? add('condB', cB) : undefined,
        p,
      });
    }
    this.layers = layers;
    const outC = opts.outputChannels ?? h;
    this.head1 = this.addModule('head1', new Conv2d(h, outC, 1, { rng }));
    this.head2 = this.addModule('head2', new Conv2d(outC, this.paramsPerChannel, 1, { rng }));
  }

  receptiveReach(): Reach {
    const r = this.layers.reduce((s, l) => s + l.p, 0);
    return { up: r + 1, left: r, right: r };
  }

  protected network(x: tf.Tensor4D, context: tf.Tensor | undefined): tf.Tensor4D {
    return tf.tidy(() => {
      let v: tf.Tensor = x;
      let hs: tf.Tensor = x;
      this.layers.forEach((L, l) => {
        const ca = condTerm(L.condA, context);
        const cb = condTerm(L.condB, context);
        const plus = (t: tf.Tensor, c: tf.Tensor | undefined) => (c ? tf.add(t, c) : t);
        // vertical: rows i-p..i, columns j-p..j+p (reaches the horizontal stack only shifted)
        const vOut = tf.mul(tf.tanh(plus(L.va.apply(v), ca)), tf.sigmoid(plus(L.vb.apply(v), cb)));
        // horizontal: columns j-p..j of row i (first layer j-p..j-1), plus the vertical
        // output of the row above
        const a = plus(tf.add(L.ha.apply(hs), L.v2ha.apply(vOut)), ca);
        const b = plus(tf.add(L.hb.apply(hs), L.v2hb.apply(vOut)), cb);
        const hNew = L.hOut.apply(tf.mul(tf.tanh(a), tf.sigmoid(b)));
        hs = l === 0 ? hNew : tf.add(hs, hNew);
        v = vOut;
      });
      return this.head2.apply(tf.relu(this.head1.apply(tf.relu(hs)))) as tf.Tensor4D;
    });
  }
}
