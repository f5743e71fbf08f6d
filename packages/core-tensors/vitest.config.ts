import { defineConfig, mergeConfig } from 'vitest/config';
import shared from '../../vitest.shared';

// globalSetup builds dist/ when stale: the worker-thread tests run the built package.
export default mergeConfig(
  shared,
  defineConfig({ test: { globalSetup: ['./vitest.global-setup.ts'] } }),
);
