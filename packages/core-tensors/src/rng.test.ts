import { describe, expect, it } from 'vitest';
import { Rng, tf, ValueError } from './index.js';

describe('Rng', () => {
  it('is reproducible from its seed', () => {
    const a = new Rng(123);
    const b = new Rng(123);
    const sa = Array.from({ length: 20 }, () => a.next());
    const sb = Array.from({ length: 20 }, () => b.next());
    expect(sa).toEqual(sb);
    expect(new Set(sa).size).toBe(20);
    expect(sa.every((s) => Number.isInteger(s) && s > 0 && s <= 0x7fffffff)).toBe(true);
  });
  it('different seeds give different streams', () => {
    expect(new Rng(1).next()).not.toBe(new Rng(2).next());
  });
  it('split streams are independent of how much the parent draws afterwards', () => {
    const p1 = new Rng(9);
    const c1 = p1.split();
    const p2 = new Rng(9);
    const c2 = p2.split();
    p2.next();
    p2.next();
    expect([c1.next(), c1.next()]).toEqual([c2.next(), c2.next()]);
    expect(c1.next()).not.toBe(p1.next());
  });
  it('state round-trips', () => {
    const r = new Rng(77);
    r.next();
    const s = Rng.fromState(r.getState());
    expect(s.next()).toBe(r.next());
  });
  it('float() is uniform on [0, 1): mean and variance within 5 standard errors', () => {
    const r = new Rng(3);
    const n = 100_000;
    let s = 0;
    let s2 = 0;
    let outside = 0;
    for (let i = 0; i < n; i++) {
      const u = r.float();
      if (!(u >= 0 && u < 1)) outside++;
      s += u;
      s2 += u * u;
    }
    expect(outside).toBe(0);
    const mean = s / n;
    const varc = s2 / n - mean * mean;
    expect(Math.abs(mean - 0.5)).toBeLessThan(5 * Math.sqrt(1 / 12 / n));
    expect(Math.abs(varc - 1 / 12)).toBeLessThan(0.002);
  });
  it('makes tfjs sampling reproducible', () => {
    const a = tf.randomNormal([5], 0, 1, 'float32', new Rng(4).next());
    const b = tf.randomNormal([5], 0, 1, 'float32', new Rng(4).next());
    expect(a).toBeAllclose(b, { rtol: 0, atol: 0 });
    tf.dispose([a, b]);
  });
  it('rejects a non-integer seed', () => {
    expect(() => new Rng(1.5)).toThrow(ValueError);
    expect(() => new Rng(Number.NaN)).toThrow(/seed must be a finite integer/);
  });
});
