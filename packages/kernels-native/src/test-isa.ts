/**
 * Test helper: runs a check at every instruction-set level the CPU supports (the addon's
 * `setIsa`), restoring the level in use afterwards, so one test run covers the AVX-512, AVX2
 * and portable copies of every kernel on an AVX-512 machine. Not exported from the package.
 *
 * @example
 * ```ts
 * forEachIsa(k, (isa) => expect(k.info().isa).toBe(isa));
 * ```
 */
import type { NativeIsa, NativeKernels } from './index.js';

/** The levels to test: every supported one, or only `DGM_NATIVE_ISA` when the run forces one. */
export function testIsas(k: NativeKernels | null): NativeIsa[] {
  if (!k) return [];
  const forced = process.env.DGM_NATIVE_ISA;
  const isas = k.info().isas;
  return forced && (isas as string[]).includes(forced) ? [forced as NativeIsa] : isas;
}

/** Calls `fn(isa)` with the addon switched to each level of {@link testIsas}. */
export function forEachIsa(k: NativeKernels, fn: (isa: NativeIsa) => void): void {
  for (const isa of testIsas(k)) {
    const prev = k.setIsa(isa);
    try {
      fn(isa);
    } finally {
      k.setIsa(prev);
    }
  }
}
