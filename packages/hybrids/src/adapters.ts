/**
 * Small adapters between the parts: a conditional model whose context is a vector, given
 * latents of another shape (a categorical latent `[n, latents, categories]`, a latent map).
 */
import {
  type ConditionalDistribution,
  type Distribution,
  fmtShape,
  Module,
  ShapeError,
  tf,
  ValueError,
} from '@dgm-js/core-tensors';
import { BatchReshaped } from '@dgm-js/vae';

type Tensor = tf.Tensor;

/**
 * `model` conditioned on latents flattened per example: `condition(z)` for z `[n, ...]` is
 * `model.condition(z reshaped to [n, prod(...)])`, batch `[n]`. The flattened context is owned by
 * the returned distribution (a conditional PixelCNN keeps its context by reference). A `Module`
 * whose sub-module `model` is the wrapped one (which must be a `Module`), so a `VAE` trains and
 * checkpoints it.
 *
 * @example
 * ```ts
 * import { GatedPixelCNN } from '@dgm-js/autoregressive';
 * // a decoder p(x | z) for one 4-way categorical latent (z [n, 1, 4]) over 3 x 3 binary images
 * const decoder = flatContext(new GatedPixelCNN({ height: 3, width: 3, numLayers: 1,
 *   conditioning: { type: 'vector', dim: 4 }, rng }));
 * ```
 */
export class FlatContext<M extends ConditionalDistribution = ConditionalDistribution>
  extends Module<Tensor, Distribution>
  implements ConditionalDistribution
{
  readonly model: M;

  constructor(model: M) {
    super('FlatContext');
    if (!model || typeof model.condition !== 'function' || !(model instanceof Module)) {
      throw new ValueError(
        'FlatContext: pass a ConditionalDistribution that is a Module (e.g. a PixelCNN built with a vector conditioning), so its parameters train and checkpoint with the model.',
      );
    }
    this.model = this.addModule(
      'model',
      model as unknown as Module<never, unknown>,
    ) as unknown as M;
  }

  /** p(. | z flattened): batch `[n]`. The caller owns it. */
  condition(z: Tensor): Distribution {
    if (!(z instanceof tf.Tensor) || z.rank < 1 || (z.shape[0] as number) < 1) {
      throw new ShapeError(
        `${this.label}.condition: z must be a tensor [n, ...] with n >= 1, got ${z instanceof tf.Tensor ? fmtShape(z.shape) : typeof z}.`,
      );
    }
    const n = z.shape[0] as number;
    const zf = tf.reshape(z, [n, z.size / n]);
    let d: Distribution;
    try {
      d = this.model.condition(zf);
    } catch (e) {
      zf.dispose();
      throw e;
    }
    return new BatchReshaped(d, d.batchShape, [zf]);
  }

  /** Same as {@link condition}. */
  apply(z: Tensor): Distribution {
    return this.condition(z);
  }
}

/**
 * A {@link FlatContext} around `model`.
 *
 * @example
 * ```ts
 * const decoder = flatContext(conditionalPixelCnn); // accepts z [n, 1, 4]
 * ```
 */
export function flatContext<M extends ConditionalDistribution>(model: M): FlatContext<M> {
  return new FlatContext(model);
}
