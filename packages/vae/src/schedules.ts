/** KL weight schedules: beta-VAE (a constant beta) and KL annealing / warm-up. */
import { ValueError } from '@dgm-js/core-tensors';

/** A KL weight: a constant (beta) or a function of the training step. */
export type KlWeight = number | ((step: number) => number);

/**
 * Linear KL warm-up (Bowman et al. 2016; Sonderby et al. 2016): the KL weight rises linearly
 * from `from` (default 0) at step `start` (default 0) to `to` (default 1) at step
 * `start + steps`, then stays there.
 *
 * @example
 * ```ts
 * const w = klWarmup({ steps: 10000 });
 * w(0); // 0
 * w(5000); // 0.5
 * w(20000); // 1
 * ```
 */
export function klWarmup(opts: {
  steps: number;
  from?: number;
  to?: number;
  start?: number;
}): (step: number) => number {
  const { steps } = opts;
  const from = opts.from ?? 0;
  const to = opts.to ?? 1;
  const start = opts.start ?? 0;
  if (!Number.isInteger(steps) || steps < 1) {
    throw new ValueError(`klWarmup: steps must be an integer >= 1, got ${String(steps)}.`);
  }
  for (const [n, v] of [
    ['from', from],
    ['to', to],
    ['start', start],
  ] as const) {
    if (!Number.isFinite(v) || v < 0)
      throw new ValueError(`klWarmup: ${n} must be a finite number >= 0, got ${v}.`);
  }
  return (step: number) => {
    const t = Math.min(1, Math.max(0, (step - start) / steps));
    return from + (to - from) * t;
  };
}

/**
 * Cyclical KL annealing (Fu et al. 2019): each cycle of `period` steps rises linearly from 0 to
 * `to` over the first `ratio` of the cycle (default 0.5), then holds.
 *
 * @example
 * ```ts
 * const w = klCyclical({ period: 1000 });
 * w(250); // 0.5
 * w(900); // 1
 * w(1000); // 0
 * ```
 */
export function klCyclical(opts: {
  period: number;
  ratio?: number;
  to?: number;
}): (step: number) => number {
  const ratio = opts.ratio ?? 0.5;
  const to = opts.to ?? 1;
  if (!Number.isInteger(opts.period) || opts.period < 1) {
    throw new ValueError(`klCyclical: period must be an integer >= 1, got ${String(opts.period)}.`);
  }
  if (!(ratio > 0 && ratio <= 1))
    throw new ValueError(`klCyclical: ratio must be in (0, 1], got ${ratio}.`);
  return (step: number) => {
    const phase = (step % opts.period) / opts.period;
    return to * Math.min(1, phase / ratio);
  };
}

/** The KL weight at `step`, checked to be finite and >= 0. */
export function klWeightAt(w: KlWeight | undefined, step: number, who: string): number {
  const v = w === undefined ? 1 : typeof w === 'number' ? w : w(step);
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) {
    throw new ValueError(
      `${who}: the KL weight must be a finite number >= 0, got ${String(v)} at step ${step}.`,
    );
  }
  return v;
}
