import { execFileSync } from 'node:child_process';
import { type Dirent, readdirSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The CLI tests run `dist/bin.js` as a subprocess, so the test run builds `dist/` first whenever
 * it is missing or older than any file of `src/` or of the bundled sibling packages' `src/`
 * (tsup bundles them from source): `pnpm test` then passes on a fresh clone with nothing built.
 */
const here = fileURLToPath(new URL('.', import.meta.url));
const require = createRequire(import.meta.url);
const BUNDLED = [
  'core-tensors',
  'datasets',
  'estimators',
  'eval',
  'flows',
  'gan',
  'vae',
  'autoregressive',
];

function newest(dir: string): number {
  let t = 0;
  let entries: Dirent[];
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return 0;
  }
  for (const e of entries) {
    const p = join(dir, e.name);
    if (e.isDirectory()) t = Math.max(t, newest(p));
    else if (!e.name.includes('.test.')) t = Math.max(t, statSync(p).mtimeMs);
  }
  return t;
}

function mtime(p: string): number {
  try {
    return statSync(p).mtimeMs;
  } catch {
    return 0;
  }
}

export default function setup(): void {
  const built = Math.min(mtime(join(here, 'dist/bin.js')), mtime(join(here, 'dist/index.js')));
  const sources = Math.max(
    newest(join(here, 'src')),
    mtime(join(here, 'tsup.config.ts')),
    ...BUNDLED.map((p) => newest(join(here, '..', p, 'src'))),
  );
  if (built > sources) return;
  process.stderr.write('[cli tests] building dist/ (tsup) for the subprocess tests\n');
  const tsup = join(dirname(require.resolve('tsup/package.json')), 'dist/cli-default.js');
  execFileSync(process.execPath, [tsup], {
    cwd: here,
    stdio: ['ignore', 'ignore', 'inherit'],
    env: { ...process.env, DGM_CLI_NO_DTS: '1' },
  });
}
