/**
 * The base class of the autoregressive models: each is a core `Distribution` (batch shape `[]`,
 * event shape one example) and, when built with a context, a `ConditionalDistribution`.
 */
import {
  type ConditionalDistribution,
  DgmError,
  type Distribution,
  Module,
  type Rng,
  type SampleOptions,
  tf,
} from '@dgm-js/core-tensors';
import {
  type ConditionalSampleOptions,
  ConditionedDistribution,
  contextBatchShape,
  contextRows,
  drawShape,
} from './conditioned.js';
import { drain, drainAsync, type SampleAsyncOptions } from './density.js';

type Tensor = tf.Tensor;

const prod = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);

/**
 * An autoregressive model p(x) = prod_i p(x_i | x_<i) (optionally given a context c) as a core
 * `Distribution`: `batchShape` `[]`, `eventShape` one example, `sample({ sampleShape, rng,
 * onProgress })` draws `[...sampleShape, ...eventShape]` one sequential step at a time,
 * `logProb(x)` is exact (`[...]` for `x` `[..., ...eventShape]`). There is no reparameterized
 * sampler (`hasRsample` false) and no closed-form `entropy`, `mean` or `mode` (they throw a
 * `DgmError` saying how to estimate them).
 *
 * A model built with a context is a `ConditionalDistribution`: `condition(c)` is p(. | c) with
 * batch shape c's leading shape; the direct forms `logProb(x, c)` (x `[N, ...]`, c `[N or 1,
 * ...]`) and `sample({ ..., context: c })` (= `condition(c).sample(...)`) stay.
 *
 * @example
 * ```ts
 * import type { Distribution } from '@dgm-js/core-tensors';
 * const d: Distribution = new Made({ dim: 784, hiddenSizes: [500], rng: new Rng(0) });
 * const xs = d.sample({ sampleShape: [16], rng: new Rng(1) }); // [16, 784]
 * const lp = d.logProb(xs); // [16]
 * ```
 */
export abstract class AutoregressiveModel
  extends Module
  implements Distribution, ConditionalDistribution<Tensor, Distribution>
{
  readonly hasRsample = false;
  private event: readonly number[] = [];
  private context: readonly number[] | undefined;

  /** Sets the event and context shapes (subclass constructors call this once). */
  protected setShapes(event: readonly number[], context: readonly number[] | undefined): void {
    this.event = [...event];
    this.context = context === undefined ? undefined : [...context];
  }

  /** `[]`: one distribution (a conditioned one has the context's batch shape). */
  get batchShape(): number[] {
    return [];
  }

  /** The shape of one example, e.g. `[784]` or `[28, 28, 1]`. */
  get eventShape(): number[] {
    return [...this.event];
  }

  /** The shape of one context (without batch axes); undefined for an unconditional model. */
  get contextShape(): readonly number[] | undefined {
    return this.context;
  }

  /** Number of sequential steps of one draw (reported by `onProgress`). */
  protected abstract get sequentialSteps(): number;

  /**
   * The sampler: `n` draws `[n, ...eventShape]` given a context of exactly `n` rows (or none),
   * yielding the number of steps done.
   */
  protected abstract drawSteps(
    n: number,
    context: Tensor | undefined,
    rng: Rng,
    who: string,
  ): Generator<number, Tensor, void>;

  /**
   * log p(x | context) of a batch `[N, ...eventShape]` (or a form the model also accepts), with
   * every check; `[N]`.
   */
  protected abstract logProbBatch(x: Tensor, context: Tensor | undefined, who: string): Tensor;

  /**
   * Whether `x` is a stack of examples with leading shape other than `[N]` (or a single
   * example) that `logProb` should flatten; undefined defers to {@link logProbBatch} and its
   * checks. Subclasses that accept other input forms override this to keep them first.
   */
  protected leadingShape(x: Tensor): number[] | undefined {
    if (!(x instanceof tf.Tensor)) return undefined;
    const er = this.event.length;
    if (x.rank === er + 1 || x.rank < er) return undefined;
    const tail = x.shape.slice(x.rank - er);
    return tail.every((d, i) => d === this.event[i]) ? x.shape.slice(0, x.rank - er) : undefined;
  }

  /**
   * log p(x) in nats, summed over the event: `x` `[..., ...eventShape]` gives `[...]` (a single
   * example gives a scalar). With a context (conditional models): `x` `[N, ...eventShape]`,
   * `context` `[N or 1, ...contextShape]`, result `[N]`; `condition(context).logProb(x)`
   * broadcasts more generally.
   *
   * @example
   * ```ts
   * const nll = tf.neg(model.logProb(x)); // [batch]
   * ```
   */
  logProb(x: Tensor, context?: Tensor): Tensor {
    const who = `${this.label}.logProb`;
    const lead = context === undefined ? this.leadingShape(x) : undefined;
    if (lead === undefined) return this.logProbBatch(x, context, who);
    return tf.tidy(() => {
      const rows = tf.reshape(x, [prod(lead), ...this.event]);
      return tf.reshape(this.logProbBatch(rows, undefined, who), lead);
    });
  }

  private plan(opts: ConditionalSampleOptions, who: string) {
    const shape = drawShape(opts, who);
    const cb = contextBatchShape(opts.context, this.context, who);
    const reps = prod(shape);
    return {
      n: reps * prod(cb),
      out: [...shape, ...cb, ...this.event],
      context:
        opts.context && this.context ? contextRows(opts.context, this.context, reps) : undefined,
    };
  }

  private finish(rows: Tensor, out: number[]): Tensor {
    if (rows.shape.join() === out.join()) return rows;
    const r = tf.reshape(rows, out);
    rows.dispose();
    return r;
  }

  /**
   * Draws `[...sampleShape, ...eventShape]` (with a context `[...B, ...contextShape]`:
   * `[...sampleShape, ...B, ...eventShape]`), one sequential step per dimension / pixel /
   * position, each value from its conditional given the ones drawn before. `onProgress` is
   * called after every step.
   *
   * @example
   * ```ts
   * const xs = model.sample({ sampleShape: [64], rng: new Rng(7), onProgress: ({ done, total }) => {} });
   * ```
   */
  sample(opts: ConditionalSampleOptions): Tensor {
    const who = `${this.label}.sample`;
    const p = this.plan(opts, who);
    try {
      const rows = drain(
        this.drawSteps(p.n, p.context, opts.rng, who),
        this.sequentialSteps,
        opts.onProgress,
      );
      return this.finish(rows, p.out);
    } finally {
      p.context?.dispose();
    }
  }

  /**
   * As {@link sample}, yielding to the event loop while it works (a page stays responsive,
   * progress renders), and stoppable with `signal` (nothing leaks).
   *
   * @example
   * ```ts
   * const xs = await model.sampleAsync({ sampleShape: [64], rng: new Rng(7), signal: controller.signal });
   * ```
   */
  async sampleAsync(opts: SampleAsyncOptions): Promise<Tensor> {
    const who = `${this.label}.sampleAsync`;
    const p = this.plan(opts, who);
    try {
      const rows = await drainAsync(
        this.drawSteps(p.n, p.context, opts.rng, who),
        this.sequentialSteps,
        opts,
      );
      return this.finish(rows, p.out);
    } finally {
      p.context?.dispose();
    }
  }

  /** Throws: an autoregressive sampler has no reparameterized form (`hasRsample` is false). */
  rsample(_opts: SampleOptions): Tensor {
    throw new DgmError(
      `${this.label}.rsample: an autoregressive model draws one value at a time from its conditionals, so it has no reparameterized sampler (hasRsample is false). Use sample() with a score-function estimator, or a flow (e.g. IAF) where gradients must pass through the draws.`,
    );
  }

  /**
   * p(. | context) as a core `Distribution` with batch shape the context's leading shape (see
   * `ConditionedDistribution`). Conditional models only.
   *
   * @example
   * ```ts
   * const p = model.condition(labels); // labels [B, 10]
   * const lp = p.logProb(x);           // x [B, ...eventShape] -> [B]
   * ```
   */
  condition(context: Tensor): Distribution {
    return new ConditionedDistribution(this, context);
  }

  /** Throws a `DgmError`: no closed form; estimate -E[log p(x)] from samples. */
  entropy(): Tensor {
    throw new DgmError(
      `${this.label}.entropy has no closed form; estimate it by Monte Carlo as -mean(logProb(sample({ sampleShape: [n], rng }))).`,
    );
  }

  /** Throws a `DgmError`: no closed form; average samples. */
  get mean(): Tensor {
    throw new DgmError(
      `${this.label}.mean has no closed form; estimate it as the mean of sample({ sampleShape: [n], rng }) over axis 0.`,
    );
  }

  /** Throws a `DgmError`: finding the most probable example is a search over all values. */
  get mode(): Tensor {
    throw new DgmError(
      `${this.label}.mode has no closed form (it is a search over every value); take the most probable of many samples (logProb of sample({ sampleShape: [n], rng })).`,
    );
  }
}
