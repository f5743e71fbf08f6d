// Node built-in modules loaded without a specifier a browser bundler would try to resolve, so
// code that needs Node only on some paths (file IO, locating files) still bundles for the
// browser. Internal: callers check that they run in Node first.

/** The Node built-ins dgm.js loads on demand, by specifier. */
export interface NodeBuiltins {
  'node:fs': typeof import('node:fs');
  'node:fs/promises': typeof import('node:fs/promises');
  'node:module': typeof import('node:module');
  'node:path': typeof import('node:path');
  'node:url': typeof import('node:url');
  'node:worker_threads': typeof import('node:worker_threads');
}

/**
 * Loads a Node built-in: `process.getBuiltinModule` where it exists (Node >= 20.16), else a
 * dynamic import of a computed specifier, which esbuild, Vite and webpack leave alone (a literal
 * `import('node:fs')` makes a browser bundle fail with `Could not resolve "fs"`). Node only.
 *
 * @example
 * ```ts
 * const { join } = await nodeBuiltin('node:path');
 * ```
 */
export async function nodeBuiltin<K extends keyof NodeBuiltins>(name: K): Promise<NodeBuiltins[K]> {
  const proc = globalThis.process as { getBuiltinModule?: (id: string) => unknown } | undefined;
  const mod = proc?.getBuiltinModule?.(name);
  if (mod) return mod as NodeBuiltins[K];
  const spec: string = name;
  return (await import(/* webpackIgnore: true */ /* @vite-ignore */ spec)) as NodeBuiltins[K];
}
