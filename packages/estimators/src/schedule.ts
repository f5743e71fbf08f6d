/**
 * Temperature schedules of the relaxed estimators (Jang, Gu & Poole 2017, section 4:
 * tau = max(tau_min, exp(-r t)), updated every N steps).
 */
import { checkInt, ValueError } from '@dgm-js/core-tensors';

/** A temperature schedule: plain data, so it can be saved with an estimator's options. */
export type TemperatureSchedule =
  | { type: 'constant'; value: number }
  | {
      type: 'exponential';
      /** tau at step 0. Default 1. */
      initial?: number;
      /** r in tau = initial * exp(-r t). */
      rate: number;
      /** tau never drops below this (Jang et al.: 0.5). */
      min: number;
      /** t advances in steps of N: t = N floor(step / N). Default 1. */
      every?: number;
    };

/**
 * A constant temperature.
 *
 * @example
 * ```ts
 * gumbelSoftmax({ temperature: constantTemperature(0.5) });
 * ```
 */
export function constantTemperature(value: number): TemperatureSchedule {
  const s: TemperatureSchedule = { type: 'constant', value };
  checkSchedule(s, 'constantTemperature');
  return s;
}

/**
 * The annealing of Jang et al. (2017): tau_t = max(min, initial * exp(-rate * N floor(t / N))).
 *
 * @example
 * ```ts
 * const s = exponentialTemperature({ rate: 1e-5, min: 0.5, every: 500 });
 * temperatureAt(s, 100_000); // max(0.5, exp(-1)) = 0.5
 * ```
 */
export function exponentialTemperature(opts: {
  initial?: number;
  rate: number;
  min: number;
  every?: number;
}): TemperatureSchedule {
  const s: TemperatureSchedule = { type: 'exponential', ...opts };
  checkSchedule(s, 'exponentialTemperature');
  return s;
}

/** Throws a `ValueError` naming the bad field unless the schedule is valid (temperatures > 0). */
export function checkSchedule(s: TemperatureSchedule | number, who: string): TemperatureSchedule {
  const sched: TemperatureSchedule = typeof s === 'number' ? { type: 'constant', value: s } : s;
  const pos = (v: unknown, name: string) => {
    if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) {
      throw new ValueError(
        `${who}: temperature ${name} must be a finite number > 0, got ${String(v)}. ` +
          'The relaxation is a softmax of (logits + noise) / temperature: small values approach one-hot samples, large ones the uniform point.',
      );
    }
  };
  if (!sched || typeof sched !== 'object') {
    throw new ValueError(`${who}: temperature must be a number or a schedule object.`);
  }
  if (sched.type === 'constant') pos(sched.value, 'value');
  else if (sched.type === 'exponential') {
    pos(sched.initial ?? 1, 'initial');
    pos(sched.min, 'min');
    if (typeof sched.rate !== 'number' || !Number.isFinite(sched.rate) || sched.rate < 0) {
      throw new ValueError(
        `${who}: temperature rate must be a finite number >= 0, got ${String(sched.rate)}.`,
      );
    }
    const every = sched.every ?? 1;
    checkInt(every, "temperature 'every'", who);
  } else {
    throw new ValueError(
      `${who}: unknown temperature schedule type '${(sched as { type?: unknown }).type}'; use 'constant' or 'exponential'.`,
    );
  }
  return sched;
}

/**
 * The temperature of a schedule at `step`.
 *
 * @example
 * ```ts
 * temperatureAt({ type: 'exponential', rate: 0.01, min: 0.5, every: 10 }, 25); // exp(-0.2)
 * ```
 */
export function temperatureAt(s: TemperatureSchedule, step: number): number {
  if (s.type === 'constant') return s.value;
  const every = s.every ?? 1;
  const t = every * Math.floor(step / every);
  return Math.max(s.min, (s.initial ?? 1) * Math.exp(-s.rate * t));
}
