/**
 * Dataset-level evaluation: the ELBO, the importance-weighted log-likelihood estimate (k up to
 * thousands of samples, in chunks so memory stays bounded) and exact log-densities, each as a
 * mean over the examples with its standard error.
 */
import { checkInt, fmtShape, Rng, ShapeError, tf, ValueError } from '@dgm-js/core-tensors';
import { checkFiniteResults } from './likelihood/finite.js';
import { logSumExpArray, type MeanStderr, meanStderr } from './stats.js';
import type { BoundOptions, ElboModel, EvalData, IwaeModel, LogProbModel } from './types.js';

type Tensor = tf.Tensor;

/** Options shared by the dataset evaluations. */
export interface EvalOptions {
  /** Seed of the random stream of the latent samples (ignored by exact densities). Default 0. */
  seed?: number;
  /** Or the stream itself (wins over `seed`). */
  rng?: Rng;
  /** Examples per batch when `data` is one tensor. Default 100. */
  batchSize?: number;
  /** Dispose each batch after use (for iterables that make fresh tensors). Default false. */
  disposeBatches?: boolean;
  /** Keep the per-example values in the result. Default false. */
  keepValues?: boolean;
  /** Called after each batch with the number of examples done. */
  onBatch?: (done: number) => void;
}

/** A dataset-level result: the mean over examples, its standard error, and the settings. */
export interface EvalResult extends MeanStderr {
  /** The per-example values (with `keepValues`). */
  values?: Float64Array;
}

/** Options of {@link estimateLogLikelihood}. */
export interface IwaeEvalOptions extends EvalOptions {
  /** Importance samples per example (Burda et al. 2016 use 5000). Integer >= 1. */
  k: number;
  /**
   * Samples per call of `model.iwae` (the memory bound: one call holds `chunk x batch` samples).
   * The chunks are combined exactly: log (1/k) sum_i w_i = logsumexp_c (iwae_c + log k_c) - log k.
   * Default min(k, 100).
   */
  chunk?: number;
}

async function* batchesOf(
  data: EvalData,
  batchSize: number,
  who: string,
): AsyncGenerator<{ x: Tensor; owned: boolean }> {
  if (data instanceof tf.Tensor) {
    if (data.rank < 1 || (data.shape[0] as number) < 1) {
      throw new ShapeError(
        `${who}: data ${fmtShape(data.shape)} must be [n, ...] with n >= 1 examples.`,
      );
    }
    const n = data.shape[0] as number;
    for (let s = 0; s < n; s += batchSize) {
      const b = Math.min(batchSize, n - s);
      yield { x: tf.slice(data, [s], [b]), owned: true };
    }
    return;
  }
  if (
    data &&
    typeof data === 'object' &&
    (Symbol.asyncIterator in data || Symbol.iterator in data)
  ) {
    for await (const x of data as AsyncIterable<Tensor>) {
      if (!(x instanceof tf.Tensor))
        throw new ValueError(`${who}: every batch must be a tf.Tensor [b, ...].`);
      yield { x, owned: false };
    }
    return;
  }
  throw new ValueError(
    `${who}: data must be a tensor [n, ...] or an (async) iterable of tensors [b, ...].`,
  );
}

function readPerExample(t: Tensor, b: number, who: string, what: string): Float32Array {
  if (t.rank !== 1 || t.shape[0] !== b) {
    const s = [...t.shape];
    t.dispose();
    throw new ShapeError(
      `${who}: model.${what} returned shape ${fmtShape(s)} for a batch of ${b}; it must return one value per example, [${b}].`,
    );
  }
  const v = t.dataSync() as Float32Array;
  t.dispose();
  checkFiniteResults(v, who, what);
  return v;
}

/**
 * Runs `perBatch(x, rng)` (returning one float64 value per example) over the data and summarises.
 */
async function evaluate(
  data: EvalData,
  opts: EvalOptions,
  who: string,
  perBatch: (x: Tensor, rng: Rng) => ArrayLike<number>,
): Promise<EvalResult> {
  const batchSize = checkInt(opts.batchSize ?? 100, 'batchSize', who);
  const rng = opts.rng ?? new Rng(opts.seed ?? 0);
  const values: number[] = [];
  for await (const { x, owned } of batchesOf(data, batchSize, who)) {
    try {
      if (x.rank < 1 || (x.shape[0] as number) < 1) {
        throw new ShapeError(
          `${who}: a batch has shape ${fmtShape(x.shape)}; batches must be [b, ...] with b >= 1.`,
        );
      }
      const v = perBatch(x, rng);
      for (let i = 0; i < v.length; i++) values.push(v[i] as number);
    } finally {
      if (owned || opts.disposeBatches) x.dispose();
    }
    opts.onBatch?.(values.length);
  }
  if (values.length === 0) throw new ValueError(`${who}: the data had no examples.`);
  const s = meanStderr(values);
  return opts.keepValues ? { ...s, values: Float64Array.from(values) } : s;
}

/**
 * The ELBO over a dataset: the mean of `model.elbo(x, { rng })` over the examples (one Monte
 * Carlo draw per example unless the model's `elbo` averages more) and its standard error.
 *
 * @example
 * ```ts
 * import { evaluateElbo } from '@dgm-js/eval';
 * const r = await evaluateElbo(vae, testX, { seed: 0 }); // r.mean (nats), r.stderr
 * ```
 */
export async function evaluateElbo(
  model: ElboModel,
  data: EvalData,
  opts: EvalOptions = {},
): Promise<EvalResult> {
  const who = 'evaluateElbo';
  if (!model || typeof model.elbo !== 'function') {
    throw new ValueError(
      `${who}: model must have elbo(x, { rng }) returning one value per example.`,
    );
  }
  return evaluate(data, opts, who, (x, rng) => {
    const b = x.shape[0] as number;
    return readPerExample(model.elbo(x, { rng }), b, who, 'elbo');
  });
}

/**
 * The importance-weighted bound with `k` samples for each example of one batch, computed in
 * chunks of `chunk` samples and combined exactly in float64. Returns `[batch]` values.
 *
 * @example
 * ```ts
 * const lw = iwaeChunked(vae, x, { k: 5000, chunk: 100, rng }); // Float64Array [batch]
 * ```
 */
export function iwaeChunked(
  model: IwaeModel,
  x: Tensor,
  opts: { k: number; chunk?: number; rng: Rng },
): Float64Array {
  const who = 'iwaeChunked';
  const k = checkInt(opts.k, 'k', who, {
    hint: 'The importance-weighted bound needs at least one sample.',
  });
  const chunk = checkInt(opts.chunk ?? Math.min(k, 100), 'chunk', who);
  const b = x.shape[0] as number;
  const parts: Float64Array[] = [];
  const bo: BoundOptions = { rng: opts.rng };
  for (let done = 0; done < k; done += chunk) {
    const kc = Math.min(chunk, k - done);
    const v = readPerExample(model.iwae(x, kc, bo), b, who, 'iwae');
    const p = new Float64Array(b);
    const lk = Math.log(kc);
    for (let i = 0; i < b; i++) p[i] = (v[i] as number) + lk;
    parts.push(p);
  }
  const out = new Float64Array(b);
  const col = new Float64Array(parts.length);
  const lk = Math.log(k);
  for (let i = 0; i < b; i++) {
    for (let c = 0; c < parts.length; c++) col[c] = (parts[c] as Float64Array)[i] as number;
    out[i] = logSumExpArray(col) - lk;
  }
  return out;
}

/**
 * The importance-weighted estimate of log p(x) over a dataset (Burda, Grosse & Salakhutdinov
 * 2016): for each example log (1/k) sum_i p(x, z_i) / q(z_i | x), a lower bound in expectation
 * that tightens as k grows; computed in chunks (`chunk` samples per call), so k = 5000 needs no
 * more memory than k = `chunk`. Returns the mean over examples and its standard error.
 *
 * @example
 * ```ts
 * import { estimateLogLikelihood } from '@dgm-js/eval';
 * const r = await estimateLogLikelihood(vae, testX, { k: 5000, chunk: 250, batchSize: 20, seed: 0 });
 * console.log(`test NLL ${(-r.mean).toFixed(2)} +- ${r.stderr.toFixed(2)} nats`);
 * ```
 */
export async function estimateLogLikelihood(
  model: IwaeModel,
  data: EvalData,
  opts: IwaeEvalOptions,
): Promise<EvalResult> {
  const who = 'estimateLogLikelihood';
  if (!model || typeof model.iwae !== 'function') {
    throw new ValueError(
      `${who}: model must have iwae(x, k, { rng }) returning one value per example.`,
    );
  }
  if (!opts || typeof opts !== 'object') throw new ValueError(`${who}: pass options { k }.`);
  checkInt(opts.k, 'k', who, { hint: 'The importance-weighted bound needs at least one sample.' });
  if (opts.chunk !== undefined) checkInt(opts.chunk, 'chunk', who);
  return evaluate(data, opts, who, (x, rng) =>
    iwaeChunked(model, x, {
      k: opts.k,
      rng,
      ...(opts.chunk === undefined ? {} : { chunk: opts.chunk }),
    }),
  );
}

/**
 * The exact log-density of a model over a dataset (mean over examples, standard error).
 *
 * @example
 * ```ts
 * const r = await evaluateLogProb(flow, testX, { batchSize: 500 });
 * ```
 */
export async function evaluateLogProb(
  model: LogProbModel,
  data: EvalData,
  opts: EvalOptions = {},
): Promise<EvalResult> {
  const who = 'evaluateLogProb';
  if (!model || typeof model.logProb !== 'function') {
    throw new ValueError(`${who}: model must have logProb(x) returning one value per example.`);
  }
  return evaluate(data, opts, who, (x) =>
    readPerExample(model.logProb(x), x.shape[0] as number, who, 'logProb'),
  );
}
