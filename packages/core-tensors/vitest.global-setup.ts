import { execFileSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The data-parallel tests start worker threads and child processes with plain Node, which load
 * this package's built `dist/` (a worker cannot import TypeScript sources). So the test run builds
 * `dist/` first whenever it is missing or older than any file of `src/`: `pnpm test` and
 * `pnpm --filter @dgm-js/core-tensors test` then pass on a fresh clone with nothing built. The
 * optional `@dgm-js/kernels-native` (whose `dist/` the workers import) is built the same way.
 */
const here = fileURLToPath(new URL('.', import.meta.url));
const require = createRequire(import.meta.url);

function newest(dir: string): number {
  let t = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    t = Math.max(t, e.isDirectory() ? newest(p) : statSync(p).mtimeMs);
  }
  return t;
}

function mtime(p: string): number {
  try {
    return statSync(p).mtimeMs;
  } catch {
    return 0;
  }
}

/** Builds the package at `pkg` with tsup when an entry of `dist/` is missing or stale. */
function ensureBuilt(pkg: string, entries: string[]): void {
  const built = Math.min(...entries.map((e) => mtime(join(pkg, 'dist', e))));
  const sources = Math.max(newest(join(pkg, 'src')), mtime(join(pkg, 'tsup.config.ts')));
  if (built > sources) return;
  process.stderr.write(`[core-tensors tests] building ${pkg} (tsup) for the worker-thread tests\n`);
  const tsup = join(dirname(require.resolve('tsup/package.json')), 'dist/cli-default.js');
  execFileSync(process.execPath, [tsup], { cwd: pkg, stdio: ['ignore', 'ignore', 'inherit'] });
}

export default function setup(): void {
  const native = join(here, 'node_modules/@dgm-js/kernels-native');
  if (mtime(join(native, 'package.json')) > 0) ensureBuilt(native, ['index.js']);
  ensureBuilt(here, ['index.js', 'parallel-worker.js']);
}
