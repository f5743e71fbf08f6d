/**
 * Explicit estimator state: named non-trainable variables (so a user's `variableGrads()` and
 * optimizers never touch them) in a JSON form, and the {@link Learner} that trains
 * control-variate parameters with core's `adam` (or tfjs's SGD), its slots in the same state.
 */
import {
  adam,
  checkInt,
  fmtShape,
  type Module,
  type SerializedTensor,
  ShapeError,
  tf,
  ValueError,
} from '@dgm-js/core-tensors';
import type { EstimatorState } from './types.js';

type Tensor = tf.Tensor;

interface Entry {
  variable: tf.Variable;
  /** Whether the store disposes it (false: a module's parameter, an optimizer's slot). */
  owned: boolean;
}

/**
 * The named tensors of one estimator. Variables are created here (`ensure`) or belong to a
 * module or optimizer the store also owns (`adopt` + `own`). A state restored before the
 * lazily created parts exist (networks sized by the first call) is kept as pending values that
 * those parts take on when they are created.
 *
 * @example
 * ```ts
 * const store = new StateStore('my-estimator');
 * const avg = store.ensure('baseline.sum', [], () => tf.scalar(0));
 * const state = store.serialize('my-estimator', 0); // { tensors: { 'baseline.sum': ... } }
 * store.dispose();
 * ```
 */
export class StateStore {
  private readonly vars = new Map<string, Entry>();
  private pending = new Map<string, SerializedTensor>();
  private readonly owned: { dispose(): void }[] = [];
  private readonly parts = new Map<string, unknown>();

  constructor(private readonly owner: string) {}

  /** The variable called `name`, if it exists. */
  get(name: string): tf.Variable | undefined {
    return this.vars.get(name)?.variable;
  }

  /** Names in creation order. */
  names(): string[] {
    return [...this.vars.keys()];
  }

  private checkShape(name: string, have: readonly number[], need: readonly number[]): void {
    if (have.join() !== need.join()) {
      throw new ShapeError(
        `${this.owner}: state '${name}' has shape ${fmtShape(have)} but this call needs ${fmtShape(need)} ` +
          '(the latent size or context features changed since the state was created or restored).',
      );
    }
  }

  /** Takes the pending (restored) value of `name`, checked against `shape`. */
  private takePending(name: string, shape: readonly number[]): Tensor | undefined {
    const p = this.pending.get(name);
    if (!p) return undefined;
    this.checkShape(name, p.shape, shape);
    this.pending.delete(name);
    return tf.tensor(p.values, p.shape, 'float32');
  }

  /**
   * The variable called `name`; created on first use from the restored value, else from
   * `init()`. When it exists its shape must equal `shape`.
   */
  ensure(name: string, shape: readonly number[], init: () => Tensor): tf.Variable {
    const e = this.vars.get(name);
    if (e) {
      this.checkShape(name, e.variable.shape, shape);
      return e.variable;
    }
    const created = tf.tidy(() => tf.variable(this.takePending(name, shape) ?? init(), false));
    if (created.shape.join() !== shape.join()) {
      created.dispose();
      throw new Error(`${this.owner}: internal: init of '${name}' has the wrong shape.`);
    }
    this.vars.set(name, { variable: created, owned: true });
    return created;
  }

  /**
   * Registers a variable owned elsewhere (a module's parameter, an optimizer's slot) under
   * `name`, so it is saved and restored with the state; it takes the restored value, if any.
   */
  adopt(name: string, v: tf.Variable): void {
    if (this.vars.has(name)) throw new Error(`${this.owner}: internal: '${name}' exists.`);
    const restored = this.takePending(name, v.shape);
    if (restored) {
      v.assign(restored);
      restored.dispose();
    }
    this.vars.set(name, { variable: v, owned: false });
  }

  /**
   * Registers a module's parameters as `<prefix>.<parameter name>` (made non-trainable, so
   * user optimizers never see them) and disposes the module with the store.
   */
  adoptModule<M extends Module<never, unknown>>(prefix: string, module: M): M {
    this.own(module);
    module.setTrainable(false);
    for (const [n, v] of module.namedParameters()) this.adopt(`${prefix}.${n}`, v);
    return module;
  }

  /**
   * A part of the state made of several tensors (a network and its optimizer), created by
   * `create` on first use (which registers its tensors with `adopt` / `adoptModule`).
   */
  part<T>(key: string, create: () => T): T {
    if (!this.parts.has(key)) this.parts.set(key, create());
    return this.parts.get(key) as T;
  }

  /** Disposes `d` (a module, an optimizer) with the store. */
  own<T extends { dispose(): void }>(d: T): T {
    this.owned.push(d);
    return d;
  }

  /** The state as JSON (pending restored values included). */
  serialize(estimator: string, step: number): EstimatorState {
    const tensors: Record<string, SerializedTensor> = {};
    for (const [n, { variable }] of this.vars) {
      tensors[n] = {
        shape: [...variable.shape],
        values: Array.from(variable.dataSync() as Float32Array),
      };
    }
    for (const [n, t] of this.pending) tensors[n] = { shape: [...t.shape], values: [...t.values] };
    return { estimator, version: 1, step, tensors };
  }

  /**
   * Replaces the state with `state` (checked first: nothing changes on a bad state). Tensors
   * that exist here must be present in `state` with the same shape; tensors only in `state`
   * (created lazily by a call this estimator has not made yet) are kept until created.
   */
  restore(state: EstimatorState, estimator: string): number {
    if (
      !state ||
      typeof state !== 'object' ||
      state.version !== 1 ||
      typeof state.tensors !== 'object'
    ) {
      throw new ValueError(
        `${this.owner}.setState: not an estimator state (from getState(), version 1).`,
      );
    }
    if (state.estimator !== estimator) {
      throw new ValueError(
        `${this.owner}.setState: the state belongs to a '${state.estimator}' estimator, this one is '${estimator}'.`,
      );
    }
    checkInt(state.step, 'step', `${this.owner}.setState`, { min: 0 });
    const missing = [...this.vars.keys()].filter((n) => !(n in state.tensors));
    if (missing.length) {
      throw new ValueError(
        `${this.owner}.setState: the state lacks ${missing.join(', ')}; it was saved from an estimator with other options.`,
      );
    }
    for (const [n, t] of Object.entries(state.tensors)) {
      const size = Array.isArray(t?.shape) ? t.shape.reduce((a, b) => a * b, 1) : Number.NaN;
      if (!Array.isArray(t?.values) || t.values.length !== size) {
        throw new ValueError(
          `${this.owner}.setState: '${n}' has ${t?.values?.length} values for shape ${fmtShape(t?.shape ?? [])}.`,
        );
      }
      const v = this.vars.get(n)?.variable;
      if (v && v.shape.join() !== t.shape.join()) {
        throw new ShapeError(
          `${this.owner}.setState: '${n}' has shape ${fmtShape(t.shape)} in the state but ${fmtShape(v.shape)} here.`,
        );
      }
    }
    const pending = new Map<string, SerializedTensor>();
    for (const [n, t] of Object.entries(state.tensors)) {
      const v = this.vars.get(n)?.variable;
      if (v) tf.tidy(() => v.assign(tf.tensor(t.values, t.shape, 'float32')));
      else pending.set(n, { shape: [...t.shape], values: [...t.values] });
    }
    this.pending = pending;
    return state.step;
  }

  /** Frees every variable, module and optimizer of the store. */
  dispose(): void {
    for (const d of this.owned) d.dispose();
    for (const { variable, owned } of this.vars.values()) if (owned) variable.dispose();
    this.owned.length = 0;
    this.parts.clear();
    this.vars.clear();
    this.pending.clear();
  }
}

/** Options of a {@link Learner}. */
export interface LearnerOptions {
  /** Step size. */
  learningRate: number;
  /** Core's `adam` (default; beta1 0.9, beta2 0.999, epsilon 1e-8) or tfjs's plain SGD. */
  optimizer?: 'adam' | 'sgd';
}

/** The slots tfjs's AdamOptimizer keeps in protected fields (exported only by async getWeights). */
interface AdamSlots {
  accBeta1: tf.Variable;
  accBeta2: tf.Variable;
  accumulatedFirstMoment: { originalName: string; variable: tf.Variable }[];
  accumulatedSecondMoment: { originalName: string; variable: tf.Variable }[];
}

/**
 * Trains a fixed list of named variables (control-variate parameters) with core's `adam` or
 * tfjs's SGD. Adam's moments and running beta powers are created up front (as core's Adam would
 * create them on its first step) and registered in the estimator's {@link StateStore} as
 * `<prefix>.m.<name>`, `<prefix>.v.<name>`, `<prefix>.beta1Power`, `<prefix>.beta2Power`, so
 * `getState` / `setState` round-trip the optimizer synchronously.
 *
 * @example
 * ```ts
 * const learner = new Learner(store, 'adam', [['eta', eta]], { learningRate: 1e-2 });
 * const value = learner.minimize(() => tf.square(tf.sub(eta, 3)) as tf.Scalar);
 * ```
 */
export class Learner {
  private readonly optimizer: tf.Optimizer;
  private readonly vars: tf.Variable[];

  constructor(
    store: StateStore,
    prefix: string,
    params: readonly (readonly [string, tf.Variable])[],
    opts: LearnerOptions,
  ) {
    this.vars = params.map(([, v]) => v);
    if ((opts.optimizer ?? 'adam') === 'sgd') {
      this.optimizer = store.own(tf.train.sgd(opts.learningRate));
      return;
    }
    const opt = store.own(adam(opts.learningRate, 0.9, 0.999, 1e-8));
    this.optimizer = opt;
    const slots = opt as unknown as AdamSlots;
    slots.accBeta1.trainable = false;
    slots.accBeta2.trainable = false;
    store.adopt(`${prefix}.beta1Power`, slots.accBeta1);
    store.adopt(`${prefix}.beta2Power`, slots.accBeta2);
    params.forEach(([name, v], i) => {
      const m = tf.tidy(() => tf.variable(tf.zerosLike(v), false));
      const s = tf.tidy(() => tf.variable(tf.zerosLike(v), false));
      slots.accumulatedFirstMoment[i] = { originalName: `${v.name}/m`, variable: m };
      slots.accumulatedSecondMoment[i] = { originalName: `${v.name}/v`, variable: s };
      store.adopt(`${prefix}.m.${name}`, m);
      store.adopt(`${prefix}.v.${name}`, s);
    });
  }

  /**
   * One optimizer step on `loss` (a scalar of the learner's variables, which it reads directly);
   * returns the loss value (inside the caller's tidy scope).
   */
  minimize(loss: () => Tensor): Tensor {
    const { value, grads } = tf.valueAndGrads((..._: Tensor[]) => loss())(this.vars);
    const named = this.vars.map((v, i) => ({ name: v.name, tensor: grads[i] as Tensor }));
    this.optimizer.applyGradients(named as unknown as tf.NamedTensorMap);
    tf.dispose(grads);
    return value;
  }
}
