export type { AllcloseOptions, AllcloseResult, Numeric } from './allclose.js';
export { allclose } from './allclose.js';
export type { GradCheckOptions, GradCheckResult } from './gradcheck.js';
export { checkGradient } from './gradcheck.js';
export { disposeAll, expectNoLeaks } from './leaks.js';
import './matchers.js';

export { type KilledChild, runUntilKilled, tfjsHooksImport } from './child-process.js';
export type { ReadmeBlock } from './readme.js';
export { readmeBlocks, runReadme } from './readme.js';
