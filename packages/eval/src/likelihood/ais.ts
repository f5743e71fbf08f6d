/**
 * Annealed importance sampling for decoder-based models (Neal 2001; Wu, Burda, Salakhutdinov
 * and Grosse 2017, "On the quantitative analysis of decoder-based generative models"), and its
 * reverse chain (bidirectional Monte Carlo, Grosse et al. 2015).
 *
 * For a model p(z) p(x | z), AIS moves chains from the prior to the posterior through the
 * geometric path f_t(z) = p(z) p(x | z)^{beta_t}, 0 = beta_0 < ... < beta_T = 1, with
 * Hamiltonian Monte Carlo transitions that leave each f_t invariant, and accumulates
 * log w = sum_t (beta_t - beta_{t-1}) log p(x | z_{t-1}). The average of w over chains is an
 * unbiased estimate of p(x), so log-mean-exp(log w) is a stochastic LOWER bound of log p(x).
 * Run backwards from an exact posterior sample (available for data simulated from the model,
 * x ~ p(x | z), z ~ p(z)), the same weights estimate 1 / p(x), which gives a stochastic UPPER
 * bound. The two bracket log p(x); the gap shrinks as T grows and measures how far AIS is from
 * converged on that model (Wu et al. use it to choose T for real data).
 */
import {
  checkInt,
  fmtShape,
  HALF_LOG_2PI,
  Rng,
  ShapeError,
  tf,
  ValueError,
} from '@dgm-js/core-tensors';
import { logSumExpArray, meanStderr } from '../stats.js';
import type { EvalData, Metric, MetricResult } from '../types.js';

type Tensor = tf.Tensor;

/**
 * A decoder-based model: a latent prior and a likelihood p(x | z) differentiable in z. A VAE's
 * decoder, or a GAN generator with a Gaussian observation model (Wu et al.), fits.
 *
 * @example
 * ```ts
 * const model: DecoderModel = {
 *   latentDim: 10,
 *   logLikelihood: (x, z) => tf.tidy(() => decoder.condition(z).logProb(x)), // [M]
 * };
 * ```
 */
export interface DecoderModel {
  /** Dimension of z. */
  readonly latentDim: number;
  /** log p(x | z) per row: `x` `[M, ...]`, `z` `[M, latentDim]` -> `[M]`. */
  logLikelihood(x: Tensor, z: Tensor): Tensor;
  /** log p(z) per row, `[M, latentDim]` -> `[M]`. Default: the standard normal. */
  logPrior?(z: Tensor): Tensor;
  /** Draws `[n, latentDim]` from p(z). Default: the standard normal. */
  samplePrior?(n: number, rng: Rng): Tensor;
}

/** How the inverse temperatures beta_t are spaced. */
export type AisSchedule = 'sigmoid' | 'linear';

/** Options of {@link aisLogLikelihood} and {@link bdmcUpperBound}. */
export interface AisOptions {
  /** Intermediate distributions T (Wu et al. use up to 10^4 on MNIST). Integer >= 1. */
  steps: number;
  /** Chains per example. Default 16. */
  chains?: number;
  /** Leapfrog steps per HMC transition. Default 10. */
  leapfrog?: number;
  /** Initial leapfrog step size (adapted per chain). Default 0.05. */
  stepSize?: number;
  /** The acceptance rate the step size adapts to. Default 0.65. */
  targetAcceptance?: number;
  /**
   * 'sigmoid' (default, Wu et al.: beta_t = sigmoid(delta (2 t / T - 1)) rescaled to [0, 1],
   * delta = 4, which spends more steps near both ends) or 'linear'.
   */
  schedule?: AisSchedule;
  /** Examples per batch (chains x batch rows run at once). Default 25. */
  batchSize?: number;
  /** Seed of the random stream. Default 0. */
  seed?: number;
  /** Or the stream itself. */
  rng?: Rng;
}

/**
 * The inverse temperatures beta_0 = 0 < ... < beta_T = 1.
 *
 * @example
 * ```ts
 * aisSchedule(4, 'linear'); // [0, 0.25, 0.5, 0.75, 1]
 * ```
 */
export function aisSchedule(steps: number, schedule: AisSchedule = 'sigmoid'): number[] {
  checkInt(steps, 'steps', 'aisSchedule');
  if (schedule === 'linear') return Array.from({ length: steps + 1 }, (_, t) => t / steps);
  if (schedule !== 'sigmoid') {
    throw new ValueError(`aisSchedule: schedule must be 'sigmoid' or 'linear', got '${schedule}'.`);
  }
  const delta = 4;
  const s = (t: number) => 1 / (1 + Math.exp(-delta * ((2 * t) / steps - 1)));
  const lo = s(0);
  const hi = s(steps);
  return Array.from({ length: steps + 1 }, (_, t) =>
    t === 0 ? 0 : t === steps ? 1 : (s(t) - lo) / (hi - lo),
  );
}

function stdNormalLogProb(z: Tensor): Tensor {
  const d = z.shape[1] as number;
  return tf.tidy(() => tf.sub(tf.mul(-0.5, tf.sum(tf.square(z), 1)), d * HALF_LOG_2PI));
}

interface Resolved {
  chains: number;
  leapfrog: number;
  stepSize: number;
  target: number;
  betas: number[];
  batchSize: number;
  rng: Rng;
}

function resolve(model: DecoderModel, opts: AisOptions, who: string): Resolved {
  if (!model || typeof model.logLikelihood !== 'function') {
    throw new ValueError(`${who}: model must have logLikelihood(x, z) and latentDim.`);
  }
  checkInt(model.latentDim, 'model.latentDim', who);
  if (!opts || typeof opts !== 'object') throw new ValueError(`${who}: pass options { steps }.`);
  const steps = checkInt(opts.steps, 'steps', who);
  const stepSize = opts.stepSize ?? 0.05;
  const target = opts.targetAcceptance ?? 0.65;
  if (!(stepSize > 0)) throw new ValueError(`${who}: stepSize must be positive, got ${stepSize}.`);
  if (!(target > 0 && target < 1)) {
    throw new ValueError(`${who}: targetAcceptance must be in (0, 1), got ${target}.`);
  }
  return {
    chains: checkInt(opts.chains ?? 16, 'chains', who),
    leapfrog: checkInt(opts.leapfrog ?? 10, 'leapfrog', who),
    stepSize,
    target,
    betas: aisSchedule(steps, opts.schedule ?? 'sigmoid'),
    batchSize: checkInt(opts.batchSize ?? 25, 'batchSize', who),
    rng: opts.rng ?? new Rng(opts.seed ?? 0),
  };
}

/** What one annealing run returns per row: the log-weights and the mean acceptance rate. */
interface Run {
  logW: Float64Array;
  acceptance: number;
}

/**
 * Runs chains `z` (owned: disposed here) through the path `betas` (ascending for AIS,
 * descending for the reverse chain) for rows `xRep` and returns the log-weights
 * sum (beta_next - beta_cur) log p(x | z_cur), with an HMC transition targeting f_next after each
 * weight update (none after the last).
 */
function anneal(model: DecoderModel, xRep: Tensor, z0: Tensor, r: Resolved): Run {
  const m = z0.shape[0] as number;
  const logW = new Float64Array(m);
  const logPrior = (z: Tensor) => (model.logPrior ? model.logPrior(z) : stdNormalLogProb(z));
  const logLik = (z: Tensor): Tensor => {
    const l = model.logLikelihood(xRep, z);
    if (l.rank !== 1 || l.shape[0] !== m) {
      const s = [...l.shape];
      l.dispose();
      throw new ShapeError(
        `AIS: model.logLikelihood returned ${fmtShape(s)} for ${m} rows; it must return [${m}].`,
      );
    }
    return l;
  };
  let z = z0;
  let eps = tf.fill([m, 1], r.stepSize);
  let accepted = 0;
  let transitions = 0;
  try {
    for (let t = 0; t + 1 < r.betas.length; t++) {
      const b0 = r.betas[t]!;
      const b1 = r.betas[t + 1]!;
      const ll = tf.tidy(() => logLik(z));
      const v = ll.dataSync();
      ll.dispose();
      for (let i = 0; i < m; i++) logW[i]! += (b1 - b0) * v[i]!;
      if (t + 2 === r.betas.length) break; // no transition after the last weight
      // One HMC transition targeting f_b1(z) = p(z) p(x | z)^b1.
      const energy = (zz: Tensor) => tf.neg(tf.add(logPrior(zz), tf.mul(b1, logLik(zz))));
      const gradU = tf.grad((zz: Tensor) => tf.sum(energy(zz)));
      const seedP = r.rng.next();
      const seedU = r.rng.next();
      const [zNew, epsNew, acc] = tf.tidy(() => {
        const p0 = tf.randomNormal(z.shape, 0, 1, 'float32', seedP);
        let p = tf.sub(p0, tf.mul(tf.mul(eps, 0.5), gradU(z)));
        let q = z;
        for (let l = 0; l < r.leapfrog; l++) {
          q = tf.add(q, tf.mul(eps, p));
          const g = gradU(q);
          p = tf.sub(p, tf.mul(l + 1 === r.leapfrog ? tf.mul(eps, 0.5) : eps, g));
        }
        const h0 = tf.add(energy(z), tf.mul(0.5, tf.sum(tf.square(p0), 1)));
        const h1 = tf.add(energy(q), tf.mul(0.5, tf.sum(tf.square(p), 1)));
        const logU = tf.log(tf.randomUniform([m], 1e-30, 1, 'float32', seedU));
        // accept when log u < h0 - h1 (NaN energies reject)
        const accept = tf.less(logU, tf.sub(h0, h1));
        const zN = tf.where(tf.expandDims(accept, 1), q, z);
        const a = tf.cast(tf.expandDims(accept, 1), 'float32');
        // Per-chain step size: eps *= exp(0.02 (accepted - target)), whose fixed point is an
        // acceptance rate equal to the target (Wu et al. adapt the same way); kept in [1e-4, 1].
        const eN = tf.clipByValue(tf.mul(eps, tf.exp(tf.mul(tf.sub(a, r.target), 0.02))), 1e-4, 1);
        return [zN, eN, tf.sum(a)] as const;
      });
      accepted += acc.dataSync()[0]!;
      acc.dispose();
      transitions += m;
      z.dispose();
      eps.dispose();
      z = zNew;
      eps = epsNew;
    }
  } finally {
    z.dispose();
    eps.dispose();
  }
  return { logW, acceptance: transitions ? accepted / transitions : Number.NaN };
}

/** Per-example results of an annealing estimator. */
export interface AisResult {
  /** One estimate per example (nats). */
  values: Float64Array;
  /** Mean HMC acceptance rate over all transitions. */
  acceptance: number;
}

function perBatch(
  x: Tensor,
  r: Resolved,
  who: string,
  run: (xRep: Tensor, rows: number, start: number, b: number) => Run,
  combine: (logW: ArrayLike<number>) => number,
): AisResult {
  if (!(x instanceof tf.Tensor) || x.rank < 2) {
    throw new ShapeError(
      `${who}: x must be [n, ...] examples, got ${x instanceof tf.Tensor ? fmtShape(x.shape) : typeof x}.`,
    );
  }
  const n = x.shape[0] as number;
  const k = r.chains;
  const values = new Float64Array(n);
  let acc = 0;
  let accN = 0;
  for (let s = 0; s < n; s += r.batchSize) {
    const b = Math.min(r.batchSize, n - s);
    // Rows ordered chain-major: row c * b + i is chain c of example i.
    const xRep = tf.tidy(() => {
      const xb = tf.slice(x, [s], [b]);
      return tf.concat(Array.from({ length: k }, () => xb));
    });
    let res: Run;
    try {
      res = run(xRep, b * k, s, b);
    } finally {
      xRep.dispose();
    }
    acc += res.acceptance * b * k;
    accN += b * k;
    const w = new Float64Array(k);
    for (let i = 0; i < b; i++) {
      for (let c = 0; c < k; c++) w[c] = res.logW[c * b + i]!;
      values[s + i] = combine(w);
    }
  }
  return { values, acceptance: acc / accN };
}

/**
 * AIS estimates of log p(x) per example (log-mean-exp of the chains' log-weights): stochastic
 * lower bounds, tight as `steps` grows.
 *
 * @example
 * ```ts
 * const { values } = aisLogLikelihood(model, xTest, { steps: 1000, chains: 16, seed: 0 });
 * ```
 */
export function aisLogLikelihood(model: DecoderModel, x: Tensor, opts: AisOptions): AisResult {
  const who = 'aisLogLikelihood';
  const r = resolve(model, opts, who);
  const logK = Math.log(r.chains);
  return perBatch(
    x,
    r,
    who,
    (xRep, rows) => {
      const z0 = model.samplePrior
        ? model.samplePrior(rows, r.rng.split())
        : tf.randomNormal([rows, model.latentDim], 0, 1, 'float32', r.rng.next());
      if (z0.rank !== 2 || z0.shape[0] !== rows || z0.shape[1] !== model.latentDim) {
        const s = [...z0.shape];
        z0.dispose();
        throw new ShapeError(
          `${who}: model.samplePrior(${rows}) returned ${fmtShape(s)}; expected [${rows}, ${model.latentDim}].`,
        );
      }
      return anneal(model, xRep, z0, r);
    },
    (w) => logSumExpArray(w) - logK,
  );
}

/**
 * The reverse-AIS (BDMC) upper bound on log p(x) per example, from an exact posterior sample
 * `z` (`[n, latentDim]`) of each example: for simulated data x ~ p(x | z), z ~ p(z). Every chain
 * starts at that sample and anneals from the posterior to the prior; -log-mean-exp of the
 * log-weights is a stochastic upper bound of log p(x).
 *
 * @example
 * ```ts
 * const upper = bdmcUpperBound(model, xSim, zSim, { steps: 1000 });
 * const lower = aisLogLikelihood(model, xSim, { steps: 1000 });
 * // the true log p(x) lies (stochastically) between lower and upper
 * ```
 */
export function bdmcUpperBound(
  model: DecoderModel,
  x: Tensor,
  z: Tensor,
  opts: AisOptions,
): AisResult {
  const who = 'bdmcUpperBound';
  const r = resolve(model, opts, who);
  const n = x.shape[0] as number;
  if (
    !(z instanceof tf.Tensor) ||
    z.rank !== 2 ||
    z.shape[0] !== n ||
    z.shape[1] !== model.latentDim
  ) {
    throw new ShapeError(
      `${who}: z must be the exact posterior samples [${n}, ${model.latentDim}] that generated x, got ${z instanceof tf.Tensor ? fmtShape(z.shape) : typeof z}.`,
    );
  }
  const rev: Resolved = { ...r, betas: [...r.betas].reverse() };
  const logK = Math.log(r.chains);
  return perBatch(
    x,
    rev,
    who,
    (xRep, _rows, start, b) => {
      const z0 = tf.tidy(() => {
        const zb = tf.slice(z, [start], [b]);
        return tf.concat(Array.from({ length: r.chains }, () => zb));
      });
      return anneal(model, xRep, z0, rev);
    },
    (w) => -(logSumExpArray(w) - logK),
  );
}

/**
 * The AIS log-likelihood estimate (nats per example, a stochastic lower bound) as a Metric over
 * a {@link DecoderModel}; `data` must be one tensor `[n, ...]` or batches of them.
 *
 * @example
 * ```ts
 * const r = await aisMetric({ steps: 1000, chains: 16 }).compute(model, testX);
 * ```
 */
export function aisMetric(opts: AisOptions): Metric<DecoderModel> {
  checkInt(opts?.steps, 'steps', 'aisMetric');
  return {
    name: 'ais-log-likelihood',
    async compute(model: DecoderModel, data: EvalData): Promise<MetricResult> {
      const t0 = performance.now();
      const rng = opts.rng ?? new Rng(opts.seed ?? 0);
      const parts: Iterable<Tensor> | AsyncIterable<Tensor> =
        data instanceof tf.Tensor ? [data] : data;
      const values: number[] = [];
      let acc = 0;
      for await (const x of parts) {
        const res = aisLogLikelihood(model, x, { ...opts, rng });
        for (const v of res.values) values.push(v);
        acc += res.acceptance * res.values.length;
      }
      if (values.length === 0) throw new ValueError('aisMetric: the data had no examples.');
      const s = meanStderr(values);
      return {
        name: 'ais-log-likelihood',
        value: s.mean,
        stderr: s.stderr,
        n: s.n,
        details: {
          steps: opts.steps,
          chains: opts.chains ?? 16,
          leapfrog: opts.leapfrog ?? 10,
          schedule: opts.schedule ?? 'sigmoid',
          acceptance: acc / values.length,
          std: s.std,
          ms: performance.now() - t0,
        },
      };
    },
  };
}
