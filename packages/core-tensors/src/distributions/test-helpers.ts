/**
 * Test helpers of the distribution tests (not part of the package's API; not exported from
 * index.ts). Fixtures come from scripts/make_distribution_fixtures.py (torch.distributions).
 */
import { readFileSync } from 'node:fs';
import { expectNoLeaks } from '@dgm-js/test-utils';
import { expect } from 'vitest';
import { tf } from '../tf.js';
import type { Distribution } from './distribution.js';

/** Nested numbers as read from a fixture. */
export type Nested = number | Nested[];

function decode(v: unknown): unknown {
  if (v === 'inf') return Number.POSITIVE_INFINITY;
  if (v === '-inf') return Number.NEGATIVE_INFINITY;
  if (v === 'nan') return Number.NaN;
  if (Array.isArray(v)) return v.map(decode);
  if (v && typeof v === 'object') {
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, decode(x)]));
  }
  return v;
}

/** Loads `fixtures/<name>.json` with "inf"/"-inf"/"nan" decoded. */
// biome-ignore lint/suspicious/noExplicitAny: fixtures are loosely typed JSON read by the tests.
export function fixture(name: string): any {
  const url = new URL(`./fixtures/${name}.json`, import.meta.url);
  return decode(JSON.parse(readFileSync(url, 'utf8')));
}

/** A float32 tensor from fixture numbers. */
export function T(v: Nested): tf.Tensor {
  return tf.tensor(v as number[], undefined, 'float32');
}

/** The first number of a nested array (or the number itself). */
export function first(v: Nested): number {
  return typeof v === 'number' ? v : first(v[0] as Nested);
}

/** Values of a tensor as a plain array, disposing it. */
export function take(t: tf.Tensor): number[] {
  const v = Array.from(t.dataSync() as ArrayLike<number>);
  t.dispose();
  return v;
}

/** Sample mean and (population) variance. */
export function moments(v: ArrayLike<number>): { mean: number; variance: number } {
  let s = 0;
  for (let i = 0; i < v.length; i++) s += v[i] as number;
  const mean = s / v.length;
  let ss = 0;
  for (let i = 0; i < v.length; i++) ss += ((v[i] as number) - mean) ** 2;
  return { mean, variance: ss / v.length };
}

/**
 * Asserts sample mean and variance match `mean` and `variance` within `sigmas` standard errors:
 * se(mean) = sqrt(var / n), se(var) = sqrt((mu4 - var^2) / n) with mu4 = (3 + excessKurtosis) var^2.
 */
export function expectMoments(
  v: ArrayLike<number>,
  mean: number,
  variance: number,
  excessKurtosis: number,
  sigmas = 5,
): void {
  const n = v.length;
  const m = moments(v);
  const seMean = Math.sqrt(variance / n);
  const seVar = Math.sqrt(((2 + excessKurtosis) * variance * variance) / n);
  expect(Math.abs(m.mean - mean), `sample mean ${m.mean} vs ${mean} (se ${seMean})`).toBeLessThan(
    sigmas * seMean,
  );
  expect(
    Math.abs(m.variance - variance),
    `sample variance ${m.variance} vs ${variance} (se ${seVar})`,
  ).toBeLessThan(sigmas * seVar);
}

/** Pearson's chi-square statistic of observed counts against probabilities. */
export function chiSquare(counts: number[], probs: number[]): number {
  const n = counts.reduce((a, b) => a + b, 0);
  let stat = 0;
  counts.forEach((c, i) => {
    const e = n * (probs[i] as number);
    stat += (c - e) ** 2 / e;
  });
  return stat;
}

/** The chi-square critical value at alpha = 1e-4 for `df` degrees of freedom (from torch). */
export function chi2Critical(df: number): number {
  return fixture('chi2').critical[String(df)] as number;
}

/**
 * Runs every tensor-returning path of `d` (sample, rsample and its gradient, logProb and its
 * gradient, entropy, mean, mode, variance when defined) under a leak check: each must leave
 * nothing behind but its result, which the check disposes.
 */
export async function expectDistributionLeakFree(
  d: Distribution,
  x: tf.Tensor,
  rng: import('../rng.js').Rng,
  label: string,
): Promise<void> {
  const tryGet = (f: () => tf.Tensor) => {
    try {
      f().dispose();
    } catch (e) {
      if (!(e instanceof Error) || !/no closed form|unordered|every point/.test(e.message)) throw e;
    }
  };
  await expectNoLeaks(() => d.sample({ sampleShape: [3], rng }).dispose(), `${label}.sample`);
  if (d.hasRsample) {
    await expectNoLeaks(() => d.rsample({ sampleShape: [3], rng }).dispose(), `${label}.rsample`);
  }
  await expectNoLeaks(() => d.logProb(x).dispose(), `${label}.logProb`);
  await expectNoLeaks(() => tryGet(() => d.entropy()), `${label}.entropy`);
  await expectNoLeaks(() => tryGet(() => d.mean), `${label}.mean`);
  await expectNoLeaks(() => tryGet(() => d.mode), `${label}.mode`);
  if ('variance' in d) {
    await expectNoLeaks(
      () => tryGet(() => (d as unknown as { variance: tf.Tensor }).variance),
      `${label}.variance`,
    );
  }
}
