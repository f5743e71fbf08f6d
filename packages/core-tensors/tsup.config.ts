import { defineConfig } from 'tsup';

export default defineConfig({
  // parallel-worker: the worker-thread entry of the Trainer's data parallelism (started by
  // path from the main bundle, never imported).
  entry: { index: 'src/index.ts', 'parallel-worker': 'src/train/parallel-worker.ts' },
  format: ['esm'],
  dts: true,
  sourcemap: true,
  clean: true,
  // tfjs-core ships its gradient registrations only as extensionless ESM, which Node cannot
  // load; bundle that one module (as the tfjs umbrella package does). All else stays external.
  noExternal: [/register_all_gradients/],
});
