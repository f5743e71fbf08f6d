/**
 * Convolutions (NHWC): `Conv2d` and the PixelCNN `MaskedConv2d` (van den Oord et al. 2016).
 */
import { fmtShape, ShapeError, ValueError } from '../errors.js';
import type { Rng } from '../rng.js';
import { tf } from '../tf.js';
import { checkInt } from '../validate.js';
import { type Activation, type ActivationFn, getActivation } from './activations.js';
import { getInitializer, type Initializer, type InitializerName } from './init.js';
import { Module } from './module.js';

/** Padding of {@link Conv2d}: tfjs's 'same' / 'valid', or explicit zero padding per side. */
export type Conv2dPadding = 'same' | 'valid' | number | [number, number];

/** Options of {@link Conv2d}. */
export interface Conv2dOptions {
  /** The seed stream for the initial weights (required). */
  rng: Rng;
  /** Stride, one number or [rows, cols]. Default 1. */
  stride?: number | [number, number];
  /**
   * 'same' (output size ceil(in / stride)), 'valid' (no padding), or explicit symmetric zero
   * padding `p` or `[pRows, pCols]`. Default 'same'.
   */
  padding?: Conv2dPadding;
  /** Default true. */
  bias?: boolean;
  /** Default 'identity'. */
  activation?: Activation;
  /** Default 'glorotUniform'. */
  kernelInit?: InitializerName | Initializer;
  /** Default 'zeros'. */
  biasInit?: InitializerName | Initializer;
}

function pair(
  v: number | [number, number],
  what: string,
  who: string,
  min: number,
): [number, number] {
  const p: [number, number] = typeof v === 'number' ? [v, v] : v;
  if (p.length !== 2 || !p.every((x) => Number.isInteger(x) && x >= min)) {
    throw new ValueError(
      `${who}: ${what} must be an integer >= ${min} or a pair of them, got ${JSON.stringify(v)}.`,
    );
  }
  return p;
}

/**
 * A 2-D convolution over NHWC input `[batch, height, width, inChannels]` with kernel
 * `[kh, kw, inChannels, outChannels]` (tfjs's filter layout).
 *
 * @example
 * ```ts
 * import { Conv2d, Rng, tf } from '@dgm-js/core-tensors';
 * const conv = new Conv2d(1, 16, 3, { rng: new Rng(0), activation: 'relu' });
 * const y = conv.apply(tf.zeros([8, 28, 28, 1])); // [8, 28, 28, 16]
 * ```
 */
export class Conv2d extends Module {
  readonly inChannels: number;
  readonly outChannels: number;
  readonly kernelSize: [number, number];
  readonly stride: [number, number];
  readonly padding: Conv2dPadding;
  readonly kernel: tf.Variable;
  readonly bias: tf.Variable | undefined;
  protected readonly act: ActivationFn;
  /** Whether the activation is relu (which the fused convolution can apply itself). */
  private readonly reluActivation: boolean;
  private readonly tfPad: 'same' | 'valid' | tf.backend_util.ExplicitPadding;

  constructor(
    inChannels: number,
    outChannels: number,
    kernelSize: number | [number, number],
    opts: Conv2dOptions,
    kind = 'Conv2d',
  ) {
    super(kind);
    checkInt(inChannels, 'inChannels', kind);
    checkInt(outChannels, 'outChannels', kind);
    if (!opts?.rng) throw new ValueError(`${kind}: options.rng (an Rng) is required.`);
    this.inChannels = inChannels;
    this.outChannels = outChannels;
    this.kernelSize = pair(kernelSize, 'kernelSize', kind, 1);
    this.stride = pair(opts.stride ?? 1, 'stride', kind, 1);
    this.padding = opts.padding ?? 'same';
    if (this.padding === 'same' || this.padding === 'valid') {
      this.tfPad = this.padding;
    } else if (typeof this.padding === 'number' || Array.isArray(this.padding)) {
      const [pr, pc] = pair(this.padding, 'padding', kind, 0);
      this.tfPad = [
        [0, 0],
        [pr, pr],
        [pc, pc],
        [0, 0],
      ];
    } else {
      throw new ValueError(
        `${kind}: padding must be 'same', 'valid', a number or [rows, cols], got ${JSON.stringify(this.padding)}.`,
      );
    }
    this.act = getActivation(opts.activation ?? 'identity');
    this.reluActivation = opts.activation === 'relu';
    const [kh, kw] = this.kernelSize;
    const kinit = getInitializer(opts.kernelInit ?? 'glorotUniform');
    this.kernel = this.addParameter('kernel', kinit([kh, kw, inChannels, outChannels], opts.rng));
    this.bias =
      opts.bias === false
        ? undefined
        : this.addParameter(
            'bias',
            getInitializer(opts.biasInit ?? 'zeros')([outChannels], opts.rng),
          );
  }

  /** The output shape for an input shape (throws a ShapeError naming the layer if it is wrong). */
  outputShape(inputShape: readonly number[]): number[] {
    const c = this.inChannels;
    if (inputShape.length !== 4 || inputShape[3] !== c) {
      const hint =
        inputShape.length === 4 && inputShape[1] === c
          ? ' It looks like NCHW: transpose with tf.transpose(x, [0, 2, 3, 1]).'
          : inputShape.length === 3
            ? ' Add a batch axis with tf.expandDims(x, 0).'
            : '';
      throw new ShapeError(
        `${this.label}: expected input [batch, height, width, ${c}] (NHWC), got ${fmtShape(inputShape)}.${hint}`,
      );
    }
    const [n, h, w] = inputShape as [number, number, number];
    const [kh, kw] = this.kernelSize;
    const [sh, sw] = this.stride;
    let oh: number;
    let ow: number;
    if (this.tfPad === 'same') {
      oh = Math.ceil(h / sh);
      ow = Math.ceil(w / sw);
    } else {
      const [pr, pc] = this.tfPad === 'valid' ? [0, 0] : [this.tfPad[1][0], this.tfPad[2][0]];
      oh = Math.floor((h + 2 * pr - kh) / sh) + 1;
      ow = Math.floor((w + 2 * pc - kw) / sw) + 1;
    }
    if (oh < 1 || ow < 1) {
      throw new ShapeError(
        `${this.label}: input ${fmtShape(inputShape)} is smaller than the kernel ${fmtShape(this.kernelSize)} with padding ${JSON.stringify(this.padding)}; use padding 'same' or a larger input.`,
      );
    }
    return [n, oh, ow, this.outChannels];
  }

  /** The kernel as used in the convolution (MaskedConv2d multiplies in its mask). */
  protected effectiveKernel(): tf.Tensor4D {
    return this.kernel as tf.Tensor4D;
  }

  /** act(conv(x, W) + b). */
  apply(x: tf.Tensor): tf.Tensor {
    this.outputShape(x.shape);
    return tf.tidy(() => {
      // tfjs's fused convolution adds the bias in the same kernel. It fuses an activation only
      // when no gradient is being recorded (else it falls back to separate ops for all three),
      // so while training the bias is fused and the activation applied after.
      const recording = (tf.engine().state as { gradientDepth: number }).gradientDepth > 0;
      const fuseRelu = this.reluActivation && !recording;
      const y = tf.fused.conv2d({
        x: x as tf.Tensor4D,
        filter: this.effectiveKernel(),
        strides: this.stride,
        pad: this.tfPad,
        dataFormat: 'NHWC',
        ...(this.bias ? { bias: this.bias } : {}),
        activation: fuseRelu ? 'relu' : 'linear',
      });
      return fuseRelu ? y : this.act(y);
    });
  }
}

/** PixelCNN mask types: 'A' excludes the centre pixel (first layer), 'B' includes it. */
export type MaskType = 'A' | 'B';

/**
 * The PixelCNN kernel mask of shape `[kh, kw, inChannels, outChannels]` as a flat Float32Array
 * (row-major in that shape). In raster order, an output pixel sees the rows above the centre
 * and the pixels left of the centre in its own row; the centre pixel itself is excluded for
 * type 'A' and included for 'B'. With `channelGroups = G > 1` (e.g. 3 for R, G, B) channels are
 * split into G contiguous blocks and, at the centre pixel, output group g sees input groups
 * < g (type A) or <= g (type B), as in van den Oord et al. 2016, section 3.4.
 *
 * @example
 * ```ts
 * pixelcnnMask(3, 3, 1, 1, 'A'); // [1,1,1, 1,0,0, 0,0,0]
 * ```
 */
export function pixelcnnMask(
  kh: number,
  kw: number,
  inChannels: number,
  outChannels: number,
  type: MaskType,
  channelGroups = 1,
): Float32Array {
  if (type !== 'A' && type !== 'B') {
    throw new ValueError(`pixelcnnMask: type must be 'A' or 'B', got ${JSON.stringify(type)}.`);
  }
  if (kh % 2 !== 1 || kw % 2 !== 1) {
    throw new ValueError(
      `pixelcnnMask: kernel size must be odd (it has a centre), got [${kh}, ${kw}].`,
    );
  }
  checkInt(channelGroups, 'channelGroups', 'pixelcnnMask');
  if (inChannels % channelGroups !== 0 || outChannels % channelGroups !== 0) {
    throw new ValueError(
      `pixelcnnMask: inChannels (${inChannels}) and outChannels (${outChannels}) must be multiples of channelGroups (${channelGroups}).`,
    );
  }
  const ch = (kh - 1) / 2;
  const cw = (kw - 1) / 2;
  const gIn = inChannels / channelGroups;
  const gOut = outChannels / channelGroups;
  const m = new Float32Array(kh * kw * inChannels * outChannels);
  let k = 0;
  for (let i = 0; i < kh; i++) {
    for (let j = 0; j < kw; j++) {
      for (let ci = 0; ci < inChannels; ci++) {
        for (let co = 0; co < outChannels; co++, k++) {
          if (i < ch || (i === ch && j < cw)) m[k] = 1;
          else if (i === ch && j === cw) {
            const a = Math.floor(ci / gIn);
            const b = Math.floor(co / gOut);
            m[k] = type === 'A' ? (a < b ? 1 : 0) : a <= b ? 1 : 0;
          }
        }
      }
    }
  }
  return m;
}

/** Options of {@link MaskedConv2d}. */
export interface MaskedConv2dOptions extends Omit<Conv2dOptions, 'padding' | 'stride'> {
  /** 'A' for the first layer (centre pixel excluded), 'B' after it. */
  maskType: MaskType;
  /** Channel groups at the centre pixel (3 for RGB-style ordering). Default 1. */
  channelGroups?: number;
}

/**
 * A PixelCNN masked convolution (stride 1, 'same' padding, odd kernel): the kernel is
 * multiplied by {@link pixelcnnMask}, so output pixel i depends only on input pixels before i
 * in raster order (and on pixel i itself for type 'B'). The mask is a buffer.
 *
 * @example
 * ```ts
 * const rng = new Rng(0);
 * const first = new MaskedConv2d(1, 32, 7, { rng, maskType: 'A', activation: 'relu' });
 * const next = new MaskedConv2d(32, 32, 3, { rng, maskType: 'B', activation: 'relu' });
 * ```
 */
export class MaskedConv2d extends Conv2d {
  readonly maskType: MaskType;
  readonly channelGroups: number;
  readonly mask: tf.Variable;

  constructor(
    inChannels: number,
    outChannels: number,
    kernelSize: number | [number, number],
    opts: MaskedConv2dOptions,
  ) {
    super(
      inChannels,
      outChannels,
      kernelSize,
      { ...opts, padding: 'same', stride: 1 },
      'MaskedConv2d',
    );
    this.maskType = opts.maskType;
    this.channelGroups = opts.channelGroups ?? 1;
    const [kh, kw] = this.kernelSize;
    let m: tf.Tensor;
    try {
      m = tf.tensor4d(
        pixelcnnMask(kh, kw, inChannels, outChannels, opts.maskType, this.channelGroups),
        [kh, kw, inChannels, outChannels],
      );
    } catch (e) {
      this.dispose();
      throw e;
    }
    this.mask = this.addBuffer('mask', m);
  }

  protected override effectiveKernel(): tf.Tensor4D {
    return tf.mul(this.kernel, this.mask) as tf.Tensor4D;
  }
}
