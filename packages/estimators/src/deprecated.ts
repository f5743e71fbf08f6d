/**
 * Old names kept for callers that still use them (`@dgm-js/vae`, the bench app). Each one has a
 * single new name; remove these once no caller imports them.
 */
import { straightThroughEstimator } from './relaxed.js';
import { gumbelMaxEstimator } from './score.js';

/**
 * @deprecated Renamed {@link straightThroughEstimator}; core's `straightThrough(hard, soft)` is
 * the op.
 * @example
 * ```ts
 * straightThrough(); // the same as straightThroughEstimator()
 * ```
 */
export const straightThrough = straightThroughEstimator;

/**
 * @deprecated Renamed {@link gumbelMaxEstimator}; core's `gumbelMax(logits, rng)` is the sampler.
 * @example
 * ```ts
 * gumbelMax(); // the same as gumbelMaxEstimator()
 * ```
 */
export const gumbelMax = gumbelMaxEstimator;
