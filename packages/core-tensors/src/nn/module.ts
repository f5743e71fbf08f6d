/**
 * A small module system over `tf.Variable`: a tree of named parameters (and non-trainable
 * buffers such as masks) with dotted names like `encoder.layers.0.kernel`, in-memory state
 * get/set with name and shape checks, and `dispose()`.
 */
import { DgmError, fmtShape, ValueError } from '../errors.js';
import { tf } from '../tf.js';

/** A map from dotted parameter names to tensors (a module's state, a checkpoint's content). */
export type NamedTensors = Record<string, tf.Tensor>;

/** Options of {@link Module.setState}. */
export interface SetStateOptions {
  /**
   * When true (default), names in the module but not in the state (missing) and names in the
   * state but not in the module (unexpected) are errors. When false they are ignored; shapes of
   * the names both have must still match.
   */
  strict?: boolean;
}

/** One shape or dtype disagreement found by {@link Module.setState}. */
export interface StateShapeMismatch {
  name: string;
  expected: number[];
  got: number[];
  expectedDtype: tf.DataType;
  gotDtype: tf.DataType;
}

/**
 * A state did not fit a module: lists every missing name, every unexpected name and every
 * shape (or dtype) that differs, so one error says all that is wrong.
 *
 * @example
 * ```ts
 * try {
 *   await loadModule(net, 'runs/old');
 * } catch (e) {
 *   if (e instanceof StateMismatchError) console.log(e.missing, e.unexpected, e.wrongShape);
 * }
 * ```
 */
export class StateMismatchError extends DgmError {
  readonly missing: string[];
  readonly unexpected: string[];
  readonly wrongShape: StateShapeMismatch[];

  constructor(
    what: string,
    missing: string[],
    unexpected: string[],
    wrongShape: StateShapeMismatch[],
    hint = '',
  ) {
    const parts: string[] = [];
    if (missing.length)
      parts.push(`missing (in the module, not in the state): ${missing.join(', ')}`);
    if (unexpected.length) {
      parts.push(`unexpected (in the state, not in the module): ${unexpected.join(', ')}`);
    }
    if (wrongShape.length) {
      parts.push(
        `wrong shape: ${wrongShape
          .map(
            (w) =>
              `${w.name} expected ${fmtShape(w.expected)} ${w.expectedDtype}, got ${fmtShape(w.got)} ${w.gotDtype}`,
          )
          .join('; ')}`,
      );
    }
    super(
      `${what}: the state does not match the module. ${parts.join('. ')}.${hint ? ` ${hint}` : ''}`,
    );
    this.missing = missing;
    this.unexpected = unexpected;
    this.wrongShape = wrongShape;
  }
}

/** Options of {@link Module.addParameter}. */
export interface ParameterOptions {
  /** Whether optimizers update it. Default true. */
  trainable?: boolean;
}

const NAME_RE = /^[A-Za-z0-9_-]+$/;

/**
 * Base class of every layer and model. Subclasses register parameters with `addParameter`,
 * fixed tensors (masks) with `addBuffer` and sub-modules with `addModule`, then implement
 * `apply`. Parameter names are dotted paths from the root: a `Dense` registered as `0` inside a
 * `Sequential` registered as `layers` inside the root has the parameter `layers.0.kernel`.
 *
 * `apply` runs its math in `tf.tidy`, so it returns exactly one new tensor (or the structure
 * `Out`) and leaks nothing. A module owns its variables: call `dispose()` when done.
 *
 * @example
 * ```ts
 * import { Module, Dense, Rng, tf } from '@dgm-js/core-tensors';
 * class TwoLayer extends Module {
 *   readonly l1: Dense;
 *   readonly l2: Dense;
 *   constructor(rng: Rng) {
 *     super('TwoLayer');
 *     this.l1 = this.addModule('l1', new Dense(4, 8, { rng, activation: 'relu' }));
 *     this.l2 = this.addModule('l2', new Dense(8, 1, { rng }));
 *   }
 *   apply(x: tf.Tensor): tf.Tensor {
 *     return tf.tidy(() => this.l2.apply(this.l1.apply(x)));
 *   }
 * }
 * const net = new TwoLayer(new Rng(0));
 * net.namedParameters().map(([n]) => n); // ['l1.kernel', 'l1.bias', 'l2.kernel', 'l2.bias']
 * net.dispose();
 * ```
 */
export abstract class Module<In = tf.Tensor, Out = tf.Tensor> {
  /** The layer type, used in error messages (`Dense`, `Conv2d`, ...). */
  readonly kind: string;
  private readonly params = new Map<string, tf.Variable>();
  private readonly buffers = new Map<string, tf.Variable>();
  private readonly children = new Map<string, Module<unknown, unknown>>();
  private parent: Module<unknown, unknown> | undefined;
  private localName: string | undefined;
  private disposed = false;

  constructor(kind: string) {
    this.kind = kind;
  }

  /** Runs the module. */
  abstract apply(input: In): Out;

  /** The dotted path of this module from its root ('' for the root itself). */
  get path(): string {
    if (!this.parent || this.localName === undefined) return '';
    const p = this.parent.path;
    return p ? `${p}.${this.localName}` : this.localName;
  }

  /** `Dense 'encoder.layers.0'`: how error messages name this module. */
  get label(): string {
    const p = this.path;
    return p ? `${this.kind} '${p}'` : this.kind;
  }

  /** Whether `dispose()` has been called. */
  get isDisposed(): boolean {
    return this.disposed;
  }

  private checkName(name: string, what: string): void {
    if (!NAME_RE.test(name)) {
      throw new ValueError(
        `${this.label}: ${what} name '${name}' is invalid; use letters, digits, '_' or '-' (no dots: dots join the path).`,
      );
    }
    if (this.params.has(name) || this.buffers.has(name) || this.children.has(name)) {
      throw new ValueError(`${this.label}: the name '${name}' is already registered.`);
    }
  }

  /**
   * Registers a parameter named `name`, initialised from `init`. The module takes ownership of
   * `init` (it is disposed; the variable holds the data).
   */
  protected addParameter(name: string, init: tf.Tensor, opts: ParameterOptions = {}): tf.Variable {
    this.checkName(name, 'parameter');
    const v = tf.variable(init, opts.trainable ?? true);
    init.dispose();
    this.params.set(name, v);
    return v;
  }

  /**
   * Registers a fixed, non-trainable tensor (a mask, running statistics) that is part of the
   * module's state (saved, loaded) but not of its parameters. Takes ownership of `value`.
   */
  protected addBuffer(name: string, value: tf.Tensor): tf.Variable {
    this.checkName(name, 'buffer');
    const v = tf.variable(value, false);
    value.dispose();
    this.buffers.set(name, v);
    return v;
  }

  /** Registers a sub-module under `name` and returns it. */
  protected addModule<M extends Module<never, unknown>>(name: string, module: M): M {
    this.checkName(name, 'module');
    const m = module as unknown as Module<unknown, unknown>;
    if (m.parent) {
      throw new ValueError(
        `${this.label}: module '${name}' (${m.label}) already belongs to another module; create a new one.`,
      );
    }
    if (m === (this as unknown))
      throw new ValueError(`${this.label}: a module cannot contain itself.`);
    m.parent = this as unknown as Module<unknown, unknown>;
    m.localName = name;
    this.children.set(name, m);
    return module;
  }

  /** Direct sub-modules with their local names, in registration order. */
  namedChildren(): [string, Module<unknown, unknown>][] {
    return [...this.children.entries()];
  }

  private collect(
    which: 'params' | 'buffers',
    prefix: string,
    out: [string, tf.Variable][],
  ): [string, tf.Variable][] {
    for (const [n, v] of this[which]) out.push([prefix + n, v]);
    for (const [n, c] of this.children) c.collect(which, `${prefix}${n}.`, out);
    return out;
  }

  /**
   * Every parameter with its dotted name, depth first in registration order.
   *
   * @example
   * ```ts
   * mlp([2, 3, 1], { rng: new Rng(0) }).namedParameters().map(([n, v]) => `${n} ${v.shape}`);
   * // ['0.kernel 2,3', '0.bias 3', '2.kernel 3,1', '2.bias 1']
   * ```
   */
  namedParameters(): [string, tf.Variable][] {
    return this.collect('params', '', []);
  }

  /**
   * Every parameter, in the order of {@link namedParameters}.
   *
   * @example
   * ```ts
   * const opt = tf.train.adam(1e-3);
   * const vars = net.parameters();
   * ```
   */
  parameters(): tf.Variable[] {
    return this.namedParameters().map(([, v]) => v);
  }

  /**
   * The parameters optimizers update (`trainable` true).
   *
   * @example
   * ```ts
   * net.trainableParameters().length;
   * ```
   */
  trainableParameters(): tf.Variable[] {
    return this.parameters().filter((v) => v.trainable);
  }

  /**
   * Every buffer (fixed tensor such as a mask) with its dotted name.
   *
   * @example
   * ```ts
   * new MaskedDense(2, 2, [[1, 0], [1, 1]], { rng: new Rng(0) }).namedBuffers()[0][0]; // 'mask'
   * ```
   */
  namedBuffers(): [string, tf.Variable][] {
    return this.collect('buffers', '', []);
  }

  /**
   * Parameters and buffers: everything `getState()` returns, by name.
   *
   * @example
   * ```ts
   * net.namedState().map(([n]) => n);
   * ```
   */
  namedState(): [string, tf.Variable][] {
    return [...this.namedParameters(), ...this.namedBuffers()];
  }

  /**
   * The number of scalar parameters (buffers not counted).
   *
   * @example
   * ```ts
   * new Dense(784, 10, { rng: new Rng(0) }).numParams(); // 7850
   * ```
   */
  numParams(opts: { trainableOnly?: boolean } = {}): number {
    const vs = opts.trainableOnly ? this.trainableParameters() : this.parameters();
    return vs.reduce((s, v) => s + v.size, 0);
  }

  /**
   * Sets `trainable` on every parameter of this module and its sub-modules (freeze with false).
   *
   * @example
   * ```ts
   * encoder.setTrainable(false); // freeze the encoder
   * ```
   */
  setTrainable(trainable: boolean): this {
    for (const v of this.parameters()) v.trainable = trainable;
    return this;
  }

  /**
   * Copies of the parameters and buffers by dotted name. The caller owns (and disposes) them.
   *
   * @example
   * ```ts
   * const snapshot = net.getState();
   * // ... train ...
   * net.setState(snapshot); // roll back
   * tf.dispose(Object.values(snapshot));
   * ```
   */
  getState(): NamedTensors {
    const out: NamedTensors = {};
    for (const [n, v] of this.namedState()) out[n] = tf.clone(v);
    return out;
  }

  /**
   * Assigns parameters and buffers from `state` (which stays the caller's). Everything is
   * checked before anything is assigned: names (when `strict`), shapes and dtypes; a mismatch
   * throws one {@link StateMismatchError} listing all of it.
   *
   * @example
   * ```ts
   * const copy = mlp([2, 4, 1], { rng: new Rng(1) });
   * copy.setState(net.getState());
   * ```
   */
  setState(state: NamedTensors | Map<string, tf.Tensor>, opts: SetStateOptions = {}): void {
    const strict = opts.strict ?? true;
    const given = state instanceof Map ? state : new Map(Object.entries(state));
    const own = this.namedState();
    const ownNames = new Set(own.map(([n]) => n));
    const missing: string[] = [];
    const wrongShape: StateShapeMismatch[] = [];
    for (const [n, v] of own) {
      const t = given.get(n);
      if (!t) {
        missing.push(n);
        continue;
      }
      if (t.shape.join() !== v.shape.join() || t.dtype !== v.dtype) {
        wrongShape.push({
          name: n,
          expected: [...v.shape],
          got: [...t.shape],
          expectedDtype: v.dtype,
          gotDtype: t.dtype,
        });
      }
    }
    const unexpected = [...given.keys()].filter((n) => !ownNames.has(n));
    if (wrongShape.length || (strict && (missing.length || unexpected.length))) {
      throw new StateMismatchError(
        `${this.label}.setState`,
        strict ? missing : [],
        strict ? unexpected : [],
        wrongShape,
        strict && (missing.length || unexpected.length)
          ? 'Pass { strict: false } to load only the names both have.'
          : '',
      );
    }
    for (const [n, v] of own) {
      const t = given.get(n);
      if (t) v.assign(t);
    }
  }

  /**
   * A table of parameters and buffers: name, shape, size, trainable.
   *
   * @example
   * ```ts
   * console.log(mlp([784, 256, 10], { rng: new Rng(0) }).summary());
   * ```
   */
  summary(): string {
    const rows = [
      ...this.namedParameters().map(([n, v]) => [
        n,
        fmtShape(v.shape),
        String(v.size),
        v.trainable ? 'yes' : 'frozen',
      ]),
      ...this.namedBuffers().map(([n, v]) => [n, fmtShape(v.shape), String(v.size), 'buffer']),
    ];
    const head = ['name', 'shape', 'size', 'trainable'];
    const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
    const fmt = (r: string[]) =>
      r
        .map((c, i) => c.padEnd(widths[i]!))
        .join('  ')
        .trimEnd();
    return [
      `${this.label}: ${this.numParams()} parameters (${this.numParams({ trainableOnly: true })} trainable)`,
      fmt(head),
      ...rows.map(fmt),
    ].join('\n');
  }

  /**
   * Disposes every variable of this module and its sub-modules. Idempotent.
   *
   * @example
   * ```ts
   * net.dispose();
   * ```
   */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    for (const v of this.params.values()) v.dispose();
    for (const v of this.buffers.values()) v.dispose();
    for (const c of this.children.values()) c.dispose();
  }
}
