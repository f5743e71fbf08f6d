/**
 * The `hybrids` suite (issue 17): likelihood-based hybrids on binarized MNIST, each composed from
 * parts with `@dgm-js/hybrids`:
 * 1. a Gaussian VAE, the same VAE with a K-layer planar flow posterior (Rezende & Mohamed 2015),
 *    with an IAF posterior conditioned on the encoder's h(x) (Kingma et al. 2016), and with a
 *    MAF prior: test NLL by IWAE (k stated), the KL term, and the ELBO gap IWAE_k - ELBO (a
 *    richer posterior should shrink it);
 * 2. PixelVAE (Gulrajani et al. 2017: a shallow conditional gated PixelCNN decoder) beside the
 *    gated PixelCNN of the same depth without a latent (exact NLL), to show what the latent buys;
 * 3. the orderings the issue asks for, reported as they come out, and a sample grid per model.
 * Quick: small subsets and few steps (the orderings, not the papers' numbers); full: the
 * paper-scale settings below (defined, not run by default).
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { adam, initBackend, mlp, Rng, saveImageGrid, tf } from '@dgm-js/core-tensors';
import { batches, getBatch, loadBinarizedMnist } from '@dgm-js/datasets';
import { estimateLogLikelihood, evaluateLogProb } from '@dgm-js/eval';
import {
  iafPosterior,
  mafPrior,
  pixelDecoder,
  pixelVae,
  planarPosterior,
  sameDepthPixelCnn,
  vampPrior,
} from '@dgm-js/hybrids';
import {
  bernoulliDecoder,
  ConvEncoder,
  gaussianEncoder,
  saveSampleGrid,
  stdNormal,
  VAE,
} from '@dgm-js/vae';
import type { Figure, SuiteResult } from '../report.js';
import { RowTable } from '../rows.js';
import { progress } from '../timing.js';
import { posteriorFigure } from './hybrids-posterior.js';
import type { Profile, Suite } from './types.js';

interface Settings {
  trainSize: number;
  testSize: number;
  /** MLP VAEs: hidden widths, latent size, context size h(x), batch, steps. */
  hidden: number[];
  latentDim: number;
  contextDim: number;
  planarK: number;
  iafLayers: number;
  iafHidden: number[];
  mafLayers: number;
  mafHidden: number[];
  batch: number;
  steps: number;
  /** Pixel models: gated layers after the first, channels, conv encoder channels, batch, steps. */
  pixelLayers: number;
  pixelChannels: number;
  encoderChannels: [number, number];
  pixelLatent: number;
  pixelBatch: number;
  pixelSteps: number;
  /** IWAE samples per test image (and per call). */
  iwaeK: number;
  iwaeChunk: number;
  lr: number;
  samples: number;
  /** The 2-D latent posterior figure: steps of each of its two models. */
  figureSteps: number;
  /** VampPrior pseudo-inputs K. */
  vampK: number;
}

const SETTINGS: Record<Profile, Settings> = {
  quick: {
    trainSize: 10000,
    testSize: 300,
    hidden: [256],
    latentDim: 16,
    contextDim: 16,
    planarK: 4,
    iafLayers: 2,
    iafHidden: [64],
    mafLayers: 2,
    mafHidden: [64],
    batch: 100,
    steps: 800,
    pixelLayers: 1,
    pixelChannels: 16,
    encoderChannels: [16, 32],
    pixelLatent: 16,
    pixelBatch: 32,
    pixelSteps: 300,
    iwaeK: 50,
    iwaeChunk: 50,
    lr: 1e-3,
    samples: 36,
    figureSteps: 600,
    vampK: 50,
  },
  // paper scale (Burda et al. 2016's one-stochastic-layer MLPs; K = 80 planar layers as the
  // largest of Rezende & Mohamed; IWAE k = 5000 on the whole test set). Not run by default: on
  // this 2-core machine it is days of compute.
  full: {
    trainSize: 60000,
    testSize: 10000,
    hidden: [200, 200],
    latentDim: 50,
    contextDim: 50,
    planarK: 80,
    iafLayers: 2,
    iafHidden: [320, 320],
    mafLayers: 5,
    mafHidden: [320, 320],
    batch: 100,
    steps: 600000, // 1000 epochs at batch 100
    pixelLayers: 2,
    pixelChannels: 64,
    encoderChannels: [32, 64],
    pixelLatent: 50,
    pixelBatch: 64,
    pixelSteps: 200000,
    iwaeK: 5000,
    iwaeChunk: 100,
    lr: 1e-3,
    samples: 64,
    figureSteps: 100000,
    vampK: 500,
  },
};

type Step = (x: tf.Tensor, rng: Rng, step: number) => tf.Scalar;

/** `steps` Adam steps of `loss` on batches of the training set; returns seconds. */
function train(
  ds: Parameters<typeof batches>[0],
  vars: tf.Variable[],
  loss: Step,
  steps: number,
  batch: number,
  lr: number,
  label: string,
): number {
  const opt = adam(lr);
  const rng = new Rng(1);
  const it = batches(ds, {
    batchSize: batch,
    seed: 2,
    epochs: Number.POSITIVE_INFINITY,
    fields: ['x'],
    dropLast: true,
  });
  const t0 = performance.now();
  let last = t0;
  let step = 0;
  for (const b of it) {
    if (step >= steps) {
      b.dispose();
      break;
    }
    const x = (b.tensors as { x: tf.Tensor }).x;
    tf.tidy(() => {
      opt.minimize(() => loss(x, rng, step), false, vars);
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

interface VaeEval {
  nll: number;
  nllSe: number;
  negElbo: number;
  kl: number;
  klSe: number;
  gap: number;
  gapSe: number;
  /** Per test image: IWAE_k - ELBO. */
  gaps: number[];
  /** Per test image: -IWAE_k. */
  nlls: number[];
}

const meanSe = (v: ArrayLike<number>): [number, number] => {
  const n = v.length;
  let m = 0;
  for (let i = 0; i < n; i++) m += v[i]!;
  m /= n;
  let s = 0;
  for (let i = 0; i < n; i++) s += (v[i]! - m) ** 2;
  return [m, Math.sqrt(s / (n - 1) / n)];
};

/** Test ELBO, KL term (one exact sample per image) and IWAE_k, per image; the gap paired. */
async function evalVae(vae: VAE, testX: tf.Tensor, S: Settings): Promise<VaeEval> {
  const n = testX.shape[0] as number;
  const elbo: number[] = [];
  const kl: number[] = [];
  const rng = new Rng(5);
  const bs = 50;
  for (let s = 0; s < n; s += bs) {
    const x = tf.slice(testX, [s], [Math.min(bs, n - s)]);
    const t = vae.elboTerms(x, { rng });
    elbo.push(...t.elbo.dataSync());
    kl.push(...t.kl.dataSync());
    tf.dispose([x, t.elbo, t.recon, t.kl]);
  }
  const ll = await estimateLogLikelihood(vae, testX, {
    k: S.iwaeK,
    chunk: S.iwaeChunk,
    batchSize: 25,
    seed: 6,
    keepValues: true,
  });
  const lv = ll.values as Float64Array;
  const [negElbo] = meanSe(elbo.map((v) => -v));
  const [klm, klSe] = meanSe(kl);
  const gaps = elbo.map((e, i) => lv[i]! - e);
  const [gap, gapSe] = meanSe(gaps);
  const nlls = Array.from(lv, (v) => -v);
  return { nll: -ll.mean, nllSe: ll.stderr, negElbo, kl: klm, klSe, gap, gapSe, gaps, nlls };
}

export const hybridsSuite: Suite = {
  name: 'hybrids',
  description:
    'VAE + planar / IAF posteriors, MAF and VampPrior priors, PixelVAE vs the same-depth PixelCNN on binarized MNIST: IWAE test NLL, KL term, ELBO gap, orderings, sample grids',
  async run(profile: Profile, { resultsDir }): Promise<SuiteResult> {
    const info = await initBackend();
    const S = SETTINGS[profile];
    const figDir = join(resultsDir, 'hybrids');
    await mkdir(figDir, { recursive: true });
    const notes: string[] = [];
    const figures: Figure[] = [];
    const results = new RowTable({ echo: 2 });

    const splits = await loadBinarizedMnist({ binarization: 'dynamic', seed: 0, flat: true });
    const trainDs = splits.train.slice(0, S.trainSize);
    const testDs = splits.test.withBinarization('fixed', 123).slice(0, S.testSize);
    const testX = getBatch(
      testDs,
      Array.from({ length: S.testSize }, (_, i) => i),
      { fields: ['x'] },
    ).x;
    notes.push(
      `data: the first ${S.trainSize} MNIST training images, dynamically binarized; test: the first ${S.testSize} test images, ` +
        `one fixed stochastic binarization (seed 123). One seed per model (weights Rng(0), batches seed 2, latent draws Rng(1)); Adam ${S.lr}.`,
    );
    notes.push(
      `test-nll: -IWAE with k = ${S.iwaeK} samples per test image (eval's estimateLogLikelihood; an upper bound on the NLL in expectation, ` +
        `looser than the k = 5000 of the papers); kl-term: the test mean of KL(q(z|x) || p(z)) (analytic for the Gaussian VAE, ` +
        'Monte Carlo log q(z|x) - log p(z) at one exact sample for flow posteriors and the MAF prior); elbo-gap: IWAE_k - ELBO per test image (paired), ' +
        'the part of the ELBO a better posterior can recover.',
    );

    // 1. MLP VAEs -----------------------------------------------------------------------------
    const d = S.latentDim;
    const c = S.contextDim;
    const act = { activation: 'relu' as const };
    const decoder = (rng: Rng) => bernoulliDecoder(mlp([d, ...S.hidden, 784], { rng, ...act }));
    const models: { key: string; label: string; make: () => VAE }[] = [
      {
        key: 'vae',
        label: 'Gaussian VAE',
        make: () => {
          const rng = new Rng(0);
          return new VAE({
            encoder: gaussianEncoder(mlp([784, ...S.hidden, 2 * d], { rng, ...act })),
            decoder: decoder(rng),
            prior: stdNormal(d),
          });
        },
      },
      {
        key: `vae+planar-K${S.planarK}`,
        label: `VAE + ${S.planarK} planar layers (amortised on h(x))`,
        make: () => {
          const rng = new Rng(0);
          return new VAE({
            encoder: planarPosterior(mlp([784, ...S.hidden, 2 * d + c], { rng, ...act }), {
              latentDim: d,
              layers: S.planarK,
              contextDim: c,
              rng,
            }),
            decoder: decoder(rng),
            prior: stdNormal(d),
          });
        },
      },
      {
        key: 'vae+iaf',
        label: `VAE + IAF (${S.iafLayers} layers, MADE ${S.iafHidden.join('-')}, context h(x) of ${c})`,
        make: () => {
          const rng = new Rng(0);
          return new VAE({
            encoder: iafPosterior(mlp([784, ...S.hidden, 2 * d + c], { rng, ...act }), {
              latentDim: d,
              contextDim: c,
              layers: S.iafLayers,
              hidden: S.iafHidden,
              rng,
            }),
            decoder: decoder(rng),
            prior: stdNormal(d),
          });
        },
      },
      {
        key: 'vae+maf-prior',
        label: `VAE + MAF prior (${S.mafLayers} layers, MADE ${S.mafHidden.join('-')})`,
        make: () => {
          const rng = new Rng(0);
          return new VAE({
            encoder: gaussianEncoder(mlp([784, ...S.hidden, 2 * d], { rng, ...act })),
            decoder: decoder(rng),
            prior: mafPrior(d, { rng, layers: S.mafLayers, hidden: S.mafHidden }),
          });
        },
      },
      {
        key: `vae+vampprior-K${S.vampK}`,
        label: `VAE + VampPrior (${S.vampK} pseudo-inputs)`,
        make: () => {
          const rng = new Rng(0);
          const encoder = gaussianEncoder(mlp([784, ...S.hidden, 2 * d], { rng, ...act }));
          return new VAE({
            encoder,
            decoder: decoder(rng),
            prior: vampPrior(encoder, { components: S.vampK, inputShape: [784], rng }),
          });
        },
      },
    ];
    const evals: Record<string, VaeEval> = {};
    const rowsOf = (key: string, e: VaeEval, trained: string, ref?: string) => {
      results.add(`${key}/test-nll`, e.nll, 'nats', {
        note: `-IWAE k=${S.iwaeK} ± ${e.nllSe.toFixed(2)} (s.e., ${S.testSize} test images); -ELBO ${e.negElbo.toFixed(2)}; ${trained}${ref ? `; ${ref}` : ''}`,
      });
      results.add(`${key}/kl-term`, e.kl, 'nats', { note: `± ${e.klSe.toFixed(2)} (s.e.)` });
      results.add(`${key}/elbo-gap`, e.gap, 'nats', {
        note: `IWAE_${S.iwaeK} - ELBO ± ${e.gapSe.toFixed(3)} (s.e., paired)`,
      });
    };
    const REFS: Record<string, string> = {
      vae: 'reference: 86.76 (Burda et al. 2016, 1 stochastic layer, k=5000, fully trained)',
      [`vae+planar-K${S.planarK}`]:
        'reference: <= 85.1 with K=80 (Rezende & Mohamed 2015, as commonly cited)',
      'vae+iaf':
        'reference: about 79-80 with a ResNet VAE (Kingma et al. 2016; not this architecture)',
      [`vae+vampprior-K${S.vampK}`]:
        'reference: 85.57 with K=500 vs 88.56 for the standard-normal prior in the same setup (Tomczak & Welling 2018, Table 2, one stochastic layer)',
    };
    for (const m of models) {
      const vae = m.make();
      progress(`${m.label}: ${S.steps} steps`);
      const secs = train(
        trainDs,
        vae.trainableParameters(),
        (x, rng, step) => vae.loss(x, { rng, step }).loss,
        S.steps,
        S.batch,
        S.lr,
        m.key,
      );
      const e = await evalVae(vae, testX, S);
      evals[m.key] = e;
      rowsOf(m.key, e, `${S.steps} steps (${secs.toFixed(0)} s)`, REFS[m.key]);
      const path = join(figDir, `${m.key}-samples.png`);
      await saveSampleGrid(vae, path, S.samples, {
        imageShape: [28, 28],
        rng: new Rng(7),
        cols: 6,
      });
      figures.push({
        title: `${m.label}: samples (means of p(x|z), z ~ p(z))`,
        path: `hybrids/${m.key}-samples.png`,
      });
      vae.dispose();
    }
    notes.push(
      `MLP VAEs: encoder 784-${S.hidden.join('-')}-(2x${d}${c ? ` [+${c} context for the flows]` : ''}), decoder ${d}-${S.hidden.join('-')}-784, ReLU, ` +
        `${d} latents, batch ${S.batch}, ${S.steps} steps each; every model has the same encoder body, decoder and initial seeds (the flows add their context outputs and layers).`,
    );

    // 2. PixelVAE and the same-depth PixelCNN ------------------------------------------------
    const pix = {
      height: 28,
      width: 28,
      layers: S.pixelLayers,
      hiddenChannels: S.pixelChannels,
    };
    {
      const rng = new Rng(0);
      const vae = pixelVae({
        ...pix,
        latentDim: S.pixelLatent,
        encoder: new ConvEncoder(2 * S.pixelLatent, { rng, channels: S.encoderChannels }),
        rng,
      });
      progress(`PixelVAE: ${S.pixelSteps} steps`);
      const secs = train(
        trainDs,
        vae.trainableParameters(),
        (x, r, step) => vae.loss(x, { rng: r, step }).loss,
        S.pixelSteps,
        S.pixelBatch,
        S.lr,
        'pixelvae',
      );
      const e = await evalVae(vae, testX, S);
      evals.pixelvae = e;
      rowsOf(
        'pixelvae',
        e,
        `${S.pixelSteps} steps at batch ${S.pixelBatch} (${secs.toFixed(0)} s)`,
        'reference: about 79.7 (Gulrajani et al. 2017, as commonly cited; deeper decoder, longer training)',
      );
      const imgs = vae.sample(S.samples, { rng: new Rng(7), output: 'sample', shape: [28, 28] });
      await saveImageGrid(join(figDir, 'pixelvae-samples.png'), imgs, { cols: 6 });
      imgs.dispose();
      figures.push({
        title: 'PixelVAE: samples (z ~ p(z), then x ~ p(x|z) pixel by pixel)',
        path: 'hybrids/pixelvae-samples.png',
      });
      vae.dispose();
    }
    let pixelCnnNll = Number.NaN;
    let pixelCnnNlls: number[] = [];
    {
      const model = sameDepthPixelCnn({ ...pix, rng: new Rng(0) });
      progress(`same-depth PixelCNN: ${S.pixelSteps} steps`);
      const secs = train(
        trainDs,
        model.trainableParameters(),
        (x) => tf.neg(tf.mean(model.logProb(x))) as tf.Scalar,
        S.pixelSteps,
        S.pixelBatch,
        S.lr,
        'pixelcnn',
      );
      const r = await evaluateLogProb(model, testX, { batchSize: 50, keepValues: true });
      pixelCnnNll = -r.mean;
      pixelCnnNlls = Array.from(r.values as Float64Array, (v) => -v);
      results.add('pixelcnn-same-depth/test-nll', -r.mean, 'nats', {
        note: `exact ± ${r.stderr.toFixed(2)} (s.e.); gated PixelCNN with the PixelVAE decoder's ${S.pixelLayers + 1} gated layers and ${S.pixelChannels} channels, no latent; ${S.pixelSteps} steps at batch ${S.pixelBatch} (${secs.toFixed(0)} s); reference: 81.30 for a deep PixelCNN (van den Oord et al. 2016)`,
      });
      const imgs = model.sample({ sampleShape: [S.samples], rng: new Rng(7) });
      await saveImageGrid(join(figDir, 'pixelcnn-same-depth-samples.png'), imgs, { cols: 6 });
      imgs.dispose();
      figures.push({
        title: 'Same-depth gated PixelCNN (no latent): samples',
        path: 'hybrids/pixelcnn-same-depth-samples.png',
      });
      model.dispose();
    }
    // the PixelVAE decoder fed one learned constant latent c instead of z: the same network
    // with a learned, constant 28 x 28 map into every gate (position-dependent biases the plain
    // PixelCNN lacks) but no information about x, trained by maximum likelihood: it separates
    // what the map's capacity buys from what the latent buys
    let mapNll = Number.NaN;
    let mapNlls: number[] = [];
    {
      const dec = pixelDecoder({ ...pix, latentDim: S.pixelLatent, rng: new Rng(0) });
      const c = tf.variable(tf.randomNormal([1, S.pixelLatent], 0, 1, 'float32', 17));
      const model = {
        logProb: (x: tf.Tensor) =>
          tf.tidy(() => {
            const n = x.shape[0] as number;
            const px = dec.condition(tf.tile(c, [n, 1]));
            const lp = px.logProb(tf.reshape(x, [n, 28, 28, 1]));
            px.dispose();
            return lp;
          }),
      };
      progress(`same-depth PixelCNN + learned constant map: ${S.pixelSteps} steps`);
      const secs = train(
        trainDs,
        [...dec.trainableParameters(), c],
        (x) => tf.neg(tf.mean(model.logProb(x))) as tf.Scalar,
        S.pixelSteps,
        S.pixelBatch,
        S.lr,
        'pixelcnn+map',
      );
      const r = await evaluateLogProb(model, testX, { batchSize: 50, keepValues: true });
      mapNll = -r.mean;
      mapNlls = Array.from(r.values as Float64Array, (v) => -v);
      results.add('pixelcnn-same-depth+learned-map/test-nll', -r.mean, 'nats', {
        note: `exact ± ${r.stderr.toFixed(2)} (s.e.); the PixelVAE decoder fed one learned constant latent (its map becomes a learned constant position map), no encoder; ${S.pixelSteps} steps (${secs.toFixed(0)} s)`,
      });
      dec.dispose();
      c.dispose();
    }
    notes.push(
      `pixel models: gated PixelCNN decoder with ${S.pixelLayers + 1} gated layers (7x7 first, then 3x3), ${S.pixelChannels} channels, ` +
        `conditioned on a ${S.pixelLatent}-d latent upsampled to a 28x28x8 feature map (LatentMap: dense to 7x7x32, two nearest-neighbour x2 upsamplings with 3x3 convolutions) that enters every gated layer through 1x1 convolutions (Gulrajani et al.); conv encoder (stride-2 3x3, channels ${S.encoderChannels.join('-')}); ` +
        `the baseline is the same network without the latent.`,
    );

    // 3. the orderings ------------------------------------------------------------------------
    const g = (k: string) => evals[k]!.gap;
    const planarKey = `vae+planar-K${S.planarK}`;
    /** Mean and s.e. of gap(a) - gap(b) over the same test images (paired). */
    const diff = (a: string, b: string) =>
      meanSe(evals[a]!.gaps.map((v, i) => v - evals[b]!.gaps[i]!));
    const [dPv, dPvSe] = diff('vae', planarKey);
    const [dIp, dIpSe] = diff(planarKey, 'vae+iaf');
    results.add('elbo-gap/vae-minus-planar', dPv, 'nats', {
      note: `paired over the test images ± ${dPvSe.toFixed(2)} (s.e.); positive: the planar posterior closes more of the gap`,
    });
    results.add('elbo-gap/planar-minus-iaf', dIp, 'nats', {
      note: `paired ± ${dIpSe.toFixed(2)} (s.e.); positive: IAF closes more than planar`,
    });
    const gapOrder = g('vae+iaf') < g(planarKey) && g(planarKey) < g('vae');
    const sig = dPv > 2 * dPvSe && dIp > 2 * dIpSe;
    results.add('ordering/elbo-gap-iaf<planar<vae', gapOrder ? 1 : 0, 'holds', {
      note: `gaps: IAF ${g('vae+iaf').toFixed(2)}, planar ${g(planarKey).toFixed(2)}, Gaussian ${g('vae').toFixed(2)}; ${
        gapOrder
          ? sig
            ? 'both steps beyond 2 s.e.'
            : 'but not both steps beyond 2 s.e. (paired)'
          : 'does not hold'
      }; one seed`,
    });
    {
      const vampKey = `vae+vampprior-K${S.vampK}`;
      const [dv, dvSe] = meanSe(evals[vampKey]!.nlls.map((v, i) => v - evals.vae!.nlls[i]!));
      results.add('vampprior/minus-vae', dv, 'nats', {
        note: `test NLL (-IWAE) of the VampPrior VAE minus the standard-normal-prior VAE, paired over the test images ± ${dvSe.toFixed(2)} (s.e.); negative: the learned prior helps (the paper: -2.99 nats at K=500, fully trained); one seed`,
      });
    }
    const pv = evals.pixelvae!.nll;
    /** PixelVAE's -IWAE minus a baseline's exact NLL, paired over the test images. */
    const vsPixel = (nlls: number[]) => meanSe(evals.pixelvae!.nlls.map((v, i) => v - nlls[i]!));
    const [dCnn, dCnnSe] = vsPixel(pixelCnnNlls);
    const [dMap, dMapSe] = vsPixel(mapNlls);
    results.add('pixelvae/minus-pixelcnn-same-depth', dCnn, 'nats', {
      note: `test NLL difference, paired over the test images ± ${dCnnSe.toFixed(2)} (s.e.); negative: PixelVAE better (its value an IWAE bound)`,
    });
    results.add('pixelvae/minus-pixelcnn-same-depth+learned-map', dMap, 'nats', {
      note: `paired ± ${dMapSe.toFixed(2)} (s.e.); what the latent buys beyond the decoder's learned position map`,
    });
    results.add('ordering/pixelvae<pixelcnn-same-depth', pv < pixelCnnNll ? 1 : 0, 'holds', {
      note: `PixelVAE ${pv.toFixed(2)} (an IWAE bound) vs same-depth PixelCNN ${pixelCnnNll.toFixed(2)} (exact); paired difference ${dCnn.toFixed(2)} ± ${dCnnSe.toFixed(2)}; one seed`,
    });
    results.add('ordering/pixelvae<pixelcnn-same-depth+learned-map', pv < mapNll ? 1 : 0, 'holds', {
      note: `PixelVAE ${pv.toFixed(2)} (an IWAE bound) vs the same decoder with a learned constant latent ${mapNll.toFixed(2)} (exact): what the latent itself buys; the KL term ${evals.pixelvae!.kl.toFixed(2)} nats bounds the information q puts in z (E KL(q(z|x) || p(z)) >= I_q(x; z)); paired difference ${dMap.toFixed(2)} ± ${dMapSe.toFixed(2)}; one seed`,
    });
    results.add('ordering/pixelvae<vae', pv < evals.vae!.nll ? 1 : 0, 'holds', {
      note: `PixelVAE ${pv.toFixed(2)} vs Gaussian VAE ${evals.vae!.nll.toFixed(2)}; one seed`,
    });
    // 4. the lecture's picture: true posterior vs Gaussian q vs IAF q (2-D latent) -----------
    await posteriorFigure({
      train: (vae, steps) =>
        train(
          trainDs,
          vae.trainableParameters(),
          (x, rng, step) => vae.loss(x, { rng, step }).loss,
          steps,
          S.batch,
          S.lr,
          'posterior-2d',
        ),
      steps: S.figureSteps,
      testX,
      images: [0, 1, 2, 3],
      figDir,
      results,
      figures,
      notes,
    });

    if (profile === 'quick') {
      notes.push(
        'quick profile: a few hundred steps on a 10k subset, far from convergence: read the orderings, not the absolute numbers (the papers train for hundreds of epochs).',
      );
    }
    testX.dispose();
    return {
      suite: 'hybrids',
      profile,
      backend: info.name,
      date: new Date().toISOString(),
      rows: results.rows,
      notes,
      figures,
    };
  },
};
