/**
 * PixelCNN (van den Oord, Kalchbrenner, Kavukcuoglu 2016, "Pixel Recurrent Neural Networks")
 * with masked convolutions of type A and B and residual blocks, and the Gated PixelCNN (van den
 * Oord et al. 2016, "Conditional Image Generation with PixelCNN Decoders") whose vertical and
 * horizontal stacks remove the blind spot. Both are {@link PixelModel}s: core `Distribution`s
 * over images `[height, width, channels]` (conditional ones `ConditionalDistribution`s).
 */
import {
  type Activation,
  type ActivationFn,
  Conv2d,
  Dense,
  getActivation,
  MaskedConv2d,
  type Module,
  type Rng,
  tf,
  ValueError,
} from '@dgm-js/core-tensors';
import { PadConv } from './padconv.js';
import {
  type PixelConditioning,
  PixelModel,
  type PixelModelOptions,
  type Reach,
} from './pixel-model.js';

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
 * const imgs = model.sample({ rng: new Rng(1), context: oneHotLabels }); // one image per label row
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
