/**
 * What every multimodal latent-variable model here shares: modalities (expert + decoder +
 * weight), a N(0, I) prior, batches of named tensors with per-example presence masks, and the
 * bounds computed from whatever posterior the model infers (the ELBO of any subset of the
 * modalities, importance weights, IWAE, cross-modal prediction). The posterior is the subclass's:
 * a product of experts ({@link MVAE}) or a joint encoder ({@link JMVAE}).
 */
import {
  checkInt,
  type Distribution,
  fmtShape,
  kl,
  Module,
  Rng,
  ShapeError,
  tf,
  ValueError,
} from '@dgm-js/core-tensors';
import { logMeanExp } from '@dgm-js/vae';
import { checkInput, checkModalities, type Modality } from './modalities.js';
import { diagNormal } from './poe.js';

type Tensor = tf.Tensor;

/**
 * A batch of multimodal data: one tensor `[B, ...]` per modality present in the batch (one-hot
 * rows for labels), and optional presence masks `[B]` (1 present, 0 missing) per modality. A
 * modality absent from `data` is missing for every example; a missing example's values are
 * ignored (zeros are fine).
 */
export interface MvaeBatch {
  readonly data: Readonly<Record<string, Tensor>>;
  readonly masks?: Readonly<Record<string, Tensor | undefined>>;
}

/** Options of the bounds. */
export interface MultimodalBoundOptions {
  /** The random stream of the latent draws. */
  readonly rng: Rng;
  /** The modalities to infer from and score (default: every modality in the batch). */
  readonly subset?: readonly string[];
}

/** Options of {@link MultimodalModel.elbo}. */
export interface MultimodalElboOptions extends MultimodalBoundOptions {
  /** The KL weight beta (KL annealing). Default 1. */
  readonly klWeight?: number;
  /** Weight each log-likelihood by its modality's `weight` (the training objective). Default false. */
  readonly weighted?: boolean;
}

/** A batch resolved against the model: the modalities used, the batch size, their masks. */
export interface Resolved {
  readonly names: string[];
  readonly b: number;
  /** Presence masks `[B]` (undefined: present in every example). */
  readonly masks: (Tensor | undefined)[];
}

/**
 * The base of {@link MVAE} and {@link JMVAE}: modalities, the N(0, I) prior, batch checks and
 * the bounds; a subclass supplies the posterior (`infer`).
 *
 * @example
 * ```ts
 * function report(model: MultimodalModel, batch: MvaeBatch) {
 *   const ll = model.iwae(batch, 50, { rng: new Rng(0) }); // [B]
 *   const probs = model.predict({ data: { image: batch.data.image! } }, 'label'); // [B, K]
 *   tf.dispose([ll, probs]);
 * }
 * ```
 */
export abstract class MultimodalModel extends Module<MvaeBatch, Distribution> {
  readonly modalities: readonly Modality[];
  readonly latentDim: number;

  protected constructor(kind: string, modalities: readonly Modality[]) {
    super(kind);
    this.latentDim = checkModalities(modalities, kind);
    this.modalities = modalities;
    for (const m of modalities) {
      this.addModule(`${m.name}-encoder`, m.encoder);
      this.addModule(`${m.name}-decoder`, m.decoder);
    }
  }

  /** The modality named `name` (a ValueError listing the names otherwise). */
  modality(name: string): Modality {
    const m = this.modalities.find((x) => x.name === name);
    if (!m) {
      throw new ValueError(
        `${this.kind}: no modality named '${name}'; the model has ${this.modalities.map((x) => `'${x.name}'`).join(', ')}.`,
      );
    }
    return m;
  }

  /** Checks a batch and picks the modalities of `subset` present in it. */
  protected resolve(
    batch: MvaeBatch,
    subset: readonly string[] | undefined,
    who: string,
  ): Resolved {
    if (!batch || typeof batch !== 'object' || !batch.data || typeof batch.data !== 'object') {
      throw new ValueError(
        `${who}: batch must be { data: { <modality>: tensor [B, ...] }, masks?: { <modality>: tensor [B] } }.`,
      );
    }
    for (const k of Object.keys(batch.data)) this.modality(k);
    if (subset !== undefined) {
      if (!Array.isArray(subset) || subset.length === 0) {
        throw new ValueError(`${who}: subset must be a non-empty array of modality names.`);
      }
      for (const k of subset) this.modality(k);
    }
    const names = this.modalities
      .map((m) => m.name)
      .filter((n) => batch.data[n] !== undefined && (subset === undefined || subset.includes(n)));
    if (names.length === 0) {
      throw new ValueError(
        `${who}: none of the modalities ${subset ? `of subset [${subset.join(', ')}] ` : ''}is in batch.data (keys: ${Object.keys(batch.data).join(', ') || 'none'}).`,
      );
    }
    let b: number | undefined;
    for (const n of names) b = checkInput(batch.data[n], n, b, who).shape[0] as number;
    const masks = names.map((n) => {
      const m = batch.masks?.[n];
      if (m === undefined) return undefined;
      if (!(m instanceof tf.Tensor) || m.rank !== 1 || m.shape[0] !== b) {
        throw new ShapeError(
          `${who}: masks.${n} has shape ${m instanceof tf.Tensor ? fmtShape(m.shape) : typeof m}; it must be [${b}] (1 present, 0 missing per example).`,
        );
      }
      return m;
    });
    return { names, b: b as number, masks };
  }

  /** q(z | the modalities of `r` present per example): batch `[B]`, event `[latentDim]`. */
  protected abstract infer(batch: MvaeBatch, r: Resolved): Distribution;

  /**
   * The posterior q(z | x_S) of the modalities in `subset` (default all in the batch) that each
   * example has: batch `[B]`, event `[latentDim]`. The caller owns it.
   */
  posterior(batch: MvaeBatch, opts: { subset?: readonly string[] } = {}): Distribution {
    return this.infer(batch, this.resolve(batch, opts.subset, `${this.kind}.posterior`));
  }

  /** Same as {@link posterior} over every modality in the batch. */
  apply(batch: MvaeBatch): Distribution {
    return this.posterior(batch);
  }

  /** 1 where an example has at least one modality of `r`, `[B]`. */
  protected anyPresent(r: Resolved): Tensor | undefined {
    if (r.masks.some((m) => m === undefined)) return undefined;
    return tf.tidy(() =>
      tf.sub(
        1,
        r.masks.reduce<Tensor>((acc, m) => tf.mul(acc, tf.sub(1, m as Tensor)), tf.ones([r.b])),
      ),
    );
  }

  /** sum_m w_m mask_m log p(x_m | z) over `r`'s modalities for latents `[n, d]` (n = k B): `[n]`. */
  protected logLik(batch: MvaeBatch, r: Resolved, z: Tensor, weighted: boolean): Tensor {
    return tf.tidy(() => {
      const reps = (z.shape[0] as number) / r.b;
      let total: Tensor = tf.zeros([z.shape[0] as number]);
      r.names.forEach((n, i) => {
        const m = this.modality(n);
        const x = batch.data[n] as Tensor;
        const px = m.decoder.condition(z);
        const xf = tf.reshape(x, [r.b, ...px.eventShape]);
        const xt = reps === 1 ? xf : tf.tile(xf, [reps, ...px.eventShape.map(() => 1)]);
        let lp = px.logProb(xt);
        px.dispose();
        const mask = r.masks[i];
        if (mask) lp = tf.mul(lp, reps === 1 ? mask : tf.tile(mask, [reps]));
        const w = weighted ? (m.weight ?? 1) : 1;
        total = tf.add(total, w === 1 ? lp : tf.mul(lp, w));
      });
      return total;
    });
  }

  /**
   * The ELBO of the modalities in `subset` that each example has, `[B]`: E_q[sum_m lambda_m
   * log p(x_m | z)] - beta KL(q(z | x_S) || N(0, I)), one reparameterized sample, with
   * lambda_m = 1 unless `weighted`. An example with none of the subset's modalities gets 0.
   *
   * @example
   * ```ts
   * const joint = model.elbo(batch, { rng });                       // [B]
   * const imageOnly = model.elbo(batch, { rng, subset: ['image'] }); // [B]
   * ```
   */
  elbo(batch: MvaeBatch, opts: MultimodalElboOptions): Tensor {
    const who = `${this.kind}.elbo`;
    const rng = checkRng(opts, who);
    const beta = opts.klWeight ?? 1;
    if (!(Number.isFinite(beta) && beta >= 0)) {
      throw new ValueError(`${who}: klWeight must be a finite number >= 0, got ${beta}.`);
    }
    const r = this.resolve(batch, opts.subset, who);
    const q = this.infer(batch, r);
    try {
      return tf.tidy(() => {
        const z = q.rsample({ rng });
        const prior = diagNormal(tf.zerosLike(z), tf.onesLike(z));
        const klv = kl(q, prior);
        prior.dispose();
        let e = tf.sub(this.logLik(batch, r, z, opts.weighted ?? false), tf.mul(klv, beta));
        const any = this.anyPresent(r);
        if (any) e = tf.mul(e, any);
        return e;
      });
    } finally {
      q.dispose();
    }
  }

  /**
   * Importance log-weights log p(x_S, z_k) - log q(z_k | x_S), `[k, B]`, for k draws from the
   * posterior of `subset` (unit likelihood weights).
   *
   * @example
   * ```ts
   * const lw = model.logWeights(batch, 50, { rng }); // [50, B]
   * ```
   */
  logWeights(batch: MvaeBatch, k: number, opts: MultimodalBoundOptions): Tensor {
    const who = `${this.kind}.logWeights`;
    checkInt(k, 'k', who);
    const rng = checkRng(opts, who);
    const r = this.resolve(batch, opts.subset, who);
    const q = this.infer(batch, r);
    try {
      return tf.tidy(() => {
        const z = q.rsample({ sampleShape: [k], rng }); // [k, B, d]
        const lq = q.logProb(z); // [k, B]
        const lp = tf.sum(
          tf.sub(tf.mul(-0.5, tf.square(z)), 0.5 * Math.log(2 * Math.PI)),
          -1,
        ) as Tensor;
        const zf = tf.reshape(z, [k * r.b, this.latentDim]);
        const ll = tf.reshape(this.logLik(batch, r, zf, false), [k, r.b]);
        return tf.sub(tf.add(ll, lp), lq);
      });
    } finally {
      q.dispose();
    }
  }

  /**
   * The IWAE bound on log p(x_S) with k samples, `[B]` (a lower bound; its negative an upper
   * bound on the NLL in expectation).
   *
   * @example
   * ```ts
   * const ll = model.iwae({ data: { image, label } }, 100, { rng }); // log p(x, y) bound, [B]
   * ```
   */
  iwae(batch: MvaeBatch, k: number, opts: MultimodalBoundOptions): Tensor {
    const lw = this.logWeights(batch, k, opts);
    const out = logMeanExp(lw, 0);
    lw.dispose();
    return out;
  }

  /**
   * Cross-modal prediction: the mean of p(x_target | z) at z = the posterior mean given the
   * modalities of `subset` (or one draw z ~ q with `rng`), `[B, ...target event]`. With the
   * label modality as the target this is the class probabilities; with an image, the pixel
   * means.
   *
   * @example
   * ```ts
   * const probs = model.predict({ data: { image } }, 'label');       // [B, 10]
   * const imgs = model.predict({ data: { label } }, 'image', { rng }); // [B, 784], z ~ q(z | y)
   * ```
   */
  predict(
    batch: MvaeBatch,
    target: string,
    opts: { subset?: readonly string[]; rng?: Rng } = {},
  ): Tensor {
    const who = `${this.kind}.predict`;
    const m = this.modality(target);
    if (opts.rng !== undefined) checkRng({ rng: opts.rng }, who);
    const q = this.infer(batch, this.resolve(batch, opts.subset, who));
    try {
      return tf.tidy(() => {
        const z = opts.rng ? q.sample({ rng: opts.rng }) : q.mean;
        const px = m.decoder.condition(z);
        const out = px.mean;
        px.dispose();
        return out;
      });
    } finally {
      q.dispose();
    }
  }
}

/**
 * Checks `opts.rng` is an `Rng` (a `ValueError` naming `who` otherwise) and returns it.
 *
 * @example
 * ```ts
 * const rng = checkRng(opts, 'MyModel.elbo');
 * ```
 */
export function checkRng(opts: { rng?: Rng } | undefined, who: string): Rng {
  if (!opts || !(opts.rng instanceof Rng)) {
    throw new ValueError(
      `${who}: pass options { rng } with a seeded Rng, e.g. { rng: new Rng(0) }.`,
    );
  }
  return opts.rng;
}
