import { defineConfig } from 'tsup';

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
  dts: true,
  sourcemap: true,
  clean: true,
  // tfjs-core ships its gradient registrations only as extensionless ESM, which Node cannot
  // load; bundle that one module (as the tfjs umbrella package does). All else stays external.
  noExternal: [/register_all_gradients/],
});
