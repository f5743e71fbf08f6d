import { fileURLToPath } from 'node:url';
import { writeSuite } from './report.js';
import { SUITES } from './suites/index.js';
import type { Profile } from './suites/types.js';
import { progress } from './timing.js';

const USAGE = `usage: pnpm bench [--suite <name>[,<name>...]] [--profile quick|full] [--out <dir>]
suites: ${SUITES.map((s) => `${s.name} (${s.description})`).join('; ')}`;

function parse(argv: string[]) {
  const opts: { suites: string[]; profile: Profile; out: string } = {
    suites: SUITES.map((s) => s.name),
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
    else if (a === '--help' || a === '-h') {
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
