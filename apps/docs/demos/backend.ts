/**
 * The demos' backend, inside their Web Worker: tfjs's wasm backend with the `.wasm` binaries the
 * site serves under `<base>wasm/` (scripts/api.mjs copies them into site/public/wasm/), and the
 * cpu backend when wasm cannot start (the page says which one ran).
 */
import { initBackend } from '@dgm-js/core-tensors';

export async function startBackend(base: string): Promise<string> {
  const wasmPaths = new URL(`${base}wasm/`, self.location.origin).href;
  try {
    const info = await initBackend({ backend: 'wasm', wasmPaths, quiet: true });
    return info.name;
  } catch (e) {
    console.warn(`wasm backend unavailable (${String(e)}); using cpu`);
    return (await initBackend({ backend: 'cpu', quiet: true })).name;
  }
}

/** One message from a demo worker to its page. */
export type DemoMessage =
  | { type: 'backend'; backend: string }
  | { type: 'error'; message: string }
  | { type: 'done'; ms: number }
  | { type: string; [k: string]: unknown };

/** Runs `fn` for each message, reporting a thrown error to the page instead of losing it. */
export function serve<T>(fn: (msg: T) => Promise<void>): void {
  self.onmessage = (ev: MessageEvent<T>) => {
    fn(ev.data).catch((e: unknown) => {
      self.postMessage({ type: 'error', message: e instanceof Error ? e.message : String(e) });
    });
  };
}
