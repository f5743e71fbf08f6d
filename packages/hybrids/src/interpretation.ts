/**
 * The lecture's "alternative interpretation" of the ELBO, as code, for a tiny model whose x and z
 * are both enumerable: with the joint q(z, x) = p_data(x) q(z | x),
 *
 *   KL(q(z, x) || p(z, x)) = sum_{x,z} q(z,x) [log p_data(x) + log q(z|x) - log p(x, z)]
 *                          = -H(p_data) - E_{p_data}[ELBO(x)],
 *
 * so maximising the expected ELBO over the model and the encoder is minimising the joint KL: the
 * two differ by the data entropy only, which no parameter changes. Float64 JavaScript, exact
 * enumeration.
 */
import { ShapeError, ValueError } from '@dgm-js/core-tensors';

/** A tiny discrete latent variable model with X observations and Z latent values. */
export interface EnumerableModel {
  /** p_data(x): X probabilities summing to 1. */
  pData: readonly number[];
  /** p(z): Z probabilities summing to 1. */
  prior: readonly number[];
  /** p(x | z): Z rows of X probabilities, each summing to 1 (`likelihood[z][x]`). */
  likelihood: readonly (readonly number[])[];
  /** q(z | x): X rows of Z probabilities, each summing to 1 (`posterior[x][z]`). */
  posterior: readonly (readonly number[])[];
}

/** What {@link alternativeInterpretation} returns (nats). */
export interface AlternativeInterpretation {
  /** E_{p_data}[ELBO(x)] = sum_x p_data(x) sum_z q(z|x) [log p(x,z) - log q(z|x)]. */
  expectedElbo: number;
  /** -KL(q(z, x) || p(z, x)) with q(z, x) = p_data(x) q(z | x). */
  negJointKl: number;
  /** H(p_data) = -sum_x p_data(x) log p_data(x). */
  dataEntropy: number;
  /** The ELBO of each x (`-Infinity` where q(z|x) puts mass on a z with p(x, z) = 0). */
  elbo: number[];
}

const TOL = 1e-9;

function checkProbs(p: unknown, n: number | undefined, what: string, who: string): number[] {
  if (!Array.isArray(p) || p.length === 0) {
    throw new ValueError(`${who}: ${what} must be a non-empty array of probabilities.`);
  }
  if (n !== undefined && p.length !== n) {
    throw new ShapeError(
      `${who}: ${what} has ${p.length} entries, expected ${n} (one per value of the other variable).`,
    );
  }
  let s = 0;
  for (const v of p) {
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) {
      throw new ValueError(
        `${who}: ${what} holds ${String(v)}; probabilities must be finite and >= 0.`,
      );
    }
    s += v;
  }
  if (Math.abs(s - 1) > TOL) {
    throw new ValueError(`${who}: ${what} sums to ${s}, not 1; normalise it first.`);
  }
  return p as number[];
}

function checkRows(m: unknown, rows: number, cols: number | undefined, what: string, who: string) {
  if (!Array.isArray(m) || m.length !== rows) {
    throw new ShapeError(
      `${who}: ${what} must have ${rows} rows, got ${Array.isArray(m) ? m.length : typeof m}.`,
    );
  }
  return m.map((r, i) => checkProbs(r, cols, `${what}[${i}]`, who));
}

/** x log x with 0 log 0 = 0 (internal). */
function xlogy(x: number, y: number): number {
  return x === 0 ? 0 : x * Math.log(y);
}

/**
 * E_{p_data}[ELBO] and -KL(q(z, x) || p(z, x)) of a tiny enumerable model, computed separately by
 * enumerating every (x, z): `negJointKl - expectedElbo` equals `dataEntropy` (to rounding) for
 * every model and encoder, the lecture's "alternative interpretation" of VAE training.
 *
 * @example
 * ```ts
 * import { alternativeInterpretation } from '@dgm-js/hybrids';
 * const r = alternativeInterpretation({
 *   pData: [0.5, 0.3, 0.2],
 *   prior: [0.6, 0.4],
 *   likelihood: [[0.7, 0.2, 0.1], [0.1, 0.3, 0.6]],
 *   posterior: [[0.9, 0.1], [0.5, 0.5], [0.2, 0.8]],
 * });
 * r.negJointKl - r.expectedElbo; // === r.dataEntropy (1.0297 nats) up to rounding
 * ```
 */
export function alternativeInterpretation(model: EnumerableModel): AlternativeInterpretation {
  const who = 'alternativeInterpretation';
  if (!model || typeof model !== 'object') {
    throw new ValueError(`${who}: pass { pData, prior, likelihood, posterior }.`);
  }
  const pData = checkProbs(model.pData, undefined, 'pData', who);
  const prior = checkProbs(model.prior, undefined, 'prior', who);
  const nx = pData.length;
  const nz = prior.length;
  const lik = checkRows(model.likelihood, nz, nx, 'likelihood (one row per z)', who);
  const post = checkRows(model.posterior, nx, nz, 'posterior (one row per x)', who);

  // E_pdata[ELBO]: per x, sum_z q(z|x) [log p(z) + log p(x|z) - log q(z|x)]
  const elbo: number[] = [];
  let expectedElbo = 0;
  for (let x = 0; x < nx; x++) {
    let e = 0;
    for (let z = 0; z < nz; z++) {
      const q = post[x]![z]!;
      if (q === 0) continue;
      e += q * (Math.log(prior[z]! * lik[z]![x]!) - Math.log(q));
    }
    elbo.push(e);
    if (pData[x]! > 0) expectedElbo += pData[x]! * e;
  }
  // -KL(q(z,x) || p(z,x)) over the joint table, without the ELBO's decomposition
  let kl = 0;
  for (let x = 0; x < nx; x++) {
    for (let z = 0; z < nz; z++) {
      const qzx = pData[x]! * post[x]![z]!;
      if (qzx === 0) continue;
      kl += qzx * (Math.log(qzx) - Math.log(prior[z]! * lik[z]![x]!));
    }
  }
  let dataEntropy = 0;
  for (const p of pData) dataEntropy -= xlogy(p, p);
  return { expectedElbo, negJointKl: -kl, dataEntropy: dataEntropy + 0, elbo };
}
