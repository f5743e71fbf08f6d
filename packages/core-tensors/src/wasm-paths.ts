// Where the tfjs wasm backend loads its three `.wasm` binaries from: the user's `wasmPaths`, or a
// default (Node: the installed @tensorflow/tfjs-backend-wasm; browser: the copies this package
// ships in dist/wasm/, found through `new URL('./wasm/...', import.meta.url)`, a pattern webpack,
// Vite's build, Parcel and Rollup's URL plugin resolve and copy). And, when loading fails, one
// message naming the URL that was tried and the fix.
import { ValueError } from './errors.js';

/** The binaries of `@tensorflow/tfjs-backend-wasm`; tfjs picks one by the platform's features. */
export const WASM_BINARIES = [
  'tfjs-backend-wasm.wasm',
  'tfjs-backend-wasm-simd.wasm',
  'tfjs-backend-wasm-threaded-simd.wasm',
] as const;

/** The name of one tfjs wasm binary. */
export type WasmBinaryName = (typeof WASM_BINARIES)[number];

/**
 * Where the wasm binaries are: a directory URL or path that serves all three (a trailing `/` is
 * added when missing), or a URL per binary.
 */
export type WasmPaths = string | URL | Readonly<Record<WasmBinaryName, string | URL>>;

/** `wasmPaths` normalised for tfjs's `setWasmPaths`, and where it came from (for messages). */
export interface ResolvedWasmPaths {
  /** A directory prefix ending in `/`, or one URL per binary. */
  readonly paths: string | Readonly<Record<WasmBinaryName, string>>;
  /** Where these paths came from: `options.wasmPaths` or the default used. */
  readonly source: string;
}

const href = (u: string | URL): string => (typeof u === 'string' ? u : u.href);

/**
 * Checks and normalises a user's `wasmPaths` (`initBackend({ wasmPaths })`).
 *
 * @example
 * ```ts
 * normalizeWasmPaths('/static/tfjs'); // { paths: '/static/tfjs/', source: 'options.wasmPaths' }
 * ```
 */
export function normalizeWasmPaths(value: WasmPaths): ResolvedWasmPaths {
  const source = 'options.wasmPaths';
  if (typeof value === 'string' || value instanceof URL) {
    const s = href(value);
    if (s.length === 0) {
      throw new ValueError(
        "initBackend: options.wasmPaths is empty; pass the URL of the directory that serves the tfjs .wasm files (e.g. '/assets/wasm/').",
      );
    }
    return { paths: s.endsWith('/') ? s : `${s}/`, source };
  }
  if (value === null || typeof value !== 'object') {
    throw new ValueError(
      `initBackend: options.wasmPaths must be a directory URL string, a URL, or an object mapping ${WASM_BINARIES.join(', ')} to URLs; got ${value === null ? 'null' : typeof value}.`,
    );
  }
  const map = value as Readonly<Record<string, string | URL | undefined>>;
  const missing = WASM_BINARIES.filter((n) => map[n] === undefined || href(map[n]!) === '');
  const unknown = Object.keys(map).filter((k) => !(WASM_BINARIES as readonly string[]).includes(k));
  if (missing.length > 0 || unknown.length > 0) {
    throw new ValueError(
      `initBackend: options.wasmPaths as an object needs a URL for each of ${WASM_BINARIES.join(', ')}${missing.length ? `; missing: ${missing.join(', ')}` : ''}${unknown.length ? `; unknown keys: ${unknown.join(', ')}` : ''}. Or pass one directory URL that serves all three.`,
    );
  }
  const paths = Object.fromEntries(WASM_BINARIES.map((n) => [n, href(map[n]!)])) as Record<
    WasmBinaryName,
    string
  >;
  return { paths, source };
}

/**
 * The copies of the binaries shipped in this package's `dist/wasm/`, as URLs relative to the
 * module (each a literal `new URL(..., import.meta.url)`, so bundlers find and emit the files).
 * Used in browsers when no `wasmPaths` is given.
 *
 * @example
 * ```ts
 * bundledWasmUrls()['tfjs-backend-wasm-simd.wasm']; // '.../dist/wasm/tfjs-backend-wasm-simd.wasm'
 * ```
 */
export function bundledWasmUrls(): Record<WasmBinaryName, string> {
  return {
    'tfjs-backend-wasm.wasm': new URL('./wasm/tfjs-backend-wasm.wasm', import.meta.url).href,
    'tfjs-backend-wasm-simd.wasm': new URL('./wasm/tfjs-backend-wasm-simd.wasm', import.meta.url)
      .href,
    'tfjs-backend-wasm-threaded-simd.wasm': new URL(
      './wasm/tfjs-backend-wasm-threaded-simd.wasm',
      import.meta.url,
    ).href,
  };
}

/**
 * The binary tfjs loads for the platform's features (the rule of tfjs-backend-wasm 4.22).
 *
 * @example
 * ```ts
 * wasmBinaryFor(true, false); // 'tfjs-backend-wasm-simd.wasm'
 * ```
 */
export function wasmBinaryFor(simd: boolean, threads: boolean): WasmBinaryName {
  if (simd && threads) return 'tfjs-backend-wasm-threaded-simd.wasm';
  return simd ? 'tfjs-backend-wasm-simd.wasm' : 'tfjs-backend-wasm.wasm';
}

/** The URL (or path) tfjs fetches `binary` from under `paths`. */
export function wasmUrlOf(paths: ResolvedWasmPaths['paths'], binary: WasmBinaryName): string {
  return typeof paths === 'string' ? `${paths}${binary}` : paths[binary];
}

/**
 * Asks the server for `url` (browsers and Node's fetch; http(s) only) to say why loading failed.
 * Returns e.g. `'HTTP 404'`, or null when the URL is not http(s) or fetch is unavailable.
 */
export async function probeWasmUrl(url: string): Promise<string | null> {
  if (!/^https?:/i.test(url) || typeof fetch !== 'function') return null;
  try {
    const r = await fetch(url, { method: 'GET' });
    const type = r.headers.get('content-type') ?? 'no content-type';
    await r.body?.cancel();
    if (!r.ok) return `HTTP ${r.status}`;
    return `HTTP ${r.status}, ${type}: the file is there but did not compile (a different tfjs version, or a page served in its place)`;
  } catch (e) {
    return `fetch failed: ${e instanceof Error ? e.message : String(e)}`;
  }
}

/**
 * The message of a failed wasm initialisation: the binary, the URL tried, where that URL came
 * from, and the fix.
 *
 * @example
 * ```ts
 * wasmFailureMessage('http://x/a/tfjs-backend-wasm-simd.wasm', 'tfjs-backend-wasm-simd.wasm',
 *   'options.wasmPaths', 'HTTP 404');
 * ```
 */
export function wasmFailureMessage(
  url: string,
  binary: WasmBinaryName,
  source: string,
  probe: string | null,
): string {
  const why = probe ? ` (${probe})` : '';
  return `wasm backend failed to initialise: it could not load ${binary} from ${url}${why}; that URL came from ${source}. Fix: serve the three .wasm files shipped in @dgm-js/core-tensors/dist/wasm/ (the same as @tensorflow/tfjs-backend-wasm/dist/) at that address, or pass initBackend({ wasmPaths: '<URL of the directory that serves them>/' }) (see "wasm in the browser" in the @dgm-js/core-tensors README)`;
}
