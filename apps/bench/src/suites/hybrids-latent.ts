/**
 * The `hybrids-latent` suite (issue 18): the hybrids that shape the aggregate posterior q(z) with
 * a critic or a kernel two-sample term, on MNIST, built with `@dgm-js/hybrids`:
 * 1. the adversarial autoencoder (Makhzani et al. 2015) on grey-level MNIST: the Parzen test
 *    log-likelihood beside the paper's 340 +- 2 (eval's protocol, with its caveat), FID with
 *    eval's shipped MNIST classifier, and the MMD between the codes and the prior; a 2-D AAE with
 *    the 10-Gaussian mixture prior for the latent figure coloured by digit;
 * 2. InfoVAE / MMD-VAE (Zhao, Song & Ermon 2017) beside the plain Gaussian VAE of the same
 *    architecture and steps on binarized MNIST: test NLL by IWAE and the latent MMD.
 * Quick: small networks, few steps, CPU budget 120 s; full: the papers' scale (defined, not run
 * by default).
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import {
  adam,
  initBackend,
  mlp,
  plotSvg,
  Rng,
  saveImageGrid,
  saveSvg,
  tf,
} from '@dgm-js/core-tensors';
import { batches, getBatch, loadBinarizedMnist, loadMnist } from '@dgm-js/datasets';
import {
  classifierOutputs,
  estimateLogLikelihood,
  frechetFromFeatures,
  loadMnistClassifier,
  mmdTest,
  parzenBandwidth,
  parzenLogLikelihoods,
} from '@dgm-js/eval';
import { MlpCritic } from '@dgm-js/gan';
import { AAE, gaussianMixturePrior, InfoVAE } from '@dgm-js/hybrids';
import { bernoulliDecoder, gaussianEncoder, stdNormal, VAE } from '@dgm-js/vae';
import type { Figure, SuiteResult } from '../report.js';
import { RowTable } from '../rows.js';
import { progress } from '../timing.js';
import type { Profile, Suite } from './types.js';

interface Settings {
  trainSize: number;
  /** AAE: hidden widths (encoder; the decoder mirrors them), critic widths, latent, steps. */
  aaeHidden: number[];
  criticHidden: number[];
  aaeLatent: number;
  aaeSteps: number;
  aae2dSteps: number;
  /** Parzen: model samples as centres, validation images for sigma, test images. */
  parzenCentres: number;
  parzenValid: number;
  parzenTest: number;
  /** FID: samples and test images through the shipped classifier. */
  fidSamples: number;
  /** VAE / InfoVAE. */
  vaeHidden: number[];
  vaeLatent: number;
  vaeSteps: number;
  lambda: number;
  testSize: number;
  iwaeK: number;
  /** Latent MMD: codes of this many test images vs as many prior draws; permutations. */
  mmdN: number;
  mmdPerms: number;
  batch: number;
  lr: number;
  /** Adam step of the AAE's regularisation phase (critic and encoder; beta1 0.5). */
  advLr: number;
  samples: number;
}

const SETTINGS: Record<Profile, Settings> = {
  quick: {
    trainSize: 10000,
    aaeHidden: [256],
    criticHidden: [64, 64],
    aaeLatent: 8,
    aaeSteps: 1500,
    aae2dSteps: 1000,
    parzenCentres: 2000,
    parzenValid: 500,
    parzenTest: 1000,
    fidSamples: 1000,
    vaeHidden: [256],
    vaeLatent: 8,
    vaeSteps: 1500,
    lambda: 1000,
    testSize: 300,
    iwaeK: 50,
    mmdN: 500,
    mmdPerms: 100,
    batch: 100,
    lr: 1e-3,
    advLr: 1e-3,
    samples: 36,
  },
  // paper scale: Makhzani et al.'s MNIST AAE (two hidden layers of 1000 ReLU units in each net,
  // 10000 samples as Parzen centres, sigma on 10000 validation images, the full test set); the
  // VAEs of Burda et al. 2016's size with IWAE k = 5000. Days of compute on 2 cores.
  full: {
    trainSize: 50000,
    aaeHidden: [1000, 1000],
    criticHidden: [1000, 1000],
    aaeLatent: 8,
    aaeSteps: 100000,
    aae2dSteps: 50000,
    parzenCentres: 10000,
    parzenValid: 10000,
    parzenTest: 10000,
    fidSamples: 10000,
    vaeHidden: [200, 200],
    vaeLatent: 8,
    vaeSteps: 300000,
    lambda: 1000,
    testSize: 10000,
    iwaeK: 5000,
    mmdN: 2000,
    mmdPerms: 500,
    batch: 100,
    lr: 1e-3,
    advLr: 1e-3,
    samples: 64,
  },
};

type Split = Awaited<ReturnType<typeof loadMnist<true>>>['train'];

/** An endless stream of training batches `[batch, 784]` (seeded), disposed by the caller. */
function* xBatches(ds: Split, batch: number, seed: number): Generator<tf.Tensor> {
  for (const b of batches(ds, {
    batchSize: batch,
    seed,
    epochs: Number.POSITIVE_INFINITY,
    fields: ['x'],
    dropLast: true,
  })) {
    yield (b.tensors as { x: tf.Tensor }).x;
  }
}

function trainAae(aae: AAE, ds: Split, S: Settings, steps: number, label: string): number {
  const o = {
    autoencoder: adam(S.lr),
    critic: adam(S.advLr, 0.5, 0.999),
    encoder: adam(S.advLr, 0.5, 0.999),
  };
  const rng = new Rng(1);
  const t0 = performance.now();
  let step = 0;
  for (const x of xBatches(ds, S.batch, 2)) {
    if (step >= steps) {
      x.dispose();
      break;
    }
    aae.step(x, o, { rng });
    x.dispose();
    if (++step % 200 === 0) progress(`  ${label}: step ${step}/${steps}`);
  }
  for (const v of Object.values(o)) v.dispose();
  return (performance.now() - t0) / 1000;
}

function trainVae(vae: VAE, ds: Split, S: Settings, label: string): number {
  const opt = adam(S.lr);
  const rng = new Rng(1);
  const vars = vae.trainableParameters();
  const t0 = performance.now();
  let step = 0;
  for (const x of xBatches(ds, S.batch, 2)) {
    if (step >= S.vaeSteps) {
      x.dispose();
      break;
    }
    tf.tidy(() => {
      opt.minimize(() => vae.loss(x, { rng, step }).loss, false, vars);
    });
    x.dispose();
    if (++step % 200 === 0) progress(`  ${label}: step ${step}/${S.vaeSteps}`);
  }
  opt.dispose();
  return (performance.now() - t0) / 1000;
}

/** eval's MMD test between codes `[n, d]` and prior draws `[n, d]` (both disposed here). */
function latentMmd(codes: tf.Tensor, prior: tf.Tensor, S: Settings) {
  const n = codes.shape[0]!;
  const d = codes.shape[1]!;
  const r = mmdTest(
    Float64Array.from(codes.dataSync()),
    n,
    Float64Array.from(prior.dataSync()),
    prior.shape[0]!,
    d,
    { permutations: S.mmdPerms, seed: 0 },
  );
  tf.dispose([codes, prior]);
  return r;
}

/** The permutation p-value, saying when it is at the test's floor 1 / (1 + permutations). */
const pText = (r: { pValue: number; permutations: number }) =>
  `p = ${r.pValue.toFixed(3)} (${r.permutations} permutations${r.pValue <= 1 / (1 + r.permutations) + 1e-12 ? ': the smallest this test can give' : ''})`;

/** The mean over dimensions of the per-dimension standard deviation of codes `[n, d]`. */
function meanStd(z: tf.Tensor): number {
  return tf.tidy(() => tf.mean(tf.sqrt(tf.moments(z, 0).variance)).dataSync()[0]!);
}

const indices = (from: number, n: number) => Array.from({ length: n }, (_, i) => from + i);

export const hybridsLatentSuite: Suite = {
  name: 'hybrids-latent',
  description:
    'adversarial autoencoder (Parzen LL vs the paper, FID, latent MMD, 2-D latent by digit) and InfoVAE / MMD-VAE vs the plain VAE (IWAE test NLL, latent MMD) on MNIST',
  async run(profile: Profile, { resultsDir }): Promise<SuiteResult> {
    const cpu0 = process.cpuUsage();
    const info = await initBackend();
    const S = SETTINGS[profile];
    const figDir = join(resultsDir, 'hybrids-latent');
    await mkdir(figDir, { recursive: true });
    const notes: string[] = [];
    const figures: Figure[] = [];
    const results = new RowTable({ echo: 2 });

    // ---- the adversarial autoencoder on grey-level MNIST ---------------------------------------
    const grey = await loadMnist({ flat: true });
    const train = grey.train.slice(0, S.trainSize);
    const d = S.aaeLatent;
    const act = { activation: 'relu' as const };
    const makeAae = (latent: number, prior: AAE['prior']) => {
      const rng = new Rng(0);
      return new AAE({
        encoder: mlp([784, ...S.aaeHidden, latent], { rng, ...act }),
        decoder: bernoulliDecoder(
          mlp([latent, ...[...S.aaeHidden].reverse(), 784], { rng, ...act }),
        ),
        critic: new MlpCritic({ inputShape: latent, hidden: S.criticHidden, rng }),
        prior,
        latentDim: latent,
      });
    };
    {
      const aae = makeAae(d, stdNormal(d));
      progress(`AAE (${d}-D Gaussian prior): ${S.aaeSteps} steps`);
      const secs = trainAae(aae, train, S, S.aaeSteps, 'aae');
      const trained = `${S.aaeSteps} steps at batch ${S.batch} (${secs.toFixed(0)} s wall)`;
      // Parzen: sigma on validation images not trained on (the training pool's tail), then test
      const centres = aae.sample(S.parzenCentres, { rng: new Rng(7) });
      const valid = getBatch(grey.train, indices(grey.train.size - S.parzenValid, S.parzenValid), {
        fields: ['x'],
      }).x;
      const test = getBatch(grey.test, indices(0, S.parzenTest), { fields: ['x'] }).x;
      const bw = parzenBandwidth(centres, valid);
      const ll = parzenLogLikelihoods(centres, test, bw.sigma);
      let m = 0;
      for (const v of ll) m += v;
      m /= ll.length;
      let s2 = 0;
      for (const v of ll) s2 += (v - m) ** 2;
      const se = Math.sqrt(s2 / (ll.length - 1) / ll.length);
      results.add('aae/mnist/parzen-ll', m, 'nats', {
        note: `± ${se.toFixed(1)} (s.e., ${S.parzenTest} test images); paper: 340 ± 2 (Makhzani et al. 2015, Table 1). Protocol (eval's parzen): ${S.parzenCentres} samples (means of p(x|z)) as centres, sigma ${bw.sigma.toFixed(3)} chosen on ${S.parzenValid} held-out training images over eval's grid${bw.sigma === bw.scores[bw.scores.length - 1]!.sigma || bw.sigma === bw.scores[0]!.sigma ? ' (at the grid edge)' : ''}. Caveat: a Parzen estimate in 784 dimensions is not the model's log-likelihood and does not rank models by it (Theis et al. 2016); the paper used 10000 centres and the full test set. ${trained}`,
      });
      // FID with the shipped MNIST classifier's features
      const clf = await loadMnistClassifier();
      const fidTest = getBatch(grey.test, indices(0, S.fidSamples), { fields: ['x'] }).x;
      const real = await classifierOutputs(clf, fidTest, { numSamples: S.fidSamples });
      const fake = tf.slice(centres, [0, 0], [Math.min(S.fidSamples, S.parzenCentres), 784]);
      const out = await classifierOutputs(clf, fake, { numSamples: fake.shape[0]! });
      const fid = frechetFromFeatures(out.features, out.n, real.features, real.n, real.featureDim, {
        bootstrap: 5,
        seed: 0,
      });
      results.add('aae/mnist/fid', fid.value, 'FID-MNIST', {
        note: `${out.n} samples vs ${real.n} test images, eval's shipped MNIST classifier (64 features); bootstrap s.e. ${fid.stderr!.toFixed(2)}; for scale, real test vs train images: eval suite's mnist/real/fid-test-vs-train (about 0.8)`,
      });
      // how well q(z) matches p(z): codes of test images vs prior draws
      const testCodes = aae.encode(tf.slice(test, [0, 0], [Math.min(S.mmdN, S.parzenTest), 784]));
      const codeStd = meanStd(testCodes);
      const r = latentMmd(testCodes, aae.samplePrior(testCodes.shape[0]!, new Rng(9)), S);
      results.add('aae/latent-mmd', r.mmd2, 'MMD^2', {
        note: `codes of ${testCodes.shape[0]} test images vs as many N(0, I) draws, ${d}-D; eval's mmdTest (RBF, median bandwidth ${r.kernel.type === 'rbf' ? r.kernel.sigma.toFixed(2) : ''}); ${pText(r)}; null mean ${r.nullMean.toExponential(2)}; the codes' per-dimension standard deviation, averaged: ${codeStd.toFixed(2)} (the prior's: 1)`,
      });
      const imgs = tf.reshape(tf.slice(centres, [0, 0], [S.samples, 784]), [S.samples, 28, 28, 1]);
      await saveImageGrid(join(figDir, 'aae-samples.png'), imgs, { cols: 6 });
      figures.push({
        title: `AAE (${d}-D Gaussian prior): samples (means of p(x|z), z ~ p(z))`,
        path: 'hybrids-latent/aae-samples.png',
      });
      tf.dispose([imgs, centres, valid, test, fidTest, fake]);
      clf.dispose();
      aae.dispose();
      notes.push(
        `AAE: grey-level MNIST (first ${S.trainSize} training images), deterministic encoder 784-${S.aaeHidden.join('-')}-${d}, Bernoulli (cross-entropy) decoder mirrored, latent critic ${S.criticHidden.join('-')} (leaky ReLU), non-saturating GAN loss; per step: reconstruction phase (Adam ${S.lr}), then critic, then encoder (Adam ${S.advLr}, beta1 0.5). Weights Rng(0), batches seed 2, draws Rng(1).`,
      );
    }
    {
      const aae = makeAae(2, gaussianMixturePrior(10, { radius: 4, std: 0.5 }));
      progress(`AAE (2-D, 10-Gaussian mixture prior): ${S.aae2dSteps} steps`);
      trainAae(aae, train, S, S.aae2dSteps, 'aae-2d');
      const n = 1000;
      const b = getBatch(grey.test, indices(0, n), { fields: ['x', 'y'] });
      const z = aae.encode(b.x);
      const zs = z.dataSync();
      const ys = b.y.dataSync();
      const colours = [
        '#1f77b4',
        '#d62728',
        '#2ca02c',
        '#ff7f0e',
        '#9467bd',
        '#8c564b',
        '#e377c2',
        '#17becf',
        '#7f7f7f',
        '#bcbd22',
      ];
      const series = colours.map((color, digit) => {
        const points: [number, number][] = [];
        for (let i = 0; i < n; i++) if (ys[i] === digit) points.push([zs[2 * i]!, zs[2 * i + 1]!]);
        return { name: String(digit), points, markers: true, line: false, color };
      });
      await saveSvg(
        join(figDir, 'aae-2d-latent.svg'),
        plotSvg(series, {
          title: 'AAE codes of 1000 test digits (10-Gaussian mixture prior)',
          xLabel: 'z1',
          yLabel: 'z2',
        }),
      );
      figures.push({
        title: `AAE 2-D latent (10-Gaussian mixture prior, ${S.aae2dSteps} steps, unsupervised): codes of ${n} test images coloured by digit`,
        path: 'hybrids-latent/aae-2d-latent.svg',
      });
      tf.dispose([b.x, b.y, z]);
      aae.dispose();
    }

    // ---- InfoVAE vs the plain VAE on binarized MNIST -------------------------------------------
    const bin = await loadBinarizedMnist({ binarization: 'dynamic', seed: 0, flat: true });
    const btrain = bin.train.slice(0, S.trainSize);
    const btest = bin.test.withBinarization('fixed', 123).slice(0, S.testSize);
    const testX = getBatch(btest, indices(0, S.testSize), { fields: ['x'] }).x;
    const L = S.vaeLatent;
    const parts = () => {
      const rng = new Rng(0);
      return {
        encoder: gaussianEncoder(mlp([784, ...S.vaeHidden, 2 * L], { rng, ...act })),
        decoder: bernoulliDecoder(mlp([L, ...[...S.vaeHidden].reverse(), 784], { rng, ...act })),
        prior: stdNormal(L),
      };
    };
    const plain = { nll: Number.NaN, mmd: Number.NaN };
    for (const key of ['vae', 'infovae'] as const) {
      const model =
        key === 'vae' ? new VAE(parts()) : new InfoVAE({ ...parts(), alpha: 0, lambda: S.lambda });
      progress(`${key}: ${S.vaeSteps} steps`);
      const secs = trainVae(model, btrain, S, key);
      const ll = await estimateLogLikelihood(model, testX, {
        k: S.iwaeK,
        chunk: S.iwaeK,
        batchSize: 25,
        seed: 6,
      });
      const nm = Math.min(S.mmdN, S.testSize);
      const codes = tf.tidy(() => {
        const q = model.encode(tf.slice(testX, [0, 0], [nm, 784]));
        const z = q.sample({ rng: new Rng(8) });
        q.dispose();
        return z;
      });
      const r = latentMmd(codes, stdNormalDraws(nm, L), S);
      if (key === 'infovae') {
        results.add('infovae/mnist/test-nll', -ll.mean, 'nats', {
          note: `-IWAE k=${S.iwaeK} ± ${ll.stderr.toFixed(2)} (s.e., ${S.testSize} fixed-binarized test images); alpha 0, lambda ${S.lambda}, RBF MMD (sigma = d/sqrt 2, 200 prior draws per step); ${S.vaeSteps} steps (${secs.toFixed(0)} s wall); the plain VAE (same architecture, steps, seeds): ${plain.nll.toFixed(2)} (vae/mnist/test-nll)`,
        });
      } else {
        results.add('vae/mnist/test-nll', -ll.mean, 'nats', {
          note: `-IWAE k=${S.iwaeK} ± ${ll.stderr.toFixed(2)} (s.e.); the plain Gaussian VAE beside InfoVAE; ${S.vaeSteps} steps (${secs.toFixed(0)} s wall)`,
        });
      }
      if (key === 'vae') Object.assign(plain, { nll: -ll.mean, mmd: r.mmd2 });
      results.add(`${key}/mnist/latent-mmd`, r.mmd2, 'MMD^2', {
        note: `one z ~ q(z|x) for each of ${nm} test images vs ${nm} N(0, I) draws (the aggregate posterior vs the prior); eval's mmdTest (RBF, median bandwidth ${r.kernel.type === 'rbf' ? r.kernel.sigma.toFixed(2) : ''}); ${pText(r)}${key === 'infovae' ? `; the plain VAE's: ${plain.mmd.toFixed(4)} (vae/mnist/latent-mmd)` : ''}`,
      });
      const imgs = model.sample(S.samples, { rng: new Rng(7), shape: [28, 28, 1] });
      await saveImageGrid(join(figDir, `${key}-samples.png`), imgs, { cols: 6 });
      imgs.dispose();
      figures.push({
        title: `${key === 'vae' ? 'Gaussian VAE' : 'InfoVAE (MMD)'}: samples (means of p(x|z), z ~ p(z))`,
        path: `hybrids-latent/${key}-samples.png`,
      });
      model.dispose();
    }
    testX.dispose();
    notes.push(
      `VAE / InfoVAE: binarized MNIST (first ${S.trainSize} training images, dynamic binarization; test: ${S.testSize} images, one fixed binarization, seed 123), encoder 784-${S.vaeHidden.join('-')}-2x${L}, decoder mirrored, ReLU, batch ${S.batch}, Adam ${S.lr}, ${S.vaeSteps} steps each; the same parts and seeds for both models (weights Rng(0), batches seed 2, draws Rng(1)).`,
    );
    const cpu = process.cpuUsage(cpu0);
    const cpuS = (cpu.user + cpu.system) / 1e6;
    results.add('hybrids-latent/cpu-seconds', cpuS, 's', {
      note: `process.cpuUsage over the whole suite (${profile} profile; budget 120 s in quick)`,
    });
    notes.push(
      `backend: ${info.name}; CPU time of the suite ${cpuS.toFixed(1)} s (process.cpuUsage).`,
    );
    return {
      suite: 'hybrids-latent',
      profile,
      backend: info.name,
      date: new Date().toISOString(),
      rows: results.rows,
      notes,
      figures,
    };
  },
};

/** n draws of N(0, I_d) (the VAEs' prior) from a fixed seed. */
function stdNormalDraws(n: number, d: number): tf.Tensor {
  const p = stdNormal(d);
  const z = p.sample({ sampleShape: [n], rng: new Rng(9) });
  p.dispose();
  return z;
}
