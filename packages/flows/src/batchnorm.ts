/**
 * Batch normalisation as a bijector (Dinh et al. 2017, RealNVP; Papamakarios et al. 2017, MAF).
 */
import { checkInt, type Module, tf, ValueError } from '@dgm-js/core-tensors';
import {
  BaseBijector,
  broadcast,
  checkInput,
  type ForwardResult,
  type InverseResult,
} from './bijector.js';

type Tensor = tf.Tensor;

/** Options of {@link BatchNormBijector}. */
export interface BatchNormOptions {
  /** Weight of the new batch in the running averages. Default 0.05. */
  momentum?: number;
  /** Added to the variance. Default 1e-5. */
  eps?: number;
}

/**
 * Batch normalisation in the density direction (data to noise):
 * x = (y - m) / sqrt(v + eps) * exp(logGamma) + beta, per dimension of `[N, D]`, with
 * log|det dx/dy| = sum(logGamma - log(v + eps) / 2).
 *
 * In training mode (`training = true`, the default) `inverse` uses the batch's mean and
 * variance (gradients flow through them, as in MAF) and updates the running averages; in
 * evaluation mode (`training = false`) both directions use the running averages, so the map is
 * a fixed bijection and `inverse(forward(x)) = x`. `forward` (sampling) always uses the running
 * averages. Switch modes with `setTraining(flow, false)` before evaluating or sampling.
 *
 * @example
 * ```ts
 * const bn = new BatchNormBijector(2);
 * bn.inverse(batch);   // training: batch statistics, running averages updated
 * bn.training = false; // evaluation: running averages
 * ```
 */
export class BatchNormBijector extends BaseBijector {
  readonly dim: number;
  readonly logGamma: tf.Variable;
  readonly beta: tf.Variable;
  readonly runningMean: tf.Variable;
  readonly runningVar: tf.Variable;
  /** Training mode (batch statistics in `inverse`) or evaluation mode (running averages). */
  training = true;
  private readonly momentum: number;
  private readonly eps: number;

  constructor(dim: number, opts: BatchNormOptions = {}) {
    super('BatchNormBijector');
    checkInt(dim, 'dim', 'BatchNormBijector');
    const momentum = opts.momentum ?? 0.05;
    const eps = opts.eps ?? 1e-5;
    if (!(momentum > 0 && momentum <= 1)) {
      throw new ValueError(`BatchNormBijector: momentum must be in (0, 1], got ${momentum}.`);
    }
    if (!(eps > 0)) throw new ValueError(`BatchNormBijector: eps must be > 0, got ${eps}.`);
    this.dim = dim;
    this.momentum = momentum;
    this.eps = eps;
    this.logGamma = this.addParameter('logGamma', tf.zeros([dim]));
    this.beta = this.addParameter('beta', tf.zeros([dim]));
    this.runningMean = this.addBuffer('runningMean', tf.zeros([dim]));
    this.runningVar = this.addBuffer('runningVar', tf.ones([dim]));
  }

  private logDet(v: Tensor, n: number, sign: 1 | -1): Tensor {
    const per = tf.sum(tf.sub(this.logGamma, tf.mul(0.5, tf.log(tf.add(v, this.eps)))));
    return broadcast(tf.mul(per, sign), [n]);
  }

  forward(x: Tensor): ForwardResult {
    checkInput(x, this.dim, `${this.label}.forward`, 'x');
    return tf.tidy(() => {
      const m = this.runningMean;
      const v = this.runningVar;
      const y = tf.add(
        tf.mul(
          tf.mul(tf.sub(x, this.beta), tf.exp(tf.neg(this.logGamma))),
          tf.sqrt(tf.add(v, this.eps)),
        ),
        m,
      );
      return { y, logDetJ: this.logDet(v, x.shape[0] as number, -1) };
    });
  }

  inverse(y: Tensor): InverseResult {
    checkInput(y, this.dim, `${this.label}.inverse`, 'y');
    const n = y.shape[0] as number;
    if (this.training && n < 2) {
      throw new ValueError(
        `${this.label}.inverse: training mode needs a batch of at least 2 examples to estimate the variance, got ${n}. Set training = false to use the running averages.`,
      );
    }
    return tf.tidy(() => {
      let m: Tensor = this.runningMean;
      let v: Tensor = this.runningVar;
      if (this.training) {
        const mom = tf.moments(y, 0);
        m = mom.mean;
        v = mom.variance;
        const a = this.momentum;
        this.runningMean.assign(tf.add(tf.mul(this.runningMean, 1 - a), tf.mul(m, a)));
        // unbiased variance for the running average, as torch does
        const unbiased = tf.mul(v, n / (n - 1));
        this.runningVar.assign(tf.add(tf.mul(this.runningVar, 1 - a), tf.mul(unbiased, a)));
      }
      const x = tf.add(
        tf.mul(tf.div(tf.sub(y, m), tf.sqrt(tf.add(v, this.eps))), tf.exp(this.logGamma)),
        this.beta,
      );
      return { x, logDetJ: this.logDet(v, n, 1) };
    });
  }
}

/**
 * Sets `training` on every bijector in a module tree that has the flag (batch-norm bijectors),
 * e.g. `setTraining(flow, false)` before computing test log-likelihoods or sampling.
 *
 * @example
 * ```ts
 * setTraining(flow, false);
 * const nll = flow.logProb(testX);
 * setTraining(flow, true);
 * ```
 */
export function setTraining(root: Module<never, unknown>, training: boolean): void {
  const visit = (m: Module<unknown, unknown>) => {
    if ('training' in m && typeof (m as { training: unknown }).training === 'boolean') {
      (m as unknown as { training: boolean }).training = training;
    }
    for (const [, c] of m.namedChildren()) visit(c);
  };
  visit(root as unknown as Module<unknown, unknown>);
}
