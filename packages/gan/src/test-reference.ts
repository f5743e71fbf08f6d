import { Rng, tf } from '@dgm-js/core-tensors';
import { allclose } from '@dgm-js/test-utils';
import { type CriticFn, gradientPenalty, r1Penalty, r2Penalty } from './penalties.js';

/**
 * Test helper (not exported by the package): critics re-implemented in plain float64 JavaScript
 * with their input gradient by hand-written backpropagation, and the penalties on top, so a
 * penalty's gradient with respect to the critic's parameters can be checked against central
 * finite differences of the penalty itself, independently of tfjs.
 */

/** An activation and its derivative, float64. */
export interface RefAct {
  f: (x: number) => number;
  df: (x: number) => number;
}

const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));

/** erf by its everywhere-positive series 2/sqrt(pi) e^{-x^2} sum 2^n x^{2n+1} / (2n+1)!! (|x| < 6). */
function erf(x: number): number {
  const a = Math.abs(x);
  if (a > 6) return Math.sign(x);
  let term = a;
  let sum = a;
  for (let n = 1; n < 200; n++) {
    term *= (2 * a * a) / (2 * n + 1);
    sum += term;
    if (term < 1e-17 * sum) break;
  }
  return Math.sign(x) * (2 / Math.sqrt(Math.PI)) * Math.exp(-a * a) * sum;
}

const Phi = (x: number) => 0.5 * (1 + erf(x / Math.SQRT2));
const phi = (x: number) => Math.exp(-0.5 * x * x) / Math.sqrt(2 * Math.PI);

/** Reference activations by the names of `criticActivation` ('leakyRelu:0.1' for other slopes). */
export function refAct(name: string): RefAct {
  if (name.startsWith('leakyRelu')) {
    const alpha = name.includes(':') ? Number(name.split(':')[1]) : 0.2;
    return { f: (x) => (x > 0 ? x : alpha * x), df: (x) => (x > 0 ? 1 : alpha) };
  }
  switch (name) {
    case 'relu':
      return { f: (x) => Math.max(x, 0), df: (x) => (x > 0 ? 1 : 0) };
    case 'tanh':
      return { f: Math.tanh, df: (x) => 1 - Math.tanh(x) ** 2 };
    case 'sigmoid':
      return { f: sigmoid, df: (x) => sigmoid(x) * (1 - sigmoid(x)) };
    case 'softplus':
      return { f: (x) => Math.max(x, 0) + Math.log1p(Math.exp(-Math.abs(x))), df: sigmoid };
    case 'gelu':
      return { f: (x) => x * Phi(x), df: (x) => Phi(x) + x * phi(x) };
    case 'identity':
      return { f: (x) => x, df: () => 1 };
    default:
      throw new Error(`refAct: unknown ${name}`);
  }
}

/** One layer of a reference network. Arrays are row-major in tfjs's layouts. */
export type RefLayer =
  | { kind: 'dense'; w: Float64Array; b: Float64Array; inF: number; outF: number }
  | {
      kind: 'conv';
      k: Float64Array; // [kh, kw, cin, cout]
      b: Float64Array;
      kh: number;
      kw: number;
      cin: number;
      cout: number;
      stride: number;
      h: number; // input height and width
      w: number;
    }
  | { kind: 'act'; act: RefAct };

/** 'same' padding of tfjs: output ceil(in / s), padding before = floor(total / 2). */
function samePad(inSize: number, k: number, s: number): { out: number; before: number } {
  const out = Math.ceil(inSize / s);
  const total = Math.max((out - 1) * s + k - inSize, 0);
  return { out, before: Math.floor(total / 2) };
}

function forwardLayer(l: RefLayer, x: Float64Array): Float64Array {
  if (l.kind === 'act') return x.map(l.act.f);
  if (l.kind === 'dense') {
    const y = Float64Array.from(l.b);
    for (let i = 0; i < l.inF; i++) {
      const xi = x[i]!;
      for (let j = 0; j < l.outF; j++) y[j]! += xi * l.w[i * l.outF + j]!;
    }
    return y;
  }
  const ph = samePad(l.h, l.kh, l.stride);
  const pw = samePad(l.w, l.kw, l.stride);
  const y = new Float64Array(ph.out * pw.out * l.cout);
  for (let oy = 0; oy < ph.out; oy++) {
    for (let ox = 0; ox < pw.out; ox++) {
      for (let co = 0; co < l.cout; co++) {
        let s = l.b[co]!;
        for (let ky = 0; ky < l.kh; ky++) {
          const iy = oy * l.stride + ky - ph.before;
          if (iy < 0 || iy >= l.h) continue;
          for (let kx = 0; kx < l.kw; kx++) {
            const ix = ox * l.stride + kx - pw.before;
            if (ix < 0 || ix >= l.w) continue;
            for (let ci = 0; ci < l.cin; ci++) {
              s +=
                x[(iy * l.w + ix) * l.cin + ci]! *
                l.k[((ky * l.kw + kx) * l.cin + ci) * l.cout + co]!;
            }
          }
        }
        y[(oy * pw.out + ox) * l.cout + co] = s;
      }
    }
  }
  return y;
}

/** d input from d output (the layer's input x given). */
function backwardLayer(l: RefLayer, x: Float64Array, dy: Float64Array): Float64Array {
  if (l.kind === 'act') return dy.map((d, i) => d * l.act.df(x[i]!));
  if (l.kind === 'dense') {
    const dx = new Float64Array(l.inF);
    for (let i = 0; i < l.inF; i++) {
      let s = 0;
      for (let j = 0; j < l.outF; j++) s += l.w[i * l.outF + j]! * dy[j]!;
      dx[i] = s;
    }
    return dx;
  }
  const ph = samePad(l.h, l.kh, l.stride);
  const pw = samePad(l.w, l.kw, l.stride);
  const dx = new Float64Array(l.h * l.w * l.cin);
  for (let oy = 0; oy < ph.out; oy++) {
    for (let ox = 0; ox < pw.out; ox++) {
      for (let co = 0; co < l.cout; co++) {
        const d = dy[(oy * pw.out + ox) * l.cout + co]!;
        for (let ky = 0; ky < l.kh; ky++) {
          const iy = oy * l.stride + ky - ph.before;
          if (iy < 0 || iy >= l.h) continue;
          for (let kx = 0; kx < l.kw; kx++) {
            const ix = ox * l.stride + kx - pw.before;
            if (ix < 0 || ix >= l.w) continue;
            for (let ci = 0; ci < l.cin; ci++) {
              dx[(iy * l.w + ix) * l.cin + ci]! +=
                d * l.k[((ky * l.kw + kx) * l.cin + ci) * l.cout + co]!;
            }
          }
        }
      }
    }
  }
  return dx;
}

/** The score of one example (the last layer has one output) and its input gradient. */
export function refScoreAndGrad(
  layers: RefLayer[],
  x: Float64Array,
  extra?: { embedRow: Float64Array; featureLayer: number },
): { s: number; g: Float64Array } {
  const inputs: Float64Array[] = [];
  let h = x;
  let features: Float64Array | undefined;
  layers.forEach((l, i) => {
    inputs.push(h);
    h = forwardLayer(l, h);
    if (extra && i === extra.featureLayer) features = h;
  });
  let s = h[0]!;
  // d s / d h_last = 1; a projection adds embed . phi(x) at the feature layer's output.
  let d: Float64Array = new Float64Array([1]);
  for (let i = layers.length - 1; i >= 0; i--) {
    d = backwardLayer(layers[i]!, inputs[i]!, d);
    if (extra && i === extra.featureLayer + 1) {
      s += features!.reduce((a, v, j) => a + v * extra.embedRow[j]!, 0);
      d = d.map((v, j) => v + extra.embedRow[j]!);
    }
  }
  return { s, g: d };
}

/** A penalty of the reference critic over a batch (rows of `xs`). */
export type RefPenalty = 'gp' | 'r1';

export function refPenalty(
  kind: RefPenalty,
  grads: Float64Array[],
  opts: { weight: number; target?: number },
): number {
  let acc = 0;
  for (const g of grads) {
    const sq = g.reduce((a, v) => a + v * v, 0);
    acc += kind === 'gp' ? (Math.sqrt(sq + 1e-12) - (opts.target ?? 1)) ** 2 : sq;
  }
  const mean = acc / grads.length;
  return kind === 'gp' ? opts.weight * mean : (opts.weight / 2) * mean;
}

/**
 * Central differences of `f` with respect to every entry of every array in `params` (float64,
 * step h). Each array is perturbed in place and restored.
 */
export function centralDifferences(
  f: () => number,
  params: Float64Array[],
  h = 1e-6,
): Float64Array[] {
  return params.map((p) => {
    const out = new Float64Array(p.length);
    for (let i = 0; i < p.length; i++) {
      const v = p[i]!;
      p[i] = v + h;
      const up = f();
      p[i] = v - h;
      const down = f();
      p[i] = v;
      out[i] = (up - down) / (2 * h);
    }
    return out;
  });
}

// ---------------------------------------------------------------------------------------------
// The penalty check shared by the penalty tests: autodiff gradient of a penalty with respect to
// the critic's variables vs central differences of a float64 reference of the same penalty.

export type Pen = 'gp' | 'r1' | 'r2';
export const D = 3;
export const N = 3;

export function rows(t: tf.Tensor): Float64Array[] {
  const v = t.dataSync();
  const d = t.size / t.shape[0]!;
  return Array.from({ length: t.shape[0]! }, (_, i) =>
    Float64Array.from(v.subarray(i * d, (i + 1) * d)),
  );
}

export interface Case {
  vars: tf.Variable[];
  score: CriticFn;
  /** The reference penalty at the current values of `params` (float64 copies of `vars`). */
  ref: (params: Float64Array[], points: Float64Array[], pen: Pen) => number;
  /** One example's shape. Default [D]. */
  inputShape?: number[];
}

/** Autodiff gradient of the penalty vs central differences of the float64 reference. */
export function checkPenalty(
  c: Case,
  pen: Pen,
  seed: number,
): { pass: boolean; message: string; relErr: number } {
  const rng = new Rng(seed);
  const shape = [N, ...(c.inputShape ?? [D])];
  const real = tf.randomNormal(shape, 0, 1, 'float32', rng.next());
  const fake = tf.randomNormal(shape, 0.5, 1.5, 'float32', rng.next());
  const eps = tf.randomUniform([N], 0, 1, 'float32', rng.next());
  const weight = 10;
  const { grads } = tf.variableGrads(() => {
    if (pen === 'gp') return gradientPenalty(c.score, real, fake, { epsilon: eps, weight });
    return (pen === 'r1' ? r1Penalty : r2Penalty)(c.score, pen === 'r1' ? real : fake, {
      gamma: weight,
    });
  }, c.vars);
  const e = eps.dataSync();
  const r = rows(real);
  const f = rows(fake);
  const points =
    pen === 'gp'
      ? f.map((fi, i) => fi.map((v, j) => v + e[i]! * (r[i]![j]! - v)))
      : pen === 'r1'
        ? r
        : f;
  const params = c.vars.map((v) => Float64Array.from(v.dataSync()));
  const fd = centralDifferences(() => c.ref(params, points, pen), params);
  // a variable the penalty does not depend on (the last bias) gets no gradient: zero
  const ad = c.vars.map((v) =>
    grads[v.name] ? Array.from(grads[v.name]!.dataSync()) : new Array<number>(v.size).fill(0),
  );
  tf.dispose([real, fake, eps]);
  tf.dispose(grads);
  const flatFd = fd.flatMap((a) => Array.from(a));
  const flatAd = ad.flat();
  const scale = Math.max(...flatFd.map(Math.abs));
  const relErr =
    Math.sqrt(flatAd.reduce((s, a, i) => s + (a - flatFd[i]!) ** 2, 0)) /
    Math.sqrt(flatFd.reduce((s, b) => s + b * b, 0));
  const res = allclose(flatAd, flatFd, { rtol: 2e-3, atol: 1e-4 * scale });
  return { ...res, relErr };
}

export const refPen = (
  score: (x: Float64Array) => { s: number; g: Float64Array },
  points: Float64Array[],
  pen: Pen,
) =>
  refPenalty(
    pen === 'gp' ? 'gp' : 'r1',
    points.map((p) => score(p).g),
    { weight: 10 },
  );
