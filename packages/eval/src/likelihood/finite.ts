/**
 * The per-example values a dataset evaluation reads back must be finite: a NaN (a model whose
 * parameters went NaN) or an infinite bound would otherwise turn the mean into NaN / -Inf with
 * no word of where it came from.
 */
import { ValueError } from '@dgm-js/core-tensors';

/**
 * A model returned a NaN or infinite value for an example during a dataset evaluation
 * (`evaluateElbo`, `estimateLogLikelihood`, `evaluateLogProb`). `index` is the example's
 * position in its batch, `value` what the model returned.
 *
 * @example
 * ```ts
 * try {
 *   await evaluateElbo(vae, testX);
 * } catch (e) {
 *   if (e instanceof NonFiniteResultError) console.log(e.method, e.index, e.value);
 * }
 * ```
 */
export class NonFiniteResultError extends ValueError {
  constructor(
    message: string,
    /** The model's method that returned it ('elbo', 'iwae', 'logProb'). */
    readonly method: string,
    /** The example's index within its batch. */
    readonly index: number,
    /** The value (NaN, Infinity or -Infinity). */
    readonly value: number,
  ) {
    super(message);
  }
}

/**
 * Throws a {@link NonFiniteResultError} naming the first non-finite entry of `values`.
 *
 * @example
 * ```ts
 * checkFiniteResults(new Float32Array([1, NaN]), 'evaluateElbo', 'elbo'); // throws (index 1)
 * ```
 */
export function checkFiniteResults(values: ArrayLike<number>, who: string, method: string): void {
  for (let i = 0; i < values.length; i++) {
    const v = values[i] as number;
    if (Number.isFinite(v)) continue;
    const why = Number.isNaN(v)
      ? 'the model computes NaN (its parameters may be NaN: a diverged training run; check them with tf.isNaN, or load the last good checkpoint)'
      : v > 0
        ? 'an infinite log-density (a degenerate model: a density collapsed onto the data)'
        : "the model gives this example zero probability (a likelihood whose support excludes it: e.g. probabilities of exactly 0 or 1, or data outside the likelihood's support)";
    throw new NonFiniteResultError(
      `${who}: model.${method} returned ${v} for example ${i} of a batch: ${why}. The mean would be ${Number.isNaN(v) ? 'NaN' : v}; nothing was averaged.`,
      method,
      i,
      v,
    );
  }
}
