/**
 * The shipped Fashion-MNIST classifier on real data (Debian's dataset-fashion-mnist; skipped,
 * with the reason, where the files are not installed): >= 88% on the first 2000 test images
 * (the training log records the full test set, >= 90%), and it loads and classifies without
 * leaks.
 */
import { tf } from '@dgm-js/core-tensors';
import { findFashionMnistDir, getBatch, loadFashionMnist } from '@dgm-js/datasets';
import { expectNoLeaks } from '@dgm-js/test-utils';
import { describe, expect, it } from 'vitest';
import { loadFashionMnistClassifier } from './classifier.js';

const dir = await findFashionMnistDir();
if (!dir) {
  console.warn(
    'fashion.test: no Fashion-MNIST files (apt-get install dataset-fashion-mnist); skipped.',
  );
}

describe('the shipped Fashion-MNIST classifier', () => {
  it('was >= 90% accurate on the full test set when trained (its metadata)', async () => {
    const clf = await loadFashionMnistClassifier();
    expect(clf.dataset).toBe('fashion-mnist');
    expect(clf.meta.testImages).toBe(10000);
    expect(clf.meta.testAccuracy as number).toBeGreaterThanOrEqual(0.9);
    clf.dispose();
  });

  it.skipIf(!dir)(
    'classifies the first 2000 real test images with >= 88% accuracy, no leaks',
    async () => {
      const clf = await loadFashionMnistClassifier();
      const { test } = await loadFashionMnist({ dir: dir! });
      const b = getBatch(
        test,
        Int32Array.from({ length: 2000 }, (_, i) => i),
        { fields: ['x', 'y'] },
      );
      const acc = await expectNoLeaks(() => clf.accuracy(b.x, b.y));
      expect(acc).toBeGreaterThanOrEqual(0.88);
      tf.dispose([b.x, b.y]);
      clf.dispose();
    },
  );
});
