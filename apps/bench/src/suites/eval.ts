/**
 * The `eval` suite: the reference values of @dgm-js/eval's sample-quality metrics on real MNIST,
 * through the classifier shipped inside the package (trained by
 * packages/eval/scripts/train-classifier.ts):
 * 1. the classifier's accuracy on the 10000 test images;
 * 2. the Inception-style score and the MODE score of the test images (published reproductions
 *    with a 99%+ classifier give 9.88 +- 0.06 for the test set);
 * 3. FID-MNIST (Fréchet distance on the classifier's 64 penultimate features) of the test set
 *    against the training set, with a bootstrap standard error, beside the floor of two halves of
 *    the training set; precision / recall and a kernel MMD two-sample test of test vs train.
 * 4. the same scores for uniform-noise images (the other end of each scale) and the class
 *    histograms of the test images, the training images and the noise;
 * 5. a small Gaussian VAE trained on binarized MNIST (apps/bench/src/vae-train.ts): its test
 *    log-likelihood by AIS (Wu et al. 2017) and by IWAE_k on the same test images, paired, the
 *    BDMC gap (reverse-AIS upper bound minus AIS lower bound) on data simulated from it, and its
 *    samples through the classifier (scores and class histogram).
 * These are the numbers a model's samples are compared with (a perfect sampler matches them).
 */
import { initBackend, Rng, tf } from '@dgm-js/core-tensors';
import { batches, getBatch, loadBinarizedMnist, loadMnist } from '@dgm-js/datasets';
import {
  aisLogLikelihood,
  bdmcUpperBound,
  type ClassifierOutputs,
  classHistogram,
  classifierOutputs,
  type DecoderModel,
  estimateLogLikelihood,
  frechetFromFeatures,
  inceptionScore,
  loadMnistClassifier,
  meanStderr,
  mmdTest,
  modeScore,
  precisionRecall,
  type ShippedImageClassifier,
} from '@dgm-js/eval';
import { GaussianVAE } from '@dgm-js/vae';
import type { SuiteResult } from '../report.js';
import { RowTable } from '../rows.js';
import { progress } from '../timing.js';
import { trainVae } from '../vae-train.js';
import type { Profile, Suite } from './types.js';

interface Settings {
  /**
   * Random training images: quick compares the test set with the first half of them (the same
   * size as the floor's halves), full with all of them.
   */
  trainImages: number;
  /** Images per set for precision / recall (O(n^2) distances). */
  prImages: number;
  /** Images per set for the MMD test ((2n)^2 kernel matrix). */
  mmdImages: number;
  bootstrap: number;
  /** Uniform-noise images for the reference at the other end of each scale. */
  noiseImages: number;
  vae: VaeSettings;
}

/** The trained-VAE likelihood rows (section 5). */
interface VaeSettings {
  /** Training images (binarized MNIST, dynamic binarization) and Adam steps (batch 100). */
  trainImages: number;
  steps: number;
  /** Random test images (one fixed binarization) for AIS and IWAE. */
  testImages: number;
  /** IWAE_k samples. */
  iwaeK: number;
  /** AIS intermediate distributions, chains per example, leapfrog steps per HMC move. */
  aisSteps: number;
  chains: number;
  leapfrog: number;
  /** Examples simulated from the VAE for the BDMC bracket. */
  simImages: number;
  /** VAE samples scored by the classifier. */
  samples: number;
}

const SETTINGS: Record<Profile, Settings> = {
  quick: {
    trainImages: 20000,
    prImages: 2000,
    mmdImages: 500,
    bootstrap: 5,
    noiseImages: 2000,
    vae: {
      trainImages: 10000,
      steps: 2000,
      testImages: 50,
      iwaeK: 1000,
      aisSteps: 200,
      chains: 16,
      leapfrog: 5,
      simImages: 25,
      samples: 2000,
    },
  },
  full: {
    trainImages: 60000,
    prImages: 10000,
    mmdImages: 2000,
    bootstrap: 20,
    noiseImages: 10000,
    vae: {
      trainImages: 60000,
      steps: 30000,
      testImages: 500,
      iwaeK: 5000,
      aisSteps: 1000,
      chains: 16,
      leapfrog: 10,
      simImages: 100,
      samples: 10000,
    },
  },
};

const cpuSeconds = (): number => {
  const c = process.cpuUsage();
  return (c.user + c.system) / 1e6;
};

/** Index of the most probable class of row i. */
function argmaxRow(logProbs: Float64Array, i: number, c: number): number {
  let best = 0;
  for (let y = 1; y < c; y++) if (logProbs[i * c + y]! > logProbs[i * c + best]!) best = y;
  return best;
}

/** `paired.mean +- stderr` of a - b over examples, formatted. */
function pairedDiff(a: ArrayLike<number>, b: ArrayLike<number>) {
  return meanStderr(Array.from({ length: a.length }, (_, i) => a[i]! - b[i]!));
}

export const evalSuite: Suite = {
  name: 'eval',
  description:
    "sample-quality reference values on real MNIST with the shipped classifier (test vs train, vs uniform noise): test accuracy, Inception-style / MODE score, FID-MNIST, precision/recall, MMD, class histograms; a small VAE's test NLL by AIS vs IWAE_k and its BDMC gap",
  async run(profile: Profile): Promise<SuiteResult> {
    const s = SETTINGS[profile];
    const info = await initBackend();
    const results = new RowTable({ echo: 4 });
    const notes: string[] = [];
    const clf = await loadMnistClassifier();
    try {
      const { train, test } = await loadMnist();
      const t0 = performance.now();
      // Seeded random orders: MNIST's files are not exchangeable by position (the first 5000
      // test images come from NIST's cleaner writers), so subsets and IS splits are drawn at random.
      const labels: number[] = [];
      const images = (ds: typeof test, n: number, seed: number, keepLabels: boolean) =>
        (function* () {
          for (const b of batches(ds, { batchSize: 1000, seed, fields: ['x', 'y'] })) {
            if (b.index * 1000 >= n) {
              b.dispose();
              return;
            }
            if (keepLabels) labels.push(...b.tensors.y.dataSync());
            b.tensors.y.dispose();
            yield b.tensors.x;
          }
        })();
      const testOut = await classifierOutputs(clf, images(test, test.size, 1, true), {
        disposeBatches: true,
      });
      let correct = 0;
      for (let i = 0; i < testOut.n; i++) {
        let best = 0;
        for (let c = 1; c < 10; c++) {
          if (testOut.logProbs[i * 10 + c]! > testOut.logProbs[i * 10 + best]!) best = c;
        }
        if (best === labels[i]) correct++;
      }
      results.add('mnist/classifier/test-accuracy', (100 * correct) / testOut.n, '%', {
        note: `${testOut.n} test images; float16 weights shipped in @dgm-js/eval (${clf.meta.parameters} parameters); the training log records ${(100 * (clf.meta.testAccuracy as number)).toFixed(2)}%`,
      });
      const is = inceptionScore(testOut.logProbs, testOut.n, 10, 10);
      let meanEntropy = 0;
      for (let i = 0; i < testOut.logProbs.length; i++) {
        const l = testOut.logProbs[i]!;
        meanEntropy -= (Math.exp(l) * l) / testOut.n;
      }
      results.add('mnist/real/inception-score', is.mean, 'score', {
        note: `10 random splits of 1000 test images, std ${is.std.toFixed(3)}; all 10000 at once ${is.full.toFixed(3)}; the classifier's mean predictive entropy ${meanEntropy.toFixed(4)} nats caps it (IS = exp(H(p(y)) - E H(p(y|x)))); published with a 99%+ classifier: 9.88 +- 0.06`,
      });
      const ms = modeScore(testOut.logProbs, testOut.n, 10, { marginal: clf.labelMarginal });
      const msPen = modeScore(testOut.logProbs, testOut.n, 10, {
        marginal: clf.labelMarginal,
        form: 'marginal-penalty',
      });
      results.add('mnist/real/mode-score', ms.mean, 'score', {
        note: `Che et al. form, p* = training-label marginal, 10 splits (equals the Inception-style score for any p*: the p* terms cancel); the IS * exp(-KL(p(y) || p*)) form: ${msPen.mean.toFixed(4)}`,
      });
      const hist = classHistogram(testOut.logProbs, testOut.n, 10, {
        reference: clf.labelMarginal,
      });
      notes.push(
        `test-set class histogram (classifier argmax): ${hist.counts.join(' ')}; total variation to the training-label marginal ${hist.totalVariation!.toFixed(4)}`,
      );
      progress(`eval: test outputs in ${((performance.now() - t0) / 1000).toFixed(1)} s`);

      const n = Math.min(s.trainImages, train.size);
      const trainOut = await classifierOutputs(clf, images(train, n, 2, false), {
        disposeBatches: true,
        numSamples: n,
      });
      const half = Math.floor(trainOut.n / 2);
      const dd = trainOut.featureDim;
      const nRef = profile === 'quick' ? half : trainOut.n;
      const fid = frechetFromFeatures(
        testOut.features,
        testOut.n,
        trainOut.features.subarray(0, nRef * dd),
        nRef,
        dd,
        { bootstrap: s.bootstrap, seed: 0 },
      );
      results.add('mnist/real/fid-test-vs-train', fid.value, 'FID-MNIST', {
        note: `${testOut.n} test vs ${nRef} random train images, 64 classifier features; bootstrap stderr ${fid.stderr!.toFixed(4)} (${s.bootstrap} resamples); mean term ${fid.meanTerm.toFixed(4)}`,
      });
      // The floor: two disjoint random halves of the training images (same distribution).
      const floor = frechetFromFeatures(
        trainOut.features.subarray(0, half * dd),
        half,
        trainOut.features.subarray(half * dd, 2 * half * dd),
        half,
        dd,
      );
      results.add('mnist/real/fid-train-vs-train', floor.value, 'FID-MNIST', {
        note: `two disjoint random halves of ${2 * half} training images (${half} each): the finite-sample floor at this size`,
      });
      const d = testOut.featureDim;
      const m = s.prImages;
      const pr = precisionRecall(
        trainOut.features.subarray(0, m * d),
        m,
        testOut.features.subarray(0, m * d),
        m,
        d,
        { k: 3 },
      );
      results.add('mnist/real/precision-test-vs-train', pr.precision, 'fraction', {
        note: `k = 3, ${m} random test vs ${m} random train images`,
      });
      results.add('mnist/real/recall-test-vs-train', pr.recall, 'fraction', {
        note: `k = 3, ${m} random test vs ${m} random train images`,
      });
      const k = s.mmdImages;
      const mmd = mmdTest(
        testOut.features.subarray(0, k * d),
        k,
        trainOut.features.subarray(0, k * d),
        k,
        d,
        { kernel: { type: 'rbf' }, permutations: 200, seed: 0 },
      );
      results.add('mnist/real/mmd2-test-vs-train', mmd.mmd2, 'MMD^2', {
        note: `RBF (median bandwidth ${mmd.kernel.type === 'rbf' ? mmd.kernel.sigma.toFixed(3) : ''}), ${k} random test vs ${k} random train images, permutation p-value ${mmd.pValue.toFixed(3)} (200 permutations)`,
      });
      const tNoise = performance.now();
      await noiseRows(s, clf, testOut, trainOut, results, notes);
      progress(`eval: noise references in ${((performance.now() - tNoise) / 1000).toFixed(1)} s`);
      await vaeRows(s.vae, clf, testOut, results, notes);
      notes.push(
        `profile ${profile}: ${trainOut.n} training images for FID, ${m} per set for precision/recall, ${k} per set for MMD; ${((performance.now() - t0) / 1000).toFixed(1)} s in all`,
      );
    } finally {
      clf.dispose();
    }
    return {
      suite: 'eval',
      profile,
      backend: info.name,
      date: new Date().toISOString(),
      rows: results.rows,
      notes,
    };
  },
};

/** Section 4: uniform-noise images, the far end of every scale, and the class histograms. */
async function noiseRows(
  s: Settings,
  clf: ShippedImageClassifier,
  testOut: ClassifierOutputs,
  trainOut: ClassifierOutputs,
  results: RowTable,
  notes: string[],
): Promise<void> {
  const chunk = 1000;
  const noise = await classifierOutputs(
    clf,
    (function* () {
      for (let i = 0; i * chunk < s.noiseImages; i++) {
        const b = Math.min(chunk, s.noiseImages - i * chunk);
        yield tf.randomUniform([b, 784], 0, 1, 'float32', 1000 + i);
      }
    })(),
    { disposeBatches: true },
  );
  const d = noise.featureDim;
  const c = noise.numClasses;
  const is = inceptionScore(noise.logProbs, noise.n, c, 10);
  results.add('mnist/noise/inception-score', is.mean, 'score', {
    note: `${noise.n} images of i.i.d. uniform [0, 1] pixels, 10 splits, std ${is.std.toFixed(3)}: the far end of the scale (real test images: the row mnist/real/inception-score)`,
  });
  const fid = frechetFromFeatures(noise.features, noise.n, testOut.features, testOut.n, d);
  results.add('mnist/noise/fid-vs-test', fid.value, 'FID-MNIST', {
    note: `${noise.n} uniform-noise images vs the ${testOut.n} test images; mean term ${fid.meanTerm.toFixed(2)}`,
  });
  const m = Math.min(s.prImages, noise.n);
  const pr = precisionRecall(
    testOut.features.subarray(0, m * d),
    m,
    noise.features.subarray(0, m * d),
    m,
    d,
    { k: 3 },
  );
  results.add('mnist/noise/precision-vs-test', pr.precision, 'fraction', {
    note: `k = 3, ${m} noise images against the manifold of ${m} test images`,
  });
  results.add('mnist/noise/recall-vs-test', pr.recall, 'fraction', {
    note: `k = 3, ${m} test images against the manifold of ${m} noise images`,
  });
  const k = Math.min(s.mmdImages, noise.n);
  const mmd = mmdTest(
    noise.features.subarray(0, k * d),
    k,
    testOut.features.subarray(0, k * d),
    k,
    d,
    { kernel: { type: 'rbf' }, permutations: 200, seed: 0 },
  );
  results.add('mnist/noise/mmd2-vs-test', mmd.mmd2, 'MMD^2', {
    note: `RBF (median bandwidth), ${k} noise vs ${k} test images, permutation p-value ${mmd.pValue.toFixed(3)} (200 permutations; the smallest possible is 1/201)`,
  });
  // Class histograms (classifier argmax): test, train and noise, against each other and p*(y).
  const fractions = (o: ClassifierOutputs) => {
    const f = new Array<number>(c).fill(0);
    for (let i = 0; i < o.n; i++) f[argmaxRow(o.logProbs, i, c)]! += 1 / o.n;
    return f;
  };
  const fTest = fractions(testOut);
  const fTrain = fractions(trainOut);
  const tv = 0.5 * fTest.reduce((a, f, y) => a + Math.abs(f - fTrain[y]!), 0);
  results.add('mnist/real/class-tv-test-vs-train', tv, 'TV', {
    note: `total variation between the classifier's argmax class histograms of the ${testOut.n} test and ${trainOut.n} random training images`,
  });
  const histNoise = classHistogram(noise.logProbs, noise.n, c, { reference: clf.labelMarginal });
  results.add('mnist/noise/class-tv-vs-labels', histNoise.totalVariation!, 'TV', {
    note: `total variation between the noise images' argmax class histogram and the training-label marginal p*(y); ${histNoise.modesCovered} of ${c} classes predicted at least once`,
  });
  const pct = (f: number[]) => f.map((x) => (100 * x).toFixed(1)).join(' ');
  notes.push(
    `class histograms (% per digit 0-9, classifier argmax): test ${pct(fTest)}; train ${pct(fTrain)}; uniform noise ${pct(histNoise.fractions)}`,
  );
}

/**
 * Section 5: a small Gaussian VAE (784-200-10) trained on binarized MNIST; its test
 * log-likelihood by AIS and IWAE_k on the same random test images (paired), the BDMC bracket on
 * data simulated from it, and its samples through the classifier.
 */
async function vaeRows(
  v: VaeSettings,
  clf: ShippedImageClassifier,
  testOut: ClassifierOutputs,
  results: RowTable,
  notes: string[],
): Promise<void> {
  const cpu0 = cpuSeconds();
  const t0 = performance.now();
  const mnist = await loadBinarizedMnist({ binarization: 'dynamic', seed: 0, flat: true });
  const vae = GaussianVAE.mlp({ inputDim: 784, hidden: [200], latentDim: 10, rng: new Rng(0) });
  const owned: tf.Tensor[] = [];
  try {
    const trainImages = Math.min(v.trainImages, mnist.train.size);
    const trained = await trainVae(vae, mnist.train.slice(0, trainImages), { steps: v.steps });
    const cpuTrain = cpuSeconds() - cpu0;
    progress(`eval: VAE trained, ${v.steps} steps (${cpuTrain.toFixed(1)} s CPU)`);
    const what = `784-200-10 Gaussian VAE, Bernoulli decoder, ${v.steps} Adam steps (batch 100, lr 1e-3) on ${trainImages} dynamically binarized training images (last batch ELBO ${trained.lastElbo?.toFixed(1) ?? '?'})`;

    // Random test images (MNIST's file order is not exchangeable), one fixed binarization.
    const testDs = mnist.test.withBinarization('fixed', 123);
    const order = Array.from({ length: testDs.size }, (_, i) => i);
    const rng = new Rng(4);
    for (let i = order.length - 1; i > 0; i--) {
      const j = Math.floor(rng.float() * (i + 1));
      [order[i], order[j]] = [order[j]!, order[i]!];
    }
    const testX = getBatch(testDs, order.slice(0, v.testImages), { fields: ['x'] }).x as tf.Tensor;
    owned.push(testX);

    const cpu1 = cpuSeconds();
    const iwae = await estimateLogLikelihood(vae, testX, {
      k: v.iwaeK,
      chunk: 250,
      batchSize: 25,
      seed: 6,
      keepValues: true,
    });
    const cpuIwae = cpuSeconds() - cpu1;

    const model: DecoderModel = {
      latentDim: vae.latentFeatures,
      logLikelihood: (x, z) => vae.logLikelihood(z, x),
      logPrior: (z) => vae.prior().logProb(z),
      samplePrior: (n, r) => vae.prior().sample({ sampleShape: [n], rng: r }),
    };
    const aisOpts = {
      steps: v.aisSteps,
      chains: v.chains,
      leapfrog: v.leapfrog,
      batchSize: 25,
    };
    const aisDesc = `T = ${v.aisSteps} intermediate distributions (sigmoid schedule), ${v.chains} chains, HMC with ${v.leapfrog} leapfrog steps (step size adapted per chain to 65% acceptance)`;
    const cpu2 = cpuSeconds();
    const ais = aisLogLikelihood(model, testX, { ...aisOpts, seed: 7 });
    const cpuAis = cpuSeconds() - cpu2;
    const aisS = meanStderr(ais.values);
    const iwaeS = meanStderr(iwae.values!);
    results.add('mnist/vae/iwae-nll', -iwaeS.mean, 'nats', {
      note: `-IWAE_k, k = ${v.iwaeK} ± ${iwaeS.stderr.toFixed(2)} (s.e. over ${iwaeS.n} random test images); ${what}`,
    });
    results.add('mnist/vae/ais-nll', -aisS.mean, 'nats', {
      note: `-AIS ± ${aisS.stderr.toFixed(2)} (s.e., the same ${aisS.n} test images); ${aisDesc}; acceptance ${ais.acceptance.toFixed(2)}`,
    });
    // The check of the issue (Wu et al. 2017): log p(x) by AIS >= IWAE_k, up to Monte Carlo
    // error. Reported as measured, with its paired standard error; not tuned.
    const diff = pairedDiff(ais.values, iwae.values!);
    const verdict =
      diff.mean >= 0
        ? 'holds: AIS >= IWAE_k'
        : diff.mean >= -2 * diff.stderr
          ? 'holds within 2 s.e. (AIS below IWAE_k by less than its error)'
          : 'FAILS: AIS below IWAE_k by more than 2 s.e. (AIS is not converged at this T)';
    results.add('mnist/vae/ais-minus-iwae', diff.mean, 'nats', {
      note: `AIS minus IWAE_${v.iwaeK} log p(x), paired over the ${diff.n} test images: ${diff.mean.toFixed(3)} ± ${diff.stderr.toFixed(3)} (s.e.); the check log p(x) by AIS >= IWAE_k (Wu et al. 2017) ${verdict}; reported as measured (the settings are the budget's, not tuned to it); the row mnist/vae/bdmc-gap bounds AIS's own shortfall at this T on simulated data`,
    });

    // BDMC: data simulated from the VAE, so the latent that made each x is an exact posterior
    // sample; the reverse chain from it gives a stochastic upper bound, AIS the lower bound.
    const cpu3 = cpuSeconds();
    const zSim = vae.prior().sample({ sampleShape: [v.simImages], rng: new Rng(9) });
    owned.push(zSim);
    const xSim = tf.tidy(() => {
      const px = vae.decode(zSim);
      try {
        return px.sample({ rng: new Rng(10) });
      } finally {
        px.dispose();
      }
    });
    owned.push(xSim);
    const lower = meanStderr(aisLogLikelihood(model, xSim, { ...aisOpts, seed: 11 }).values);
    const upper = meanStderr(bdmcUpperBound(model, xSim, zSim, { ...aisOpts, seed: 12 }).values);
    const cpuBdmc = cpuSeconds() - cpu3;
    results.add('mnist/vae/bdmc-gap', upper.mean - lower.mean, 'nats', {
      note: `BDMC upper bound ${upper.mean.toFixed(2)} ± ${upper.stderr.toFixed(2)} minus AIS lower bound ${lower.mean.toFixed(2)} ± ${lower.stderr.toFixed(2)} (means over ${v.simImages} images simulated from the VAE: x ~ p(x | z), z ~ p(z), the true mean log p(x) lies between), the same AIS settings: how far AIS at this T is from converged on this model`,
    });

    // The VAE's samples through the classifier: Bernoulli means of p(x | z), z ~ p(z).
    const cpu4 = cpuSeconds();
    const xs = vae.sample(v.samples, { rng: new Rng(13) });
    owned.push(xs);
    const out = await classifierOutputs(clf, xs);
    const is = inceptionScore(out.logProbs, out.n, out.numClasses, 10);
    results.add('mnist/vae/samples/inception-score', is.mean, 'score', {
      note: `${out.n} samples (means of p(x | z), z ~ p(z)), 10 splits, std ${is.std.toFixed(3)}; real test images: mnist/real/inception-score, noise: mnist/noise/inception-score`,
    });
    const fid = frechetFromFeatures(
      out.features,
      out.n,
      testOut.features,
      testOut.n,
      out.featureDim,
    );
    results.add('mnist/vae/samples/fid-vs-test', fid.value, 'FID-MNIST', {
      note: `${out.n} VAE samples vs the ${testOut.n} test images (test vs train: mnist/real/fid-test-vs-train)`,
    });
    const hist = classHistogram(out.logProbs, out.n, out.numClasses, {
      reference: clf.labelMarginal,
    });
    results.add('mnist/vae/samples/class-tv-vs-labels', hist.totalVariation!, 'TV', {
      note: `total variation between the samples' argmax class histogram (${hist.counts.join(' ')}) and the training-label marginal; ${hist.modesCovered} of 10 classes present`,
    });
    const cpuSamples = cpuSeconds() - cpu4;
    const cpuAll = cpuSeconds() - cpu0;
    notes.push(
      `vae section: ${cpuAll.toFixed(1)} s CPU in all (process.cpuUsage; train ${cpuTrain.toFixed(1)}, IWAE ${cpuIwae.toFixed(1)}, AIS ${cpuAis.toFixed(1)}, BDMC ${cpuBdmc.toFixed(1)}, samples ${cpuSamples.toFixed(1)}), ${((performance.now() - t0) / 1000).toFixed(1)} s wall`,
    );
  } finally {
    tf.dispose(owned);
    vae.dispose();
  }
}
