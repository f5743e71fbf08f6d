/**
 * The shared machinery of the estimators: option checks, the tidy scope, diagnostics read-back,
 * the step counter and the state store.
 */
import { checkInt, checkRng, type Rng, tf, ValueError } from '@dgm-js/core-tensors';
import { StateStore } from './state.js';
import type {
  Diagnostics,
  EstimateOptions,
  EstimateResult,
  EstimatorState,
  GradientEstimator,
  Integrand,
  LatentInput,
} from './types.js';

type Tensor = tf.Tensor;

/** What a subclass's `run` receives. */
export interface RunContext {
  samples: number;
  rng: Rng;
  context: Tensor | undefined;
  update: boolean;
  step: number;
}

/** What a subclass's `run` returns (inside the estimator's tidy scope). */
export interface RunResult {
  surrogate: Tensor;
  /** Scalar tensors (or numbers) read back as diagnostics. */
  diagnostics?: Record<string, Tensor | number>;
}

/**
 * Base class of the estimators. Subclasses implement `run`, which executes inside a `tf.tidy`
 * scope: only the surrogate leaves it, so estimators cannot leak. State lives in `this.store`
 * (named variables, modules and optimizer slots, saved by `getState`).
 *
 * @example
 * ```ts
 * class Pathwise extends BaseEstimator {
 *   readonly name = 'pathwise';
 *   readonly unbiased = true;
 *   constructor() { super('pathwise'); }
 *   protected run(q: LatentInput, f: Integrand, ctx: RunContext): RunResult {
 *     const z = (q as Distribution).rsample({ sampleShape: [ctx.samples], rng: ctx.rng });
 *     return { surrogate: tf.mean(f(z), 0) };
 *   }
 * }
 * ```
 */
export abstract class BaseEstimator implements GradientEstimator {
  abstract readonly name: string;
  abstract readonly unbiased: boolean;
  /** Minimum number of samples the estimator needs. */
  protected readonly minSamples: number = 1;
  protected readonly store: StateStore;
  private stepCount = 0;
  private disposed = false;

  protected constructor(label: string) {
    this.store = new StateStore(label);
  }

  get step(): number {
    return this.stepCount;
  }

  estimate(q: LatentInput, f: Integrand, opts: EstimateOptions): EstimateResult {
    if (this.disposed) throw new ValueError(`${this.name}: the estimator was disposed.`);
    if (!opts || typeof opts !== 'object') {
      throw new ValueError(`${this.name}.estimate: pass options { samples, rng }.`);
    }
    const min = this.minSamples;
    const samples = checkInt(opts.samples, 'samples', this.name, {
      min,
      ...(min > 1 ? { hint: `${this.name} compares each sample with the others.` } : {}),
    });
    checkRng(opts.rng, `${this.name}.estimate`);
    const update = opts.update ?? true;
    const wantDiag = opts.diagnostics ?? true;
    const ctx: RunContext = {
      samples,
      rng: opts.rng,
      context: opts.context,
      update,
      step: this.stepCount,
    };
    const names: string[] = [];
    const out = tf.tidy((): { surrogate: Tensor; diag?: Tensor } => {
      const r = this.run(q, f, ctx);
      if (!wantDiag || !r.diagnostics) return { surrogate: r.surrogate };
      const parts: Tensor[] = [];
      for (const [k, v] of Object.entries(r.diagnostics)) {
        names.push(k);
        parts.push(typeof v === 'number' ? tf.scalar(v) : tf.reshape(tf.cast(v, 'float32'), []));
      }
      return parts.length
        ? { surrogate: r.surrogate, diag: tf.stack(parts) }
        : { surrogate: r.surrogate };
    }) as { surrogate: Tensor; diag?: Tensor };
    const diagnostics: Diagnostics = {};
    if (out.diag) {
      const v = out.diag.dataSync();
      names.forEach((n, i) => {
        diagnostics[n] = v[i] as number;
      });
      out.diag.dispose();
    }
    if (update) this.stepCount++;
    return { surrogate: out.surrogate, diagnostics };
  }

  protected abstract run(q: LatentInput, f: Integrand, ctx: RunContext): RunResult;

  getState(): EstimatorState {
    return this.store.serialize(this.name, this.stepCount);
  }

  setState(state: EstimatorState): void {
    this.stepCount = this.store.restore(state, this.name);
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.store.dispose();
  }
}
