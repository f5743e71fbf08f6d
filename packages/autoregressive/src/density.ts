/**
 * The `DensityModel` contract (shared with `@dgm-js/flows` and `@dgm-js/hybrids`, which import it
 * from here) and the sampling options and progress reports of the autoregressive models.
 */
import { fmtShape, type Rng, ShapeError, type tf, ValueError } from '@dgm-js/core-tensors';

/** Progress of a long sampling run, reported after each sequential step. */
export interface SampleProgress {
  /** Sequential steps done (one per pixel / dimension / position in the ordering). */
  readonly done: number;
  /** Sequential steps in total. */
  readonly total: number;
  /** Milliseconds since sampling started. */
  readonly elapsedMs: number;
}

/** Options of {@link DensityModel.sample}. */
export interface SampleOptions {
  /** The seed stream of the draws (required: every sample is reproducible from one seed). */
  rng: Rng;
  /**
   * The conditioning input of a conditional model: `[n, ...contextShape]`, or `[1, ...]` to use
   * one context for all `n` samples. Required by conditional models, refused by the others.
   */
  context?: tf.Tensor;
  /** Called after every sequential step of an autoregressive sampler (throttle it yourself). */
  onProgress?: (p: SampleProgress) => void;
}

/**
 * A normalised density (or mass function) with exact log-likelihood and sampling: the common
 * interface of autoregressive models, normalizing flows and the hybrids built from them.
 *
 * - `logProb(x, context?)` returns `[batch]`: log p(x) (nats) for each example of
 *   `x: [batch, ...eventShape]`, summed over the event dimensions.
 * - `sample(n, { rng, context })` returns `[n, ...eventShape]`.
 * - Both return new tensors the caller owns; neither leaks.
 *
 * @example
 * ```ts
 * import type { DensityModel } from '@dgm-js/autoregressive';
 * import { Rng, tf } from '@dgm-js/core-tensors';
 * function meanNll(model: DensityModel, x: tf.Tensor): number {
 *   return tf.tidy(() => -tf.mean(model.logProb(x)).dataSync()[0]!);
 * }
 * const xs = model.sample(16, { rng: new Rng(0) });
 * ```
 */
export interface DensityModel {
  /** The shape of one example (without the batch axis), e.g. `[784]` or `[28, 28, 1]`. */
  readonly eventShape: readonly number[];
  /** The shape of one context (without the batch axis); undefined for an unconditional model. */
  readonly contextShape: readonly number[] | undefined;
  /** log p(x | context) per example, `[batch]`. */
  logProb(x: tf.Tensor, context?: tf.Tensor): tf.Tensor;
  /** `n` independent draws, `[n, ...eventShape]`. */
  sample(n: number, opts: SampleOptions): tf.Tensor;
}

/** Checks that `n` is a positive integer. */
export function checkSampleCount(n: number, who: string): void {
  if (!Number.isInteger(n) || n < 1) {
    throw new ValueError(`${who}: n (the number of samples) must be a positive integer, got ${n}.`);
  }
}

/** Checks that sample options carry an Rng. */
export function checkSampleOptions(opts: SampleOptions | undefined, who: string): void {
  if (!opts || typeof opts.rng?.next !== 'function') {
    throw new ValueError(
      `${who}: options.rng (an Rng) is required, e.g. sample(n, { rng: new Rng(0) }).`,
    );
  }
}

/**
 * Checks a context against a model's context shape: present exactly when the model is
 * conditional, shape `[batch, ...contextShape]` with batch equal to `batch` (or 1 when
 * `allowBroadcast`). Throws a ValueError (missing / unexpected) or a ShapeError.
 */
export function checkContext(
  context: tf.Tensor | undefined,
  contextShape: readonly number[] | undefined,
  batch: number,
  who: string,
  allowBroadcast = false,
): void {
  if (contextShape === undefined) {
    if (context !== undefined) {
      throw new ValueError(
        `${who}: this model is unconditional but a context ${fmtShape(context.shape)} was given; build it with a context size (contextDim / contextChannels) to condition it.`,
      );
    }
    return;
  }
  if (context === undefined) {
    throw new ValueError(
      `${who}: this model is conditional: pass a context of shape [batch, ${contextShape.join(', ')}].`,
    );
  }
  const rest = context.shape.slice(1);
  const rowsOk = context.shape[0] === batch || (allowBroadcast && context.shape[0] === 1);
  if (context.rank !== contextShape.length + 1 || rest.join() !== contextShape.join() || !rowsOk) {
    throw new ShapeError(
      `${who}: context must have shape [${batch}${allowBroadcast ? ' (or 1)' : ''}, ${contextShape.join(', ')}], got ${fmtShape(context.shape)}.`,
    );
  }
}

/** Whether every value is an integer in [0, levels). Returns the first bad value and index. */
export function findBadLevel(
  values: ArrayLike<number>,
  levels: number,
): { index: number; value: number } | undefined {
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    if (!(v >= 0 && v < levels && Math.floor(v) === v)) return { index: i, value: v };
  }
  return undefined;
}

/** Throws a ValueError when `x` holds anything but integers in [0, levels). */
export function checkLevels(x: tf.Tensor, levels: number, who: string, what = 'x'): void {
  const bad = findBadLevel(x.dataSync(), levels);
  if (bad) {
    const allowed = levels === 2 ? '0 or 1' : `integers in [0, ${levels - 1}]`;
    throw new ValueError(
      `${who}: ${what} must hold ${allowed}, got ${bad.value} at flat index ${bad.index}.${levels === 2 ? ' Binarize first, e.g. tf.cast(tf.greater(x, 0.5), "float32").' : ''}`,
    );
  }
}

/** Throws a ValueError when `x` holds NaN or infinite values. */
export function checkFinite(x: tf.Tensor, who: string, what = 'x'): void {
  const v = x.dataSync();
  for (let i = 0; i < v.length; i++) {
    if (!Number.isFinite(v[i]!)) {
      throw new ValueError(`${who}: ${what} must be finite, got ${v[i]} at flat index ${i}.`);
    }
  }
}

/** Runs a generator of sampling steps to the end, reporting progress. */
export function drain<T>(
  steps: Generator<number, T, void>,
  total: number,
  onProgress: ((p: SampleProgress) => void) | undefined,
): T {
  const t0 = performance.now();
  for (;;) {
    const r = steps.next();
    if (r.done) return r.value;
    onProgress?.({ done: r.value, total, elapsedMs: performance.now() - t0 });
  }
}

/** Options of the `sampleAsync` methods: those of `sample`, plus an abort signal. */
export interface SampleAsyncOptions extends SampleOptions {
  /** Stops sampling (the promise rejects with the signal's reason); nothing leaks. */
  signal?: AbortSignal;
  /** Yield to the event loop after this many milliseconds of work. Default 50. */
  yieldEveryMs?: number;
}

function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => {
    if (typeof setImmediate === 'function') setImmediate(resolve);
    else setTimeout(resolve, 0);
  });
}

/**
 * Runs a generator of sampling steps to the end, yielding to the event loop regularly so a
 * page stays responsive and progress can render. On abort the generator is closed (its
 * `finally` blocks free its tensors).
 */
export async function drainAsync<T>(
  steps: Generator<number, T, void>,
  total: number,
  opts: SampleAsyncOptions,
): Promise<T> {
  const t0 = performance.now();
  const every = opts.yieldEveryMs ?? 50;
  let lastYield = t0;
  try {
    for (;;) {
      if (opts.signal?.aborted) throw opts.signal.reason ?? new Error('sampling aborted');
      const r = steps.next();
      if (r.done) return r.value;
      const now = performance.now();
      opts.onProgress?.({ done: r.value, total, elapsedMs: now - t0 });
      if (now - lastYield >= every) {
        await yieldToEventLoop();
        lastYield = performance.now();
      }
    }
  } finally {
    steps.return(undefined as never);
  }
}
