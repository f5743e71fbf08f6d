/**
 * The checked calls into a VAE's parts: the posterior q(z | x) from the encoder, and log p(x | z)
 * and the mean of p(x | z) from the decoder, for latents with any leading shape (the decoder
 * sees them with one batch axis, as the `ConditionalDistribution` contract has it).
 */
import {
  type ConditionalDistribution,
  type Distribution,
  fmtShape,
  type GradientEstimator,
  ShapeError,
  tf,
  ValueError,
} from '@dgm-js/core-tensors';

type Tensor = tf.Tensor;

/** What the bounds and the training loss use of a VAE. */
export interface VaeParts {
  /** The model's name in error messages. */
  readonly kind: string;
  /** q(z | x). */
  readonly encoder: ConditionalDistribution<Tensor>;
  /** p(x | z). */
  readonly decoder: ConditionalDistribution<Tensor>;
  /** p(z): batch `[]`, event the latent shape. */
  readonly latentPrior: Distribution;
  /** The gradient estimator for latents without `rsample` (or to override it). */
  readonly estimator: GradientEstimator | undefined;
}

const sizeOf = (s: readonly number[]): number => s.reduce((a, b) => a * b, 1);
const same = (a: readonly number[], b: readonly number[]): boolean =>
  a.length === b.length && a.every((d, i) => d === b[i]);

/** Checks x is a live float32 tensor `[B, ...]` with B >= 1. */
export function checkX(x: Tensor, who: string): void {
  if (!(x instanceof tf.Tensor))
    throw new ValueError(`${who}: x must be a tf.Tensor [batch, ...].`);
  if (x.isDisposed) throw new ValueError(`${who}: x is a disposed tensor.`);
  if (x.rank < 2 || (x.shape[0] as number) < 1) {
    throw new ShapeError(
      `${who}: x has shape ${fmtShape(x.shape)}; pass a batch [batch, ...features] (add a leading axis for one example: tf.expandDims(x, 0)).`,
    );
  }
  if (x.dtype !== 'float32') throw new ValueError(`${who}: x must be float32, got ${x.dtype}.`);
}

/** q(z | x), checked to have batch `[B]` and the prior's event shape. The caller owns it. */
export function posterior(parts: VaeParts, x: Tensor, who: string): Distribution {
  checkX(x, who);
  const q = parts.encoder.condition(x);
  const b = x.shape[0] as number;
  const ls = parts.latentPrior.eventShape;
  if (!same(q.batchShape, [b]) || !same(q.eventShape, ls)) {
    q.dispose();
    throw new ShapeError(
      `${who}: the encoder returned q(z | x) with batch shape ${fmtShape(q.batchShape)} and event shape ${fmtShape(q.eventShape)} for x ${fmtShape(x.shape)}; ` +
        `it must have batch shape [${b}] (one distribution per example) and the prior's event shape ${fmtShape(ls)}.`,
    );
  }
  return q;
}

/** Checks latents `[..., ...latentShape]` and returns the leading shape. */
export function leadOf(parts: VaeParts, z: Tensor, who: string): number[] {
  const ls = parts.latentPrior.eventShape;
  const r = ls.length;
  const ok =
    z instanceof tf.Tensor && z.rank >= r && ls.every((d, i) => z.shape[z.rank - r + i] === d);
  if (!ok) {
    throw new ShapeError(
      `${who}: z has shape ${z instanceof tf.Tensor ? fmtShape(z.shape) : String(z)}; latents must end in the latent shape ${fmtShape(ls)} ([..., ${ls.join(', ')}]).`,
    );
  }
  return z.shape.slice(0, z.rank - r);
}

/**
 * p(x | z) for latents `[...lead, ...latentShape]` flattened to `[n, ...latentShape]`: a
 * distribution of batch `[n]` (checked) the caller owns, with the flattened latents `zf` (`z`
 * itself when lead has one axis; else a tensor the decoder's distribution may hold by reference,
 * so the caller disposes it after `px`).
 */
export function decodeFlat(
  parts: VaeParts,
  z: Tensor,
  who: string,
): { px: Distribution; lead: number[]; zf: Tensor } {
  const lead = leadOf(parts, z, who);
  const n = sizeOf(lead);
  const zf = lead.length === 1 ? z : tf.reshape(z, [n, ...parts.latentPrior.eventShape]);
  const free = () => {
    if (zf !== z) zf.dispose();
  };
  let px: Distribution;
  try {
    px = parts.decoder.condition(zf);
  } catch (e) {
    free();
    throw e;
  }
  if (!same(px.batchShape, [n])) {
    px.dispose();
    free();
    throw new ShapeError(
      `${who}: the decoder returned p(x | z) with batch shape ${fmtShape(px.batchShape)} for latents [${n}, ${parts.latentPrior.eventShape.join(', ')}]; it must have batch shape [${n}] (one distribution per latent).`,
    );
  }
  return { px, lead, zf };
}

/** Disposes what {@link decodeFlat} returned. */
function release(d: { px: Distribution; zf: Tensor }, z: Tensor): void {
  d.px.dispose();
  if (d.zf !== z) d.zf.dispose();
}

/**
 * log p(x | z) `[...lead]` for latents `[...lead, ...latentShape]` whose leading shape ends in
 * x's batch size B (`[B]`, or `[k, B]` for k samples per example). x `[B, ...]` is reshaped to
 * the decoder's event shape (so flat decoders score NHWC images) and repeated over the samples.
 */
export function logLikelihood(parts: VaeParts, z: Tensor, x: Tensor, who: string): Tensor {
  // a likelihood with a bounded support (Bernoulli: [0, 1]) checks the data first
  const dec = parts.decoder as { checkObservation?: (x: Tensor, who: string) => void };
  if (typeof dec.checkObservation === 'function') dec.checkObservation(x, who);
  const d = decodeFlat(parts, z, who);
  const { px, lead } = d;
  try {
    return tf.tidy(() => {
      const b = x.shape[0] as number;
      const ev = px.eventShape;
      const d = x.size / b;
      if (sizeOf(ev) !== d) {
        throw new ShapeError(
          `${parts.kind}: the decoder returned ${sizeOf(ev)} values per example (event shape ${fmtShape(ev)}) but x has ${d} (${fmtShape(x.shape)}); size the decoder's last layer to ${d}.`,
        );
      }
      if (lead[lead.length - 1] !== b) {
        throw new ShapeError(
          `${who}: latents of leading shape ${fmtShape(lead)} do not end in x's batch size ${b}.`,
        );
      }
      const n = sizeOf(lead);
      const xr = same(x.shape.slice(1), ev) ? x : tf.reshape(x, [b, ...ev]);
      const xt = n === b ? xr : tf.tile(xr, [n / b, ...ev.map(() => 1)]);
      return tf.reshape(px.logProb(xt), lead);
    });
  } finally {
    release(d, z);
  }
}

/** The mean of p(x | z) for latents `[...lead, ...latentShape]`: `[...lead, ...eventShape]`. */
export function decodeMean(parts: VaeParts, z: Tensor, who: string): Tensor {
  const d = decodeFlat(parts, z, who);
  try {
    return tf.tidy(() => tf.reshape(d.px.mean, [...d.lead, ...d.px.eventShape]));
  } finally {
    release(d, z);
  }
}
