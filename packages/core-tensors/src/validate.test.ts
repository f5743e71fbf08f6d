import { describe, expect, it } from 'vitest';
import { ValueError } from './errors.js';
import { Rng } from './rng.js';
import { checkInt, checkRng, HALF_LOG_2PI, LOG_2PI } from './validate.js';

describe('checkInt', () => {
  it('returns valid integers and names the argument, the bound and the value otherwise', () => {
    expect(checkInt(3, 'k', 'f')).toBe(3);
    expect(checkInt(0, 'n', 'f', { min: 0 })).toBe(0);
    expect(checkInt(Number.POSITIVE_INFINITY, 'epochs', 'f', { allowInfinity: true })).toBe(
      Number.POSITIVE_INFINITY,
    );
    expect(() => checkInt(0, 'k', 'VAE.iwae')).toThrow(
      new ValueError('VAE.iwae: k must be an integer >= 1, got 0.'),
    );
    expect(() => checkInt(2.5, 'batchSize', 'batches', { min: 1, hint: 'Round it.' })).toThrow(
      'batches: batchSize must be an integer >= 1, got 2.5. Round it.',
    );
    expect(() => checkInt('3', 'k', 'f')).toThrow(/k must be an integer >= 1, got 3/);
    expect(() => checkInt(Number.NaN, 'k', 'f')).toThrow(ValueError);
    expect(() => checkInt(Number.POSITIVE_INFINITY, 'k', 'f')).toThrow(ValueError);
    expect(() => checkInt(-1, 'n', 'f', { min: 0, allowInfinity: true })).toThrow(
      'f: n must be an integer >= 0 (or Infinity), got -1.',
    );
  });
});

describe('checkRng', () => {
  it('passes an Rng through and refuses anything else', () => {
    const rng = new Rng(0);
    expect(checkRng(rng, 'f')).toBe(rng);
    expect(() => checkRng(undefined, 'Flow.sample')).toThrow(/Flow.sample: pass the random stream/);
    expect(() => checkRng(42, 'f')).toThrow(ValueError);
  });
});

it('Gaussian constants', () => {
  expect(LOG_2PI).toBeCloseTo(1.8378770664093453, 15);
  expect(2 * HALF_LOG_2PI).toBe(LOG_2PI);
});
