/**
 * TypeScript kernels that dgm.js registers over the wasm backend's own, where the stock kernel
 * is slow (transposed matmuls, conv input gradients) or missing (conv filter gradients). Each is
 * written in terms of the backend's fast kernels (plain matmul, XNNPACK convolution, transpose)
 * and checked against the cpu backend in `kernels.test.ts`.
 */
import { BackendError, fmtShape } from '../errors.js';
import { tf } from '../tf.js';

type TensorInfo = tf.TensorInfo;
type Backend = tf.KernelBackend & { disposeData(dataId: object, force?: boolean): boolean };
type Attrs = Record<string, unknown>;
type Call = (name: string, inputs: Record<string, TensorInfo>, attrs?: Attrs) => TensorInfo;

const BACKEND = 'wasm';
const originals = new Map<string, tf.KernelFunc>();

function stock(name: string): tf.KernelFunc {
  const k = originals.get(name) ?? tf.getKernel(name, BACKEND)?.kernelFunc;
  if (!k) throw new BackendError(`dgm.js kernels: the wasm backend has no '${name}' kernel.`);
  return k;
}

/** Runs `body` with a `call` that invokes stock wasm kernels and frees their temporaries. */
function withTemps(backend: Backend, body: (call: Call) => TensorInfo): TensorInfo {
  const temps: TensorInfo[] = [];
  let result: TensorInfo | undefined;
  const call: Call = (name, inputs, attrs = {}) => {
    const out = stock(name)({ inputs, backend, attrs: attrs as tf.NamedAttrMap }) as TensorInfo;
    temps.push(out);
    return out;
  };
  try {
    result = body(call);
    return result;
  } finally {
    for (const t of temps) if (t !== result) backend.disposeData(t.dataId);
  }
}

function swapLastTwo(rank: number): number[] {
  const perm = Array.from({ length: rank }, (_, i) => i);
  perm[rank - 2] = rank - 1;
  perm[rank - 1] = rank - 2;
  return perm;
}

/** Applies a fused op's activation with the stock kernels. */
function activate(
  call: Call,
  x: TensorInfo,
  attrs: Attrs,
  prelu: TensorInfo | undefined,
): TensorInfo {
  const act = (attrs.activation as string | undefined) ?? 'linear';
  switch (act) {
    case 'linear':
      return x;
    case 'relu':
      return call('Relu', { x });
    case 'relu6':
      return call('Relu6', { x });
    case 'elu':
      return call('Elu', { x });
    case 'sigmoid':
      return call('Sigmoid', { x });
    case 'leakyrelu':
      return call('LeakyRelu', { x }, { alpha: attrs.leakyreluAlpha ?? 0.2 });
    case 'prelu':
      if (!prelu) throw new BackendError('_FusedMatMul: prelu activation without weights.');
      return call('Prelu', { x, alpha: prelu });
    default:
      throw new BackendError(`_FusedMatMul: unknown activation '${act}'.`);
  }
}

/** BatchMatMul / _FusedMatMul: transpose explicitly, then run the fast plain kernel. */
function matMulOverride(name: 'BatchMatMul' | '_FusedMatMul'): tf.KernelConfig {
  return {
    kernelName: name,
    backendName: BACKEND,
    kernelFunc: ({ inputs, backend, attrs = {} }) => {
      const a = inputs.a as TensorInfo;
      const b = inputs.b as TensorInfo;
      const { transposeA, transposeB } = attrs as { transposeA: boolean; transposeB: boolean };
      const plain = stock(name);
      // The stock wasm _FusedMatMul adds the bias wrongly when there is a batch dimension
      // (rank > 2); run those as BatchMatMul + Add + activation instead.
      const decompose = name === '_FusedMatMul' && inputs.bias !== undefined && a.shape.length > 2;
      if (!transposeA && !transposeB && !decompose) return plain({ inputs, backend, attrs });
      return withTemps(backend as Backend, (call) => {
        const a2 = transposeA
          ? call('Transpose', { x: a }, { perm: swapLastTwo(a.shape.length) })
          : a;
        const b2 = transposeB
          ? call('Transpose', { x: b }, { perm: swapLastTwo(b.shape.length) })
          : b;
        if (decompose) {
          const prod = call(
            'BatchMatMul',
            { a: a2, b: b2 },
            { transposeA: false, transposeB: false },
          );
          const biased = call('Add', { a: prod, b: inputs.bias as TensorInfo });
          return activate(call, biased, attrs, inputs.preluActivationWeights);
        }
        return plain({
          inputs: { ...inputs, a: a2, b: b2 },
          backend,
          attrs: { ...attrs, transposeA: false, transposeB: false },
        }) as TensorInfo;
      });
    },
  };
}

interface ConvAttrs {
  strides: number | [number, number];
  pad: 'valid' | 'same' | number | tf.backend_util.ExplicitPadding;
  dataFormat: 'NHWC' | 'NCHW';
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
}

function pair(v: number | [number, number]): [number, number] {
  return typeof v === 'number' ? [v, v] : v;
}

/**
 * Conv2DBackpropFilter (missing on wasm) as one forward convolution:
 * dW[kh,kw,ci,co] = sum_{n,oh,ow} x[n, oh*s+kh-pt, ow*s+kw-pl, ci] dy[n,oh,ow,co]
 * is a convolution of x^T (batch ci, channels n) with dy^T (as a filter) dilated by the stride.
 */
const conv2dBackpropFilter: tf.KernelConfig = {
  kernelName: 'Conv2DBackpropFilter',
  backendName: BACKEND,
  kernelFunc: ({ inputs, backend, attrs }) => {
    const x = inputs.x as TensorInfo;
    const dy = inputs.dy as TensorInfo;
    const { strides, pad, dataFormat, dimRoundingMode, filterShape } =
      attrs as unknown as ConvAttrs & {
        filterShape: [number, number, number, number];
      };
    if (dataFormat !== 'NHWC') {
      throw new BackendError(
        `Conv2DBackpropFilter on wasm supports dataFormat 'NHWC' only, got '${dataFormat}'.`,
      );
    }
    const info = tf.backend_util.computeConv2DInfo(
      x.shape as [number, number, number, number],
      filterShape,
      strides,
      1,
      pad,
      dimRoundingMode,
    );
    const [sh, sw] = pair(strides);
    const [kh, kw] = [filterShape[0], filterShape[1]];
    const { top, left } = info.padInfo;
    const [, h, w] = x.shape as [number, number, number, number];
    const oh = info.outHeight;
    const ow = info.outWidth;
    const bottom = kh + (oh - 1) * sh - h - top;
    const right = kw + (ow - 1) * sw - w - left;
    return withTemps(backend as Backend, (call) => {
      const xT = call('Transpose', { x }, { perm: [3, 1, 2, 0] });
      const dyT = call('Transpose', { x: dy }, { perm: [1, 2, 0, 3] });
      let out = call(
        'Conv2D',
        { x: xT, filter: dyT },
        {
          strides: [1, 1],
          pad: [
            [0, 0],
            [top, Math.max(bottom, 0)],
            [left, Math.max(right, 0)],
            [0, 0],
          ],
          dataFormat: 'NHWC',
          dilations: [sh, sw],
        },
      );
      const [ci, outH, outW, co] = out.shape as [number, number, number, number];
      if (outH < kh || outW < kw) {
        throw new BackendError(
          `Conv2DBackpropFilter: internal size mismatch ${fmtShape(out.shape)} for filter ${fmtShape(filterShape)}.`,
        );
      }
      if (outH !== kh || outW !== kw) {
        out = call('Slice', { x: out }, { begin: [0, 0, 0, 0], size: [ci, kh, kw, co] });
      }
      return call('Transpose', { x: out }, { perm: [1, 2, 0, 3] });
    });
  },
};

/**
 * Conv2DBackpropInput as one forward convolution of the (stride-dilated) dy with the spatially
 * flipped, channel-transposed filter. The stock wasm kernel is a slow direct loop.
 */
const conv2dBackpropInput: tf.KernelConfig = {
  kernelName: 'Conv2DBackpropInput',
  backendName: BACKEND,
  kernelFunc: (args) => {
    const { inputs, backend, attrs } = args;
    const dy = inputs.dy as TensorInfo;
    const filter = inputs.filter as TensorInfo;
    const { strides, pad, dataFormat, dimRoundingMode, inputShape } =
      attrs as unknown as ConvAttrs & {
        inputShape: [number, number, number, number];
      };
    const info = tf.backend_util.computeConv2DInfo(
      inputShape,
      filter.shape as [number, number, number, number],
      strides,
      1,
      pad,
      dimRoundingMode,
    );
    const [sh, sw] = pair(strides);
    const [kh, kw] = filter.shape as [number, number, number, number];
    const [n, h, w, cin] = inputShape;
    const { top, left } = info.padInfo;
    const padT = kh - 1 - top;
    const padL = kw - 1 - left;
    if (dataFormat !== 'NHWC' || padT < 0 || padL < 0) return stock('Conv2DBackpropInput')(args);
    const [, oh, ow, co] = dy.shape as [number, number, number, number];
    // After zero insertion dy has oh*sh rows (the trailing sh-1 are zeros, harmless).
    const dh = oh * sh;
    const dw = ow * sw;
    const padB = h - dh + kh - 1 - padT;
    const padR = w - dw + kw - 1 - padL;
    return withTemps(backend as Backend, (call) => {
      let dyD = dy;
      if (sh > 1 || sw > 1) {
        const r = call('Reshape', { x: dy }, { shape: [n, oh, 1, ow, 1, co] });
        const p = call(
          'PadV2',
          { x: r },
          {
            paddings: [
              [0, 0],
              [0, 0],
              [0, sh - 1],
              [0, 0],
              [0, sw - 1],
              [0, 0],
            ],
            constantValue: 0,
          },
        );
        dyD = call('Reshape', { x: p }, { shape: [n, dh, dw, co] });
      }
      const fT = call('Transpose', { x: filter }, { perm: [0, 1, 3, 2] });
      const fFlip = call('Reverse', { x: fT }, { dims: [0, 1] });
      let out = call(
        'Conv2D',
        { x: dyD, filter: fFlip },
        {
          strides: [1, 1],
          pad: [
            [0, 0],
            [padT, Math.max(padB, 0)],
            [padL, Math.max(padR, 0)],
            [0, 0],
          ],
          dataFormat: 'NHWC',
          dilations: [1, 1],
        },
      );
      if (out.shape[1] !== h || out.shape[2] !== w) {
        out = call('Slice', { x: out }, { begin: [0, 0, 0, 0], size: [n, h, w, cin] });
      }
      return out;
    });
  },
};

interface WasmHeap {
  makeOutput(shape: number[], dtype: tf.DataType): TensorInfo;
  typedArrayFromHeap(t: TensorInfo): tf.TypedArray;
}

/**
 * Slice without the stock kernel's full read-back: the stock wasm Slice copies the whole input
 * out of the heap (`readSync`) before taking its slice, which costs milliseconds for a one-row
 * slice of a large tensor. This copies only the slice, contiguous rows at a time, from a view.
 */
const sliceOverride: tf.KernelConfig = {
  kernelName: 'Slice',
  backendName: BACKEND,
  kernelFunc: (args) => {
    const { inputs, backend, attrs = {} } = args;
    const x = inputs.x as TensorInfo;
    if (x.dtype === 'string') return stock('Slice')(args);
    const [begin, size] = tf.slice_util.parseSliceParams(
      x,
      attrs.begin as number | number[],
      attrs.size as number | number[] | undefined,
    ) as [number[], number[]];
    const heap = backend as unknown as WasmHeap;
    const out = heap.makeOutput(size, x.dtype);
    const n = tf.util.sizeFromShape(size);
    if (n === 0) return out;
    // Views only after makeOutput: a heap growth detaches earlier views.
    const xv = heap.typedArrayFromHeap(x);
    const ov = heap.typedArrayFromHeap(out);
    const rank = x.shape.length;
    if (rank === 0) {
      ov[0] = xv[0] as number;
      return out;
    }
    const strides = tf.util.computeStrides(x.shape);
    strides.push(1);
    const run = size[rank - 1] as number;
    const rows = n / run;
    const idx = new Array<number>(Math.max(rank - 1, 0)).fill(0);
    for (let r = 0, o = 0; r < rows; r++, o += run) {
      let off = begin[rank - 1] as number;
      for (let d = 0; d < rank - 1; d++)
        off += ((begin[d] as number) + (idx[d] as number)) * (strides[d] as number);
      ov.set(xv.subarray(off, off + run), o);
      for (let d = rank - 2; d >= 0; d--) {
        idx[d] = (idx[d] as number) + 1;
        if ((idx[d] as number) < (size[d] as number)) break;
        idx[d] = 0;
      }
    }
    return out;
  },
};

/**
 * Sum over leading or trailing axes (bias gradients, means over a batch) as one pass over a heap
 * view, accumulating in float64. The stock wasm Sum transposes its input first, which was about a
 * fifth of a small conv net's training step. Other axis patterns and dtypes use the stock kernel.
 */
const sumOverride: tf.KernelConfig = {
  kernelName: 'Sum',
  backendName: BACKEND,
  kernelFunc: (args) => {
    const { inputs, backend, attrs = {} } = args;
    const x = inputs.x as TensorInfo;
    const rank = x.shape.length;
    const axes = tf.util
      .parseAxisParam(attrs.axis as number | number[], x.shape)
      .slice()
      .sort((a, b) => a - b);
    const k = axes.length;
    const leading = k > 0 && axes.every((a, i) => a === i);
    const trailing = k > 0 && axes.every((a, i) => a === rank - k + i);
    const empty = axes.some((a) => x.shape[a] === 0);
    // The stock kernel returns uninitialised memory for an empty reduction: handled here.
    if (x.dtype !== 'float32' || rank === 0 || (!leading && !trailing && !empty))
      return stock('Sum')(args);
    const keep = attrs.keepDims === true;
    const outShape = keep
      ? x.shape.map((d, i) => (axes.includes(i) ? 1 : d))
      : x.shape.filter((_, i) => !axes.includes(i));
    const heap = backend as unknown as WasmHeap;
    const out = heap.makeOutput(outShape, 'float32');
    const xv = heap.typedArrayFromHeap(x);
    const ov = heap.typedArrayFromHeap(out);
    const reduced = axes.reduce((p, a) => p * (x.shape[a] as number), 1);
    const kept = tf.util.sizeFromShape(x.shape) / Math.max(reduced, 1);
    if (reduced === 0) {
      ov.fill(0);
      return out;
    }
    if (leading) {
      // out[j] = sum_i x[i * kept + j]
      const acc = new Float64Array(kept);
      for (let i = 0, off = 0; i < reduced; i++, off += kept) {
        for (let j = 0; j < kept; j++) acc[j] = (acc[j] as number) + (xv[off + j] as number);
      }
      ov.set(acc);
    } else {
      // out[i] = sum_j x[i * reduced + j]
      for (let i = 0, off = 0; i < kept; i++, off += reduced) {
        let acc = 0;
        for (let j = 0; j < reduced; j++) acc += xv[off + j] as number;
        ov[i] = acc;
      }
    }
    return out;
  },
};

/**
 * Identity without a copy: the output shares the input's buffer (reference counted, as the cpu
 * backend and the wasm Reshape kernel do). tfjs clones every tensor it saves for a gradient, and
 * the stock wasm Identity copied each one (nine 6 MB copies in a small conv net's step). Tensors
 * are immutable, and variables take a new buffer on assign, so sharing is safe; dgm.js's native
 * in-place Adam update checks the reference count before writing.
 */
const identityOverride: tf.KernelConfig = {
  kernelName: 'Identity',
  backendName: BACKEND,
  kernelFunc: (args) => {
    const x = args.inputs.x as TensorInfo;
    const be = args.backend as unknown as { incRef?(dataId: object): void };
    if (x.dtype === 'string' || typeof be.incRef !== 'function') return stock('Identity')(args);
    be.incRef(x.dataId);
    return { dataId: x.dataId, shape: x.shape.slice(), dtype: x.dtype };
  },
};

/** Cast to the tensor's own dtype without a copy (tfjs's relu gradient casts a float32 step). */
const castOverride: tf.KernelConfig = {
  kernelName: 'Cast',
  backendName: BACKEND,
  kernelFunc: (args) => {
    const x = args.inputs.x as TensorInfo;
    const be = args.backend as unknown as { incRef?(dataId: object): void };
    const dtype = (args.attrs as { dtype?: string } | undefined)?.dtype;
    if (dtype !== x.dtype || x.dtype === 'string' || typeof be.incRef !== 'function')
      return stock('Cast')(args);
    be.incRef(x.dataId);
    return { dataId: x.dataId, shape: x.shape.slice(), dtype: x.dtype };
  },
};

const OVERRIDES: readonly tf.KernelConfig[] = [
  identityOverride,
  castOverride,
  matMulOverride('BatchMatMul'),
  matMulOverride('_FusedMatMul'),
  conv2dBackpropFilter,
  conv2dBackpropInput,
  sliceOverride,
  sumOverride,
];

let registered = false;

/**
 * Registers dgm.js's kernels over the wasm backend's (idempotent). `initBackend()` calls it;
 * call it yourself only if you set the wasm backend up by hand.
 */
export function registerWasmKernels(): void {
  if (registered) return;
  for (const cfg of OVERRIDES) {
    const existing = tf.getKernel(cfg.kernelName, BACKEND);
    const config: tf.KernelConfig = { ...cfg };
    if (existing) {
      originals.set(cfg.kernelName, existing.kernelFunc);
      // The stock kernel binds its wasm function in setupFunc; keep that hook so the fallback
      // path still works after the override replaces the registration.
      if (existing.setupFunc) config.setupFunc = existing.setupFunc;
      if (existing.disposeFunc) config.disposeFunc = existing.disposeFunc;
      tf.unregisterKernel(cfg.kernelName, BACKEND);
    }
    tf.registerKernel(config);
  }
  registered = true;
}

/**
 * Puts the wasm backend's stock kernels back (for comparisons such as the `kernels` benchmark);
 * `registerWasmKernels()` installs dgm.js's again.
 */
export function restoreStockWasmKernels(): void {
  if (!registered) return;
  for (const cfg of OVERRIDES) {
    const current = tf.getKernel(cfg.kernelName, BACKEND);
    tf.unregisterKernel(cfg.kernelName, BACKEND);
    const original = originals.get(cfg.kernelName);
    if (original) {
      const restored: tf.KernelConfig = {
        kernelName: cfg.kernelName,
        backendName: BACKEND,
        kernelFunc: original,
      };
      if (current?.setupFunc) restored.setupFunc = current.setupFunc;
      if (current?.disposeFunc) restored.disposeFunc = current.disposeFunc;
      tf.registerKernel(restored);
    }
  }
  registered = false;
}

/** Names of the kernels dgm.js registers on the wasm backend. */
export function wasmKernelOverrides(): string[] {
  return registered ? OVERRIDES.map((k) => k.kernelName) : [];
}
