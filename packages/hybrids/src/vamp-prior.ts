/**
 * The VampPrior (Tomczak & Welling 2018, "VAE with a VampPrior"): the prior is the VAE's own
 * encoder averaged over K learned pseudo-inputs u_1..u_K,
 *   p(z) = (1/K) sum_k q(z | u_k),
 * the approximation of the aggregate posterior that the ELBO's optimal prior would be. The
 * pseudo-inputs are this module's only parameters; the encoder is shared with the VAE (not
 * owned, not registered here, so its parameters are counted and trained once).
 */
import {
  Categorical,
  type ConditionalDistribution,
  checkInt,
  checkRng,
  type Distribution,
  fmtShape,
  MixtureSameFamily,
  Module,
  type Rng,
  type SampleOptions,
  ShapeError,
  tf,
  ValueError,
} from '@dgm-js/core-tensors';

type Tensor = tf.Tensor;

/** Options of {@link vampPrior}. */
export interface VampPriorOptions {
  /** Number of pseudo-inputs K. Default 500 (the paper's MNIST setting). */
  components?: number;
  /** The shape of one encoder input, e.g. `[784]` or `[28, 28, 1]`. */
  inputShape: readonly number[];
  /** Seeds the pseudo-inputs. */
  rng: Rng;
  /**
   * Initial pseudo-inputs `[K, ...inputShape]` in (0, 1) (e.g. K random training images, the
   * paper's "data" initialisation). Default: uniform in (0.25, 0.75).
   */
  init?: Tensor;
}

/**
 * p(z) = (1/K) sum_k q(z | u_k) with learned pseudo-inputs u_k = sigmoid(w_k) in (0, 1)
 * (binarized-MNIST inputs). A core `Distribution` (batch `[]`, event = the encoder's latent
 * shape) and a `Module` (its parameter: the K pseudo-inputs' logits). No closed-form KL exists,
 * so a VAE with this prior uses the Monte Carlo log q(z|x) - log p(z).
 *
 * @example
 * ```ts
 * import { mlp, Rng } from '@dgm-js/core-tensors';
 * import { bernoulliDecoder, gaussianEncoder, VAE } from '@dgm-js/vae';
 * const rng = new Rng(0);
 * const encoder = gaussianEncoder(mlp([784, 256, 32], { rng, activation: 'relu' }));
 * const vae = new VAE({
 *   encoder,
 *   decoder: bernoulliDecoder(mlp([16, 256, 784], { rng, activation: 'relu' })),
 *   prior: vampPrior(encoder, { components: 100, inputShape: [784], rng }),
 * });
 * ```
 */
export class VampPrior extends Module<Tensor, Tensor> implements Distribution {
  readonly hasRsample = false;
  readonly components: number;
  readonly inputShape: number[];
  private readonly encoder: ConditionalDistribution;
  private readonly logits: tf.Variable;
  private readonly event: number[];

  constructor(encoder: ConditionalDistribution, opts: VampPriorOptions) {
    super('VampPrior');
    const who = 'vampPrior';
    if (!encoder || typeof encoder.condition !== 'function') {
      throw new ValueError(
        `${who}: encoder must be a ConditionalDistribution (the VAE's encoder, e.g. gaussianEncoder(net)).`,
      );
    }
    if (!opts || typeof opts !== 'object' || !Array.isArray(opts.inputShape)) {
      throw new ValueError(
        `${who}: pass options { inputShape, rng }, e.g. { inputShape: [784], rng }.`,
      );
    }
    const k = checkInt(opts.components ?? 500, 'components', who);
    for (const [i, d] of opts.inputShape.entries()) checkInt(d, `inputShape[${i}]`, who);
    checkRng(opts.rng, who);
    const shape = [k, ...opts.inputShape];
    let init: Tensor;
    if (opts.init !== undefined) {
      if (opts.init.shape.join() !== shape.join()) {
        throw new ShapeError(
          `${who}: init has shape ${fmtShape(opts.init.shape)}; expected ${fmtShape(shape)} (components x inputShape).`,
        );
      }
      // logit of the initial values, clipped away from 0 and 1
      init = tf.tidy(() => {
        const p = tf.clipByValue(opts.init as Tensor, 1e-3, 1 - 1e-3);
        return tf.sub(tf.log(p), tf.log1p(tf.neg(p)));
      });
    } else {
      init = tf.tidy(() => {
        const u = tf.randomUniform(shape, 0.25, 0.75, 'float32', opts.rng.next());
        return tf.sub(tf.log(u), tf.log1p(tf.neg(u)));
      });
    }
    this.logits = this.addParameter('pseudoInputLogits', init);
    init.dispose();
    this.components = k;
    this.inputShape = [...opts.inputShape];
    this.encoder = encoder;
    // the latent's shape, from one conditioned pseudo-input
    this.event = tf.tidy(() => {
      const q = encoder.condition(tf.sigmoid(tf.slice(this.logits, [0], [1])));
      const e = [...q.eventShape];
      if (q.batchShape.join() !== '1') {
        q.dispose();
        throw new ShapeError(
          `${who}: the encoder's distribution for one input has batch shape ${fmtShape(q.batchShape)}; expected [1] (batch = inputs, the latent as event).`,
        );
      }
      q.dispose();
      return e;
    });
  }

  /** The pseudo-inputs u_k = sigmoid(w_k), `[K, ...inputShape]` (a new tensor). */
  pseudoInputs(): Tensor {
    return tf.sigmoid(this.logits);
  }

  get batchShape(): number[] {
    return [];
  }

  get eventShape(): number[] {
    return [...this.event];
  }

  /** The mixture (1/K) sum_k q(. | u_k); the caller disposes it (not the shared encoder). */
  private mixture(): MixtureSameFamily {
    const u = this.pseudoInputs();
    let q: Distribution;
    try {
      q = this.encoder.condition(u);
    } finally {
      u.dispose();
    }
    // uniform weights: Categorical derives (and owns) its log-probabilities from these numbers
    const w = new Categorical({ logits: new Array<number>(this.components).fill(0) });
    return new MixtureSameFamily(w, q);
  }

  /** log p(z) = logsumexp_k log q(z | u_k) - log K; z `[..., ...event]`. */
  logProb(z: Tensor): Tensor {
    const er = this.event.length;
    const tail = z.shape.slice(z.rank - er);
    if (z.rank < er || tail.join() !== this.event.join()) {
      throw new ShapeError(
        `VampPrior.logProb: z has shape ${fmtShape(z.shape)}; its last axes must be the latent ${fmtShape(this.event)}.`,
      );
    }
    const m = this.mixture();
    try {
      return m.logProb(z);
    } finally {
      m.dispose();
    }
  }

  /** Samples: a uniformly chosen pseudo-input k, then z ~ q(z | u_k). */
  sample(opts: SampleOptions): Tensor {
    const m = this.mixture();
    try {
      return tf.tidy(() => tf.keep(m.sample(opts)));
    } finally {
      m.dispose();
    }
  }

  rsample(_opts: SampleOptions): Tensor {
    throw new ValueError(
      'VampPrior.rsample: a mixture has no reparameterized sample; use sample() (a VAE needs only logProb of its prior).',
    );
  }

  /** The mixture mean: the average over k of the mean of q(z | u_k). */
  get mean(): Tensor {
    const m = this.mixture();
    try {
      return m.mean;
    } finally {
      m.dispose();
    }
  }

  get mode(): Tensor {
    throw new ValueError(
      'VampPrior.mode: a mixture has no closed-form mode; search logProb numerically or take samples.',
    );
  }

  entropy(): Tensor {
    throw new ValueError(
      'VampPrior.entropy: no closed form; estimate it from samples: -mean(logProb(sample)).',
    );
  }

  /** The module's forward: log p(z). */
  apply(z: Tensor): Tensor {
    return this.logProb(z);
  }
}

/**
 * A {@link VampPrior} over `encoder`'s latent: `new VAE({ encoder, decoder, prior:
 * vampPrior(encoder, { inputShape: [784], rng }) })`.
 *
 * @example
 * ```ts
 * const prior = vampPrior(encoder, { components: 50, inputShape: [784], rng });
 * ```
 */
export function vampPrior(encoder: ConditionalDistribution, opts: VampPriorOptions): VampPrior {
  return new VampPrior(encoder, opts);
}
