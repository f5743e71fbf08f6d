/**
 * The GAN training loop: alternating updates (nCritic critic updates, then one generator update)
 * with separate optimizers, gradient penalties, spectral-norm power iterations, callbacks (the
 * generator EMA, fixed-noise sample grids, progress through core's ProgressReporter, your own),
 * checkpoints with exact resume of both players, and divergence detection. Built on core's
 * public API (optimizers, checkpoint stores and format, progress). Not on core's `Trainer`: its
 * step is one objective under one gradient tape over one parameter list, applied by one
 * optimizer, with a budget fixed when it is built; two players need two gradient sets, two
 * optimizers (both checkpointed) and a divergence check per player, and `fit({ steps })` grows
 * the budget call by call. See the package README ("Why not core's Trainer").
 */
import {
  adam,
  type CheckpointStore,
  type Critic,
  checkInt,
  checkpointName,
  DirectoryCheckpointStore,
  type Generator,
  listCheckpoints,
  Rng,
  tf,
  ValueError,
} from '@dgm-js/core-tensors';
import {
  checkEmaDecay,
  type GanCallback,
  type GanHandle,
  type GanStepInfo,
  GeneratorEma,
  SampleGrids,
} from './callbacks.js';
import {
  checkOptimizer,
  checkPlayer,
  decodeGanCheckpoint,
  encodeGanCheckpoint,
  type GanHistoryEntry,
  required,
  restoreOptimizer,
} from './checkpoint.js';
import { criticObjective } from './critic-objective.js';
import { GanDivergenceError } from './errors.js';
import { type GanLoss, ganLoss } from './losses.js';
import { GanProgress } from './progress.js';
import { powerIterate } from './spectral.js';
import type {
  AnyModule,
  GanTrainerOptions,
  GanTrainResult,
  PenaltyOption,
} from './train-options.js';

type Tensor = tf.Tensor;

function nowMs(): number {
  return typeof performance !== 'undefined' ? performance.now() : Date.now();
}

/**
 * Trains a generator and a critic against each other.
 *
 * Ownership: `dispose()` frees what the trainer made (the fixed noise and labels, the EMA and
 * other callbacks' state, and the default optimizers it created when `generatorOptimizer` /
 * `criticOptimizer` were not given). The players and any optimizer you passed stay yours:
 * dispose them yourself.
 *
 * @example
 * ```ts
 * import { Rng } from '@dgm-js/core-tensors';
 * import { GanTrainer, MlpCritic, MlpGenerator } from '@dgm-js/gan';
 * const rng = new Rng(0);
 * const generator = new MlpGenerator({ latentDim: 8, outputShape: 2, hidden: [64, 64], rng });
 * const critic = new MlpCritic({ inputShape: 2, hidden: [64, 64], rng });
 * const trainer = new GanTrainer({
 *   generator, critic, loss: 'non-saturating', penalty: { kind: 'r1', gamma: 1 },
 *   data: (r) => tf.randomNormal([128, 2], 0, 1, 'float32', r.next()),
 * });
 * await trainer.fit({ steps: 500 });
 * ```
 */
export class GanTrainer implements GanHandle {
  readonly generator: AnyModule & Generator;
  readonly critic: AnyModule & Critic;
  readonly loss: GanLoss;
  readonly nCritic: number;
  readonly generatorOptimizer: tf.Optimizer;
  readonly criticOptimizer: tf.Optimizer;
  readonly callbacks: readonly GanCallback[];
  readonly ema: GeneratorEma | undefined;
  readonly fixedNoise: Tensor;
  readonly fixedLabels: Tensor | undefined;
  readonly generatorParams: readonly (readonly [string, tf.Variable])[];
  private readonly criticParams: [string, tf.Variable][];
  private readonly penalties: PenaltyOption[];
  private readonly store: CheckpointStore | undefined;
  private readonly opts: GanTrainerOptions;
  private readonly maxLoss: number;
  private readonly maxGradNorm: number;
  private readonly logEvery: number;
  private rng: Rng;
  private _step = 0;
  private history: GanHistoryEntry[] = [];
  private acc: { n: number; sums: Record<string, number> } = { n: 0, sums: {} };
  private elapsedBefore = 0;
  private sessionStart = 0;
  private lastCheckpoint: string | undefined;
  private lastSavedStep = -1;
  private resumedFrom: string | undefined;
  private started = false;
  private disposed = false;
  /** The default optimizers the trainer made (disposed with it); yours stay yours. */
  private readonly ownedOptimizers: tf.Optimizer[];

  constructor(opts: GanTrainerOptions) {
    if (!opts || typeof opts !== 'object')
      throw new ValueError('GanTrainer: pass an options object.');
    const { generator, critic } = opts;
    if (
      !generator ||
      typeof generator.forward !== 'function' ||
      typeof generator.namedParameters !== 'function'
    ) {
      throw new ValueError(
        'GanTrainer: generator must be a generator module (e.g. MlpGenerator, DcganGenerator).',
      );
    }
    if (
      !critic ||
      typeof critic.score !== 'function' ||
      typeof critic.namedParameters !== 'function'
    ) {
      throw new ValueError(
        'GanTrainer: critic must be a critic module (e.g. MlpCritic, DcganCritic).',
      );
    }
    if (generator.numClasses !== critic.numClasses) {
      throw new ValueError(
        `GanTrainer: the generator has numClasses ${generator.numClasses} and the critic ${critic.numClasses}; both conditional on the same classes, or neither.`,
      );
    }
    if (generator.outputShape.join() !== critic.inputShape.join()) {
      throw new ValueError(
        `GanTrainer: the generator makes [${generator.outputShape.join(', ')}] examples but the critic takes [${critic.inputShape.join(', ')}].`,
      );
    }
    if (typeof opts.data !== 'function') {
      throw new ValueError(
        'GanTrainer: data must be a function (rng, step) => batch tensor or { x, labels }.',
      );
    }
    this.opts = opts;
    this.generator = generator;
    this.critic = critic;
    this.loss = ganLoss(opts.loss);
    this.nCritic = checkInt(opts.nCritic ?? 1, 'nCritic', 'GanTrainer');
    this.logEvery = checkInt(opts.logEvery ?? 50, 'logEvery', 'GanTrainer');
    this.penalties =
      opts.penalty === undefined
        ? []
        : Array.isArray(opts.penalty)
          ? [...opts.penalty]
          : [opts.penalty as PenaltyOption];
    for (const p of this.penalties) {
      if (!['wgan-gp', 'r1', 'r2'].includes(p?.kind)) {
        throw new ValueError(
          `GanTrainer: penalty.kind must be 'wgan-gp', 'r1' or 'r2', got ${JSON.stringify(p?.kind)}.`,
        );
      }
    }
    const div =
      opts.divergence === false
        ? { maxLoss: Infinity, maxGradNorm: Infinity }
        : (opts.divergence ?? {});
    this.maxLoss = div.maxLoss ?? 1e6;
    this.maxGradNorm = div.maxGradNorm ?? Infinity;
    if (!(this.maxLoss > 0) || !(this.maxGradNorm > 0)) {
      throw new ValueError('GanTrainer: divergence.maxLoss and maxGradNorm must be > 0.');
    }
    this.generatorOptimizer = opts.generatorOptimizer ?? adam(2e-4, 0.5, 0.999);
    this.criticOptimizer = opts.criticOptimizer ?? adam(2e-4, 0.5, 0.999);
    if (this.generatorOptimizer === this.criticOptimizer) {
      throw new ValueError(
        'GanTrainer: the generator and the critic need separate optimizer instances.',
      );
    }
    this.generatorParams = generator.namedParameters().filter(([, v]) => v.trainable);
    this.criticParams = critic.namedParameters().filter(([, v]) => v.trainable);
    if (this.generatorParams.length === 0 || this.criticParams.length === 0) {
      throw new ValueError('GanTrainer: both players need trainable parameters.');
    }
    if (opts.checkpoint) {
      checkInt(opts.checkpoint.every ?? 1, 'checkpoint.every', 'GanTrainer');
      checkInt(opts.checkpoint.keep ?? 3, 'checkpoint.keep', 'GanTrainer');
      this.store =
        opts.checkpoint.store ??
        (opts.checkpoint.dir ? new DirectoryCheckpointStore(opts.checkpoint.dir) : undefined);
      if (!this.store)
        throw new ValueError('GanTrainer: checkpoint needs a dir (Node) or a store.');
    }
    if (opts.resume === true && !this.store) {
      throw new ValueError('GanTrainer: resume: true needs checkpoint.dir or checkpoint.store.');
    }
    const root = new Rng(opts.seed ?? 0);
    const fixedRng = root.split();
    this.rng = root;
    const nFixed = checkInt(opts.samples?.n ?? 64, 'samples.n', 'GanTrainer');
    // everything that can throw is checked before anything that owns tensors is created
    const samples = opts.samples ? new SampleGrids(opts.samples) : undefined;
    const names = new Set<string>(['ema', 'samples', ...(opts.progress ? ['progress'] : [])]);
    for (const c of opts.callbacks ?? []) {
      if (names.has(c.name)) {
        throw new ValueError(
          `GanTrainer: two callbacks are named '${c.name}' ('ema' and 'samples' are taken, and 'progress' with the progress option).`,
        );
      }
      names.add(c.name);
    }
    if (opts.ema) checkEmaDecay(opts.ema.decay ?? 0.999);
    this.fixedNoise = generator.sampleLatent(nFixed, fixedRng);
    this.fixedLabels =
      generator.numClasses === undefined
        ? undefined
        : tf.tensor1d(
            Array.from({ length: nFixed }, (_, i) => i % generator.numClasses!),
            'int32',
          );
    this.ema = opts.ema ? new GeneratorEma(generator, opts.ema) : undefined;
    this.callbacks = [
      ...(this.ema ? [this.ema] : []),
      ...(samples ? [samples] : []),
      ...(opts.progress ? [new GanProgress(opts.progress === true ? {} : opts.progress)] : []),
      ...(opts.callbacks ?? []),
    ];
    this.ownedOptimizers = [
      ...(opts.generatorOptimizer ? [] : [this.generatorOptimizer]),
      ...(opts.criticOptimizer ? [] : [this.criticOptimizer]),
    ];
  }

  /** Steps completed (across resumes). */
  get step(): number {
    return this._step;
  }

  get hasEma(): boolean {
    return this.ema !== undefined;
  }

  async withEma<T>(fn: () => T | Promise<T>): Promise<T> {
    return this.ema ? this.ema.swapIn(fn) : fn();
  }

  private elapsedMs(): number {
    return this.elapsedBefore + (this.started ? nowMs() - this.sessionStart : 0);
  }

  /** Reads a batch from the data function, as `{ x, labels }` (the caller disposes both). */
  private batch(rng: Rng): { x: Tensor; labels: Tensor | undefined } {
    const b = this.opts.data(rng, this._step);
    const x = b instanceof tf.Tensor ? b : b?.x;
    if (!(x instanceof tf.Tensor)) {
      throw new ValueError(
        'GanTrainer: data must return a tensor or { x, labels } with a tensor x.',
      );
    }
    const labels = b instanceof tf.Tensor ? undefined : b.labels;
    return { x, labels };
  }

  /**
   * Computes grads of `f` for `params`, checks the loss and the global gradient norm, applies them
   * with `opt` (every parameter in a fixed order: optimizers index their slots by position).
   * Returns [loss, gradNorm, ...parts].
   */
  private update(
    player: 'critic' | 'generator',
    params: readonly (readonly [string, tf.Variable])[],
    opt: tf.Optimizer,
    f: (parts: Tensor[]) => tf.Scalar,
    what: string,
  ): number[] {
    const parts: Tensor[] = [];
    const vars = params.map(([, v]) => v);
    let grads: tf.NamedTensorMap = {};
    let value: tf.Scalar | undefined;
    try {
      ({ value, grads } = tf.variableGrads(() => f(parts), vars));
      const stats = tf.tidy(() => {
        const sq = Object.values(grads).map((g) => tf.sum(tf.square(g)));
        const norm = tf.sqrt(sq.length ? tf.addN(sq) : tf.scalar(0));
        return tf.concat([value!, norm, ...parts].map((t) => tf.reshape(t, [1]))).dataSync();
      });
      const loss = stats[0]!;
      const norm = stats[1]!;
      const bad =
        !Number.isFinite(loss) || Math.abs(loss) > this.maxLoss
          ? 'loss'
          : !Number.isFinite(norm) || norm > this.maxGradNorm
            ? 'gradient norm'
            : undefined;
      if (bad) {
        const v = bad === 'loss' ? loss : norm;
        const last = this.lastCheckpoint;
        throw new GanDivergenceError(
          `GanTrainer: step ${this._step + 1}: the ${player}'s ${bad} is ${v} (${what}${Number.isFinite(v) ? `, beyond the limit ${bad === 'loss' ? this.maxLoss : this.maxGradNorm}` : ''}). The update was not applied. ${last ? `The last good checkpoint is ${last} (kept).` : 'No checkpoint had been written.'} Lower the learning rates, add a gradient penalty (penalty: { kind: 'r1' }) or spectral norm, or check the data for NaN.`,
          { step: this._step + 1, player, what: bad, value: v, lastCheckpoint: last },
        );
      }
      opt.applyGradients(
        vars.map((v) => ({
          name: v.name,
          tensor: grads[v.name] ?? null,
        })) as unknown as tf.NamedTensorMap,
      );
      return Array.from(stats);
    } finally {
      value?.dispose();
      tf.dispose(grads);
      tf.dispose(parts);
    }
  }

  /** One step: nCritic critic updates, then one generator update; returns the step's metrics. */
  private trainStep(): Record<string, number> {
    const rng = this.rng.split();
    const sums = { lossD: 0, adv: 0, penalty: 0, realScore: 0, fakeScore: 0, gradNormD: 0 };
    let lastLabels: Tensor | undefined;
    let n = 0;
    try {
      for (let k = 0; k < this.nCritic; k++) {
        powerIterate(this.critic);
        const { x, labels } = this.batch(rng.split());
        lastLabels?.dispose();
        lastLabels = labels;
        try {
          n = x.shape[0]!;
          const z = this.generator.sampleLatent(n, rng);
          const fake = tf.tidy(() => this.generator.forward(z, labels));
          z.dispose();
          const penRng = rng.split();
          try {
            const s = this.update(
              'critic',
              this.criticParams,
              this.criticOptimizer,
              (parts) =>
                criticObjective(
                  this.critic,
                  this.loss,
                  this.penalties,
                  { x, fake, labels },
                  penRng,
                  parts,
                ),
              `critic update ${k + 1} of ${this.nCritic}`,
            );
            sums.lossD += s[0]!;
            sums.gradNormD += s[1]!;
            sums.adv += s[2]!;
            sums.penalty += s[3]!;
            sums.realScore += s[4]!;
            sums.fakeScore += s[5]!;
          } finally {
            fake.dispose();
          }
        } finally {
          x.dispose();
        }
      }
      const z = this.generator.sampleLatent(n, rng);
      try {
        const s = this.update(
          'generator',
          this.generatorParams,
          this.generatorOptimizer,
          () =>
            this.loss.generator(
              this.critic.score(this.generator.forward(z, lastLabels), lastLabels),
            ),
          'generator update',
        );
        const m = this.nCritic;
        return {
          lossD: sums.lossD / m,
          lossDAdv: sums.adv / m,
          penalty: sums.penalty / m,
          realScore: sums.realScore / m,
          fakeScore: sums.fakeScore / m,
          gradNormD: sums.gradNormD / m,
          lossG: s[0]!,
          gradNormG: s[1]!,
        };
      } finally {
        z.dispose();
      }
    } finally {
      lastLabels?.dispose();
    }
  }

  private record(metrics: Record<string, number>): void {
    this.acc.n++;
    for (const [k, v] of Object.entries(metrics)) this.acc.sums[k] = (this.acc.sums[k] ?? 0) + v;
    if (this._step % this.logEvery === 0) this.flushHistory();
  }

  private flushHistory(): void {
    if (this.acc.n === 0) return;
    const n = this.acc.n;
    this.history.push({
      step: this._step,
      elapsedMs: Math.round(this.elapsedMs()),
      steps: n,
      metrics: Object.fromEntries(Object.entries(this.acc.sums).map(([k, v]) => [k, v / n])),
    });
    this.acc = { n: 0, sums: {} };
  }

  /**
   * Trains until `steps` steps are done in total (across resumes). On the first call it resumes
   * when `resume` is set. An aborted `signal` stops after the current step (a checkpoint is
   * written when configured). Throws a {@link GanDivergenceError} when training diverges.
   */
  async fit(opts: { steps: number; signal?: AbortSignal }): Promise<GanTrainResult> {
    if (this.disposed) throw new ValueError('GanTrainer.fit: the trainer was disposed.');
    const steps = checkInt(opts?.steps, 'steps', 'GanTrainer', { min: 0 });
    if (!this.started && this.opts.resume) await this.resume();
    this.started = true;
    this.sessionStart = nowMs();
    try {
      while (this._step < steps && !opts.signal?.aborted) {
        const metrics = this.trainStep();
        this._step++;
        this.record(metrics);
        const elapsedMs = this.elapsedMs();
        const info: GanStepInfo = { step: this._step, metrics, elapsedMs, totalSteps: steps };
        for (const c of this.callbacks) await c.onStepEnd?.(this, info);
        await this.opts.onStep?.(info);
        const every = this.opts.checkpoint?.every;
        if (this.store && every && this._step % every === 0) await this.saveCheckpoint();
      }
      if (this.store && this.lastSavedStep !== this._step) await this.saveCheckpoint();
    } finally {
      this.elapsedBefore = this.elapsedMs();
      this.started = false;
    }
    return {
      step: this._step,
      history: this.history.map((h) => ({ ...h, metrics: { ...h.metrics } })),
      lastCheckpoint: this.lastCheckpoint,
      resumedFrom: this.resumedFrom,
      elapsedMs: this.elapsedBefore,
    };
  }

  /** Writes a checkpoint now (also done every `checkpoint.every` steps and at the end). */
  async saveCheckpoint(): Promise<string> {
    if (!this.store)
      throw new ValueError('GanTrainer.saveCheckpoint: no checkpoint dir or store configured.');
    const callbacks: Record<string, { json?: unknown; tensors?: Record<string, Tensor> }> = {};
    for (const c of this.callbacks) {
      const s = c.saveState?.(this);
      if (s) callbacks[c.name] = s;
    }
    const files = await encodeGanCheckpoint({
      generator: this.generator.namedState(),
      critic: this.critic.namedState(),
      optimizers: { generator: this.generatorOptimizer, critic: this.criticOptimizer },
      callbacks,
      fixedNoise: this.fixedNoise,
      fixedLabels: this.fixedLabels,
      meta: {
        step: this._step,
        rngState: this.rng.getState(),
        elapsedMs: Math.round(this.elapsedMs()),
        loss: this.loss.name,
        nCritic: this.nCritic,
        history: this.history,
        acc: this.acc,
        metadata: this.opts.metadata ?? {},
      },
    });
    const location = await this.store.write(checkpointName(this._step), files);
    this.lastCheckpoint = location;
    this.lastSavedStep = this._step;
    const keep = this.opts.checkpoint?.keep ?? 3;
    const all = await listCheckpoints(this.store);
    for (const c of all.slice(0, Math.max(all.length - keep, 0))) await this.store.remove(c.name);
    for (const c of this.callbacks) await c.onCheckpoint?.(this, { step: this._step, location });
    return location;
  }

  /**
   * Restores everything from a checkpoint: the newest of the store (`resume: true`) or the
   * directory `resume` names. Everything is checked before anything is assigned. Returns the
   * checkpoint's location, or undefined when the store holds none (a fresh start).
   */
  async resume(from?: string): Promise<string | undefined> {
    from ??= typeof this.opts.resume === 'string' ? this.opts.resume : undefined;
    let files: Record<string, Uint8Array>;
    let source: string;
    if (from === undefined) {
      if (!this.store)
        throw new ValueError('GanTrainer.resume: no checkpoint store to resume from.');
      if (this.store instanceof DirectoryCheckpointStore) await this.store.recover();
      const all = await listCheckpoints(this.store);
      const last = all[all.length - 1];
      if (!last) return undefined;
      source = this.store.locate(last.name);
      files = await this.store.read(last.name);
    } else {
      const parts = from.replace(/\/+$/, '').split('/');
      const name = parts.pop()!;
      source = from;
      files = await new DirectoryCheckpointStore(parts.join('/') || '.').read(name);
    }
    const { tensors, meta } = decodeGanCheckpoint(files, source);
    try {
      const g = this.generator.namedState();
      const d = this.critic.namedState();
      checkPlayer(g, tensors, 'generator', source);
      checkPlayer(d, tensors, 'critic', source);
      checkOptimizer(
        this.generatorOptimizer,
        meta.optimizers.generator,
        tensors,
        'generator',
        source,
      );
      checkOptimizer(this.criticOptimizer, meta.optimizers.critic, tensors, 'critic', source);
      const noise = required(tensors, 'fixed/noise', this.fixedNoise.shape, source);
      if (meta.nCritic !== this.nCritic || meta.loss !== this.loss.name) {
        throw new ValueError(
          `GanTrainer: checkpoint ${source} was trained with loss '${meta.loss}' and nCritic ${meta.nCritic}, this trainer has '${this.loss.name}' and ${this.nCritic}; an exact resume needs the same settings.`,
        );
      }
      for (const [n, v] of g) v.assign(tensors[`generator/${n}`]!);
      for (const [n, v] of d) v.assign(tensors[`critic/${n}`]!);
      await restoreOptimizer(
        this.generatorOptimizer,
        meta.optimizers.generator,
        tensors,
        'generator',
      );
      await restoreOptimizer(this.criticOptimizer, meta.optimizers.critic, tensors, 'critic');
      (this.fixedNoise as tf.Tensor).dispose();
      (this as { fixedNoise: Tensor }).fixedNoise = tf.clone(noise);
      if (this.fixedLabels && meta.hasFixedLabels) {
        const l = required(tensors, 'fixed/labels', this.fixedLabels.shape, source);
        this.fixedLabels.dispose();
        (this as { fixedLabels: Tensor | undefined }).fixedLabels = tf.clone(l);
      }
      for (const c of this.callbacks) {
        const s = meta.callbacks[c.name];
        if (!s || !c.loadState) continue;
        const t = Object.fromEntries(
          s.tensors.map((k) => [k, tensors[`callback/${c.name}/${k}`]!]),
        );
        c.loadState(this, { ...(s.json === undefined ? {} : { json: s.json }), tensors: t });
      }
      this._step = meta.step;
      this.rng = Rng.fromState(meta.rngState);
      this.elapsedBefore = meta.elapsedMs;
      this.history = meta.history.map((h) => ({ ...h, metrics: { ...h.metrics } }));
      this.acc = { n: meta.acc.n, sums: { ...meta.acc.sums } };
      this.lastCheckpoint = source;
      this.lastSavedStep = meta.step;
      this.resumedFrom = source;
      return source;
    } finally {
      tf.dispose(Object.values(tensors));
    }
  }

  /**
   * Frees what the trainer owns: the fixed noise, the EMA and callbacks' state, and the default
   * optimizers it made. Not the players, and not optimizers passed as `generatorOptimizer` /
   * `criticOptimizer` (the caller disposes those).
   */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    tf.dispose([this.fixedNoise, ...(this.fixedLabels ? [this.fixedLabels] : [])]);
    for (const c of this.callbacks) c.dispose?.();
    for (const o of this.ownedOptimizers) o.dispose();
  }
}
