/**
 * @dgm-js/kernels-native: optional native kernels for dgm.js. A small N-API addon over OpenBLAS:
 * single-precision GEMM and NHWC convolutions (direct kernels or im2col / col2im + GEMM) that
 * read and write Float32Arrays in place (zero copy). The addon's own loops are compiled for
 * AVX-512, AVX2 + FMA and baseline SIMD, and run at the best level the CPU supports
 * (`DGM_NATIVE_ISA` or `setIsa` choose another; `info().isa` says which). Node only; the addon is built on demand with
 * `pnpm --filter @dgm-js/kernels-native build:native` (or `npx dgm-kernels-native-build`) and
 * needs OpenBLAS (Debian: `libopenblas-dev`). Nothing here imports TensorFlow.js;
 * `@dgm-js/core-tensors` registers these kernels over the wasm backend when they load.
 *
 * @example
 * ```ts
 * import { loadNative, nativeStatus } from '@dgm-js/kernels-native';
 * const k = loadNative();
 * if (!k) console.log(nativeStatus().reason);
 * else {
 *   const a = new Float32Array([1, 2, 3, 4]); // 2x2, row-major
 *   const c = new Float32Array(4);
 *   k.sgemm(false, false, 2, 2, 2, 1, a, 2, a, 2, 0, c, 2); // c = a a
 * }
 * ```
 */

import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import type { NativeMathKernels } from './math-types.js';
import type { NativeOpsKernels } from './ops-types.js';

/**
 * Activation codes of {@link NativeKernels.biasActivation}.
 *
 * @example
 * ```ts
 * const k = loadNative();
 * const c = new Float32Array([-1, 2, -3, 4]); // 2 x 2
 * k?.biasActivation(c, 2, 2, new Float32Array([1, 1]), Activation.relu, 0); // c = [0, 3, 0, 5]
 * ```
 */
export const Activation = {
  linear: 0,
  relu: 1,
  relu6: 2,
  elu: 3,
  sigmoid: 4,
  leakyrelu: 5,
} as const;

/** An activation name {@link NativeKernels.biasActivation} applies natively. */
export type ActivationName = keyof typeof Activation;

/**
 * Instruction-set levels of the addon's own kernels: `avx512` (AVX-512 F/VL/BW/DQ), `avx2`
 * (AVX2 + FMA), `generic` (the portable copy: SSE2 on x86-64, NEON on arm64).
 */
export type NativeIsa = 'avx512' | 'avx2' | 'generic';

/**
 * How stride-1 convolutions choose between the direct kernels and im2col + GEMM: `auto` (the
 * per-level table measured for each geometry; the default), `direct` (whenever the direct
 * kernels cover the geometry), `im2col` (never direct).
 */
export type ConvPathMode = 'auto' | 'direct' | 'im2col';

/** The convolution functions, as {@link NativeKernels.convPath} names them. */
export type ConvKindName = 'conv2d' | 'conv2dBackpropFilter' | 'conv2dBackpropInput';

/** What the addon reports about itself and its BLAS. */
export interface NativeInfo {
  /** OpenBLAS kernel family in use (e.g. `Haswell`, `SkylakeX`); follows `OPENBLAS_CORETYPE`. */
  readonly corename: string;
  /** OpenBLAS build configuration string. */
  readonly config: string;
  /** BLAS threads used by each GEMM. */
  readonly threads: number;
  /** Version of the addon's calling convention. */
  readonly abi: string;
  /** The instruction-set level its kernels run at now (see {@link NativeKernels.setIsa}). */
  readonly isa: NativeIsa;
  /** The levels this CPU and build support, best first. */
  readonly isas: NativeIsa[];
  /** Why `DGM_NATIVE_ISA` was not followed (unknown or unsupported level), else null. */
  readonly isaNote: string | null;
  /** The convolution path mode (see {@link NativeKernels.setConvPath}). */
  readonly convPath: ConvPathMode;
}

/**
 * The native functions. Matrices are row-major Float32Arrays (any view, e.g. on a wasm heap);
 * every extent is checked against the array lengths first (a mismatch throws a `RangeError`).
 */
export interface NativeKernels extends NativeMathKernels, NativeOpsKernels {
  /**
   * `C = alpha op(A) op(B) + beta C` (row-major; `op` transposes when `transA`/`transB`).
   * `op(A)` is m x k, `op(B)` is k x n, `C` is m x n; `lda`, `ldb`, `ldc` are row strides.
   * The optional tail runs `batch` products: matrix i uses `A + (i % batchA) * strideA`,
   * `B + (i % batchB) * strideB` and `C + i * strideC` (batchA/batchB = 1 broadcasts).
   */
  sgemm(
    transA: boolean,
    transB: boolean,
    m: number,
    n: number,
    k: number,
    alpha: number,
    a: Float32Array,
    lda: number,
    b: Float32Array,
    ldb: number,
    beta: number,
    c: Float32Array,
    ldc: number,
    ...batch: [] | [number, number, number, number, number, number]
  ): void;
  /**
   * In place on the rows x cols matrix `c`: adds `bias` (length `cols`, one per column, or
   * `rows * cols`, elementwise; `null` for none), then applies `activation` (see
   * {@link Activation}; `alpha` is the leaky-relu slope).
   */
  biasActivation(
    c: Float32Array,
    rows: number,
    cols: number,
    bias: Float32Array | null,
    activation: number,
    alpha: number,
  ): void;
  /** NHWC forward convolution: `y = conv(x, filter)`, filter HWIO. See {@link convGeometry}. */
  conv2d(x: Float32Array, filter: Float32Array, y: Float32Array, geometry: Int32Array): void;
  /** Gradient of `sum(dy * conv(x, filter))` with respect to the filter (overwrites `dFilter`). */
  conv2dBackpropFilter(
    x: Float32Array,
    dy: Float32Array,
    dFilter: Float32Array,
    geometry: Int32Array,
  ): void;
  /** Gradient of `sum(dy * conv(x, filter))` with respect to x (overwrites `dx`). */
  conv2dBackpropInput(
    dy: Float32Array,
    filter: Float32Array,
    dx: Float32Array,
    geometry: Int32Array,
  ): void;
  /** BLAS threads per GEMM (process-wide; default 1). */
  setNumThreads(n: number): void;
  /** BLAS threads per GEMM. */
  getNumThreads(): number;
  /** Tuning: floats per im2col chunk (default 131072 = 512 KB); returns the previous value. */
  setChunkFloats(n: number): number;
  /**
   * How stride-1 convolutions choose their path (process-wide; default `auto`); returns the
   * previous mode. The direct kernels cover stride 1, dilation 1 and output channels (input
   * channels for the input gradient) in multiples of the level's vector (16 floats on avx512, 8
   * on avx2, 4 on generic); `auto` takes them where they measured faster than im2col + GEMM on
   * that level. For comparisons and tests.
   */
  setConvPath(mode: ConvPathMode): ConvPathMode;
  /**
   * @deprecated Use {@link NativeKernels.setConvPath}: `true` is `'auto'`, `false` is
   * `'im2col'`. Returns whether the previous mode allowed the direct kernels.
   */
  setConvDirect(on: boolean): boolean;
  /**
   * The path the named convolution takes now for a geometry ({@link convGeometry}):
   * `pointwise` (1x1, stride 1, no padding: one GEMM), `direct` or `im2col`.
   */
  convPath(kind: ConvKindName, geometry: Int32Array): 'pointwise' | 'direct' | 'im2col';
  /**
   * Runs every kernel of the addon at `isa` from now on (process-wide); returns the previous
   * level. Throws a `RangeError` when the CPU or build does not support it (`info().isas`).
   * OpenBLAS keeps the kernel it chose at load (`DGM_NATIVE_ISA=avx2` pins its AVX2 one).
   */
  setIsa(isa: NativeIsa): NativeIsa;
  /** The addon and its BLAS. */
  info(): NativeInfo;
}

/** A convolution's shape, as {@link convGeometry} takes it. */
export interface ConvGeometry {
  batch: number;
  inHeight: number;
  inWidth: number;
  inChannels: number;
  outHeight: number;
  outWidth: number;
  outChannels: number;
  filterHeight: number;
  filterWidth: number;
  strideHeight: number;
  strideWidth: number;
  dilationHeight: number;
  dilationWidth: number;
  /** Rows of zero padding above the input (explicit; bottom padding follows from the sizes). */
  padTop: number;
  /** Columns of zero padding left of the input. */
  padLeft: number;
}

/**
 * Packs a convolution's shape into the Int32Array the conv functions take (the field names are
 * those of tfjs's `backend_util.computeConv2DInfo`, with `padInfo.top/left` as `padTop/padLeft`).
 * Pass `out` to reuse an array.
 *
 * @example
 * ```ts
 * // 3x3 'same' convolution of a 1x4x4x1 image into 2 channels
 * const g = convGeometry({
 *   batch: 1, inHeight: 4, inWidth: 4, inChannels: 1, outHeight: 4, outWidth: 4, outChannels: 2,
 *   filterHeight: 3, filterWidth: 3, strideHeight: 1, strideWidth: 1,
 *   dilationHeight: 1, dilationWidth: 1, padTop: 1, padLeft: 1,
 * });
 * const y = new Float32Array(32);
 * loadNative()?.conv2d(new Float32Array(16).fill(1), new Float32Array(18).fill(1), y, g);
 * ```
 */
export function convGeometry(g: ConvGeometry, out: Int32Array = new Int32Array(15)): Int32Array {
  out[0] = g.batch;
  out[1] = g.inHeight;
  out[2] = g.inWidth;
  out[3] = g.inChannels;
  out[4] = g.outHeight;
  out[5] = g.outWidth;
  out[6] = g.outChannels;
  out[7] = g.filterHeight;
  out[8] = g.filterWidth;
  out[9] = g.strideHeight;
  out[10] = g.strideWidth;
  out[11] = g.dilationHeight;
  out[12] = g.dilationWidth;
  out[13] = g.padTop;
  out[14] = g.padLeft;
  return out;
}

/** Whether the addon loaded, where from, and why not. */
export interface NativeStatus {
  readonly loaded: boolean;
  /** One short reason when not loaded (e.g. `libopenblas not found`), else null. */
  readonly reason: string | null;
  /** The addon file tried (or loaded). */
  readonly path: string | null;
}

const ADDON_RELATIVE = '../native/build/Release/dgm_kernels.node';
const EXPECTED = [
  'sgemm',
  'biasActivation',
  'conv2d',
  'conv2dBackpropFilter',
  'conv2dBackpropInput',
  'setNumThreads',
  'getNumThreads',
  'setChunkFloats',
  'setConvPath',
  'convPath',
  'setIsa',
  'info',
] as const;

let cached: { kernels: NativeKernels | null; status: NativeStatus } | undefined;

function firstLine(e: unknown): string {
  return (e instanceof Error ? e.message : String(e)).split('\n')[0]!.trim();
}

function addonPath(): string {
  const env = typeof process !== 'undefined' ? process.env.DGM_NATIVE_ADDON : undefined;
  return env && env.length > 0 ? env : fileURLToPath(new URL(ADDON_RELATIVE, import.meta.url));
}

/** Whether /proc/cpuinfo lists every flag (Linux); false when it cannot be read. */
function cpuHas(...flags: string[]): boolean {
  try {
    const m = /^flags\s*:(.*)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'));
    const have = new Set(m?.[1]?.trim().split(/\s+/));
    return flags.every((f) => have.has(f));
  } catch {
    return false;
  }
}

/**
 * With `DGM_NATIVE_ISA=avx2` on an x86-64 CPU that has AVX2 + FMA, OpenBLAS is pinned to its
 * AVX2 kernels (`OPENBLAS_CORETYPE=Haswell`) unless `OPENBLAS_CORETYPE` already pins one: the
 * whole addon then runs as on an AVX2 machine. Must run before the addon (and so OpenBLAS) loads.
 */
function pairBlasWithIsa(): void {
  if (process.env.DGM_NATIVE_ISA !== 'avx2' || process.env.OPENBLAS_CORETYPE) return;
  if (process.arch === 'x64' && cpuHas('avx2', 'fma')) process.env.OPENBLAS_CORETYPE = 'Haswell';
}

function threadsFromEnv(): number {
  const v = Number(process.env.DGM_NATIVE_THREADS ?? '1');
  return Number.isInteger(v) && v >= 1 ? v : 1;
}

function tryLoad(): { kernels: NativeKernels | null; status: NativeStatus } {
  if (typeof process === 'undefined' || typeof process.versions?.node !== 'string') {
    return { kernels: null, status: { loaded: false, reason: 'not in Node', path: null } };
  }
  let path: string;
  try {
    path = addonPath();
  } catch (e) {
    return { kernels: null, status: { loaded: false, reason: firstLine(e), path: null } };
  }
  const fail = (reason: string) => ({
    kernels: null,
    status: { loaded: false, reason, path } as NativeStatus,
  });
  if (!existsSync(path)) {
    return fail('addon not built; run `npx dgm-kernels-native-build` (needs libopenblas-dev)');
  }
  pairBlasWithIsa();
  let mod: Partial<NativeKernels>;
  try {
    mod = createRequire(import.meta.url)(path) as Partial<NativeKernels>;
  } catch (e) {
    const msg = firstLine(e);
    if (/libopenblas|libblas|cblas/i.test(msg)) return fail(`libopenblas not found (${msg})`);
    return fail(`addon failed to load (${msg})`);
  }
  const missing = EXPECTED.filter((name) => typeof mod[name] !== 'function');
  if (missing.length) return fail(`addon is stale (missing ${missing.join(', ')}); rebuild it`);
  const kernels = mod as NativeKernels;
  try {
    kernels.setNumThreads(threadsFromEnv());
    kernels.info();
  } catch (e) {
    return fail(`addon self-check failed (${firstLine(e)})`);
  }
  return { kernels, status: { loaded: true, reason: null, path } };
}

/**
 * Loads the addon once per process (per worker) and returns its kernels, or null when it is not
 * built, OpenBLAS is missing, or not in Node; {@link nativeStatus} says why. Never throws.
 * The BLAS thread count starts at `DGM_NATIVE_THREADS` (default 1). `DGM_NATIVE_ADDON`
 * overrides the addon's path. `DGM_NATIVE_ISA=avx512|avx2|generic` runs the addon's kernels at
 * that instruction-set level instead of the best one (ignored, with `info().isaNote` saying
 * why, when unsupported); `avx2` and `generic` also pin OpenBLAS to `Haswell` / `Prescott`
 * unless `OPENBLAS_CORETYPE` is set, so an AVX-512 machine can run as an AVX2 one.
 *
 * @example
 * ```ts
 * const k = loadNative();
 * console.log(k ? k.info().corename : nativeStatus().reason);
 * ```
 */
export function loadNative(): NativeKernels | null {
  if (!cached) cached = tryLoad();
  return cached.kernels;
}

/**
 * Whether {@link loadNative} succeeded, and the reason when it did not (loads on first call).
 *
 * @example
 * ```ts
 * const s = nativeStatus();
 * if (!s.loaded) console.log(`native kernels off: ${s.reason}`);
 * ```
 */
export function nativeStatus(): NativeStatus {
  if (!cached) cached = tryLoad();
  return cached.status;
}

export type { NativeMathKernels } from './math-types.js';
export type { NativeOpsKernels } from './ops-types.js';
