/**
 * Latent priors of the adversarial autoencoder: anything that draws samples. A core
 * `Distribution` (a standard normal, a mixture) or a sampler function (a toy density such as
 * the swiss roll of `@dgm-js/datasets`: `(n, rng) => toyDensity('swissroll').sampleTensor(n, rng)`).
 * The AAE never evaluates log p(z): its critic only sees samples.
 */
import {
  Categorical,
  type Distribution,
  Independent,
  MixtureSameFamily,
  Normal,
  type Rng,
  tf,
  ValueError,
} from '@dgm-js/core-tensors';

type Tensor = tf.Tensor;

/** What an AAE's prior is: a distribution (event `[d]`) or a function drawing `[n, d]` samples. */
export type LatentSampler = Distribution | ((n: number, rng: Rng) => Tensor);

/** Options of {@link gaussianMixturePrior}. */
export interface GaussianMixturePriorOptions {
  /** Latent dimensions (>= 2; the means lie on a circle in the first two). Default 2. */
  dim?: number;
  /** The circle's radius. Default 4. */
  radius?: number;
  /** Each component's standard deviation. Default 0.5. */
  std?: number;
}

/**
 * The AAE paper's "mixture of 10 2-D Gaussians" prior (Makhzani et al. 2015, fig. 2): k equally
 * weighted isotropic Gaussians whose means lie evenly on a circle, as a core
 * `MixtureSameFamily` (exact `logProb`, exact samples). The paper's components are elongated
 * along the radius; these are isotropic.
 *
 * @example
 * ```ts
 * import { Rng } from '@dgm-js/core-tensors';
 * import { gaussianMixturePrior } from '@dgm-js/hybrids';
 * const p = gaussianMixturePrior(10, { radius: 4, std: 0.5 });
 * const z = p.sample({ sampleShape: [100], rng: new Rng(0) }); // [100, 2]
 * ```
 */
export function gaussianMixturePrior(
  k: number,
  opts: GaussianMixturePriorOptions = {},
): MixtureSameFamily {
  const who = 'gaussianMixturePrior';
  if (!Number.isInteger(k) || k < 1) {
    throw new ValueError(`${who}: k (the number of components) must be an integer >= 1, got ${k}.`);
  }
  const dim = opts.dim ?? 2;
  const radius = opts.radius ?? 4;
  const std = opts.std ?? 0.5;
  if (!Number.isInteger(dim) || dim < 2) {
    throw new ValueError(`${who}: dim must be an integer >= 2, got ${dim}.`);
  }
  if (!(radius >= 0 && Number.isFinite(radius)) || !(std > 0 && Number.isFinite(std))) {
    throw new ValueError(
      `${who}: radius must be >= 0 and std > 0 (finite), got radius=${radius}, std=${std}.`,
    );
  }
  const means: number[][] = [];
  for (let i = 0; i < k; i++) {
    const a = (2 * Math.PI * i) / k;
    const m = new Array<number>(dim).fill(0);
    m[0] = radius * Math.cos(a);
    m[1] = radius * Math.sin(a);
    means.push(m);
  }
  return new MixtureSameFamily(
    new Categorical({ probs: tf.fill([k], 1 / k) }),
    new Independent(new Normal(tf.tensor2d(means), tf.fill([k, dim], std)), 1),
  );
}

/** n draws `[n, d]` of a prior (internal). */
export function drawPrior(prior: LatentSampler, n: number, rng: Rng): Tensor {
  if (typeof prior === 'function') return prior(n, rng);
  return prior.sample({ sampleShape: [n], rng });
}
