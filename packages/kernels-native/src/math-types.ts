/**
 * The names of the addon's elementwise functions, in op-code order: `unary(op, x, y)` takes
 * the index of a name here. The addon reports its own list with `unaryOps()`; look the code
 * up there rather than hard-coding it (`k.unaryOps().indexOf('exp')`).
 */
export type NativeUnaryOp =
  | 'exp'
  | 'expm1'
  | 'log'
  | 'log1p'
  | 'sigmoid'
  | 'tanh'
  | 'softplus'
  | 'sqrt'
  | 'rsqrt'
  | 'erf';

/**
 * The addon's vectorised elementwise functions (see native/src/dgm_math.c): float32 exp, expm1,
 * log, log1p, sigmoid, tanh, softplus, sqrt, rsqrt and erf, branch-free range-reduced polynomials
 * that the C compiler vectorises (AVX-512 / AVX2 / SSE2 clones on x86-64, picked at load time).
 *
 * Accuracy (max error over every float32 exponent against float64 references, measured by
 * src/math.test.ts): exp, log, log1p and sqrt within 1 ulp, expm1, tanh, rsqrt and erf within
 * 1.5 ulp, softplus within 2, sigmoid within 2.5. Special values follow C99: NaN propagates,
 * `exp(-Inf) = 0`, `exp(x > 88.72) = Inf`, `log(0) = -Inf`, `log(x < 0) = NaN`,
 * `log1p(-1) = -Inf`, `sigmoid(+-Inf) = 1 / 0`, `tanh(+-Inf) = +-1`, `softplus(-Inf) = 0`,
 * `rsqrt(0) = Inf`, `erf(+-Inf) = +-1`; odd functions keep the sign of zero; denormal inputs and
 * results keep the same bounds (no flush to zero). Every element of an array goes through the
 * same vector code, so results do not depend on the array's length or offset.
 */
export interface NativeMathKernels {
  /**
   * `y[i] = f(x[i])` for the function with op code `op` (an index into {@link unaryOps}).
   * `x` and `y` must have the same length (else a `RangeError`); `y` may be `x` itself (in
   * place) but must not otherwise overlap it (a `RangeError`). An unknown op code is a
   * `RangeError`, a non-Float32Array a `TypeError`.
   *
   * @example
   * ```ts
   * import { loadNative } from '@dgm-js/kernels-native';
   * const k = loadNative();
   * if (k) {
   *   const x = new Float32Array([0, 1, -Infinity]);
   *   k.unary(k.unaryOps().indexOf('exp'), x, x); // x = [1, 2.7182817, 0]
   * }
   * ```
   */
  unary(op: number, x: Float32Array, y: Float32Array): void;
  /**
   * The function names in op-code order (`unaryOps()[op]` is what `unary(op, ...)` computes).
   *
   * @example
   * ```ts
   * const ops = loadNative()?.unaryOps(); // ['exp', 'expm1', 'log', ...]
   * ```
   */
  unaryOps(): NativeUnaryOp[];
  /**
   * Fused Bernoulli cross-entropy with logits: `y[i] = softplus(l[i]) - x[i] l[i]` (when `y` is
   * given) and returns the sum over i, accumulated in double. Equal lengths.
   */
  bce(l: Float32Array, x: Float32Array, y: Float32Array | null): number;
  /**
   * Its gradient with respect to the logits: `out[i] = (g ? g[i] : gScalar) (sigmoid(l[i]) - x[i])`.
   */
  bceGrad(
    l: Float32Array,
    x: Float32Array,
    g: Float32Array | null,
    gScalar: number,
    out: Float32Array,
  ): void;
}
