/**
 * Estimators by name, configured as in the papers the benchmarks reproduce (moved here from
 * `@dgm-js/vae`, whose copy stays until it switches to this one).
 */
import { ValueError } from '@dgm-js/core-tensors';
import { movingAverage } from './baselines.js';
import { rebar, relax } from './relax.js';
import {
  gumbelSoftmax,
  straightThroughEstimator,
  straightThroughGumbelSoftmax,
} from './relaxed.js';
import { exponentialTemperature, type TemperatureSchedule } from './schedule.js';
import { nvil, reinforce, vimco } from './score.js';
import type { GradientEstimator } from './types.js';

/** The estimators {@link estimatorByName} knows, by the names the benchmarks use. */
export type EstimatorName =
  | 'score-function'
  | 'nvil'
  | 'vimco'
  | 'straight-through'
  | 'gumbel-softmax'
  | 'st-gumbel-softmax'
  | 'rebar'
  | 'relax';

/**
 * The names {@link estimatorByName} accepts.
 *
 * @example
 * ```ts
 * ESTIMATOR_NAMES.includes('relax'); // true
 * ```
 */
export const ESTIMATOR_NAMES: readonly EstimatorName[] = [
  'score-function',
  'nvil',
  'vimco',
  'straight-through',
  'gumbel-softmax',
  'st-gumbel-softmax',
  'rebar',
  'relax',
];

/** Options of {@link estimatorByName}. */
export interface EstimatorByNameOptions {
  /**
   * Temperature of the Gumbel-Softmax estimators. Default: the annealing of Jang et al. (2017),
   * tau = max(0.5, exp(-1e-5 t)) updated every 1000 steps.
   */
  temperature?: number | TemperatureSchedule;
  /** Hidden units of NVIL's baseline network (default 100) and RELAX's control variate (default 16). */
  hidden?: number;
  /** Seed of the estimator's own networks. Default 0. */
  seed?: number;
}

/**
 * A gradient estimator by name, configured as in the papers the benchmarks reproduce:
 * 'score-function' (REINFORCE with a moving-average baseline), 'nvil' (learned input-dependent
 * baseline, Mnih & Gregor 2014), 'vimco' (needs k >= 2), 'straight-through', 'gumbel-softmax'
 * and 'st-gumbel-softmax' (Jang et al. 2017, annealed temperature), 'rebar', 'relax'. Any
 * other estimator is built with its factory. An unknown name is a `ValueError` listing the
 * valid ones.
 *
 * @example
 * ```ts
 * import { estimatorByName } from '@dgm-js/estimators';
 * const est = estimatorByName('gumbel-softmax', { temperature: 0.5 });
 * est.name; // 'gumbel-softmax'
 * est.dispose();
 * ```
 */
export function estimatorByName(
  name: EstimatorName,
  opts: EstimatorByNameOptions = {},
): GradientEstimator {
  const seed = opts.seed ?? 0;
  const temperature =
    opts.temperature ?? exponentialTemperature({ rate: 1e-5, min: 0.5, every: 1000 });
  switch (name) {
    case 'score-function':
      return reinforce({ baseline: movingAverage() });
    case 'nvil':
      return nvil({ hidden: opts.hidden ?? 100, seed });
    case 'vimco':
      return vimco();
    case 'straight-through':
      return straightThroughEstimator();
    case 'gumbel-softmax':
      return gumbelSoftmax({ temperature });
    case 'st-gumbel-softmax':
      return straightThroughGumbelSoftmax({ temperature });
    case 'rebar':
      return rebar({ seed });
    case 'relax':
      return relax({ hidden: opts.hidden ?? 16, seed });
    default:
      throw new ValueError(
        `estimatorByName: unknown estimator '${String(name)}'; use one of ${ESTIMATOR_NAMES.join(', ')}, ` +
          'or build any estimator with its factory (reinforce(), rloo(), disarm(), ...).',
      );
  }
}
