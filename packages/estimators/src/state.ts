/**
 * Explicit estimator state: named non-trainable variables (so a user's `variableGrads()` and
 * optimizers never touch them), a JSON form, and a small Adam for control-variate parameters.
 */
import { fmtShape, ShapeError, tf, ValueError } from '@dgm-js/core-tensors';
import type { EstimatorState, SerializedTensor } from './types.js';

type Tensor = tf.Tensor;

/** The named tensors of one estimator. */
export class StateStore {
  private readonly vars = new Map<string, tf.Variable>();

  constructor(private readonly owner: string) {}

  /** The variable called `name`, if it exists. */
  get(name: string): tf.Variable | undefined {
    return this.vars.get(name);
  }

  /** Names in creation order. */
  names(): string[] {
    return [...this.vars.keys()];
  }

  /**
   * The variable called `name`; created from `init()` on first use. When it exists (for example
   * restored by `restore`) its shape must equal `shape`.
   */
  ensure(name: string, shape: readonly number[], init: () => Tensor): tf.Variable {
    const v = this.vars.get(name);
    if (v) {
      if (v.shape.join() !== shape.join()) {
        throw new ShapeError(
          `${this.owner}: state '${name}' has shape ${fmtShape(v.shape)} but this call needs ${fmtShape(shape)} ` +
            '(the latent size or context features changed since the state was created or restored).',
        );
      }
      return v;
    }
    const created = tf.tidy(() => tf.variable(init(), false));
    if (created.shape.join() !== shape.join()) {
      created.dispose();
      throw new Error(`${this.owner}: internal: init of '${name}' has the wrong shape.`);
    }
    this.vars.set(name, created);
    return created;
  }

  /** The state as JSON. */
  serialize(estimator: string, step: number): EstimatorState {
    const tensors: Record<string, SerializedTensor> = {};
    for (const [n, v] of this.vars) {
      tensors[n] = { shape: [...v.shape], values: Array.from(v.dataSync() as Float32Array) };
    }
    return { estimator, version: 1, step, tensors };
  }

  /**
   * Replaces the state with `state` (checked first: nothing changes on a bad state). Tensors
   * that exist here must be present in `state` with the same shape; tensors only in `state`
   * (created lazily by a call this estimator has not made yet) are created.
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
    if (!Number.isInteger(state.step) || state.step < 0) {
      throw new ValueError(
        `${this.owner}.setState: step must be an integer >= 0, got ${state.step}.`,
      );
    }
    const missing = [...this.vars.keys()].filter((n) => !(n in state.tensors));
    if (missing.length) {
      throw new ValueError(
        `${this.owner}.setState: the state lacks ${missing.join(', ')}; it was saved from an estimator with other options.`,
      );
    }
    for (const [n, t] of Object.entries(state.tensors)) {
      const size = t.shape.reduce((a, b) => a * b, 1);
      if (!Array.isArray(t.values) || t.values.length !== size) {
        throw new ValueError(
          `${this.owner}.setState: '${n}' has ${t.values?.length} values for shape ${fmtShape(t.shape)}.`,
        );
      }
      const v = this.vars.get(n);
      if (v && v.shape.join() !== t.shape.join()) {
        throw new ShapeError(
          `${this.owner}.setState: '${n}' has shape ${fmtShape(t.shape)} in the state but ${fmtShape(v.shape)} here.`,
        );
      }
    }
    for (const [n, t] of Object.entries(state.tensors)) {
      const v = this.vars.get(n);
      if (v) {
        tf.tidy(() => v.assign(tf.tensor(t.values, t.shape, 'float32')));
      } else {
        this.vars.set(
          n,
          tf.tidy(() => tf.variable(tf.tensor(t.values, t.shape, 'float32'), false)),
        );
      }
    }
    return state.step;
  }

  /** Frees every variable. */
  dispose(): void {
    for (const v of this.vars.values()) v.dispose();
    this.vars.clear();
  }
}

/** Options of {@link adamStep}. */
export interface AdamOptions {
  learningRate: number;
  beta1?: number;
  beta2?: number;
  epsilon?: number;
}

/**
 * One Adam step (Kingma & Ba 2015) on named variables, moments kept in `store` as
 * `adam.m.<name>`, `adam.v.<name>` and the step count `adam.t`: explicit, serialisable state.
 */
export function adamStep(
  store: StateStore,
  params: readonly [string, tf.Variable][],
  grads: readonly Tensor[],
  opts: AdamOptions,
): void {
  const b1 = opts.beta1 ?? 0.9;
  const b2 = opts.beta2 ?? 0.999;
  const eps = opts.epsilon ?? 1e-8;
  tf.tidy(() => {
    const t = store.ensure('adam.t', [], () => tf.scalar(0));
    t.assign(tf.add(t, 1));
    const c1 = tf.sub(1, tf.pow(tf.scalar(b1), t));
    const c2 = tf.sub(1, tf.pow(tf.scalar(b2), t));
    params.forEach(([name, p], i) => {
      const g = grads[i];
      if (!g) return;
      const m = store.ensure(`adam.m.${name}`, p.shape, () => tf.zeros(p.shape));
      const v = store.ensure(`adam.v.${name}`, p.shape, () => tf.zeros(p.shape));
      m.assign(tf.add(tf.mul(m, b1), tf.mul(g, 1 - b1)));
      v.assign(tf.add(tf.mul(v, b2), tf.mul(tf.square(g), 1 - b2)));
      const step = tf.div(tf.div(m, c1), tf.add(tf.sqrt(tf.div(v, c2)), eps));
      p.assign(tf.sub(p, tf.mul(step, opts.learningRate)));
    });
  });
}
