#!/usr/bin/env node
// Times the addon's elementwise functions (`unary`) on 128x784 and 512x784 float32 arrays:
// median microseconds per call and nanoseconds per element. Run after building the addon:
//   node packages/kernels-native/scripts/bench-math.mjs
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const path = fileURLToPath(new URL('../native/build/Release/dgm_kernels.node', import.meta.url));
const k = createRequire(import.meta.url)(process.env.DGM_NATIVE_ADDON || path);
if (typeof k.unary !== 'function') {
  console.error('bench-math: the addon has no unary(); rebuild it (node scripts/build-native.mjs)');
  process.exit(1);
}

function median(a) {
  const s = [...a].sort((x, y) => x - y);
  return s[Math.floor(s.length / 2)];
}

const rows = [['op', 'shape', 'us / call', 'ns / element']];
for (const [r, c] of [
  [128, 784],
  [512, 784],
]) {
  const n = r * c;
  const x = new Float32Array(n);
  let s = 12345;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    x[i] = (s / 2 ** 32) * 40 - 20;
  }
  const pos = x.map(Math.abs);
  const y = new Float32Array(n);
  for (const [code, op] of k.unaryOps().entries()) {
    const src = op === 'log' || op === 'sqrt' || op === 'rsqrt' ? pos : x;
    for (let i = 0; i < 50; i++) k.unary(code, src, y);
    const ts = [];
    for (let i = 0; i < 300; i++) {
      const t0 = process.hrtime.bigint();
      k.unary(code, src, y);
      ts.push(Number(process.hrtime.bigint() - t0) / 1000);
    }
    const us = median(ts);
    rows.push([op, `${r}x${c}`, us.toFixed(1), ((us * 1000) / n).toFixed(2)]);
  }
}
const w = rows[0].map((_, j) => Math.max(...rows.map((row) => row[j].length)));
for (const row of rows) console.log(row.map((v, j) => v.padEnd(w[j])).join('  '));
