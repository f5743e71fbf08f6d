/**
 * The shipped classifiers load in a browser: (1) `@dgm-js/eval` bundles with esbuild for
 * `--platform=browser` (every import resolves; no Node built-in module in the bundle's inputs;
 * the weights are inside the bundle, not read from files), and (2) the weights path needs no
 * file system and no Node `Buffer`: the bytes fetched from a URL (a `data:` URL here, as a
 * browser would fetch them) build a classifier whose outputs equal the shipped one's.
 */

import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { tf } from '@dgm-js/core-tensors';
import { expectNoLeaks } from '@dgm-js/test-utils';
import { describe, expect, it } from 'vitest';
import { loadMnistClassifier, ShippedImageClassifier } from './classifier.js';
import { SHIPPED } from './weights/mnist.js';

/** The part of esbuild's API this test uses (esbuild is tsup's dependency, not this package's). */
interface EsbuildLike {
  build(opts: Record<string, unknown>): Promise<{
    errors: unknown[];
    metafile: { inputs: Record<string, unknown> };
    outputFiles: { text: string }[];
  }>;
}

const srcDir = dirname(dirname(fileURLToPath(import.meta.url)));
const NODE_BUILTINS = new Set([
  'fs',
  'fs/promises',
  'path',
  'url',
  'module',
  'worker_threads',
  'os',
  'child_process',
  'crypto',
  'util',
  'buffer',
  'stream',
  'zlib',
]);

describe('browser bundle of @dgm-js/eval', () => {
  it('bundles for the browser with no Node built-in, the weights inside', async () => {
    // The workspace's esbuild, through tsup (a root devDependency) that depends on it.
    const req = createRequire(import.meta.url);
    const esbuild = createRequire(req.resolve('tsup'))('esbuild') as EsbuildLike;
    const res = await esbuild.build({
      entryPoints: [join(srcDir, 'index.ts')],
      bundle: true,
      platform: 'browser',
      format: 'esm',
      write: false,
      metafile: true,
      // workspace siblings resolve to their src/ as in every test; publish builds use dist/
      conditions: ['source'],
      logLevel: 'silent',
    });
    expect(res.errors).toEqual([]);
    const inputs = Object.keys(res.metafile.inputs);
    const builtins = inputs.filter(
      (i) => i.startsWith('node:') || NODE_BUILTINS.has(i.replace(/^node:/, '')),
    );
    expect(builtins).toEqual([]);
    expect(inputs.some((i) => i.endsWith('classifier/weights/mnist.ts'))).toBe(true);
    expect(inputs.some((i) => i.endsWith('classifier/weights/fashion-mnist.ts'))).toBe(true);
    expect(inputs.some((i) => i.includes('tfjs-node'))).toBe(false);
    // No static import or require of a Node module survives in the output either.
    const text = res.outputFiles[0]!.text;
    expect(text).not.toMatch(/(?:from\s*|require\(\s*|import\(\s*)["']node:/);
    expect(text).not.toMatch(/require\(\s*["'](?:fs|path|url|worker_threads|module)["']\s*\)/);
  }, 60000);
});

describe('classifier weights from bytes (a URL, an ArrayBuffer)', () => {
  it('the bytes fetched from a URL give the shipped classifier, without fs or Buffer', async () => {
    const res = await fetch(`data:application/octet-stream;base64,${SHIPPED.weights as string}`);
    const bytes = new Uint8Array(await res.arrayBuffer());
    const x = tf.randomUniform([8, 784], 0, 1, 'float32', 3);
    const shipped = await loadMnistClassifier();
    const saved = globalThis.Buffer;
    let fromUrl: ShippedImageClassifier;
    try {
      // A browser has no Buffer: the decoding path must not need it.
      (globalThis as { Buffer?: unknown }).Buffer = undefined;
      fromUrl = new ShippedImageClassifier({ ...SHIPPED, weights: bytes });
    } finally {
      globalThis.Buffer = saved;
    }
    const a = shipped.classify(x);
    const b = fromUrl.classify(x);
    expect(Array.from(b.logProbs.dataSync())).toEqual(Array.from(a.logProbs.dataSync()));
    expect(Array.from(b.features.dataSync())).toEqual(Array.from(a.features.dataSync()));
    tf.dispose([a.logProbs, a.features, b.logProbs, b.features, x]);
    shipped.dispose();
    fromUrl.dispose();
    // Building and disposing from bytes leaves no tensors behind.
    await expectNoLeaks(() => new ShippedImageClassifier({ ...SHIPPED, weights: bytes }).dispose());
  });
});
