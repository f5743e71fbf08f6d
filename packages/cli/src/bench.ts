/**
 * `dgm bench ...`: hands its arguments to the benchmark pipeline of the dgm.js repository
 * (apps/bench), found above the current directory or above this package; elsewhere a clear
 * message and exit code 1.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CliError } from './errors.js';

/** The workspace root holding apps/bench/src/cli.ts above `start`, or undefined. */
export function findBenchRoot(start: string): string | undefined {
  let dir = resolve(start);
  for (;;) {
    if (
      existsSync(join(dir, 'apps/bench/src/cli.ts')) &&
      existsSync(join(dir, 'pnpm-workspace.yaml'))
    ) {
      return dir;
    }
    const up = dirname(dir);
    if (up === dir) return undefined;
    dir = up;
  }
}

/**
 * Runs apps/bench's CLI with `args` (its `bench` script: `tsx src/cli.ts`), output inherited;
 * returns its exit code.
 *
 * @example
 * ```ts
 * const code = bench(['--suite', 'flows', '--profile', 'quick'], process.cwd());
 * ```
 */
export function bench(args: string[], cwd: string): number {
  const here = dirname(fileURLToPath(import.meta.url));
  const root = findBenchRoot(cwd) ?? findBenchRoot(here);
  if (root === undefined) {
    throw new CliError(
      `bench: the benchmark pipeline (apps/bench) is not here: it lives in the dgm.js repository; run \`dgm bench\` inside a clone of it (after \`pnpm install\`), looked above ${resolve(cwd)}.`,
    );
  }
  const tsx = join(root, 'node_modules/tsx/dist/cli.mjs');
  if (!existsSync(tsx)) {
    throw new CliError(
      `bench: ${root} has apps/bench but no node_modules/tsx; run \`pnpm install\` there first.`,
    );
  }
  const r = spawnSync(process.execPath, [tsx, 'src/cli.ts', ...args], {
    cwd: join(root, 'apps/bench'),
    stdio: 'inherit',
  });
  if (r.error) throw new CliError(`bench: could not start apps/bench (${r.error.message}).`);
  return r.status ?? 1;
}
