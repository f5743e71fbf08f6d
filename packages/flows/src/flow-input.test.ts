import { Rng, ShapeError, tf } from '@dgm-js/core-tensors';
import { expectNoLeaks } from '@dgm-js/test-utils';
import { describe, expect, it } from 'vitest';
import { Flow } from './flow.js';
import { MAF } from './maf.js';
import { Planar } from './planar.js';

// Issue 19: bad x for Flow.logProb. A wrong shape is a ShapeError with nothing allocated; a
// non-finite x is not scanned (a flow's logProb is the training hot path and its base Normal is
// built with validate: false, core's "no read-back" mode), so NaN propagates to that example's
// log-density only and the other rows stay exact.
const makers: [string, (rng: Rng) => Flow][] = [
  ['Planar', (rng) => new Flow(new Planar(2, { rng }), { dim: 2 })],
  ['MAF', (rng) => new Flow(new MAF(2, { rng, hidden: [4] }), { dim: 2 })],
];

describe.each(makers)('%s Flow.logProb on bad x', (_name, make) => {
  it.each([[[1, 1]], [[0, 0]], [[2, 3]], [[3]], [[]]])(
    'x of shape %j: a ShapeError, numTensors unchanged',
    async (shape) => {
      const flow = make(new Rng(0));
      const x = tf.zeros(shape);
      expect(() => flow.logProb(x)).toThrow(ShapeError);
      await expectNoLeaks(() => {
        expect(() => flow.logProb(x)).toThrow(ShapeError);
      }, 'logProb(wrong shape)');
      x.dispose();
      flow.dispose();
    },
  );

  it('a non-finite row gives a non-finite log-density for that row only', () => {
    const flow = make(new Rng(1));
    const good = tf.tensor2d([[0.3, -0.7]]);
    const x = tf.tensor2d([
      [Number.NaN, 1],
      [0.3, -0.7],
    ]);
    const [lpGood, lp] = [flow.logProb(good), flow.logProb(x)];
    const v = lp.dataSync();
    expect(Number.isFinite(v[0])).toBe(false);
    expect(v[1]).toBeCloseTo(lpGood.dataSync()[0] as number, 5);
    tf.dispose([good, x, lpGood, lp]);
    flow.dispose();
  });
});
