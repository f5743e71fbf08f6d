import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/**
 * The path of a Node `--import` module that installs a resolution hook for tfjs-core's ESM files
 * (extensionless and directory imports, which Node's resolver rejects), for tests that run a
 * TypeScript child process with tsx rather than vite (the SIGKILL-and-resume tests).
 *
 * @example
 * ```ts
 * spawn(process.execPath, ['--conditions=source', '--import', 'tsx', '--import', tfjsHooksImport, 'child.ts']);
 * ```
 */
export const tfjsHooksImport: string = fileURLToPath(
  new URL('./register-tfjs-hooks.mjs', import.meta.url),
);

/** What {@link runUntilKilled} saw of the child. */
export interface KilledChild {
  /** `'SIGKILL'` when it was killed; null when it exited by itself first. */
  signal: NodeJS.Signals | null;
  /** The steps the child reported (`step N` lines on stdout), in order. */
  steps: number[];
  stderr: string;
}

/**
 * Runs a TypeScript child trainer (`node --conditions=source --import tsx` plus the tfjs hooks,
 * with `cwd` as the package root and the parent's tfjs backend) and sends it SIGKILL as soon as it
 * has printed a line `step N` with N >= `killAt`: the shared half of every SIGKILL-and-resume test.
 *
 * @example
 * ```ts
 * const child = await runUntilKilled(join(here, 'child.ts'), [dir, '14'], { killAt: 7, cwd: pkgRoot, backend: tf.getBackend() });
 * expect(child.signal).toBe('SIGKILL');
 * ```
 */
export function runUntilKilled(
  script: string,
  args: readonly string[],
  opts: { killAt: number; cwd: string; backend: string },
): Promise<KilledChild> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [
        '--conditions=source', // workspace packages resolve to their src/ (no build needed)
        '--import',
        'tsx',
        '--import',
        tfjsHooksImport,
        script,
        ...args,
      ],
      // the same backend as the parent, for a bit-exact comparison
      {
        cwd: opts.cwd,
        stdio: ['ignore', 'pipe', 'pipe'],
        env: { ...process.env, DGM_BACKEND: opts.backend },
      },
    );
    let out = '';
    let stderr = '';
    let sent = false;
    const seen = () => [...out.matchAll(/step (\d+)\n/g)].map((m) => Number(m[1]));
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      const s = seen();
      if (!sent && s.length && s[s.length - 1]! >= opts.killAt) {
        sent = true;
        child.kill('SIGKILL');
      }
    });
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    child.on('error', reject);
    child.on('exit', (_code, signal) => resolve({ signal, steps: seen(), stderr }));
  });
}
