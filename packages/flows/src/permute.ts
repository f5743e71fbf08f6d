/**
 * Fixed permutations of the last axis: `Permute` (any permutation, e.g. a random one) and
 * `Reverse`. Volume preserving: logDetJ = 0.
 */
import {
  checkInt,
  customGrad,
  fmtShape,
  type Rng,
  ShapeError,
  tf,
  ValueError,
} from '@dgm-js/core-tensors';
import { BaseBijector, checkInput, type ForwardResult, type InverseResult } from './bijector.js';

type Tensor = tf.Tensor;

/**
 * A uniformly random permutation of `0..n-1` drawn from `rng` (Fisher-Yates).
 *
 * @example
 * ```ts
 * randomPermutation(4, new Rng(0)); // e.g. [2, 0, 3, 1]
 * ```
 */
export function randomPermutation(n: number, rng: Rng): number[] {
  checkInt(n, 'n', 'randomPermutation');
  const p = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rng.float() * (i + 1));
    const t = p[i] as number;
    p[i] = p[j] as number;
    p[j] = t;
  }
  return p;
}

function checkPermutation(perm: readonly number[], who: string): void {
  const n = perm.length;
  if (n === 0) throw new ValueError(`${who}: the permutation is empty.`);
  const seen = new Array<boolean>(n).fill(false);
  for (let i = 0; i < n; i++) {
    const v = perm[i] as number;
    if (!Number.isInteger(v) || v < 0 || v >= n || seen[v]) {
      throw new ValueError(
        `${who}: permutation must hold each of 0..${n - 1} exactly once; entry ${i} is ${v}${seen[v] ? ' (repeated)' : ''}.`,
      );
    }
    seen[v] = true;
  }
}

/**
 * Permutes the last axis: `y[..., i] = x[..., perm[i]]`. The permutation is a buffer (saved
 * and loaded with the module). Between coupling layers it lets every dimension be transformed.
 *
 * @example
 * ```ts
 * const p = new Permute([2, 0, 1]);
 * p.forward(tf.tensor2d([[10, 20, 30]])).y.print(); // [[30, 10, 20]]
 * ```
 */
export class Permute extends BaseBijector {
  readonly dim: number;
  readonly permutation: readonly number[];
  private readonly perm: tf.Variable;
  private readonly inv: tf.Variable;

  constructor(permutation: readonly number[], kind = 'Permute') {
    super(kind);
    checkPermutation(permutation, kind);
    this.dim = permutation.length;
    this.permutation = [...permutation];
    const inv = new Array<number>(this.dim);
    permutation.forEach((p, i) => {
      inv[p] = i;
    });
    this.perm = this.addBuffer('perm', tf.tensor1d(permutation as number[], 'int32'));
    this.inv = this.addBuffer('inversePerm', tf.tensor1d(inv, 'int32'));
  }

  /** A random permutation of `dim` from `rng`. */
  static random(dim: number, rng: Rng): Permute {
    return new Permute(randomPermutation(dim, rng));
  }

  /**
   * Gathers the last axis by `idx`, with the gradient as a gather by the inverse permutation
   * (tfjs's own Gather gradient needs UnsortedSegmentSum, which the wasm backend lacks).
   */
  private gatherLast(x: Tensor, idx: Tensor, inv: Tensor): Tensor {
    const axis = x.rank - 1;
    const f = customGrad<[Tensor]>((xi) => ({
      value: tf.gather(xi, idx, axis),
      gradFunc: (dy: Tensor) => tf.gather(dy, inv, axis),
    }));
    return f(x);
  }

  forward(x: Tensor): ForwardResult {
    checkInput(x, this.dim, `${this.label}.forward`, 'x', true);
    return tf.tidy(() => ({
      y: this.gatherLast(x, this.perm, this.inv),
      logDetJ: tf.zeros([x.shape[0] as number]),
    }));
  }

  inverse(y: Tensor): InverseResult {
    checkInput(y, this.dim, `${this.label}.inverse`, 'y', true);
    return tf.tidy(() => ({
      x: this.gatherLast(y, this.inv, this.perm),
      logDetJ: tf.zeros([y.shape[0] as number]),
    }));
  }
}

/**
 * Reverses the last axis (MAF's choice between autoregressive layers).
 *
 * @example
 * ```ts
 * new Reverse(3).forward(tf.tensor2d([[1, 2, 3]])).y.print(); // [[3, 2, 1]]
 * ```
 */
export class Reverse extends Permute {
  constructor(dim: number) {
    checkInt(dim, 'dim', 'Reverse');
    super(
      Array.from({ length: dim }, (_, i) => dim - 1 - i),
      'Reverse',
    );
  }
}

/** Throws unless `mask` is a 0/1 vector with at least one 0 and one 1. */
export function readCouplingMask(mask: readonly number[] | Tensor, who: string): number[] {
  const m = mask instanceof tf.Tensor ? Array.from(mask.dataSync()) : [...mask];
  if (mask instanceof tf.Tensor && mask.rank !== 1) {
    throw new ShapeError(`${who}: mask must be a vector [D], got ${fmtShape(mask.shape)}.`);
  }
  if (m.length === 0) throw new ValueError(`${who}: mask is empty.`);
  for (let i = 0; i < m.length; i++) {
    if (m[i] !== 0 && m[i] !== 1) {
      throw new ValueError(`${who}: mask entries must be 0 or 1, got ${m[i]} at index ${i}.`);
    }
  }
  if (!m.includes(0) || !m.includes(1)) {
    throw new ValueError(
      `${who}: mask needs at least one 1 (a dimension passed through and fed to the conditioner) and one 0 (a dimension transformed); got [${m.join(', ')}].`,
    );
  }
  return m;
}

/**
 * The alternating (checkerboard on a vector) mask `[1, 0, 1, 0, ...]` (parity 0) or
 * `[0, 1, 0, 1, ...]` (parity 1). 1 marks a dimension the coupling passes through unchanged.
 *
 * @example
 * ```ts
 * alternatingMask(4, 0); // [1, 0, 1, 0]
 * ```
 */
export function alternatingMask(dim: number, parity: 0 | 1): number[] {
  checkInt(dim, 'dim', 'alternatingMask');
  return Array.from({ length: dim }, (_, i) => ((i + parity) % 2 === 0 ? 1 : 0));
}

/**
 * The half mask: the first `ceil(dim / 2)` dimensions pass through (`first` true) or the last
 * `floor(dim / 2)` do (`first` false, the complement).
 *
 * @example
 * ```ts
 * halfMask(5, true);  // [1, 1, 1, 0, 0]
 * halfMask(5, false); // [0, 0, 0, 1, 1]
 * ```
 */
export function halfMask(dim: number, first: boolean): number[] {
  checkInt(dim, 'dim', 'halfMask');
  const h = Math.ceil(dim / 2);
  return Array.from({ length: dim }, (_, i) => (i < h === first ? 1 : 0));
}
