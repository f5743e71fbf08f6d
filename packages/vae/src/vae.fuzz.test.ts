/**
 * Property-based fuzzing of the estimators' and the VAE's entry points (issue 19): random shapes
 * (0 and 1 sizes included), entries NaN / +-Inf / +-1e4, invalid hyper-parameters. The property:
 * a typed `DgmError` or finite results, and `tf.memory().numTensors` unchanged once they are
 * disposed. Seeded and bounded for CI (`FUZZ_RUNS` scales it; the bench suite `reliability`
 * runs more).
 */
import { DgmError, Rng, tf } from '@dgm-js/core-tensors';
import {
  bernoulliLatent,
  categoricalLatent,
  ESTIMATOR_NAMES,
  estimatorByName,
  gumbelSoftmax,
  relax,
} from '@dgm-js/estimators';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BernoulliVAE, CategoricalVAE } from './discrete.js';
import { GaussianVAE } from './vae.js';

const RUNS = Number(process.env.FUZZ_RUNS ?? 25);
const SEED = 19;

const ENTRY = fc.constantFrom(0, 1, -1, 0.5, 1e4, -1e4, Number.NaN, Infinity, -Infinity);
const DIM = fc.constantFrom(0, 1, 2, 3);
const TENSOR = fc.record({
  shape: fc.array(DIM, { minLength: 0, maxLength: 3 }),
  values: fc.array(ENTRY, { minLength: 1, maxLength: 4 }),
});
const HYPER = fc.constantFrom(-1, 0, 1e-3, 0.5, 1, 10, Number.NaN, Infinity);
const COUNT = fc.constantFrom(-1, 0, 1, 2, 1.5);

type Spec = { shape: number[]; values: number[] };
const make = (s: Spec): tf.Tensor => {
  const n = s.shape.reduce((a, b) => a * b, 1);
  return tf.tensor(
    Array.from({ length: n }, (_, i) => s.values[i % s.values.length]!),
    s.shape,
    'float32',
  );
};

function collect(r: unknown, out: tf.Tensor[], owners: { dispose(): void }[]): void {
  if (r instanceof tf.Tensor) out.push(r);
  else if (Array.isArray(r)) for (const x of r) collect(x, out, owners);
  else if (r && typeof r === 'object') {
    if (typeof (r as { dispose?: unknown }).dispose === 'function')
      owners.push(r as { dispose(): void });
    else for (const x of Object.values(r)) collect(x, out, owners);
  }
}

/** A failure description, or undefined for a DgmError or finite results with no leak. */
function fuzzOutcome(f: () => unknown): string | undefined {
  const before = tf.memory().numTensors;
  let failure: string | undefined;
  try {
    const ts: tf.Tensor[] = [];
    const owners: { dispose(): void }[] = [];
    collect(f(), ts, owners);
    for (const t of ts) {
      if (t.dtype !== 'float32') continue;
      const v = t.dataSync();
      const i = v.findIndex((x) => !Number.isFinite(x));
      if (i >= 0 && !failure) failure = `non-finite result ${v[i]} (shape [${t.shape}])`;
    }
    tf.dispose(ts);
    for (const o of owners) o.dispose();
  } catch (e) {
    if (!(e instanceof DgmError))
      failure = `untyped ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)}`;
  }
  const leaked = tf.memory().numTensors - before;
  if (leaked !== 0 && !failure) failure = `${leaked} tensors leaked`;
  return failure;
}

const prop = <T>(arb: fc.Arbitrary<T>, f: (v: T) => unknown) =>
  fc.assert(
    fc.property(arb, (v) => {
      const why = fuzzOutcome(() => f(v));
      if (why) throw new Error(why);
    }),
    { seed: SEED, numRuns: RUNS },
  );

describe('fuzz: estimators', () => {
  it('every named estimator: estimate on random logits, samples and latent kinds', () => {
    prop(
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
          // a well-defined integrand for every shape: [S, ...] -> [S, ...] without the last axis
          const f = (z: tf.Tensor) => (z.rank > 1 ? tf.sum(tf.square(z), -1) : tf.square(z));
          const r = est.estimate(q, f, { samples: v.samples, rng: new Rng(0) });
          return r.surrogate;
        } finally {
          est.dispose();
          logits.dispose();
        }
      },
    );
  });

  it('relax / gumbel-softmax options (learning rate, temperature, hidden)', () => {
    prop(fc.record({ lr: HYPER, temp: HYPER, hidden: COUNT, g: fc.boolean() }), (v) => {
      const est = v.g
        ? gumbelSoftmax({ temperature: v.temp })
        : relax({ learningRate: v.lr, temperature: v.temp, hidden: v.hidden });
      const logits = tf.zeros([2, 3]);
      try {
        const r = est.estimate(bernoulliLatent(logits), (z) => tf.sum(z, -1), {
          samples: 1,
          rng: new Rng(1),
        });
        return r.surrogate;
      } finally {
        est.dispose();
        logits.dispose();
      }
    });
  });
});

describe('fuzz: VAE entry points', () => {
  it('factories with random sizes, then loss / elbo / iwae on random data', () => {
    prop(
      fc.record({
        kind: fc.constantFrom('gaussian', 'bernoulli', 'categorical'),
        inputDim: fc.constantFrom(-1, 0, 1, 3),
        latent: fc.constantFrom(-1, 0, 1, 2),
        x: TENSOR,
        k: COUNT,
      }),
      (v) => {
        const x = make(v.x);
        try {
          const rng = new Rng(0);
          const vae =
            v.kind === 'gaussian'
              ? GaussianVAE.mlp({ inputDim: v.inputDim, hidden: [3], latentDim: v.latent, rng })
              : v.kind === 'bernoulli'
                ? BernoulliVAE.mlp({
                    inputDim: v.inputDim,
                    hidden: [3],
                    latentDim: v.latent,
                    estimator: 'nvil',
                    rng,
                  })
                : CategoricalVAE.mlp({
                    inputDim: v.inputDim,
                    hidden: [3],
                    latents: v.latent,
                    categories: 2,
                    estimator: 'gumbel-softmax',
                    rng,
                  });
          try {
            const out: tf.Tensor[] = [];
            try {
              out.push(vae.loss(x, { rng }) as unknown as tf.Tensor);
              out.push(vae.elbo(x, { rng }));
              out.push(vae.iwae(x, v.k, { rng }));
            } catch (e) {
              tf.dispose(out);
              throw e;
            }
            return out;
          } finally {
            vae.dispose();
          }
        } finally {
          x.dispose();
        }
      },
    );
  });

  it('the harness itself: an untyped error and a leak are failures', () => {
    expect(
      fuzzOutcome(() => {
        throw new TypeError('x');
      }),
    ).toMatch(/untyped TypeError/);
    let t: tf.Tensor | undefined;
    expect(
      fuzzOutcome(() => {
        t = tf.scalar(1);
      }),
    ).toMatch(/leaked/);
    t?.dispose();
  });
});
