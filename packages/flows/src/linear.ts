/**
 * Learned invertible linear maps in LU form (Kingma and Dhariwal 2018, Glow's invertible 1x1
 * convolution): W = P L (U + diag(sign * exp(logS))), log|det W| = sum(logS).
 */
import { checkInt, customGrad, type Rng, tf } from '@dgm-js/core-tensors';
import {
  BaseBijector,
  broadcast,
  checkInput,
  type ForwardResult,
  type InverseResult,
} from './bijector.js';

type Tensor = tf.Tensor;

/**
 * LU decomposition with partial pivoting of a square row-major float64 matrix:
 * A = P L U with P a permutation matrix, L unit lower triangular, U upper triangular.
 *
 * @example
 * ```ts
 * const { p, l, u } = luDecompose(Float64Array.from([0, 1, 1, 0]), 2);
 * ```
 */
export function luDecompose(
  a: ArrayLike<number>,
  n: number,
): { p: Float64Array; l: Float64Array; u: Float64Array } {
  const u = Float64Array.from(a);
  const l = new Float64Array(n * n);
  const rows = Array.from({ length: n }, (_, i) => i);
  for (let k = 0; k < n; k++) {
    let piv = k;
    for (let i = k + 1; i < n; i++) {
      if (Math.abs(u[i * n + k] as number) > Math.abs(u[piv * n + k] as number)) piv = i;
    }
    if (piv !== k) {
      for (let j = 0; j < n; j++) {
        const t = u[k * n + j] as number;
        u[k * n + j] = u[piv * n + j] as number;
        u[piv * n + j] = t;
        const s = l[k * n + j] as number;
        l[k * n + j] = l[piv * n + j] as number;
        l[piv * n + j] = s;
      }
      const r = rows[k] as number;
      rows[k] = rows[piv] as number;
      rows[piv] = r;
    }
    const d = u[k * n + k] as number;
    for (let i = k + 1; i < n; i++) {
      const f = d === 0 ? 0 : (u[i * n + k] as number) / d;
      l[i * n + k] = f;
      for (let j = k; j < n; j++)
        u[i * n + j] = (u[i * n + j] as number) - f * (u[k * n + j] as number);
    }
  }
  for (let i = 0; i < n; i++) l[i * n + i] = 1;
  // rows[i] is the original row now at position i: (P^T A)[i] = A[rows[i]], so P[rows[i], i] = 1.
  const p = new Float64Array(n * n);
  for (let i = 0; i < n; i++) p[(rows[i] as number) * n + i] = 1;
  return { p, l, u };
}

/** Inverse of a triangular row-major matrix by substitution, in float64. */
function triangularInverse(t: ArrayLike<number>, n: number, lower: boolean): Float64Array {
  const inv = new Float64Array(n * n);
  // Solve T X = I column by column.
  for (let c = 0; c < n; c++) {
    if (lower) {
      for (let i = 0; i < n; i++) {
        let s = i === c ? 1 : 0;
        for (let k = 0; k < i; k++) s -= (t[i * n + k] as number) * (inv[k * n + c] as number);
        inv[i * n + c] = s / (t[i * n + i] as number);
      }
    } else {
      for (let i = n - 1; i >= 0; i--) {
        let s = i === c ? 1 : 0;
        for (let k = i + 1; k < n; k++) s -= (t[i * n + k] as number) * (inv[k * n + c] as number);
        inv[i * n + c] = s / (t[i * n + i] as number);
      }
    }
  }
  return inv;
}

/**
 * The inverse of a triangular matrix (a `[n, n]` tensor whose other triangle is zero), with
 * its gradient d(T^-1) = -T^-1 dT T^-1. The substitution runs in float64 on the CPU (one
 * read-back); use it for moderate n.
 *
 * @example
 * ```ts
 * invertTriangular(tf.tensor2d([[2, 0], [1, 1]]), true).print(); // [[0.5, 0], [-0.5, 1]]
 * ```
 */
export function invertTriangular(t: Tensor, lower: boolean): Tensor {
  const n = t.shape[0] as number;
  const f = customGrad<[Tensor]>((ti, save) => {
    const inv = tf.tensor2d(Float32Array.from(triangularInverse(ti.dataSync(), n, lower)), [n, n]);
    save([inv]);
    return {
      value: inv,
      gradFunc: (dy: Tensor, saved: Tensor[]) => {
        const m = saved[0] as Tensor;
        // dL/dT = -M^T G M^T
        return tf.neg(tf.matMul(tf.matMul(m, dy, true, false), m, false, true));
      },
    };
  });
  return f(t);
}

/** Options of {@link LULinear}. */
export interface LULinearOptions {
  /** Seeds the initial random rotation. */
  rng: Rng;
  /**
   * 'rotation' (default): W starts as a random orthogonal matrix (Glow); 'identity': W = I.
   */
  init?: 'rotation' | 'identity';
}

/**
 * A learned invertible linear map of the last axis, y = x W, with W = P L (U + diag(s)),
 * s = sign * exp(logS): P a fixed permutation, L unit lower triangular, U strictly upper
 * triangular (Glow's LU parametrisation). log|det W| = sum(logS) per position, so for inputs
 * `[N, ..., C]` (images NHWC: a 1x1 convolution) logDetJ = positions * sum(logS).
 *
 * `forward` is a matrix product; `inverse` needs W^-1 = (U + diag s)^-1 L^-1 P^T, computed by
 * triangular substitution on the CPU (differentiable, O(C^3) per call). Where the inverse is the
 * hot direction of a large model, wrap it: `new Invert(new LULinear(...))`.
 *
 * @example
 * ```ts
 * const lin = new LULinear(3, { rng: new Rng(0) });
 * const { y, logDetJ } = lin.forward(tf.randomNormal([5, 3]));
 * ```
 */
export class LULinear extends BaseBijector {
  readonly dim: number;
  readonly lower: tf.Variable;
  readonly upper: tf.Variable;
  readonly logS: tf.Variable;
  private readonly perm: tf.Variable;
  private readonly sign: tf.Variable;
  private readonly lowerMask: Tensor;
  private readonly upperMask: Tensor;
  private readonly eye: Tensor;

  constructor(dim: number, opts: LULinearOptions, kind = 'LULinear') {
    super(kind);
    checkInt(dim, 'dim', kind);
    this.dim = dim;
    const n = dim;
    let a: Float64Array;
    if ((opts.init ?? 'rotation') === 'rotation') {
      // A random orthogonal matrix from the QR decomposition of a Gaussian matrix.
      const q = tf.tidy(() => {
        const g = tf.randomNormal([n, n], 0, 1, 'float32', opts.rng.next());
        return tf.linalg.qr(g as tf.Tensor2D)[0];
      });
      a = Float64Array.from(q.dataSync());
      q.dispose();
    } else {
      a = new Float64Array(n * n);
      for (let i = 0; i < n; i++) a[i * n + i] = 1;
    }
    const { p, l, u } = luDecompose(a, n);
    const diag = Array.from({ length: n }, (_, i) => u[i * n + i] as number);
    for (let i = 0; i < n; i++) u[i * n + i] = 0;
    this.perm = this.addBuffer('perm', tf.tensor2d(Float32Array.from(p), [n, n]));
    this.sign = this.addBuffer('sign', tf.tensor1d(diag.map((d) => (d < 0 ? -1 : 1))));
    const lo = Float32Array.from(l);
    for (let i = 0; i < n; i++) lo[i * n + i] = 0;
    this.lower = this.addParameter('lower', tf.tensor2d(lo, [n, n]));
    this.upper = this.addParameter('upper', tf.tensor2d(Float32Array.from(u), [n, n]));
    this.logS = this.addParameter(
      'logS',
      tf.tensor1d(diag.map((d) => Math.log(Math.max(Math.abs(d), 1e-12)))),
    );
    const lm = new Float32Array(n * n);
    const um = new Float32Array(n * n);
    for (let i = 0; i < n; i++)
      for (let j = 0; j < n; j++) {
        if (j < i) lm[i * n + j] = 1;
        if (j > i) um[i * n + j] = 1;
      }
    this.lowerMask = tf.keep(tf.tensor2d(lm, [n, n]));
    this.upperMask = tf.keep(tf.tensor2d(um, [n, n]));
    this.eye = tf.keep(tf.eye(n));
  }

  private lMat(): Tensor {
    return tf.add(tf.mul(this.lower, this.lowerMask), this.eye);
  }

  private uMat(): Tensor {
    return tf.add(
      tf.mul(this.upper, this.upperMask),
      tf.mul(this.eye, tf.mul(this.sign, tf.exp(this.logS))),
    );
  }

  /**
   * The current weight W = P L (U + diag(s)), `[dim, dim]` (y = x W).
   *
   * @example
   * ```ts
   * lin.weight().print();
   * ```
   */
  weight(): Tensor {
    return tf.tidy(() => tf.matMul(this.perm, tf.matMul(this.lMat(), this.uMat())));
  }

  private positions(x: Tensor): number {
    let p = 1;
    for (let i = 1; i < x.rank - 1; i++) p *= x.shape[i] as number;
    return p;
  }

  private apply2d(x: Tensor, w: Tensor): Tensor {
    const flat = x.rank === 2 ? x : tf.reshape(x, [-1, this.dim]);
    const y = tf.matMul(flat, w);
    return x.rank === 2 ? y : tf.reshape(y, x.shape);
  }

  forward(x: Tensor): ForwardResult {
    checkInput(x, this.dim, `${this.label}.forward`, 'x', true);
    return tf.tidy(() => ({
      y: this.apply2d(x, this.weight()),
      logDetJ: broadcast(tf.mul(tf.sum(this.logS), this.positions(x)), [x.shape[0] as number]),
    }));
  }

  inverse(y: Tensor): InverseResult {
    checkInput(y, this.dim, `${this.label}.inverse`, 'y', true);
    return tf.tidy(() => {
      // W^-1 = U^-1 L^-1 P^T
      const winv = tf.matMul(
        tf.matMul(invertTriangular(this.uMat(), false), invertTriangular(this.lMat(), true)),
        this.perm,
        false,
        true,
      );
      return {
        x: this.apply2d(y, winv),
        logDetJ: broadcast(tf.mul(tf.sum(this.logS), -this.positions(y)), [y.shape[0] as number]),
      };
    });
  }

  override dispose(): void {
    if (this.isDisposed) return;
    super.dispose();
    tf.dispose([this.lowerMask, this.upperMask, this.eye]);
  }
}

/**
 * Glow's invertible 1x1 convolution: {@link LULinear} over the channel axis of NHWC images
 * (`[N, H, W, C]`), logDetJ = H W sum(logS).
 *
 * @example
 * ```ts
 * const conv = new InvertibleConv1x1(3, { rng: new Rng(0) });
 * const { y } = conv.forward(tf.randomNormal([2, 8, 8, 3]));
 * ```
 */
export class InvertibleConv1x1 extends LULinear {
  constructor(channels: number, opts: LULinearOptions) {
    super(channels, opts, 'InvertibleConv1x1');
  }
}
