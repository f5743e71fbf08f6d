/**
 * Training a {@link FlowGan}: its players (the flow as 'generator', the critic) on an
 * {@link AdversarialLoop} with checkpoints and exact resume.
 */
import { adam, type Rng, type tf, ValueError } from '@dgm-js/core-tensors';
import type { FlowGan } from './flowgan.js';
import {
  AdversarialLoop,
  type AnyModule,
  type LoopPlayer,
  type LoopTrainerOptions,
} from './flowgan-loop.js';

/** Options of {@link FlowGanTrainer}. */
/** Also `seed`, `checkpoint`, `resume` and `onStep` (metrics: lossG, nll, advG; lossD, wassersteinEstimate, penalty). */
export interface FlowGanTrainerOptions extends LoopTrainerOptions {
  model: FlowGan;
  /** Real batches: dequantised `[B, D]` from a seed stream (e.g. `dequantizedBatches(trainX, 64)`). */
  data: (rng: Rng) => tf.Tensor;
  /** Default adam(1e-4, 0.5, 0.999) (the reference code's WGAN-GP settings). */
  generatorOptimizer?: tf.Optimizer;
  /** Default adam(1e-4, 0.5, 0.999). */
  criticOptimizer?: tf.Optimizer;
}

/**
 * Trains a FlowGAN (MLE: the flow alone; ADV and hybrid: nCritic critic updates, then one
 * generator update), resuming exactly from its checkpoints.
 *
 * @example
 * ```ts
 * const trainer = new FlowGanTrainer({ model, data: dequantizedBatches(trainX, 64), checkpoint: { dir, every: 100 }, resume: true });
 * await trainer.fit({ steps: 1000 });
 * trainer.dispose(); // the default optimizers
 * ```
 */
export class FlowGanTrainer {
  readonly model: FlowGan;
  readonly loop: AdversarialLoop;
  private readonly owned: tf.Optimizer[] = [];
  private readonly opts: FlowGanTrainerOptions;

  constructor(opts: FlowGanTrainerOptions) {
    const who = 'FlowGanTrainer';
    if (!opts?.model || typeof opts.model.trainStep !== 'function') {
      throw new ValueError(`${who}: options.model must be a FlowGan.`);
    }
    if (typeof opts.data !== 'function') {
      throw new ValueError(`${who}: data must be a function rng => dequantised batch [B, D].`);
    }
    const m = opts.model;
    const own = (o: tf.Optimizer | undefined) => {
      if (o) return o;
      const a = adam(1e-4, 0.5, 0.999);
      this.owned.push(a);
      return a;
    };
    const players: Record<string, LoopPlayer> = {
      generator: {
        module: m.flow as unknown as AnyModule,
        optimizer: own(opts.generatorOptimizer),
      },
    };
    if (m.mode !== 'mle' && m.critic) {
      players.critic = { module: m.critic, optimizer: own(opts.criticOptimizer) };
    }
    this.model = m;
    this.opts = opts;
    this.loop = new AdversarialLoop({
      players,
      ...(opts.seed === undefined ? {} : { seed: opts.seed }),
      ...(opts.checkpoint ? { checkpoint: opts.checkpoint } : {}),
      ...(opts.resume ? { resume: true } : {}),
      metadata: {
        model: 'FlowGan',
        mode: m.mode,
        lambda: m.lambda,
        nCritic: m.nCritic,
        gpWeight: m.gpWeight,
      },
      who,
    });
  }

  /** Steps completed (across resumes). */
  get step(): number {
    return this.loop.step;
  }

  /** Trains until `steps` steps in total. */
  async fit(opts: { steps: number }): Promise<{ step: number; resumedFrom: string | undefined }> {
    return this.loop.fit(
      opts?.steps,
      (ctx) => this.model.trainStep(ctx, this.opts.data),
      this.opts.onStep,
    );
  }

  /** Frees the optimizers the trainer made (yours and the model stay yours). */
  dispose(): void {
    for (const o of this.owned.splice(0)) o.dispose();
  }
}
