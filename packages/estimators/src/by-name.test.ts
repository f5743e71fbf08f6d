/**
 * estimatorByName (moved from @dgm-js/vae): every name gives the estimator and configuration the
 * benchmarks use; an unknown name is a ValueError listing the valid ones.
 */
import { ValueError } from '@dgm-js/core-tensors';
import { describe, expect, it } from 'vitest';
import { ESTIMATOR_NAMES, type EstimatorName, estimatorByName } from './by-name.js';
import type { RelaxEstimator } from './relax.js';
import type { GumbelSoftmaxEstimator } from './relaxed.js';
import { temperatureAt } from './schedule.js';
import type { ReinforceEstimator } from './score.js';

describe('estimatorByName', () => {
  it('maps every name to its estimator', () => {
    const expected: Record<EstimatorName, string> = {
      'score-function': 'reinforce',
      nvil: 'nvil',
      vimco: 'vimco',
      'straight-through': 'straight-through',
      'gumbel-softmax': 'gumbel-softmax',
      'st-gumbel-softmax': 'st-gumbel-softmax',
      rebar: 'rebar',
      relax: 'relax',
    };
    expect([...ESTIMATOR_NAMES].sort()).toEqual(Object.keys(expected).sort());
    for (const name of ESTIMATOR_NAMES) {
      const est = estimatorByName(name);
      expect(est.name, name).toBe(expected[name]);
      est.dispose();
    }
  });

  it('configures them as the papers do, and honours the options', () => {
    const sf = estimatorByName('score-function') as ReinforceEstimator;
    expect(sf.baseline.type).toBe('movingAverage');
    const nv = estimatorByName('nvil') as ReinforceEstimator;
    expect(nv.baseline).toMatchObject({ type: 'learned', hidden: 100, seed: 0 });
    expect(
      (estimatorByName('nvil', { hidden: 7, seed: 3 }) as ReinforceEstimator).baseline,
    ).toMatchObject({
      hidden: 7,
      seed: 3,
    });
    const gs = estimatorByName('gumbel-softmax') as GumbelSoftmaxEstimator;
    // Jang et al. 2017: max(0.5, exp(-1e-5 t)) updated every 1000 steps
    expect(temperatureAt(gs.schedule, 0)).toBe(1);
    expect(temperatureAt(gs.schedule, 1999)).toBeCloseTo(Math.exp(-1e-5 * 1000), 12);
    expect(temperatureAt(gs.schedule, 1e6)).toBe(0.5);
    const st = estimatorByName('st-gumbel-softmax', { temperature: 0.3 }) as GumbelSoftmaxEstimator;
    expect(temperatureAt(st.schedule, 5000)).toBe(0.3);
    const rx = estimatorByName('relax') as RelaxEstimator;
    expect(rx.controlVariate.temperature).toBeCloseTo(0.5, 6);
    for (const e of [sf, nv, gs, st, rx]) e.dispose();
  });

  it('an unknown name is a ValueError naming every valid name', () => {
    expect(() => estimatorByName('nope' as never)).toThrow(ValueError);
    expect(() => estimatorByName('nope' as never)).toThrow(/unknown estimator 'nope'/);
    for (const n of ESTIMATOR_NAMES) {
      expect(() => estimatorByName('nope' as never)).toThrow(n);
    }
  });
});
