import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { BackendError } from './errors.js';
import { registerWasmKernels, wasmKernelOverrides } from './kernels/index.js';
import { loadNativeKernels, nativeKernelsStatus } from './kernels/native.js';
import { nodeBuiltin } from './node-builtins.js';
import { tf } from './tf.js';
import {
  bundledWasmUrls,
  normalizeWasmPaths,
  probeWasmUrl,
  type ResolvedWasmPaths,
  type WasmPaths,
  wasmBinaryFor,
  wasmFailureMessage,
  wasmUrlOf,
} from './wasm-paths.js';

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
  /**
   * Where the wasm backend loads its `.wasm` binaries from: the URL (or, in Node, path) of a
   * directory serving all three (`tfjs-backend-wasm.wasm`, `-simd.wasm`, `-threaded-simd.wasm`),
   * or an object with a URL for each. Default: in Node, the installed
   * `@tensorflow/tfjs-backend-wasm`; in a browser, the copies in this package's `dist/wasm/`,
   * referenced as `new URL('./wasm/<file>', import.meta.url)` so webpack, Vite (build) and Parcel
   * copy them next to the bundle. Takes effect only before the wasm backend first initialises.
   */
  wasmPaths?: WasmPaths;
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

/** The paths given to tfjs before the wasm backend initialised (undefined: none yet). */
let appliedWasm: ResolvedWasmPaths | undefined;

function wasmInitialised(): boolean {
  return tf.engine().registry.wasm != null;
}

async function defaultWasmPaths(): Promise<ResolvedWasmPaths> {
  if (!isNode()) {
    return {
      paths: bundledWasmUrls(),
      source:
        "the browser default (dist/wasm/ beside @dgm-js/core-tensors' code, new URL('./wasm/...', import.meta.url); a bundler that does not copy such URLs, e.g. esbuild, needs the files copied there or options.wasmPaths)",
    };
  }
  const { createRequire } = await nodeBuiltin('node:module');
  const { dirname } = await nodeBuiltin('node:path');
  const require = createRequire(import.meta.url);
  const main = require.resolve('@tensorflow/tfjs-backend-wasm');
  return {
    paths: `${dirname(main)}/`,
    source: 'the Node default (the installed @tensorflow/tfjs-backend-wasm)',
  };
}

async function describeWasmFailure(resolved: ResolvedWasmPaths): Promise<string> {
  const [simd, threads] = await Promise.all([
    tf.env().getAsync('WASM_HAS_SIMD_SUPPORT'),
    tf.env().getAsync('WASM_HAS_MULTITHREAD_SUPPORT'),
  ]);
  const binary = wasmBinaryFor(simd === true, threads === true);
  const url = wasmUrlOf(resolved.paths, binary);
  return wasmFailureMessage(url, binary, resolved.source, await probeWasmUrl(url));
}

async function tryWasm(requested: ResolvedWasmPaths | undefined): Promise<string | null> {
  let resolved: ResolvedWasmPaths | undefined;
  try {
    if (!wasmInitialised()) {
      resolved = requested ?? (await defaultWasmPaths());
      setWasmPaths(resolved.paths);
      appliedWasm = resolved;
    }
    registerWasmKernels();
    await loadNativeKernels();
    if (!(await tf.setBackend('wasm'))) {
      return resolved ? await describeWasmFailure(resolved) : 'wasm backend failed to initialise';
    }
    return null;
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e);
    if (appliedWasm && /already initialized/i.test(msg)) {
      // tfjs refuses new paths after a failed load: name the first attempt instead.
      return `wasm backend failed earlier in this process with ${JSON.stringify(appliedWasm.paths)} (${appliedWasm.source}), and tfjs cannot retry with other paths; reload the page (or restart) with the right wasmPaths in the first initBackend() call`;
    }
    return `wasm backend failed (${msg})`;
  }
}

async function choose(
  forced: BackendName | undefined,
  wasm: ResolvedWasmPaths | undefined,
): Promise<BackendInfo> {
  const skipped: string[] = [];
  const order = forced ? [forced] : BACKENDS;
  for (const name of order) {
    let why: string | null;
    if (name === 'tensorflow') why = await tryTensorflow();
    else if (name === 'wasm') why = await tryWasm(wasm);
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
 * In a browser the wasm backend fetches one of three `.wasm` files; by default the copies this
 * package ships (bundlers that understand `new URL(..., import.meta.url)` emit them), else where
 * `wasmPaths` says. When that fails, the summary (or, with `backend: 'wasm'`, the error) names
 * the URL it tried and the fix.
 *
 * @example
 * ```ts
 * import { initBackend, tf } from '@dgm-js/core-tensors';
 * const info = await initBackend();
 * console.log(info.name); // 'wasm' on a machine without tfjs-node
 * tf.matMul(tf.ones([2, 3]), tf.ones([3, 2])).print();
 * // In a browser, with the .wasm files served from /assets/tfjs/:
 * await initBackend({ backend: 'wasm', wasmPaths: '/assets/tfjs/' });
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
  let requested: ResolvedWasmPaths | undefined;
  try {
    requested = opts.wasmPaths === undefined ? undefined : normalizeWasmPaths(opts.wasmPaths);
  } catch (e) {
    return Promise.reject(e);
  }
  if (requested && wasmInitialised() && !samePaths(requested, appliedWasm)) {
    return Promise.reject(
      new BackendError(
        `initBackend: options.wasmPaths (${JSON.stringify(requested.paths)}) comes too late: the wasm backend is already initialised${appliedWasm ? ` from ${JSON.stringify(appliedWasm.paths)} (${appliedWasm.source})` : ' outside initBackend()'}, and tfjs loads its .wasm only once. Pass wasmPaths to the first initBackend() call, before anything else initialises the wasm backend.`,
      ),
    );
  }
  const key = forced ?? 'auto';
  if (current && currentKey === key) return current;
  const quiet = opts.quiet ?? envVar('DGM_QUIET') === '1';
  const first = current === undefined;
  currentKey = key;
  current = choose(forced, requested).then((info) => {
    if (!quiet && first) console.info(info.summary);
    return info;
  });
  current.catch(() => {
    current = undefined;
    currentKey = undefined;
  });
  return current;
}

function samePaths(a: ResolvedWasmPaths, b: ResolvedWasmPaths | undefined): boolean {
  return b !== undefined && JSON.stringify(a.paths) === JSON.stringify(b.paths);
}
