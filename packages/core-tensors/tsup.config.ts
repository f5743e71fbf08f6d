import { copyFileSync, mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { defineConfig } from 'tsup';

const CHAINED_OPS_TYPES =
  '@tensorflow/tfjs-core/dist/public/chained_ops/register_all_chained_ops.js';

const WASM_BINARIES = [
  'tfjs-backend-wasm.wasm',
  'tfjs-backend-wasm-simd.wasm',
  'tfjs-backend-wasm-threaded-simd.wasm',
];

/**
 * Ships the wasm backend's binaries in dist/wasm/ (with their licence), where the browser default
 * of initBackend() finds them through `new URL('./wasm/<file>', import.meta.url)`.
 */
function copyWasmBinaries(): void {
  const require = createRequire(import.meta.url);
  const from = dirname(require.resolve('@tensorflow/tfjs-backend-wasm/package.json'));
  const to = join('dist', 'wasm');
  mkdirSync(to, { recursive: true });
  for (const f of WASM_BINARIES) copyFileSync(join(from, 'dist', f), join(to, f));
  copyFileSync('LICENSE-tfjs-backend-wasm', join(to, 'LICENSE'));
}

export default defineConfig({
  // One entry per subpath of package.json `exports` (the root re-exports them all). Code shared
  // between entries goes to shared chunks (esbuild splitting, on by default for ESM), so `tf`,
  // the kernel registry, the native-kernel state and the KL registry exist once however many
  // subpaths a program imports. parallel-worker: the worker-thread entry of the Trainer's data
  // parallelism (started by path from the main bundle, never imported).
  entry: {
    index: 'src/index.ts',
    distributions: 'src/distributions/index.ts',
    nn: 'src/nn/index.ts',
    train: 'src/train/index.ts',
    kernels: 'src/entries/kernels.ts',
    contracts: 'src/contracts.ts',
    'parallel-worker': 'src/train/parallel-worker.ts',
  },
  format: ['esm'],
  splitting: true,
  // The chained tensor methods' types are module augmentations in tfjs-core's declaration files,
  // which a program sees only if it loads them; rollup-plugin-dts drops side-effect imports, so
  // each emitted .d.ts imports them explicitly (with `.js`, so NodeNext resolves it too).
  dts: { banner: `import '${CHAINED_OPS_TYPES}';` },
  sourcemap: true,
  clean: true,
  // tfjs-core ships its gradient and chained-op registrations only as extensionless ESM, which
  // Node cannot load; bundle those modules (as the tfjs umbrella package does). They patch the
  // global engine's registries and Tensor class, so one tfjs-core engine serves both. All else
  // stays external.
  noExternal: [/register_all_gradients/, /register_all_chained_ops/],
  onSuccess: async () => copyWasmBinaries(),
});
