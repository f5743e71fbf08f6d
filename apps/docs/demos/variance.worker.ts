/**
 * Demo worker: the lecture's experiment, d/dtheta E_{x ~ N(theta, 1)}[x^2] at theta = 2 (true
 * gradient 4), estimated from N samples by REINFORCE and by the reparameterization trick, each
 * repeated R times: the empirical variance of the estimates beside the analytic 87/N and 4/N.
 * Posts one row per N as it finishes.
 */
import { Rng, tf } from '@dgm-js/core-tensors';
import { gradientStats, lectureProblem, reinforce, reparam } from '@dgm-js/estimators';
import { serve, startBackend } from './backend.js';

interface VarianceRequest {
  ns: number[];
  repeats: number;
  seed: number;
  base: string;
}

serve<VarianceRequest>(async (req) => {
  const backend = await startBackend(req.base);
  self.postMessage({ type: 'backend', backend });
  const t0 = performance.now();
  const problem = lectureProblem(2);
  for (const [i, n] of req.ns.entries()) {
    const opts = { samples: n, repeats: req.repeats };
    const sf = gradientStats(reinforce(), problem, { ...opts, rng: new Rng(req.seed + 2 * i) });
    const rp = gradientStats(reparam(), problem, { ...opts, rng: new Rng(req.seed + 2 * i + 1) });
    self.postMessage({
      type: 'row',
      n,
      reinforce: { mean: sf.mean[0], variance: sf.variance[0], analytic: 87 / n },
      reparam: { mean: rp.mean[0], variance: rp.variance[0], analytic: 4 / n },
    });
    await new Promise((r) => setTimeout(r, 0)); // let the row reach the page
  }
  self.postMessage({ type: 'done', ms: performance.now() - t0, tensors: tf.memory().numTensors });
});
