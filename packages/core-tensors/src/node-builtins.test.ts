import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { nodeBuiltin } from './node-builtins.js';

describe('nodeBuiltin', () => {
  const proc = process as { getBuiltinModule?: unknown };
  const original = proc.getBuiltinModule;
  afterEach(() => {
    proc.getBuiltinModule = original;
  });

  it('returns the Node built-in (through process.getBuiltinModule where it exists)', async () => {
    const p = await nodeBuiltin('node:path');
    expect(p.join).toBe(path.join);
    expect((await nodeBuiltin('node:module')).createRequire).toBeTypeOf('function');
  });

  it('falls back to a dynamic import on Node versions without getBuiltinModule', async () => {
    proc.getBuiltinModule = undefined;
    const p = await nodeBuiltin('node:path');
    expect(p.join).toBe(path.join);
    expect((await nodeBuiltin('node:fs/promises')).readFile).toBeTypeOf('function');
  });
});
