/**
 * The options and results of the GAN training loop.
 */
import type {
  CheckpointStore,
  Critic,
  Generator,
  Module,
  ProgressOptions,
  Rng,
  tf,
} from '@dgm-js/core-tensors';
import type { GanCallback, GanStepInfo, SampleGridOptions } from './callbacks.js';
import type { GanHistoryEntry } from './checkpoint.js';
import type { GanLoss, GanLossName } from './losses.js';

type Tensor = tf.Tensor;

/** Any module, whatever its input and output types. */
export type AnyModule = Module<never, unknown>;

/** A real batch: examples, and labels for conditional models. */
export interface GanBatch {
  x: Tensor;
  labels?: Tensor;
}

/**
 * Real batches: a function of a seed stream (and the step), so a resumed run sees exactly the
 * batches the interrupted one would have. The loop disposes what it returns.
 */
export type GanData = (rng: Rng, step: number) => Tensor | GanBatch;

/** A gradient penalty on the critic. */
export type PenaltyOption =
  | { kind: 'wgan-gp'; weight?: number; target?: number }
  | { kind: 'r1'; gamma?: number }
  | { kind: 'r2'; gamma?: number };

/** Options of {@link GanTrainer}. */
export interface GanTrainerOptions {
  generator: AnyModule & Generator;
  critic: AnyModule & Critic;
  /** The adversarial loss. */
  loss: GanLossName | GanLoss;
  /** Real batches (see {@link GanData}); as many fakes as real examples are generated. */
  data: GanData;
  /** Gradient penalties added to the critic's loss. */
  penalty?: PenaltyOption | readonly PenaltyOption[];
  /** Critic updates per generator update. Default 1 (WGAN-GP uses 5). */
  nCritic?: number;
  /**
   * The generator's optimizer. Default adam(2e-4, 0.5, 0.999) (Radford et al. 2016).
   *
   * Ownership: an optimizer you pass stays yours: `GanTrainer.dispose()` does not dispose it
   * (you may reuse it, e.g. for a second trainer), so call its `dispose()` yourself when done,
   * or its slot variables (Adam: two per parameter, plus the beta powers) leak. The default one
   * the trainer makes is the trainer's, and `dispose()` frees it.
   */
  generatorOptimizer?: tf.Optimizer;
  /**
   * The critic's optimizer (a different instance from the generator's). Default
   * adam(2e-4, 0.5, 0.999). Same ownership rule as `generatorOptimizer`: one you pass is yours
   * to dispose; the default is disposed by `GanTrainer.dispose()`.
   */
  criticOptimizer?: tf.Optimizer;
  /** Keep an exponential moving average of the generator's weights. Default off. */
  ema?: { decay?: number };
  /** Fixed-noise sample grids. `n` samples (default 64) from noise drawn once per run. */
  samples?: SampleGridOptions & { n?: number };
  /**
   * Progress lines on stderr (core-tensors' format: step / budget, the generator's loss, the
   * other metrics, steps/s, ETA), or to `stream`; `everySteps` / `everySeconds` (default 10 s).
   * Default off.
   */
  progress?: boolean | ProgressOptions;
  /** More callbacks (run after the EMA, the sample grids and the progress). */
  callbacks?: readonly GanCallback[];
  /** Seeds the run: the fixed noise, the batches, the latents, the penalties' randomness. Default 0. */
  seed?: number;
  /** Checkpoints: a directory (Node) or a store, every this many steps (and at the end). */
  checkpoint?: { dir?: string; store?: CheckpointStore; every?: number; keep?: number };
  /** Continue from the newest checkpoint of `checkpoint` (true) or from a checkpoint directory path. */
  resume?: boolean | string;
  /**
   * Divergence detection: a NaN / Infinity loss or gradient norm, or a loss with |loss| >
   * `maxLoss` (default 1e6), or a gradient norm > `maxGradNorm` (default Infinity), stops training
   * with a {@link GanDivergenceError} naming the last good checkpoint. `false` turns the limits
   * off (NaN still stops).
   */
  divergence?: { maxLoss?: number; maxGradNorm?: number } | false;
  /** Steps per history row. Default 50. */
  logEvery?: number;
  /** Called after every step. */
  onStep?: (info: GanStepInfo) => void | Promise<void>;
  /** Free-form JSON stored in every checkpoint. */
  metadata?: Record<string, unknown>;
}

/** What {@link GanTrainer.fit} returns. */
export interface GanTrainResult {
  step: number;
  history: GanHistoryEntry[];
  lastCheckpoint: string | undefined;
  resumedFrom: string | undefined;
  elapsedMs: number;
}
