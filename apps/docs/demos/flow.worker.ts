/**
 * Demo worker: a 2-D normalizing flow (rational-quadratic spline couplings + ActNorm) trained by
 * maximum likelihood on a toy density of @dgm-js/datasets, with Adam. Every `every` steps it posts
 * the loss (mean NLL of the batch, nats) and the flow's density exp(log p(x)) on a grid over the
 * toy's bounds, so the page redraws what the flow has learned so far. A `stop` message ends it.
 */
import { Rng, tf } from '@dgm-js/core-tensors';
import { type ToyName, toyDensity, toyEntropy } from '@dgm-js/datasets';
import { ActNorm, alternatingMask, Flow, SplineCoupling } from '@dgm-js/flows';
import { serve, startBackend } from './backend.js';

interface FlowRequest {
  type: 'start' | 'stop';
  toy: ToyName;
  steps: number;
  every: number;
  grid: number;
  batchSize: number;
  seed: number;
  base: string;
}

let stopped = false;

serve<FlowRequest>(async (req) => {
  if (req.type === 'stop') {
    stopped = true;
    return;
  }
  stopped = false;
  const backend = await startBackend(req.base);
  self.postMessage({ type: 'backend', backend });
  const t0 = performance.now();
  const rng = new Rng(req.seed);
  const density = toyDensity(req.toy);
  const [x0, x1, y0, y1] = density.bounds;
  const G = req.grid;
  const gridPts = new Float32Array(G * G * 2);
  for (let i = 0; i < G; i++) {
    for (let j = 0; j < G; j++) {
      gridPts[2 * (i * G + j)] = x0 + ((j + 0.5) / G) * (x1 - x0);
      gridPts[2 * (i * G + j) + 1] = y1 - ((i + 0.5) / G) * (y1 - y0);
    }
  }
  const grid = tf.tensor2d(gridPts, [G * G, 2]);
  const truth = Float32Array.from(density.logDensity(gridPts), Math.exp);
  const floor = toyEntropy(density).value;
  self.postMessage({ type: 'target', grid: G, density: truth, bounds: density.bounds, floor });
  const flow = new Flow(
    [
      ...[0, 1, 0, 1].map(
        (p) => new SplineCoupling(alternatingMask(2, p as 0 | 1), { rng, bins: 8, bound: 4 }),
      ),
      new ActNorm(2),
    ],
    { dim: 2 },
  );
  const optimizer = tf.train.adam(5e-3);
  for (let step = 1; step <= req.steps && !stopped; step++) {
    const x = tf.tensor2d(density.sample(req.batchSize, rng), [req.batchSize, 2]);
    const loss = optimizer.minimize(() => tf.neg(tf.mean(flow.logProb(x))) as tf.Scalar, true)!;
    const value = loss.dataSync()[0]!;
    tf.dispose([x, loss]);
    if (step % req.every === 0 || step === 1 || step === req.steps) {
      const dens = tf.tidy(() => tf.exp(flow.logProb(grid)).dataSync() as Float32Array);
      self.postMessage({ type: 'step', step, loss: value, grid: G, density: dens });
      await new Promise((r) => setTimeout(r, 0)); // take a stop message between steps
    } else {
      self.postMessage({ type: 'step', step, loss: value });
    }
  }
  flow.dispose();
  optimizer.dispose();
  grid.dispose();
  self.postMessage({ type: 'done', ms: performance.now() - t0, tensors: tf.memory().numTensors });
});
