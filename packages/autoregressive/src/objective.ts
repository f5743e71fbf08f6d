/**
 * The maximum-likelihood objective of any {@link DensityModel}, for the core-tensors Trainer.
 */
import { type Objective, tf, ValueError } from '@dgm-js/core-tensors';
import type { DensityModel } from './density.js';

/** A batch for {@link nllObjective}: the data, or the data with its context. */
export type DensityBatch = tf.Tensor | { x: tf.Tensor; context?: tf.Tensor };

/** A model with several connectivities (MADE with `numMasks > 1`). */
interface MultiMask {
  readonly numMasks: number;
  useMask(index: number): void;
}

function isMultiMask(m: unknown): m is MultiMask {
  const c = m as Partial<MultiMask>;
  return typeof c?.numMasks === 'number' && c.numMasks > 1 && typeof c.useMask === 'function';
}

/** Options of {@link nllObjective}. */
export interface NllObjectiveOptions {
  /**
   * For models with several masks: use mask `step % numMasks` ('cycle', default) or a random
   * one each step ('random', from the step's seed stream).
   */
  maskSchedule?: 'cycle' | 'random';
}

/**
 * Mean negative log-likelihood per example (nats) as a Trainer objective, with the metrics
 * `nll` (nats per example) and `bitsPerDim`. Batches are tensors `[batch, ...eventShape]` or
 * `{ x, context }`. For a MADE with several masks it switches connectivity every step
 * (connectivity-agnostic training).
 *
 * @example
 * ```ts
 * import { Made, nllObjective } from '@dgm-js/autoregressive';
 * import { Rng, tf, Trainer } from '@dgm-js/core-tensors';
 * const made = new Made({ dim: 784, hiddenSizes: [500], rng: new Rng(0) });
 * const trainer = new Trainer({
 *   model: made, objective: nllObjective(made), data: batches,
 *   optimizer: tf.train.adam(1e-3), epochs: 10,
 * });
 * await trainer.fit();
 * ```
 */
export function nllObjective(
  model: DensityModel,
  opts: NllObjectiveOptions = {},
): Objective<DensityBatch> {
  const schedule = opts.maskSchedule ?? 'cycle';
  if (schedule !== 'cycle' && schedule !== 'random') {
    throw new ValueError(
      `nllObjective: maskSchedule must be 'cycle' or 'random', got ${JSON.stringify(schedule)}.`,
    );
  }
  const dims = model.eventShape.reduce((a, b) => a * b, 1);
  return {
    loss(batch, ctx) {
      if (isMultiMask(model)) {
        const m =
          schedule === 'cycle'
            ? ctx.step % model.numMasks
            : Math.floor(ctx.rng.float() * model.numMasks);
        model.useMask(m);
      }
      const x = batch instanceof tf.Tensor ? batch : batch?.x;
      if (!(x instanceof tf.Tensor)) {
        throw new ValueError('nllObjective: a batch must be a tensor or { x, context? }.');
      }
      const context = batch instanceof tf.Tensor ? undefined : batch.context;
      const nll = tf.neg(tf.mean(model.logProb(x, context)));
      return { loss: nll, metrics: { nll, bitsPerDim: tf.div(nll, dims * Math.LN2) } };
    },
  };
}
