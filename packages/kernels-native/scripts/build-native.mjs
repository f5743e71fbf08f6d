#!/usr/bin/env node
// Builds the addon (native/build/Release/dgm_kernels.node) with node-gyp, offline: it points
// node-gyp at the running Node's own headers (<prefix>/include/node) when they are installed,
// so nothing is downloaded. Exits non-zero when the build fails (scripts/setup.sh tolerates it).
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const pkg = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(join(pkg, 'package.json'));

function findNodeGyp() {
  // npm and pnpm point their scripts at the node-gyp they ship.
  const fromEnv = process.env.npm_config_node_gyp;
  if (fromEnv && existsSync(fromEnv)) return fromEnv;
  try {
    return require.resolve('node-gyp/bin/node-gyp.js');
  } catch {}
  // npm ships its own node-gyp.
  const bundled = join(
    dirname(process.execPath),
    '..',
    'lib',
    'node_modules',
    'npm',
    'node_modules',
    'node-gyp',
    'bin',
    'node-gyp.js',
  );
  return existsSync(bundled) ? bundled : null;
}

function findNodedir() {
  const fromEnv = process.env.npm_config_nodedir;
  if (fromEnv && existsSync(join(fromEnv, 'include', 'node', 'node_api.h'))) return fromEnv;
  const prefix = resolve(dirname(process.execPath), '..');
  if (existsSync(join(prefix, 'include', 'node', 'node_api.h'))) return prefix;
  return null;
}

const gyp = findNodeGyp();
if (!gyp) {
  console.error('build:native: node-gyp not found (run `pnpm install`, or install npm).');
  process.exit(1);
}
const nodedir = findNodedir();
const args = [gyp, 'rebuild', `--directory=${join(pkg, 'native')}`];
if (nodedir) args.push(`--nodedir=${nodedir}`);
else console.warn('build:native: no local Node headers found; node-gyp will try to download them.');
const r = spawnSync(process.execPath, args, { stdio: 'inherit' });
process.exit(r.status ?? 1);
