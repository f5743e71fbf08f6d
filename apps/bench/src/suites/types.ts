import type { SuiteResult } from '../report.js';

export type Profile = 'quick' | 'full';

/** A benchmark suite: runs on one profile and returns its rows. */
export interface Suite {
  name: string;
  description: string;
  run(profile: Profile, ctx: { resultsDir: string }): Promise<SuiteResult>;
}
