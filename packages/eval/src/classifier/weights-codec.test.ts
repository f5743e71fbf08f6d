/**
 * The float16 weights format: every float16 bit pattern round-trips, float32 values round to
 * the nearest float16 (ties to even), named tensors round-trip, corruption is detected.
 */
import { CheckpointError, Rng, tf } from '@dgm-js/core-tensors';
import { expectNoLeaks } from '@dgm-js/test-utils';
import { describe, expect, it } from 'vitest';
import {
  base64ToBytes,
  decodeWeights,
  encodeWeights,
  fromFloat16Bits,
  toFloat16Bits,
} from './weights-codec.js';

describe('float16 conversion', () => {
  it('known values', () => {
    expect(toFloat16Bits(1)).toBe(0x3c00);
    expect(toFloat16Bits(-2)).toBe(0xc000);
    expect(toFloat16Bits(65504)).toBe(0x7bff);
    expect(toFloat16Bits(65520)).toBe(0x7c00); // rounds up to infinity
    expect(toFloat16Bits(2 ** -24)).toBe(0x0001); // smallest subnormal
    expect(toFloat16Bits(2 ** -26)).toBe(0); // below half of it: zero
    expect(toFloat16Bits(1 + 2 ** -11)).toBe(0x3c00); // a tie rounds to even
    expect(toFloat16Bits(1 + 3 * 2 ** -11)).toBe(0x3c02); // a tie rounds to even (up)
    expect(toFloat16Bits(Number.POSITIVE_INFINITY)).toBe(0x7c00);
    expect(Number.isNaN(fromFloat16Bits(toFloat16Bits(Number.NaN)))).toBe(true);
    expect(fromFloat16Bits(0x3555)).toBeCloseTo(0.333251953125, 12);
  });

  it('every finite float16 bit pattern round-trips', () => {
    const bad: number[] = [];
    for (let h = 0; h < 0x10000; h++) {
      if ((h & 0x7c00) === 0x7c00 && (h & 0x3ff) !== 0) continue; // NaN payloads
      if (toFloat16Bits(fromFloat16Bits(h)) !== h) bad.push(h);
    }
    expect(bad).toEqual([]);
  });

  it('rounds to the nearest float16 (no neighbour is closer)', () => {
    const rng = new Rng(0);
    let worse = 0;
    for (let i = 0; i < 20000; i++) {
      const x = Math.fround((rng.float() * 2 - 1) * 2 ** Math.floor(rng.float() * 40 - 28));
      const h = toFloat16Bits(x);
      const err = Math.abs(fromFloat16Bits(h) - x);
      for (const nb of [h - 1, h + 1]) {
        if (nb < 0 || (nb & 0x7fff) >= 0x7c00 || (nb & 0x8000) !== (h & 0x8000)) continue;
        if (err > Math.abs(fromFloat16Bits(nb) - x)) worse++;
      }
    }
    expect(worse).toBe(0);
  });
});

describe('encodeWeights / decodeWeights', () => {
  it('round-trips named tensors to float16 precision, from bytes and base64, without leaks', async () => {
    const state = { a: tf.tensor2d([[1, -0.5, 2.71]]), 'b.kernel': tf.randomNormal([4, 5]) };
    const bytes = await expectNoLeaks(() => encodeWeights(state));
    const b64 = btoa(String.fromCharCode(...bytes));
    for (const input of [bytes, b64, `${b64.slice(0, 10)}\n  ${b64.slice(10)}`]) {
      const out = decodeWeights(input);
      expect(Object.keys(out)).toEqual(['a', 'b.kernel']);
      expect(out.a!.shape).toEqual([1, 3]);
      expect(out['b.kernel']!).toBeAllclose(state['b.kernel'], { rtol: 1e-3, atol: 1e-4 });
      expect(out.a!.dataSync()[2]).toBe(fromFloat16Bits(toFloat16Bits(2.71)));
      tf.dispose(Object.values(out));
    }
    expect(base64ToBytes(b64)).toEqual(bytes);
    tf.dispose(Object.values(state));
  });

  it('detects corruption and truncation with a CheckpointError', async () => {
    const t = tf.ones([10]);
    const bytes = await encodeWeights({ t });
    t.dispose();
    const flipped = bytes.slice();
    flipped[flipped.length - 8]! ^= 1;
    expect(() => decodeWeights(flipped)).toThrow(/CRC-32/);
    expect(() => decodeWeights(bytes.slice(0, bytes.length - 2))).toThrow(CheckpointError);
    expect(() => decodeWeights(new Uint8Array(20))).toThrow(/magic/);
    const i = tf.tensor1d([1], 'int32');
    await expect(encodeWeights({ i })).rejects.toThrow(/only float32/);
    i.dispose();
  });
});
