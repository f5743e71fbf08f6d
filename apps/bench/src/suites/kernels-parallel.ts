/**
 * Data-parallel training step of the kernels suite's MLP (784-512-784, Bernoulli cross-entropy,
 * Adam) through the Trainer at batch 128 and 512: the plain Trainer (one thread); one and two
 * worker threads computing the gradients while the main thread only sums them and steps Adam;
 * and the main thread plus one worker, each on half of the batch.
 *
 * The replica (model + loss) is one JavaScript module given as a data: URL that imports the
 * built package by absolute URL: worker threads cannot load this TypeScript file (tsx's loader
 * does not carry over to workers), and the main thread imports the same module, so both sides
 * run exactly the same code.
 */
import {
  adam,
  initBackend,
  type ParallelOptions,
  type ReplicaContext,
  Rng,
  Trainer,
  tf,
} from '@dgm-js/core-tensors';
import type { Row } from '../report.js';
import { progress } from '../timing.js';

/**
 * The replica module's source. Built on first use: `import.meta.resolve` is unavailable where this
 * file is only imported (vitest's module runner), and needed only when the rows run.
 */
const replicaSource = () => `
import { Rng, softplus, tf } from ${JSON.stringify(import.meta.resolve('@dgm-js/core-tensors'))};
function glorot(shape, fanIn, fanOut, rng) {
  const lim = Math.sqrt(6 / (fanIn + fanOut));
  return tf.tidy(() => tf.variable(tf.randomUniform(shape, -lim, lim, 'float32', rng.next())));
}
function zeros(shape) {
  return tf.tidy(() => tf.variable(tf.zeros(shape)));
}
// The 784-512-784 MLP of kernels.ts and its mean Bernoulli cross-entropy.
export function mlpReplica() {
  const rng = new Rng(0);
  const w1 = glorot([784, 512], 784, 512, rng);
  const b1 = zeros([512]);
  const w2 = glorot([512, 784], 512, 784, rng);
  const b2 = zeros([784]);
  const loss = (x) => {
    const h = tf.relu(tf.add(tf.matMul(x, w1), b1));
    const logits = tf.add(tf.matMul(h, w2), b2);
    return { loss: tf.mean(tf.sub(softplus(logits), tf.mul(x, logits))) };
  };
  return { model: { w1, b1, w2, b2 }, loss };
}
`;
let replicaUrl: string | undefined;
const replicaModuleUrl = (): string => {
  replicaUrl ??= `data:text/javascript,${encodeURIComponent(replicaSource())}`;
  return replicaUrl;
};

type MlpReplica = (ctx?: ReplicaContext) => {
  model: Record<string, tf.Variable>;
  loss: (x: tf.Tensor) => { loss: tf.Tensor };
};

interface Config {
  label: string;
  parallel?: Omit<ParallelOptions, 'module'>;
}

const CONFIGS: Config[] = [
  { label: '1proc' },
  { label: '1w', parallel: { workers: 1, mainShard: false } },
  { label: '2w', parallel: { workers: 2, mainShard: false } },
  { label: 'main+1w', parallel: { workers: 1 } },
];

/** Speed-ups reported: [faster, baseline]. */
const SPEEDUPS: [string, string][] = [
  ['2w', '1w'],
  ['main+1w', '1proc'],
  ['2w', '1proc'],
];

/** Ms per Trainer step (times between consecutive steps after `warmup`). */
async function stepTimes(
  batch: number,
  cfg: Config,
  warmup: number,
  iters: number,
): Promise<number[]> {
  const { mlpReplica } = (await import(replicaModuleUrl())) as { mlpReplica: MlpReplica };
  const { model, loss } = mlpReplica();
  const rng = new Rng(1);
  const x = tf.tidy(() =>
    tf.cast(tf.less(tf.randomUniform([batch, 784], 0, 1, 'float32', rng.next()), 0.5), 'float32'),
  );
  const optimizer = adam(1e-3);
  const stamps: number[] = [];
  let lastLoss = Number.NaN;
  const trainer = new Trainer<tf.Tensor>({
    model,
    objective: loss,
    data: [x],
    optimizer,
    maxSteps: warmup + iters + 1,
    quiet: true,
    historyEvery: 1000,
    onStep: (i) => {
      stamps.push(performance.now());
      lastLoss = i.loss;
    },
    ...(cfg.parallel
      ? { parallel: { ...cfg.parallel, module: replicaModuleUrl(), exportName: 'mlpReplica' } }
      : {}),
  });
  try {
    await trainer.fit();
  } finally {
    tf.dispose([x, ...Object.values(model)]);
    optimizer.dispose();
  }
  if (!Number.isFinite(lastLoss)) throw new Error(`${cfg.label}: non-finite loss`);
  return stamps.slice(warmup + 1).map((t, i) => t - stamps[warmup + i]!);
}

function quantile(xs: number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  const pos = (s.length - 1) * q;
  const lo = Math.floor(pos);
  return s[lo]! + (s[Math.min(lo + 1, s.length - 1)]! - s[lo]!) * (pos - lo);
}

/**
 * Rows: ms per MLP training step (Trainer, Adam) at batch 128 and 512 for each configuration
 * above, and the speed-ups 2 workers vs 1 worker, main + 1 worker vs one process, 2 workers vs
 * one process (between our own runs in the same run; no peer). The configurations run in
 * interleaved rounds and each value is the median over all rounds' steps, so that load from
 * other processes falls on every configuration alike; the note gives the 10th percentile too
 * (closer to what two otherwise idle cores give).
 */
export async function parallelRows(profile: 'quick' | 'full'): Promise<Row[]> {
  await initBackend({ quiet: true });
  const quick = profile === 'quick';
  const warmup = quick ? 3 : 5;
  const iters = quick ? 12 : 30;
  const rounds = quick ? 2 : 4;
  const rows: Row[] = [];
  const about =
    'Trainer steps of the 784-512-784 MLP (Adam). 1proc: the plain Trainer, one thread. 1w / 2w: Trainer parallel with 1 / 2 worker threads computing the gradients, the main thread only summing them and stepping Adam (1w has the copies through shared memory but no parallelism). main+1w: the main thread and one worker, each on half of the batch.';
  for (const batch of [128, 512]) {
    const times: Record<string, number[]> = Object.fromEntries(CONFIGS.map((c) => [c.label, []]));
    for (let r = 0; r < rounds; r++) {
      for (const cfg of CONFIGS) {
        times[cfg.label]!.push(...(await stepTimes(batch, cfg, warmup, iters)));
      }
    }
    const ms: Record<string, number> = {};
    const p10: Record<string, number> = {};
    for (const cfg of CONFIGS) {
      ms[cfg.label] = quantile(times[cfg.label]!, 0.5);
      p10[cfg.label] = quantile(times[cfg.label]!, 0.1);
      progress(
        `parallel mlp-step b${batch} ${cfg.label}: median ${ms[cfg.label]!.toFixed(2)} ms, p10 ${p10[cfg.label]!.toFixed(2)} ms`,
      );
      rows.push({
        name: `mlp-step-b${batch}-${cfg.label}`,
        value: ms[cfg.label]!,
        unit: 'ms',
        peer: null,
        ratio: null,
        note: `${about} Median of ${times[cfg.label]!.length} steps in ${rounds} interleaved rounds; p10 ${p10[cfg.label]!.toFixed(2)} ms.`,
      });
    }
    for (const [fast, base] of SPEEDUPS) {
      rows.push({
        name: `mlp-step-b${batch}-speedup-${fast}-vs-${base}`,
        value: ms[base]! / ms[fast]!,
        unit: 'x',
        peer: null,
        ratio: null,
        note: `${base} / ${fast} median ms per step at batch ${batch} (p10: ${(p10[base]! / p10[fast]!).toFixed(2)}x), in the same run; no peer.`,
      });
    }
  }
  return rows;
}
