#!/usr/bin/env node
// Times the addon's convolutions (forward, filter gradient, input gradient) on the bench's
// conv-step geometries and a few others, through each path (the automatic choice, the direct
// kernels, im2col + OpenBLAS): the fastest and the median of the timed calls in CPU time of this
// process (ms; single-threaded work, so other processes' load hardly changes it) and GFLOP/s of
// the fastest. After building the addon:
//   node packages/kernels-native/scripts/bench-conv.mjs [--iters 9] [--all] [--only n,s,ci,co,k]
// DGM_NATIVE_ISA=avx512|avx2|generic forces the ISA (avx2 also pins OpenBLAS to Haswell, as the
// loader does; OPENBLAS_CORETYPE=Prescott or Sandybridge with generic emulates older machines);
// DGM_NATIVE_ADDON loads another build. `--all` adds more geometries (4x4 to 56x56, 1 to 256
// channels, 3x3 and 5x5); `--only n,size,ci,co,k` keeps one.
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const argv = process.argv.slice(2);
const iters = Number(argv[argv.indexOf('--iters') + 1] || 0) || 9;
const all = argv.includes('--all');
const path = fileURLToPath(new URL('../native/build/Release/dgm_kernels.node', import.meta.url));
const isa = process.env.DGM_NATIVE_ISA;
// As the loader does: an AVX2 run also uses OpenBLAS's AVX2 kernels unless the shell pins one.
if (isa === 'avx2' && !process.env.OPENBLAS_CORETYPE) process.env.OPENBLAS_CORETYPE = 'Haswell';
const k = createRequire(import.meta.url)(process.env.DGM_NATIVE_ADDON || path);
k.setNumThreads(1);

/** Selects a path: 'auto' | 'direct' | 'im2col' (older addons: setConvDirect). */
function setPath(p) {
  if (typeof k.setConvPath === 'function') return k.setConvPath(p);
  if (p === 'auto') return k.setConvDirect(true);
  if (p === 'direct') return k.setConvDirect(true);
  return k.setConvDirect(false);
}

function rand(n, seed) {
  const v = new Float32Array(n);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    v[i] = s / 2 ** 31 - 1;
  }
  return v;
}

function median(a) {
  const s = [...a].sort((x, y) => x - y);
  return s[Math.floor(s.length / 2)];
}

// [batch, size, ci, co, kernel] with 'same' padding, stride 1.
const GEOMS = [
  [64, 28, 1, 32, 3],
  [64, 28, 32, 32, 3],
];
if (all)
  GEOMS.push(
    [64, 28, 16, 16, 3],
    [64, 28, 32, 64, 3],
    [64, 14, 64, 64, 3],
    [64, 28, 64, 32, 3],
    [64, 28, 32, 32, 5],
    [64, 28, 3, 32, 5],
    [64, 7, 128, 128, 3],
    [64, 4, 256, 256, 3],
    [16, 56, 64, 64, 3],
    [64, 28, 128, 16, 3],
    [64, 28, 8, 8, 3],
    [64, 7, 32, 32, 3],
    [64, 7, 64, 64, 3],
    [64, 4, 64, 64, 3],
    [16, 28, 128, 128, 3],
    [16, 14, 128, 128, 3],
  );
const only = argv.includes('--only') ? argv[argv.indexOf('--only') + 1] : null;
if (only) GEOMS.splice(0, GEOMS.length, ...GEOMS.filter((g) => g.join(',') === only));

const info = k.info();
console.log(
  `addon: isa ${info.isa ?? '(no isa field: pre-fix addon)'}, OpenBLAS ${info.corename}, ${iters} iterations`,
);
const rows = [['geometry', 'kind', 'path', 'min cpu ms', 'median', 'GFLOP/s']];
for (const [n, s, ci, co, kk] of GEOMS) {
  const p = (kk - 1) >> 1;
  const g = new Int32Array([n, s, s, ci, s, s, co, kk, kk, 1, 1, 1, 1, p, p]);
  const x = rand(n * s * s * ci, 1);
  const w = rand(kk * kk * ci * co, 2);
  const dy = rand(n * s * s * co, 3);
  const y = new Float32Array(dy.length);
  const dw = new Float32Array(w.length);
  const dx = new Float32Array(x.length);
  const flops = 2 * n * s * s * kk * kk * ci * co;
  const kinds = [
    ['fwd', () => k.conv2d(x, w, y, g)],
    ['bwd-filter', () => k.conv2dBackpropFilter(x, dy, dw, g)],
    ['bwd-input', () => k.conv2dBackpropInput(dy, w, dx, g)],
  ];
  for (const [kind, fn] of kinds) {
    for (const pth of ['auto', 'direct', 'im2col']) {
      const prev = setPath(pth);
      try {
        fn();
        const ts = [];
        for (let i = 0; i < iters; i++) {
          const t0 = process.cpuUsage();
          fn();
          const d = process.cpuUsage(t0);
          ts.push((d.user + d.system) / 1000);
        }
        const ms = Math.min(...ts);
        rows.push([
          `${n}x${s}x${s}x${ci}->${co} ${kk}x${kk}`,
          kind,
          pth,
          ms.toFixed(2),
          median(ts).toFixed(2),
          (flops / (ms * 1e6)).toFixed(1),
        ]);
      } finally {
        setPath(typeof prev === 'string' ? prev : prev ? 'auto' : 'im2col');
      }
    }
  }
}
const wd = rows[0].map((_, j) => Math.max(...rows.map((row) => row[j].length)));
for (const row of rows) console.log(row.map((v, j) => v.padEnd(wd[j])).join('  '));
