/**
 * Property-based fuzzing of core-tensors' public API (issue 19): random shapes (0 and 1 sizes
 * included), entries NaN / +-Inf / +-1e4, invalid hyper-parameters. The property: every call
 * either throws a typed `DgmError` or returns finite tensors, and `tf.memory().numTensors` is
 * unchanged once the results are disposed. Seeded and bounded for CI (`FUZZ_RUNS` scales it).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Bernoulli } from './distributions/bernoulli.js';
import { Categorical, OneHotCategorical } from './distributions/categorical.js';
import { Independent } from './distributions/independent.js';
import { kl } from './distributions/kl.js';
import { Normal } from './distributions/normal.js';
import { Uniform } from './distributions/uniform.js';
import { DgmError } from './errors.js';
import { Dense, mlp } from './nn/layers.js';
import { adam } from './optim.js';
import { Rng } from './rng.js';
import { tf } from './tf.js';

const RUNS = Number(process.env.FUZZ_RUNS ?? 40);
const SEED = 19;

/** Entries worth trying: ordinary, extreme and non-finite. */
const ENTRY = fc.constantFrom(0, 1, -1, 0.5, 2.5, 1e4, -1e4, Number.NaN, Infinity, -Infinity);
const FINITE = fc.constantFrom(0, 1, -1, 0.5, 2.5, 1e4, -1e4);
const DIM = fc.constantFrom(0, 1, 2, 3);
const SHAPE = fc.array(DIM, { minLength: 0, maxLength: 3 });
const HYPER = fc.constantFrom(-1, 0, 1e-3, 0.9, 1, 1.5, 1e30, Number.NaN, Infinity);

/** A tensor spec: a shape and the entries it cycles through. */
const TENSOR = fc.record({ shape: SHAPE, values: fc.array(ENTRY, { minLength: 1, maxLength: 4 }) });
type Spec = { shape: number[]; values: number[] };
const make = (s: Spec): tf.Tensor => {
  const n = s.shape.reduce((a, b) => a * b, 1);
  return tf.tensor(
    Array.from({ length: n }, (_, i) => s.values[i % s.values.length]!),
    s.shape,
    'float32',
  );
};

/** Tensors in a result (tensors, arrays, records, distributions and modules are disposed). */
function collect(r: unknown, out: tf.Tensor[], owners: { dispose(): void }[]): void {
  if (r instanceof tf.Tensor) out.push(r);
  else if (Array.isArray(r)) for (const x of r) collect(x, out, owners);
  else if (r && typeof r === 'object') {
    if (typeof (r as { dispose?: unknown }).dispose === 'function')
      owners.push(r as { dispose(): void });
    else for (const x of Object.values(r)) collect(x, out, owners);
  }
}

/**
 * Runs `f` (which disposes its own inputs) and returns a failure description, or undefined when
 * it threw a DgmError or returned finite tensors, leaving no tensor behind.
 */
export function fuzzOutcome(
  f: () => unknown,
  opts: { negInfOk?: boolean } = {},
): string | undefined {
  const before = tf.memory().numTensors;
  let failure: string | undefined;
  try {
    const r = f();
    const ts: tf.Tensor[] = [];
    const owners: { dispose(): void }[] = [];
    collect(r, ts, owners);
    for (const t of ts) {
      if (t.dtype !== 'float32') continue;
      const v = t.dataSync();
      // a log-density of -Inf is a value (zero density, e.g. at x = +-Inf), not a failure
      const i = v.findIndex(
        (x) => !Number.isFinite(x) && !(opts.negInfOk && x === Number.NEGATIVE_INFINITY),
      );
      if (i >= 0 && !failure) failure = `non-finite result ${v[i]} (shape [${t.shape}])`;
    }
    tf.dispose(ts);
    for (const o of owners) o.dispose();
  } catch (e) {
    if (!(e instanceof DgmError)) {
      failure = `untyped ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)}`;
    }
  }
  const leaked = tf.memory().numTensors - before;
  if (leaked !== 0 && !failure) failure = `${leaked} tensors leaked`;
  return failure;
}

/** Disposes the inputs after `f`, whatever happens. */
function using<T>(inputs: tf.Tensor[], f: () => T): T {
  try {
    return f();
  } finally {
    tf.dispose(inputs);
  }
}

const prop = <T>(arb: fc.Arbitrary<T>, f: (v: T) => unknown, negInfOk = false) =>
  fc.assert(
    fc.property(arb, (v) => {
      const why = fuzzOutcome(() => f(v), { negInfOk });
      if (why) throw new Error(why);
    }),
    { seed: SEED, numRuns: RUNS },
  );

describe('fuzz: core-tensors distributions', () => {
  it('Normal: construct, logProb, sample, entropy, kl', () => {
    prop(
      fc.record({ loc: TENSOR, scale: TENSOR, x: TENSOR, n: DIM }),
      (v) => {
        const [loc, scale, x] = [make(v.loc), make(v.scale), make(v.x)];
        return using([loc, scale, x], () => {
          const d = new Normal(loc, scale);
          try {
            const lp = d.logProb(x);
            // logProb's result is disposed if a later call throws (no harness leak).
            const rest: tf.Tensor[] = [];
            try {
              rest.push(d.sample({ sampleShape: [v.n], rng: new Rng(1) }));
              rest.push(d.entropy());
              rest.push(kl(d, d));
            } catch (e) {
              tf.dispose([lp, ...rest]);
              throw e;
            }
            return [lp, ...rest];
          } finally {
            d.dispose();
          }
        });
      },
      true,
    );
  });

  it('Bernoulli (logits or probs) and Categorical / OneHotCategorical', () => {
    prop(
      fc.record({ p: TENSOR, x: TENSOR, probs: fc.boolean(), cat: fc.boolean(), n: DIM }),
      (v) => {
        const [p, x] = [make(v.p), make(v.x)];
        return using([p, x], () => {
          const params = v.probs ? { probs: p } : { logits: p };
          const d = v.cat ? new OneHotCategorical(params) : new Bernoulli(params);
          try {
            return [d.logProb(x), d.sample({ sampleShape: [v.n], rng: new Rng(2) }), d.entropy()];
          } finally {
            d.dispose();
          }
        });
      },
      true,
    );
  });

  it('Categorical (integer values) and Independent / Uniform', () => {
    prop(
      fc.record({ a: TENSOR, b: TENSOR, x: TENSOR, r: fc.constantFrom(0, 1, 2, 5) }),
      (v) => {
        const [a, b, x] = [make(v.a), make(v.b), make(v.x)];
        return using([a, b, x], () => {
          const out: unknown[] = [];
          const c = new Categorical({ logits: a });
          try {
            out.push(c.logProb(x));
          } finally {
            c.dispose();
          }
          try {
            const u = new Uniform(a, b);
            try {
              out.push(new Independent(u, v.r).logProb(x));
            } finally {
              u.dispose();
            }
          } catch (e) {
            tf.dispose(out as tf.Tensor[]);
            throw e;
          }
          return out;
        });
      },
      true,
    );
  });
});

describe('fuzz: core-tensors nn and optimiser', () => {
  it('mlp / Dense: sizes (0, negative, fractional), apply to random shapes', () => {
    const SIZE = fc.constantFrom(-1, 0, 1, 2, 3, 1.5);
    prop(
      fc.record({
        sizes: fc.array(SIZE, { minLength: 0, maxLength: 4 }),
        x: fc.record({ shape: SHAPE, values: fc.array(FINITE, { minLength: 1, maxLength: 3 }) }),
        dense: fc.boolean(),
      }),
      (v) => {
        const x = make(v.x);
        return using([x], () => {
          const m = v.dense
            ? new Dense(v.sizes[0] ?? 0, v.sizes[1] ?? 0, { rng: new Rng(0), activation: 'tanh' })
            : mlp(v.sizes, { rng: new Rng(0), activation: 'tanh' });
          try {
            return m.apply(x);
          } finally {
            m.dispose();
          }
        });
      },
    );
  });

  it('adam: hyper-parameters (negative, 0, NaN, Inf, 1e30) and one update', () => {
    prop(fc.record({ lr: HYPER, b1: HYPER, b2: HYPER, eps: HYPER, g: FINITE }), (v) => {
      const opt = adam(v.lr, v.b1, v.b2, v.eps);
      const w = tf.tidy(() => tf.variable(tf.ones([2])));
      try {
        const g = tf.fill([2], v.g);
        opt.applyGradients([{ name: w.name, tensor: g }] as unknown as tf.NamedTensorMap);
        g.dispose();
        const after = Array.from(w.dataSync());
        // an accepted optimiser must not turn a finite gradient into a non-finite parameter
        // unless the step itself is huge (lr 1e30 is refused or gives a finite step)
        return tf.tensor(after);
      } finally {
        w.dispose();
        opt.dispose();
      }
    });
  });
});

describe('fuzz harness', () => {
  it('counts an untyped error, a non-finite result and a leak as failures', () => {
    expect(
      fuzzOutcome(() => {
        throw new Error('x');
      }),
    ).toMatch(/untyped/);
    expect(fuzzOutcome(() => tf.scalar(Number.NaN))).toMatch(/non-finite/);
    let kept: tf.Tensor | undefined;
    expect(
      fuzzOutcome(() => {
        kept = tf.scalar(1);
        return kept;
      }),
    ).toBeUndefined();
    expect(kept?.isDisposed).toBe(true);
    expect(
      fuzzOutcome(() => tf.scalar(Number.NEGATIVE_INFINITY), { negInfOk: true }),
    ).toBeUndefined();
    let leak: tf.Tensor | undefined;
    expect(
      fuzzOutcome(() => {
        leak = tf.scalar(1);
      }),
    ).toMatch(/1 tensors leaked/);
    leak?.dispose();
  });
});
