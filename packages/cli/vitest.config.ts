import { fileURLToPath } from 'node:url';
import { defineConfig, mergeConfig } from 'vitest/config';
import shared from '../../vitest.shared';

// The tests run the built `dgm` as a subprocess: the global setup builds dist/ when it is
// missing or older than src/.
export default mergeConfig(
  shared,
  defineConfig({
    test: { globalSetup: [fileURLToPath(new URL('./vitest.global-setup.ts', import.meta.url))] },
  }),
);
