/**
 * Native kernels over the wasm backend: when the optional package `@dgm-js/kernels-native` (an
 * N-API addon over OpenBLAS) loads, BatchMatMul, _FusedMatMul, Conv2D, Conv2DBackpropFilter and
 * Conv2DBackpropInput run natively (GEMMs; convolutions direct or via im2col, as the addon picks)
 * in place on the wasm heap. Cases they do not cover (other dtypes, NCHW, unusual batch
 * broadcasts) go to the kernel registered before them (dgm.js's TypeScript overrides, else the
 * stock wasm kernel). Checked against the cpu backend in `native.test.ts`.
 */
import { BackendError } from '../errors.js';
import { tf } from '../tf.js';
import { NATIVE_LOSS_NEEDS, nativeLossKernels } from './native-loss.js';
import { nativeMathKernels } from './native-math.js';
import { nativeOpsKernels } from './native-ops.js';
import type { NativeContext, WasmBackend } from './native-types.js';
import { size, stripOnes } from './shape.js';

export type { NativeContext, WasmBackend } from './native-types.js';

type TensorInfo = tf.TensorInfo;
type Attrs = Record<string, unknown>;

/** The part of `@dgm-js/kernels-native` used here (structural: no type dependency on it). */
interface Addon {
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
    strideA: number,
    batchA: number,
    strideB: number,
    batchB: number,
    strideC: number,
    batch: number,
  ): void;
  biasActivation(
    c: Float32Array,
    rows: number,
    cols: number,
    bias: Float32Array | null,
    activation: number,
    alpha: number,
  ): void;
  conv2d(a: Float32Array, b: Float32Array, out: Float32Array, geometry: Int32Array): void;
  conv2dBackpropFilter(a: Float32Array, b: Float32Array, out: Float32Array, g: Int32Array): void;
  conv2dBackpropInput(a: Float32Array, b: Float32Array, out: Float32Array, g: Int32Array): void;
  setNumThreads(n: number): void;
  info(): { corename: string; threads: number; isa?: string }; // isa: absent on older addons
}

interface AddonModule {
  loadNative(): Addon | null;
  nativeStatus(): { loaded: boolean; reason: string | null };
}

/** What {@link loadNativeKernels} did. */
export interface NativeKernelsStatus {
  /** Whether native kernels are registered on the wasm backend now. */
  readonly loaded: boolean;
  /** One line: `native kernels: on (OpenBLAS Haswell, 1 thread, avx2: ...)` or `...: off (why)`. */
  readonly summary: string;
  /** The kernel names currently served natively. */
  readonly kernels: string[];
  /** When loaded: the addon's instruction set (`avx512`, `avx2`, `generic`; `DGM_NATIVE_ISA`). */
  readonly isa?: string;
}

const BACKEND = 'wasm';
/** The GEMM / convolution kernels of this file (more come from native-math.ts and native-ops.ts). */
const CORE_NAMES = [
  'BatchMatMul',
  '_FusedMatMul',
  'Conv2D',
  'Conv2DBackpropFilter',
  'Conv2DBackpropInput',
  'FusedConv2D',
] as const;
type Name = string;

let addon: Addon | null = null;
/** Whether register() ran after the last unloadNativeKernels(). */
let active = false;
let offReason = 'not loaded';
const previous = new Map<string, tf.KernelFunc>();
const geometry = new Int32Array(15);

function isNode(): boolean {
  return typeof process !== 'undefined' && typeof process.versions?.node === 'string';
}

function firstLine(e: unknown): string {
  return (e instanceof Error ? e.message : String(e)).split('\n')[0]!.trim();
}

/** Whether `dims` broadcast to `outDims` is `i % size(dims)` indexing (it is a suffix of out). */
function isSuffix(dims: readonly number[], outDims: readonly number[]): boolean {
  const s = stripOnes(dims);
  if (s.length > outDims.length) return false;
  const off = outDims.length - s.length;
  return s.every((d, i) => d === outDims[off + i]);
}

function fallback(name: Name, args: Parameters<tf.KernelFunc>[0]): TensorInfo | TensorInfo[] {
  const prev = previous.get(name);
  if (!prev) {
    throw new BackendError(
      `native ${name}: this case is not handled natively and no other wasm '${name}' kernel is registered.`,
    );
  }
  return prev(args);
}

function heap(be: WasmBackend, t: TensorInfo): Float32Array {
  return be.typedArrayFromHeap(t) as Float32Array;
}

function usable(backend: unknown): backend is WasmBackend {
  const b = backend as Partial<WasmBackend>;
  return typeof b.typedArrayFromHeap === 'function' && typeof b.makeOutput === 'function';
}

function stockCall(name: string, be: WasmBackend, inputs: tf.NamedTensorInfoMap, attrs: Attrs) {
  const k = tf.getKernel(name, BACKEND);
  if (!k) throw new BackendError(`native kernels: the wasm backend has no '${name}' kernel.`);
  return k.kernelFunc({ inputs, backend: be, attrs: attrs as tf.NamedAttrMap }) as TensorInfo;
}

const ACTIVATIONS: Record<string, number> = {
  linear: 0,
  relu: 1,
  relu6: 2,
  elu: 3,
  sigmoid: 4,
  leakyrelu: 5,
  prelu: 0, // applied by the stock Prelu kernel after bias
};

/** BatchMatMul / _FusedMatMul as one (batched) OpenBLAS sgemm, then bias + activation. */
function matMul(name: 'BatchMatMul' | '_FusedMatMul'): tf.KernelFunc {
  return (args) => {
    const { inputs, backend, attrs = {} } = args;
    const a = inputs.a as TensorInfo;
    const b = inputs.b as TensorInfo;
    const k = addon;
    if (!k || !usable(backend) || a.dtype !== 'float32' || b.dtype !== 'float32')
      return fallback(name, args);
    const { transposeA, transposeB } = attrs as { transposeA: boolean; transposeB: boolean };
    const ra = a.shape.length;
    const rb = b.shape.length;
    if (ra < 2 || rb < 2) return fallback(name, args);
    const m = transposeA ? a.shape[ra - 1]! : a.shape[ra - 2]!;
    const inner = transposeA ? a.shape[ra - 2]! : a.shape[ra - 1]!;
    const innerB = transposeB ? b.shape[rb - 1]! : b.shape[rb - 2]!;
    const n = transposeB ? b.shape[rb - 2]! : b.shape[rb - 1]!;
    if (inner !== innerB) return fallback(name, args); // the stock kernel reports the mismatch
    const batchDimsA = a.shape.slice(0, -2);
    const batchDimsB = b.shape.slice(0, -2);
    let outBatch: number[];
    try {
      outBatch = tf.broadcast_util.assertAndGetBroadcastShape(batchDimsA, batchDimsB);
    } catch {
      return fallback(name, args);
    }
    if (!isSuffix(batchDimsA, outBatch) || !isSuffix(batchDimsB, outBatch))
      return fallback(name, args);
    const batch = size(outBatch);
    const outShape = [...outBatch, m, n];

    // Fused epilogue: decide before allocating, so a fallback leaves nothing behind.
    let act = 0;
    let alpha = 0;
    let bias: TensorInfo | undefined;
    let biasPeriod = 0; // elements after which a native bias repeats; 0 = general (stock Add)
    let prelu: TensorInfo | undefined;
    if (name === '_FusedMatMul') {
      const activation = (attrs.activation as string | undefined) ?? 'linear';
      const code = ACTIVATIONS[activation];
      if (code === undefined) return fallback(name, args);
      act = code;
      alpha = (attrs.leakyreluAlpha as number | undefined) ?? 0.2;
      bias = inputs.bias as TensorInfo | undefined;
      if (bias) {
        if (bias.dtype !== 'float32') return fallback(name, args);
        try {
          tf.broadcast_util.assertAndGetBroadcastShape(outShape, bias.shape);
        } catch {
          return fallback(name, args);
        }
        const s = stripOnes(bias.shape);
        if (s.length === 1 && s[0] === n) biasPeriod = n;
        else if (s.length >= 2 && isSuffix(s, outShape) && size(s) > 0) biasPeriod = size(s);
      }
      if (activation === 'prelu') {
        prelu = inputs.preluActivationWeights as TensorInfo | undefined;
        if (!prelu) throw new BackendError('_FusedMatMul: prelu activation without weights.');
      }
    }

    let out = backend.makeOutput(outShape, 'float32');
    const total = batch * m * n;
    if (total === 0) return out;
    const av = inner > 0 ? heap(backend, a) : new Float32Array(0);
    const bm = inner > 0 ? heap(backend, b) : new Float32Array(0);
    const cv = heap(backend, out);
    k.sgemm(
      transposeA,
      transposeB,
      m,
      n,
      inner,
      1,
      av,
      Math.max(transposeA ? m : inner, 1),
      bm,
      Math.max(transposeB ? inner : n, 1),
      0,
      cv,
      n,
      m * inner,
      Math.max(size(batchDimsA), 1),
      inner * n,
      Math.max(size(batchDimsB), 1),
      m * n,
      batch,
    );
    if (name !== '_FusedMatMul') return out;
    if (bias && biasPeriod === 0) {
      const added = stockCall('Add', backend, { a: out, b: bias }, {});
      backend.disposeData(out.dataId);
      out = added;
      bias = undefined;
    }
    if (bias || act !== 0) {
      const c = heap(backend, out);
      const bv = bias ? heap(backend, bias) : null;
      if (!bv || biasPeriod === n || biasPeriod === total) {
        k.biasActivation(c, total / n, n, bv, act, alpha);
      } else {
        // A bias over several trailing dims, repeated over the leading (batch) ones.
        for (let off = 0; off < total; off += biasPeriod) {
          k.biasActivation(c.subarray(off, off + biasPeriod), biasPeriod / n, n, bv, act, alpha);
        }
      }
    }
    if (prelu) {
      const y = stockCall('Prelu', backend, { x: out, alpha: prelu }, {});
      backend.disposeData(out.dataId);
      out = y;
    }
    return out;
  };
}

function setGeometry(info: tf.backend_util.Conv2DInfo): Int32Array {
  geometry[0] = info.batchSize;
  geometry[1] = info.inHeight;
  geometry[2] = info.inWidth;
  geometry[3] = info.inChannels;
  geometry[4] = info.outHeight;
  geometry[5] = info.outWidth;
  geometry[6] = info.outChannels;
  geometry[7] = info.filterHeight;
  geometry[8] = info.filterWidth;
  geometry[9] = info.strideHeight;
  geometry[10] = info.strideWidth;
  geometry[11] = info.dilationHeight;
  geometry[12] = info.dilationWidth;
  geometry[13] = info.padInfo.top;
  geometry[14] = info.padInfo.left;
  return geometry;
}

type Shape4 = [number, number, number, number];

/** computeConv2DInfo for NHWC, or null for what the native kernels leave to the fallback. */
function convInfo(
  attrs: Attrs,
  xShape: readonly number[],
  filterShape: readonly number[],
  dilations: number | [number, number],
): tf.backend_util.Conv2DInfo | null {
  if (attrs.dataFormat !== undefined && attrs.dataFormat !== 'NHWC') return null;
  if (xShape.length !== 4 || filterShape.length !== 4 || xShape[3] !== filterShape[2]) return null;
  try {
    const info = tf.backend_util.computeConv2DInfo(
      xShape as Shape4,
      filterShape as Shape4,
      attrs.strides as number | [number, number],
      dilations,
      attrs.pad as 'valid' | 'same' | number | tf.backend_util.ExplicitPadding,
      attrs.dimRoundingMode as 'floor' | 'round' | 'ceil' | undefined,
      false,
      'channelsLast',
    );
    if (info.padInfo.top < 0 || info.padInfo.left < 0) return null;
    return info;
  } catch {
    return null;
  }
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

const conv2d: tf.KernelFunc = (args) => {
  const { inputs, backend, attrs = {} } = args;
  const x = inputs.x as TensorInfo;
  const filter = inputs.filter as TensorInfo;
  const k = addon;
  if (!k || !usable(backend) || x.dtype !== 'float32' || filter.dtype !== 'float32')
    return fallback('Conv2D', args);
  const info = convInfo(
    attrs,
    x.shape,
    filter.shape,
    (attrs.dilations as number | [number, number] | undefined) ?? 1,
  );
  if (!info) return fallback('Conv2D', args);
  const out = backend.makeOutput([...info.outShape], 'float32');
  if (size(info.outShape) === 0) return out;
  k.conv2d(heap(backend, x), heap(backend, filter), heap(backend, out), setGeometry(info));
  return out;
};

/**
 * FusedConv2D (tf.fused.conv2d): the convolution, then bias (one per output channel) and the
 * activation in one pass over the output while it is hot. Other biases and prelu fall back.
 */
const fusedConv2d: tf.KernelFunc = (args) => {
  const { inputs, backend, attrs = {} } = args;
  const x = inputs.x as TensorInfo;
  const filter = inputs.filter as TensorInfo;
  const bias = inputs.bias as TensorInfo | undefined;
  const k = addon;
  if (!k || !usable(backend) || x.dtype !== 'float32' || filter.dtype !== 'float32')
    return fallback('FusedConv2D', args);
  const activation = (attrs.activation as string | undefined) ?? 'linear';
  const act = ACTIVATIONS[activation];
  if (act === undefined || activation === 'prelu') return fallback('FusedConv2D', args);
  const info = convInfo(
    attrs,
    x.shape,
    filter.shape,
    (attrs.dilations as number | [number, number] | undefined) ?? 1,
  );
  if (!info) return fallback('FusedConv2D', args);
  const channels = info.outChannels;
  if (bias && (bias.dtype !== 'float32' || size(bias.shape) !== channels)) {
    return fallback('FusedConv2D', args);
  }
  const out = backend.makeOutput([...info.outShape], 'float32');
  const total = size(info.outShape);
  if (total === 0) return out;
  k.conv2d(heap(backend, x), heap(backend, filter), heap(backend, out), setGeometry(info));
  if (bias || act !== 0) {
    const alpha = (attrs.leakyreluAlpha as number | undefined) ?? 0.2;
    k.biasActivation(
      heap(backend, out),
      total / channels,
      channels,
      bias ? heap(backend, bias) : null,
      act,
      alpha,
    );
  }
  return out;
};

const conv2dBackpropFilter: tf.KernelFunc = (args) => {
  const { inputs, backend, attrs = {} } = args;
  const x = inputs.x as TensorInfo;
  const dy = inputs.dy as TensorInfo;
  const filterShape = attrs.filterShape as number[];
  const k = addon;
  if (!k || !usable(backend) || x.dtype !== 'float32' || dy.dtype !== 'float32')
    return fallback('Conv2DBackpropFilter', args);
  const info = convInfo(attrs, x.shape, filterShape, 1);
  if (!info || !sameShape(dy.shape, info.outShape)) return fallback('Conv2DBackpropFilter', args);
  const out = backend.makeOutput([...filterShape], 'float32');
  if (size(filterShape) === 0) return out;
  k.conv2dBackpropFilter(
    heap(backend, x),
    heap(backend, dy),
    heap(backend, out),
    setGeometry(info),
  );
  return out;
};

const conv2dBackpropInput: tf.KernelFunc = (args) => {
  const { inputs, backend, attrs = {} } = args;
  const dy = inputs.dy as TensorInfo;
  const filter = inputs.filter as TensorInfo;
  const inputShape = attrs.inputShape as number[];
  const k = addon;
  if (!k || !usable(backend) || dy.dtype !== 'float32' || filter.dtype !== 'float32')
    return fallback('Conv2DBackpropInput', args);
  const info = convInfo(attrs, inputShape, filter.shape, 1);
  if (!info || !sameShape(dy.shape, info.outShape)) return fallback('Conv2DBackpropInput', args);
  const out = backend.makeOutput([...inputShape], 'float32');
  if (size(inputShape) === 0) return out;
  k.conv2dBackpropInput(
    heap(backend, dy),
    heap(backend, filter),
    heap(backend, out),
    setGeometry(info),
  );
  return out;
};

const context: NativeContext = {
  addon: () => addon as unknown as Record<string, unknown> | null,
  fallback,
  heap,
  usable,
  active: () => addon !== null && active,
};

const FUNCS: Record<Name, tf.KernelFunc> = {
  BatchMatMul: matMul('BatchMatMul'),
  _FusedMatMul: matMul('_FusedMatMul'),
  Conv2D: conv2d,
  Conv2DBackpropFilter: conv2dBackpropFilter,
  Conv2DBackpropInput: conv2dBackpropInput,
  FusedConv2D: fusedConv2d,
  ...nativeMathKernels(context),
  ...nativeOpsKernels(context),
  ...nativeLossKernels(context),
};
const NAMES: readonly string[] = [
  ...CORE_NAMES,
  ...Object.keys(FUNCS).filter((n) => !(CORE_NAMES as readonly string[]).includes(n)),
];

function register(): void {
  active = true;
  for (const name of NAMES) {
    const need = NATIVE_LOSS_NEEDS[name];
    if (need && typeof (addon as unknown as Record<string, unknown>)[need] !== 'function') continue;
    const existing = tf.getKernel(name, BACKEND);
    if (existing?.kernelFunc === FUNCS[name]) continue;
    const config: tf.KernelConfig = {
      kernelName: name,
      backendName: BACKEND,
      kernelFunc: FUNCS[name]!,
    };
    if (existing) {
      previous.set(name, existing.kernelFunc);
      // The stock kernel binds its wasm function in setupFunc; keep that hook (as index.ts does).
      if (existing.setupFunc) config.setupFunc = existing.setupFunc;
      if (existing.disposeFunc) config.disposeFunc = existing.disposeFunc;
      tf.unregisterKernel(name, BACKEND);
    } else {
      previous.delete(name);
    }
    tf.registerKernel(config);
  }
}

/**
 * Puts back the kernels that were registered before {@link loadNativeKernels} (dgm.js's
 * TypeScript overrides on a normal setup), so both can be compared in one process;
 * `loadNativeKernels()` registers the native ones again. A no-op when they are not registered.
 *
 * @example
 * ```ts
 * import { loadNativeKernels, unloadNativeKernels } from '@dgm-js/core-tensors';
 * unloadNativeKernels(); // TypeScript kernels from here on
 * await loadNativeKernels(); // native again (when the addon is built)
 * ```
 */
export function unloadNativeKernels(): void {
  active = false;
  for (const name of NAMES) {
    const existing = tf.getKernel(name, BACKEND);
    if (!existing || existing.kernelFunc !== FUNCS[name]) continue;
    tf.unregisterKernel(name, BACKEND);
    const prev = previous.get(name);
    if (prev) {
      const config: tf.KernelConfig = { kernelName: name, backendName: BACKEND, kernelFunc: prev };
      if (existing.setupFunc) config.setupFunc = existing.setupFunc;
      if (existing.disposeFunc) config.disposeFunc = existing.disposeFunc;
      tf.registerKernel(config);
    }
  }
}

/**
 * Which native kernels are registered now, and a one-line summary (the reason when none are).
 *
 * @example
 * ```ts
 * import { nativeKernelsStatus } from '@dgm-js/core-tensors';
 * console.log(nativeKernelsStatus().summary); // e.g. native kernels: off (DGM_NATIVE=0)
 * ```
 */
export function nativeKernelsStatus(): NativeKernelsStatus {
  const kernels = NAMES.filter((n) => tf.getKernel(n, BACKEND)?.kernelFunc === FUNCS[n]);
  if (!addon || kernels.length === 0) {
    const why = addon ? 'unloaded' : offReason;
    return { loaded: false, summary: `native kernels: off (${why})`, kernels: [] };
  }
  const { corename, threads, isa = 'unknown' } = addon.info();
  return {
    loaded: true,
    summary: `native kernels: on (OpenBLAS ${corename}, ${threads} thread${threads === 1 ? '' : 's'}, ${isa}: ${kernels.join(', ')})`,
    kernels: [...kernels],
    isa,
  };
}

/**
 * Sets the OpenBLAS thread count of the native kernels (process-wide; default 1, or
 * `DGM_NATIVE_THREADS`). A no-op when they are not loaded.
 *
 * @example
 * ```ts
 * import { setNativeThreads } from '@dgm-js/core-tensors';
 * setNativeThreads(2);
 * ```
 */
export function setNativeThreads(n: number): void {
  if (!Number.isInteger(n) || n < 1) {
    throw new BackendError(`setNativeThreads: n must be a positive integer, got ${n}.`);
  }
  addon?.setNumThreads(n);
}

/**
 * In Node, unless `DGM_NATIVE=0`, loads `@dgm-js/kernels-native` (an OpenBLAS addon) and
 * registers its BatchMatMul, _FusedMatMul, Conv2D, Conv2DBackpropFilter and Conv2DBackpropInput
 * over the wasm backend's current kernels. When the package, its addon or OpenBLAS is missing,
 * nothing changes and the summary says why. Never throws. `initBackend()` calls it.
 *
 * @example
 * ```ts
 * import { initBackend, loadNativeKernels } from '@dgm-js/core-tensors';
 * await initBackend();
 * console.log((await loadNativeKernels()).summary);
 * ```
 */
export async function loadNativeKernels(): Promise<NativeKernelsStatus> {
  if (!isNode()) {
    offReason = 'not in Node';
    return nativeKernelsStatus();
  }
  if (process.env.DGM_NATIVE === '0') {
    unloadNativeKernels();
    return { loaded: false, summary: 'native kernels: off (DGM_NATIVE=0)', kernels: [] };
  }
  if (!addon) {
    // A computed specifier keeps bundlers from resolving this optional, Node-only package.
    const spec = ['@dgm-js', 'kernels-native'].join('/');
    let mod: AddonModule;
    try {
      mod = (await import(/* @vite-ignore */ spec)) as AddonModule;
    } catch (e) {
      offReason = `@dgm-js/kernels-native is not installed (${firstLine(e)})`;
      return nativeKernelsStatus();
    }
    try {
      addon = mod.loadNative();
      if (!addon) offReason = mod.nativeStatus().reason ?? 'addon did not load';
    } catch (e) {
      offReason = `addon failed to load (${firstLine(e)})`;
    }
    if (!addon) return nativeKernelsStatus();
  }
  register();
  return nativeKernelsStatus();
}
