/**
 * Suite `gan`: mode collapse on the 2-D Gaussian toys, with VEEGAN's metrics (Srivastava et al.
 * 2017, section 5.1; see @dgm-js/gan's `modeCoverage`): for each GAN loss, the number of modes
 * covered and the percentage of high-quality samples (within 3 std of the nearest mode) among
 * 2500 samples of the trained generator (its EMA weights), averaged over seeds. Then MNIST (see
 * gan-mnist.ts): an unconditional and a conditional DCGAN scored with @dgm-js/eval's
 * sample-quality metrics, and the DCGAN step timed against a PyTorch peer.
 *
 * Rows: `toy/8gaussians/<loss>/modes-covered`, `toy/8gaussians/<loss>/high-quality-pct`, the same
 * for `toy/25gaussians` (full profile); `mnist/dcgan/<loss>/{inception-score,mode-score,fid}`,
 * `mnist/cdcgan/<loss>/...` (+ `label-accuracy`), `mnist/dcgan/step-ms` (with the peer's).
 * Figures: the EMA generator's samples over the modes' 3-std circles; MNIST sample grids.
 */
import { adam, initBackend, Rng } from '@dgm-js/core-tensors';
import {
  type GanLossName,
  GanTrainer,
  type GaussianModes,
  gridModes,
  MlpCritic,
  MlpGenerator,
  modeCoverage,
  modeSampler,
  type PenaltyOption,
  ringModes,
} from '@dgm-js/gan';
import { type SuiteResult, writeFigure } from '../report.js';
import { RowTable } from '../rows.js';
import { progress } from '../timing.js';
import { runMnistGan } from './gan-mnist.js';
import type { Profile, Suite } from './types.js';

/**
 * Per loss, the critic's regulariser: R1 (gamma 1) for the logistic, hinge and least-squares
 * losses, so they differ only in the loss; WGAN-GP for the Wasserstein loss (it needs a
 * Lipschitz critic), with lambda 0.1 and 5 critic steps as in Gulrajani et al.'s own toy script
 * (gan_toy.py: "Smaller lambda seems to help for toy tasks specifically"). Spectral norm is not
 * used: a 1-Lipschitz critic cannot resolve modes of std 0.02 in this many steps (hinge + SN
 * covered 0 of 8 modes in a trial run).
 */
const RECIPES: Record<
  GanLossName,
  { penalty?: PenaltyOption; nCritic: number; spectralNorm?: boolean; label: string }
> = {
  minimax: { penalty: { kind: 'r1', gamma: 1 }, nCritic: 1, label: 'R1 (gamma 1)' },
  'non-saturating': { penalty: { kind: 'r1', gamma: 1 }, nCritic: 1, label: 'R1 (gamma 1)' },
  wasserstein: {
    penalty: { kind: 'wgan-gp', weight: 0.1 },
    nCritic: 5,
    label: 'WGAN-GP (lambda 0.1, 5 critic steps)',
  },
  hinge: { penalty: { kind: 'r1', gamma: 1 }, nCritic: 1, label: 'R1 (gamma 1)' },
  'least-squares': { penalty: { kind: 'r1', gamma: 1 }, nCritic: 1, label: 'R1 (gamma 1)' },
};
const LOSSES = Object.keys(RECIPES) as GanLossName[];

const HIDDEN = [128, 128, 128];
const LATENT = 2;
const BATCH = 256;
const LR = 1e-3;
const EMA = 0.99;
const EVAL_N = 2500;

interface Run {
  modes: number;
  hq: number;
  seconds: number;
  samples: Float32Array;
}

/** Trains one (toy, loss, seed) and measures the EMA generator's coverage on 2500 samples. */
export async function trainToy(
  toy: GaussianModes,
  loss: GanLossName,
  seed: number,
  steps: number,
): Promise<Run> {
  const r = RECIPES[loss];
  const rng = new Rng(seed);
  const generator = new MlpGenerator({ latentDim: LATENT, outputShape: 2, hidden: HIDDEN, rng });
  const critic = new MlpCritic({
    inputShape: 2,
    hidden: HIDDEN,
    rng,
    ...(r.spectralNorm ? { spectralNorm: true } : {}),
  });
  const gOpt = adam(LR, 0.5, 0.999);
  const dOpt = adam(LR, 0.5, 0.999);
  const trainer = new GanTrainer({
    generator,
    critic,
    loss,
    ...(r.penalty ? { penalty: r.penalty } : {}),
    nCritic: r.nCritic,
    data: modeSampler(toy, BATCH),
    generatorOptimizer: gOpt,
    criticOptimizer: dOpt,
    ema: { decay: EMA },
    seed,
    divergence: false,
    // cosine decay of both learning rates to 0 over the run
    onStep: ({ step }) => {
      const lr = 0.5 * LR * (1 + Math.cos((Math.PI * step) / steps));
      (gOpt as unknown as { learningRate: number }).learningRate = lr;
      (dOpt as unknown as { learningRate: number }).learningRate = lr;
    },
  });
  const t0 = performance.now();
  try {
    await trainer.fit({ steps });
    const s = await trainer.withEma(() => generator.generate(EVAL_N, new Rng(10_000 + seed)));
    const samples = s.dataSync() as Float32Array;
    const c = modeCoverage(samples, toy);
    s.dispose();
    return {
      modes: c.modesCovered,
      hq: 100 * c.highQualityFraction,
      seconds: (performance.now() - t0) / 1000,
      samples,
    };
  } finally {
    trainer.dispose();
    generator.dispose();
    critic.dispose();
    gOpt.dispose();
    dOpt.dispose();
  }
}

/** Samples (dots) over each mode's 3-std circle, one panel per loss. */
function scatterSvg(
  toy: GaussianModes,
  panels: { title: string; samples: Float32Array }[],
): string {
  const size = 220;
  const pad = 10;
  const ext = Math.max(...toy.centres.flatMap(([x, y]) => [Math.abs(x), Math.abs(y)])) + 0.6;
  const sx = (x: number) => pad + ((x + ext) / (2 * ext)) * (size - 2 * pad);
  const sy = (y: number) => pad + ((ext - y) / (2 * ext)) * (size - 2 * pad);
  const width = panels.length * size;
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${size + 24}" viewBox="0 0 ${width} ${size + 24}" font-family="sans-serif" font-size="11">`,
    `<rect width="${width}" height="${size + 24}" fill="white"/>`,
  ];
  panels.forEach((p, k) => {
    parts.push(`<g transform="translate(${k * size},0)">`);
    parts.push(
      `<rect x="${pad}" y="${pad}" width="${size - 2 * pad}" height="${size - 2 * pad}" fill="none" stroke="#ccc"/>`,
    );
    const r = (3 * toy.std * (size - 2 * pad)) / (2 * ext);
    for (const [x, y] of toy.centres) {
      parts.push(
        `<circle cx="${sx(x).toFixed(1)}" cy="${sy(y).toFixed(1)}" r="${Math.max(r, 1).toFixed(2)}" fill="#d0e4f5" stroke="#4a90d9" stroke-width="0.6"/>`,
      );
    }
    for (let i = 0; i < p.samples.length / 2; i++) {
      const x = p.samples[2 * i]!;
      const y = p.samples[2 * i + 1]!;
      if (Math.abs(x) > ext || Math.abs(y) > ext) continue;
      parts.push(
        `<circle cx="${sx(x).toFixed(1)}" cy="${sy(y).toFixed(1)}" r="0.7" fill="#c0392b" fill-opacity="0.5"/>`,
      );
    }
    parts.push(`<text x="${size / 2}" y="${size + 16}" text-anchor="middle">${p.title}</text></g>`);
  });
  parts.push('</svg>');
  return parts.join('\n');
}

export const ganSuite: Suite = {
  name: 'gan',
  description:
    'GAN losses on the 8-Gaussian ring and 25-Gaussian grid (modes covered, % high-quality samples: VEEGAN metrics); MNIST DCGAN and conditional DCGAN (Inception / MODE score, FID-MNIST); the DCGAN step against PyTorch',
  async run(profile: Profile, ctx): Promise<SuiteResult> {
    const info = await initBackend();
    const quick = profile === 'quick';
    const seeds = quick ? [0] : [0, 1, 2, 3, 4];
    // quick: the ring only (the issue's coverage target), 2000 steps; the 25-Gaussian grid does not
    // converge in a quick budget (2% high-quality samples at 1000 steps), so it runs in full only
    const steps = quick ? 2000 : 5000;
    const toys = [
      ['8gaussians', ringModes()],
      ['25gaussians', gridModes()],
    ] as const;
    const results = new RowTable({ echo: 1 });
    const figures = [];
    const notes = [`backend: ${info.summary}`];
    for (const [name, toy] of quick ? toys.slice(0, 1) : toys) {
      const panels: { title: string; samples: Float32Array }[] = [];
      for (const loss of LOSSES) {
        const runs: Run[] = [];
        for (const seed of seeds) {
          const r = await trainToy(toy, loss, seed, steps);
          progress(
            `${name}/${loss} seed ${seed}: ${r.modes}/${toy.centres.length} modes, ${r.hq.toFixed(1)}% high quality (${r.seconds.toFixed(0)} s)`,
          );
          runs.push(r);
        }
        const mean = (f: (r: Run) => number) => runs.reduce((s, r) => s + f(r), 0) / runs.length;
        const per = (f: (r: Run) => number) => runs.map((r) => f(r).toFixed(1)).join(', ');
        const seconds = mean((r) => r.seconds);
        results.add(
          `toy/${name}/${loss}/modes-covered`,
          mean((r) => r.modes),
          'modes',
          {
            note: `of ${toy.centres.length}; mean over ${seeds.length} seed(s) [${per((r) => r.modes)}]; ${RECIPES[loss].label}; ${steps} steps, ${seconds.toFixed(0)} s per run`,
          },
        );
        results.add(
          `toy/${name}/${loss}/high-quality-pct`,
          mean((r) => r.hq),
          '%',
          {
            note: `within 3 std of the nearest mode, ${EVAL_N} samples; mean over ${seeds.length} seed(s) [${per((r) => r.hq)}]`,
          },
        );
        panels.push({ title: `${loss} (seed ${seeds[0]})`, samples: runs[0]!.samples });
      }
      figures.push(
        await writeFigure(
          ctx.resultsDir,
          `gan-${name}.svg`,
          `${name}: ${EVAL_N} samples of each loss's EMA generator (red) over the modes' 3-std circles (blue)`,
          scatterSvg(toy, panels),
        ),
      );
    }
    notes.push(
      `toys: 8gaussians = ringModes() (8 modes on a circle of radius 2, std 0.02), 25gaussians = gridModes() (centres (-4 + 2i, -4 + 2j), std 0.05); fresh batches of ${BATCH} each step`,
      `models: MLP generator ${LATENT}-${HIDDEN.join('-')}-2 (ReLU), MLP critic 2-${HIDDEN.join('-')}-1 (leaky ReLU 0.2, double-backprop safe); Adam(${LR}, beta1 0.5, beta2 0.999) for both, cosine decay to 0 over ${steps} steps${quick ? ' (quick: the 8-Gaussian ring only; the 25-Gaussian grid runs in the full profile)' : ''}; EMA of the generator (decay ${EMA}) evaluated`,
      `regularisers: ${LOSSES.map((l) => `${l}: ${RECIPES[l].label}`).join('; ')}`,
      "metrics: VEEGAN's (Srivastava et al. 2017, section 5.1): high quality = within 3 std of the nearest mode centre (ceiling 1 - e^-4.5 = 98.9% for exact samples); a mode is covered when it is the nearest centre of at least one high-quality sample; 2500 samples",
    );
    const mnist = await runMnistGan(profile, ctx.resultsDir);
    figures.push(...mnist.figures);
    notes.push(...mnist.notes);
    return {
      suite: 'gan',
      profile,
      backend: info.name,
      date: new Date().toISOString(),
      rows: [...results.rows, ...mnist.rows],
      notes,
      figures,
    };
  },
};
