/**
 * Baselines (control variates b subtracted from f in the score-function learning signal
 * (f(z) - b) grad log q(z)), as small objects REINFORCE, RLOO and NVIL share. A baseline holds
 * only its options; its tensors (averages, a network and its Adam moments) live in the
 * estimator's state under `baseline.*`, so `getState` / `setState` save and restore them.
 *
 * Each keeps the estimator unbiased: b is built from earlier calls (moving average, learned
 * network) or from the other samples of this call (leave-one-out), never from z_k itself.
 */
import { checkInt, fmtShape, mlp, Rng, ShapeError, tf, ValueError } from '@dgm-js/core-tensors';
import { Learner, type StateStore } from './state.js';

type Tensor = tf.Tensor;

/** What a {@link Baseline} is given at each call. */
export interface BaselineContext {
  /** The estimator's state; a baseline keeps its tensors under `prefix`. */
  readonly store: StateStore;
  /** Name prefix of the baseline's tensors in the state (`baseline`). */
  readonly prefix: string;
  /** `EstimateOptions.context` (detached), `[...instanceShape, features]`, if given. */
  readonly context: Tensor | undefined;
  /** Whether to advance the baseline's state with this call's values. */
  readonly update: boolean;
  /** The estimator's name, for error messages. */
  readonly who: string;
}

/**
 * A baseline of the score-function estimators.
 *
 * @example
 * ```ts
 * const est = reinforce({ baseline: movingAverage({ decay: 0.95 }) });
 * const withNet = reinforce({ baseline: learned({ hidden: 32 }) }); // pass { context } to estimate
 * ```
 */
export interface Baseline {
  /** Which baseline (`none`, `constant`, `movingAverage`, `leaveOneOut`, `learned`). */
  readonly type: string;
  /** The fewest samples per instance it needs (leave-one-out: 2). */
  readonly minSamples: number;
  /** Creates the baseline's fixed-size state when the estimator is built (optional). */
  init?(store: StateStore, prefix: string): void;
  /**
   * The baseline of each sample, broadcastable to the f values `fd` `[S, ...instanceShape]`
   * (detached); when `ctx.update`, also advances the baseline's state with this call's values
   * (after computing b, so b never depends on the sample it is subtracted from).
   */
  apply(fd: Tensor, ctx: BaselineContext): Tensor;
}

/**
 * A bias-corrected exponential moving average kept as `<name>.sum` and `<name>.count`: 0 before
 * the first update, then sum / (1 - decay^count).
 */
export function emaValue(store: StateStore, name: string, decay: number): Tensor {
  const s = store.ensure(`${name}.sum`, [], () => tf.scalar(0));
  const n = store.ensure(`${name}.count`, [], () => tf.scalar(0));
  const corr = tf.sub(1, tf.pow(tf.scalar(decay), n));
  return tf.where(tf.greater(n, 0), tf.div(s, tf.maximum(corr, 1e-12)), tf.scalar(0));
}

/** Creates the moving average `name` (see {@link emaValue}) if it does not exist. */
export function emaInit(store: StateStore, name: string): void {
  store.ensure(`${name}.sum`, [], () => tf.scalar(0));
  store.ensure(`${name}.count`, [], () => tf.scalar(0));
}

/** Advances the moving average `name` (see {@link emaValue}) with the scalar `x`. */
export function emaUpdate(store: StateStore, name: string, decay: number, x: Tensor): void {
  const s = store.ensure(`${name}.sum`, [], () => tf.scalar(0));
  const n = store.ensure(`${name}.count`, [], () => tf.scalar(0));
  s.assign(tf.add(tf.mul(s, decay), tf.mul(x, 1 - decay)));
  n.assign(tf.add(n, 1));
}

function checkDecay(decay: number, who: string): number {
  if (!(Number.isFinite(decay) && decay >= 0 && decay < 1)) {
    throw new ValueError(`${who}: decay must be in [0, 1), got ${decay}.`);
  }
  return decay;
}

/**
 * No baseline: the learning signal is f itself.
 *
 * @example
 * ```ts
 * reinforce({ baseline: noBaseline() }); // the same as reinforce()
 * ```
 */
export function noBaseline(): Baseline {
  return { type: 'none', minSamples: 1, apply: () => tf.scalar(0) };
}

/**
 * A constant baseline b. For x ~ N(theta, 1), f = x^2, theta = 2 REINFORCE's per-sample variance
 * is (4 - b)^2 + 6 (4 - b) + 47 (38 at the best b = 7).
 *
 * @example
 * ```ts
 * reinforce({ baseline: constantBaseline(7) });
 * ```
 */
export function constantBaseline(value: number): Baseline & { readonly value: number } {
  if (!Number.isFinite(value)) {
    throw new ValueError(`constantBaseline: value must be a finite number, got ${value}.`);
  }
  return { type: 'constant', minSamples: 1, value, apply: () => tf.scalar(value) };
}

/** Options of {@link movingAverage}. */
export interface MovingAverageOptions {
  /** Weight of the old average at each update, in [0, 1). Default 0.9. */
  decay?: number;
}

/**
 * The moving average of the mean of f over earlier calls (bias-corrected; 0 before the first
 * update). State: `baseline.sum`, `baseline.count`.
 *
 * @example
 * ```ts
 * reinforce({ baseline: movingAverage({ decay: 0.9 }) });
 * ```
 */
export function movingAverage(
  opts: MovingAverageOptions = {},
): Baseline & { readonly decay: number } {
  const decay = checkDecay(opts.decay ?? 0.9, 'movingAverage');
  return {
    type: 'movingAverage',
    minSamples: 1,
    decay,
    init: (store, prefix) => emaInit(store, prefix),
    apply(fd, ctx) {
      const b = emaValue(ctx.store, ctx.prefix, decay);
      if (ctx.update) emaUpdate(ctx.store, ctx.prefix, decay, tf.mean(fd));
      return b;
    },
  };
}

/**
 * The leave-one-out baseline (Kool, van Hoof & Welling 2019): sample k's baseline is the mean of
 * the other K - 1 values of its instance, b_k = (sum_j f_j - f_k) / (K - 1). Needs K >= 2; no
 * state. With it REINFORCE is RLOO.
 *
 * @example
 * ```ts
 * reinforce({ baseline: leaveOneOut() }); // the same estimator as rloo()
 * ```
 */
export function leaveOneOut(): Baseline {
  return {
    type: 'leaveOneOut',
    minSamples: 2,
    apply(fd) {
      const k = fd.shape[0] as number;
      return tf.div(tf.sub(tf.sum(fd, 0, true), fd), k - 1);
    },
  };
}

/** Options of {@link learned}. */
export interface LearnedBaselineOptions {
  /** Hidden units of the network on the context (one tanh layer). Default 64. */
  hidden?: number;
  /** Adam learning rate of the network. Default 1e-3. */
  learningRate?: number;
  /** Decay of the running mean c of f - b_psi(x). Default 0.9. */
  decay?: number;
  /** Seed of the network's initial weights. Default 0. */
  seed?: number;
}

/**
 * NVIL's baseline (Mnih & Gregor 2014): b = b_psi(x) + c, a small network (core's `mlp`, one tanh
 * layer) on the instance's context x (`EstimateOptions.context`, `[...instanceShape, features]`;
 * without a context b_psi = 0) plus c, a running mean of f - b_psi(x). When `update`, the
 * network takes one Adam step on mean (f - c - b_psi(x))^2. State: `baseline.centre.*`,
 * `baseline.net.*` (created on the first call with a context) and `baseline.adam.*`.
 *
 * @example
 * ```ts
 * const est = reinforce({ baseline: learned({ hidden: 100 }) });
 * est.estimate(q, f, { samples: 1, rng, context: xBatch }); // xBatch [B, 784]
 * ```
 */
export function learned(opts: LearnedBaselineOptions = {}): Baseline & {
  readonly hidden: number;
  readonly learningRate: number;
  readonly decay: number;
  readonly seed: number;
} {
  const hidden = opts.hidden ?? 64;
  const learningRate = opts.learningRate ?? 1e-3;
  const decay = checkDecay(opts.decay ?? 0.9, 'learned');
  const seed = opts.seed ?? 0;
  checkInt(hidden, 'hidden', 'learned');
  if (!(learningRate > 0)) {
    throw new ValueError(`learned: learningRate must be > 0, got ${opts.learningRate}.`);
  }
  return {
    type: 'learned',
    minSamples: 1,
    hidden,
    learningRate,
    decay,
    seed,
    init: (store, prefix) => emaInit(store, `${prefix}.centre`),
    apply(fd, ctx) {
      const inst = fd.shape.slice(1);
      const centre = `${ctx.prefix}.centre`;
      let bx: Tensor = tf.zeros(inst);
      let part: LearnedNet | undefined;
      const x = ctx.context;
      if (x) {
        const xs = x.shape;
        if (!(x.rank === inst.length + 1 && inst.every((d, i) => d === xs[i]))) {
          throw new ShapeError(
            `${ctx.who}: context has shape ${fmtShape(xs)} but must be [...instanceShape, features] = [${inst.join(', ')}, features].`,
          );
        }
        part = learnedNet(ctx, xs[xs.length - 1] as number, hidden, seed, learningRate);
        bx = tf.squeeze(part.net.apply(x), [-1]);
      }
      const c = emaValue(ctx.store, centre, decay);
      const b = tf.add(bx, c);
      if (ctx.update) {
        emaUpdate(ctx.store, centre, decay, tf.mean(tf.sub(fd, bx)));
        if (part && x) {
          const { net } = part;
          const target = tf.sub(fd, c);
          part.learner.minimize(() =>
            tf.mean(tf.square(tf.sub(target, tf.squeeze(net.apply(x), [-1])))),
          );
        }
      }
      return b;
    },
  };
}

/** The learned baseline's network and the Adam that trains it. */
interface LearnedNet {
  features: number;
  net: ReturnType<typeof mlp>;
  learner: Learner;
}

/** The network of a learned baseline, created in the estimator's state on first use. */
function learnedNet(
  ctx: BaselineContext,
  features: number,
  hidden: number,
  seed: number,
  learningRate: number,
): LearnedNet {
  const part = ctx.store.part(`${ctx.prefix}.net`, (): LearnedNet => {
    const net = ctx.store.adoptModule(
      `${ctx.prefix}.net`,
      mlp([features, hidden, 1], { rng: new Rng(seed), activation: 'tanh' }),
    );
    const learner = new Learner(ctx.store, `${ctx.prefix}.adam`, net.namedParameters(), {
      learningRate,
    });
    return { features, net, learner };
  });
  if (part.features !== features) {
    throw new ShapeError(
      `${ctx.who}: the baseline network takes ${part.features} context features, this call has ${features} ` +
        '(the context width changed since the network was created).',
    );
  }
  return part;
}

/** A baseline given by name or by the objects the options used to take. */
export type BaselineOption =
  | Baseline
  | 'none'
  | 'movingAverage'
  | { type: 'constant'; value: number }
  | { type: 'movingAverage'; decay?: number };

/** Turns the accepted forms of a baseline option into a {@link Baseline}. */
export function toBaseline(b: BaselineOption | undefined, who: string): Baseline {
  if (b === undefined || b === 'none') return noBaseline();
  if (b === 'movingAverage') return movingAverage();
  if (typeof b === 'object' && b !== null && typeof (b as Baseline).apply === 'function') {
    return b as Baseline;
  }
  if (typeof b === 'object' && b !== null && b.type === 'movingAverage') {
    const decay = (b as { decay?: number }).decay ?? 0.9;
    if (!(decay >= 0 && decay < 1)) {
      throw new ValueError(`${who}: baseline decay must be in [0, 1), got ${decay}.`);
    }
    return movingAverage({ decay });
  }
  const value = (b as { value?: unknown } | null)?.value;
  if (typeof b === 'object' && b?.type === 'constant' && typeof value === 'number') {
    if (Number.isFinite(value)) return constantBaseline(value);
  }
  throw new ValueError(
    `${who}: baseline must be 'none', 'movingAverage', movingAverage({ decay }), leaveOneOut(), learned({ hidden }), ` +
      `constantBaseline(value) or { type: 'constant', value: <finite number> }, got ${JSON.stringify(b)}.`,
  );
}
