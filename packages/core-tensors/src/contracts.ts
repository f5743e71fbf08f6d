/**
 * The contracts between dgm.js packages, in one place. Every package depends on core-tensors, so
 * a model package, an estimator, a metric or a hybrid names these types from here and never from
 * a sibling package. Each name means one thing project-wide:
 *
 * - {@link Distribution}: a batched probability distribution (sample, rsample, logProb, ...).
 *   MADE, PixelCNN and flows are distributions too (batch shape `[]`, event shape one example).
 * - {@link ConditionalDistribution}: a module mapping a context to a `Distribution`: an encoder
 *   q(z | x), a decoder p(x | z), a conditional PixelCNN or flow, a product of experts.
 * - {@link Bijector}: an invertible map with its log-Jacobian, optionally conditioned.
 * - {@link GradientEstimator}: gradients of E_q[f(z)] through a surrogate, with explicit state.
 * - {@link Metric}: an evaluation over a structural model interface.
 * - {@link Generator}, {@link Critic}: the two players of a GAN (a generator maps latents to
 *   examples, a critic maps examples to one score each); losses and penalties are functions of
 *   scores and critics, so anything implementing these trains with them.
 * - {@link SampleOptions}, {@link BoundOptions}: the options every sampler and bound takes.
 *
 * Types only: importing this module loads no code.
 *
 * @example
 * ```ts
 * import type { ConditionalDistribution, Distribution } from '@dgm-js/core-tensors';
 * import { Independent, Normal, tf } from '@dgm-js/core-tensors';
 * const shift: ConditionalDistribution = {
 *   condition: (c) => new Independent(new Normal(c, 1), 1),
 * };
 * const q: Distribution = shift.condition(tf.zeros([4, 2])); // batch [4], event [2]
 * q.dispose();
 * ```
 */
import type { Distribution } from './distributions/distribution.js';
import type { Rng } from './rng.js';
import type { tf } from './tf.js';

export type {
  Distribution,
  SampleOptions,
  SampleProgress,
} from './distributions/distribution.js';

type Tensor = tf.Tensor;

/**
 * A distribution given a context: p(. | c). `condition(c)` returns a new `Distribution` the
 * caller owns (dispose it); its batch shape is the context's batch shape (`[B]` for a context
 * `[B, ...contextShape]`). The module itself owns the parameters (`dispose()` frees them).
 *
 * @example
 * ```ts
 * const q = encoder.condition(x); // q(z | x), batch [B], event [latentDim]
 * const z = q.rsample({ rng });   // [B, latentDim]
 * tf.dispose([z]); q.dispose();
 * ```
 */
export interface ConditionalDistribution<C = Tensor, D extends Distribution = Distribution> {
  /** p(. | context). */
  condition(context: C): D;
  /** The trainable variables behind the distribution (for optimisers and checkpoints). */
  parameters?(): tf.Variable[];
  /** Frees the parameters. Idempotent. */
  dispose?(): void;
}

/** What `Bijector.forward` returns: the output and log|det dy/dx| per example (shape `[N]`). */
export interface ForwardResult {
  y: Tensor;
  logDetJ: Tensor;
}

/** What `Bijector.inverse` returns: the input and log|det dx/dy| per example (shape `[N]`). */
export interface InverseResult {
  x: Tensor;
  logDetJ: Tensor;
}

/**
 * An invertible, differentiable map with a tractable Jacobian determinant, optionally
 * conditioned on a context (`[N, contextDim]`, one row per example). `forward` maps base (noise)
 * space to data space (the generative direction), `inverse` data to noise (the density
 * direction), as in TensorFlow Probability and Pyro. Every returned tensor is new and owned by
 * the caller. Unconditional bijectors ignore a context; conditional ones require it.
 *
 * @example
 * ```ts
 * const { y, logDetJ } = b.forward(x);  // y [N, D], logDetJ [N]
 * const back = b.inverse(y);           // back.x equals x, back.logDetJ equals -logDetJ
 * ```
 */
export interface Bijector {
  /** The class name used in error messages. */
  readonly kind: string;
  /** Base (noise) space to data space; log|det dy/dx| per example. */
  forward(x: Tensor, context?: Tensor): ForwardResult;
  /** Data space to base space; log|det dx/dy| per example. */
  inverse(y: Tensor, context?: Tensor): InverseResult;
  /** Frees the bijector's variables. */
  dispose(): void;
}

/**
 * Options of every stochastic bound (`elbo`, `iwae`, `logWeights`) and of likelihood metrics.
 *
 * @example
 * ```ts
 * vae.elbo(x, { rng: new Rng(0) });
 * ```
 */
export interface BoundOptions {
  /** The random stream the latent samples take their seeds from. */
  rng: Rng;
}

/**
 * The integrand f of E_q[f(z)]. It receives samples `z` of shape `[S, ...batchShape,
 * ...eventShape]` (S any leading size: estimators batch several evaluations into one call) and
 * returns `[S, ...instanceShape]`, one value per sample and instance, where `instanceShape` is a
 * leading part of q's batch shape; the remaining batch dimensions are latent dimensions, which f
 * reduces over and the estimator sums log q over. f may have parameters of its own (a decoder):
 * its gradient flows into them.
 */
export type Integrand = (z: Tensor) => Tensor;

/** Options of {@link GradientEstimator.estimate}. */
export interface EstimateOptions {
  /** Number of samples K per instance (ARM / DisARM: antithetic pairs). Integer >= 1. */
  samples: number;
  /** The random stream the samples take their seeds from. */
  rng: Rng;
  /** Input of a learned baseline (NVIL): `[...instanceShape, features]`. */
  context?: Tensor;
  /**
   * Whether this call advances the estimator's state (step counter, baseline averages,
   * control-variate training). Default true; analyses (`gradientStats`) pass false.
   */
  update?: boolean;
  /** Whether to read diagnostics back (one small synchronous read). Default true. */
  diagnostics?: boolean;
}

/** Scalar facts about one estimate (the mean objective, baseline, temperature, ...). */
export type Diagnostics = Record<string, number>;

/** What {@link GradientEstimator.estimate} returns. */
export interface EstimateResult {
  /**
   * The surrogate, shape `instanceShape`: its value is the Monte Carlo estimate of E_q[f] per
   * instance (see each estimator for exceptions), its gradient the estimator. The caller owns it.
   */
  surrogate: Tensor;
  /** Read-back scalars (empty when `diagnostics: false`). */
  diagnostics: Diagnostics;
}

/** One tensor of a state, as plain numbers. */
export interface SerializedTensor {
  shape: number[];
  values: number[];
}

/**
 * An estimator's explicit state: the step counter and every tensor it learns or averages
 * (baselines, control-variate networks, their optimiser moments). Plain JSON: saved with a
 * checkpoint, restored with `setState`.
 */
export interface EstimatorState {
  estimator: string;
  version: 1;
  step: number;
  tensors: Record<string, SerializedTensor>;
}

/**
 * A part of a model with training state outside its parameters (a gradient estimator's step,
 * baselines, control-variate networks and their optimiser). The `Trainer` of core-tensors saves
 * it with every checkpoint, restores it on resume and on the non-finite guard's rollback, and
 * checks it for NaN/Inf after every step. Every {@link GradientEstimator} is one.
 *
 * @example
 * ```ts
 * const part: StatefulPart = relax();
 * const saved = part.getState(); // JSON
 * part.setState(saved);
 * ```
 */
export interface StatefulPart {
  /** Short name for messages ('relax', 'gumbel-softmax', ...). */
  readonly name?: string;
  /** A JSON copy of the state. */
  getState(): EstimatorState;
  /** Restores a state from `getState()`. */
  setState(state: EstimatorState): void;
  /**
   * What a user changes when this state diverges (NaN/Inf), for the non-finite guard's message,
   * e.g. "lower relax's own learningRate". Optional.
   */
  readonly divergenceHint?: string;
}

/**
 * A model whose training state includes {@link StatefulPart}s (a VAE's gradient estimator): the
 * `Trainer` finds them through `trainingState()` and checkpoints them under their keys.
 *
 * @example
 * ```ts
 * vae.trainingState(); // { estimator: <the VAE's GradientEstimator> }
 * ```
 */
export interface TrainingStateProvider {
  trainingState(): Record<string, StatefulPart>;
}

/**
 * A gradient estimator for grad E_{q(z)}[f(z)] where q is a core `Distribution` (score-function
 * estimators take any; the reparameterization estimator one with `hasRsample`; the discrete
 * estimators `Bernoulli` and `OneHotCategorical`).
 */
export interface GradientEstimator {
  /** Short name ('reinforce', 'rloo', 'gumbel-softmax', ...). */
  readonly name: string;
  /** Whether the gradient is an unbiased estimate of grad E_q[f]. */
  readonly unbiased: boolean;
  /** Number of updating calls so far (drives temperature schedules). */
  readonly step: number;
  /** The surrogate and diagnostics for one estimate. */
  estimate(q: Distribution, f: Integrand, opts: EstimateOptions): EstimateResult;
  /** A JSON copy of the state. */
  getState(): EstimatorState;
  /** Restores a state from `getState()`. */
  setState(state: EstimatorState): void;
  /** Frees the state's tensors. Idempotent. */
  dispose(): void;
  /**
   * What a user changes when the state diverges (e.g. "lower relax's own learningRate"), for
   * the Trainer's non-finite guard. Optional.
   */
  readonly divergenceHint?: string;
}

/**
 * Data to evaluate on: one tensor `[n, ...]` (split into batches), or batches `[b, ...]` from an
 * iterable or async iterable. Tensors passed in stay the caller's.
 */
export type EvalData = Tensor | Iterable<Tensor> | AsyncIterable<Tensor>;

/** What a metric returns. */
export interface MetricResult {
  /** The metric's name (`elbo`, `iwae-log-likelihood`, `bits-per-dim`, ...). */
  name: string;
  /** The mean over the examples. */
  value: number;
  /** The standard error of the mean over the examples (sample std / sqrt(n)). */
  stderr?: number;
  /** Number of examples. */
  n: number;
  /** Anything else worth reporting (settings, per-example values, timings). */
  details: Record<string, unknown>;
}

/** A metric over a structural model interface `M`: `compute(model, data)`. */
export interface Metric<M> {
  readonly name: string;
  compute(model: M, data: EvalData): Promise<MetricResult>;
}

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
