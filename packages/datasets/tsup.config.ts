import { defineConfig } from 'tsup';

export default defineConfig({
  // node-io and its browser twin are separate files, chosen by the user's runtime or bundler
  // through package.json `imports` (`#node-io`: `node` -> node-io.js, else node-io.browser.js);
  // hence `#node-io` stays external here.
  entry: {
    index: 'src/index.ts',
    'node-io': 'src/node-io.ts',
    'node-io.browser': 'src/node-io.browser.ts',
  },
  external: ['#node-io'],
  format: ['esm'],
  dts: true,
  sourcemap: true,
  clean: true,
});
