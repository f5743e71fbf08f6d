/**
 * The MNIST part of suite `gan` (see gan.ts): an unconditional DCGAN and a conditional one
 * (one-hot label into the generator, projection critic) trained with @dgm-js/gan's GanTrainer,
 * scored with @dgm-js/eval's sample-quality metrics through the shipped MNIST classifier, and the
 * DCGAN training step timed against a PyTorch peer of the same step (peers/torch_gan.py).
 *
 * Rows: `mnist/dcgan/<loss>/{inception-score,mode-score,fid}`, `mnist/cdcgan/<loss>/...` plus
 * `mnist/cdcgan/<loss>/label-accuracy` (the classifier's agreement with the conditioning label),
 * and `mnist/dcgan/step-ms` with the peer's value and the ratio.
 */
import { join } from 'node:path';
import { adam, type Rng, Rng as RngClass, saveImageGrid, tf } from '@dgm-js/core-tensors';
import { getBatch, loadMnist } from '@dgm-js/datasets';
import {
  classifierOutputs,
  frechetFromFeatures,
  inceptionScore,
  loadMnistClassifier,
  modeScore,
  type ShippedImageClassifier,
} from '@dgm-js/eval';
import {
  DcganCritic,
  DcganGenerator,
  type GanLossName,
  GanTrainer,
  imageGridSaver,
  type PenaltyOption,
} from '@dgm-js/gan';
import { runPeer, torchVersion } from '../peer.js';
import type { Figure, Row } from '../report.js';
import { peerLabel, RowTable } from '../rows.js';
import { progress } from '../timing.js';
import type { Profile } from './types.js';

/** CPU milliseconds this process has used (user + system). */
function cpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

interface Recipe {
  loss: GanLossName;
  penalty?: PenaltyOption;
  nCritic: number;
  spectralNorm?: boolean;
  label: string;
}

interface Settings {
  /** Training images: the first N of MNIST's training set. */
  trainImages: number;
  steps: number;
  batch: number;
  latent: number;
  /** DcganGenerator channels, DcganCritic channels. */
  gChannels: [number, number];
  dChannels: [number, number];
  lr: number;
  /** Decay of the generator's EMA (the scored weights). */
  emaDecay: number;
  /** Generated images scored, and real test images as FID's reference. */
  evalSamples: number;
  recipes: Recipe[];
  /** Recipes of the conditional model. */
  conditionalRecipes: Recipe[];
  /** Timed DCGAN steps (after 3 warm-up steps), each side. */
  stepIters: number;
  /** Sample grids over training (full profile). */
  gridsEvery: number | undefined;
}

const NS: Recipe = { loss: 'non-saturating', nCritic: 1, label: 'no penalty' };
const SETTINGS: Record<Profile, Settings> = {
  // quick: a small DCGAN, a few hundred steps on a 10k subset: a smoke test of the whole pipeline
  // (training, EMA, scoring) whose scores show progress, not a converged model
  quick: {
    trainImages: 10000,
    steps: 700,
    batch: 64,
    latent: 64,
    gChannels: [64, 32],
    dChannels: [32, 64],
    lr: 5e-4,
    emaDecay: 0.99,
    evalSamples: 2000,
    recipes: [NS],
    conditionalRecipes: [NS],
    stepIters: 15,
    gridsEvery: undefined,
  },
  // full: the default DCGAN (G 128-64, D 64-128) for 20 epochs of all 60000 images per recipe
  full: {
    trainImages: 60000,
    steps: Math.round((20 * 60000) / 64),
    batch: 64,
    latent: 64,
    gChannels: [128, 64],
    dChannels: [64, 128],
    lr: 2e-4,
    emaDecay: 0.999,
    evalSamples: 10000,
    recipes: [
      NS,
      { loss: 'hinge', nCritic: 1, spectralNorm: true, label: 'spectral norm' },
      {
        loss: 'wasserstein',
        penalty: { kind: 'wgan-gp', weight: 10 },
        nCritic: 5,
        label: 'WGAN-GP (lambda 10, 5 critic steps)',
      },
    ],
    conditionalRecipes: [NS],
    stepIters: 50,
    gridsEvery: 3750,
  },
};

type Images = Awaited<ReturnType<typeof loadMnist>>['train'];

/** Real batches drawn with replacement from the first `n` images, by the trainer's seed stream. */
function mnistData(ds: Images, n: number, batch: number, conditional: boolean) {
  return (rng: Rng) => {
    const idx = Array.from({ length: batch }, () => Math.floor(rng.float() * n));
    const b = getBatch(ds, idx, { fields: ['x', 'y'] });
    if (conditional) return { x: b.x, labels: b.y };
    b.y.dispose();
    return b.x;
  };
}

/** The DCGAN training step's CPU time (median of `iters` after 3 warm-up steps), ms. */
async function stepCpuMs(iters: number): Promise<number> {
  const rng = new RngClass(0);
  const generator = new DcganGenerator({ latentDim: 64, rng });
  const critic = new DcganCritic({ rng });
  const x = tf.randomUniform([64, 28, 28, 1], 0, 1, 'float32', 1);
  const trainer = new GanTrainer({
    generator,
    critic,
    loss: 'non-saturating',
    data: () => tf.clone(x),
    divergence: false,
  });
  try {
    await trainer.fit({ steps: 3 });
    const times: number[] = [];
    for (let i = 0; i < iters; i++) {
      const c0 = cpuMs();
      await trainer.fit({ steps: 4 + i });
      times.push(cpuMs() - c0);
    }
    times.sort((a, b) => a - b);
    const mid = Math.floor(times.length / 2);
    return times.length % 2 ? times[mid]! : (times[mid - 1]! + times[mid]!) / 2;
  } finally {
    trainer.dispose();
    generator.dispose();
    critic.dispose();
    x.dispose();
  }
}

interface PeerGan {
  torch: string;
  threads: number;
  blas_core: string | null;
  iters: number;
  dcgan_step_cpu_ms: number;
  dcgan_step_wall_ms: number;
}

/** Sample-quality scores of `images` (owned by the caller) against the real test features. */
async function score(
  clf: ShippedImageClassifier,
  images: tf.Tensor,
  real: { features: Float64Array; n: number; d: number },
) {
  const out = await classifierOutputs(clf, images, { numSamples: images.shape[0] });
  const is = inceptionScore(out.logProbs, out.n, 10, 10);
  const ms = modeScore(out.logProbs, out.n, 10, { marginal: clf.labelMarginal });
  const msPen = modeScore(out.logProbs, out.n, 10, {
    marginal: clf.labelMarginal,
    form: 'marginal-penalty',
  });
  const fid = frechetFromFeatures(out.features, out.n, real.features, real.n, real.d, {
    bootstrap: 5,
    seed: 0,
  });
  const argmax: number[] = [];
  for (let i = 0; i < out.n; i++) {
    let best = 0;
    for (let c = 1; c < 10; c++) {
      if (out.logProbs[i * 10 + c]! > out.logProbs[i * 10 + best]!) best = c;
    }
    argmax.push(best);
  }
  return { is, ms, msPen, fid, argmax };
}

/** What the MNIST part adds to the suite's result. */
export interface MnistGanResult {
  rows: Row[];
  figures: Figure[];
  notes: string[];
  /** CPU seconds of this process (the peer's own are not counted). */
  cpuSeconds: number;
}

/** Trains and scores the MNIST DCGANs and times the step against the peer. */
export async function runMnistGan(profile: Profile, resultsDir: string): Promise<MnistGanResult> {
  const add = { figures: [] as Figure[], notes: [] as string[] };
  const s = SETTINGS[profile];
  const cpu0 = cpuMs();
  // the peer first and alone, so the two never share the cores
  const peer = await runPeer<PeerGan>('torch_gan.py', [
    '--profile',
    profile,
    '--iters',
    String(s.stepIters),
  ]).catch((e: Error) => {
    progress(`peer failed: ${e.message}`);
    return null;
  });
  const results = new RowTable({ peer: peerLabel(peer), echo: 2 });
  const ours = await stepCpuMs(s.stepIters);
  results.add('mnist/dcgan/step-ms', ours, 'ms', {
    peer: peer?.dcgan_step_cpu_ms,
    note: `CPU time per step (process.cpuUsage / time.process_time), median of ${s.stepIters} after 3 warm-up steps each side: one critic update + one generator update, batch 64, latent 64, G 64-(7x7x128)-ConvT 64-ConvT 1, D Conv 64-Conv 128-linear, non-saturating loss, Adam(2e-4, 0.5); ours is GanTrainer.fit (includes its loss/gradient-norm read-back)${peer ? `; peer wall median ${peer.dcgan_step_wall_ms.toFixed(1)} ms` : ''}`,
  });

  const { train, test } = await loadMnist();
  const clf = await loadMnistClassifier();
  const dir = join(resultsDir, 'gan');
  try {
    // the real reference: random test images' classifier features
    const nRef = Math.min(s.evalSamples, test.size);
    const refIdx = new RngClass(7);
    const idx = Array.from({ length: nRef }, () => Math.floor(refIdx.float() * test.size));
    const refX = getBatch(test, idx, { fields: ['x'] }).x;
    const ref = await classifierOutputs(clf, refX, { numSamples: nRef });
    refX.dispose();
    const real = { features: ref.features, n: ref.n, d: ref.featureDim };
    const ds = train.slice(0, Math.min(s.trainImages, train.size));
    for (const conditional of [false, true]) {
      const model = conditional ? 'cdcgan' : 'dcgan';
      for (const r of conditional ? s.conditionalRecipes : s.recipes) {
        const rng = new RngClass(0);
        const cls = conditional ? { numClasses: 10 } : {};
        const generator = new DcganGenerator({
          latentDim: s.latent,
          channels: s.gChannels,
          rng,
          ...cls,
        });
        const critic = new DcganCritic({
          channels: s.dChannels,
          rng,
          ...cls,
          ...(r.spectralNorm ? { spectralNorm: true } : {}),
        });
        const gOpt = adam(s.lr, 0.5, 0.999);
        const dOpt = adam(s.lr, 0.5, 0.999);
        const key = `${model}-${r.loss}`;
        const trainer = new GanTrainer({
          generator,
          critic,
          loss: r.loss,
          ...(r.penalty ? { penalty: r.penalty } : {}),
          nCritic: r.nCritic,
          data: mnistData(ds, ds.size, s.batch, conditional),
          generatorOptimizer: gOpt,
          criticOptimizer: dOpt,
          ema: { decay: s.emaDecay },
          seed: 0,
          divergence: false,
          ...(s.gridsEvery
            ? {
                samples: {
                  n: 100,
                  every: s.gridsEvery,
                  save: imageGridSaver(join(dir, `${key}-progress`), { cols: 10 }),
                },
              }
            : {}),
          onStep: ({ step }) => {
            if (step % 100 === 0) progress(`mnist/${model}/${r.loss}: step ${step}/${s.steps}`);
          },
        });
        try {
          const c0 = cpuMs();
          await trainer.fit({ steps: s.steps });
          const trainCpu = (cpuMs() - c0) / 1000;
          const n = s.evalSamples;
          const labels = conditional
            ? tf.tensor1d(
                Array.from({ length: n }, (_, i) => i % 10),
                'int32',
              )
            : undefined;
          const images = await trainer.withEma(() =>
            tf.tidy(() => generator.forward(generator.sampleLatent(n, new RngClass(99)), labels)),
          );
          const sc = await score(clf, images, real);
          images.dispose();
          labels?.dispose();
          const base = `mnist/${model}/${r.loss}`;
          const what = `${n} samples of the EMA generator (decay ${s.emaDecay}) after ${s.steps} steps (${trainCpu.toFixed(0)} s CPU), ${r.label}`;
          results.add(`${base}/inception-score`, sc.is.mean, 'score', {
            note: `${what}; 10 splits, std ${sc.is.std.toFixed(3)} (real test images: 9.59)`,
          });
          results.add(`${base}/mode-score`, sc.ms.mean, 'score', {
            note: `Che et al. form, p* = training-label marginal (equals the Inception score: see eval); IS * exp(-KL(p(y) || p*)) form ${sc.msPen.mean.toFixed(3)}`,
          });
          results.add(`${base}/fid`, sc.fid.value, 'FID-MNIST', {
            note: `against ${real.n} random test images, the shipped classifier's 64 features; bootstrap stderr ${sc.fid.stderr!.toFixed(3)} (real test vs train: ~0.8)`,
          });
          if (conditional) {
            const hit = sc.argmax.filter((c, i) => c === i % 10).length;
            results.add(`${base}/label-accuracy`, (100 * hit) / n, '%', {
              note: 'the classifier labels the sample with its conditioning label (chance 10%)',
            });
          }
          // a sample grid from the EMA generator: 100 images (rows = classes for the cDCGAN)
          const gridLabels = conditional
            ? tf.tensor1d(
                Array.from({ length: 100 }, (_, i) => Math.floor(i / 10)),
                'int32',
              )
            : undefined;
          const grid = await trainer.withEma(() =>
            tf.tidy(() =>
              generator.forward(generator.sampleLatent(100, new RngClass(5)), gridLabels),
            ),
          );
          await saveImageGrid(join(dir, `${key}-samples.png`), grid, { cols: 10 });
          grid.dispose();
          gridLabels?.dispose();
          add.figures.push({
            title: `MNIST ${conditional ? 'conditional DCGAN (row k: label k)' : 'DCGAN'}, ${r.loss}: 100 samples of the EMA generator after ${s.steps} steps`,
            path: `gan/${key}-samples.png`,
          });
          // samples over training: the EMA generator on the run's fixed noise
          for (let k = s.gridsEvery ?? Infinity; k <= s.steps; k += s.gridsEvery ?? Infinity) {
            add.figures.push({
              title: `MNIST ${model}, ${r.loss}: fixed-noise samples of the EMA generator at step ${k}`,
              path: `gan/${key}-progress/step-${String(k).padStart(8, '0')}-ema.png`,
            });
          }
        } finally {
          trainer.dispose();
          generator.dispose();
          critic.dispose();
          gOpt.dispose();
          dOpt.dispose();
        }
      }
    }
  } finally {
    clf.dispose();
  }
  const cpu = (cpuMs() - cpu0) / 1000;
  add.notes.push(
    `mnist (${profile}): the first ${s.trainImages} training images, batches of ${s.batch} drawn with replacement; one seed (0); DcganGenerator (latent ${s.latent}, channels ${s.gChannels.join('-')}, transposed convs, sigmoid output) and DcganCritic (channels ${s.dChannels.join('-')}, leaky ReLU 0.2); the cDCGAN concatenates a one-hot label to z and uses a projection critic; Adam(${s.lr}, 0.5, 0.999) for both players, ${s.steps} steps; scores of the EMA generator (decay ${s.emaDecay}) through @dgm-js/eval's shipped classifier`,
    profile === 'quick'
      ? `mnist quick: a smaller network and ${s.steps} steps on 10k images is a smoke test of training + scoring (is the pipeline right, are the scores moving), not a converged DCGAN: compare quick scores only with quick scores; the full profile trains the default DCGAN for 20 epochs of 60000 images per recipe`
      : 'mnist full: the default DCGAN, 20 epochs of 60000 images per recipe',
    `mnist: ${cpu.toFixed(0)} s of CPU in this process for the MNIST part (training, scoring, the step timing; the PyTorch peer's own CPU not counted)`,
    peer
      ? `peer: PyTorch ${peer.torch} CPU, ${peer.threads} thread, OpenBLAS kernel ${peer.blas_core ?? 'unknown'}, run alone before ours`
      : `peer: ${torchVersion() ? 'the PyTorch peer failed' : 'PyTorch not found at /usr/bin/python3 (run apps/bench/scripts/install-peer.sh)'}; mnist/dcgan/step-ms has no ratio`,
  );
  return { rows: results.rows, figures: add.figures, notes: add.notes, cpuSeconds: cpu };
}
