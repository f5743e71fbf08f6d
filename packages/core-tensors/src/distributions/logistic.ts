import type { DistributionOptions, ParamLike } from './distribution.js';
import { LocationScale, STANDARD_LOGISTIC } from './location-scale.js';

/**
 * The logistic distribution with location `loc` and scale `scale`, elementwise: cdf
 * sigmoid((x - loc) / scale). Reparameterized: `rsample` is `loc + scale * logit(u)`, u clamped
 * uniform. Logistic noise is the difference of two Gumbels, the noise of the Binary Concrete.
 * A location-scale `TransformedDistribution` (standard logistic base, `Affine(loc, scale)`
 * bijector) with the closed-form log-density -z - 2 softplus(-z) - log scale,
 * z = (x - loc) / scale.
 *
 * @example
 * ```ts
 * import { Logistic, Rng } from '@dgm-js/core-tensors';
 * const d = new Logistic(0, 1);
 * const x = d.rsample({ sampleShape: [1000], rng: new Rng(0) }); // variance near pi^2/3
 * ```
 */
export class Logistic extends LocationScale {
  /**
   * @param loc location (mean, median and mode), finite
   * @param scale scale (> 0), broadcastable with `loc`
   */
  constructor(loc: ParamLike, scale: ParamLike, opts: DistributionOptions = {}) {
    super(STANDARD_LOGISTIC, loc, scale, opts);
  }
}
