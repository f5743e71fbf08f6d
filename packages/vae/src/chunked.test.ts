/**
 * `iwae` and `elbo` on the model draw their samples in chunks by default (issue 19, finding 6):
 * the same values as one pass over the same samples, the same as eval's chunked path, and peak
 * memory that does not grow with k.
 */
import { Rng, tf } from '@dgm-js/core-tensors';
import { iwaeChunked } from '@dgm-js/eval';
import { describe, expect, it } from 'vitest';
import { CategoricalVAE } from './discrete.js';
import { GaussianVAE } from './vae.js';

const D = 10;
const x = () =>
  tf.tidy(() => tf.cast(tf.greater(tf.randomUniform([4, D], 0, 1, 'float32', 9), 0.5), 'float32'));

/** log (1/k) sum exp(lw) over the rows of several [k_c, B] blocks, in float64. */
function logMeanExp64(blocks: tf.Tensor[]): number[] {
  const rows = blocks.flatMap((b) => b.arraySync() as number[][]);
  return rows[0]!.map((_, j) => {
    const col = rows.map((r) => r[j]!);
    const m = Math.max(...col);
    return m + Math.log(col.reduce((a, v) => a + Math.exp(v - m), 0) / col.length);
  });
}

describe('chunked iwae / elbo on the VAE', () => {
  it.each([
    [
      'gaussian',
      () => GaussianVAE.mlp({ inputDim: D, hidden: [8], latentDim: 3, rng: new Rng(0) }),
    ],
    [
      'categorical',
      () =>
        CategoricalVAE.mlp({
          inputDim: D,
          hidden: [8],
          latents: 2,
          categories: 3,
          estimator: 'gumbel-softmax',
          rng: new Rng(0),
        }),
    ],
  ] as const)(
    "%s: iwae in chunks equals one pass over the same samples, and eval's iwaeChunked",
    (_n, make) => {
      const vae = make();
      const xs = x();
      const before = tf.memory().numTensors;
      const chunked = vae.iwae(xs, 10, { rng: new Rng(5), chunk: 3 });
      // the same samples: logWeights drawn in the same chunks from the same stream
      const r = new Rng(5);
      const blocks = [3, 3, 3, 1].map((n) => vae.logWeights(xs, n, { rng: r }));
      expect(Array.from(chunked.dataSync())).toBeAllclose(logMeanExp64(blocks), {
        rtol: 1e-5,
        atol: 1e-5,
      });
      const viaEval = iwaeChunked(vae, xs, { k: 10, chunk: 3, rng: new Rng(5) });
      expect(Array.from(chunked.dataSync())).toBeAllclose(Array.from(viaEval), {
        rtol: 1e-5,
        atol: 1e-5,
      });
      // k <= the default chunk (100): one pass, bit-identical to logMeanExp of logWeights
      const one = vae.iwae(xs, 50, { rng: new Rng(6) });
      const lw = vae.logWeights(xs, 50, { rng: new Rng(6) });
      expect(Array.from(one.dataSync())).toBeAllclose(logMeanExp64([lw]), {
        rtol: 1e-5,
        atol: 1e-5,
      });
      tf.dispose([chunked, ...blocks, one, lw]);
      expect(tf.memory().numTensors).toBe(before);
      xs.dispose();
      vae.dispose();
    },
  );

  it('elbo with samples in chunks: the same reconstruction term over the same samples, the analytic KL', () => {
    const vae = GaussianVAE.mlp({ inputDim: D, hidden: [8], latentDim: 3, rng: new Rng(0) });
    const xs = x();
    const before = tf.memory().numTensors;
    const t = vae.elboTerms(xs, { rng: new Rng(2), samples: 7, chunk: 2 });
    const q = vae.encode(xs);
    const r = new Rng(2);
    const recs = [2, 2, 2, 1].map((n) => {
      const z = q.sample({ sampleShape: [n], rng: r });
      const ll = vae.logLikelihood(z, xs);
      z.dispose();
      return ll;
    });
    const rows = recs.flatMap((b) => b.arraySync() as number[][]);
    const recRef = rows[0]!.map((_, j) => rows.reduce((a, row) => a + row[j]!, 0) / rows.length);
    expect(Array.from(t.recon.dataSync())).toBeAllclose(recRef, { rtol: 1e-5, atol: 1e-4 });
    const full = vae.elboTerms(xs, { rng: new Rng(3), samples: 1 });
    // the KL is analytic (Gaussian posterior, standard normal prior): the same whatever the samples
    expect(Array.from(t.kl.dataSync())).toBeAllclose(Array.from(full.kl.dataSync()), {
      rtol: 1e-5,
      atol: 1e-5,
    });
    expect(Array.from(t.elbo.dataSync())).toBeAllclose(
      recRef.map((v, i) => v - (full.kl.dataSync()[i] as number)),
      { rtol: 1e-5, atol: 1e-4 },
    );
    tf.dispose([t.elbo, t.recon, t.kl, full.elbo, full.recon, full.kl, ...recs]);
    q.dispose();
    expect(tf.memory().numTensors).toBe(before);
    xs.dispose();
    vae.dispose();
  });

  it('peak memory of iwae does not grow with k (chunks of 100 by default); one pass does', async () => {
    const vae = GaussianVAE.mlp({ inputDim: 64, hidden: [32], latentDim: 4, rng: new Rng(0) });
    const xs = tf.tidy(() =>
      tf.cast(tf.greater(tf.randomUniform([10, 64], 0, 1, 'float32', 1), 0.5), 'float32'),
    );
    const peak = async (k: number, chunk?: number) => {
      const before = tf.memory().numTensors;
      const info = await tf.profile(() => {
        const v = vae.iwae(xs, k, { rng: new Rng(0), ...(chunk ? { chunk } : {}) });
        v.dispose();
      });
      expect(tf.memory().numTensors).toBe(before);
      return info.peakBytes;
    };
    const p100 = await peak(100);
    const p1000 = await peak(1000);
    const p1000once = await peak(1000, 1000);
    expect(p1000).toBeLessThan(1.5 * p100);
    expect(p1000once).toBeGreaterThan(5 * p100);
    xs.dispose();
    vae.dispose();
  });
});
