/**
 * The training loop of the adversarial hybrids (FlowGAN, VAE-GAN): named players (each a module
 * and its own optimizer), a step function that runs the players' updates, and checkpoints with
 * exact resume (every player's state, every optimizer's slots, the seed stream, the step) in
 * core-tensors' state format through a `CheckpointStore`. `GanTrainer` of `@dgm-js/gan` fixes its
 * generator loss to a function of critic scores; FlowGAN's hybrid loss needs the real batch too
 * (its NLL term) and VAE-GAN has three players, hence this loop.
 */
import {
  CheckpointError,
  type CheckpointStore,
  checkInt,
  checkpointName,
  DirectoryCheckpointStore,
  decodeState,
  encodeState,
  listCheckpoints,
  type Module,
  NonFiniteError,
  parseManifest,
  Rng,
  tf,
  ValueError,
} from '@dgm-js/core-tensors';

type Tensor = tf.Tensor;

/** Any module, whatever its input and output types. */
export type AnyModule = Module<never, unknown>;

/** A player: the module it trains and its own optimizer. */
export interface LoopPlayer {
  module: AnyModule;
  optimizer: tf.Optimizer;
}

/** What a step function gets. */
export interface LoopContext {
  /** This step's seed stream (derived from the loop's, restored on resume). */
  rng: Rng;
  /** Steps completed before this one. */
  step: number;
  /**
   * Minimises `f` over the named player's trainable parameters with its optimizer (one update);
   * returns the loss and the extra tensors `f` pushed into `parts` (as numbers). Throws a
   * `NonFiniteError` (and applies nothing) when the loss or a gradient is not finite.
   */
  update(player: string, f: (parts: Tensor[]) => tf.Scalar): number[];
}

/** The run options every trainer on {@link AdversarialLoop} takes (FlowGAN, VAE-GAN, AAE). */
export interface LoopTrainerOptions {
  /** Seeds the run. Default 0. */
  seed?: number;
  /** Checkpoints: a directory (Node) or a store, every this many steps (and at the end); keep the newest `keep` (3). */
  checkpoint?: { dir?: string; store?: CheckpointStore; every?: number; keep?: number };
  /** Continue from the newest checkpoint when there is one. */
  resume?: boolean;
  /** Called after every step with its metrics (each trainer names its own). */
  onStep?: (step: number, metrics: Record<string, number>) => void | Promise<void>;
}

/** Options of {@link AdversarialLoop}. */
export interface AdversarialLoopOptions {
  /** The players by name (e.g. `{ critic, generator }`), updated in the order the step calls them. */
  players: Record<string, LoopPlayer>;
  /** Seeds the step streams. Default 0. */
  seed?: number;
  /** Checkpoints: a directory (Node) or a store, every this many steps (and at the end); keep the newest `keep` (3). */
  checkpoint?: { dir?: string; store?: CheckpointStore; every?: number; keep?: number };
  /** Continue from the newest checkpoint of `checkpoint` when there is one. */
  resume?: boolean;
  /** Free-form JSON stored in every checkpoint (checked on resume: the same settings). */
  metadata?: Record<string, unknown>;
  /** The caller's name in messages. */
  who?: string;
}

interface OptimizerMeta {
  className: string;
  count: number;
  extras: string[];
}

interface LoopMeta {
  kind: 'dgmjs-adversarial-loop';
  version: 1;
  step: number;
  rngState: number;
  optimizers: Record<string, OptimizerMeta>;
  metadata: Record<string, unknown>;
}

const MANIFEST = 'model.json';
/** Scalars core's Adam keeps outside getWeights (saved so a resumed run is bit-identical). */
const EXTRAS = ['accBeta1', 'accBeta2'] as const;

function extras(opt: tf.Optimizer): [string, tf.Variable][] {
  const out: [string, tf.Variable][] = [];
  for (const k of EXTRAS) {
    const v = (opt as unknown as Record<string, unknown>)[k];
    if (v instanceof tf.Variable) out.push([k, v]);
  }
  return out;
}

/**
 * Runs a step function over named players, with checkpoints and exact resume.
 *
 * @example
 * ```ts
 * const loop = new AdversarialLoop({
 *   players: { critic: { module: critic, optimizer: adam(1e-4) }, generator: { module: flow, optimizer: adam(1e-4) } },
 *   checkpoint: { dir: '/tmp/run', every: 100 }, resume: true,
 * });
 * await loop.fit(1000, ({ rng, update }) => ({ lossD: update('critic', () => criticLoss(rng))[0]! }));
 * ```
 */
export class AdversarialLoop {
  readonly players: Readonly<Record<string, LoopPlayer>>;
  private readonly params: Record<string, tf.Variable[]>;
  private readonly store: CheckpointStore | undefined;
  private readonly opts: AdversarialLoopOptions;
  private readonly who: string;
  private rng: Rng;
  private _step = 0;
  private started = false;
  /** The checkpoint the run resumed from, if any. */
  resumedFrom: string | undefined;

  constructor(opts: AdversarialLoopOptions) {
    const who = opts?.who ?? 'AdversarialLoop';
    this.who = who;
    if (!opts || typeof opts.players !== 'object' || Object.keys(opts.players).length === 0) {
      throw new ValueError(`${who}: players must name at least one { module, optimizer }.`);
    }
    const params: Record<string, tf.Variable[]> = {};
    const seen = new Set<tf.Optimizer>();
    for (const [name, p] of Object.entries(opts.players)) {
      if (!p || typeof p.module?.namedParameters !== 'function') {
        throw new ValueError(`${who}: player '${name}' needs a module (a core Module).`);
      }
      if (!p.optimizer || typeof p.optimizer.applyGradients !== 'function') {
        throw new ValueError(`${who}: player '${name}' needs an optimizer (e.g. adam(1e-4)).`);
      }
      if (seen.has(p.optimizer)) {
        throw new ValueError(
          `${who}: player '${name}' shares its optimizer with another player; give each player its own instance.`,
        );
      }
      seen.add(p.optimizer);
      params[name] = p.module
        .namedParameters()
        .filter(([, v]) => v.trainable)
        .map(([, v]) => v);
      if (params[name].length === 0) {
        throw new ValueError(`${who}: player '${name}' has no trainable parameters.`);
      }
    }
    if (opts.checkpoint) {
      checkInt(opts.checkpoint.every ?? 1, 'checkpoint.every', who);
      checkInt(opts.checkpoint.keep ?? 3, 'checkpoint.keep', who);
      this.store =
        opts.checkpoint.store ??
        (opts.checkpoint.dir ? new DirectoryCheckpointStore(opts.checkpoint.dir) : undefined);
      if (!this.store) throw new ValueError(`${who}: checkpoint needs a dir (Node) or a store.`);
    }
    if (opts.resume && !this.store) {
      throw new ValueError(`${who}: resume needs checkpoint.dir or checkpoint.store.`);
    }
    this.players = opts.players;
    this.params = params;
    this.opts = opts;
    this.rng = new Rng(opts.seed ?? 0);
  }

  /** Steps completed (across resumes). */
  get step(): number {
    return this._step;
  }

  /** One update of one player (see {@link LoopContext.update}). */
  update(player: string, f: (parts: Tensor[]) => tf.Scalar): number[] {
    const p = this.players[player];
    const vars = this.params[player];
    if (!p || !vars) {
      throw new ValueError(
        `${this.who}: no player '${player}'; the players are ${Object.keys(this.players).join(', ')}.`,
      );
    }
    const parts: Tensor[] = [];
    let value: tf.Scalar | undefined;
    let grads: tf.NamedTensorMap = {};
    try {
      ({ value, grads } = tf.variableGrads(() => {
        const v = f(parts);
        for (const t of parts) tf.keep(t); // the tape's scope would free them
        return v;
      }, vars));
      const stats = tf.tidy(() => {
        const sq = Object.values(grads).map((g) => tf.sum(tf.square(g)));
        const norm = tf.sqrt(tf.addN(sq));
        return tf.concat([value!, norm, ...parts].map((t) => tf.reshape(t, [1]))).dataSync();
      });
      if (!Number.isFinite(stats[0]!) || !Number.isFinite(stats[1]!)) {
        throw new NonFiniteError(
          `${this.who}: step ${this._step + 1}: the ${player}'s ${Number.isFinite(stats[0]!) ? 'gradient norm' : 'loss'} is not finite; the update was not applied. Lower the learning rate or check the data for NaN.`,
          {
            step: this._step + 1,
            loss: stats[0]!,
            badGradients: Number.isFinite(stats[1]!) ? [] : [player],
            badMetrics: [],
            lastCheckpoint: undefined,
          },
        );
      }
      // every variable in a fixed order: optimizers index their slots by position
      p.optimizer.applyGradients(
        vars.map((v) => ({ name: v.name, tensor: grads[v.name] ?? tf.zerosLike(v) })) as never,
      );
      return [stats[0]!, ...Array.from(stats.subarray(2))];
    } finally {
      value?.dispose();
      tf.dispose(grads);
      tf.dispose(parts);
    }
  }

  /**
   * Runs `stepFn` until `steps` steps are done in total (resuming first when asked), writing
   * checkpoints every `checkpoint.every` steps and at the end. `onStep` sees each step's metrics.
   */
  async fit(
    steps: number,
    stepFn: (ctx: LoopContext) => Record<string, number>,
    onStep?: (step: number, metrics: Record<string, number>) => void | Promise<void>,
  ): Promise<{ step: number; resumedFrom: string | undefined }> {
    checkInt(steps, 'steps', this.who, { min: 0 });
    if (!this.started && this.opts.resume) await this.resume();
    this.started = true;
    const every = this.opts.checkpoint?.every;
    let saved = -1;
    while (this._step < steps) {
      const rng = this.rng.split();
      const metrics = stepFn({
        rng,
        step: this._step,
        update: (player, f) => this.update(player, f),
      });
      this._step++;
      await onStep?.(this._step, metrics);
      if (this.store && every && this._step % every === 0) {
        await this.saveCheckpoint();
        saved = this._step;
      }
    }
    if (this.store && saved !== this._step) await this.saveCheckpoint();
    return { step: this._step, resumedFrom: this.resumedFrom };
  }

  /** Writes a checkpoint now; returns its location. */
  async saveCheckpoint(): Promise<string> {
    if (!this.store) throw new ValueError(`${this.who}.saveCheckpoint: no checkpoint configured.`);
    const entries: [string, Tensor][] = [];
    const owned: Tensor[] = [];
    const optimizers: Record<string, OptimizerMeta> = {};
    try {
      for (const [name, p] of Object.entries(this.players)) {
        for (const [n, v] of p.module.namedState()) entries.push([`player/${name}/${n}`, v]);
        const weights = (await p.optimizer.getWeights()) as { name: string; tensor: Tensor }[];
        for (const w of weights) if (!(w.tensor instanceof tf.Variable)) owned.push(w.tensor);
        weights.forEach((w, i) => {
          entries.push([`optimizer/${name}/${i}`, w.tensor]);
        });
        const ex = extras(p.optimizer);
        for (const [k, v] of ex) entries.push([`optimizer-extra/${name}/${k}`, v]);
        optimizers[name] = {
          className: p.optimizer.getClassName(),
          count: weights.length,
          extras: ex.map(([k]) => k),
        };
      }
      const meta: LoopMeta = {
        kind: 'dgmjs-adversarial-loop',
        version: 1,
        step: this._step,
        rngState: this.rng.getState(),
        optimizers,
        metadata: this.opts.metadata ?? {},
      };
      const { manifest, data } = await encodeState(
        entries,
        meta as unknown as Record<string, unknown>,
      );
      const files = {
        [MANIFEST]: new TextEncoder().encode(JSON.stringify(manifest)),
        [manifest.weightsManifest[0].paths[0]]: data,
      };
      const location = await this.store.write(checkpointName(this._step), files);
      const keep = this.opts.checkpoint?.keep ?? 3;
      const all = await listCheckpoints(this.store);
      for (const c of all.slice(0, Math.max(all.length - keep, 0))) await this.store.remove(c.name);
      return location;
    } finally {
      tf.dispose(owned);
    }
  }

  /** Restores the newest checkpoint (everything checked before anything is assigned); undefined when none. */
  async resume(): Promise<string | undefined> {
    if (!this.store) throw new ValueError(`${this.who}.resume: no checkpoint store.`);
    if (this.store instanceof DirectoryCheckpointStore) await this.store.recover();
    const all = await listCheckpoints(this.store);
    const last = all[all.length - 1];
    if (!last) return undefined;
    const source = this.store.locate(last.name);
    const files = await this.store.read(last.name);
    const mBytes = files[MANIFEST];
    if (!mBytes) throw new CheckpointError(`${source}: no ${MANIFEST}; not a checkpoint.`, source);
    const manifest = parseManifest(mBytes, `${source}/${MANIFEST}`);
    const data = files[manifest.weightsManifest[0].paths[0]];
    if (!data) throw new CheckpointError(`${source}: the weights file is missing.`, source);
    const { tensors, metadata } = decodeState(manifest, data, source);
    try {
      const meta = metadata as unknown as LoopMeta;
      if (meta.kind !== 'dgmjs-adversarial-loop' || meta.version !== 1) {
        throw new CheckpointError(`${source}: not an adversarial-loop checkpoint.`, source);
      }
      const want = JSON.stringify(this.opts.metadata ?? {});
      if (JSON.stringify(meta.metadata) !== want) {
        throw new ValueError(
          `${this.who}: checkpoint ${source} was written with settings ${JSON.stringify(meta.metadata)}, this run has ${want}; an exact resume needs the same settings (or a fresh checkpoint directory).`,
        );
      }
      const assign: [tf.Variable, Tensor][] = [];
      for (const [name, p] of Object.entries(this.players)) {
        for (const [n, v] of p.module.namedState()) {
          const t = tensors[`player/${name}/${n}`];
          if (!t || t.shape.join() !== v.shape.join()) {
            throw new CheckpointError(
              `${source}: ${name}'s '${n}' is ${t ? `of shape [${t.shape}]` : 'missing'}, expected [${v.shape}]; resume with the same model.`,
              source,
            );
          }
          assign.push([v, t]);
        }
        const om = meta.optimizers[name];
        if (!om || om.className !== p.optimizer.getClassName()) {
          throw new ValueError(
            `${this.who}: checkpoint ${source} holds ${om?.className ?? 'no'} optimizer state for '${name}', this run's is ${p.optimizer.getClassName()}.`,
          );
        }
        for (let i = 0; i < om.count; i++) {
          if (!tensors[`optimizer/${name}/${i}`]) {
            throw new CheckpointError(
              `${source}: ${name}'s optimizer slot ${i} is missing.`,
              source,
            );
          }
        }
      }
      for (const [v, t] of assign) v.assign(t);
      for (const [name, p] of Object.entries(this.players)) {
        const om = meta.optimizers[name]!;
        const list = Array.from({ length: om.count }, (_, i) => ({
          name: String(i),
          tensor: tensors[`optimizer/${name}/${i}`]!,
        }));
        if (list.length > 0) {
          const old = (await p.optimizer.getWeights()) as { tensor: Tensor }[];
          await p.optimizer.setWeights(list);
          tf.dispose(old.map((w) => w.tensor));
        }
        const ex = extras(p.optimizer);
        for (const k of om.extras) {
          const t = tensors[`optimizer-extra/${name}/${k}`];
          const v = ex.find(([n]) => n === k)?.[1];
          if (t && v) v.assign(t);
        }
      }
      this._step = meta.step;
      this.rng = Rng.fromState(meta.rngState);
      this.resumedFrom = source;
      return source;
    } finally {
      tf.dispose(Object.values(tensors));
    }
  }
}
