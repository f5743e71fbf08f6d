/**
 * Training an {@link AAE}: its three players (the autoencoder of the reconstruction phase, the
 * latent critic, the encoder of the regularisation phase) on an {@link AdversarialLoop} with
 * checkpoints and exact resume (every parameter, all three optimizers' slots, the seed stream).
 */
import { adam, Module, type Rng, type tf, ValueError } from '@dgm-js/core-tensors';
import type { AAE } from './aae.js';
import { AdversarialLoop, type AnyModule, type LoopTrainerOptions } from './flowgan-loop.js';

/**
 * The encoder and the decoder as one player (internal): their parameters and
 * buffers under `encoder.` and `decoder.`, without taking them from the AAE that owns them
 * (disposing the view disposes nothing).
 */
class AutoencoderView extends Module<never, never> {
  constructor(private readonly parts: [string, AnyModule][]) {
    super('AutoencoderView');
  }

  override namedParameters(): [string, tf.Variable][] {
    return this.parts.flatMap(([p, m]) =>
      m.namedParameters().map(([n, v]) => [`${p}.${n}`, v] as [string, tf.Variable]),
    );
  }

  override namedBuffers(): [string, tf.Variable][] {
    return this.parts.flatMap(([p, m]) =>
      m.namedBuffers().map(([n, v]) => [`${p}.${n}`, v] as [string, tf.Variable]),
    );
  }

  apply(): never {
    throw new ValueError('AutoencoderView: a parameter view; call the AAE instead.');
  }

  override dispose(): void {}
}

/** Options of {@link AaeTrainer}. */
/** Also `seed`, `checkpoint`, `resume` and `onStep` (metrics: recon, critic, generator). */
export interface AaeTrainerOptions extends LoopTrainerOptions {
  model: AAE;
  /** Real batches `[B, ...]` from a seed stream (a function of it alone, for exact resume). */
  data: (rng: Rng) => tf.Tensor;
  /** The reconstruction phase's (encoder and decoder). Default adam(1e-3). */
  autoencoderOptimizer?: tf.Optimizer;
  /** The critic's. Default adam(2e-4, 0.5, 0.999). */
  criticOptimizer?: tf.Optimizer;
  /** The encoder's in the regularisation phase. Default adam(2e-4, 0.5, 0.999). */
  encoderOptimizer?: tf.Optimizer;
  /** Critic updates per step. Default 1. */
  nCritic?: number;
}

/**
 * Trains an adversarial autoencoder with the schedule of `AAE.step` (reconstruction phase,
 * `nCritic` critic updates, one encoder update), resuming exactly from its checkpoints.
 *
 * @example
 * ```ts
 * import { AaeTrainer } from '@dgm-js/hybrids';
 * const trainer = new AaeTrainer({ model: aae, data: (rng) => batchOf(trainX, 100, rng), checkpoint: { dir, every: 100 }, resume: true });
 * await trainer.fit({ steps: 2000 });
 * trainer.dispose(); // the default optimizers (the model stays yours)
 * ```
 */
export class AaeTrainer {
  readonly model: AAE;
  readonly loop: AdversarialLoop;
  readonly nCritic: number;
  private readonly owned: tf.Optimizer[] = [];
  private readonly opts: AaeTrainerOptions;

  constructor(opts: AaeTrainerOptions) {
    const who = 'AaeTrainer';
    if (!opts?.model || typeof opts.model.trainStep !== 'function') {
      throw new ValueError(`${who}: options.model must be an AAE.`);
    }
    if (typeof opts.data !== 'function') {
      throw new ValueError(`${who}: data must be a function rng => batch [B, ...].`);
    }
    const m = opts.model;
    for (const [name, part] of [
      ['decoder', m.decoder],
      ['critic', m.critic],
    ] as const) {
      if (!(part instanceof Module)) {
        throw new ValueError(
          `${who}: the AAE's ${name} must be a Module (its parameters are a player's), e.g. ${name === 'decoder' ? 'bernoulliDecoder(mlp(...))' : 'new MlpCritic(...)'}.`,
        );
      }
    }
    const nCritic = opts.nCritic ?? 1;
    if (!Number.isInteger(nCritic) || nCritic < 1) {
      throw new ValueError(`${who}: nCritic must be an integer >= 1, got ${String(nCritic)}.`);
    }
    const own = (o: tf.Optimizer | undefined, make: () => tf.Optimizer) => {
      if (o) return o;
      const a = make();
      this.owned.push(a);
      return a;
    };
    const encoder = m.encoder as unknown as AnyModule;
    this.model = m;
    this.opts = opts;
    this.nCritic = nCritic;
    this.loop = new AdversarialLoop({
      players: {
        autoencoder: {
          module: new AutoencoderView([
            ['encoder', encoder],
            ['decoder', m.decoder as unknown as AnyModule],
          ]) as unknown as AnyModule,
          optimizer: own(opts.autoencoderOptimizer, () => adam(1e-3)),
        },
        critic: {
          module: m.critic as unknown as AnyModule,
          optimizer: own(opts.criticOptimizer, () => adam(2e-4, 0.5, 0.999)),
        },
        encoder: {
          module: encoder,
          optimizer: own(opts.encoderOptimizer, () => adam(2e-4, 0.5, 0.999)),
        },
      },
      ...(opts.seed === undefined ? {} : { seed: opts.seed }),
      ...(opts.checkpoint ? { checkpoint: opts.checkpoint } : {}),
      ...(opts.resume ? { resume: true } : {}),
      metadata: {
        model: 'AAE',
        posterior: m.posteriorType,
        latentDim: m.latentDim,
        loss: m.ganLoss.name,
        gpWeight: m.penaltyWeight ?? null,
        nCritic,
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
      (ctx) => this.model.trainStep(ctx, this.opts.data, { nCritic: this.nCritic }),
      this.opts.onStep,
    );
  }

  /** Frees the optimizers the trainer made (yours and the model stay yours). */
  dispose(): void {
    for (const o of this.owned.splice(0)) o.dispose();
  }
}
