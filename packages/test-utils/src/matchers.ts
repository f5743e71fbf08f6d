import { expect } from 'vitest';
import { type AllcloseOptions, allclose, type Numeric } from './allclose.js';

interface CustomMatchers<R = unknown> {
  /** Elementwise closeness with shape check: |a - e| <= atol + rtol * |e|; NaN and Inf explicit. */
  toBeAllclose(expected: Numeric, opts?: AllcloseOptions): R;
}

declare module 'vitest' {
  // biome-ignore lint/suspicious/noExplicitAny: must match vitest's own declaration to merge
  interface Assertion<T = any> extends CustomMatchers<T> {}
  interface AsymmetricMatchersContaining extends CustomMatchers {}
}

expect.extend({
  toBeAllclose(received: Numeric, expected: Numeric, opts?: AllcloseOptions) {
    const r = allclose(received, expected, opts);
    return {
      pass: r.pass,
      message: () => (r.pass ? `expected values not to be allclose: ${r.message}` : r.message),
    };
  },
});
