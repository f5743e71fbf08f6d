// Bundles each installed package for the browser with esbuild (no externals) and reports the
// Node built-ins that stop it, by the file that imports them. Usage:
//   node browser-bundle.mjs <app dir> <esbuild command> <package>...
// Exits 1 when a package's bundle fails because of a file outside the allowed prefixes
// (DGM_BROWSER_ALLOW, comma-separated paths under node_modules; default: core-tensors, whose
// Trainer data parallelism (worker threads, files) still awaits its browser split).
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

const [app, esbuild, ...names] = process.argv.slice(2);
const allow = (process.env.DGM_BROWSER_ALLOW ?? 'node_modules/@dgm-js/core-tensors/')
  .split(',')
  .filter(Boolean);
// Node-only by design: the N-API addon, which core-tensors loads by a computed specifier that
// bundlers never follow; and the `dgm` command line (files, processes, a terminal).
const NODE_ONLY = new Set(['@dgm-js/kernels-native', '@dgm-js/cli']);
let bad = 0;
for (const name of names) {
  if (NODE_ONLY.has(name)) {
    console.log(`skip  ${name}: Node-only by design (never in a browser bundle)`);
    continue;
  }
  const entry = join(app, `browser-${name.replace(/[^a-z0-9]/gi, '_')}.mjs`);
  writeFileSync(entry, `import * as m from '${name}';\nconsole.log(Object.keys(m).length);\n`);
  const r = spawnSync(
    'bash',
    [
      '-c',
      `${esbuild} '${entry}' --bundle --platform=browser --format=esm --outfile=/dev/null --log-limit=0 --color=false`,
    ],
    { cwd: app, encoding: 'utf8' },
  );
  const lines = `${r.stdout}\n${r.stderr}`.split('\n');
  const found = new Map();
  for (let i = 0; i < lines.length; i++) {
    const m = /Could not resolve "([^"]+)"/.exec(lines[i]);
    if (!m) continue;
    const file = lines
      .slice(i + 1, i + 4)
      .map((l) => /^\s+(\S+):\d+:\d+:/.exec(l)?.[1])
      .find(Boolean);
    const key = file ?? '?';
    found.set(key, [...(found.get(key) ?? []), m[1]]);
  }
  if (r.status === 0) {
    console.log(`ok    ${name}: bundles for the browser with no Node built-ins`);
    continue;
  }
  if (found.size === 0) {
    console.log(`FAIL  ${name}: esbuild failed:\n${lines.slice(-15).join('\n')}`);
    bad++;
    continue;
  }
  const own = [...found.keys()].filter((f) => !allow.some((a) => f.includes(a)));
  for (const [file, mods] of found) {
    const tag = own.includes(file) ? 'FAIL' : 'known';
    console.log(`${tag.padEnd(5)} ${name}: ${file} imports ${[...new Set(mods)].join(', ')}`);
  }
  if (own.length) bad++;
}
process.exit(bad ? 1 : 0);
