import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

/**
 * Shared vitest settings for every package. Siblings resolve to their `src/` through the
 * `source` export condition, so tests never need a build. tfjs-core's ESM gradient modules
 * (extensionless imports) are inlined so vite transforms them; everything else in
 * tfjs-core loads as Node's CommonJS bundle, exactly as in production.
 */
export default defineConfig({
  resolve: { conditions: ['source', 'import', 'module', 'default'] },
  ssr: { resolve: { conditions: ['source'], externalConditions: [] } },
  test: {
    environment: 'node',
    pool: 'forks',
    testTimeout: 60_000,
    hookTimeout: 60_000,
    setupFiles: [fileURLToPath(new URL('./packages/test-utils/src/setup.ts', import.meta.url))],
    reporters: ['default', 'json'],
    outputFile: { json: 'test-results.json' },
    server: { deps: { inline: [/tfjs-core[\\/]dist[\\/](?!tf-core)/] } },
  },
});
