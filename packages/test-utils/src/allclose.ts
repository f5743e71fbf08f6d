import { tf } from '@dgm-js/core-tensors';

/** Tolerances of {@link allclose}: |a - e| <= atol + rtol * |e| elementwise. */
export interface AllcloseOptions {
  /** Relative tolerance. Default 1e-5. */
  rtol?: number;
  /** Absolute tolerance. Default 1e-6. */
  atol?: number;
  /** Whether NaN in `expected` accepts NaN in `actual`. Default true. */
  equalNan?: boolean;
}

/** Anything that can be compared: tensors, numbers, nested arrays, typed arrays. */
export type Numeric = tf.Tensor | number | ArrayLike<number> | Numeric[];

interface Flat {
  shape: number[];
  values: number[];
}

function flatten(x: Numeric): Flat {
  if (x instanceof tf.Tensor) {
    return { shape: [...x.shape], values: Array.from(x.dataSync() as ArrayLike<number>) };
  }
  if (typeof x === 'number') return { shape: [], values: [x] };
  const items = Array.from(x as ArrayLike<Numeric>);
  if (items.length === 0) return { shape: [0], values: [] };
  const parts = items.map((i) => flatten(i));
  const inner = parts[0]!.shape;
  for (const p of parts) {
    if (p.shape.join() !== inner.join()) {
      throw new Error(`allclose: ragged array (inner shapes [${inner}] and [${p.shape}]).`);
    }
  }
  return { shape: [items.length, ...inner], values: parts.flatMap((p) => p.values) };
}

/** The outcome of a comparison: whether it passed and, if not, the worst element. */
export interface AllcloseResult {
  pass: boolean;
  message: string;
}

/**
 * Compares `actual` with `expected` elementwise (shapes must match exactly). NaN matches NaN only
 * when `equalNan`; +-Infinity must match exactly; everything else within atol + rtol * |e|.
 */
export function allclose(
  actual: Numeric,
  expected: Numeric,
  opts: AllcloseOptions = {},
): AllcloseResult {
  const rtol = opts.rtol ?? 1e-5;
  const atol = opts.atol ?? 1e-6;
  const equalNan = opts.equalNan ?? true;
  const a = flatten(actual);
  const e = flatten(expected);
  if (a.shape.join() !== e.shape.join()) {
    return { pass: false, message: `shape [${a.shape}] differs from expected shape [${e.shape}]` };
  }
  let bad = 0;
  let worst = -1;
  let worstErr = -1;
  for (let i = 0; i < e.values.length; i++) {
    const av = a.values[i]!;
    const ev = e.values[i]!;
    let ok: boolean;
    let err: number;
    if (Number.isNaN(ev) || Number.isNaN(av)) {
      ok = equalNan && Number.isNaN(ev) && Number.isNaN(av);
      err = ok ? 0 : Number.POSITIVE_INFINITY;
    } else if (!Number.isFinite(ev) || !Number.isFinite(av)) {
      ok = av === ev;
      err = ok ? 0 : Number.POSITIVE_INFINITY;
    } else {
      err = Math.abs(av - ev) - (atol + rtol * Math.abs(ev));
      ok = err <= 0;
    }
    if (!ok) {
      bad++;
      if (err > worstErr) {
        worstErr = err;
        worst = i;
      }
    }
  }
  if (bad === 0) return { pass: true, message: `all ${e.values.length} elements within tolerance` };
  return {
    pass: false,
    message:
      `${bad} of ${e.values.length} elements differ (rtol ${rtol}, atol ${atol}); ` +
      `worst at flat index ${worst}: got ${a.values[worst]}, expected ${e.values[worst]}`,
  };
}
