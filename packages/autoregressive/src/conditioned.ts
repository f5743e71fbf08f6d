/**
 * Conditional models as core `ConditionalDistribution`s: `model.condition(context)` returns a
 * {@link ConditionedDistribution}, the `Distribution` p(. | context) with batch shape the
 * context's leading shape. Shared by the autoregressive models and the flows of
 * `@dgm-js/flows`.
 */
import {
  broadcastShapes,
  checkRng,
  DgmError,
  type Distribution,
  fmtShape,
  type SampleOptions,
  ShapeError,
  tf,
  ValueError,
} from '@dgm-js/core-tensors';

type Tensor = tf.Tensor;

/**
 * Core `SampleOptions` plus the context of a conditional model, for the direct call
 * `model.sample({ sampleShape, rng, context })`, which is `model.condition(context).sample(...)`.
 *
 * @example
 * ```ts
 * made.sample({ sampleShape: [16], rng: new Rng(0), context: labels }); // labels [B, 10] -> [16, B, D]
 * ```
 */
export interface ConditionalSampleOptions extends SampleOptions {
  /**
   * The context `[...contextBatch, ...contextShape]` of a conditional model: the draws have
   * shape `[...sampleShape, ...contextBatch, ...eventShape]`. Required by conditional models,
   * refused by the others.
   */
  context?: Tensor;
}

/**
 * What {@link ConditionedDistribution} needs of a conditional model: its shapes, a row-wise
 * `logProb(x [M, ...eventShape], context [M, ...contextShape]) -> [M]`, and samplers that take a
 * context (`[...contextBatch, ...contextShape]`, draws `[...sampleShape, ...contextBatch,
 * ...eventShape]`). `Made`, `PixelCNN`, `GatedPixelCNN`, `SequenceModel` and `Flow` are such
 * models.
 *
 * @example
 * ```ts
 * const q = new ConditionedDistribution(model, context); // any ContextModel
 * ```
 */
export interface ContextModel {
  readonly label: string;
  readonly eventShape: number[];
  readonly contextShape: readonly number[] | undefined;
  readonly hasRsample: boolean;
  logProb(x: Tensor, context?: Tensor): Tensor;
  sample(opts: ConditionalSampleOptions): Tensor;
  rsample(opts: ConditionalSampleOptions): Tensor;
}

const prod = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);
const same = (a: readonly number[], b: readonly number[]) =>
  a.length === b.length && a.every((v, i) => v === b[i]);

/**
 * Checks a context against a model's context shape and returns its batch part (the leading
 * dims before `contextShape`). Throws a `ValueError` when a conditional model gets no context
 * or an unconditional one gets one, a `ShapeError` when the trailing dims are wrong.
 *
 * @example
 * ```ts
 * contextBatchShape(tf.zeros([5, 3, 10]), [10], 'Made.sample'); // [5, 3]
 * ```
 */
export function contextBatchShape(
  context: Tensor | undefined,
  contextShape: readonly number[] | undefined,
  who: string,
): number[] {
  if (contextShape === undefined) {
    if (context !== undefined) {
      throw new ValueError(
        `${who}: this model is unconditional but a context ${context instanceof tf.Tensor ? fmtShape(context.shape) : typeof context} was given; build it with a context size (contextDim / conditioning) to condition it.`,
      );
    }
    return [];
  }
  if (context === undefined) {
    throw new ValueError(
      `${who}: this model is conditional: pass a context of shape [batch, ${contextShape.join(', ')}] (sample({ sampleShape, rng, context }), or condition(context)).`,
    );
  }
  if (!(context instanceof tf.Tensor)) {
    throw new ValueError(`${who}: context must be a tf.Tensor, got ${typeof context}.`);
  }
  const k = contextShape.length;
  if (context.rank < k || !same(context.shape.slice(context.rank - k), contextShape)) {
    throw new ShapeError(
      `${who}: context must have shape [...batch, ${contextShape.join(', ')}], got ${fmtShape(context.shape)}.`,
    );
  }
  const batch = context.shape.slice(0, context.rank - k);
  if (batch.some((d) => d < 1)) {
    throw new ShapeError(`${who}: context ${fmtShape(context.shape)} holds no contexts.`);
  }
  return batch;
}

/**
 * Checks sample options and returns the sample shape: an rng is required, and every entry of
 * `sampleShape` must be a positive integer (an autoregressive sampler or a flow draws at least
 * one example).
 *
 * @example
 * ```ts
 * drawShape({ sampleShape: [4, 2], rng }, 'Made.sample'); // [4, 2]
 * ```
 */
export function drawShape(opts: SampleOptions | undefined, who: string): number[] {
  checkRng(opts?.rng, who);
  const s = opts?.sampleShape ?? [];
  if (!Array.isArray(s) || !s.every((d) => Number.isInteger(d) && d >= 1)) {
    throw new ValueError(
      `${who}: sampleShape must be a list of positive integers (numbers of draws), got ${JSON.stringify(s)}.`,
    );
  }
  return [...s];
}

/**
 * Broadcasts `t` to `shape` (numpy rules). Float tensors broadcast by adding zeros, whose
 * gradient is one sum (tfjs' Tile gradient is one kernel per repetition); others with
 * `broadcastTo`. Returns `t` itself when the shape already matches.
 */
export function expandTo(t: Tensor, shape: readonly number[]): Tensor {
  if (same(t.shape, shape)) return t;
  return t.dtype === 'float32'
    ? tf.add(t, tf.zeros(shape as number[]))
    : tf.broadcastTo(t, [...shape]);
}

/**
 * The context of `repeats` draws per context, as rows `[repeats * prod(batch), ...contextShape]`
 * in the order of `[repeats, ...batch]` (the caller owns the result).
 */
export function contextRows(
  context: Tensor,
  contextShape: readonly number[],
  repeats: number,
): Tensor {
  return tf.tidy(() => {
    const rows = tf.reshape(context, [-1, ...contextShape]);
    return repeats === 1 ? tf.clone(rows) : tf.tile(rows, [repeats, ...contextShape.map(() => 1)]);
  });
}

/**
 * p(. | context) of a conditional model as a core `Distribution`: batch shape the context's
 * leading shape, event shape the model's. `sample` / `rsample` draw `[...sampleShape,
 * ...batchShape, ...eventShape]`; `logProb(x)` broadcasts the leading dims of `x` against the
 * batch shape (so x `[B, ...]` scored under contexts `[k, B, ...]` gives `[k, B]`). The context
 * and the model stay the caller's: `dispose()` frees nothing. Quantities without a closed form
 * (`entropy`, `mean`, `mode`) throw a `DgmError` saying how to estimate them.
 *
 * @example
 * ```ts
 * const p = pixelCnn.condition(z);            // z [k, B, 16]: p(x | z), batch [k, B]
 * const lp = p.logProb(x);                   // x [B, 28, 28, 1] -> [k, B]
 * const xs = p.sample({ sampleShape: [2], rng }); // [2, k, B, 28, 28, 1]
 * ```
 */
export class ConditionedDistribution implements Distribution {
  readonly model: ContextModel;
  readonly context: Tensor;
  private readonly cb: number[];
  private readonly ctxShape: readonly number[];

  constructor(model: ContextModel, context: Tensor) {
    const who = `${model?.label ?? 'model'}.condition`;
    if (!model || typeof model.logProb !== 'function') {
      throw new ValueError(`${who}: pass a conditional model.`);
    }
    this.cb = contextBatchShape(context, model.contextShape, who);
    if (model.contextShape === undefined) throw new ValueError(`${who}: unconditional model.`);
    this.model = model;
    this.context = context;
    this.ctxShape = model.contextShape;
  }

  get batchShape(): number[] {
    return [...this.cb];
  }

  get eventShape(): number[] {
    return this.model.eventShape;
  }

  get hasRsample(): boolean {
    return this.model.hasRsample;
  }

  sample(opts: SampleOptions): Tensor {
    return this.model.sample({ ...opts, context: this.context });
  }

  rsample(opts: SampleOptions): Tensor {
    return this.model.rsample({ ...opts, context: this.context });
  }

  /** log p(x | context), summed over the event: shape broadcast(x's leading dims, batchShape). */
  logProb(x: Tensor): Tensor {
    const who = `${this.model.label}(. | context).logProb`;
    const ev = this.eventShape;
    if (!(x instanceof tf.Tensor)) throw new ValueError(`${who}: x must be a tf.Tensor.`);
    if (x.rank < ev.length || !same(x.shape.slice(x.rank - ev.length), ev)) {
      throw new ShapeError(
        `${who}: x must have shape [..., ${ev.join(', ')}] (leading dims broadcasting with the batch shape ${fmtShape(this.cb)}), got ${fmtShape(x.shape)}.`,
      );
    }
    const out = broadcastShapes(x.shape.slice(0, x.rank - ev.length), this.cb, who);
    const m = prod(out);
    return tf.tidy(() => {
      const xr = tf.reshape(expandTo(x, [...out, ...ev]), [m, ...ev]);
      const cr = tf.reshape(expandTo(this.context, [...out, ...this.ctxShape]), [
        m,
        ...this.ctxShape,
      ]);
      return tf.reshape(this.model.logProb(xr, cr), out);
    });
  }

  entropy(): Tensor {
    throw new DgmError(
      `${this.model.label}(. | context).entropy has no closed form; estimate it by Monte Carlo as -mean(logProb(sample({ sampleShape: [n], rng })), 0).`,
    );
  }

  get mean(): Tensor {
    throw new DgmError(
      `${this.model.label}(. | context).mean has no closed form; estimate it as the mean of sample({ sampleShape: [n], rng }) over axis 0.`,
    );
  }

  get mode(): Tensor {
    throw new DgmError(
      `${this.model.label}(. | context).mode has no closed form (it is a search over every value); take the most probable of many samples (logProb of sample({ sampleShape: [n], rng })).`,
    );
  }

  /** Frees nothing: the context and the model are the caller's. */
  dispose(): void {}
}
