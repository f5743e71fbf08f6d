/**
 * Demo worker: Gumbel-Softmax (Concrete) samples at a temperature, beside Gumbel-Max's exact
 * categorical samples. Input: { temperature, logits, samples, seed, base }. Output: the relaxed
 * samples ([samples, K] rows on the simplex), the mean of each sample's largest component (1 at
 * one-hot, 1/K at the uniform point), and the frequencies of Gumbel-Max's argmax over 4000 draws
 * beside softmax(logits).
 */
import { Gumbel, RelaxedOneHotCategorical, Rng, tf } from '@dgm-js/core-tensors';
import { serve, startBackend } from './backend.js';

interface GumbelRequest {
  temperature: number;
  logits: number[];
  samples: number;
  seed: number;
  base: string;
}

let backend: string | undefined;

serve<GumbelRequest>(async (req) => {
  backend ??= await startBackend(req.base);
  self.postMessage({ type: 'backend', backend });
  const t0 = performance.now();
  const rng = new Rng(req.seed);
  const K = req.logits.length;
  const out = tf.tidy(() => {
    const logits = tf.tensor1d(req.logits);
    const q = new RelaxedOneHotCategorical(req.temperature, { logits }, { validate: false });
    const x = q.rsample({ sampleShape: [req.samples], rng });
    const maxMean = tf.mean(tf.max(x, -1));
    // Gumbel-Max: argmax(logits + g), g ~ Gumbel(0, 1), is an exact Categorical(softmax(logits)) draw
    const g = new Gumbel(0, 1, { validate: false }).sample({ sampleShape: [4000, K], rng });
    const hits = tf.sum(tf.oneHot(tf.argMax(tf.add(g, logits), -1), K), 0);
    return {
      x: x.arraySync() as number[][],
      maxMean: maxMean.dataSync()[0]!,
      freq: Array.from(hits.dataSync(), (c) => c / 4000),
      probs: Array.from(tf.softmax(logits).dataSync()),
    };
  });
  self.postMessage({ type: 'samples', ...out, temperature: req.temperature });
  self.postMessage({ type: 'done', ms: performance.now() - t0, tensors: tf.memory().numTensors });
});
