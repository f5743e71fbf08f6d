/**
 * Training a {@link VaeGan}: its three players (the VAE's encoder and decoder, the critic) on an
 * {@link AdversarialLoop} with checkpoints and exact resume.
 */
import { adam, Module, type Rng, type tf, ValueError } from '@dgm-js/core-tensors';
import { AdversarialLoop, type AnyModule, type LoopTrainerOptions } from './flowgan-loop.js';
import type { VaeGan } from './vae-gan.js';

/** Options of {@link VaeGanTrainer}. */
/** Also `seed`, `checkpoint`, `resume` and `onStep` (metrics: kl, llike, ganG, ganD). */
export interface VaeGanTrainerOptions extends LoopTrainerOptions {
  model: VaeGan;
  /** Real batches `[B, D]` from a seed stream (a function of it alone, for exact resume). */
  data: (rng: Rng) => tf.Tensor;
  /** Default: adam(3e-4) each (the paper used RMSProp 3e-4). */
  encoderOptimizer?: tf.Optimizer;
  decoderOptimizer?: tf.Optimizer;
  criticOptimizer?: tf.Optimizer;
}

/**
 * Trains a VAE-GAN: per step one update of the encoder, the decoder and the critic.
 *
 * @example
 * ```ts
 * const trainer = new VaeGanTrainer({ model, data: (rng) => batchOf(trainX, 64, rng) });
 * await trainer.fit({ steps: 2000 });
 * trainer.dispose();
 * ```
 */
export class VaeGanTrainer {
  readonly model: VaeGan;
  readonly loop: AdversarialLoop;
  private readonly owned: tf.Optimizer[] = [];
  private readonly opts: VaeGanTrainerOptions;

  constructor(opts: VaeGanTrainerOptions) {
    const who = 'VaeGanTrainer';
    if (!opts?.model || typeof opts.model.trainStep !== 'function') {
      throw new ValueError(`${who}: options.model must be a VaeGan.`);
    }
    if (typeof opts.data !== 'function') {
      throw new ValueError(`${who}: data must be a function rng => batch [B, D].`);
    }
    const { vae, critic } = opts.model;
    for (const [name, m] of [
      ['encoder', vae.encoder],
      ['decoder', vae.decoder],
    ] as const) {
      if (!(m instanceof Module)) {
        throw new ValueError(
          `${who}: the VAE's ${name} must be a Module (its parameters are a player's), e.g. gaussianEncoder(mlp(...)).`,
        );
      }
    }
    const own = (o: tf.Optimizer | undefined) => {
      if (o) return o;
      const a = adam(3e-4);
      this.owned.push(a);
      return a;
    };
    this.model = opts.model;
    this.opts = opts;
    this.loop = new AdversarialLoop({
      players: {
        encoder: {
          module: vae.encoder as unknown as AnyModule,
          optimizer: own(opts.encoderOptimizer),
        },
        decoder: {
          module: vae.decoder as unknown as AnyModule,
          optimizer: own(opts.decoderOptimizer),
        },
        critic: { module: critic, optimizer: own(opts.criticOptimizer) },
      },
      ...(opts.seed === undefined ? {} : { seed: opts.seed }),
      ...(opts.checkpoint ? { checkpoint: opts.checkpoint } : {}),
      ...(opts.resume ? { resume: true } : {}),
      metadata: { model: 'VaeGan', gamma: opts.model.gamma, loss: opts.model.loss.name },
      who,
    });
  }

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

  /** Frees the optimizers the trainer made. */
  dispose(): void {
    for (const o of this.owned.splice(0)) o.dispose();
  }
}
