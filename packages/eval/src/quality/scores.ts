/**
 * Classifier-based scores from class log-probabilities log p(y | x) (float64, `n x C`
 * row-major): the Inception-style score, the MODE score and per-class sample histograms.
 *
 * Caveats. These scores see only what the classifier sees: a model that outputs one perfect
 * prototype per class scores the maximum (IS = number of classes) with no within-class
 * diversity, and images the classifier misreads confidently score as real. Compare models
 * with the same classifier only, and report FID / precision-recall beside them.
 */
import { ValueError } from '@dgm-js/core-tensors';

/** A score over splits, as the reference code reports it. */
export interface SplitScore {
  /** The mean of the per-split scores. */
  mean: number;
  /** Population standard deviation over the splits (`np.std`, as the reference code). */
  std: number;
  /** Standard error of the mean over splits (sample std / sqrt(splits); 0 for one split). */
  stderr: number;
  /** The per-split scores. */
  splits: number[];
  /** The score of all n samples in one split. */
  full: number;
}

function check(logProbs: Float64Array, n: number, c: number, who: string): void {
  if (!Number.isInteger(n) || n < 1 || !Number.isInteger(c) || c < 2) {
    throw new ValueError(`${who}: need n >= 1 samples and C >= 2 classes, got n=${n}, C=${c}.`);
  }
  if (logProbs.length !== n * c) {
    throw new ValueError(
      `${who}: logProbs has ${logProbs.length} values, expected n * C = ${n * c}.`,
    );
  }
}

/** log of the mean of p(y | x) over rows [lo, hi): log p(y) per class (max-shifted). */
function logMarginal(lp: Float64Array, lo: number, hi: number, c: number): Float64Array {
  const out = new Float64Array(c);
  for (let y = 0; y < c; y++) {
    let m = Number.NEGATIVE_INFINITY;
    for (let i = lo; i < hi; i++) m = Math.max(m, lp[i * c + y]!);
    if (m === Number.NEGATIVE_INFINITY) {
      out[y] = m;
      continue;
    }
    let s = 0;
    for (let i = lo; i < hi; i++) s += Math.exp(lp[i * c + y]! - m);
    out[y] = m + Math.log(s / (hi - lo));
  }
  return out;
}

/** Mean over rows [lo, hi) of KL(p(y | x) || q) for log q given (0 log 0 = 0). */
function meanKl(lp: Float64Array, lo: number, hi: number, c: number, logQ: ArrayLike<number>) {
  let acc = 0;
  for (let i = lo; i < hi; i++) {
    let kl = 0;
    for (let y = 0; y < c; y++) {
      const l = lp[i * c + y]!;
      if (l === Number.NEGATIVE_INFINITY) continue;
      kl += Math.exp(l) * (l - (logQ[y] as number));
    }
    acc += kl;
  }
  return acc / (hi - lo);
}

/** KL(p || q) from log p and log q. */
function kl(logP: ArrayLike<number>, logQ: ArrayLike<number>): number {
  let s = 0;
  for (let y = 0; y < logP.length; y++) {
    const l = logP[y] as number;
    if (l === Number.NEGATIVE_INFINITY) continue;
    s += Math.exp(l) * (l - (logQ[y] as number));
  }
  return s;
}

function splitScores(
  n: number,
  splits: number,
  who: string,
  score: (lo: number, hi: number) => number,
): SplitScore {
  if (!Number.isInteger(splits) || splits < 1 || splits > n) {
    throw new ValueError(`${who}: splits must be an integer in [1, n = ${n}], got ${splits}.`);
  }
  const vals: number[] = [];
  for (let k = 0; k < splits; k++) {
    // The reference code's split boundaries: [k n / S, (k + 1) n / S).
    vals.push(score(Math.floor((k * n) / splits), Math.floor(((k + 1) * n) / splits)));
  }
  const mean = vals.reduce((a, b) => a + b, 0) / splits;
  const ss = vals.reduce((a, v) => a + (v - mean) ** 2, 0);
  return {
    mean,
    std: Math.sqrt(ss / splits),
    stderr: splits > 1 ? Math.sqrt(ss / (splits - 1) / splits) : 0,
    splits: vals,
    full: score(0, n),
  };
}

/**
 * The Inception-style score (Salimans et al. 2016) exp(E_x KL(p(y | x) || p(y))), p(y) the mean
 * of p(y | x) over the split, computed per split of consecutive samples as the reference code
 * does (10 splits by default). Ranges from 1 (every sample gets the same prediction) to C
 * (confident, and balanced over the C classes).
 *
 * @example
 * ```ts
 * const is = inceptionScore(out.logProbs, out.n, 10); // { mean, std, stderr, splits, full }
 * ```
 */
export function inceptionScore(
  logProbs: Float64Array,
  n: number,
  numClasses: number,
  splits = 10,
): SplitScore {
  check(logProbs, n, numClasses, 'inceptionScore');
  return splitScores(n, splits, 'inceptionScore', (lo, hi) =>
    Math.exp(meanKl(logProbs, lo, hi, numClasses, logMarginal(logProbs, lo, hi, numClasses))),
  );
}

/** Which MODE score. */
export type ModeScoreForm = 'che' | 'marginal-penalty';

/** Options of {@link modeScore}. */
export interface ModeScoreOptions {
  /**
   * p*(y): `'uniform'` (1/C each: FlowGAN's reference code), or the training-label marginal as
   * numbers summing to 1 (the shipped classifiers carry theirs: `labelMarginal`).
   */
  marginal: 'uniform' | readonly number[];
  /**
   * `'che'` (default): exp(E_x KL(p(y|x) || p*) - KL(p(y) || p*)), the formula as written for
   * Che et al. 2017 and as FlowGAN's code computes it. Note: the p* terms cancel exactly
   * (E_x sum_y p(y|x) log p* = sum_y p(y) log p*), so this equals the Inception-style score for
   * EVERY p*; it is reported for comparison with published tables.
   * `'marginal-penalty'`: exp(E_x KL(p(y|x) || p(y)) - KL(p(y) || p*)) = IS * exp(-KL(p(y) ||
   * p*)), which does penalise a class balance unlike p*.
   */
  form?: ModeScoreForm;
  /** Splits of consecutive samples (as the reference code). Default 10. */
  splits?: number;
}

/** Checks and logs p*(y). */
function logReference(marginal: ModeScoreOptions['marginal'], c: number, who: string) {
  if (marginal === 'uniform') return new Float64Array(c).fill(-Math.log(c));
  if (!Array.isArray(marginal) || marginal.length !== c) {
    throw new ValueError(
      `${who}: marginal must be 'uniform' or ${c} probabilities (one per class), got ${Array.isArray(marginal) ? `${marginal.length} numbers` : String(marginal)}.`,
    );
  }
  const sum = marginal.reduce((a: number, b: number) => a + b, 0);
  if (marginal.some((p: number) => !(p > 0)) || Math.abs(sum - 1) > 1e-6) {
    throw new ValueError(
      `${who}: marginal must be positive probabilities summing to 1, got sum ${sum}.`,
    );
  }
  return Float64Array.from(marginal, (p: number) => Math.log(p));
}

/**
 * The MODE score of Che et al. 2017 over splits (see {@link ModeScoreOptions} for the two forms
 * and for why the first equals the Inception-style score whatever p* is).
 *
 * @example
 * ```ts
 * const ms = modeScore(out.logProbs, out.n, 10, { marginal: clf.labelMarginal });
 * ```
 */
export function modeScore(
  logProbs: Float64Array,
  n: number,
  numClasses: number,
  opts: ModeScoreOptions,
): SplitScore {
  check(logProbs, n, numClasses, 'modeScore');
  const logStar = logReference(opts?.marginal, numClasses, 'modeScore');
  const form = opts.form ?? 'che';
  if (form !== 'che' && form !== 'marginal-penalty') {
    throw new ValueError(`modeScore: form must be 'che' or 'marginal-penalty', got '${form}'.`);
  }
  return splitScores(n, opts.splits ?? 10, 'modeScore', (lo, hi) => {
    const logPy = logMarginal(logProbs, lo, hi, numClasses);
    const first = meanKl(logProbs, lo, hi, numClasses, form === 'che' ? logStar : logPy);
    return Math.exp(first - kl(logPy, logStar));
  });
}

/** What {@link classHistogram} returns. */
export interface ClassHistogram {
  /** Samples whose most probable class is y. */
  counts: number[];
  /** counts / n. */
  fractions: number[];
  /** The mean of p(y | x) over samples (the soft histogram, p(y)). */
  soft: number[];
  /** Classes with at least `minCount` samples. */
  modesCovered: number;
  /** Total variation distance between `fractions` and the reference (when given). */
  totalVariation?: number;
  /** KL(fractions || reference) in nats, with 0 log 0 = 0 (when a reference is given). */
  klToReference?: number;
}

/**
 * Per-class histogram of samples by the classifier's most probable class, the soft histogram
 * p(y), the number of classes covered, and its distance to a reference marginal (e.g. the
 * training labels'). A mode-collapsed model shows as missing or swollen classes.
 *
 * @example
 * ```ts
 * const h = classHistogram(out.logProbs, out.n, 10, { reference: clf.labelMarginal });
 * h.counts; // [1012, 1130, ...]
 * ```
 */
export function classHistogram(
  logProbs: Float64Array,
  n: number,
  numClasses: number,
  opts: { reference?: readonly number[]; minCount?: number } = {},
): ClassHistogram {
  check(logProbs, n, numClasses, 'classHistogram');
  const c = numClasses;
  const counts = new Array<number>(c).fill(0);
  const soft = new Array<number>(c).fill(0);
  for (let i = 0; i < n; i++) {
    let best = 0;
    for (let y = 0; y < c; y++) {
      const l = logProbs[i * c + y]!;
      soft[y]! += Math.exp(l);
      if (l > logProbs[i * c + best]!) best = y;
    }
    counts[best]!++;
  }
  const fractions = counts.map((k) => k / n);
  const minCount = opts.minCount ?? 1;
  const out: ClassHistogram = {
    counts,
    fractions,
    soft: soft.map((s) => s / n),
    modesCovered: counts.filter((k) => k >= minCount).length,
  };
  if (opts.reference) {
    const logRef = logReference(opts.reference, c, 'classHistogram');
    out.totalVariation =
      0.5 * fractions.reduce((a, f, y) => a + Math.abs(f - Math.exp(logRef[y]!)), 0);
    out.klToReference = kl(
      fractions.map((f) => Math.log(f)),
      logRef,
    );
  }
  return out;
}
