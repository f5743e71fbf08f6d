/**
 * The image classifiers sample-quality metrics look through: a structural
 * {@link ImageClassifier} interface (features + class log-probabilities), and the classifier
 * shipped inside this package, loaded offline in Node and in the browser.
 */
import { checkInt, logSoftmax, Rng, ShapeError, tf } from '@dgm-js/core-tensors';
import { ConvClassifier } from './net.js';
import type { ShippedClassifier } from './shipped-types.js';
import { decodeWeights } from './weights-codec.js';

type Tensor = tf.Tensor;

/** What an {@link ImageClassifier} returns for a batch: new tensors the caller owns. */
export interface ClassifierBatchOutput {
  /** `[n, featureDim]`: the feature space of FID, MMD and precision / recall. */
  features: Tensor;
  /** `[n, numClasses]`: log p(y | x). */
  logProbs: Tensor;
}

/**
 * A classifier the sample-quality metrics can use: a feature map and class probabilities.
 * The shipped MNIST classifier is one; any network with these members fits.
 *
 * @example
 * ```ts
 * const mine: ImageClassifier = {
 *   numClasses: 10, featureDim: 128,
 *   classify: (x) => tf.tidy(() => { const h = body.apply(x); return { features: h, logProbs: tf.logSoftmax(head.apply(h)) }; }),
 * };
 * ```
 */
export interface ImageClassifier {
  readonly numClasses: number;
  readonly featureDim: number;
  /** p*(y), the training-label marginal, when known (for the MODE score). */
  readonly labelMarginal?: readonly number[];
  /** Features and log-probabilities of a batch of images. */
  classify(x: Tensor): ClassifierBatchOutput;
}

/**
 * A classifier built from shipped weights: an {@link ImageClassifier} plus `accuracy` and
 * `dispose` (it owns the weights). The weights are base64 or raw DGW1 bytes, so they can also
 * come from a URL (no file system: works in a browser).
 *
 * @example
 * ```ts
 * const clf = await loadMnistClassifier();
 * const { logProbs, features } = clf.classify(x); // x [n, 28, 28, 1] or [n, 784], pixels in [0, 1]
 * tf.dispose([logProbs, features]);
 * clf.dispose();
 * // or from bytes served elsewhere (same architecture and metadata):
 * const bytes = new Uint8Array(await (await fetch(url)).arrayBuffer());
 * const mine = new ShippedImageClassifier({ ...shippedDescription, weights: bytes });
 * ```
 */
export class ShippedImageClassifier implements ImageClassifier {
  readonly numClasses: number;
  readonly featureDim: number;
  readonly labelMarginal: readonly number[];
  /** The dataset the classifier was trained on ('mnist', ...). */
  readonly dataset: string;
  /** Facts of its training run (test accuracy, epochs, seed, ...). */
  readonly meta: Readonly<Record<string, unknown>>;
  /** The network (owned). */
  readonly net: ConvClassifier;

  constructor(shipped: ShippedClassifier) {
    this.net = new ConvClassifier({ ...shipped.config, rng: new Rng(0) });
    const state = decodeWeights(shipped.weights);
    try {
      this.net.setState(state);
    } catch (e) {
      this.net.dispose();
      throw e;
    } finally {
      tf.dispose(Object.values(state));
    }
    this.numClasses = shipped.config.classes;
    this.featureDim = shipped.config.features;
    this.labelMarginal = Object.freeze([...shipped.labelMarginal]);
    this.dataset = shipped.dataset;
    this.meta = Object.freeze({ ...shipped.meta });
  }

  classify(x: Tensor): ClassifierBatchOutput {
    return tf.tidy(() => {
      const { features, logits } = this.net.forward(x);
      return { features, logProbs: logSoftmax(logits) };
    });
  }

  /**
   * The fraction of `x` classified as its label `y` (`[n]` integer labels), in batches of
   * `batchSize` (default 500).
   */
  accuracy(x: Tensor, y: Tensor, batchSize = 500): number {
    const n = x.shape[0] as number;
    if (y.rank !== 1 || y.shape[0] !== n) {
      throw new ShapeError(
        `accuracy: labels must be [${n}] to match the images' first axis, got [${y.shape.join(', ')}].`,
      );
    }
    checkInt(batchSize, 'batchSize', 'accuracy');
    let correct = 0;
    for (let s = 0; s < n; s += batchSize) {
      const b = Math.min(batchSize, n - s);
      correct += tf.tidy(() => {
        const xb = tf.slice(x, [s], [b]);
        const yb = tf.cast(tf.slice(y, [s], [b]), 'int32');
        const pred = tf.argMax(this.net.apply(xb), 1);
        return tf.sum(tf.cast(tf.equal(pred, yb), 'float32')).dataSync()[0] as number;
      });
    }
    return correct / n;
  }

  /** Frees the weights. Idempotent. */
  dispose(): void {
    this.net.dispose();
  }
}

/**
 * Loads the MNIST classifier shipped with this package (float16 weights inside the JavaScript,
 * ~230 KB; no file or network access, so it works offline in Node and in browsers). Its
 * penultimate layer (64 ReLU units) is the feature space of FID-MNIST. The caller owns it
 * (`dispose()`). Inputs: `[n, 28, 28, 1]`, `[n, 28, 28]` or `[n, 784]`, pixels in [0, 1].
 *
 * @example
 * ```ts
 * import { loadMnistClassifier } from '@dgm-js/eval';
 * const clf = await loadMnistClassifier();
 * console.log(clf.meta.testAccuracy); // measured on the 10000 MNIST test images when trained
 * clf.dispose();
 * ```
 */
export async function loadMnistClassifier(): Promise<ShippedImageClassifier> {
  const { SHIPPED } = await import('./weights/mnist.js');
  return new ShippedImageClassifier(SHIPPED);
}

/**
 * Loads the Fashion-MNIST classifier shipped with this package (same architecture and format as
 * {@link loadMnistClassifier}; classes in the order of `FASHION_MNIST_CLASSES` of
 * `@dgm-js/datasets`: T-shirt/top, trouser, pullover, dress, coat, sandal, shirt, sneaker, bag,
 * ankle boot). The caller owns it (`dispose()`).
 *
 * @example
 * ```ts
 * import { loadFashionMnistClassifier } from '@dgm-js/eval';
 * const clf = await loadFashionMnistClassifier();
 * console.log(clf.meta.testAccuracy); // measured on the 10000 Fashion-MNIST test images when trained
 * clf.dispose();
 * ```
 */
export async function loadFashionMnistClassifier(): Promise<ShippedImageClassifier> {
  const { SHIPPED } = await import('./weights/fashion-mnist.js');
  return new ShippedImageClassifier(SHIPPED);
}
