/**
 * Runs suites as child processes, `jobs` at a time (one per core): the suites that measure raw
 * kernel speed (`ALONE`) first and by themselves, then the rest from a queue ordered by their
 * measured cost, longest first (so the two lanes finish together). Each child is this CLI with
 * `--jobs 1 --suite <name>`; its output is prefixed with the suite's name. A suite that fails
 * does not stop the others; the report is regenerated from every results file at the end.
 *
 * Speed rows of suites that run beside another one are measured with the other core busy, for
 * dgm.js and for its PyTorch peer alike (both run inside the same child); `--jobs 1` measures
 * every suite alone.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { writeReport } from './report.js';
import type { Profile } from './suites/types.js';
import { progress } from './timing.js';

/** Suites that must have the machine to themselves (GEMM / conv kernel speed). */
export const ALONE: readonly string[] = ['kernels'];

/**
 * CPU seconds of each suite's quick profile, last measured on the 2-core reference machine
 * (REPORT.md prints every suite's cost); only the order of the queue depends on them.
 */
const QUICK_CPU_SECONDS: Record<string, number> = {
  gan: 265,
  vae: 170,
  hybrids: 130,
  'hybrids-adversarial': 117,
  'hybrids-multimodal': 96,
  eval: 77,
  flows: 73,
  reliability: 60,
  autoregressive: 57,
  'hybrids-latent': 54,
  estimators: 25,
};

function runChild(name: string, profile: Profile, out: string, beside: number): Promise<number> {
  const cli = fileURLToPath(new URL('./cli.ts', import.meta.url));
  const args = [...process.execArgv, cli, '--jobs', '1', '--suite', name];
  args.push('--profile', profile, '--out', out);
  return new Promise((resolve) => {
    const env = { ...process.env, DGM_BENCH_BESIDE: String(beside) };
    const child = spawn(process.execPath, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    const prefix = (stream: NodeJS.ReadableStream, to: NodeJS.WritableStream) => {
      let buf = '';
      stream.setEncoding('utf8');
      stream.on('data', (chunk: string) => {
        buf += chunk;
        const lines = buf.split('\n');
        buf = lines.pop() ?? '';
        for (const l of lines) to.write(`[${name}] ${l}\n`);
      });
      stream.on('end', () => {
        if (buf) to.write(`[${name}] ${buf}\n`);
      });
    };
    prefix(child.stdout, process.stdout);
    prefix(child.stderr, process.stderr);
    child.on('error', (e) => {
      progress(`suite ${name} could not start: ${e.message}`);
      resolve(1);
    });
    child.on('close', (code, signal) => resolve(code ?? (signal ? 1 : 0)));
  });
}

/** Runs `suites` (in the given set) `jobs` at a time; returns how many failed. */
export async function runParallel(
  suites: readonly string[],
  profile: Profile,
  out: string,
  jobs: number,
): Promise<number> {
  let failed = 0;
  const alone = suites.filter((s) => ALONE.includes(s));
  const queue = suites
    .filter((s) => !ALONE.includes(s))
    .sort((a, b) => (QUICK_CPU_SECONDS[b] ?? 60) - (QUICK_CPU_SECONDS[a] ?? 60));
  for (const s of alone) {
    progress(`suite ${s} (${profile}) alone on the machine`);
    if ((await runChild(s, profile, out, 0)) !== 0) failed++;
  }
  progress(`${queue.length} suites, ${jobs} at a time (longest first): ${queue.join(', ')}`);
  const lane = async () => {
    for (let s = queue.shift(); s !== undefined; s = queue.shift()) {
      if ((await runChild(s, profile, out, jobs - 1)) !== 0) failed++;
    }
  };
  await Promise.all(Array.from({ length: jobs }, lane));
  await writeReport(out);
  return failed;
}
