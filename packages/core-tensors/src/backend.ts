import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { BackendError } from './errors.js';
import { registerWasmKernels, wasmKernelOverrides } from './kernels/index.js';
import { loadNativeKernels, nativeKernelsStatus } from './kernels/native.js';
import { tf } from './tf.js';

/** The backends dgm.js can run on, in order of preference. */
export type BackendName = 'tensorflow' | 'wasm' | 'cpu';

/** What `initBackend()` chose, and why. */
export interface BackendInfo {
  /** The active tfjs backend. */
  readonly name: BackendName;
  /** Kernels dgm.js registered over the backend's own (empty when none). */
  readonly overrides: readonly string[];
  /** One human line: what runs, and why the preferred ones did not. */
  readonly summary: string;
}

/** Options of {@link initBackend}. */
export interface InitBackendOptions {
  /** Force a backend; defaults to `DGM_BACKEND` from the environment, else automatic choice. */
  backend?: BackendName;
  /** Do not print the one-line report. Defaults to `DGM_QUIET=1`. */
  quiet?: boolean;
}

const BACKENDS: readonly BackendName[] = ['tensorflow', 'wasm', 'cpu'];

let current: Promise<BackendInfo> | undefined;
let currentKey: string | undefined;

function isNode(): boolean {
  return typeof process !== 'undefined' && typeof process.versions?.node === 'string';
}

function envVar(name: string): string | undefined {
  return isNode() ? process.env[name] : undefined;
}

async function tryTensorflow(): Promise<string | null> {
  if (!isNode()) return 'not in Node';
  // A computed specifier keeps bundlers from trying to resolve this optional native package.
  const spec = ['@tensorflow', 'tfjs-node'].join('/');
  try {
    await import(/* @vite-ignore */ spec);
  } catch (e) {
    const msg = e instanceof Error ? e.message.split('\n')[0] : String(e);
    return `@tensorflow/tfjs-node did not load (${msg})`;
  }
  return (await tf.setBackend('tensorflow')) ? null : 'tensorflow backend failed to initialise';
}

async function locateWasmFiles(): Promise<void> {
  if (!isNode()) return; // in a browser the bundler or the user serves the .wasm files
  const { createRequire } = await import('node:module');
  const { dirname } = await import('node:path');
  const require = createRequire(import.meta.url);
  const main = require.resolve('@tensorflow/tfjs-backend-wasm');
  setWasmPaths(`${dirname(main)}/`);
}

async function tryWasm(): Promise<string | null> {
  try {
    await locateWasmFiles();
    registerWasmKernels();
    await loadNativeKernels();
    if (!(await tf.setBackend('wasm'))) return 'wasm backend failed to initialise';
    return null;
  } catch (e) {
    return `wasm backend failed (${e instanceof Error ? e.message : String(e)})`;
  }
}

async function choose(forced: BackendName | undefined): Promise<BackendInfo> {
  const skipped: string[] = [];
  const order = forced ? [forced] : BACKENDS;
  for (const name of order) {
    let why: string | null;
    if (name === 'tensorflow') why = await tryTensorflow();
    else if (name === 'wasm') why = await tryWasm();
    else why = (await tf.setBackend('cpu')) ? null : 'cpu backend failed to initialise';
    if (why === null) {
      await tf.ready();
      const native = name === 'wasm' ? nativeKernelsStatus() : null;
      const overrides =
        name === 'wasm' ? [...new Set([...wasmKernelOverrides(), ...native!.kernels])] : [];
      const extra = overrides.length ? ` (+ ${overrides.length} dgm.js kernels)` : '';
      const note = skipped.length ? `; skipped: ${skipped.join('; ')}` : '';
      const nativeNote = native ? `; ${native.summary}` : '';
      return { name, overrides, summary: `dgm.js backend: ${name}${extra}${nativeNote}${note}` };
    }
    if (forced)
      throw new BackendError(`initBackend: the forced backend '${name}' is unavailable: ${why}.`);
    skipped.push(why);
  }
  throw new BackendError(`initBackend: no backend could be initialised: ${skipped.join('; ')}`);
}

/**
 * Chooses and initialises the tfjs backend once per process: `@tensorflow/tfjs-node` when it is
 * installed and loads, else the wasm backend (with dgm.js's faster kernels registered over
 * the slow and missing ones), else cpu. `DGM_BACKEND=tensorflow|wasm|cpu` (or `backend`)
 * forces one. The choice is printed once (`quiet` or `DGM_QUIET=1` silences it).
 *
 * Calling it again returns the same result; calling it with a different forced backend switches.
 *
 * @example
 * ```ts
 * import { initBackend, tf } from '@dgm-js/core-tensors';
 * const info = await initBackend();
 * console.log(info.name); // 'wasm' on a machine without tfjs-node
 * tf.matMul(tf.ones([2, 3]), tf.ones([3, 2])).print();
 * ```
 */
export function initBackend(opts: InitBackendOptions = {}): Promise<BackendInfo> {
  const envForced = envVar('DGM_BACKEND');
  const forced = opts.backend ?? (envForced ? (envForced as BackendName) : undefined);
  if (forced !== undefined && !BACKENDS.includes(forced)) {
    return Promise.reject(
      new BackendError(
        `initBackend: unknown backend '${forced}' (from ${opts.backend ? 'options.backend' : 'DGM_BACKEND'}); use one of ${BACKENDS.join(', ')}.`,
      ),
    );
  }
  const key = forced ?? 'auto';
  if (current && currentKey === key) return current;
  const quiet = opts.quiet ?? envVar('DGM_QUIET') === '1';
  const first = current === undefined;
  currentKey = key;
  current = choose(forced).then((info) => {
    if (!quiet && first) console.info(info.summary);
    return info;
  });
  current.catch(() => {
    current = undefined;
    currentKey = undefined;
  });
  return current;
}
