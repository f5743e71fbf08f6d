// Scalar special functions for the toy densities (float64, JS). Accuracy ~1e-7 relative,
// which is far below the Monte Carlo noise of any NLL the toy densities are used to judge.
import type { Rng } from '@dgm-js/core-tensors';

/**
 * log(erfc(z)), for any z, without underflow: Numerical Recipes' erfcc (Chebyshev fit,
 * relative error < 1.2e-7 everywhere), taken in log space for z >= 0.
 */
export function logErfc(z: number): number {
  const a = Math.abs(z);
  const t = 1 / (1 + 0.5 * a);
  const poly =
    -a * a -
    1.26551223 +
    t *
      (1.00002368 +
        t *
          (0.37409196 +
            t *
              (0.09678418 +
                t *
                  (-0.18628806 +
                    t *
                      (0.27886807 +
                        t *
                          (-1.13520398 +
                            t * (1.48851587 + t * (-0.82215223 + t * 0.17087277))))))));
  const logPos = Math.log(t) + poly; // log erfc(|z|)
  return z >= 0 ? logPos : Math.log(2 - Math.exp(logPos));
}

/** log Phi(x), the standard normal log-CDF, stable far into both tails. */
export function logNormCdf(x: number): number {
  return logErfc(-x / Math.SQRT2) - Math.LN2;
}

/** log(Phi(u) - Phi(l)) for u > l, stable in the tails. */
export function logNormCdfDiff(u: number, l: number): number {
  if (u + l > 0) {
    // Mostly on the right: use the mirror image, Phi(-l) - Phi(-u).
    const t = -l;
    l = -u;
    u = t;
  }
  const lu = logNormCdf(u);
  const ll = logNormCdf(l);
  return lu + Math.log1p(-Math.exp(ll - lu));
}

/**
 * log(I0(x)) - x for x >= 0: the exponentially scaled modified Bessel function of order 0,
 * in log space (Abramowitz & Stegun 9.8.1 / 9.8.2, relative error < 2e-7).
 */
export function logI0e(x: number): number {
  const ax = Math.abs(x);
  if (ax < 3.75) {
    const t = (ax / 3.75) ** 2;
    const i0 =
      1 +
      t *
        (3.5156229 +
          t * (3.0899424 + t * (1.2067492 + t * (0.2659732 + t * (0.0360768 + t * 0.0045813)))));
    return Math.log(i0) - ax;
  }
  const t = 3.75 / ax;
  const p =
    0.39894228 +
    t *
      (0.01328592 +
        t *
          (0.00225319 +
            t *
              (-0.00157565 +
                t *
                  (0.00916281 +
                    t * (-0.02057706 + t * (0.02635537 + t * (-0.01647633 + t * 0.00392377)))))));
  return Math.log(p) - 0.5 * Math.log(ax);
}

/** log-sum-exp of `v[0..n)`. */
export function lse(v: Float64Array, n: number): number {
  let m = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < n; i++) if (v[i]! > m) m = v[i]!;
  if (m === Number.NEGATIVE_INFINITY) return m;
  let s = 0;
  for (let i = 0; i < n; i++) s += Math.exp(v[i]! - m);
  return m + Math.log(s);
}

/** A streaming log-sum-exp accumulator. */
export class LogSumExp {
  private m = Number.NEGATIVE_INFINITY;
  private s = 0;
  reset(): void {
    this.m = Number.NEGATIVE_INFINITY;
    this.s = 0;
  }
  add(v: number): void {
    if (!(v > Number.NEGATIVE_INFINITY)) return;
    if (v > this.m) {
      this.s = this.s * Math.exp(this.m - v) + 1;
      this.m = v;
    } else {
      this.s += Math.exp(v - this.m);
    }
  }
  value(): number {
    return this.m === Number.NEGATIVE_INFINITY ? this.m : this.m + Math.log(this.s);
  }
}

/** Standard normal draws from an Rng (Box-Muller, both values used). */
export class Gaussian {
  private spare = 0;
  private hasSpare = false;
  constructor(private readonly rng: Rng) {}
  next(): number {
    if (this.hasSpare) {
      this.hasSpare = false;
      return this.spare;
    }
    const u1 = 1 - this.rng.float(); // (0, 1]
    const u2 = this.rng.float();
    const r = Math.sqrt(-2 * Math.log(u1));
    this.spare = r * Math.sin(2 * Math.PI * u2);
    this.hasSpare = true;
    return r * Math.cos(2 * Math.PI * u2);
  }
}
