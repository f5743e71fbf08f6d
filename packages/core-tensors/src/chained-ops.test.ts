import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { expectNoLeaks } from '@dgm-js/test-utils';
import { describe, expect, expectTypeOf, it } from 'vitest';
import { type Tensor, tf } from './index.js';

/**
 * The chained tensor methods (`x.add(y)`, `x.reshape(...)`) that every tfjs user writes: tf.ts
 * registers them (tfjs-core alone does not), in vitest from the sources and in the built dist.
 */

describe('chained tensor methods (source)', () => {
  it('tf.ones([2]).add(1) works and agrees with the functional ops', async () => {
    const out = await expectNoLeaks(() =>
      tf.tidy(() => {
        const x = tf.tensor2d([
          [1, -2, 3],
          [4, 5, -6],
        ]);
        return {
          add: tf.ones([2]).add(1).arraySync(),
          chain: x.abs().mul(2).sum(1).arraySync(),
          functional: tf.sum(tf.mul(tf.abs(x), 2), 1).arraySync(),
          slice: x.slice([1, 0], [1, 2]).reshape([2]).arraySync(),
          cast: x.greater(0).asType('float32').mean().arraySync(),
        };
      }),
    );
    expect(out.add).toEqual([2, 2]);
    expect(out.chain).toEqual([12, 30]);
    expect(out.chain).toEqual(out.functional);
    expect(out.slice).toEqual([4, 5]);
    expect(out.cast).toBeCloseTo(4 / 6, 6);
  });

  it('chained methods are on the one Tensor class, and typed', () => {
    for (const m of ['add', 'sub', 'mul', 'div', 'slice', 'reshape', 'matMul', 'square']) {
      expect(typeof (tf.Tensor.prototype as unknown as Record<string, unknown>)[m], m).toBe(
        'function',
      );
    }
    expectTypeOf<Tensor['add']>().toBeFunction();
    expectTypeOf<Tensor['slice']>().toBeFunction();
  });

  it('a disposed tensor refuses chained calls', () => {
    const x = tf.ones([2]);
    x.dispose();
    expect(() => x.add(1)).toThrow(/disposed/);
  });
});

describe('chained tensor methods (built dist, plain Node)', () => {
  it('tf.ones([2]).add(1) works in a fresh Node process importing dist/', async () => {
    const pkgDir = fileURLToPath(new URL('..', import.meta.url));
    const { stdout } = await promisify(execFile)(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        `const { tf, initBackend } = await import('@dgm-js/core-tensors');
         const before = typeof tf.Tensor.prototype.add;
         await initBackend({ backend: 'wasm', quiet: true });
         const y = tf.ones([2]).add(1);
         const z = tf.tensor1d([1, 2, 3, 4]).reshape([2, 2]).slice([1, 0], [1, 2]).square();
         console.log(JSON.stringify({ before, y: y.arraySync(), z: z.arraySync(),
           backend: tf.getBackend() }));`,
      ],
      { cwd: pkgDir, env: { ...process.env, DGM_QUIET: '1' } },
    );
    const r = JSON.parse(stdout.trim().split('\n').at(-1) ?? '{}');
    expect(r.before).toBe('function'); // registered at import, before any backend
    expect(r.y).toEqual([2, 2]);
    expect(r.z).toEqual([[9, 16]]);
    expect(r.backend).toBe('wasm');
  });
});
