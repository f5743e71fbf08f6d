/**
 * Encoders q(z | x) and decoders p(x | z) as `ConditionalDistribution`s: a network (any module
 * from a tensor to a tensor) whose output parameterizes a core distribution (`Normal` in
 * `Independent`, `Bernoulli`, `OneHotCategorical`). Each is a `Module` (its network is the
 * sub-module `net`), so a `VAE` trains and checkpoints it with the rest of the model.
 */
import {
  type ConditionalDistribution,
  checkInt,
  type Distribution,
  fmtShape,
  Module,
  ShapeError,
  softplus,
  tf,
  ValueError,
} from '@dgm-js/core-tensors';
import { ownedBernoulli, ownedNormal, ownedOneHot } from './distributions.js';
import type { Likelihood } from './types.js';

type Tensor = tf.Tensor;
/** Any module from a tensor to a tensor (encoder and decoder networks). */
export type TensorModule = Module<tf.Tensor, tf.Tensor>;

/**
 * The base of the encoder / decoder helpers: a module wrapping the network `net`, whose
 * `condition(context)` returns a new distribution the caller owns (`apply` is the same).
 * Subclass it for a new likelihood or posterior family.
 *
 * @example
 * ```ts
 * class LaplaceDecoder extends ConditionalModule {
 *   constructor(net: TensorModule) { super('LaplaceDecoder', net); }
 *   condition(z: tf.Tensor): Distribution {
 *     const loc = this.flatOutput(z); // [N, D]
 *     return new Independent(new MyLaplace(loc, 1), 1);
 *   }
 * }
 * ```
 */
export abstract class ConditionalModule
  extends Module<Tensor, Distribution>
  implements ConditionalDistribution<Tensor>
{
  /** The network (a registered sub-module). */
  readonly net: TensorModule;

  protected constructor(kind: string, net: TensorModule) {
    super(kind);
    if (!(net instanceof Module)) {
      throw new ValueError(
        `${kind}: pass a network module (e.g. mlp([784, 400, 80], { rng })), got ${typeof net}.`,
      );
    }
    this.net = this.addModule('net', net);
  }

  /** The distribution given `context` `[N, ...]`: batch shape `[N]`. The caller owns it. */
  abstract condition(context: Tensor): Distribution;

  /** Same as {@link condition}. */
  apply(context: Tensor): Distribution {
    return this.condition(context);
  }

  /** The network's output for `context` `[N, ...]`, checked to be `[N, width]`. */
  protected output(context: Tensor, width: number | undefined, what: string): Tensor {
    const h = this.net.apply(context);
    const n = context.shape[0];
    if (h.rank !== 2 || h.shape[0] !== n || (width !== undefined && h.shape[1] !== width)) {
      const want = width === undefined ? '[batch, features]' : `[batch, ${width}]`;
      h.dispose();
      throw new ShapeError(
        `${this.kind}: the network returned ${fmtShape(h.shape)} for a context ${fmtShape(context.shape)}; it must return ${want} ${what}.`,
      );
    }
    return h;
  }

  /** The network's output for `context` `[N, ...]` (flattened to `[N, ...]`), flat per example `[N, D]`. */
  protected flatOutput(context: Tensor): Tensor {
    return tf.tidy(() => {
      const n = context.shape[0] as number;
      const h = this.net.apply(tf.reshape(context, [n, n === 0 ? 0 : context.size / n]));
      if (h.rank < 1 || h.shape[0] !== n) {
        throw new ShapeError(
          `${this.kind}: the network returned ${fmtShape(h.shape)} for a context ${fmtShape(context.shape)}; it must keep the batch axis ([${n}, ...]).`,
        );
      }
      return tf.reshape(h, [n, n === 0 ? 0 : h.size / n]);
    });
  }
}

/** Options of {@link gaussianEncoder}. */
export interface GaussianEncoderOptions {
  /** Latent dimensions d; the network must return `[B, 2d]`. Default: half its output width. */
  latentDim?: number;
  /** Added to softplus(.) so scales stay positive. Default 1e-5. */
  minScale?: number;
}

/**
 * q(z | x) = N(mu(x), diag sigma(x)^2); see {@link gaussianEncoder}.
 *
 * @example
 * ```ts
 * const enc = new GaussianEncoder(mlp([784, 400, 80], { rng }), { latentDim: 40 });
 * ```
 */
export class GaussianEncoder extends ConditionalModule {
  readonly latentDim: number | undefined;
  readonly minScale: number;

  constructor(net: TensorModule, opts: GaussianEncoderOptions = {}) {
    super('GaussianEncoder', net);
    this.latentDim =
      opts.latentDim === undefined ? undefined : checkInt(opts.latentDim, 'latentDim', this.kind);
    this.minScale = opts.minScale ?? 1e-5;
    if (!(this.minScale >= 0 && Number.isFinite(this.minScale))) {
      throw new ValueError(
        `${this.kind}: minScale must be a finite number >= 0, got ${this.minScale}.`,
      );
    }
  }

  condition(x: Tensor): Distribution {
    const d = this.latentDim;
    const [loc, scale] = tf.tidy(() => {
      const h = this.output(
        x,
        d === undefined ? undefined : 2 * d,
        '(means, then pre-softplus scales)',
      );
      if ((h.shape[1] as number) % 2 !== 0) {
        throw new ShapeError(
          `${this.kind}: the network returned ${fmtShape(h.shape)}; it must return [batch, 2 * latentDim] (means, then pre-softplus scales).`,
        );
      }
      const [l, raw] = tf.split(h, 2, 1) as [Tensor, Tensor];
      return [l, tf.add(softplus(raw), this.minScale)];
    });
    return ownedNormal(loc as Tensor, scale as Tensor, 1);
  }
}

/**
 * A diagonal Gaussian encoder: the network maps x `[B, ...]` to `[B, 2d]`, means then
 * pre-softplus scales; q(z | x) = Independent(Normal(mu, softplus(.) + 1e-5), 1), batch `[B]`,
 * event `[d]`, reparameterized.
 *
 * @example
 * ```ts
 * import { mlp, Rng } from '@dgm-js/core-tensors';
 * import { gaussianEncoder } from '@dgm-js/vae';
 * const enc = gaussianEncoder(mlp([784, 400, 80], { rng: new Rng(0), activation: 'relu' }));
 * const q = enc.condition(x); // batch [B], event [40]
 * q.dispose();
 * ```
 */
export function gaussianEncoder(
  net: TensorModule,
  opts: GaussianEncoderOptions = {},
): GaussianEncoder {
  return new GaussianEncoder(net, opts);
}

/**
 * q(z | x) = prod_j Bernoulli(sigmoid(logit_j(x))); see {@link bernoulliEncoder}.
 *
 * @example
 * ```ts
 * const enc = new BernoulliEncoder(mlp([784, 256, 200], { rng }), { latentDim: 200 });
 * ```
 */
export class BernoulliEncoder extends ConditionalModule {
  readonly latentDim: number | undefined;

  constructor(net: TensorModule, opts: { latentDim?: number } = {}) {
    super('BernoulliEncoder', net);
    this.latentDim =
      opts.latentDim === undefined ? undefined : checkInt(opts.latentDim, 'latentDim', this.kind);
  }

  condition(x: Tensor): Distribution {
    const logits = tf.tidy(() => this.output(x, this.latentDim, 'logits'));
    return ownedBernoulli(logits, 1);
  }
}

/**
 * An encoder of d binary latents: the network maps x to `[B, d]` logits;
 * q(z | x) = Independent(Bernoulli(logits), 1), batch `[B]`, event `[d]` (not reparameterized:
 * train it with a gradient estimator).
 *
 * @example
 * ```ts
 * const enc = bernoulliEncoder(mlp([784, 256, 200], { rng }));
 * ```
 */
export function bernoulliEncoder(
  net: TensorModule,
  opts: { latentDim?: number } = {},
): BernoulliEncoder {
  return new BernoulliEncoder(net, opts);
}

/** Options of {@link categoricalEncoder}. */
export interface CategoricalEncoderOptions {
  /** Number of categorical latent variables n. */
  latents: number;
  /** Categories C of each; the network returns `[B, n * C]` logits. */
  categories: number;
}

/**
 * q(z | x) = prod_i Cat(softmax(logits_i(x))); see {@link categoricalEncoder}.
 *
 * @example
 * ```ts
 * const enc = new CategoricalEncoder(mlp([784, 256, 200], { rng }), { latents: 20, categories: 10 });
 * ```
 */
export class CategoricalEncoder extends ConditionalModule {
  readonly latents: number;
  readonly categories: number;

  constructor(net: TensorModule, opts: CategoricalEncoderOptions) {
    super('CategoricalEncoder', net);
    if (!opts || typeof opts !== 'object') {
      throw new ValueError(`${this.kind}: pass { latents, categories }.`);
    }
    this.latents = checkInt(opts.latents, 'latents', this.kind);
    this.categories = checkInt(opts.categories, 'categories', this.kind, { min: 2 });
  }

  condition(x: Tensor): Distribution {
    const n = this.latents;
    const c = this.categories;
    const logits = tf.tidy(() =>
      tf.reshape(this.output(x, n * c, 'logits (latents * categories)'), [-1, n, c]),
    );
    return ownedOneHot(logits, 1);
  }
}

/**
 * An encoder of n C-way categorical latents (one-hot): the network maps x to `[B, n C]`
 * logits; q(z | x) = Independent(OneHotCategorical(logits `[B, n, C]`), 1), batch `[B]`, event
 * `[n, C]` (not reparameterized: train it with a gradient estimator).
 *
 * @example
 * ```ts
 * const enc = categoricalEncoder(mlp([784, 256, 200], { rng }), { latents: 20, categories: 10 });
 * ```
 */
export function categoricalEncoder(
  net: TensorModule,
  opts: CategoricalEncoderOptions,
): CategoricalEncoder {
  return new CategoricalEncoder(net, opts);
}

function checkContext(z: Tensor, who: string): Tensor {
  if (!(z instanceof tf.Tensor) || z.rank < 1) {
    throw new ShapeError(`${who}: the context must be a tensor [batch, ...], got ${String(z)}.`);
  }
  return z;
}

/**
 * p(x | z) = prod_i Bernoulli(sigmoid(logit_i(z))); see {@link bernoulliDecoder}.
 *
 * @example
 * ```ts
 * const dec = new BernoulliDecoder(mlp([40, 400, 784], { rng }));
 * ```
 */
export class BernoulliDecoder extends ConditionalModule {
  constructor(net: TensorModule) {
    super('BernoulliDecoder', net);
  }

  condition(z: Tensor): Distribution {
    const logits = this.flatOutput(checkContext(z, this.kind));
    return ownedBernoulli(logits, 1);
  }

  /**
   * Throws a `ValueError` unless every entry of the data x lies in [0, 1] (binary data, or
   * probabilities as in a continuous-Bernoulli-free binarization): x = 255 would otherwise give a
   * finite but meaningless log-likelihood. Each tensor is read once (later calls are free).
   */
  checkObservation(x: Tensor, who: string): void {
    if (!(x instanceof tf.Variable) && checkedData.has(x)) return;
    const v = x.dataSync();
    for (let i = 0; i < v.length; i++) {
      const e = v[i] as number;
      if (!(e >= 0 && e <= 1)) {
        throw new ValueError(
          `${who}: x[${i}] (flat index) is ${e}, outside the support [0, 1] of the Bernoulli likelihood (bernoulliDecoder). Binarize the data (e.g. x > 0.5) or scale it to [0, 1] (x / 255); for real-valued data use gaussianDecoder.`,
        );
      }
    }
    if (!(x instanceof tf.Variable)) checkedData.add(x);
  }
}

/** Data tensors already checked by a Bernoulli likelihood (tensors are immutable). */
const checkedData = new WeakSet<Tensor>();

/**
 * A decoder for binary data: the network maps latents `[N, ...]` (flattened to `[N, features]`)
 * to `[N, D]` logits; p(x | z) = Independent(Bernoulli(logits), 1), batch `[N]`, event `[D]`
 * (x flattened per example).
 *
 * @example
 * ```ts
 * const dec = bernoulliDecoder(mlp([40, 400, 784], { rng }));
 * const px = dec.condition(z); // batch [N], event [784]
 * ```
 */
export function bernoulliDecoder(net: TensorModule): BernoulliDecoder {
  return new BernoulliDecoder(net);
}

/**
 * p(x | z) = N(mu(z), scale^2 I); see {@link gaussianDecoder}.
 *
 * @example
 * ```ts
 * const dec = new GaussianDecoder(mlp([2, 16, 3], { rng }), { scale: 0.5 });
 * ```
 */
export class GaussianDecoder extends ConditionalModule {
  readonly scale: number;

  constructor(net: TensorModule, opts: { scale: number }) {
    super('GaussianDecoder', net);
    const s = opts?.scale;
    if (typeof s !== 'number' || !Number.isFinite(s) || s <= 0) {
      throw new ValueError(`${this.kind}: scale must be a finite number > 0, got ${String(s)}.`);
    }
    this.scale = s;
  }

  condition(z: Tensor): Distribution {
    const loc = this.flatOutput(checkContext(z, this.kind));
    return ownedNormal(loc, this.scale, 1);
  }
}

/**
 * A decoder for real data with a fixed standard deviation: the network maps latents `[N, ...]`
 * to means `[N, D]`; p(x | z) = Independent(Normal(means, scale), 1), batch `[N]`, event `[D]`.
 *
 * @example
 * ```ts
 * const dec = gaussianDecoder(mlp([2, 16, 3], { rng }), { scale: 0.5 });
 * ```
 */
export function gaussianDecoder(net: TensorModule, opts: { scale: number }): GaussianDecoder {
  return new GaussianDecoder(net, opts);
}

/**
 * Checks a `Likelihood` option (default 'bernoulli'), or throws a `ValueError` naming `who`.
 *
 * @example
 * ```ts
 * checkLikelihood({ type: 'gaussian', scale: 0.1 }, 'GaussianVAE');
 * ```
 */
export function checkLikelihood(l: Likelihood | undefined, who: string): Likelihood {
  const lik = l ?? 'bernoulli';
  if (lik === 'bernoulli') return lik;
  if (
    typeof lik === 'object' &&
    lik.type === 'gaussian' &&
    Number.isFinite(lik.scale) &&
    lik.scale > 0
  )
    return lik;
  throw new ValueError(
    `${who}: likelihood must be 'bernoulli' or { type: 'gaussian', scale: <number > 0> }, got ${JSON.stringify(lik)}.`,
  );
}

/**
 * The decoder a {@link Likelihood} names: {@link bernoulliDecoder} or {@link gaussianDecoder}.
 *
 * @example
 * ```ts
 * const dec = likelihoodDecoder(net, { type: 'gaussian', scale: 0.1 });
 * ```
 */
export function likelihoodDecoder(
  net: TensorModule,
  likelihood: Likelihood = 'bernoulli',
): BernoulliDecoder | GaussianDecoder {
  const lik = checkLikelihood(likelihood, 'likelihoodDecoder');
  return lik === 'bernoulli' ? bernoulliDecoder(net) : gaussianDecoder(net, { scale: lik.scale });
}
