/**
 * bitsPerDim: the one convention (NLL in nats per example; + dims ln(levels) when levels is
 * given). The assertions of the former flows and eval helpers live here, restated in it.
 */
import { expectNoLeaks } from '@dgm-js/test-utils';
import { describe, expect, it } from 'vitest';
import { tf, ValueError } from './index.js';
import { bitsPerDim } from './units.js';

describe('bitsPerDim', () => {
  it('converts an NLL in nats to bits per dimension (analytic values)', () => {
    // 1 bit per value: an NLL of 784 ln 2 nats over 784 values (was eval's bitsPerDim(-784 ln 2, 784))
    expect(bitsPerDim(784 * Math.LN2, 784)).toBeAllclose(1, { rtol: 1e-12, atol: 0 });
    // a density of 1 on [0, 1)^10 of 256-level data: 8 bits (was eval's offsetNats: 10 ln 256)
    expect(bitsPerDim(0, 10, { levels: 256 })).toBeAllclose(8, { rtol: 1e-12, atol: 0 });
    // the same for MNIST (was flows' bitsPerDim(0, 784), whose default was 256 levels)
    expect(bitsPerDim(0, 784, { levels: 256 })).toBeCloseTo(8, 10);
    // a standard error only scales (was eval's { stderr: true })
    expect(bitsPerDim(Math.LN2 * 10, 10)).toBeAllclose(1, { rtol: 1e-12, atol: 0 });
    // binary data: ln 2 per value and 2 levels is 1 + 1 bit
    expect(bitsPerDim(3 * Math.LN2, 3, { levels: 2 })).toBeAllclose(2, { rtol: 1e-12, atol: 0 });
  });

  it('the same numbers for tensors, elementwise, without leaks', async () => {
    const nll = tf.tensor1d([784 * Math.LN2, 0]);
    const a = bitsPerDim(nll, 784);
    expect(a).toBeAllclose([1, 0], { rtol: 1e-6, atol: 1e-7 });
    const b = bitsPerDim(nll, 784, { levels: 256 });
    expect(b).toBeAllclose([9, 8], { rtol: 1e-6, atol: 0 });
    await expectNoLeaks(() => bitsPerDim(nll, 784, { levels: 256 }).dispose(), 'bitsPerDim');
    tf.dispose([nll, a, b]);
  });

  it('typed errors for bad dims, levels and the old positional levels', () => {
    expect(() => bitsPerDim(1, 0)).toThrow(/dims/);
    expect(() => bitsPerDim(1, 0)).toThrow(ValueError);
    expect(() => bitsPerDim(1, 2.5)).toThrow(/positive integer/);
    expect(() => bitsPerDim(1, 10, { levels: 1 })).toThrow(/levels must be an integer >= 2/);
    expect(() => bitsPerDim(1, 10, 256 as never)).toThrow(/\{ levels: 256 \}/);
    expect(() => bitsPerDim('1' as never, 10)).toThrow(/number or a tf.Tensor/);
  });
});
