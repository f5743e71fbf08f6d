/**
 * The baseline: a JMVAE-style model (Suzuki et al. 2016) from the same parts as {@link MVAE}: a
 * joint encoder q(z | x_1, ..., x_M) over all modalities, one unimodal encoder q(z | x_m) per
 * modality (a plain Gaussian, no prior expert), the same decoders. Trained with
 * {@link jmvaeObjective}: the joint ELBO plus alpha KL(q(z | all) || q(z | x_m)) pulling the
 * unimodal encoders towards the joint one.
 */
import { type Distribution, tf, ValueError } from '@dgm-js/core-tensors';
import { MultimodalModel, type MvaeBatch, type Resolved } from './base.js';
import { GaussianExpert, type Modality } from './modalities.js';
import { diagNormal, type GaussianParams } from './poe.js';

type Tensor = tf.Tensor;

/**
 * A JMVAE-style multimodal VAE. Inference from all modalities uses the joint encoder; from one
 * modality, its unimodal encoder. An example that misses modalities in a batch is inferred from
 * the one it has (so with two modalities every pattern of missingness works; with more, an
 * incomplete example must have exactly one modality: the joint encoder cannot take a partial
 * subset, which is what the product of experts fixes).
 *
 * @example
 * ```ts
 * import { mlp, Rng } from '@dgm-js/core-tensors';
 * import { GaussianExpert, JMVAE, mlpModality } from '@dgm-js/hybrids';
 * const rng = new Rng(0);
 * const model = new JMVAE(
 *   [
 *     mlpModality({ name: 'image', inputDim: 784, hidden: [512], latentDim: 32, likelihood: 'bernoulli', rng }),
 *     mlpModality({ name: 'label', inputDim: 10, hidden: [64], latentDim: 32, likelihood: 'categorical', weight: 50, rng }),
 *   ],
 *   { joint: new GaussianExpert(mlp([794, 512, 64], { rng }), { latentDim: 32 }) },
 * );
 * ```
 */
export class JMVAE extends MultimodalModel {
  /** q(z | all modalities), over their flattened tensors concatenated in the modalities' order. */
  readonly joint: GaussianExpert;

  constructor(modalities: readonly Modality[], opts: { joint: GaussianExpert }) {
    super('JMVAE', modalities);
    if (!(opts?.joint instanceof GaussianExpert)) {
      throw new ValueError(
        'JMVAE: opts.joint must be a GaussianExpert over the concatenated modalities, e.g. new GaussianExpert(mlp([794, 512, 64], { rng }), { latentDim: 32 }).',
      );
    }
    if (opts.joint.latentDim !== this.latentDim) {
      throw new ValueError(
        `JMVAE: opts.joint has latentDim ${opts.joint.latentDim}, the modalities' experts ${this.latentDim}; they must agree.`,
      );
    }
    this.joint = this.addModule('joint-encoder', opts.joint);
  }

  /** The joint encoder's mean and scale `[B, d]` for a batch holding every modality. */
  jointParams(batch: MvaeBatch): GaussianParams {
    const missing = this.modalities.filter((m) => batch.data?.[m.name] === undefined);
    if (missing.length) {
      throw new ValueError(
        `JMVAE: the joint encoder needs every modality in batch.data; missing ${missing.map((m) => `'${m.name}'`).join(', ')}.`,
      );
    }
    const x = tf.tidy(() =>
      tf.concat(
        this.modalities.map((m) => {
          const t = batch.data[m.name] as Tensor;
          return tf.reshape(t, [t.shape[0] as number, -1]);
        }),
        1,
      ),
    );
    try {
      return this.joint.gaussian(x);
    } finally {
      x.dispose();
    }
  }

  protected infer(batch: MvaeBatch, r: Resolved): Distribution {
    if (r.names.length === 1) {
      const { loc, scale } = this.modality(r.names[0]!).encoder.gaussian(batch.data[r.names[0]!]!);
      return diagNormal(loc, scale);
    }
    if (r.names.length !== this.modalities.length) {
      throw new ValueError(
        `JMVAE: infers from all modalities or from one; got the subset [${r.names.join(', ')}] (a product of experts, MVAE, takes any subset).`,
      );
    }
    const j = this.jointParams(batch);
    if (r.masks.every((m) => m === undefined)) return diagNormal(j.loc, j.scale);
    const uni = r.names.map((n) => this.modality(n).encoder.gaussian(batch.data[n]!));
    const out = tf.tidy(() => {
      const ones = tf.ones([r.b]);
      const ms = r.masks.map((m) => (m ? tf.cast(m, 'float32') : ones));
      const c = tf.expandDims(
        ms.reduce((a, m) => tf.mul(a, m)),
        1,
      ); // complete examples
      const blend = (k: 'loc' | 'scale') =>
        uni.reduce(
          (acc, u, i) => tf.add(acc, tf.mul(tf.mul(tf.sub(1, c), tf.expandDims(ms[i]!, 1)), u[k])),
          tf.mul(c, j[k]),
        );
      return { loc: blend('loc'), scale: blend('scale') };
    });
    tf.dispose([j.loc, j.scale, ...uni.flatMap((u) => [u.loc, u.scale])]);
    return diagNormal(out.loc, out.scale);
  }
}
