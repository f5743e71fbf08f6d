/**
 * A differentiable kernel MMD^2 between two batches of vectors, as tensors (the training term of
 * InfoVAE / MMD-VAE and the WAE). `@dgm-js/eval`'s `mmdTest` is the float64 evaluation (with a
 * permutation test) and shares its kernel type; this one is the small tensor version a loss can
 * differentiate, tested against eval's value.
 */
import { fmtShape, ShapeError, tf, ValueError } from '@dgm-js/core-tensors';
import type { MmdKernel } from '@dgm-js/eval';

type Tensor = tf.Tensor;

/** Options of {@link kernelMmd2}. */
export interface KernelMmdOptions {
  /**
   * Default `{ type: 'rbf' }` with sigma = d / sqrt(2), i.e. k = exp(-||x - y||^2 / d^2), the
   * InfoVAE reference code's kernel (d the vector size); `{ type: 'imq' }` defaults to c = 2 d
   * (the WAE's choice for a standard normal prior). Scales are fixed, never data-dependent, so
   * the gradient flows through the distances only.
   */
  kernel?: MmdKernel;
  /**
   * 'biased' (default): the V-statistic mean k(x,x') + mean k(y,y') - 2 mean k(x,y) over all
   * pairs, diagonals included, as the reference code computes it (>= 0). 'unbiased': the
   * U-statistic without the diagonals (Gretton et al. 2012), eval's `mmdTest` estimate.
   */
  estimator?: 'biased' | 'unbiased';
}

/** The resolved kernel of a vector size d (internal, exported for the tests and the bench). */
export function resolveKernel(
  kernel: MmdKernel | undefined,
  d: number,
  who: string,
): { type: 'rbf'; sigma: number } | { type: 'imq'; c: number } {
  const k = kernel ?? { type: 'rbf' };
  if (k.type === 'rbf') {
    const sigma = k.sigma ?? d / Math.SQRT2;
    if (!(typeof sigma === 'number' && sigma > 0 && Number.isFinite(sigma))) {
      throw new ValueError(
        `${who}: kernel.sigma must be a finite number > 0, got ${String(sigma)}.`,
      );
    }
    return { type: 'rbf', sigma };
  }
  if (k.type === 'imq') {
    const c = k.c ?? 2 * d;
    if (!(typeof c === 'number' && c > 0 && Number.isFinite(c))) {
      throw new ValueError(`${who}: kernel.c must be a finite number > 0, got ${String(c)}.`);
    }
    return { type: 'imq', c };
  }
  throw new ValueError(
    `${who}: kernel.type must be 'rbf' or 'imq', got '${String((k as { type: unknown }).type)}'.`,
  );
}

/** Squared distances `[n, m]` between the rows of a `[n, d]` and b `[m, d]` (internal). */
function sqDist(a: Tensor, b: Tensor): Tensor {
  const d = tf.sub(tf.expandDims(a, 1), tf.expandDims(b, 0)); // [n, m, d]
  return tf.sum(tf.square(d), -1);
}

/**
 * MMD^2 between the samples x `[n, d]` and y `[m, d]` with a fixed-scale RBF or IMQ kernel, as a
 * differentiable scalar tensor (gradients flow into both). Memory O((n + m)^2 d): for latents,
 * not images.
 *
 * @example
 * ```ts
 * import { Rng, tf } from '@dgm-js/core-tensors';
 * import { kernelMmd2 } from '@dgm-js/hybrids';
 * const z = tf.randomNormal([64, 8]);            // aggregate posterior samples
 * const p = tf.randomNormal([200, 8]);           // prior samples
 * const m = kernelMmd2(z, p, { kernel: { type: 'imq' } }); // scalar
 * ```
 */
export function kernelMmd2(x: Tensor, y: Tensor, opts: KernelMmdOptions = {}): tf.Scalar {
  const who = 'kernelMmd2';
  for (const [t, name] of [
    [x, 'x'],
    [y, 'y'],
  ] as const) {
    if (!(t instanceof tf.Tensor) || t.rank !== 2) {
      throw new ShapeError(
        `${who}: ${name} must be a [n, d] tensor of samples (flatten each sample first), got ${t instanceof tf.Tensor ? fmtShape(t.shape) : typeof t}.`,
      );
    }
  }
  if (x.shape[1] !== y.shape[1]) {
    throw new ShapeError(
      `${who}: x ${fmtShape(x.shape)} and y ${fmtShape(y.shape)} must have the same vector size d.`,
    );
  }
  const est = opts.estimator ?? 'biased';
  if (est !== 'biased' && est !== 'unbiased') {
    throw new ValueError(`${who}: estimator must be 'biased' or 'unbiased', got '${String(est)}'.`);
  }
  const n = x.shape[0]!;
  const m = y.shape[0]!;
  if (est === 'unbiased' && (n < 2 || m < 2)) {
    throw new ValueError(
      `${who}: the unbiased estimate needs at least 2 samples on each side, got n=${n}, m=${m}.`,
    );
  }
  const k = resolveKernel(opts.kernel, x.shape[1]!, who);
  const kern = (d2: Tensor): Tensor =>
    k.type === 'rbf'
      ? tf.exp(tf.mul(d2, -1 / (2 * k.sigma * k.sigma)))
      : tf.div(k.c, tf.add(d2, k.c));
  return tf.tidy(() => {
    const kxx = tf.sum(kern(sqDist(x, x)));
    const kyy = tf.sum(kern(sqDist(y, y)));
    const kxy = tf.sum(kern(sqDist(x, y)));
    // k(v, v) = 1 for both kernels: the diagonal sums are n and m
    const xx = est === 'biased' ? tf.div(kxx, n * n) : tf.div(tf.sub(kxx, n), n * (n - 1));
    const yy = est === 'biased' ? tf.div(kyy, m * m) : tf.div(tf.sub(kyy, m), m * (m - 1));
    return tf.sub(tf.add(xx, yy), tf.mul(kxy, 2 / (n * m))) as tf.Scalar;
  });
}
