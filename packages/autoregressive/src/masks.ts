/**
 * MADE connectivity (Germain et al. 2015, section 4): orderings, degrees and the 0/1 masks
 * they imply. Degrees are 1-based: the input of the dimension at position r of the ordering has
 * degree r + 1; a hidden unit of degree m may see inputs of degree <= m; the output of the
 * dimension of degree m may see hidden units (and, through direct connections, inputs) of
 * degree < m. So output d depends only on the inputs before d in the ordering.
 */
import { Rng, ValueError } from '@dgm-js/core-tensors';

/** An ordering of D dimensions: a named one, or an explicit permutation of 0..D-1. */
export type OrderingSpec = 'natural' | 'reverse' | 'random' | readonly number[];

/** How hidden-unit degrees are chosen: evenly spread over 1..D-1, or drawn at random. */
export type HiddenDegrees = 'equal' | 'random';

/**
 * Checks that `order` is a permutation of 0..D-1 (throws a ValueError naming what is wrong).
 *
 * @example
 * ```ts
 * checkOrdering([2, 0, 1], 3, 'Made'); // ok
 * checkOrdering([0, 0, 1], 3, 'Made'); // ValueError: 0 appears twice
 * ```
 */
export function checkOrdering(order: readonly number[], dim: number, who: string): void {
  if (order.length !== dim) {
    throw new ValueError(
      `${who}: ordering must be a permutation of 0..${dim - 1} (length ${dim}), got length ${order.length}.`,
    );
  }
  const seen = new Uint8Array(dim);
  for (const d of order) {
    if (!Number.isInteger(d) || d < 0 || d >= dim) {
      throw new ValueError(
        `${who}: ordering entries must be integers in [0, ${dim - 1}], got ${d}.`,
      );
    }
    if (seen[d]) throw new ValueError(`${who}: ordering is not a permutation: ${d} appears twice.`);
    seen[d] = 1;
  }
}

/**
 * The ordering as a list: `order[r]` is the dimension generated at step r.
 *
 * @example
 * ```ts
 * resolveOrdering('reverse', 4, new Rng(0)); // [3, 2, 1, 0]
 * resolveOrdering('random', 4, new Rng(0));  // a seeded permutation
 * ```
 */
export function resolveOrdering(
  spec: OrderingSpec,
  dim: number,
  rng: Rng,
  who = 'ordering',
): number[] {
  if (spec === 'natural') return Array.from({ length: dim }, (_, i) => i);
  if (spec === 'reverse') return Array.from({ length: dim }, (_, i) => dim - 1 - i);
  if (spec === 'random') return permutation(dim, rng);
  if (Array.isArray(spec)) {
    checkOrdering(spec, dim, who);
    return [...spec];
  }
  throw new ValueError(
    `${who}: ordering must be 'natural', 'reverse', 'random' or a permutation array, got ${JSON.stringify(spec)}.`,
  );
}

/**
 * A seeded uniform permutation of 0..n-1 (Fisher-Yates).
 *
 * @example
 * ```ts
 * permutation(5, new Rng(3)); // e.g. [2, 0, 4, 1, 3], the same for the same seed
 * ```
 */
export function permutation(n: number, rng: Rng): number[] {
  const p = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rng.float() * (i + 1));
    const t = p[i]!;
    p[i] = p[j]!;
    p[j] = t;
  }
  return p;
}

/** The degrees of one MADE connectivity. */
export interface MadeDegrees {
  /** The ordering used: `ordering[r]` is generated at step r. */
  readonly ordering: readonly number[];
  /** Per dimension d: its degree, rank of d in the ordering + 1 (in 1..D). */
  readonly dimDegrees: Int32Array;
  /** Per hidden layer, per unit: its degree (in [min(1, D-1), D-1]). */
  readonly hidden: readonly Int32Array[];
}

/**
 * Degrees of every unit for an ordering and hidden sizes. 'equal' spreads hidden degrees evenly
 * over 1..D-1 (unit k of h gets 1 + floor(k (D-1) / h); deterministic); 'random' draws each unit's degree
 * uniformly from [lowest degree of the previous layer, D-1] as Germain et al. do.
 *
 * @example
 * ```ts
 * const deg = madeDegrees([0, 1, 2], [4], 'equal', new Rng(0));
 * deg.hidden[0]; // Int32Array [1, 1, 2, 2]
 * ```
 */
export function madeDegrees(
  ordering: readonly number[],
  hiddenSizes: readonly number[],
  strategy: HiddenDegrees,
  rng: Rng,
): MadeDegrees {
  const dim = ordering.length;
  const dimDegrees = new Int32Array(dim);
  ordering.forEach((d, r) => {
    dimDegrees[d] = r + 1;
  });
  const maxDeg = Math.max(1, dim - 1);
  const minDeg0 = Math.min(1, dim - 1);
  const hidden: Int32Array[] = [];
  let prevMin = minDeg0;
  for (const h of hiddenSizes) {
    const deg = new Int32Array(h);
    if (dim === 1) deg.fill(0);
    else if (strategy === 'equal') {
      // evenly spread over 1..D-1 (a plain k % (D-1) cycle would leave degrees > h unused
      // when h < D - 1, cutting every late dimension off from the inputs just before it)
      for (let k = 0; k < h; k++) deg[k] = 1 + Math.floor((k * maxDeg) / h);
    } else if (strategy === 'random') {
      const lo = Math.min(prevMin, dim - 1);
      for (let k = 0; k < h; k++) deg[k] = lo + Math.floor(rng.float() * (dim - lo));
    } else {
      throw new ValueError(
        `madeDegrees: hiddenDegrees must be 'equal' or 'random', got ${JSON.stringify(strategy)}.`,
      );
    }
    let m = Number.POSITIVE_INFINITY;
    for (const v of deg) m = Math.min(m, v);
    prevMin = h > 0 ? m : prevMin;
    hidden.push(deg);
  }
  return { ordering: [...ordering], dimDegrees, hidden };
}

/**
 * The mask `[inUnits, outUnits]` (row-major, 1 = connected) between units of the given
 * degrees: `outDeg >= inDeg` for hidden layers, `outDeg > inDeg` (strict) into the outputs.
 *
 * @example
 * ```ts
 * degreeMask(Int32Array.of(1, 2), Int32Array.of(1, 2), true); // [0, 1, 0, 0]: out 2 sees in 1
 * ```
 */
export function degreeMask(inDeg: Int32Array, outDeg: Int32Array, strict: boolean): Float32Array {
  const m = new Float32Array(inDeg.length * outDeg.length);
  const nOut = outDeg.length;
  for (let i = 0; i < inDeg.length; i++) {
    const a = inDeg[i]!;
    const row = i * nOut;
    for (let o = 0; o < nOut; o++) {
      const b = outDeg[o]!;
      m[row + o] = strict ? (b > a ? 1 : 0) : b >= a ? 1 : 0;
    }
  }
  return m;
}

/** Repeats each degree `times` times in place order: [a, b] x2 -> [a, a, b, b]. */
export function repeatDegrees(deg: Int32Array, times: number): Int32Array {
  if (times === 1) return deg;
  const out = new Int32Array(deg.length * times);
  for (let i = 0; i < deg.length; i++) out.fill(deg[i]!, i * times, (i + 1) * times);
  return out;
}

/** A fresh Rng for mask number `index` of a model whose masks come from `seed`. */
export function maskRng(seed: number, index: number): Rng {
  return new Rng(seed + 0x9e3779b1 * (index + 1));
}
