/**
 * Training objectives for the Trainer of core-tensors: the sub-sampled MVAE objective of Wu &
 * Goodman (2018) and the JMVAE-kl objective of the baseline, with per-modality likelihood weights
 * and KL annealing; and the adapter from `@dgm-js/datasets`' paired batches.
 */
import { kl, type Objective, type StepContext, tf, ValueError } from '@dgm-js/core-tensors';
import { type KlWeight, klWeightAt } from '@dgm-js/vae';
import type { MvaeBatch } from './base.js';
import type { JMVAE } from './jmvae.js';
import type { MVAE } from './model.js';
import { diagNormal } from './poe.js';

type Tensor = tf.Tensor;

/**
 * An {@link MvaeBatch} from the tensors of a `@dgm-js/datasets` paired batch (`pairedDataset`):
 * `image` and `labelOneHot` under the modality names `image` and `label`, with their masks.
 * Extra views (any other tensor with a `<name>Mask` beside it) keep their names.
 *
 * @example
 * ```ts
 * for (const b of batches(pairedDataset(train, { labelMissing: 0.5 }), { batchSize: 100 })) {
 *   const batch = fromPaired(b.tensors); // { data: { image, label }, masks: { image, label } }
 *   b.dispose();
 * }
 * ```
 */
export function fromPaired(tensors: Readonly<Record<string, Tensor | undefined>>): MvaeBatch {
  if (!tensors || typeof tensors !== 'object') {
    throw new ValueError('fromPaired: pass the tensors of a paired batch (b.tensors).');
  }
  const data: Record<string, Tensor> = {};
  const masks: Record<string, Tensor> = {};
  for (const [k, t] of Object.entries(tensors)) {
    if (!t || k.endsWith('Mask') || k === 'label') continue;
    const name = k === 'labelOneHot' ? 'label' : k;
    data[name] = t;
    const m = tensors[`${name}Mask`];
    if (m) masks[name] = m;
  }
  if (Object.keys(data).length === 0) {
    throw new ValueError(
      `fromPaired: no modality tensors among ${Object.keys(tensors).join(', ')}; ask batches() for the fields image, labelOneHot, imageMask, labelMask.`,
    );
  }
  return { data, masks };
}

/** Options of {@link mvaeObjective}. */
export interface MvaeObjectiveOptions<B> {
  /** The KL weight: a constant (beta) or a schedule of the step (e.g. `klWarmup({ steps })`). Default 1. */
  readonly klWeight?: KlWeight;
  /** Add the ELBO of each single modality. Default true (the paper's objective). */
  readonly singles?: boolean;
  /**
   * Add the ELBOs of this many random subsets (each modality in with probability 1/2, redrawn
   * if empty), drawn per step. Default 0 (with two modalities the joint and the singles are every subset).
   */
  readonly randomSubsets?: number;
  /** Maps the Trainer's batch to an {@link MvaeBatch}. Default: {@link fromPaired} of `b.tensors` if it has them, else the batch itself. */
  readonly toBatch?: (b: B) => MvaeBatch;
}

function defaultToBatch<B>(b: B): MvaeBatch {
  const o = b as unknown as { data?: unknown; tensors?: Record<string, Tensor> };
  if (o && typeof o === 'object' && o.data && typeof o.data === 'object') return o as MvaeBatch;
  if (o && typeof o === 'object' && o.tensors) return fromPaired(o.tensors);
  throw new ValueError(
    'mvaeObjective: the batch is neither { data, masks? } nor a paired batch with tensors; pass toBatch.',
  );
}

/**
 * The sub-sampled MVAE objective (Wu & Goodman 2018, eq. 5): minus the mean over the batch of
 * ELBO(x_1..x_M) + sum_m ELBO(x_m) + sum_j ELBO(X_j) for `randomSubsets` random subsets X_j,
 * each ELBO weighting log p(x_m | z) by its modality's `weight` and the KL by the annealed
 * `klWeight`. Missing modalities (masks) drop out of every term on their own.
 *
 * @example
 * ```ts
 * import { Trainer, tf } from '@dgm-js/core-tensors';
 * import { klWarmup } from '@dgm-js/vae';
 * const trainer = new Trainer({
 *   model, objective: mvaeObjective(model, { klWeight: klWarmup({ steps: 2000 }) }),
 *   data: (epoch, rng) => batches(paired, { batchSize: 100, seed: rng.next(), fields: ['image', 'labelOneHot', 'imageMask', 'labelMask'] }),
 *   optimizer: tf.train.adam(1e-3), maxSteps: 5000,
 * });
 * ```
 */
export function mvaeObjective<B = MvaeBatch>(
  model: MVAE,
  opts: MvaeObjectiveOptions<B> = {},
): Objective<B> {
  const who = 'mvaeObjective';
  const k = opts.randomSubsets ?? 0;
  if (!(Number.isInteger(k) && k >= 0)) {
    throw new ValueError(`${who}: randomSubsets must be an integer >= 0, got ${k}.`);
  }
  const toBatch = opts.toBatch ?? defaultToBatch<B>;
  const names = model.modalities.map((m) => m.name);
  return {
    loss(b: B, ctx: StepContext) {
      const beta = klWeightAt(opts.klWeight, ctx.step, who);
      const batch = toBatch(b);
      const subsets: (string[] | undefined)[] = [undefined];
      if (opts.singles ?? true) for (const n of names) if (batch.data[n]) subsets.push([n]);
      for (let j = 0; j < k; j++) {
        let s: string[] = [];
        while (s.length === 0) s = names.filter(() => ctx.rng.float() < 0.5);
        subsets.push(s);
      }
      const metrics: Record<string, Tensor | number> = { klWeight: beta };
      let total: Tensor | undefined;
      for (const s of subsets) {
        if (s && !s.some((n) => batch.data[n])) continue;
        const e = tf.mean(
          model.elbo(batch, {
            rng: ctx.rng,
            klWeight: beta,
            weighted: true,
            ...(s ? { subset: s } : {}),
          }),
        );
        if (s === undefined) metrics.jointElbo = e;
        else if (s.length === 1) metrics[`elbo_${s[0]}`] = e;
        total = total ? tf.add(total, e) : e;
      }
      return { loss: tf.neg(total as Tensor), metrics };
    },
  };
}

/** Options of {@link jmvaeObjective}. */
export interface JmvaeObjectiveOptions<B> {
  /** The weight alpha of sum_m KL(q(z | all) || q(z | x_m)) on complete examples. Default 0.1. */
  readonly alpha?: number;
  /** The KL weight of the ELBO: a constant or a schedule. Default 1. */
  readonly klWeight?: KlWeight;
  /** As in {@link MvaeObjectiveOptions.toBatch}. */
  readonly toBatch?: (b: B) => MvaeBatch;
}

/**
 * The JMVAE-kl objective (Suzuki et al. 2016), with missing modalities: minus the batch mean of
 * the ELBO under the model's posterior (the joint encoder for complete examples, the unimodal
 * encoder of the one modality an incomplete example has, so incomplete examples still train
 * their encoder and decoder) minus alpha sum_m KL(q(z | all) || q(z | x_m)) on complete examples.
 *
 * @example
 * ```ts
 * const objective = jmvaeObjective(jmvae, { alpha: 0.1, klWeight: klWarmup({ steps: 2000 }) });
 * ```
 */
export function jmvaeObjective<B = MvaeBatch>(
  model: JMVAE,
  opts: JmvaeObjectiveOptions<B> = {},
): Objective<B> {
  const who = 'jmvaeObjective';
  const alpha = opts.alpha ?? 0.1;
  if (!(Number.isFinite(alpha) && alpha >= 0)) {
    throw new ValueError(`${who}: alpha must be a finite number >= 0, got ${alpha}.`);
  }
  const toBatch = opts.toBatch ?? defaultToBatch<B>;
  return {
    loss(b: B, ctx: StepContext) {
      const beta = klWeightAt(opts.klWeight, ctx.step, who);
      const batch = toBatch(b);
      const elbo = tf.mean(model.elbo(batch, { rng: ctx.rng, klWeight: beta, weighted: true }));
      const metrics: Record<string, Tensor | number> = { elbo, klWeight: beta };
      let loss = tf.neg(elbo);
      const present = model.modalities.every((m) => batch.data[m.name]);
      if (present && alpha > 0) {
        const j = model.jointParams(batch);
        const qj = diagNormal(j.loc, j.scale);
        let complete: Tensor = tf.ones([j.loc.shape[0] as number]);
        for (const m of model.modalities) {
          const mask = batch.masks?.[m.name];
          if (mask) complete = tf.mul(complete, mask);
        }
        let reg: Tensor = tf.zeros([]);
        for (const m of model.modalities) {
          const u = m.encoder.gaussian(batch.data[m.name]!);
          const qu = diagNormal(u.loc, u.scale);
          const d = tf.mean(tf.mul(kl(qj, qu), complete));
          metrics[`kl_${m.name}`] = d;
          reg = tf.add(reg, d);
          qu.dispose();
        }
        qj.dispose();
        loss = tf.add(loss, tf.mul(reg, alpha));
      }
      return { loss, metrics };
    },
  };
}
