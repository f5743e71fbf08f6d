/**
 * Richer priors p(z) for a VAE: any core `Distribution` with batch shape `[]` is a prior, so an
 * autoregressive flow over the latent is one (the lecture: "the prior can be autoregressive ...
 * just another MAF layer"). Its density direction is one MADE pass per layer (fast), sampling
 * is sequential in the latent dimension.
 */
import { checkInt, checkRng, type Rng, ValueError } from '@dgm-js/core-tensors';
import { type Bijector, Flow, MAF, Reverse } from '@dgm-js/flows';

/** Options of {@link mafPrior}. */
export interface MafPriorOptions {
  /** Seeds the MADE weights. */
  rng: Rng;
  /** MAF layers (a `Reverse` permutation between consecutive ones). Default 2. */
  layers?: number;
  /** MADE hidden widths. Default [64, 64]. */
  hidden?: readonly number[];
  /** MAF's log-scale soft clamp. Default 5. */
  logScaleClamp?: number;
}

/**
 * A masked autoregressive flow prior over `[dim]` latents (Papamakarios et al. 2017): p(z) is a
 * standard normal pushed through `layers` MAF layers with reversed orderings in between. A
 * `Flow` of `@dgm-js/flows`, so a core `Distribution` (batch `[]`, event `[dim]`) and a `Module`:
 * `new VAE({ ..., prior: mafPrior(d, { rng }) })` trains its parameters with the rest, and the
 * KL term becomes the Monte Carlo log q(z | x) - log p(z).
 *
 * @example
 * ```ts
 * import { mlp, Rng } from '@dgm-js/core-tensors';
 * import { bernoulliDecoder, gaussianEncoder, VAE } from '@dgm-js/vae';
 * const rng = new Rng(0);
 * const vae = new VAE({
 *   encoder: gaussianEncoder(mlp([784, 256, 32], { rng, activation: 'relu' })),
 *   decoder: bernoulliDecoder(mlp([16, 256, 784], { rng, activation: 'relu' })),
 *   prior: mafPrior(16, { rng, layers: 2, hidden: [64] }),
 * });
 * ```
 */
export function mafPrior(dim: number, opts: MafPriorOptions): Flow {
  const who = 'mafPrior';
  checkInt(dim, 'dim', who);
  if (!opts || typeof opts !== 'object') throw new ValueError(`${who}: pass options { rng }.`);
  checkRng(opts.rng, who);
  const k = checkInt(opts.layers ?? 2, 'layers', who);
  const layers: Bijector[] = [];
  for (let i = 0; i < k; i++) {
    if (i > 0) layers.push(new Reverse(dim));
    layers.push(
      new MAF(dim, {
        rng: opts.rng,
        ...(opts.hidden === undefined ? {} : { hidden: opts.hidden }),
        ...(opts.logScaleClamp === undefined ? {} : { logScaleClamp: opts.logScaleClamp }),
      }),
    );
  }
  return new Flow(layers, { dim });
}
