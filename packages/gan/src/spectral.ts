/**
 * Spectral normalisation (Miyato et al. 2018): a layer's weight matrix W is divided by an
 * estimate of its largest singular value sigma(W), which bounds the layer's Lipschitz constant
 * by 1. sigma is estimated by power iteration with vectors `u` and `v` that persist across steps
 * (one iteration per critic step is enough, as W changes slowly). `u` and `v` are buffers of the
 * module: non-trainable state that `getState()`, `saveModule` and checkpoints carry, so a resumed
 * run continues with the same estimate.
 *
 * In the forward pass sigma = v^T W u with u and v held constant (they are not parameters), so
 * the gradient flows through W alone, as in the paper's reference implementation.
 */
import {
  Conv2d,
  type Conv2dOptions,
  checkInt,
  Dense,
  type DenseOptions,
  type Module,
  type Rng,
  tf,
} from '@dgm-js/core-tensors';

type Tensor = tf.Tensor;

const EPS = 1e-12;

function normalize(x: Tensor): Tensor {
  return tf.div(x, tf.add(tf.norm(x), EPS));
}

/** A layer whose weight is spectrally normalised (what {@link powerIterate} looks for). */
export interface SpectralNormalized {
  /** Runs `n` power iterations on the current weight, updating the `u` and `v` buffers. */
  powerIteration(n?: number): void;
  /** The current estimate of the weight's largest singular value (a new scalar). */
  sigma(): tf.Scalar;
}

/** Options of the spectrally normalised layers. */
export interface SpectralOptions {
  /** Power iterations at construction (from a random u). Default 15. */
  initialIterations?: number;
}

/** The shared machinery: the weight as a matrix [rows, cols], u [cols], v [rows] (internal). */
class SpectralState {
  constructor(
    private readonly matrix: () => Tensor,
    readonly u: tf.Variable,
    readonly v: tf.Variable,
  ) {}

  iterate(n: number): void {
    if (n === 0) return;
    tf.tidy(() => {
      const w = this.matrix();
      let u: Tensor = this.u;
      let v: Tensor = this.v;
      for (let i = 0; i < n; i++) {
        v = normalize(tf.squeeze(tf.matMul(w, tf.reshape(u, [-1, 1])), [1]));
        u = normalize(tf.squeeze(tf.matMul(tf.reshape(v, [1, -1]), w), [0]));
      }
      this.u.assign(u);
      this.v.assign(v);
    });
  }

  /** v^T W u (u, v constant); differentiable in W. */
  sigmaOf(w: Tensor): tf.Scalar {
    return tf.tidy(
      () =>
        tf.sum(
          tf.mul(tf.matMul(tf.reshape(this.v, [1, -1]), w), tf.reshape(this.u, [1, -1])),
        ) as tf.Scalar,
    );
  }
}

/** u ~ N(0, I) normalised, and v = W u normalised (one half-iteration). */
function initialVectors(w: Tensor, rng: Rng): [Tensor, Tensor] {
  return tf.tidy(() => {
    const u = normalize(tf.randomNormal([w.shape[1]!], 0, 1, 'float32', rng.next()));
    const v = normalize(tf.squeeze(tf.matMul(w, tf.reshape(u, [-1, 1])), [1]));
    return [u, v];
  });
}

/**
 * A dense layer with a spectrally normalised kernel: y = act(x (W / sigma(W)) + b). The kernel
 * `[in, out]` is the matrix; u `[out]` and v `[in]` are buffers.
 *
 * @example
 * ```ts
 * import { Rng, tf } from '@dgm-js/core-tensors';
 * import { SNDense } from '@dgm-js/gan';
 * const layer = new SNDense(4, 3, { rng: new Rng(0), activation: 'relu' });
 * layer.sigma().print(); // the largest singular value of the raw kernel (the layer divides by it)
 * const y = layer.apply(tf.ones([2, 4])); // [2, 3]
 * tf.dispose(y); layer.dispose();
 * ```
 */
export class SNDense extends Dense implements SpectralNormalized {
  readonly u: tf.Variable;
  readonly v: tf.Variable;
  private readonly sn: SpectralState;

  constructor(inFeatures: number, outFeatures: number, opts: DenseOptions & SpectralOptions) {
    super(inFeatures, outFeatures, opts, 'SNDense');
    const [u, v] = initialVectors(this.kernel, opts.rng);
    this.u = this.addBuffer('sn_u', u);
    this.v = this.addBuffer('sn_v', v);
    this.sn = new SpectralState(() => this.kernel, this.u, this.v);
    this.sn.iterate(checkInt(opts.initialIterations ?? 15, 'iterations', 'SNDense', { min: 0 }));
  }

  powerIteration(n = 1): void {
    this.sn.iterate(checkInt(n, 'iterations', `${this.label}.powerIteration`, { min: 0 }));
  }

  sigma(): tf.Scalar {
    return this.sn.sigmaOf(this.kernel);
  }

  protected override effectiveKernel(): Tensor {
    return tf.div(this.kernel, this.sn.sigmaOf(this.kernel));
  }
}

/**
 * A 2-D convolution with a spectrally normalised kernel: the kernel `[kh, kw, in, out]` is
 * normalised as the matrix `[kh * kw * in, out]` (Miyato et al. 2018's reshaping); u `[out]` and
 * v `[kh * kw * in]` are buffers.
 *
 * @example
 * ```ts
 * import { Rng, tf } from '@dgm-js/core-tensors';
 * import { SNConv2d } from '@dgm-js/gan';
 * const conv = new SNConv2d(1, 8, 4, { rng: new Rng(0), stride: 2 });
 * const y = conv.apply(tf.zeros([2, 28, 28, 1])); // [2, 14, 14, 8]
 * tf.dispose(y); conv.dispose();
 * ```
 */
export class SNConv2d extends Conv2d implements SpectralNormalized {
  readonly u: tf.Variable;
  readonly v: tf.Variable;
  private readonly sn: SpectralState;

  constructor(
    inChannels: number,
    outChannels: number,
    kernelSize: number | [number, number],
    opts: Conv2dOptions & SpectralOptions,
  ) {
    super(inChannels, outChannels, kernelSize, opts, 'SNConv2d');
    const [kh, kw] = this.kernelSize;
    const rows = kh * kw * inChannels;
    const [u, v] = tf.tidy(() =>
      initialVectors(tf.reshape(this.kernel, [rows, outChannels]), opts.rng),
    );
    this.u = this.addBuffer('sn_u', u);
    this.v = this.addBuffer('sn_v', v);
    this.sn = new SpectralState(() => tf.reshape(this.kernel, [rows, outChannels]), this.u, this.v);
    this.sn.iterate(checkInt(opts.initialIterations ?? 15, 'iterations', 'SNConv2d', { min: 0 }));
  }

  powerIteration(n = 1): void {
    this.sn.iterate(checkInt(n, 'iterations', `${this.label}.powerIteration`, { min: 0 }));
  }

  sigma(): tf.Scalar {
    return tf.tidy(() => this.sn.sigmaOf(tf.reshape(this.kernel, [-1, this.outChannels])));
  }

  protected override effectiveKernel(): tf.Tensor4D {
    return tf.div(this.kernel, this.sigma()) as tf.Tensor4D;
  }
}

function isSpectral(m: unknown): m is SpectralNormalized {
  return m instanceof SNDense || m instanceof SNConv2d;
}

/**
 * Runs `n` power iterations (default 1) on every spectrally normalised layer of `module` (itself
 * and its sub-modules). The GAN training loop calls it once before each critic update; call it
 * yourself in a hand-written loop. Returns the number of layers updated.
 *
 * @example
 * ```ts
 * import { powerIterate } from '@dgm-js/gan';
 * powerIterate(critic); // before the critic's loss
 * ```
 */
export function powerIterate(module: Module<never, unknown>, n = 1): number {
  let count = 0;
  const visit = (m: Module<never, unknown>) => {
    if (isSpectral(m)) {
      m.powerIteration(n);
      count++;
    }
    for (const [, c] of m.namedChildren()) visit(c as Module<never, unknown>);
  };
  visit(module);
  return count;
}
