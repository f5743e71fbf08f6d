import { defineConfig } from 'tsup';

export default defineConfig({
  entry: ['src/index.ts'],
  format: ['esm'],
  dts: true,
  sourcemap: true,
  clean: true,
  // tfjs-core ships its gradient registrations only as extensionless ESM, which Node cannot
  // load; bundle that one module (as the tfjs umbrella package does). All else stays external.
  noExternal: [/register_all_gradients/],
});
