/** The addon's fused optimizer update and memory-bound ops (see native/src/dgm_ops.c). */
export interface NativeOpsKernels {
  /**
   * One Adam step in place (tf.train.adam's update in a single pass, float32):
   * `m = beta1 m + (1 - beta1) g`, `v = beta2 v + (1 - beta2) g^2`,
   * `param += -lr (m / c1) / (sqrt(v / c2) + eps)` with `c1 = 1 - beta1^t`, `c2 = 1 - beta2^t`.
   * All four arrays must have the same length.
   */
  adam(
    param: Float32Array,
    grad: Float32Array,
    m: Float32Array,
    v: Float32Array,
    lr: number,
    beta1: number,
    beta2: number,
    eps: number,
    c1: number,
    c2: number,
  ): void;
  /** `out[j] = sum_i x[i * cols + j]` over `rows` rows (accumulated in float64). */
  sumLeading(x: Float32Array, rows: number, cols: number, out: Float32Array): void;
  /** `out[i] = sum_j x[i * cols + j]` over `cols` columns (accumulated in float64). */
  sumTrailing(x: Float32Array, rows: number, cols: number, out: Float32Array): void;
  /** `out[i, j] = x[i, j] + bias[j]` for a rows x cols `x` (`out` may be `x`). */
  addBias(x: Float32Array, rows: number, cols: number, bias: Float32Array, out: Float32Array): void;
  /** `out = x > 0 ? 1 : alpha`, NaN stays NaN (tf.step). */
  step(x: Float32Array, alpha: number, out: Float32Array): void;
}
