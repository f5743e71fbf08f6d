/**
 * Training behaviour plugged into the GAN loop as callbacks: the generator's exponential moving
 * average and fixed-noise sample grids. The interface mirrors core-tensors' Trainer callbacks
 * (`name`, `onStepEnd`, `saveState` / `loadState` with `{ json, tensors }`), so these can move
 * onto the shared Trainer once it hosts two-player loops.
 */
import {
  checkInt,
  type Generator,
  type Module,
  saveImageGrid,
  tf,
  ValueError,
} from '@dgm-js/core-tensors';

type Tensor = tf.Tensor;

/** What a callback saves in every checkpoint and gets back on resume. */
export interface GanCallbackState {
  json?: unknown;
  /** Read, not kept or disposed, by the checkpoint writer. */
  tensors?: Record<string, Tensor>;
}

/** What one GAN step did. */
export interface GanStepInfo {
  /** Steps completed (one step = nCritic critic updates + one generator update). */
  readonly step: number;
  /** Means over the step's critic updates, then the generator update's values. */
  readonly metrics: Readonly<Record<string, number>>;
  /** Training time so far (across resumes). */
  readonly elapsedMs: number;
  /** The step budget of the running `fit` call. */
  readonly totalSteps?: number;
}

/** What a callback sees of the run. */
export interface GanHandle {
  readonly step: number;
  readonly generator: Module<never, unknown> & Generator;
  readonly critic: Module<never, unknown>;
  /** The generator's parameters with their names (the EMA's order). */
  readonly generatorParams: readonly (readonly [string, tf.Variable])[];
  /** The fixed noise `[n, latentDim]` of the sample grids, and its labels when conditional. */
  readonly fixedNoise: Tensor;
  readonly fixedLabels: Tensor | undefined;
  /** Whether the run keeps an EMA of the generator. */
  readonly hasEma: boolean;
  /** Runs `fn` with the EMA weights swapped into the generator (plain weights without EMA). */
  withEma<T>(fn: () => T | Promise<T>): Promise<T>;
}

/** A piece of GAN-training behaviour. Every hook is optional and may be async. */
export interface GanCallback {
  /** A unique name: its state's key in checkpoints. */
  readonly name: string;
  /** After every step. */
  onStepEnd?(t: GanHandle, e: GanStepInfo): void | Promise<void>;
  /** After a checkpoint is written. */
  onCheckpoint?(t: GanHandle, e: { step: number; location: string }): void | Promise<void>;
  /** The state to save with a checkpoint. */
  saveState?(t: GanHandle): GanCallbackState | undefined;
  /** Restores what `saveState` returned (its tensors are disposed afterwards: assign them). */
  loadState?(t: GanHandle, state: GanCallbackState): void;
  /** Frees what the callback owns. */
  dispose?(): void;
}

/** Returns `decay` when it is in [0, 1), else throws a ValueError (internal). */
export function checkEmaDecay(decay: number): number {
  if (!(typeof decay === 'number' && decay >= 0 && decay < 1)) {
    throw new ValueError(`GeneratorEma: decay must be in [0, 1), got ${decay}.`);
  }
  return decay;
}

/**
 * An exponential moving average of the generator's parameters (Yazici et al. 2019; Karras et al.
 * 2018): after every generator update, ema = decay * ema + (1 - decay) * theta. Sampling with
 * the averaged weights usually gives better samples than the last iterate. The average is saved
 * in checkpoints (under `ema/`), so a resumed run continues it exactly.
 *
 * @example
 * ```ts
 * const ema = new GeneratorEma(generator, { decay: 0.999 });
 * // the GAN trainer creates one for you with { ema: { decay: 0.999 } }
 * ```
 */
export class GeneratorEma implements GanCallback {
  readonly name = 'ema';
  readonly decay: number;
  readonly names: readonly string[];
  private readonly vars: tf.Variable[];
  private readonly targets: tf.Variable[];

  constructor(generator: Module<never, unknown>, opts: { decay?: number } = {}) {
    this.decay = checkEmaDecay(opts.decay ?? 0.999);
    const named = generator.namedParameters();
    this.names = named.map(([n]) => n);
    this.targets = named.map(([, v]) => v);
    this.vars = named.map(([, v]) => tf.tidy(() => tf.variable(tf.clone(v), false)));
  }

  /** The averaged weights by parameter name (the variables themselves: do not dispose). */
  get weights(): ReadonlyMap<string, tf.Variable> {
    return new Map(this.names.map((n, i) => [n, this.vars[i]!]));
  }

  /** ema <- decay * ema + (1 - decay) * theta, for every parameter. */
  update(): void {
    const d = this.decay;
    tf.tidy(() => {
      this.vars.forEach((e, i) => {
        e.assign(tf.add(tf.mul(e, d), tf.mul(this.targets[i]!, 1 - d)));
      });
    });
  }

  onStepEnd(): void {
    this.update();
  }

  /** Runs `fn` with the averaged weights in the generator, then puts the trained ones back. */
  async swapIn<T>(fn: () => T | Promise<T>): Promise<T> {
    const saved = this.targets.map((v) => tf.clone(v));
    try {
      this.targets.forEach((v, i) => {
        v.assign(this.vars[i]!);
      });
      return await fn();
    } finally {
      this.targets.forEach((v, i) => {
        v.assign(saved[i]!);
      });
      tf.dispose(saved);
    }
  }

  /** Copies the averaged weights into `generator` (same architecture), e.g. for deployment. */
  copyTo(generator: Module<never, unknown>): void {
    const named = generator.namedParameters();
    if (named.map(([n]) => n).join() !== this.names.join()) {
      throw new ValueError(
        'GeneratorEma.copyTo: the generator has other parameters than the averaged one (build it with the same options).',
      );
    }
    named.forEach(([, v], i) => {
      v.assign(this.vars[i]!);
    });
  }

  saveState(): GanCallbackState {
    return { tensors: Object.fromEntries(this.names.map((n, i) => [n, this.vars[i]!])) };
  }

  loadState(_t: GanHandle, state: GanCallbackState): void {
    const t = state.tensors ?? {};
    const missing = this.names.filter((n, i) => t[n]?.shape.join() !== this.vars[i]!.shape.join());
    if (missing.length) {
      throw new ValueError(
        `GeneratorEma: the checkpoint's average does not fit the generator (missing or wrong shape: ${missing.join(', ')}).`,
      );
    }
    this.names.forEach((n, i) => {
      this.vars[i]!.assign(t[n]!);
    });
  }

  dispose(): void {
    tf.dispose(this.vars);
  }
}

/** What {@link SampleGrids} passes to its `save` function. */
export interface SampleEvent {
  step: number;
  /** G(fixed noise) with the trained weights `[n, ...outputShape]`; disposed after `save` returns. */
  samples: Tensor;
  /** G(fixed noise) with the EMA weights, when the run keeps an EMA. */
  emaSamples: Tensor | undefined;
}

/** Options of {@link SampleGrids}. */
export interface SampleGridOptions {
  /** Every this many steps (and at every checkpoint). */
  every: number;
  /** Receives the samples (e.g. {@link imageGridSaver}); may be async. */
  save: (e: SampleEvent) => void | Promise<void>;
}

/**
 * Samples from the same fixed noise (drawn once per run and saved in checkpoints) every `every`
 * steps and at every checkpoint, so grids over training are comparable image by image.
 *
 * @example
 * ```ts
 * const grids = new SampleGrids({ every: 500, save: imageGridSaver('runs/dcgan/samples') });
 * ```
 */
export class SampleGrids implements GanCallback {
  readonly name = 'samples';
  readonly every: number;
  private readonly save: SampleGridOptions['save'];
  private lastStep = -1;

  constructor(opts: SampleGridOptions) {
    checkInt(opts?.every, 'every', 'SampleGrids');
    if (typeof opts.save !== 'function') {
      throw new ValueError(
        'SampleGrids: save must be a function ({ step, samples, emaSamples }) => void.',
      );
    }
    this.every = opts.every;
    this.save = opts.save;
  }

  private async emit(t: GanHandle, step: number): Promise<void> {
    if (step === this.lastStep) return;
    this.lastStep = step;
    const gen = () => tf.tidy(() => t.generator.forward(t.fixedNoise, t.fixedLabels));
    const samples = gen();
    let emaSamples: Tensor | undefined;
    try {
      if (t.hasEma) emaSamples = await t.withEma(gen);
      await this.save({ step, samples, emaSamples });
    } finally {
      tf.dispose([samples, ...(emaSamples ? [emaSamples] : [])]);
    }
  }

  async onStepEnd(t: GanHandle, e: GanStepInfo): Promise<void> {
    if (e.step % this.every === 0) await this.emit(t, e.step);
  }

  async onCheckpoint(t: GanHandle, e: { step: number }): Promise<void> {
    await this.emit(t, e.step);
  }
}

/**
 * A `save` function for {@link SampleGrids} that writes PNG grids of image samples
 * (`[n, h, w, c]`, c = 1, 3 or 4) to `dir/step-<8 digits>.png` (and `-ema.png`), with
 * core-tensors' PNG encoder. Node only.
 *
 * @example
 * ```ts
 * new SampleGrids({ every: 1000, save: imageGridSaver('runs/dcgan/samples', { range: [0, 1] }) });
 * ```
 */
export function imageGridSaver(
  dir: string,
  opts: { range?: [number, number]; cols?: number } = {},
): (e: SampleEvent) => Promise<void> {
  const name = (step: number, suffix: string) =>
    `${dir.replace(/\/+$/, '')}/step-${String(step).padStart(8, '0')}${suffix}.png`;
  return async ({ step, samples, emaSamples }) => {
    const o = {
      ...(opts.range ? { range: opts.range } : {}),
      ...(opts.cols ? { cols: opts.cols } : {}),
    };
    await saveImageGrid(name(step, ''), samples, o);
    if (emaSamples) await saveImageGrid(name(step, '-ema'), emaSamples, o);
  };
}
