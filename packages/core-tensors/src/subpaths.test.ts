import { execFile } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import * as root from '@dgm-js/core-tensors';
import type * as contractTypes from '@dgm-js/core-tensors/contracts';
import * as distributions from '@dgm-js/core-tensors/distributions';
import * as kernels from '@dgm-js/core-tensors/kernels';
import * as nn from '@dgm-js/core-tensors/nn';
import * as train from '@dgm-js/core-tensors/train';
import { describe, expect, expectTypeOf, it } from 'vitest';

/**
 * The subpath entry points of package.json `exports`: each is a part of the root, never a copy.
 * The first block imports them by package name from `src/` (the `source` condition); the second
 * loads the built `dist/` in plain Node (vitest's globalSetup builds it when stale), where the
 * entries are separate files sharing chunks, and checks that they share one module state.
 */

const pkgDir = fileURLToPath(new URL('..', import.meta.url));
const pkg = JSON.parse(readFileSync(join(pkgDir, 'package.json'), 'utf8')) as {
  exports: Record<string, unknown>;
  publishConfig: { exports: Record<string, unknown> };
  sideEffects: string[];
};
const SUBPATHS = ['distributions', 'nn', 'train', 'kernels', 'contracts'] as const;

/** Every runtime export of `part` is the root's export of the same name, the same object. */
function expectPartOfRoot(part: Record<string, unknown>): void {
  const names = Object.keys(part);
  expect(names.length).toBeGreaterThan(0);
  const rootExports = root as unknown as Record<string, unknown>;
  for (const name of names) expect(rootExports[name], name).toBe(part[name]);
}

describe('subpath entry points (source)', () => {
  it('package.json exports each subpath with source first (workspace), then types, then default', () => {
    for (const sub of SUBPATHS) {
      const entry = pkg.exports[`./${sub}`] as Record<string, string>;
      expect(Object.keys(entry)).toEqual(['source', 'types', 'default']);
      expect(entry.types).toBe(`./dist/${sub}.d.ts`);
      expect(entry.default).toBe(`./dist/${sub}.js`);
      // What is published (pnpm swaps in publishConfig.exports on pack): no `source`.
      const published = pkg.publishConfig.exports[`./${sub}`] as Record<string, string>;
      expect(published).toEqual({ types: entry.types, default: entry.default });
    }
  });

  it('/distributions: the root classes and the one KL registry', () => {
    expectPartOfRoot(distributions);
    expect(distributions.Normal).toBe(root.Normal);
    expect(distributions.kl).toBe(root.kl);
    expect(distributions.registerKL).toBe(root.registerKL);
    // KL(N(0,1) || N(1,1)) = 1/2: the registry filled by kl.ts answers through either path.
    const p = new root.Normal(0, 1);
    const q = new distributions.Normal(1, 1);
    const d = distributions.kl(p, q);
    expect(d.arraySync()).toBeCloseTo(0.5, 6);
    for (const t of [p, q, d]) t.dispose();
  });

  it('/nn: the root modules and layers', () => {
    expectPartOfRoot(nn);
    expect(nn.Module).toBe(root.Module);
    expect(nn.Dense).toBe(root.Dense);
    expect(nn.mlp).toBe(root.mlp);
  });

  it('/train: the root Trainer, checkpoints, PNG and SVG helpers', () => {
    expectPartOfRoot(train);
    expect(train.Trainer).toBe(root.Trainer);
    expect(train.encodePng).toBe(root.encodePng);
    expect(train.linePlotSvg).toBe(root.linePlotSvg);
  });

  it('/kernels: the root kernel switches (one registry, one native state)', () => {
    expectPartOfRoot(kernels);
    expect(kernels.nativeKernelsStatus).toBe(root.nativeKernelsStatus);
    expect(kernels.registerWasmKernels).toBe(root.registerWasmKernels);
    expect(kernels.nativeKernelsStatus()).toEqual(root.nativeKernelsStatus());
  });

  it('/contracts: types only, the same types as the root', async () => {
    const mod = await import('@dgm-js/core-tensors/contracts');
    expect(Object.keys(mod)).toEqual([]);
    expectTypeOf<contractTypes.Bijector>().toEqualTypeOf<root.Bijector>();
    expectTypeOf<contractTypes.GradientEstimator>().toEqualTypeOf<root.GradientEstimator>();
    expectTypeOf<contractTypes.Metric<number>>().toEqualTypeOf<root.Metric<number>>();
    expectTypeOf<contractTypes.ConditionalDistribution>().toEqualTypeOf<root.ConditionalDistribution>();
    expectTypeOf<contractTypes.Generator>().toEqualTypeOf<root.Generator>();
    expectTypeOf<contractTypes.Critic>().toEqualTypeOf<root.Critic>();
  });
});

const run = promisify(execFile);

/** Runs an ES module script with plain Node inside this package (self-reference: dist/). */
async function node(script: string): Promise<string> {
  const { stdout } = await run(process.execPath, ['--input-type=module', '-e', script], {
    cwd: pkgDir,
    env: { ...process.env, DGM_QUIET: '1' },
  });
  return stdout;
}

describe('subpath entry points (built dist, plain Node)', () => {
  it('each subpath loads alone in a fresh process and exports what its source exports', async () => {
    const parts: Record<string, Record<string, unknown>> = {
      distributions,
      nn,
      train,
      kernels,
      contracts: {},
    };
    for (const sub of SUBPATHS) {
      const out = await node(
        `const m = await import('@dgm-js/core-tensors/${sub}');
         console.log(JSON.stringify(Object.keys(m).sort()));`,
      );
      expect(JSON.parse(out), sub).toEqual(Object.keys(parts[sub] ?? {}).sort());
    }
  });

  it('root and subpaths share one copy of module state; nothing registers twice', async () => {
    const out = await node(`
      const warnings = [];
      for (const k of ['warn', 'error']) {
        const orig = console[k];
        console[k] = (...a) => { warnings.push(a.join(' ')); orig(...a); };
      }
      const root = await import('@dgm-js/core-tensors');
      const kernels = await import('@dgm-js/core-tensors/kernels');
      const dists = await import('@dgm-js/core-tensors/distributions');
      const nn = await import('@dgm-js/core-tensors/nn');
      const train = await import('@dgm-js/core-tensors/train');
      const same = {
        nativeKernelsStatus: root.nativeKernelsStatus === kernels.nativeKernelsStatus,
        Normal: root.Normal === dists.Normal,
        kl: root.kl === dists.kl,
        Module: root.Module === nn.Module,
        Trainer: root.Trainer === train.Trainer,
      };
      await root.initBackend({ backend: 'wasm', quiet: true });
      const status = [root.nativeKernelsStatus(), kernels.nativeKernelsStatus()];
      // Toggle the TypeScript wasm kernels through one path, read them through the other.
      const before = root.wasmKernelOverrides().length;
      kernels.restoreStockWasmKernels();
      const afterRestore = root.wasmKernelOverrides().length;
      root.registerWasmKernels();
      const afterRegister = kernels.wasmKernelOverrides().length;
      // Native state: unloading through /kernels is seen by the root.
      kernels.unloadNativeKernels();
      const nativeAfterUnload = root.nativeKernelsStatus().loaded;
      // Gradients are registered (once: a second registration would warn).
      const g = root.tf.grad((x) => root.tf.sum(root.tf.sigmoid(x)))(root.tf.tensor1d([0])).arraySync()[0];
      const d = dists.kl(new root.Normal(0, 1), new dists.Normal(1, 1)).arraySync();
      console.log(JSON.stringify({ same, status, before, afterRestore, afterRegister,
        nativeAfterUnload, g, d, backend: root.tf.getBackend(), warnings }));
    `);
    const r = JSON.parse(out.trim().split('\n').at(-1) ?? '{}');
    expect(r.same).toEqual({
      nativeKernelsStatus: true,
      Normal: true,
      kl: true,
      Module: true,
      Trainer: true,
    });
    expect(r.backend).toBe('wasm');
    expect(r.status[1]).toEqual(r.status[0]);
    expect(r.before).toBeGreaterThan(0);
    expect(r.afterRestore).toBe(0);
    expect(r.afterRegister).toBe(r.before);
    expect(r.nativeAfterUnload).toBe(false);
    expect(r.g).toBeCloseTo(0.25, 6); // sigmoid'(0)
    expect(r.d).toBeCloseTo(0.5, 6);
    expect(r.warnings).toEqual([]);
  });

  it('sideEffects covers every built file that registers something at load; entries are pure', () => {
    const dist = join(pkgDir, 'dist');
    const files = readdirSync(dist).filter((f) => f.endsWith('.js'));
    const patterns = pkg.sideEffects.map(
      (p) => new RegExp(`^${p.replace(/[.]/g, '\\.').replace(/\*/g, '[^/]*')}$`),
    );
    const flagged = (f: string) => patterns.some((re) => re.test(`./dist/${f}`));
    // Modules that do something when loaded: the cpu backend + gradient registrations (tf.ts),
    // the analytic KL pairs (kl.ts), the worker loop. esbuild marks each module with a comment.
    const markers = [
      '// src/tf.ts',
      '// src/distributions/kl.ts',
      '// src/train/parallel-worker.ts',
      'register_all_gradients',
      'register_all_chained_ops',
    ];
    const holders = new Set<string>();
    for (const f of files) {
      const text = readFileSync(join(dist, f), 'utf8');
      for (const m of markers) if (text.includes(m)) holders.add(f);
    }
    expect(holders.size).toBeGreaterThanOrEqual(3);
    for (const f of holders) expect(flagged(f), f).toBe(true);
    // The subpath entries re-export shared chunks and register nothing themselves.
    for (const sub of ['index', ...SUBPATHS]) {
      expect(flagged(`${sub}.js`), sub).toBe(false);
      expect(holders.has(`${sub}.js`), sub).toBe(false);
    }
    for (const p of pkg.sideEffects.filter((s) => s.startsWith('./src/'))) {
      expect(() => readFileSync(join(pkgDir, p)), p).not.toThrow();
    }
  });
});
