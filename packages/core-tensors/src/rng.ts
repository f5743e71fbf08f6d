import { ValueError } from './errors.js';

const MAX_SEED = 0x7fffffff;

function mix32(z: number): number {
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  return (z ^ (z >>> 16)) >>> 0;
}

/**
 * A seeded stream of seeds. Every sampler in dgm.js takes an `Rng`, so a whole run is
 * reproducible from one seed (on one backend). `next()` hands out the next 31-bit seed for a
 * tfjs random op; `split()` derives an independent child stream, so a sub-computation can draw
 * any number of seeds without shifting the parent's sequence.
 *
 * The generator is SplitMix32 (Weyl sequence + avalanche mixing), which passes the usual
 * statistical batteries for this purpose and is trivially serialisable.
 *
 * @example
 * ```ts
 * import { Rng, tf } from '@dgm-js/core-tensors';
 * const rng = new Rng(42);
 * const u = tf.randomUniform([3], 0, 1, 'float32', rng.next());
 * const child = rng.split(); // an independent stream
 * ```
 */
export class Rng {
  private state: number;

  constructor(seed: number) {
    if (!Number.isFinite(seed) || !Number.isInteger(seed)) {
      throw new ValueError(`Rng: seed must be a finite integer, got ${seed}.`);
    }
    // Fold any integer (including negatives and > 2^32) into the 32-bit state.
    this.state = mix32((seed >>> 0) ^ mix32(Math.floor(seed / 0x100000000) >>> 0)) >>> 0;
  }

  /** The next 32-bit unsigned integer of the stream. */
  nextUint32(): number {
    this.state = (this.state + 0x9e3779b9) >>> 0;
    return mix32(this.state);
  }

  /** The next seed: a positive 31-bit integer, suitable for tfjs's `seed` arguments. */
  next(): number {
    return this.nextUint32() & MAX_SEED || 1;
  }

  /** A float in [0, 1) with 32 bits of randomness. */
  float(): number {
    return this.nextUint32() / 0x100000000;
  }

  /** An independent child stream. */
  split(): Rng {
    return new Rng(this.nextUint32() ^ 0x5bd1e995);
  }

  /** `n` independent child streams. */
  splitN(n: number): Rng[] {
    return Array.from({ length: n }, () => this.split());
  }

  /** The stream's state, for checkpoints. */
  getState(): number {
    return this.state;
  }

  /** Restores a stream from `getState()`. */
  static fromState(state: number): Rng {
    const r = new Rng(0);
    r.state = state >>> 0;
    return r;
  }
}
