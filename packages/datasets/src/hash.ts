// Counter-based randomness: a pure function of (seed, stream, example, epoch), so a draw for an
// example does not depend on batch order, batch size or which split the example ended up in.

/** Murmur3's 32-bit finaliser. */
export function mix32(z: number): number {
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  return (z ^ (z >>> 16)) >>> 0;
}

/** A 32-bit key from a list of integers (order matters). */
export function hashKey(...parts: number[]): number {
  let h = 0x2545f491;
  for (const p of parts) {
    h = mix32((h ^ mix32((p >>> 0) ^ mix32(Math.floor(p / 0x100000000) >>> 0))) + 0x9e3779b9);
  }
  return h;
}

/** SplitMix32 stream, inlined for the hot loops (binarization draws one value per pixel). */
export class Stream32 {
  state: number;
  constructor(key: number) {
    this.state = key >>> 0;
  }
  next(): number {
    this.state = (this.state + 0x9e3779b9) >>> 0;
    return mix32(this.state);
  }
  /** A float in [0, 1). */
  float(): number {
    return this.next() / 0x100000000;
  }
}
