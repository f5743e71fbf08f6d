import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { runParallel } from './parallel-run.js';
import { writeSuite } from './report.js';
import { SUITES } from './suites/index.js';
import type { Profile } from './suites/types.js';
import { progress } from './timing.js';

const USAGE = `usage: pnpm bench [--suite <name>[,<name>...]] [--profile quick|full] [--out <dir>] [--jobs N]
--jobs N: suites run N at a time, each in its own process (default: the number of cores, at most 2;
  the kernels suite always runs alone first; --jobs 1 runs everything in this process, one by one)
suites: ${SUITES.map((s) => `${s.name} (${s.description})`).join('; ')}`;

function parse(argv: string[]) {
  const opts: { suites: string[]; profile: Profile; out: string; jobs: number } = {
    suites: SUITES.map((s) => s.name),
    jobs: Math.min(2, availableParallelism()),
    profile: 'quick',
    out: fileURLToPath(new URL('../results', import.meta.url)),
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const next = () => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${a} needs a value\n${USAGE}`);
      return v;
    };
    if (a === '--') continue;
    if (a === '--suite') opts.suites = next().split(',');
    else if (a === '--profile') {
      const p = next();
      if (p !== 'quick' && p !== 'full')
        throw new Error(`--profile must be quick or full, got '${p}'\n${USAGE}`);
      opts.profile = p;
    } else if (a === '--out') opts.out = next();
    else if (a === '--jobs') {
      const j = Number(next());
      if (!Number.isInteger(j) || j < 1)
        throw new Error(`--jobs must be an integer >= 1\n${USAGE}`);
      opts.jobs = j;
    } else if (a === '--help' || a === '-h') {
      console.log(USAGE);
      process.exit(0);
    } else throw new Error(`unknown argument '${a}'\n${USAGE}`);
  }
  for (const s of opts.suites) {
    if (!SUITES.some((x) => x.name === s)) throw new Error(`unknown suite '${s}'\n${USAGE}`);
  }
  return opts;
}

async function main() {
  const opts = parse(process.argv.slice(2));
  const t0 = performance.now();
  let failed = 0;
  if (opts.jobs > 1 && opts.suites.length > 1) {
    failed = await runParallel(opts.suites, opts.profile, opts.out, opts.jobs);
    progress(
      `all done in ${((performance.now() - t0) / 1000).toFixed(1)} s (${opts.jobs} suites at a time); report: ${opts.out}/REPORT.md`,
    );
    if (failed) process.exit(1);
    return;
  }
  for (const name of opts.suites) {
    const suite = SUITES.find((s) => s.name === name)!;
    progress(`suite ${name} (${opts.profile}) starting`);
    const ts = performance.now();
    const cpu0 = process.cpuUsage();
    try {
      const result = await suite.run(opts.profile, { resultsDir: opts.out });
      const cpu = process.cpuUsage(cpu0);
      result.timing = {
        wallSeconds: (performance.now() - ts) / 1000,
        cpuSeconds: (cpu.user + cpu.system) / 1e6,
        beside: Number(process.env.DGM_BENCH_BESIDE ?? 0) || 0,
      };
      await writeSuite(opts.out, result);
      progress(
        `suite ${name} done in ${result.timing.wallSeconds.toFixed(1)} s (${result.timing.cpuSeconds.toFixed(1)} s CPU)`,
      );
    } catch (e) {
      failed++;
      progress(`suite ${name} FAILED: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
    }
  }
  progress(
    `all done in ${((performance.now() - t0) / 1000).toFixed(1)} s; report: ${opts.out}/REPORT.md`,
  );
  if (failed) process.exit(1);
}

main().catch((e) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(2);
});
