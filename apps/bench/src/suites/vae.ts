/**
 * The `vae` suite:
 * 1. Gaussian MLP VAE (784-400-40, Rezende & Mohamed 2015 report <= 89.9 nats) on binarized
 *    MNIST: test -ELBO and the IWAE log-likelihood estimate (k = 5000 in the full profile), with
 *    IWAE k = 5 and k = 50 training beside it (Burda et al. 2016);
 * 2. the Gumbel-Softmax comparison of Jang, Gu & Poole (2017, Table 1): the categorical (20 x 10)
 *    and Bernoulli (200) VAEs, 784-512-256 MLPs, trained with each estimator on identical budgets
 *    (same steps, batches, learning rate, initial weights), test -ELBO with exact samples;
 * 3. training throughput beside the same models in PyTorch.
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { adam, initBackend, Rng, tf } from '@dgm-js/core-tensors';
import { batches, getBatch, loadBinarizedMnist } from '@dgm-js/datasets';
import { type EstimatorName, estimatorByName } from '@dgm-js/estimators';
import { estimateLogLikelihood, evaluateElbo } from '@dgm-js/eval';
import {
  BernoulliVAE,
  CategoricalVAE,
  GaussianVAE,
  saveInterpolations,
  saveReconstructions,
  saveSampleGrid,
  type TrainOptions,
  type VAE,
} from '@dgm-js/vae';
import { runPeer, torchVersion } from '../peer.js';
import type { Figure, SuiteResult } from '../report.js';
import { peerLabel, RowTable } from '../rows.js';
import { medianMs, progress } from '../timing.js';
import type { Profile, Suite } from './types.js';

interface PeerVae {
  torch: string;
  threads: number;
  gaussian_examples_per_s: number;
  categorical_examples_per_s: number;
}

/** Jang, Gu & Poole (2017), Table 1: test -ELBO (nats), binarized MNIST. */
const PAPER: Record<'categorical' | 'bernoulli', Partial<Record<EstimatorName, number>>> = {
  categorical: {
    'score-function': 110.6,
    'straight-through': 110.9,
    'gumbel-softmax': 101.5,
    'st-gumbel-softmax': 107.8,
  },
  bernoulli: {
    'score-function': 112.2,
    'straight-through': 116.0,
    'gumbel-softmax': 105.0,
    'st-gumbel-softmax': 111.5,
  },
};
const PAPER_OTHERS = {
  categorical: 'DARN 128.8, MuProp 107.0, annealed ST 107.8',
  bernoulli: 'DARN 110.9, MuProp 109.7, annealed ST 111.5',
};
const JANG_ESTIMATORS: EstimatorName[] = [
  'score-function',
  'nvil',
  'straight-through',
  'gumbel-softmax',
  'st-gumbel-softmax',
  'rebar',
  'relax',
];

interface Settings {
  trainSize: number;
  testSize: number;
  batch: number;
  gaussSteps: number;
  iwaeK: number;
  iwaeChunk: number;
  iwaeTest: number;
  jangSteps: number;
  throughputSteps: number;
}

const SETTINGS: Record<Profile, Settings> = {
  quick: {
    trainSize: 10000,
    testSize: 1000,
    batch: 100,
    gaussSteps: 200,
    iwaeK: 100,
    iwaeChunk: 100,
    iwaeTest: 300,
    jangSteps: 200,
    throughputSteps: 10,
  },
  full: {
    trainSize: 60000,
    testSize: 10000,
    batch: 100,
    gaussSteps: 300000, // ~500 epochs at batch 100
    iwaeK: 5000,
    iwaeChunk: 250,
    iwaeTest: 10000,
    jangSteps: 100000, // ~167 epochs
    throughputSteps: 50,
  },
};

/** Trains `vae` for `steps` Adam steps on batches of `train` (dynamic binarization, seeded order). */
async function train(
  vae: VAE,
  ds: Parameters<typeof batches>[0],
  steps: number,
  batch: number,
  opts: TrainOptions,
  label: string,
): Promise<number> {
  const opt = adam(1e-3);
  const rng = new Rng(1);
  const it = batches(ds, {
    batchSize: batch,
    seed: 2,
    epochs: Number.POSITIVE_INFINITY,
    fields: ['x'],
    dropLast: true,
  });
  let step = 0;
  const t0 = performance.now();
  let last = t0;
  for (const b of it) {
    if (step >= steps) {
      b.dispose();
      break;
    }
    const x = (b.tensors as { x: tf.Tensor }).x;
    tf.tidy(() => {
      opt.minimize(() => vae.loss(x, { ...opts, rng, step }).loss);
    });
    b.dispose();
    step++;
    if (performance.now() - last > 20000) {
      last = performance.now();
      progress(`  ${label}: step ${step}/${steps}`);
    }
  }
  opt.dispose();
  return (performance.now() - t0) / 1000;
}

export const vaeSuite: Suite = {
  name: 'vae',
  description:
    'VAEs on binarized MNIST: Gaussian VAE test -ELBO / IWAE NLL (+ IWAE k=5, 50 training), the Jang et al. 2017 estimator table, throughput beside PyTorch',
  async run(profile: Profile, { resultsDir }): Promise<SuiteResult> {
    const info = await initBackend();
    const S = SETTINGS[profile];
    const figDir = join(resultsDir, 'vae');
    await mkdir(figDir, { recursive: true });
    const notes: string[] = [];
    const figures: Figure[] = [];

    progress(
      torchVersion()
        ? `PyTorch peer ${torchVersion()} running`
        : 'PyTorch peer absent (peer: null)',
    );
    const peer = await runPeer<PeerVae>('torch_vae.py', ['--profile', profile]).catch(
      (e: Error) => {
        progress(`peer failed: ${e.message}`);
        return null;
      },
    );
    const results = new RowTable({ peer: peerLabel(peer) });

    // data: training on dynamically binarized MNIST, test on one fixed stochastic binarization
    const splits = await loadBinarizedMnist({ binarization: 'dynamic', seed: 0, flat: true });
    const trainDs = splits.train.slice(0, S.trainSize);
    const testDs = splits.test.withBinarization('fixed', 123).slice(0, S.testSize);
    const testX = getBatch(
      testDs,
      Array.from({ length: S.testSize }, (_, i) => i),
      { fields: ['x'] },
    ).x;
    const iwaeX = tf.slice(testX, [0], [S.iwaeTest]);
    notes.push(
      `data: the first ${S.trainSize} MNIST training images, dynamically binarized (a fresh draw every epoch); ` +
        `test: the first ${S.testSize} test images, one fixed stochastic binarization (seed 123); batch ${S.batch}, Adam 1e-3`,
    );

    // 1. Gaussian VAE -----------------------------------------------------------------------
    const gaussRuns: { key: string; opts: TrainOptions; label: string }[] = [
      { key: 'gaussian-vae', opts: {}, label: 'ELBO' },
      { key: 'gaussian-vae-iwae-k5', opts: { objective: 'iwae', k: 5 }, label: 'IWAE k=5' },
      { key: 'gaussian-vae-iwae-k50', opts: { objective: 'iwae', k: 50 }, label: 'IWAE k=50' },
    ];
    let gaussMain: GaussianVAE | undefined;
    for (const run of gaussRuns) {
      const vae = GaussianVAE.mlp({ inputDim: 784, hidden: [400], latentDim: 40, rng: new Rng(0) });
      progress(`gaussian VAE (${run.label}), ${S.gaussSteps} steps`);
      const secs = await train(vae, trainDs, S.gaussSteps, S.batch, run.opts, run.key);
      const elbo = await evaluateElbo(vae, testX, { seed: 5, batchSize: 500 });
      const ll = await estimateLogLikelihood(vae, iwaeX, {
        k: S.iwaeK,
        chunk: S.iwaeChunk,
        batchSize: 50,
        seed: 6,
      });
      const trained = `${run.label} objective, ${S.gaussSteps} steps (${secs.toFixed(0)} s)`;
      results.add(`${run.key}/test-neg-elbo`, -elbo.mean, 'nats', {
        note: `± ${elbo.stderr.toFixed(2)} (s.e., ${elbo.n} test images); ${trained}`,
      });
      results.add(`${run.key}/test-nll-iwae`, -ll.mean, 'nats', {
        note:
          `IWAE k=${S.iwaeK} estimate ± ${ll.stderr.toFixed(2)} (s.e., ${ll.n} test images); ${trained}` +
          (run.key === 'gaussian-vae'
            ? '; reference: <= 89.9 (Rezende & Mohamed 2015, 1 layer, 400 units, 40 latents, fully trained)'
            : run.key === 'gaussian-vae-iwae-k50'
              ? '; reference: IWAE k=50 1-layer 84.78 (Burda et al. 2016, fully trained, 2-layer nets)'
              : ''),
      });
      if (run.key === 'gaussian-vae') gaussMain = vae;
      else vae.dispose();
    }
    if (gaussMain) {
      const rng = new Rng(7);
      await saveSampleGrid(gaussMain, join(figDir, 'gaussian-samples.png'), 64, {
        imageShape: [28, 28],
        rng,
        cols: 8,
      });
      const first = tf.slice(testX, [0], [16]);
      await saveReconstructions(gaussMain, join(figDir, 'gaussian-reconstructions.png'), first, {
        imageShape: [28, 28],
        rng,
        cols: 8,
      });
      const a = tf.slice(testX, [16], [6]);
      const b = tf.slice(testX, [22], [6]);
      await saveInterpolations(gaussMain, join(figDir, 'gaussian-interpolations.png'), a, b, 10, {
        imageShape: [28, 28],
        rng,
      });
      tf.dispose([first, a, b]);
      figures.push(
        {
          title: 'Gaussian VAE (ELBO): samples (means of p(x|z), z ~ p(z))',
          path: 'vae/gaussian-samples.png',
        },
        {
          title: 'Gaussian VAE: test images (odd rows) and reconstructions (even rows)',
          path: 'vae/gaussian-reconstructions.png',
        },
        {
          title: 'Gaussian VAE: latent interpolations between test images',
          path: 'vae/gaussian-interpolations.png',
        },
      );
      gaussMain.dispose();
    }

    // 2. Jang et al. 2017, Table 1 ---------------------------------------------------------
    const jang: Record<string, Record<string, number>> = { categorical: {}, bernoulli: {} };
    for (const family of ['categorical', 'bernoulli'] as const) {
      for (const name of JANG_ESTIMATORS) {
        const estimator = estimatorByName(name, { seed: 0 });
        const vae =
          family === 'categorical'
            ? CategoricalVAE.mlp({
                inputDim: 784,
                hidden: [512, 256],
                latents: 20,
                categories: 10,
                estimator,
                rng: new Rng(0),
              })
            : BernoulliVAE.mlp({
                inputDim: 784,
                hidden: [512, 256],
                latentDim: 200,
                estimator,
                rng: new Rng(0),
              });
        progress(`jang ${family} ${name}, ${S.jangSteps} steps`);
        const secs = await train(vae, trainDs, S.jangSteps, S.batch, {}, `${family}/${name}`);
        const elbo = await evaluateElbo(vae, testX, { seed: 5, batchSize: 500 });
        jang[family]![name] = -elbo.mean;
        const paper = PAPER[family][name];
        results.add(`jang/${family}/${name}/test-neg-elbo`, -elbo.mean, 'nats', {
          note: `± ${elbo.stderr.toFixed(2)} (s.e.); ${S.jangSteps} steps (${secs.toFixed(0)} s); paper (Jang et al. 2017 Table 1): ${
            paper === undefined ? `not in the table (${PAPER_OTHERS[family]})` : paper.toFixed(1)
          }`,
        });
        if (family === 'categorical' && name === 'gumbel-softmax') {
          await saveSampleGrid(vae, join(figDir, 'categorical-gumbel-samples.png'), 64, {
            imageShape: [28, 28],
            rng: new Rng(8),
            cols: 8,
          });
          figures.push({
            title: 'Categorical (20 x 10) VAE, Gumbel-Softmax: samples',
            path: 'vae/categorical-gumbel-samples.png',
          });
        }
        vae.dispose();
      }
      const gs = jang[family]!['gumbel-softmax']!;
      const sf = jang[family]!['score-function']!;
      results.add(`jang/${family}/score-function-minus-gumbel-softmax`, sf - gs, 'nats', {
        note:
          sf > gs
            ? 'Gumbel-Softmax beats the score function (positive), the ordering of the paper'
            : 'Gumbel-Softmax did NOT beat the score function on this budget (the paper has it better)',
      });
    }
    notes.push(
      `jang: 784-512-256 ReLU MLPs (decoder mirrored), ${S.jangSteps} steps per estimator on the same batches, seeds and initial weights; ` +
        'score-function = REINFORCE with a moving-average baseline; nvil = learned input baseline (100 tanh units) with centring and variance normalisation; ' +
        'Gumbel-Softmax temperature max(0.5, exp(-1e-5 t)) every 1000 steps (Jang et al.); rebar / relax with learned eta, temperature (and a 16-unit network for relax); ' +
        'all minimise E_q[-log p(x|z)] through the estimator plus the analytic KL; the test ELBO uses exact discrete samples. ' +
        (profile === 'quick'
          ? 'The quick profile is a fraction of an epoch: compare the ordering, not the absolute numbers (the paper trains to convergence).'
          : ''),
    );

    // 3. throughput ------------------------------------------------------------------------
    const x = tf.tidy(() =>
      tf.cast(tf.less(tf.randomUniform([S.batch, 784], 0, 1, 'float32', 11), 0.3), 'float32'),
    );
    for (const [key, make, peerValue] of [
      [
        'throughput/gaussian-vae/train',
        () => GaussianVAE.mlp({ inputDim: 784, hidden: [400], latentDim: 40, rng: new Rng(0) }),
        peer?.gaussian_examples_per_s,
      ],
      [
        'throughput/categorical-vae-gumbel-softmax/train',
        () =>
          CategoricalVAE.mlp({
            inputDim: 784,
            hidden: [512, 256],
            latents: 20,
            categories: 10,
            estimator: estimatorByName('gumbel-softmax', { temperature: 1 }),
            rng: new Rng(0),
          }),
        peer?.categorical_examples_per_s,
      ],
    ] as const) {
      const vae = make();
      const opt = adam(1e-3);
      const rng = new Rng(3);
      const ms = await medianMs(
        () => {
          const l = tf.tidy(() => opt.minimize(() => vae.loss(x, { rng }).loss, true) as tf.Scalar);
          l.dataSync();
          l.dispose();
        },
        3,
        S.throughputSteps,
      );
      results.add(key, (S.batch / ms) * 1000, 'examples/s', {
        note: `batch ${S.batch}, one Adam step incl. loss read-back, median of ${S.throughputSteps}; ratio > 1 means faster than the peer`,
        peer: peerValue,
      });
      opt.dispose();
      vae.dispose();
    }
    x.dispose();
    tf.dispose([testX, iwaeX]);
    notes.push(
      peer
        ? `peer: PyTorch ${peer.torch} CPU, ${peer.threads} thread, the same Gaussian and categorical (Gumbel-Softmax, tau 1) VAEs, batch ${S.batch}`
        : 'peer: PyTorch not found at /usr/bin/python3; peer columns are empty',
    );
    return {
      suite: 'vae',
      profile,
      backend: info.name,
      date: new Date().toISOString(),
      rows: results.rows,
      notes,
      figures,
    };
  },
};
