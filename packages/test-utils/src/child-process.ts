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
