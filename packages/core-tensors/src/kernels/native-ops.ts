/**
 * Native memory-bound kernels over the wasm backend, registered by native.ts with the GEMM and
 * convolution kernels: Sum over leading or trailing axes (bias gradients), Add of a trailing
 * bias (the stock kernel's broadcasting path is several times slower than one pass), Step (relu
 * gradients), and the in-place fused Adam update used by {@link Adam}. Cases they do not cover
 * go to the kernel registered before them. Checked against the cpu backend in native-ops.test.ts.
 */
import { tf } from '../tf.js';
import { markWrittenInPlace } from './inplace.js';
import type { NativeContext, WasmBackend } from './native-types.js';
import { size, stripOnes } from './shape.js';

type TensorInfo = tf.TensorInfo;

/** The addon functions used here (see @dgm-js/kernels-native's NativeOpsKernels). */
interface OpsAddon {
  adam(
    param: Float32Array,
    grad: Float32Array,
    m: Float32Array,
    v: Float32Array,
    lr: number,
    beta1: number,
    beta2: number,
    eps: number,
    c1: number,
    c2: number,
  ): void;
  sumLeading(x: Float32Array, rows: number, cols: number, out: Float32Array): void;
  sumTrailing(x: Float32Array, rows: number, cols: number, out: Float32Array): void;
  addBias(x: Float32Array, rows: number, cols: number, bias: Float32Array, out: Float32Array): void;
  step(x: Float32Array, alpha: number, out: Float32Array): void;
}

let ctx: NativeContext | null = null;

function ops(): OpsAddon | null {
  const a = ctx?.addon() as Partial<OpsAddon> | null | undefined;
  return a && typeof a.adam === 'function' && typeof a.sumLeading === 'function'
    ? (a as OpsAddon)
    : null;
}

function sum(c: NativeContext): tf.KernelFunc {
  return (args) => {
    const { inputs, backend, attrs = {} } = args;
    const x = inputs.x as TensorInfo;
    const k = ops();
    if (!k || !c.usable(backend) || x.dtype !== 'float32') return c.fallback('Sum', args);
    const rank = x.shape.length;
    const axes = tf.util
      .parseAxisParam(attrs.axis as number | number[], x.shape)
      .slice()
      .sort((a, b) => a - b);
    const n = axes.length;
    const leading = n > 0 && axes.every((a, i) => a === i);
    const trailing = n > 0 && axes.every((a, i) => a === rank - n + i);
    const reduced = axes.reduce((p, a) => p * (x.shape[a] as number), 1);
    // An empty reduction is handled here for any axes: the stock kernel returns uninitialised
    // memory for it.
    if (rank === 0 || (!leading && !trailing && reduced !== 0)) return c.fallback('Sum', args);
    const outShape =
      attrs.keepDims === true
        ? x.shape.map((d, i) => (axes.includes(i) ? 1 : d))
        : x.shape.filter((_, i) => !axes.includes(i));
    const out = backend.makeOutput(outShape, 'float32');
    const kept = size(outShape);
    if (kept === 0) return out;
    // Views only after makeOutput: growing the heap detaches earlier views.
    const ov = c.heap(backend, out);
    if (reduced === 0) {
      ov.fill(0);
      return out;
    }
    const xv = c.heap(backend, x);
    if (leading) k.sumLeading(xv, reduced, kept, ov);
    else k.sumTrailing(xv, kept, reduced, ov);
    return out;
  };
}

/** Add where one operand is the other's trailing dims (a bias); other cases go to the stock Add. */
function add(c: NativeContext): tf.KernelFunc {
  return (args) => {
    const { inputs, backend } = args;
    const a = inputs.a as TensorInfo;
    const b = inputs.b as TensorInfo;
    const k = ops();
    if (!k || !c.usable(backend) || a.dtype !== 'float32' || b.dtype !== 'float32')
      return c.fallback('Add', args);
    const na = size(a.shape);
    const nb = size(b.shape);
    if (na === nb || na === 0 || nb === 0) return c.fallback('Add', args);
    const [big, small] = na > nb ? [a, b] : [b, a];
    const s = stripOnes(small.shape);
    // The output must have big's shape: small's rank (with its leading ones) may not exceed it.
    if (small.shape.length > big.shape.length || s.length === 0) return c.fallback('Add', args);
    const off = big.shape.length - s.length;
    if (!s.every((d, i) => d === big.shape[off + i])) return c.fallback('Add', args);
    const cols = size(s);
    const rows = size(big.shape) / cols;
    const out = backend.makeOutput(big.shape.slice(), 'float32');
    const ov = c.heap(backend, out);
    k.addBias(c.heap(backend, big), rows, cols, c.heap(backend, small), ov);
    return out;
  };
}

function step(c: NativeContext): tf.KernelFunc {
  return (args) => {
    const { inputs, backend, attrs = {} } = args;
    const x = inputs.x as TensorInfo;
    const k = ops();
    if (!k || !c.usable(backend) || x.dtype !== 'float32') return c.fallback('Step', args);
    const out = backend.makeOutput(x.shape.slice(), 'float32');
    if (size(x.shape) === 0) return out;
    const ov = c.heap(backend, out);
    k.step(c.heap(backend, x), (attrs.alpha as number | undefined) ?? 0, ov);
    return out;
  };
}

/** The memory-bound kernels served natively. */
export function nativeOpsKernels(context: NativeContext): Record<string, tf.KernelFunc> {
  ctx = context;
  return { Sum: sum(context), Add: add(context), Step: step(context) };
}

/** Hyper-parameters of one Adam update (the float32 bias corrections `1 - beta^t`). */
export interface AdamHyper {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  c1: number;
  c2: number;
}

/**
 * Adam's update of one variable in place on the wasm heap, when the native kernels are active,
 * everything is float32 on the wasm backend, and no other tensor shares the parameter's or the
 * moments' buffers (a shared buffer, e.g. from `tf.variable(t)` with `t` still alive, must not
 * change under its other owner). Returns false when it did nothing (the caller then uses ops).
 */
export function nativeAdamUpdate(
  param: tf.Tensor,
  grad: tf.Tensor,
  m: tf.Tensor,
  v: tf.Tensor,
  h: AdamHyper,
): boolean {
  const k = ops();
  if (!k || !ctx?.active()) return false;
  const be = tf.engine().backend as unknown as WasmBackend & {
    refCount(dataId: object): number;
  };
  if (!ctx.usable(be) || typeof be.refCount !== 'function') return false;
  for (const t of [param, grad, m, v]) if (t.dtype !== 'float32' || t.isDisposed) return false;
  const n = param.size;
  if (grad.size !== n || m.size !== n || v.size !== n) return false;
  // refCount 0: not on this backend; above 1: the buffer is shared with another tensor.
  for (const t of [param, m, v]) if (be.refCount(t.dataId) !== 1) return false;
  if (be.refCount(grad.dataId) < 1) return false;
  if (n === 0) return true;
  k.adam(
    ctx.heap(be, param),
    ctx.heap(be, grad),
    ctx.heap(be, m),
    ctx.heap(be, v),
    h.lr,
    h.beta1,
    h.beta2,
    h.eps,
    h.c1,
    h.c2,
  );
  markWrittenInPlace(param.dataId);
  markWrittenInPlace(m.dataId);
  markWrittenInPlace(v.dataId);
  return true;
}
