/**
 * The pinwheel toy density: a change of variables whose log-density needs root-finding.
 */
import { LOG_2PI, type Rng } from '@dgm-js/core-tensors';
import { BaseToy } from './toy-base.js';
import { Gaussian, LogSumExp } from './toy-math.js';

// ---------------------------------------------------------------------------------------------
// pinwheel (FFJORD, after Johnson et al. 2016): f = (1 + 0.3 z1, 0.1 z2), class k uniform in
// 0..4, angle a = 2 pi k / 5 + 0.25 exp(f1), x = 2 R(-a) f. In polar coordinates f = rho
// (cos b, sin b): |x| = 2 rho and arg x = b - a(rho cos b), so for each class the density is a
// sum over the roots b of b - 0.25 exp(rho cos b) = arg x + 2 pi k / 5 (mod 2 pi):
// p(x) = (1/5) sum_k sum_roots N(f1; 1, 0.3) N(f2; 0, 0.1) / (4 |1 + 0.25 exp(f1) f2|).

/** FFJORD's pinwheel, its log-density by root-finding (internal). */
export class Pinwheel extends BaseToy {
  readonly name = 'pinwheel' as const;
  readonly classes = 5;
  readonly radialStd = 0.3;
  readonly tangentialStd = 0.1;
  readonly rate = 0.25;
  readonly description =
    'Pinwheel with 5 arms (FFJORD): radial std 0.3, tangential std 0.1, rate 0.25, scaled by 2.';
  readonly params = { classes: 5, radialStd: 0.3, tangentialStd: 0.1, rate: 0.25, scaleFactor: 2 };
  readonly bounds = [-6, 6, -6, 6] as const;
  readonly scale = 0.2;
  readonly logDensityMethod = 'root-finding' as const;
  private readonly grid = 64;
  private readonly h = new Float64Array(65);
  private readonly acc = new LogSumExp();

  protected draw(out: Float32Array, n: number, rng: Rng): void {
    const g = new Gaussian(rng);
    for (let i = 0; i < n; i++) {
      const k = Math.floor(rng.float() * this.classes);
      const f1 = 1 + this.radialStd * g.next();
      const f2 = this.tangentialStd * g.next();
      const a = (2 * Math.PI * k) / this.classes + this.rate * Math.exp(f1);
      const c = Math.cos(a);
      const s = Math.sin(a);
      out[2 * i] = 2 * (f1 * c + f2 * s);
      out[2 * i + 1] = 2 * (-f1 * s + f2 * c);
    }
  }

  protected logDensityAt(x: number, y: number): number {
    const rho = Math.hypot(x, y) / 2;
    const psi = Math.atan2(y, x);
    const G = this.grid;
    const TWO_PI = 2 * Math.PI;
    const rate = this.rate;
    const lr = this.radialStd;
    const lt = this.tangentialStd;
    // log of (1/5) (1/4) N(f1; 1, lr) N(f2; 0, lt) at f = rho (cos b, sin b)
    const c0 = -Math.log(this.classes) - Math.log(4) - LOG_2PI - Math.log(lr * lt);
    const logG = (b: number) => {
      const z1 = (rho * Math.cos(b) - 1) / lr;
      const z2 = (rho * Math.sin(b)) / lt;
      return c0 - 0.5 * (z1 * z1 + z2 * z2);
    };
    const acc = this.acc;
    acc.reset();
    if (rho > 30) {
      // Far out (> 90 radial std) the angle winds so fast that it is uniform: the sum over
      // roots is (1/2pi) int g db per class.
      this.addWoundIntegral(0, TWO_PI, 16384, logG);
      return acc.value();
    }
    const hfun = (b: number) => b - rate * Math.exp(rho * Math.cos(b));
    for (let j = 0; j <= G; j++) this.h[j] = hfun((TWO_PI * j) / G);
    for (let j = 0; j < G; j++) {
      const bl = (TWO_PI * j) / G;
      const br = (TWO_PI * (j + 1)) / G;
      if (Math.abs(this.h[j + 1]! - this.h[j]!) > TWO_PI * 1000) {
        // More than 1000 roots per class here: their sum is a Riemann sum of (1/2pi) int g.
        this.addWoundIntegral(bl, br, 256, logG);
        continue;
      }
      for (let k = 0; k < this.classes; k++) {
        const target = psi + (TWO_PI * k) / this.classes;
        const a = this.h[j]! - target;
        const b = this.h[j + 1]! - target;
        const rising = b > a;
        const lo = Math.min(a, b);
        const hi = Math.max(a, b);
        for (let m = Math.ceil(lo / TWO_PI); TWO_PI * m < hi; m++) {
          // Safeguarded Newton for hfun(beta) = target + 2 pi m on [bl, br].
          const off = target + TWO_PI * m;
          let l = bl;
          let r = br;
          let beta = 0.5 * (l + r);
          for (let it = 0; it < 60; it++) {
            const e = rate * Math.exp(rho * Math.cos(beta));
            const f = beta - e - off;
            if (f === 0) break;
            if (f < 0 === rising) l = beta;
            else r = beta;
            let next = beta - f / (1 + e * rho * Math.sin(beta));
            if (!(next > l && next < r)) next = 0.5 * (l + r);
            const done = Math.abs(next - beta) < 1e-13 || r - l < 1e-13;
            beta = next;
            if (done) break;
          }
          const jac = Math.abs(1 + rate * Math.exp(rho * Math.cos(beta)) * rho * Math.sin(beta));
          acc.add(logG(beta) - Math.log(jac));
        }
      }
    }
    return acc.value();
  }

  /** Adds classes * (1/2pi) * int_bl^br g(b) db (Simpson, n intervals) to the accumulator. */
  private addWoundIntegral(bl: number, br: number, n: number, logG: (b: number) => number): void {
    const h = (br - bl) / n;
    const c = Math.log(this.classes) - LOG_2PI + Math.log(h / 3);
    for (let i = 0; i <= n; i++) {
      const w = i === 0 || i === n ? 1 : i % 2 ? 4 : 2;
      this.acc.add(c + Math.log(w) + logG(bl + i * h));
    }
  }
}
