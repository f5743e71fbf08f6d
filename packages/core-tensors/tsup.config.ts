import { defineConfig } from 'tsup';

const CHAINED_OPS_TYPES =
  '@tensorflow/tfjs-core/dist/public/chained_ops/register_all_chained_ops.js';

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
});
