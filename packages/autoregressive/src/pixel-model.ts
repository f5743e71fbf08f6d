/**
 * The shared part of the pixel models (PixelCNN, Gated PixelCNN): options, input checks and
 * encoding, the likelihood from logits, and the windowed pixel-by-pixel sampler. A pixel model
 * is a core `Distribution` over images `[height, width, channels]` with binary or L-level
 * categorical pixels, optionally conditioned on a vector or on a feature map.
 */
import {
  checkInt,
  checkRng,
  fmtShape,
  logSoftmax,
  type Rng,
  ShapeError,
  softplus,
  tf,
  ValueError,
} from '@dgm-js/core-tensors';
import { checkContext, checkLevels } from './density.js';
import { AutoregressiveModel } from './model.js';

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

/** How far up, left and right (in pixels) the output at a pixel can see. */
export interface Reach {
  up: number;
  left: number;
  right: number;
}

function checkOdd(v: number, what: string, who: string, min: number): void {
  if (!Number.isInteger(v) || v < min || v % 2 !== 1) {
    throw new ValueError(`${who}: ${what} must be an odd integer >= ${min}, got ${v}.`);
  }
}

/**
 * The shared part of the pixel models: input checks and encoding, the likelihood from logits,
 * and the sampler. A pixel model is a core `Distribution` with batch shape `[]` and event shape
 * `[height, width, channels]`: `sample({ sampleShape: [n], rng })` draws `[n, height, width,
 * channels]` (binary images float32 0/1, L-level ones int32) pixel by pixel in raster order (and
 * channel by channel within a pixel), running the network only on the window of already-drawn
 * pixels that the output at the current pixel can see (its receptive field), not on the whole
 * image; one network pass per pixel channel.
 *
 * @example
 * ```ts
 * import { bitsPerDim } from '@dgm-js/core-tensors';
 * function testBitsPerDim(model: PixelModel, x: tf.Tensor): number {
 *   const dims = model.height * model.width * model.channels;
 *   return bitsPerDim(tf.tidy(() => -tf.mean(model.logProb(x)).dataSync()[0]!), dims);
 * }
 * ```
 */
export abstract class PixelModel extends AutoregressiveModel {
  readonly height: number;
  readonly width: number;
  readonly channels: number;
  readonly levels: number;
  readonly hiddenChannels: number;
  readonly numLayers: number;
  readonly firstKernelSize: number;
  readonly kernelSize: number;
  readonly conditioning: PixelConditioning | undefined;
  readonly validateInputs: boolean;
  /** Network outputs per pixel channel: 1 logit (binary) or `levels` logits. */
  readonly paramsPerChannel: number;
  /** Sample with the receptive-field window (true, default) or the full image each step. */
  windowedSampling = true;

  protected constructor(kind: string, opts: PixelModelOptions) {
    super(kind);
    if (!opts || typeof opts !== 'object') throw new ValueError(`${kind}: options are required.`);
    checkRng(opts.rng, kind);
    checkInt(opts.height, 'height', kind, { min: 1 });
    checkInt(opts.width, 'width', kind, { min: 1 });
    this.height = opts.height;
    this.width = opts.width;
    this.channels = opts.channels ?? 1;
    checkInt(this.channels, 'channels', kind, { min: 1 });
    this.levels = opts.levels ?? 2;
    if (!Number.isInteger(this.levels) || this.levels < 2 || this.levels > 256) {
      throw new ValueError(`${kind}: levels must be an integer in [2, 256], got ${this.levels}.`);
    }
    this.hiddenChannels = opts.hiddenChannels ?? 32;
    checkInt(this.hiddenChannels, 'hiddenChannels', kind, { min: 1 });
    this.numLayers = opts.numLayers ?? 4;
    checkInt(this.numLayers, 'numLayers', kind, { min: 0 });
    this.firstKernelSize = opts.firstKernelSize ?? 7;
    checkOdd(this.firstKernelSize, 'firstKernelSize', kind, 3);
    this.kernelSize = opts.kernelSize ?? 3;
    checkOdd(this.kernelSize, 'kernelSize', kind, 1);
    const cond = opts.conditioning;
    if (cond !== undefined) {
      if (cond.type === 'vector') checkInt(cond.dim, 'conditioning.dim', kind, { min: 1 });
      else if (cond.type === 'map')
        checkInt(cond.channels, 'conditioning.channels', kind, { min: 1 });
      else {
        throw new ValueError(
          `${kind}: conditioning must be { type: 'vector', dim } or { type: 'map', channels }, got ${JSON.stringify(cond)}.`,
        );
      }
    }
    this.conditioning = cond;
    this.setShapes(
      [this.height, this.width, this.channels],
      cond === undefined
        ? undefined
        : cond.type === 'vector'
          ? [cond.dim]
          : [this.height, this.width, cond.channels],
    );
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
   * flattened `[batch, height * width * channels]`) with values 0..levels-1; `logProb` also
   * takes any leading shape `[..., height, width, channels]`.
   */
  protected logProbBatch(x: tf.Tensor, context: tf.Tensor | undefined, who: string): tf.Tensor {
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

  protected get sequentialSteps(): number {
    return this.height * this.width * this.channels;
  }

  protected *drawSteps(
    n: number,
    context: tf.Tensor | undefined,
    rng: Rng,
  ): Generator<number, tf.Tensor, void> {
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
}
