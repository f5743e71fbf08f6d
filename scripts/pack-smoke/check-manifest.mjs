// Checks one unpacked tarball (the `package/` directory of `pnpm pack`): the manifest a user
// gets from npm. Prints every problem and exits 1 when there is any.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

const dir = process.argv[2];
const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
const problems = [];
const REPO = 'git+https://github.com/dgm-js/dgm-js.git';

function conditions(node, path, out) {
  if (node && typeof node === 'object') {
    for (const [k, v] of Object.entries(node)) {
      out.push([`${path}[${JSON.stringify(k)}]`, k, v]);
      conditions(v, `${path}[${JSON.stringify(k)}]`, out);
    }
  }
  return out;
}

const entries = [
  ...conditions(pkg.exports, 'exports', []),
  ...conditions(pkg.imports, 'imports', []),
];
for (const [path, key] of entries) {
  if (key === 'source')
    problems.push(`${path}: the workspace-only 'source' condition is published`);
}
for (const [path, key, value] of entries) {
  if (typeof value !== 'string') continue;
  if (value.includes('*')) {
    const base = join(dir, value.slice(0, value.indexOf('*')));
    if (!existsSync(base) || readdirSync(base).length === 0)
      problems.push(`${path}: ${value} matches no file`);
  } else if (!existsSync(join(dir, value))) {
    problems.push(`${path}: ${value} is not in the tarball`);
  }
  if (
    key === 'default' &&
    !value.endsWith('.js') &&
    !value.includes('*') &&
    !value.endsWith('.json')
  ) {
    problems.push(`${path}: default target ${value} is not a .js file`);
  }
}
for (const [path, node] of Object.entries(pkg.exports ?? {})) {
  if (typeof node === 'object' && !('default' in node))
    problems.push(`exports['${path}'] has no 'default' condition (require() needs it)`);
}
for (const field of ['dependencies', 'optionalDependencies', 'peerDependencies']) {
  for (const [name, range] of Object.entries(pkg[field] ?? {})) {
    if (String(range).startsWith('workspace:'))
      problems.push(`${field}.${name}: ${range} was not replaced`);
    if (name.startsWith('@dgm-js/') && !String(range).startsWith('^')) {
      problems.push(`${field}.${name}: ${range} pins a sibling exactly (want a ^ range)`);
    }
  }
}
if (!/^0\.\d+\.\d+$/.test(pkg.version) || pkg.version === '0.0.0')
  problems.push(`version ${pkg.version} is not a released 0.x`);
if (pkg.license !== 'MIT') problems.push(`license is ${pkg.license}, want MIT`);
if (pkg.type !== 'module') problems.push('type is not module');
if (pkg.repository?.url !== REPO || !pkg.repository?.directory)
  problems.push('repository url/directory missing or wrong');
if (!pkg.homepage?.startsWith('https://github.com/dgm-js/dgm-js'))
  problems.push('homepage missing');
if (!pkg.bugs?.url?.startsWith('https://github.com/dgm-js/dgm-js/issues'))
  problems.push('bugs missing');
if (!existsSync(join(dir, 'LICENSE'))) problems.push('LICENSE is not in the tarball');
else if (!readFileSync(join(dir, 'LICENSE'), 'utf8').startsWith('MIT License'))
  problems.push('LICENSE is not MIT');
if (!existsSync(join(dir, 'README.md'))) problems.push('README.md is not in the tarball');
else if (readFileSync(join(dir, 'README.md'), 'utf8').includes('](../'))
  problems.push('README.md has a relative ../ link (broken on npm)');
if (existsSync(join(dir, 'src')) && statSync(join(dir, 'src')).isDirectory())
  problems.push('src/ is published');
for (const f of ['main', 'types'])
  if (pkg[f] && !existsSync(join(dir, pkg[f]))) problems.push(`${f}: ${pkg[f]} missing`);

if (problems.length) {
  console.log(`${pkg.name}@${pkg.version}:\n  ${problems.join('\n  ')}`);
  process.exit(1);
}
console.log(
  `${pkg.name}@${pkg.version}: manifest ok (${entries.length} export conditions checked)`,
);
