/**
 * Dataset evaluation: standard errors on known data, chunked IWAE equal to unchunked, bits/dim,
 * metrics over structural models, leaks and typed errors.
 */
import { bitsPerDim, logSumExp, Rng, ShapeError, tf, ValueError } from '@dgm-js/core-tensors';
import { expectNoLeaks } from '@dgm-js/test-utils';
import { describe, expect, it } from 'vitest';
import { estimateLogLikelihood, evaluateElbo, evaluateLogProb, iwaeChunked } from './evaluate.js';
import { bitsPerDimMetric, elboMetric, iwaeMetric, logProbMetric } from './metrics.js';
import { logSumExpArray, meanStderr } from './stats.js';
import type { BoundOptions, ElboModel, IwaeModel, LogProbModel } from './types.js';

/**
 * A model whose log-weights are a fixed deterministic sequence per example: the i-th sample drawn
 * for example value v has log-weight v + sin(i). Each `iwae` call consumes the next k samples,
 * so chunked and unchunked evaluations see exactly the same weights.
 */
class SequenceModel implements IwaeModel, ElboModel, LogProbModel {
  private drawn = 0;
  reset(): void {
    this.drawn = 0;
  }
  logWeights(x: tf.Tensor, k: number): tf.Tensor {
    const start = this.drawn;
    this.drawn += k;
    return tf.tidy(() => {
      const i = tf.add(tf.range(0, k), start);
      const v = tf.reshape(tf.slice(x, [0, 0], [-1, 1]), [1, -1]);
      return tf.add(v, tf.expandDims(tf.sin(i), 1)); // [k, B]
    });
  }
  iwae(x: tf.Tensor, k: number, _opts: BoundOptions): tf.Tensor {
    return tf.tidy(() => tf.sub(logSumExp(this.logWeights(x, k), 0), Math.log(k)));
  }
  elbo(x: tf.Tensor, _opts: BoundOptions): tf.Tensor {
    return tf.tidy(() => tf.reshape(tf.slice(x, [0, 0], [-1, 1]), [-1]));
  }
  logProb(x: tf.Tensor): tf.Tensor {
    return tf.tidy(() => tf.mul(-1, tf.sum(x, 1)));
  }
}

describe('statistics', () => {
  it('mean and standard error on known data', () => {
    const r = meanStderr([1, 2, 3, 4]);
    expect([r.mean, r.std, r.stderr]).toBeAllclose([2.5, Math.sqrt(5 / 3), Math.sqrt(5 / 3) / 2], {
      rtol: 1e-12,
      atol: 0,
    });
    const one = meanStderr([7]);
    expect([one.mean, one.stderr]).toEqual([7, 0]);
    // large offset: Welford stays exact where sum of squares would not
    const big = meanStderr([1e9 + 1, 1e9 + 2, 1e9 + 3]);
    expect(big.std).toBeAllclose(1, { rtol: 1e-9, atol: 0 });
    expect(() => meanStderr([])).toThrow(ValueError);
  });

  it('logSumExpArray and bits/dim', () => {
    expect(logSumExpArray([Math.log(1), Math.log(3)])).toBeAllclose(Math.log(4), {
      rtol: 1e-12,
      atol: 0,
    });
    expect(logSumExpArray([1e4, 1e4])).toBeAllclose(1e4 + Math.LN2, { rtol: 1e-12, atol: 0 });
    expect(logSumExpArray([Number.NEGATIVE_INFINITY])).toBe(Number.NEGATIVE_INFINITY);
    // core's bitsPerDim takes an NLL (eval's former helper took a log-likelihood, -784 ln 2 here)
    expect(bitsPerDim(784 * Math.LN2, 784)).toBeAllclose(1, { rtol: 1e-12, atol: 0 });
    expect(bitsPerDim(0, 10, { levels: 256 })).toBeAllclose(8, {
      rtol: 1e-12,
      atol: 0,
    });
    expect(bitsPerDim(Math.LN2 * 10, 10)).toBeAllclose(1, {
      rtol: 1e-12,
      atol: 0,
    });
    expect(() => bitsPerDim(1, 0)).toThrow(/dims/);
  });
});

describe('dataset evaluation', () => {
  const xs = [[0.5], [-1], [2], [0], [1.5]];

  it('the ELBO mean and standard error over a dataset, from a tensor and from batches', async () => {
    const m = new SequenceModel();
    const x = tf.tensor2d(xs);
    const ref = meanStderr(xs.map((r) => r[0]!));
    const a = await evaluateElbo(m, x, { batchSize: 2, keepValues: true });
    expect([a.mean, a.stderr, a.n]).toBeAllclose([ref.mean, ref.stderr, 5], {
      rtol: 1e-7,
      atol: 1e-7,
    });
    expect(Array.from(a.values!)).toEqual(xs.map((r) => r[0]!));
    const batches = [tf.tensor2d(xs.slice(0, 3)), tf.tensor2d(xs.slice(3))];
    const b = await evaluateElbo(m, batches);
    expect([b.mean, b.stderr]).toBeAllclose([a.mean, a.stderr], { rtol: 1e-7, atol: 1e-7 });
    async function* gen() {
      yield tf.tensor2d(xs.slice(0, 1));
      yield tf.tensor2d(xs.slice(1));
    }
    const c = await expectNoLeaks(
      () => evaluateElbo(m, gen(), { disposeBatches: true }),
      'async batches',
    );
    expect(c.mean).toBeAllclose(a.mean, { rtol: 1e-7, atol: 1e-7 });
    tf.dispose([x, ...batches]);
  });

  it('chunked IWAE equals unchunked (exactly the same weights), for chunks that do and do not divide k', () => {
    const m = new SequenceModel();
    const x = tf.tensor2d(xs);
    const rng = new Rng(0);
    for (const [k, chunk] of [
      [1000, 1000],
      [1000, 100],
      [1000, 7],
      [5000, 333],
    ] as const) {
      m.reset();
      const whole = m.iwae(x, k, { rng });
      m.reset();
      const parts = iwaeChunked(m, x, { k, chunk, rng });
      expect(Array.from(parts)).toBeAllclose(whole, { rtol: 1e-6, atol: 1e-5 });
      // closed form: v + log mean_i exp(sin i)
      let s = 0;
      for (let i = 0; i < k; i++) s += Math.exp(Math.sin(i));
      expect(Array.from(parts)).toBeAllclose(
        xs.map((r) => r[0]! + Math.log(s / k)),
        { rtol: 1e-6, atol: 1e-5 },
      );
      whole.dispose();
    }
    x.dispose();
  });

  it('estimateLogLikelihood leaks nothing and bounds memory: no call sees more than chunk samples', async () => {
    const m = new SequenceModel();
    let maxK = 0;
    const spy: IwaeModel = {
      iwae: (x, k, o) => {
        maxK = Math.max(maxK, k);
        return m.iwae(x, k, o);
      },
    };
    const x = tf.tensor2d(xs);
    const r = await expectNoLeaks(
      () => estimateLogLikelihood(spy, x, { k: 5000, chunk: 250, batchSize: 2 }),
      'iwae eval',
    );
    expect(maxK).toBe(250);
    expect(r.n).toBe(5);
    x.dispose();
  });

  it('exact log-densities and metrics over structural models (bits/dim wraps any metric)', async () => {
    const m = new SequenceModel();
    const x = tf.tensor2d([
      [1, 2],
      [3, 4],
    ]);
    const lp = await evaluateLogProb(m, x);
    expect([lp.mean, lp.n]).toBeAllclose([-5, 2], { rtol: 1e-7, atol: 1e-7 });
    const r = await logProbMetric().compute(m, x);
    expect(r.name).toBe('log-likelihood');
    expect(r.value).toBeAllclose(-5, { rtol: 1e-7, atol: 0 });
    expect(r.stderr).toBeAllclose(2, { rtol: 1e-7, atol: 0 }); // values -3, -7
    const bpd = await bitsPerDimMetric(logProbMetric(), { dims: 2 }).compute(m, x);
    expect([bpd.value, bpd.stderr!]).toBeAllclose([5 / (2 * Math.LN2), 2 / (2 * Math.LN2)], {
      rtol: 1e-7,
      atol: 0,
    });
    const e = await elboMetric().compute(m, x);
    expect(e.value).toBeAllclose(2, { rtol: 1e-7, atol: 0 });
    m.reset();
    const iw = await iwaeMetric({ k: 10, chunk: 3 }).compute(m, x);
    expect(iw.details.k).toBe(10);
    x.dispose();
  });

  it('bitsPerDimMetric: levels adds dims ln(levels) (the same number as the deprecated offsetNats)', async () => {
    const m = new SequenceModel();
    const x = tf.tensor2d([
      [1, 2],
      [3, 4],
    ]);
    const a = await bitsPerDimMetric(logProbMetric(), { dims: 2, levels: 256 }).compute(m, x);
    const b = await bitsPerDimMetric(logProbMetric(), {
      dims: 2,
      offsetNats: 2 * Math.log(256),
    }).compute(m, x);
    // mean log-likelihood -5: (5 + 2 ln 256) / (2 ln 2) = 5 / (2 ln 2) + 8; stderr 2 / (2 ln 2)
    expect([a.value, a.stderr!]).toBeAllclose([5 / (2 * Math.LN2) + 8, 2 / (2 * Math.LN2)], {
      rtol: 1e-7,
      atol: 0,
    });
    expect([b.value, b.stderr!]).toBeAllclose([a.value, a.stderr!], { rtol: 1e-12, atol: 0 });
    expect(() => bitsPerDimMetric(logProbMetric(), { dims: 2, levels: 1 })).toThrow(/levels/);
    expect(() =>
      bitsPerDimMetric(logProbMetric(), { dims: 2, levels: 256, offsetNats: 1 }),
    ).toThrow(ValueError);
    x.dispose();
  });

  it('typed errors for bad k, chunk, data and model outputs', async () => {
    const m = new SequenceModel();
    const x = tf.tensor2d(xs);
    await expect(estimateLogLikelihood(m, x, { k: 0 })).rejects.toThrow(
      /k must be an integer >= 1/,
    );
    await expect(estimateLogLikelihood(m, x, { k: -5 })).rejects.toThrow(ValueError);
    await expect(estimateLogLikelihood(m, x, { k: 10, chunk: 0 })).rejects.toThrow(/chunk/);
    await expect(evaluateElbo(m, x, { batchSize: 0 })).rejects.toThrow(/batchSize/);
    await expect(evaluateElbo(m, 3 as never)).rejects.toThrow(/data must be/);
    await expect(evaluateElbo({} as never, x)).rejects.toThrow(/elbo/);
    const bad: ElboModel = { elbo: (xx) => tf.zeros([xx.shape[0] as number, 2]) };
    await expect(evaluateElbo(bad, x)).rejects.toThrow(ShapeError);
    const empty = tf.zeros([0, 1]);
    await expect(evaluateElbo(m, empty)).rejects.toThrow(ShapeError);
    await expect(evaluateElbo(m, [])).rejects.toThrow(/no examples/);
    tf.dispose([x, empty]);
  });
});
