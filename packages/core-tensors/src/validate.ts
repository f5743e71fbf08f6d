/**
 * The argument validators every dgm.js package shares (one copy, one message format), and the
 * constants of the Gaussian log-density.
 */
import { ValueError } from './errors.js';
import type { Rng } from './rng.js';

/** log(2 pi). */
export const LOG_2PI = Math.log(2 * Math.PI);
/** 0.5 log(2 pi): the constant of the standard normal log-density. */
export const HALF_LOG_2PI = 0.5 * LOG_2PI;

/** Options of {@link checkInt}. */
export interface CheckIntOptions {
  /** The smallest valid value. Default 1. */
  min?: number;
  /** Also accept `Infinity` (e.g. an unbounded number of epochs). Default false. */
  allowInfinity?: boolean;
  /** Appended to the message: how to fix it. */
  hint?: string;
}

/**
 * Returns `value` when it is an integer >= `min` (default 1), else throws a `ValueError`
 * `"<who>: <name> must be an integer >= <min>, got <value>."` (plus the hint).
 *
 * @example
 * ```ts
 * import { checkInt } from '@dgm-js/core-tensors';
 * const k = checkInt(opts.k, 'k', 'VAE.iwae'); // throws "VAE.iwae: k must be an integer >= 1, got 0."
 * ```
 */
export function checkInt(
  value: unknown,
  name: string,
  who: string,
  opts: CheckIntOptions = {},
): number {
  const min = opts.min ?? 1;
  const ok =
    typeof value === 'number' &&
    ((opts.allowInfinity === true && value === Number.POSITIVE_INFINITY) ||
      (Number.isInteger(value) && value >= min));
  if (!ok) {
    throw new ValueError(
      `${who}: ${name} must be an integer >= ${min}${opts.allowInfinity ? ' (or Infinity)' : ''}, got ${String(value)}.${opts.hint ? ` ${opts.hint}` : ''}`,
    );
  }
  return value as number;
}

/**
 * Returns `rng` when it is an `Rng` (anything with `next()`), else throws a `ValueError` that
 * shows how to pass one.
 *
 * @example
 * ```ts
 * import { checkRng, Rng } from '@dgm-js/core-tensors';
 * checkRng(opts.rng, 'Flow.sample'); // throws unless opts.rng is an Rng
 * ```
 */
export function checkRng(rng: unknown, who: string): Rng {
  if (!rng || typeof (rng as Rng).next !== 'function') {
    throw new ValueError(`${who}: pass the random stream, e.g. { rng: new Rng(0) }.`);
  }
  return rng as Rng;
}
