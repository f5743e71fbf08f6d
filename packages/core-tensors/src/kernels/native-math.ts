/**
 * Native elementwise transcendental kernels over the wasm backend: Exp, Expm1, Log, Log1p,
 * Sigmoid, Tanh, Softplus, Sqrt, Rsqrt and Erf on float32 tensors run as one vectorised loop of
 * the addon (`unary`, see @dgm-js/kernels-native's NativeMathKernels) over the wasm heap, 3-30x
 * faster than the stock scalar wasm kernels and at least as accurate (<= 2.5 ulp; the stock
 * Log1p loses all relative accuracy near 0). Registered by native.ts with the GEMM kernels;
 * other dtypes go to the kernel registered before them. Checked against the cpu backend in
 * native-math.test.ts.
 */
import type { tf } from '../tf.js';
import type { NativeContext } from './native-types.js';

type TensorInfo = tf.TensorInfo;

/** The addon functions used here (see @dgm-js/kernels-native's NativeMathKernels). */
interface MathAddon {
  unary(op: number, x: Float32Array, y: Float32Array): void;
  unaryOps(): string[];
}

/** tfjs kernel name -> the addon's op name. */
const KERNELS = {
  Exp: 'exp',
  Expm1: 'expm1',
  Log: 'log',
  Log1p: 'log1p',
  Sigmoid: 'sigmoid',
  Tanh: 'tanh',
  Softplus: 'softplus',
  Sqrt: 'sqrt',
  Rsqrt: 'rsqrt',
  Erf: 'erf',
} as const;

/** The kernel names this file serves natively. */
export const NATIVE_MATH_KERNELS = Object.keys(KERNELS) as Array<keyof typeof KERNELS>;

let ctx: NativeContext | null = null;
let codesFor: MathAddon | null = null;
let codes = new Map<string, number>();

function math(): MathAddon | null {
  const a = ctx?.addon() as Partial<MathAddon> | null | undefined;
  if (!a || typeof a.unary !== 'function' || typeof a.unaryOps !== 'function') return null;
  const m = a as MathAddon;
  if (codesFor !== m) {
    // The addon names its op codes; an older addon without some op leaves that kernel stock.
    codes = new Map(m.unaryOps().map((name, i) => [name, i]));
    codesFor = m;
  }
  return m;
}

function unary(name: keyof typeof KERNELS, c: NativeContext): tf.KernelFunc {
  const op = KERNELS[name];
  return (args) => {
    const { inputs, backend } = args;
    const x = inputs.x as TensorInfo;
    const k = math();
    const code = k ? codes.get(op) : undefined;
    if (!k || code === undefined || !c.usable(backend) || x.dtype !== 'float32') {
      return c.fallback(name, args);
    }
    const out = backend.makeOutput([...x.shape], 'float32');
    let n = 1;
    for (const d of x.shape) n *= d;
    if (n === 0) return out;
    // Views only after makeOutput: growing the heap detaches earlier views.
    k.unary(code, c.heap(backend, x), c.heap(backend, out));
    return out;
  };
}

/** The elementwise kernels served natively (float32 only; others fall back). */
export function nativeMathKernels(c: NativeContext): Record<string, tf.KernelFunc> {
  ctx = c;
  const out: Record<string, tf.KernelFunc> = {};
  for (const name of NATIVE_MATH_KERNELS) {
    out[name] = unary(name, c);
  }
  return out;
}
