import { expectNoLeaks } from '@dgm-js/test-utils';
import { describe, expect, it } from 'vitest';
import { ValueError } from '../errors.js';
import { tf } from '../tf.js';
import { Normal } from './normal.js';

// Issue 19 (found by the reliability fuzz): Normal.logProb of a NaN x returned NaN. The contract,
// the same as Bernoulli / Categorical checking their support: with `validate` on (the default)
// a NaN x is a ValueError naming x; +-Inf is scored -Inf (the analytic limit, zero density, as
// TransformedDistribution needs at a support boundary); with `validate: false` no read-back.
describe('Normal.logProb of non-finite x', () => {
  it.each([
    [[0, Number.NaN]],
    [
      [
        [1, 2],
        [0, Number.NaN],
      ],
    ],
  ])('x = %j is a ValueError naming x (validate on), and leaks nothing', async (values) => {
    const d = new Normal(0, 1);
    const x = tf.tensor(values as number[]);
    expect(() => d.logProb(x)).toThrow(ValueError);
    expect(() => d.logProb(x)).toThrow(/Normal\.logProb: x must not be NaN.*element \d/);
    await expectNoLeaks(() => {
      try {
        d.logProb(x);
      } catch {
        // the typed error; no tensor may survive it
      }
    }, 'Normal.logProb(non-finite x)');
    x.dispose();
    d.dispose();
  });

  it('+-Inf x is scored -Inf with validate on (the limit; no error)', () => {
    const d = new Normal(tf.tensor1d([0, 2]), tf.tensor1d([1, 0.5]));
    const x = tf.tensor1d([Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY]);
    const lp = d.logProb(x);
    expect(Array.from(lp.dataSync())).toEqual([Number.NEGATIVE_INFINITY, Number.NEGATIVE_INFINITY]);
    tf.dispose([lp, x]);
    d.dispose();
  });

  it('validate: false skips the check: NaN -> NaN, +-Inf -> -Inf (analytic limits)', () => {
    const d = new Normal(0, 1, { validate: false });
    const x = tf.tensor1d([Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, 0]);
    const lp = d.logProb(x);
    const v = Array.from(lp.dataSync());
    expect(Number.isNaN(v[0])).toBe(true);
    expect(v[1]).toBe(Number.NEGATIVE_INFINITY);
    expect(v[2]).toBe(Number.NEGATIVE_INFINITY);
    expect(v[3]).toBeCloseTo(-0.5 * Math.log(2 * Math.PI), 5);
    tf.dispose([lp, x]);
    d.dispose();
  });
});
