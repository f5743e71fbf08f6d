/**
 * A distribution whose batch is reshaped: a decoder maps latents `[N, ...latentShape]` (one
 * batch axis, as the `ConditionalDistribution` contract has it) to a distribution of batch
 * `[N]`; `VAE.decode` hands it back with the batch shape of the latents it was given.
 */
import {
  BaseDistribution,
  type Distribution,
  fmtShape,
  type SampleOptions,
  ShapeError,
  tf,
} from '@dgm-js/core-tensors';

type Tensor = tf.Tensor;

const sizeOf = (s: readonly number[]): number => s.reduce((a, b) => a * b, 1);
const range = (from: number, n: number): number[] => Array.from({ length: n }, (_, i) => from + i);

/**
 * `base` with its batch shape reshaped to `batchShape` (same number of elements; event shape
 * unchanged). Sampling, `mean`, `mode` and `entropy` reshape the base's; `logProb(x)` broadcasts
 * `x` against the new batch shape exactly as any distribution does (including x expanding a
 * size-1 batch dimension). Owns `base`: `dispose()` disposes it.
 *
 * @example
 * ```ts
 * const flat = ownedBernoulli(tf.zeros([6, 4]), 1);      // batch [6], event [4]
 * const d = new BatchReshaped(flat, [3, 2]);            // batch [3, 2], event [4]
 * d.logProb(tf.zeros([2, 4])).shape;                   // [3, 2]
 * d.dispose();
 * ```
 */
export class BatchReshaped extends BaseDistribution {
  /** The wrapped distribution (owned). */
  readonly base: Distribution;
  override readonly hasRsample: boolean;

  /**
   * @param base the distribution (owned)
   * @param batchShape the new batch shape (same size as the base's)
   * @param owned tensors to free with it (e.g. a reshaped context the base holds by reference)
   */
  constructor(base: Distribution, batchShape: readonly number[], owned: readonly Tensor[] = []) {
    super('BatchReshaped');
    for (const t of owned) this.own(t);
    if (sizeOf(base.batchShape) !== sizeOf(batchShape)) {
      throw new ShapeError(
        `BatchReshaped: the base has batch shape ${fmtShape(base.batchShape)}, which cannot be reshaped to ${fmtShape(batchShape)} (the sizes differ).`,
      );
    }
    this.base = base;
    this.hasRsample = base.hasRsample;
    this.setShapes(batchShape, base.eventShape);
  }

  protected override disposeChildren(): void {
    this.base.dispose();
  }

  /** Reshapes `[...sample, ...baseBatch, ...event]` to `[...sample, ...batch, ...event]`. */
  private toBatch(t: Tensor, sampleRank: number): Tensor {
    return tf.tidy(() =>
      tf.reshape(t, [...t.shape.slice(0, sampleRank), ...this.batchShape, ...this.eventShape]),
    );
  }

  sample(opts: SampleOptions): Tensor {
    const s = this.sampleShapeOf(opts, 'sample');
    return tf.tidy(() => this.toBatch(this.base.sample(opts), s.length));
  }

  override rsample(opts: SampleOptions): Tensor {
    const s = this.sampleShapeOf(opts, 'rsample');
    return tf.tidy(() => this.toBatch(this.base.rsample(opts), s.length));
  }

  logProb(x: Tensor): Tensor {
    const out = this.checkValue(x);
    const batch = this.batchShape;
    const event = this.eventShape;
    const br = batch.length;
    const pre = out.length - br;
    const sl = out.slice(pre);
    // batch dims of size 1 that x expands become leading (sample-like) dims of the base's call
    const expanded = range(0, br).filter((i) => batch[i] === 1 && sl[i] !== 1);
    const kept = range(0, br).filter((i) => !expanded.includes(i));
    return tf.tidy(() => {
      let xb = tf.broadcastTo(x, [...out, ...event]);
      if (expanded.length) {
        const perm = [
          ...range(0, pre),
          ...expanded.map((i) => pre + i),
          ...kept.map((i) => pre + i),
          ...range(out.length, event.length),
        ];
        xb = tf.transpose(xb, perm);
      }
      const lead = [...out.slice(0, pre), ...expanded.map((i) => sl[i] as number)];
      const lp = this.base.logProb(tf.reshape(xb, [...lead, ...this.base.batchShape, ...event]));
      const shaped = tf.reshape(lp, [...lead, ...kept.map((i) => batch[i] as number)]);
      if (!expanded.length) return shaped;
      const back = range(0, br).map((j) =>
        expanded.includes(j) ? pre + expanded.indexOf(j) : pre + expanded.length + kept.indexOf(j),
      );
      return tf.transpose(shaped, [...range(0, pre), ...back]);
    });
  }

  entropy(): Tensor {
    return tf.tidy(() => tf.reshape(this.base.entropy(), this.batchShape));
  }

  get mean(): Tensor {
    return tf.tidy(() => this.toBatch(this.base.mean, 0));
  }

  get mode(): Tensor {
    return tf.tidy(() => this.toBatch(this.base.mode, 0));
  }
}
