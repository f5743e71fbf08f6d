/**
 * The fuzz properties of the `reliability` suite (issue 19): each draws arguments for one public
 * entry point (random shapes with 0 and 1 sizes, entries NaN / +-Inf / +-1e4, invalid
 * hyper-parameters) and the property is a typed `DgmError` or finite results, with
 * `tf.memory().numTensors` unchanged once they are disposed.
 */
import {
  adam,
  Bernoulli,
  Categorical,
  Dense,
  DgmError,
  Independent,
  kl,
  mlp,
  Normal,
  OneHotCategorical,
  Rng,
  tf,
  Uniform,
} from '@dgm-js/core-tensors';
import {
  bernoulliLatent,
  categoricalLatent,
  ESTIMATOR_NAMES,
  estimatorByName,
  gumbelSoftmax,
  relax,
} from '@dgm-js/estimators';
import { Flow, MAF, Planar } from '@dgm-js/flows';
import { BernoulliVAE, CategoricalVAE, GaussianVAE } from '@dgm-js/vae';
import fc from 'fast-check';

type Tensor = tf.Tensor;

// ---- the fuzz properties --------------------------------------------------------------------

const ENTRY = fc.constantFrom(0, 1, -1, 0.5, 2.5, 1e4, -1e4, Number.NaN, Infinity, -Infinity);
const FINITE = fc.constantFrom(0, 1, -1, 0.5, 2.5, 1e4, -1e4);
const DIM = fc.constantFrom(0, 1, 2, 3);
const SHAPE = fc.array(DIM, { minLength: 0, maxLength: 3 });
const HYPER = fc.constantFrom(-1, 0, 1e-3, 0.5, 0.9, 1, 10, 1e30, Number.NaN, Infinity);
const COUNT = fc.constantFrom(-1, 0, 1, 2, 1.5);
const TENSOR = fc.record({ shape: SHAPE, values: fc.array(ENTRY, { minLength: 1, maxLength: 4 }) });
const FTENSOR = fc.record({
  shape: SHAPE,
  values: fc.array(FINITE, { minLength: 1, maxLength: 4 }),
});
type Spec = { shape: number[]; values: number[] };
const make = (s: Spec): Tensor => {
  const n = s.shape.reduce((a, b) => a * b, 1);
  return tf.tensor(
    Array.from({ length: n }, (_, i) => s.values[i % s.values.length]!),
    s.shape,
    'float32',
  );
};

function collect(r: unknown, out: Tensor[], owners: { dispose(): void }[]): void {
  if (r instanceof tf.Tensor) out.push(r);
  else if (Array.isArray(r)) for (const x of r) collect(x, out, owners);
  else if (r && typeof r === 'object') {
    if (typeof (r as { dispose?: unknown }).dispose === 'function')
      owners.push(r as { dispose(): void });
    else for (const x of Object.values(r)) collect(x, out, owners);
  }
}

/** A failure description, or undefined for a DgmError / finite results with no leak. */
function outcome(f: () => unknown, negInfOk: boolean): string | undefined {
  const before = tf.memory().numTensors;
  let failure: string | undefined;
  try {
    const ts: Tensor[] = [];
    const owners: { dispose(): void }[] = [];
    collect(f(), ts, owners);
    for (const t of ts) {
      if (t.dtype !== 'float32') continue;
      const v = t.dataSync();
      const i = v.findIndex(
        (x) => !Number.isFinite(x) && !(negInfOk && x === Number.NEGATIVE_INFINITY),
      );
      if (i >= 0 && !failure) failure = `non-finite result ${v[i]}`;
    }
    tf.dispose(ts);
    for (const o of owners) o.dispose();
  } catch (e) {
    if (!(e instanceof DgmError))
      failure = `untyped ${e instanceof Error ? `${e.name}: ${e.message.slice(0, 120)}` : String(e)}`;
  }
  const leaked = tf.memory().numTensors - before;
  if (leaked !== 0 && !failure) failure = `${leaked} tensors leaked`;
  return failure;
}

function using<T>(inputs: Tensor[], f: () => T): T {
  try {
    return f();
  } finally {
    tf.dispose(inputs);
  }
}

interface Property {
  name: string;
  arb: fc.Arbitrary<unknown>;
  run: (v: never) => unknown;
  /** Log-densities may be -Inf (zero density). */
  negInfOk?: boolean;
}

const prop = <T>(
  name: string,
  arb: fc.Arbitrary<T>,
  run: (v: T) => unknown,
  negInfOk = false,
): Property => ({ name, arb, run: run as (v: never) => unknown, negInfOk });

export const PROPERTIES: Property[] = [
  prop(
    'Normal',
    fc.record({ loc: TENSOR, scale: TENSOR, x: TENSOR, n: DIM }),
    (v) => {
      const [loc, scale, x] = [make(v.loc), make(v.scale), make(v.x)];
      return using([loc, scale, x], () => {
        const d = new Normal(loc, scale);
        try {
          return [
            d.logProb(x),
            d.sample({ sampleShape: [v.n], rng: new Rng(1) }),
            d.entropy(),
            kl(d, d),
          ];
        } finally {
          d.dispose();
        }
      });
    },
    true,
  ),
  prop(
    'Bernoulli / OneHotCategorical',
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
  ),
  prop(
    'Categorical / Uniform / Independent',
    fc.record({ a: TENSOR, b: TENSOR, x: TENSOR, r: fc.constantFrom(0, 1, 2, 5) }),
    (v) => {
      const [a, b, x] = [make(v.a), make(v.b), make(v.x)];
      return using([a, b, x], () => {
        const out: Tensor[] = [];
        try {
          const c = new Categorical({ logits: a });
          try {
            out.push(c.logProb(x));
          } finally {
            c.dispose();
          }
          const u = new Uniform(a, b);
          try {
            out.push(new Independent(u, v.r).logProb(x));
          } finally {
            u.dispose();
          }
        } catch (e) {
          tf.dispose(out);
          throw e;
        }
        return out;
      });
    },
    true,
  ),
  prop(
    'mlp / Dense',
    fc.record({
      sizes: fc.array(fc.constantFrom(-1, 0, 1, 2, 3, 1.5), { maxLength: 4 }),
      x: FTENSOR,
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
  ),
  prop('adam', fc.record({ lr: HYPER, b1: HYPER, b2: HYPER, eps: HYPER, g: FINITE }), (v) => {
    const opt = adam(v.lr, v.b1, v.b2, v.eps);
    const w = tf.tidy(() => tf.variable(tf.ones([2])));
    try {
      const g = tf.fill([2], v.g);
      opt.applyGradients([{ name: w.name, tensor: g }] as unknown as tf.NamedTensorMap);
      g.dispose();
      return tf.clone(w);
    } finally {
      w.dispose();
      opt.dispose();
    }
  }),
  prop(
    'estimators by name',
    fc.record({
      name: fc.constantFrom(...ESTIMATOR_NAMES),
      logits: TENSOR,
      samples: COUNT,
      categorical: fc.boolean(),
    }),
    (v) => {
      const logits = make(v.logits);
      const est = estimatorByName(v.name);
      try {
        const q = v.categorical ? categoricalLatent(logits) : bernoulliLatent(logits);
        const f = (z: Tensor) => (z.rank > 1 ? tf.sum(tf.square(z), -1) : tf.square(z));
        return est.estimate(q, f, { samples: v.samples, rng: new Rng(0) }).surrogate;
      } finally {
        est.dispose();
        logits.dispose();
      }
    },
  ),
  prop(
    'relax / gumbel-softmax options',
    fc.record({ lr: HYPER, temp: HYPER, hidden: COUNT, g: fc.boolean() }),
    (v) => {
      const est = v.g
        ? gumbelSoftmax({ temperature: v.temp })
        : relax({ learningRate: v.lr, temperature: v.temp, hidden: v.hidden });
      const logits = tf.zeros([2, 3]);
      try {
        return est.estimate(bernoulliLatent(logits), (z) => tf.sum(z, -1), {
          samples: 1,
          rng: new Rng(1),
        }).surrogate;
      } finally {
        est.dispose();
        logits.dispose();
      }
    },
  ),
  prop(
    'VAE factories and bounds',
    fc.record({
      kind: fc.constantFrom('gaussian', 'bernoulli', 'categorical'),
      inputDim: fc.constantFrom(-1, 0, 1, 3),
      latent: fc.constantFrom(-1, 0, 1, 2),
      x: TENSOR,
      k: COUNT,
    }),
    (v) => {
      const x = make(v.x);
      return using([x], () => {
        const rng = new Rng(0);
        const common = { inputDim: v.inputDim, hidden: [3], rng };
        const vae =
          v.kind === 'gaussian'
            ? GaussianVAE.mlp({ ...common, latentDim: v.latent })
            : v.kind === 'bernoulli'
              ? BernoulliVAE.mlp({ ...common, latentDim: v.latent, estimator: 'nvil' })
              : CategoricalVAE.mlp({
                  ...common,
                  latents: v.latent,
                  categories: 2,
                  estimator: 'gumbel-softmax',
                });
        const out: Tensor[] = [];
        try {
          out.push(
            vae.loss(x, { rng }) as unknown as tf.Tensor,
            vae.elbo(x, { rng }),
            vae.iwae(x, v.k, { rng }),
          );
          return out;
        } catch (e) {
          tf.dispose(out);
          throw e;
        } finally {
          vae.dispose();
        }
      });
    },
  ),
  prop(
    'Planar / MAF flows (finite data)',
    fc.record({
      maf: fc.boolean(),
      dim: fc.constantFrom(-1, 0, 1, 2, 1.5),
      hidden: fc.constantFrom(-1, 0, 1, 2),
      x: fc.record({
        shape: fc.tuple(fc.constantFrom(0, 1, 2), fc.constantFrom(0, 1, 2, 3)),
        values: fc.array(FINITE, { minLength: 1, maxLength: 4 }),
      }),
      n: DIM,
    }),
    (v) => {
      const x = make(v.x);
      return using([x], () => {
        const rng = new Rng(0);
        const b = v.maf ? new MAF(v.dim, { rng, hidden: [v.hidden] }) : new Planar(v.dim, { rng });
        let flow: Flow;
        try {
          flow = new Flow(b, { dim: v.dim });
        } catch (e) {
          b.dispose();
          throw e;
        }
        const out: Tensor[] = [];
        try {
          // One push per call: \`push(a(), b())\` would drop a() when b() throws (a harness leak).
          out.push(flow.sample({ sampleShape: [v.n], rng }));
          out.push(flow.logProb(x));
          return out;
        } catch (e) {
          tf.dispose(out);
          throw e;
        } finally {
          flow.dispose();
        }
      });
    },
    true,
  ),
];

export function runFuzz(runs: number, seed: number): { cases: number; failures: string[] } {
  let cases = 0;
  const failures: string[] = [];
  for (const p of PROPERTIES) {
    fc.check(
      fc.property(p.arb, (v) => {
        cases++;
        const why = outcome(() => p.run(v as never), p.negInfOk ?? false);
        if (why) failures.push(`${p.name}: ${why} for ${fc.stringify(v)}`);
        return true; // count every case; do not shrink
      }),
      { seed, numRuns: runs },
    );
  }
  return { cases, failures };
}
