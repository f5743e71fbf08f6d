/**
 * The maximum-likelihood objective of any core `Distribution` (or `ConditionalDistribution`),
 * for the core-tensors Trainer.
 */
import {
  bitsPerDim,
  type ConditionalDistribution,
  type Distribution,
  type Objective,
  tf,
  ValueError,
} from '@dgm-js/core-tensors';
import type { ContextModel } from './conditioned.js';

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
 * Mean negative log-likelihood per example (nats) of a `Distribution` as a Trainer objective,
 * with the metrics `nll` (nats per example) and `bitsPerDim` (`bitsPerDim(nll, dims)` of
 * core-tensors, dims the values per example). Batches are tensors `[batch, ...eventShape]`, or
 * `{ x, context }` for a `ConditionalDistribution` (scored as `model.condition(context)
 * .logProb(x)`). For a MADE with several masks it switches connectivity every step
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
  model: Distribution | ConditionalDistribution,
  opts: NllObjectiveOptions = {},
): Objective<DensityBatch> {
  const schedule = opts.maskSchedule ?? 'cycle';
  if (schedule !== 'cycle' && schedule !== 'random') {
    throw new ValueError(
      `nllObjective: maskSchedule must be 'cycle' or 'random', got ${JSON.stringify(schedule)}.`,
    );
  }
  const canScore = typeof (model as Distribution)?.logProb === 'function';
  const canCondition = typeof (model as ConditionalDistribution)?.condition === 'function';
  if (!canScore && !canCondition) {
    throw new ValueError(
      'nllObjective: model must be a Distribution (logProb) or a ConditionalDistribution (condition).',
    );
  }
  const event = (model as Partial<Distribution>).eventShape;
  const direct = canScore && (model as unknown as Partial<ContextModel>).contextShape !== undefined;
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
      let lp: tf.Tensor;
      if (context === undefined) {
        if (!canScore) {
          throw new ValueError(
            'nllObjective: this model is a ConditionalDistribution: batches must be { x, context }.',
          );
        }
        lp = (model as Distribution).logProb(x);
      } else if (direct) {
        // a model of this package or a flow: its direct logProb(x, context) keeps every input
        // form it accepts (flattened images, one-hot tokens)
        lp = (model as unknown as ContextModel).logProb(x, context);
      } else {
        if (!canCondition) {
          throw new ValueError(
            'nllObjective: a batch has a context but the model has no condition(context); pass tensors, or a ConditionalDistribution.',
          );
        }
        const d = (model as ConditionalDistribution).condition(context);
        try {
          lp = d.logProb(x);
        } finally {
          d.dispose();
        }
      }
      // values per example: the event size, else what is left of x per log-probability
      const dims = event ? event.reduce((a, b) => a * b, 1) : Math.round(x.size / lp.size);
      const nll = tf.neg(tf.mean(lp));
      return { loss: nll, metrics: { nll, bitsPerDim: bitsPerDim(nll, dims) } };
    },
  };
}
