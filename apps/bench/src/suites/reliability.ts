/**
 * Suite `reliability` (issue 19): the longer run of the property-based fuzzing (typed `DgmError`
 * or finite results, no leaked tensor) over core's distributions / nn / adam, the estimators,
 * the VAE entry points and the flows; a kill-and-resume matrix of discrete VAEs with stateful
 * estimators (RELAX: control-variate net + its Adam; annealed Gumbel-Softmax: the schedule's
 * step), each trial crashing at a random step and resuming from the checkpoints alone, compared
 * bit for bit with an uninterrupted run; and the tensors leaked by a construct-use-dispose pass
 * over the public classes.
 *
 * The crash is in-process: a callback throws at the drawn step (nothing is saved on the way out,
 * as with SIGKILL) and the resumed run is rebuilt from scratch (model, estimator, optimiser) from
 * the checkpoint store. The real-process SIGKILL mechanics are covered by core-tensors'
 * `kill.test.ts`.
 */
import {
  adam,
  Bernoulli,
  type Callback,
  Categorical,
  Dense,
  DgmError,
  type GradientEstimator,
  Independent,
  initBackend,
  kl,
  MemoryCheckpointStore,
  mlp,
  Normal,
  OneHotCategorical,
  Rng,
  Trainer,
  tf,
  Uniform,
} from '@dgm-js/core-tensors';
import {
  bernoulliLatent,
  categoricalLatent,
  ESTIMATOR_NAMES,
  estimatorByName,
  exponentialTemperature,
  gumbelSoftmax,
  relax,
} from '@dgm-js/estimators';
import { Flow, MAF, Planar } from '@dgm-js/flows';
import { BernoulliVAE, CategoricalVAE, GaussianVAE } from '@dgm-js/vae';
import fc from 'fast-check';
import { RowTable } from '../rows.js';
import { progress } from '../timing.js';
import type { Profile, Suite } from './types.js';

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

const PROPERTIES: Property[] = [
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
          out.push(flow.sample({ sampleShape: [v.n], rng }), flow.logProb(x));
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

function runFuzz(runs: number, seed: number): { cases: number; failures: string[] } {
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

// ---- kill and resume ------------------------------------------------------------------------

class Crash extends Error {}

const estimators: [string, () => GradientEstimator][] = [
  ['relax', () => relax({ hidden: 6, learningRate: 3e-2, seed: 3 })],
  [
    'annealed gumbel-softmax',
    () => gumbelSoftmax({ temperature: exponentialTemperature({ rate: 0.02, min: 0.05 }) }),
  ],
];

async function trainRun(
  make: () => GradientEstimator,
  o: { steps: number; store?: MemoryCheckpointStore; crashAt?: number; resume?: boolean },
): Promise<string> {
  const est = make();
  const vae = CategoricalVAE.mlp({
    inputDim: 12,
    hidden: [10],
    latents: 3,
    categories: 4,
    estimator: est,
    rng: new Rng(7),
  });
  const data = [0, 1, 2, 3].map((s) =>
    tf.tidy(() =>
      tf.cast(tf.less(tf.randomUniform([6, 12], 0, 1, 'float32', 100 + s), 0.4), 'float32'),
    ),
  );
  const optimizer = tf.train.adam(1e-2);
  const crash: Callback = {
    name: 'crash',
    onStepEnd: (t) => {
      if (t.step === o.crashAt) throw new Crash();
    },
  };
  try {
    await new Trainer({
      model: vae,
      objective: vae.objective(),
      data,
      optimizer,
      maxSteps: o.steps,
      quiet: true,
      ...(o.store ? { checkpoint: { store: o.store, every: 5, keep: 100 } } : {}),
      ...(o.resume ? { resume: true } : {}),
      callbacks: [crash],
    }).fit();
    return JSON.stringify([vae.parameters().map((v) => Array.from(v.dataSync())), est.getState()]);
  } finally {
    vae.dispose();
    optimizer.dispose();
    tf.dispose(data);
  }
}

async function killResume(
  trialsPerEstimator: number,
  steps: number,
  seed: number,
): Promise<{ trials: number; mismatches: string[] }> {
  const rng = new Rng(seed);
  let trials = 0;
  const mismatches: string[] = [];
  for (const [name, make] of estimators) {
    const full = await trainRun(make, { steps });
    for (let i = 0; i < trialsPerEstimator; i++) {
      const crashAt = 2 + Math.floor(rng.float() * (steps - 3));
      const store = new MemoryCheckpointStore();
      try {
        await trainRun(make, { steps, store, crashAt });
        mismatches.push(`${name}: the run did not crash at ${crashAt}`);
      } catch (e) {
        if (!(e instanceof Crash)) throw e;
      }
      const resumed = await trainRun(make, { steps, store, resume: true });
      trials++;
      if (resumed !== full)
        mismatches.push(`${name}: crash at step ${crashAt}: resumed run differs`);
      progress(
        `kill-resume ${name}: crash at ${crashAt}, ${resumed === full ? 'identical' : 'DIFFERENT'}`,
      );
    }
  }
  return { trials, mismatches };
}

// ---- construct, use, dispose ----------------------------------------------------------------

/** The loss and its tensor metrics (what a caller of `vae.loss` owns). */
function lossTensors(r: { loss: Tensor; metrics?: Record<string, unknown> }): Tensor[] {
  const ms = Object.values(r.metrics ?? {}).filter((m): m is Tensor => m instanceof tf.Tensor);
  return [r.loss, ...ms];
}

function leakPass(): { leaked: number; classes: number; detail: string[] } {
  const rng = new Rng(0);
  const x = tf.tidy(() =>
    tf.cast(tf.greater(tf.randomUniform([4, 6], 0, 1, 'float32', 5), 0.5), 'float32'),
  );
  const z = tf.zeros([4, 6]);
  const passes: [string, () => void][] = [
    [
      'Normal',
      () => {
        const d = new Normal(z, 1);
        tf.dispose([d.logProb(x), d.sample({ rng }), d.entropy()]);
        d.dispose();
      },
    ],
    [
      'Bernoulli',
      () => {
        const d = new Bernoulli({ logits: z });
        tf.dispose([d.logProb(x), d.sample({ rng })]);
        d.dispose();
      },
    ],
    [
      'Categorical',
      () => {
        const d = new Categorical({ logits: z });
        tf.dispose([d.sample({ rng }), d.entropy()]);
        d.dispose();
      },
    ],
    [
      'OneHotCategorical',
      () => {
        const d = new OneHotCategorical({ logits: z });
        tf.dispose([d.sample({ rng }), d.entropy()]);
        d.dispose();
      },
    ],
    [
      'Uniform',
      () => {
        const d = new Uniform(0, 1);
        tf.dispose([d.sample({ sampleShape: [3], rng })]);
        d.dispose();
      },
    ],
    [
      'Dense',
      () => {
        const m = new Dense(6, 3, { rng });
        m.apply(x).dispose();
        m.dispose();
      },
    ],
    [
      'mlp',
      () => {
        const m = mlp([6, 5, 2], { rng });
        m.apply(x).dispose();
        m.dispose();
      },
    ],
    [
      'adam',
      () => {
        const w = tf.tidy(() => tf.variable(tf.ones([2])));
        const o = adam(0.1);
        const g = tf.ones([2]);
        o.applyGradients([{ name: w.name, tensor: g }] as unknown as tf.NamedTensorMap);
        tf.dispose([g, w]);
        o.dispose();
      },
    ],
    ...ESTIMATOR_NAMES.map((n): [string, () => void] => [
      `estimator ${n}`,
      () => {
        const e = estimatorByName(n);
        const l = tf.zeros([4, 3, 2]);
        e.estimate(categoricalLatent(l), (s) => tf.sum(tf.sum(s, -1), -1), {
          samples: n === 'vimco' ? 3 : 1,
          rng,
        }).surrogate.dispose();
        e.setState(e.getState());
        l.dispose();
        e.dispose();
      },
    ]),
    [
      'GaussianVAE',
      () => {
        const v = GaussianVAE.mlp({ inputDim: 6, hidden: [5], latentDim: 2, rng });
        tf.dispose([
          ...lossTensors(v.loss(x, { rng })),
          v.elbo(x, { rng }),
          v.iwae(x, 150, { rng }),
          v.sample(2, { rng }),
        ]);
        v.dispose();
      },
    ],
    [
      'CategoricalVAE (relax)',
      () => {
        const v = CategoricalVAE.mlp({
          inputDim: 6,
          hidden: [5],
          latents: 2,
          categories: 3,
          estimator: relax(),
          rng,
        });
        tf.dispose([...lossTensors(v.loss(x, { rng })), v.elbo(x, { rng, samples: 3, chunk: 2 })]);
        v.dispose();
      },
    ],
    [
      'Flow(Planar)',
      () => {
        const f = new Flow(new Planar(6, { rng }), { dim: 6 });
        tf.dispose([f.logProb(x), f.sample({ sampleShape: [2], rng })]);
        f.dispose();
      },
    ],
    [
      'Flow(MAF)',
      () => {
        const f = new Flow(new MAF(6, { rng, hidden: [8] }), { dim: 6 });
        tf.dispose([f.logProb(x), f.sample({ sampleShape: [2], rng })]);
        f.dispose();
      },
    ],
  ];
  let leaked = 0;
  const detail: string[] = [];
  for (const [name, f] of passes) {
    const before = tf.memory().numTensors;
    f();
    const d = tf.memory().numTensors - before;
    if (d !== 0) detail.push(`${name}: ${d}`);
    leaked += d;
  }
  tf.dispose([x, z]);
  return { leaked, classes: passes.length, detail };
}

export const reliabilitySuite: Suite = {
  name: 'reliability',
  description:
    'fuzzing of the public API (typed error or finite result, no leak), kill-and-resume of stateful estimators, leaks of construct-use-dispose',
  async run(profile: Profile) {
    const info = await initBackend({ quiet: true });
    const quick = profile === 'quick';
    const rows = new RowTable({ echo: 0 });
    const notes: string[] = [`backend: ${info.summary}`];

    const runs = quick ? 150 : 2000;
    const fz = runFuzz(runs, 2026);
    rows.add('reliability/fuzz-cases', fz.cases, 'cases', {
      note: `${PROPERTIES.length} properties x ${runs} runs, fast-check seed 2026`,
    });
    rows.add('reliability/fuzz-failures', fz.failures.length, 'cases');
    for (const f of fz.failures.slice(0, 5)) notes.push(`fuzz failure: ${f}`);
    notes.push(
      'fuzz properties: ' +
        PROPERTIES.map((p) => p.name).join(', ') +
        '. Flows are fuzzed with finite data only: Flow.logProb of a NaN/Inf x returns NaN (not a typed error), a known gap of the flows package.',
    );

    const kr = await killResume(quick ? 1 : 5, quick ? 20 : 40, 19);
    rows.add('reliability/kill-resume-trials', kr.trials, 'trials', {
      note: `discrete VAE, ${estimators.map(([n]) => n).join(' and ')}; crash at a random step, resume from checkpoints every 5 steps; in-process crash`,
    });
    rows.add('reliability/kill-resume-mismatches', kr.mismatches.length, 'trials');
    for (const m of kr.mismatches) notes.push(`kill-resume mismatch: ${m}`);

    const lk = leakPass();
    rows.add('reliability/leaked-tensors', lk.leaked, 'tensors', {
      note: `summed over ${lk.classes} construct-use-dispose passes`,
    });
    for (const d of lk.detail) notes.push(`leak: ${d}`);

    return {
      suite: 'reliability',
      profile,
      backend: info.name,
      date: new Date().toISOString(),
      rows: rows.rows,
      notes,
    };
  },
};
