/**
 * The training state of a model's stateful parts (a gradient estimator's step, baselines,
 * control-variate network and its optimiser) as a Trainer callback: saved with every checkpoint
 * (its tensors in the weights file, under the CRC, checked for NaN/Inf before writing),
 * restored on resume and on the non-finite guard's rollback, and probed for NaN/Inf after every
 * step so that a diverging estimator is named as such.
 */
import type { EstimatorState, StatefulPart, TrainingStateProvider } from '../../contracts.js';
import { ValueError } from '../../errors.js';
import { Module } from '../../nn/module.js';
import { tf } from '../../tf.js';
import type { Callback, CallbackState, NonFiniteState, TrainerHandle } from '../callback.js';
import { CheckpointMetadataError } from '../errors.js';
import type { Trainable } from '../types.js';

function isStatefulPart(p: unknown): p is StatefulPart {
  return (
    !!p &&
    typeof p === 'object' &&
    typeof (p as StatefulPart).getState === 'function' &&
    typeof (p as StatefulPart).setState === 'function'
  );
}

function partsOf(x: unknown, prefix: string, out: [string, StatefulPart][]): void {
  const f = (x as Partial<TrainingStateProvider> | undefined)?.trainingState;
  if (typeof f !== 'function') return;
  const parts = f.call(x);
  if (!parts || typeof parts !== 'object') return;
  for (const [k, p] of Object.entries(parts)) {
    if (!isStatefulPart(p)) {
      throw new ValueError(
        `Trainer: model.trainingState().${k} must have getState() and setState() (a GradientEstimator is one).`,
      );
    }
    out.push([`${prefix}${k}`, p]);
  }
}

/**
 * The stateful parts of what the Trainer trains: `model.trainingState()` (a VAE's estimator), or
 * for a record of modules each module's, keyed `<entry>.<key>`.
 *
 * @example
 * ```ts
 * statefulParts(vae); // [['estimator', vae.estimator]]
 * ```
 */
export function statefulParts(model: Trainable): [string, StatefulPart][] {
  const out: [string, StatefulPart][] = [];
  if (model instanceof Module || Array.isArray(model)) partsOf(model, '', out);
  else if (model && typeof model === 'object') {
    partsOf(model, '', out);
    for (const [k, m] of Object.entries(model)) if (m instanceof Module) partsOf(m, `${k}.`, out);
  }
  return out;
}

/** The saved JSON of a part's state (its tensors go to the weights file). */
interface SavedPartState {
  estimator: string;
  version: 1;
  step: number;
  tensors: string[];
}

/**
 * Checkpoints one {@link StatefulPart} (e.g. a VAE's gradient estimator) under `name`. The
 * Trainer adds one for every part `model.trainingState()` lists, and for `TrainerOptions.state`.
 *
 * @example
 * ```ts
 * new Trainer({ ...opts, callbacks: [new PartStateCallback('estimator', relax())] });
 * ```
 */
export class PartStateCallback implements Callback {
  readonly name: string;
  readonly stateComponent = 'estimator state' as const;

  constructor(
    name: string,
    private readonly part: StatefulPart,
  ) {
    if (!isStatefulPart(part)) {
      throw new ValueError(`Trainer: state '${name}' must have getState() and setState().`);
    }
    this.name = name;
  }

  /** What to tell the user when this state goes non-finite. */
  private hint(): string {
    if (this.part.divergenceHint) return this.part.divergenceHint;
    const n = this.part.name ?? this.name;
    return `the '${n}' estimator's own state diverged, not the model's: lower its own learningRate (e.g. ${n}({ learningRate: ... })) or its other hyper-parameters; the model optimizer's learning rate is not the cause`;
  }

  saveState(): CallbackState {
    const s = this.part.getState();
    const tensors: Record<string, tf.Tensor> = {};
    for (const [k, t] of Object.entries(s.tensors)) {
      tensors[k] = tf.tensor(t.values, t.shape, 'float32');
    }
    const json: SavedPartState = {
      estimator: s.estimator,
      version: s.version,
      step: s.step,
      tensors: Object.keys(tensors),
    };
    return { json, tensors, owned: true };
  }

  loadState(_t: TrainerHandle, state: CallbackState): void {
    const j = state.json as Partial<SavedPartState> | undefined;
    const bad = (field: string, want: string): never => {
      throw new CheckpointMetadataError(
        `checkpoint metadata field 'callbacks.${this.name}.${field}' must be ${want}. The checkpoint's model.json was edited or damaged; resume from another checkpoint.`,
        `callbacks.${this.name}.${field}`,
      );
    };
    if (!j || typeof j !== 'object') bad('', 'an object');
    const js = j as Partial<SavedPartState>;
    if (typeof js.estimator !== 'string') bad('estimator', 'a string');
    if (js.version !== 1) bad('version', '1');
    if (!Number.isSafeInteger(js.step) || (js.step as number) < 0) bad('step', 'an integer >= 0');
    const tensors: EstimatorState['tensors'] = {};
    for (const [k, x] of Object.entries(state.tensors ?? {})) {
      tensors[k] = { shape: [...x.shape], values: Array.from(x.dataSync() as Float32Array) };
    }
    this.part.setState({
      estimator: js.estimator as string,
      version: 1,
      step: js.step as number,
      tensors,
    });
  }

  checkFinite(): NonFiniteState | undefined {
    const s = this.part.getState();
    const names: string[] = [];
    for (const [k, t] of Object.entries(s.tensors)) {
      if (t.values.some((v) => !Number.isFinite(v))) names.push(`${this.name}.${k}`);
    }
    if (names.length === 0) return undefined;
    return { component: this.stateComponent, names, hint: this.hint() };
  }
}
