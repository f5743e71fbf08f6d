/**
 * The two players of a GAN. These interfaces are the package's contract (the lead may move them
 * into core-tensors' contracts module later): a generator maps standard-normal latents (and,
 * when conditional, class labels) to examples; a critic maps examples (and labels) to one real
 * score per example. Losses and penalties are pure functions of scores and critics, so anything
 * that implements these interfaces trains with them.
 */
import type { Rng, tf } from '@dgm-js/core-tensors';

type Tensor = tf.Tensor;

/** Options of {@link Generator.generate}. */
export interface GenerateOptions {
  /**
   * Class labels `[n]` (integers in [0, numClasses)) for a conditional generator; required
   * there, rejected by an unconditional one.
   */
  labels?: Tensor | readonly number[];
}

/**
 * A generator G(z) (or G(z, y)). `generate(n, rng)` draws z ~ N(0, I) from `rng` and returns
 * `[n, ...outputShape]`; `forward(z, labels?)` is the differentiable map the training loop uses.
 *
 * @example
 * ```ts
 * const x = generator.generate(64, new Rng(0)); // [64, ...generator.outputShape]
 * x.dispose();
 * ```
 */
export interface Generator {
  /** Dimension of the latent z. */
  readonly latentDim: number;
  /** The shape of one generated example (`[2]` for the toys, `[28, 28, 1]` for MNIST). */
  readonly outputShape: readonly number[];
  /** The number of classes of a conditional generator, undefined when unconditional. */
  readonly numClasses: number | undefined;
  /** z ~ N(0, I), `[n, latentDim]`, seeded from `rng`. */
  sampleLatent(n: number, rng: Rng): Tensor;
  /** G(z) (G(z, y) when conditional): `[n, ...outputShape]`, differentiable in the parameters. */
  forward(z: Tensor, labels?: Tensor): Tensor;
  /** `forward(sampleLatent(n, rng), labels)`. */
  generate(n: number, rng: Rng, opts?: GenerateOptions): Tensor;
  /** The trainable variables. */
  parameters(): tf.Variable[];
  /** Frees the variables. Idempotent. */
  dispose(): void;
}

/**
 * A critic (discriminator) D(x) (or D(x, y)): one score per example, `[N]`. Scores are raw
 * (logits for the minimax and non-saturating losses). A critic must treat examples
 * independently (no batch statistics), which gradient penalties rely on.
 *
 * @example
 * ```ts
 * const s = critic.score(x); // [N]
 * ```
 */
export interface Critic {
  /** The shape of one input example. */
  readonly inputShape: readonly number[];
  /** The number of classes of a conditional critic, undefined when unconditional. */
  readonly numClasses: number | undefined;
  /** D(x) (D(x, y) when conditional): `[N]`. */
  score(x: Tensor, labels?: Tensor): Tensor;
  /** The trainable variables. */
  parameters(): tf.Variable[];
  /** Frees the variables. Idempotent. */
  dispose(): void;
}
