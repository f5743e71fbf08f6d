/**
 * Suite `flows`: normalizing flows of @dgm-js/flows on the 2-D toy densities of @dgm-js/datasets.
 *
 * 1. Test NLL (nats) of each flow family (RealNVP affine coupling, MAF, rational-quadratic
 *    spline coupling = NSF) trained by maximum likelihood on fresh samples of 8gaussians,
 *    checkerboard, moons, rings and pinwheel, next to the density's exact floor (its entropy:
 *    ln 32 = 3.466 for the checkerboard). Rows `toy/<density>/<flow>/test-nll`, `toy/<density>/floor`.
 * 2. Density plots (PNG): the true density beside each trained flow's.
 * 3. Training throughput (ms per Adam step, batch 512) of the same three models beside PyTorch
 *    (peers/torch_flows.py, one thread), which also trains the checkerboard models with the same
 *    recipe so its test NLL stands beside ours.
 *
 * 4. Full profile only: dequantized MNIST test bits/dim of RealNVP (5) and MAF (5) after a short
 *    training run (rows `mnist/<flow>/test-bits-per-dim`; Papamakarios et al. 2017, Table 2).
 */
import { join } from 'node:path';
import { adam, bitsPerDim, initBackend, plotSvg, Rng, savePng, tf } from '@dgm-js/core-tensors';
import {
  forEachBatch,
  loadMnist,
  type ToyDensity,
  type ToyName,
  toyDensity,
  toyEntropy,
} from '@dgm-js/datasets';
import {
  ActNorm,
  AffineCoupling,
  alternatingMask,
  BatchNormBijector,
  type Bijector,
  dequantize,
  Flow,
  LogitTransform,
  MAF,
  Reverse,
  SplineCoupling,
  setTraining,
} from '@dgm-js/flows';
import { runPeer, torchVersion } from '../peer.js';
import { type SuiteResult, writeFigure } from '../report.js';
import { peerLabel, RowTable } from '../rows.js';
import { medianMs, progress } from '../timing.js';
import type { Profile, Suite } from './types.js';

const DENSITIES: readonly ToyName[] = ['8gaussians', 'checkerboard', 'moons', 'rings', 'pinwheel'];
/** The quick profile's densities (the main job's time): the target row's, the easiest, the hardest. */
const QUICK_DENSITIES: readonly ToyName[] = ['8gaussians', 'checkerboard', 'rings'];
type Family = 'realnvp' | 'maf' | 'nsf';
const FAMILIES: readonly Family[] = ['realnvp', 'maf', 'nsf'];

/** The recipe, shared with peers/torch_flows.py (keep them in step). */
const HIDDEN = [64, 64];
const BATCH = 512;
const LR = 3e-3;
const TEST_N = 20000;
const NSF_BINS = 16;
const NSF_BOUND = 3.5;

interface PeerFlows {
  torch: string;
  threads: number;
  /** family -> median ms per training step at batch 512 */
  step_ms: Record<string, number>;
  /** family -> checkerboard test NLL after the same number of steps as ours */
  checkerboard_nll: Record<string, number>;
  checkerboard_steps: Record<string, number>;
}

/**
 * The three families, each ending (on the data side) with an ActNorm that standardises the
 * data from the first batch.
 * - realnvp: 8 affine couplings, alternating masks, MLP 64-64 conditioners, tanh-clamped scale.
 * - maf: 5 MAF layers (MADE 64-64), reversing the order between layers.
 * - nsf: 4 rational-quadratic spline couplings, 16 bins on [-3.5, 3.5], linear tails.
 */
export function makeToyFlow(family: Family, rng: Rng): Flow {
  const layers: Bijector[] = [];
  if (family === 'realnvp') {
    for (let i = 0; i < 8; i++) {
      layers.push(
        new AffineCoupling(alternatingMask(2, (i % 2) as 0 | 1), { rng, hidden: HIDDEN }),
      );
    }
  } else if (family === 'maf') {
    for (let i = 0; i < 5; i++) {
      if (i > 0) layers.push(new Reverse(2));
      layers.push(new MAF(2, { rng, hidden: HIDDEN }));
    }
  } else {
    for (let i = 0; i < 4; i++) {
      layers.push(
        new SplineCoupling(alternatingMask(2, (i % 2) as 0 | 1), {
          rng,
          hidden: HIDDEN,
          bins: NSF_BINS,
          bound: NSF_BOUND,
        }),
      );
    }
  }
  layers.push(new ActNorm(2));
  return new Flow(layers, { dim: 2 });
}

interface TrainResult {
  steps: number;
  seconds: number;
  testNll: number;
  curve: [number, number][];
}

function meanNll(flow: Flow, x: Float32Array): number {
  const n = x.length / 2;
  const chunk = 5000;
  let s = 0;
  for (let i = 0; i < n; i += chunk) {
    const m = Math.min(chunk, n - i);
    s += tf.tidy(() => {
      const t = tf.tensor2d(x.subarray(2 * i, 2 * (i + m)), [m, 2]);
      return -tf.sum(flow.logProb(t)).dataSync()[0]!;
    });
  }
  return s / n;
}

/** Adam with a cosine learning-rate decay, fresh samples every step. */
function train(
  flow: Flow,
  density: ToyDensity,
  steps: number,
  seed: number,
  test: Float32Array,
): TrainResult {
  const rng = new Rng(seed);
  const opt = adam(LR);
  const setLr = (lr: number) => {
    (opt as unknown as { learningRate: number }).learningRate = lr;
  };
  const curve: [number, number][] = [];
  const every = Math.max(1, Math.floor(steps / 20));
  const t0 = performance.now();
  let acc = 0;
  let accN = 0;
  for (let s = 0; s < steps; s++) {
    setLr(0.5 * LR * (1 + Math.cos((Math.PI * s) / steps)));
    const x = density.sampleTensor(BATCH, rng);
    const loss = opt.minimize(() => tf.neg(tf.mean(flow.logProb(x))) as tf.Scalar, true);
    x.dispose();
    if ((s + 1) % every === 0 || s === steps - 1) {
      acc += loss!.dataSync()[0]!;
      accN++;
      curve.push([s + 1, acc / accN]);
      acc = 0;
      accN = 0;
    }
    loss?.dispose();
  }
  const seconds = (performance.now() - t0) / 1000;
  opt.dispose();
  return { steps, seconds, testNll: meanNll(flow, test), curve };
}

// ---------------------------------------------------------------------------------------------
// dequantized MNIST (full profile)

/**
 * Papamakarios et al. (2017)'s MNIST models: 5 layers, each followed by batch norm, the order
 * reversed (MAF) or the mask alternated (RealNVP) between layers, one hidden layer of 1024
 * units, and a logit transform (alpha 1e-6) on the data side.
 */
export function makeMnistFlow(family: 'realnvp' | 'maf', rng: Rng): Flow {
  const d = 784;
  const layers: Bijector[] = [];
  for (let i = 0; i < 5; i++) {
    if (family === 'maf') {
      if (i > 0) layers.push(new Reverse(d));
      layers.push(new MAF(d, { rng, hidden: [1024], sequential: 'incremental' }));
    } else {
      layers.push(
        new AffineCoupling(alternatingMask(d, (i % 2) as 0 | 1), { rng, hidden: [1024] }),
      );
    }
    layers.push(new BatchNormBijector(d));
  }
  layers.push(new LogitTransform({ alpha: 1e-6 }));
  return new Flow(layers, { dim: d });
}

/** What {@link trainMnist} measured. */
export interface MnistResult {
  steps: number;
  epochs: number;
  seconds: number;
  msPerStep: number;
  testBitsPerDim: number;
}

/**
 * Trains a {@link makeMnistFlow} model on uniformly dequantized MNIST (Adam, learning rate 1e-4
 * as the paper, batch 100) for `epochs` epochs (or `maxSteps`), then returns the test bits/dim
 * with one dequantization sample per test image (the batch norms in evaluation mode).
 */
export async function trainMnist(
  family: 'realnvp' | 'maf',
  opts: { epochs: number; maxSteps?: number; testSize?: number; seed?: number },
): Promise<MnistResult> {
  const { train, test } = await loadMnist({ flat: true });
  const rng = new Rng(opts.seed ?? 0);
  const flow = makeMnistFlow(family, rng);
  const opt = adam(1e-4);
  let steps = 0;
  const t0 = performance.now();
  try {
    await forEachBatch(
      train,
      { batchSize: 100, seed: opts.seed ?? 0, epochs: opts.epochs, fields: ['x'], dropLast: true },
      ({ tensors }) => {
        if (opts.maxSteps !== undefined && steps >= opts.maxSteps) return;
        const y = dequantize(tensors.x, { rng });
        const loss = opt.minimize(() => tf.neg(tf.mean(flow.logProb(y))) as tf.Scalar, true);
        y.dispose();
        steps++;
        if (steps % 100 === 0) {
          progress(
            `mnist/${family}: step ${steps}, train NLL ${loss!.dataSync()[0]!.toFixed(1)} nats, ${((performance.now() - t0) / steps).toFixed(0)} ms/step`,
          );
        }
        loss?.dispose();
      },
    );
    const seconds = (performance.now() - t0) / 1000;
    setTraining(flow, false);
    let nll = 0;
    let n = 0;
    const limit = opts.testSize ?? test.size;
    await forEachBatch(test, { batchSize: 500, shuffle: false, fields: ['x'] }, ({ tensors }) => {
      if (n >= limit) return;
      nll += tf.tidy(() => {
        const y = dequantize(tensors.x, { rng });
        return -tf.sum(flow.logProb(y)).dataSync()[0]!;
      });
      n += tensors.x.shape[0]!;
    });
    return {
      steps,
      epochs: opts.epochs,
      seconds,
      msPerStep: (seconds * 1000) / Math.max(1, steps),
      testBitsPerDim: bitsPerDim(nll / n, 784, { levels: 256 }),
    };
  } finally {
    opt.dispose();
    flow.dispose();
  }
}

// ---------------------------------------------------------------------------------------------
// density plots (PNG)

const VIRIDIS: [number, number, number][] = [
  [68, 1, 84],
  [72, 40, 120],
  [62, 74, 137],
  [49, 104, 142],
  [38, 130, 142],
  [31, 158, 137],
  [53, 183, 121],
  [109, 205, 89],
  [180, 222, 44],
  [253, 231, 37],
];

function colour(t: number): [number, number, number] {
  const u = Math.min(1, Math.max(0, t)) * (VIRIDIS.length - 1);
  const i = Math.min(VIRIDIS.length - 2, Math.floor(u));
  const f = u - i;
  const a = VIRIDIS[i]!;
  const b = VIRIDIS[i + 1]!;
  return [0, 1, 2].map((k) => Math.round(a[k]! + f * (b[k]! - a[k]!))) as [number, number, number];
}

const PX = 128;

function gridPoints(bounds: readonly [number, number, number, number]): Float32Array {
  const [x0, x1, y0, y1] = bounds;
  const pts = new Float32Array(2 * PX * PX);
  for (let r = 0; r < PX; r++) {
    for (let c = 0; c < PX; c++) {
      pts[2 * (r * PX + c)] = x0 + ((c + 0.5) * (x1 - x0)) / PX;
      pts[2 * (r * PX + c) + 1] = y1 - ((r + 0.5) * (y1 - y0)) / PX; // row 0 at the top
    }
  }
  return pts;
}

/** A viridis panel of `density`, scaled to `scale` (default its own maximum; values above clip). */
function panelFrom(density: Float64Array | Float32Array, scale?: number): Uint8Array {
  let max = 0;
  for (const v of density) if (v > max) max = v;
  if (scale !== undefined) max = scale;
  const out = new Uint8Array(PX * PX * 3);
  for (let i = 0; i < PX * PX; i++) {
    const [r, g, b] = colour(max > 0 ? density[i]! / max : 0);
    out[3 * i] = r;
    out[3 * i + 1] = g;
    out[3 * i + 2] = b;
  }
  return out;
}

/** Panels side by side with a 4-pixel white gap. */
async function writePanels(path: string, panels: Uint8Array[]): Promise<void> {
  const gap = 4;
  const width = panels.length * PX + (panels.length - 1) * gap;
  const data = new Uint8Array(width * PX * 3).fill(255);
  panels.forEach((p, k) => {
    for (let r = 0; r < PX; r++) {
      data.set(p.subarray(r * PX * 3, (r + 1) * PX * 3), (r * width + k * (PX + gap)) * 3);
    }
  });
  await savePng(path, { width, height: PX, channels: 3, data });
}

function plotBounds(d: ToyDensity): [number, number, number, number] {
  // a square view around the density's support
  const [x0, x1, y0, y1] = d.bounds;
  const h = Math.min(4.5, Math.max(x1 - x0, y1 - y0) / 2);
  const cx = (x0 + x1) / 2;
  const cy = (y0 + y1) / 2;
  return [cx - h, cx + h, cy - h, cy + h];
}

function flowDensityOnGrid(flow: Flow, pts: Float32Array): Float32Array {
  return tf.tidy(() => {
    const x = tf.tensor2d(pts, [PX * PX, 2]);
    return tf.exp(flow.logProb(x)).dataSync() as Float32Array;
  });
}

// ---------------------------------------------------------------------------------------------

function stepTimer(family: Family, density: ToyDensity): () => void {
  const rng = new Rng(99);
  const flow = makeToyFlow(family, rng);
  const opt = adam(1e-3);
  const x = density.sampleTensor(BATCH, rng);
  const step = () => {
    const loss = opt.minimize(() => tf.neg(tf.mean(flow.logProb(x))) as tf.Scalar, true);
    loss!.dataSync();
    loss!.dispose();
  };
  (step as unknown as { dispose: () => void }).dispose = () => {
    x.dispose();
    opt.dispose();
    flow.dispose();
  };
  return step;
}

export const flowsSuite: Suite = {
  name: 'flows',
  description:
    'normalizing flows (RealNVP, MAF, NSF) on 2-D toy densities: test NLL beside the exact floor, density plots, training throughput beside PyTorch',
  async run(profile: Profile, ctx): Promise<SuiteResult> {
    const info = await initBackend();
    const quick = profile === 'quick';
    // steps per (density, flow); the checkerboard spline flow gets a larger budget, since it is
    // the row with a stated target (within 0.15 nats of ln 32)
    const baseSteps: Record<Family, number> = quick
      ? { realnvp: 600, maf: 600, nsf: 300 }
      : { realnvp: 5000, maf: 5000, nsf: 5000 };
    const checkerNsfSteps = quick ? 1500 : 10000;
    const stepsFor = (d: ToyName, f: Family) =>
      d === 'checkerboard' && f === 'nsf' ? checkerNsfSteps : baseSteps[f];

    const peerSteps = Object.fromEntries(FAMILIES.map((f) => [f, stepsFor('checkerboard', f)]));
    progress(
      torchVersion()
        ? `PyTorch peer ${torchVersion()} running (alone, before ours)`
        : 'PyTorch peer absent (peer: null)',
    );
    const peer = await runPeer<PeerFlows>('torch_flows.py', [
      '--profile',
      profile,
      '--steps',
      JSON.stringify(peerSteps),
    ]).catch((e: Error) => {
      progress(`peer failed: ${e.message}`);
      return null;
    });
    const results = new RowTable({ peer: peerLabel(peer), echo: 3 });
    const notes: string[] = [`backend: ${info.summary}`];
    const figures: { title: string; path: string }[] = [];
    const add = (
      name: string,
      value: number,
      unit: string,
      peerValue?: number,
      note?: string,
      cost = true,
    ) => results.add(name, value, unit, { peer: peerValue, note, ratio: cost });

    // training throughput, measured right after the peer's (the machine's load drifts)
    const checker = toyDensity('checkerboard');
    for (const fam of FAMILIES) {
      const step = stepTimer(fam, checker);
      const ms = await medianMs(step, 5, quick ? 30 : 100);
      (step as unknown as { dispose: () => void }).dispose();
      add(
        `throughput/${fam}/train-step`,
        ms,
        'ms',
        peer?.step_ms?.[fam],
        `one Adam step, batch ${BATCH}, forward + backward + update + loss read-back`,
      );
    }

    const curves: { name: string; points: [number, number][] }[] = [];
    const summary: string[] = [];
    for (const name of quick ? QUICK_DENSITIES : DENSITIES) {
      const density = toyDensity(name);
      const floor = toyEntropy(density).value;
      add(
        `toy/${name}/floor`,
        floor,
        'nats',
        undefined,
        `entropy of the density (${density.exactEntropy !== null ? 'exact' : 'grid integration'})`,
      );
      const test = density.sample(TEST_N, new Rng(12345));
      const pts = gridPoints(plotBounds(density));
      const truth = density.logDensity(pts).map(Math.exp);
      let truthMax = 0;
      for (const v of truth) if (v > truthMax) truthMax = v;
      const panels = [panelFrom(truth)];
      for (const fam of FAMILIES) {
        const rng = new Rng(1000 + FAMILIES.indexOf(fam));
        const flow = makeToyFlow(fam, rng);
        const steps = stepsFor(name, fam);
        const r = train(flow, density, steps, 7, test);
        const peerNll = name === 'checkerboard' ? peer?.checkerboard_nll?.[fam] : undefined;
        add(
          `toy/${name}/${fam}/test-nll`,
          r.testNll,
          'nats',
          peerNll,
          `${steps} steps of batch ${BATCH} in ${r.seconds.toFixed(1)} s; gap to floor ${(r.testNll - floor).toFixed(3)} nats`,
          false,
        );
        summary.push(`${name}/${fam}: ${(r.testNll - floor).toFixed(3)}`);
        if (name === 'checkerboard') curves.push({ name: fam, points: r.curve });
        panels.push(panelFrom(flowDensityOnGrid(flow, pts), truthMax));
        flow.dispose();
      }
      const file = `flows-${name}.png`;
      await writePanels(join(ctx.resultsDir, 'figures', file), panels);
      figures.push({ title: `${name}: true density, RealNVP, MAF, NSF`, path: `figures/${file}` });
    }
    figures.push(
      await writeFigure(
        ctx.resultsDir,
        'flows-checkerboard-training.svg',
        'checkerboard: training NLL',
        plotSvg(
          [
            ...curves.map((c) => ({ name: c.name, points: c.points })),
            {
              name: 'floor ln 32',
              points: [
                [1, Math.log(32)],
                [checkerNsfSteps, Math.log(32)],
              ],
              dashed: true,
            },
          ],
          {
            title: 'checkerboard: training NLL (batch means) vs step; floor ln 32',
            xLabel: 'step',
            yLabel: 'NLL (nats)',
          },
        ),
      ),
    );

    // dequantized MNIST, full profile only (hours for the paper's budget; minutes per epoch here)
    const mnistEpochs = 2;
    if (!quick) {
      for (const fam of ['realnvp', 'maf'] as const) {
        const r = await trainMnist(fam, { epochs: mnistEpochs });
        add(
          `mnist/${fam}/test-bits-per-dim`,
          r.testBitsPerDim,
          'bits/dim',
          undefined,
          `${r.epochs} epochs (${r.steps} steps of batch 100, ${r.msPerStep.toFixed(0)} ms/step); Papamakarios et al. (2017) train to convergence with early stopping`,
          false,
        );
      }
    }

    notes.push(
      `recipe: Adam, learning rate ${LR} with cosine decay to 0, batch ${BATCH} of fresh samples each step, test NLL on ${TEST_N} held-out samples (seed 12345); models: realnvp = 8 affine couplings (MLP ${HIDDEN.join('-')}, tanh-clamped log-scale), maf = 5 MAF layers (MADE ${HIDDEN.join('-')}) with reversals, nsf = 4 rational-quadratic spline couplings (${NSF_BINS} bins on [-${NSF_BOUND}, ${NSF_BOUND}], linear tails, MLP ${HIDDEN.join('-')}); each ends with an ActNorm (data-initialised)`,
      `gap to the floor (nats): ${summary.join(', ')}`,
      quick
        ? `quick profile: ${QUICK_DENSITIES.join(', ')} only, ${baseSteps.realnvp} / ${baseSteps.maf} / ${baseSteps.nsf} steps (realnvp / maf / nsf; ${checkerNsfSteps} for the checkerboard spline flow); the full profile trains all five densities for ${5000} steps`
        : `full profile: all five densities, ${baseSteps.realnvp} steps per flow (${checkerNsfSteps} for the checkerboard spline flow)`,
      'density plots: exp(log p) on a 128 x 128 grid (viridis), every panel on the scale of the true density (values above its maximum clip)',
      peer
        ? `peer: PyTorch ${peer.torch} CPU, ${peer.threads} thread, the same models and recipe (its own samples of the same densities), run alone before ours; the checkerboard NLL rows carry its test NLL as the peer value (no ratio)`
        : 'peer: PyTorch not found at /usr/bin/python3 (run apps/bench/scripts/install-peer.sh); peer columns are empty',
      quick
        ? 'dequantized MNIST bits/dim (RealNVP / MAF, Papamakarios et al. 2017, Table 2) runs in the full profile only'
        : `dequantized MNIST: RealNVP (5) and MAF (5) as in Papamakarios et al. (2017) (one hidden layer of 1024, batch norm between layers, logit transform with alpha 1e-6, Adam 1e-4, batch 100) but trained for only ${mnistEpochs} epochs, not to convergence: the bits/dim are upper bounds far from the paper's (Table 2); test bits/dim with one uniform dequantization sample per image`,
    );
    return {
      suite: 'flows',
      profile,
      backend: info.name,
      date: new Date().toISOString(),
      rows: results.rows,
      notes,
      figures,
    };
  },
};
