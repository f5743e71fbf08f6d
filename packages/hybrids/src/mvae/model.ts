/**
 * The multimodal VAE of Wu & Goodman (2018): one Gaussian expert q(z | x_m) per modality, the
 * posterior given any subset of the modalities the product of the present experts and the prior
 * expert N(0, I) ({@link productOfGaussians}), one decoder p(x_m | z) per modality.
 */
import type { Distribution } from '@dgm-js/core-tensors';
import { MultimodalModel, type MvaeBatch, type Resolved } from './base.js';
import type { Modality } from './modalities.js';
import { diagNormal, productOfGaussians } from './poe.js';

/**
 * A multimodal VAE with a product-of-experts posterior. Each example of a batch may miss any
 * modalities (masks in the batch, or a modality absent from it): a missing modality's expert is
 * dropped from the product and its likelihood from the bounds, so missing data needs no special
 * casing. Train it with {@link mvaeObjective}.
 *
 * @example
 * ```ts
 * import { Rng, tf } from '@dgm-js/core-tensors';
 * import { MVAE, mlpModality } from '@dgm-js/hybrids';
 * const rng = new Rng(0);
 * const model = new MVAE([
 *   mlpModality({ name: 'image', inputDim: 784, hidden: [512], latentDim: 32, likelihood: 'bernoulli', rng }),
 *   mlpModality({ name: 'label', inputDim: 10, hidden: [64], latentDim: 32, likelihood: 'categorical', weight: 50, rng }),
 * ]);
 * const q = model.posterior({ data: { image, label }, masks: { label: labelMask } }); // batch [B], event [32]
 * q.dispose();
 * ```
 */
export class MVAE extends MultimodalModel {
  constructor(modalities: readonly Modality[]) {
    super('MVAE', modalities);
  }

  protected infer(batch: MvaeBatch, r: Resolved): Distribution {
    const experts = r.names.map((n) => this.modality(n).encoder.gaussian(batch.data[n]!));
    try {
      const { loc, scale } = productOfGaussians(experts, { masks: r.masks });
      return diagNormal(loc, scale);
    } finally {
      for (const e of experts) {
        e.loc.dispose();
        e.scale.dispose();
      }
    }
  }
}
