/**
 * Trains the shipped MNIST (or Fashion-MNIST) classifier of @dgm-js/eval and writes its weights
 * into the package (`src/classifier/weights/<dataset>.ts`, float16, base64) with the run's facts.
 *
 *   cd packages/eval && npx tsx scripts/train-classifier.ts [--dataset mnist|fashion-mnist]
 *     [--epochs 6] [--seed 0] [--shift 2] [--out src/classifier/weights/<dataset>.ts]
 *     [--log scripts/logs/train-<dataset>.log]
 *   then: npx biome check --write src/classifier/weights   (formats the generated module)
 *
 * Protocol: the last 5000 training images are held out for validation (monitored, never
 * trained on); the network is trained with the core-tensors Trainer (Adam, batch 128, 6 epochs,
 * learning rate 1.5e-3 times 0.6 per epoch, no dropout; random translations of up to 2 pixels
 * for MNIST, none for Fashion-MNIST); the test set is touched once, at the end, with the float16
 * weights that are shipped. Fashion-MNIST comes from Debian's dataset-fashion-mnist.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  type Adam,
  adam,
  initBackend,
  logSoftmax,
  Rng,
  type StepContext,
  Trainer,
  tf,
} from '@dgm-js/core-tensors';
import { batches, type ImageDataset, loadFashionMnist, loadMnist } from '@dgm-js/datasets';
import { ConvClassifier } from '../src/classifier/net.js';
import { decodeWeights, encodeWeights } from '../src/classifier/weights-codec.js';

const HERE = dirname(fileURLToPath(import.meta.url));

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] !== undefined ? (process.argv[i + 1] as string) : fallback;
}

const dataset = arg('dataset', 'mnist') as 'mnist' | 'fashion-mnist';
const epochs = Number(arg('epochs', '6'));
// Random 2-pixel shifts help MNIST; the small net underfits Fashion-MNIST with them (89.2%).
const shiftPx = Number(arg('shift', dataset === 'mnist' ? '2' : '0'));
const seed = Number(arg('seed', '0'));
const batchSize = Number(arg('batch', '128'));
const lr0 = Number(arg('lr', '1.5e-3'));
const dropout = Number(arg('dropout', '0'));
const decay = Number(arg('decay', '0.6'));
const maxSteps = Number(arg('steps', '0'));
const out = resolve(HERE, '..', arg('out', `src/classifier/weights/${dataset}.ts`));
const logPath = resolve(HERE, '..', arg('log', `scripts/logs/train-${dataset}.log`));
const VALIDATION = 5000;

mkdirSync(dirname(logPath), { recursive: true });
const lines: string[] = [];
function log(s: string): void {
  const line = `[${new Date().toISOString()}] ${s}`;
  console.log(line);
  lines.push(line);
  writeFileSync(logPath, `${lines.join('\n')}\n`);
}

type Images = ImageDataset<readonly [28, 28, 1]>;

/**
 * Random translations by up to `shiftPx` pixels in each direction, one per image (zero
 * padding), as one gather from the flattened padded images. Returns a new tensor.
 */
function randomShift(x: tf.Tensor, rng: Rng): tf.Tensor {
  if (shiftPx === 0) return tf.clone(x);
  const b = x.shape[0] as number;
  const p = 28 + 2 * shiftPx;
  const idx = new Int32Array(b * 784);
  for (let n = 0; n < b; n++) {
    const dy = Math.floor(rng.float() * (2 * shiftPx + 1));
    const dx = Math.floor(rng.float() * (2 * shiftPx + 1));
    for (let i = 0; i < 28; i++) {
      for (let j = 0; j < 28; j++) idx[n * 784 + i * 28 + j] = n * p * p + (i + dy) * p + (j + dx);
    }
  }
  return tf.tidy(() => {
    const padded = tf.reshape(
      tf.pad(x, [
        [0, 0],
        [shiftPx, shiftPx],
        [shiftPx, shiftPx],
        [0, 0],
      ]),
      [b * p * p],
    );
    const out = tf.gather(padded, tf.tensor1d(idx, 'int32'));
    return tf.reshape(out, [b, 28, 28, 1]);
  });
}

/** Accuracy and mean cross-entropy of `net` on a dataset, in batches of 500. */
function accuracy(net: ConvClassifier, ds: Images): { acc: number; nll: number; n: number } {
  let correct = 0;
  let nll = 0;
  let n = 0;
  for (const b of batches(ds, { batchSize: 500, shuffle: false, fields: ['x', 'y', 'yOneHot'] })) {
    const [c, l] = tf.tidy(() => {
      const logits = net.apply(b.tensors.x);
      const pred = tf.argMax(logits, 1);
      const ok = tf.sum(tf.cast(tf.equal(pred, b.tensors.y), 'float32'));
      const ce = tf.neg(tf.sum(tf.mul(logSoftmax(logits), b.tensors.yOneHot)));
      return [ok.dataSync()[0] as number, ce.dataSync()[0] as number];
    });
    correct += c;
    nll += l;
    n += b.size;
    b.dispose();
  }
  return { acc: correct / n, nll: nll / n, n };
}

const info = await initBackend({ quiet: true });
log(`backend: ${info.summary}`);
log(
  `dataset ${dataset}, epochs ${epochs}, batch ${batchSize}, lr ${lr0} (x${decay} per epoch), dropout ${dropout}, random shifts +-${shiftPx} px, seed ${seed}`,
);
const splits =
  dataset === 'mnist'
    ? await loadMnist({ validationSize: VALIDATION })
    : await loadFashionMnist({ validationSize: VALIDATION });
const { train, validation, test } = splits as unknown as {
  train: Images;
  validation: Images;
  test: Images;
};
log(`train ${train.size}, validation ${validation.size}, test ${test.size}`);

// Pixel standardisation constants of each training set (the usual published values).
const norm =
  dataset === 'mnist'
    ? { inputMean: 0.1307, inputStd: 0.3081 }
    : { inputMean: 0.286, inputStd: 0.353 };
const net = new ConvClassifier({ rng: new Rng(seed), ...norm });
log(`parameters: ${net.numParams()}`);
const optimizer: Adam = adam(lr0);
const stepsPerEpoch = Math.floor(train.size / batchSize);
const t0 = performance.now();

type B = { x: tf.Tensor; yOneHot: tf.Tensor };
const trainer = new Trainer<B>({
  model: net,
  objective: (b: B, ctx: StepContext) => {
    const { logits } = net.forward(b.x, { dropout, rng: ctx.rng });
    const ce = tf.neg(tf.mean(tf.sum(tf.mul(logSoftmax(logits), b.yOneHot), 1)));
    const acc = tf.mean(
      tf.cast(tf.equal(tf.argMax(logits, 1), tf.argMax(b.yOneHot, 1)), 'float32'),
    );
    return { loss: ce, metrics: { acc } };
  },
  data: function* (epoch, rng) {
    for (const b of batches(train, {
      batchSize,
      seed: seed + 1,
      startEpoch: epoch,
      epochs: 1,
      dropLast: true,
      fields: ['x', 'yOneHot'],
    })) {
      const x = randomShift(b.tensors.x, rng);
      b.tensors.x.dispose();
      yield { x, yOneHot: b.tensors.yOneHot };
    }
  },
  disposeBatch: true,
  optimizer,
  epochs,
  ...(maxSteps > 0 ? { maxSteps } : {}),
  seed,
  historyEvery: 50,
  quiet: true,
  onStep: (s) => {
    // Step decay: lr0 in the first epoch, times `decay` at each later epoch.
    const e = Math.floor(s.step / stepsPerEpoch);
    (optimizer as unknown as { learningRate: number }).learningRate = lr0 * decay ** e;
    if (s.step % 100 === 0) {
      const secs = ((performance.now() - t0) / 1000).toFixed(0);
      log(
        `step ${s.step}/${stepsPerEpoch * epochs} epoch ${s.epoch} loss ${s.loss.toFixed(4)} (${secs} s)`,
      );
    }
  },
  validation: {
    every: stepsPerEpoch,
    evaluate: () => {
      const v = accuracy(net, validation);
      log(`validation: accuracy ${(100 * v.acc).toFixed(2)}%, cross-entropy ${v.nll.toFixed(4)}`);
      return { valAcc: v.acc, valNll: v.nll };
    },
    monitor: 'valNll',
  },
});
const r = await trainer.fit();
const trainSecs = (performance.now() - t0) / 1000;
log(`trained ${r.step} steps in ${trainSecs.toFixed(0)} s (${r.stopReason})`);

// Ship float16 weights; measure what is shipped.
const state = net.getState();
const encoded = await encodeWeights(state);
tf.dispose(Object.values(state));
const shipped = decodeWeights(encoded);
net.setState(shipped);
tf.dispose(Object.values(shipped));
const v = accuracy(net, validation);
const te = accuracy(net, test);
const trAll = accuracy(net, train);
log(
  `float16 weights: train accuracy ${(100 * trAll.acc).toFixed(2)}%, validation ${(100 * v.acc).toFixed(2)}%, TEST ${(100 * te.acc).toFixed(2)}% (${te.n} images, cross-entropy ${te.nll.toFixed(4)})`,
);

// The training-label marginal p*(y) (for the MODE score), over all 60000 training labels.
const counts = new Array<number>(10).fill(0);
for (const ds of [train, validation]) {
  for (const b of batches(ds, { batchSize: 1000, shuffle: false, fields: ['y'] })) {
    for (const y of b.tensors.y.dataSync()) counts[y] = (counts[y] ?? 0) + 1;
    b.dispose();
  }
}
const total = counts.reduce((a, b) => a + b, 0);
const labelMarginal = counts.map((c) => c / total);

const meta = {
  dataset,
  architecture: 'ConvClassifier',
  config: net.config,
  parameters: net.numParams(),
  seed,
  epochs,
  batchSize,
  learningRate: lr0,
  learningRateDecayPerEpoch: decay,
  dropout,
  randomShiftPixels: shiftPx,
  trainSize: train.size,
  validationSize: validation.size,
  testAccuracy: te.acc,
  testImages: te.n,
  validationAccuracy: v.acc,
  trainSeconds: Math.round(trainSecs),
  trainLabelCounts: counts,
};
const b64 = Buffer.from(encoded).toString('base64');
const wrapped = b64.match(/.{1,100}/g)?.join('\n') ?? '';
mkdirSync(dirname(out), { recursive: true });
writeFileSync(
  out,
  `// Generated by packages/eval/scripts/train-classifier.ts (--dataset ${dataset} --epochs ${epochs} --seed ${seed}). Do not edit.
// ${net.numParams()} float16 weights; test accuracy ${(100 * te.acc).toFixed(2)}% on ${te.n} test images.
import type { ShippedClassifier } from '../shipped-types.js';

/** The training-label marginal p*(y) over the ${total} training labels (for the MODE score). */
const labelMarginal = ${JSON.stringify(labelMarginal)};

/** Facts of the training run. */
const meta = ${JSON.stringify(meta, null, 2)};

const weights = \`
${wrapped}
\`;

/** The shipped ${dataset} classifier. */
export const SHIPPED: ShippedClassifier = { dataset: ${JSON.stringify(dataset)}, config: meta.config, labelMarginal, meta, weights };
`,
);
log(`wrote ${out} (${encoded.length} bytes of weights, ${b64.length} base64 characters)`);
net.dispose();
