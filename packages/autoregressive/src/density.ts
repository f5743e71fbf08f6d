/**
 * Input checks and the sampling drivers of the autoregressive models, and the deprecated
 * `DensityModel` name (the models are core `Distribution`s now).
 */
import {
  type Distribution,
  fmtShape,
  type SampleProgress,
  ShapeError,
  type tf,
  ValueError,
} from '@dgm-js/core-tensors';
import type { ConditionalSampleOptions } from './conditioned.js';

/**
 * A normalised density with exact log-likelihood and sampling.
 *
 * @deprecated MADE, PixelCNN, the sequence model and flows are core `Distribution`s (and
 * `ConditionalDistribution`s when conditional); use `Distribution` from `@dgm-js/core-tensors`.
 * This alias goes away in the next release.
 *
 * @example
 * ```ts
 * import type { Distribution } from '@dgm-js/core-tensors';
 * const d: Distribution = made; // was DensityModel
 * ```
 */
export type DensityModel = Distribution;

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

/**
 * Options of the `sampleAsync` methods: those of `sample`, plus an abort signal.
 *
 * @example
 * ```ts
 * await made.sampleAsync({ sampleShape: [16], rng: new Rng(0), signal: controller.signal });
 * ```
 */
export interface SampleAsyncOptions extends ConditionalSampleOptions {
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
