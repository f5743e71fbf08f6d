/**
 * @dgm-js/cli: the `dgm` command line for dgm.js (Node). The executable is `dgm`; this entry
 * exposes the same commands as functions, for scripts and tests.
 *
 * @example
 * ```ts
 * import { main } from '@dgm-js/cli';
 * const code = await main(['train', 'gaussian-vae', '--steps', '100', '--out', 'runs/vae']);
 * ```
 *
 * @packageDocumentation
 */

export { CliError } from './errors.js';
export type { ModelKind, ModelOptions } from './models.js';
export { MODEL_KINDS } from './models.js';
export type { CliIo } from './program.js';
export { createProgram, main } from './program.js';
export type { RunConfig } from './run-dir.js';
export { RUN_FILE, readRun } from './run-dir.js';
