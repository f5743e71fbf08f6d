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
 * These are the numbers a model's samples are compared with (a perfect sampler matches them).
 */
import { initBackend } from '@dgm-js/core-tensors';
import { batches, loadMnist } from '@dgm-js/datasets';
import {
  classHistogram,
  classifierOutputs,
  frechetFromFeatures,
  inceptionScore,
  loadMnistClassifier,
  mmdTest,
  modeScore,
  precisionRecall,
} from '@dgm-js/eval';
import type { SuiteResult } from '../report.js';
import { RowTable } from '../rows.js';
import { progress } from '../timing.js';
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
}

const SETTINGS: Record<Profile, Settings> = {
  quick: { trainImages: 20000, prImages: 2000, mmdImages: 500, bootstrap: 5 },
  full: { trainImages: 60000, prImages: 10000, mmdImages: 2000, bootstrap: 20 },
};

export const evalSuite: Suite = {
  name: 'eval',
  description:
    'sample-quality reference values on real MNIST with the shipped classifier: test accuracy, Inception-style / MODE score, FID-MNIST test vs train',
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
