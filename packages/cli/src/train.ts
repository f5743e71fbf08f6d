/**
 * `dgm train <model>`: builds the model, trains it on MNIST with the core Trainer (VAEs, flows)
 * or @dgm-js/gan's GanTrainer (the GAN), checkpointing into `<out>/checkpoints/`, logging to
 * `<out>/log.jsonl`, and resuming exactly with `--resume`.
 */

import { appendFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import {
  adam,
  type Callback,
  initBackend,
  JsonlLogCallback,
  latestCheckpoint,
  type ProgressInfo,
  type ProgressStream,
  Rng,
  type StepContext,
  type Tensor,
  type Trainable,
  Trainer,
  tf,
} from '@dgm-js/core-tensors';
import { batches, getBatch } from '@dgm-js/datasets';
import { dequantize } from '@dgm-js/flows';
import { type GanCallback, GanTrainer } from '@dgm-js/gan';
import { firstN, MNIST_TRAIN, mnistSplit, randomIndices } from './data.js';
import { CliError } from './errors.js';
import {
  type BuiltModel,
  buildModel,
  disposeModel,
  MODELS,
  type ModelKind,
  type ModelOptions,
  OPTION_FLAGS,
  PIXELS,
  resolveOptions,
} from './models.js';
import { CliProgress } from './progress.js';
import { hasRun, type RunConfig, readRun, runPaths, writeRun } from './run-dir.js';

/** What `dgm train` was given (after the flags were parsed and checked one by one). */
export interface TrainArgs {
  model: ModelKind | undefined;
  out: string;
  data: string;
  steps: number | undefined;
  batchSize: number | undefined;
  trainSize: number | undefined;
  lr: number | undefined;
  seed: number | undefined;
  checkpointEvery: number | undefined;
  keep: number | undefined;
  resume: boolean;
  progress: boolean;
  options: Partial<ModelOptions>;
}

/** What a finished `dgm train` reports. */
export interface TrainSummary {
  model: ModelKind;
  step: number;
  resumedFrom: string | undefined;
  lastCheckpoint: string | undefined;
  loss: number | undefined;
  seconds: number;
}

/** The run's config: a new one from the flags, or the stored one (with a new budget) on --resume. */
function runConfig(a: TrainArgs): RunConfig {
  if (a.data !== 'mnist') {
    throw new CliError(`--data: unknown data set '${a.data}'; this dgm trains on 'mnist'.`);
  }
  if (a.resume) {
    if (!hasRun(a.out)) {
      throw new CliError(
        `--resume: ${a.out} holds no run (run.json not found); start one without --resume.`,
      );
    }
    const cfg = readRun(a.out);
    if (a.model !== undefined && a.model !== cfg.model) {
      throw new CliError(
        `<model>: ${a.out} is a ${cfg.model} run, not ${a.model}; resume it as ${cfg.model} (or omit the model).`,
      );
    }
    const fixed: [unknown, unknown, string][] = [
      [a.batchSize, cfg.data.batchSize, '--batch-size'],
      [a.trainSize, cfg.data.trainSize, '--train-size'],
      [a.lr, cfg.train.lr, '--lr'],
      [a.seed, cfg.train.seed, '--seed'],
      [a.checkpointEvery, cfg.train.checkpointEvery, '--checkpoint-every'],
      [a.keep, cfg.train.keep, '--keep'],
    ];
    for (const [k, v] of Object.entries(a.options) as [keyof ModelOptions, unknown][]) {
      if (v !== undefined) fixed.push([v, cfg.options[k], OPTION_FLAGS[k]]);
    }
    for (const [given, stored, flag] of fixed) {
      if (given !== undefined && JSON.stringify(given) !== JSON.stringify(stored)) {
        throw new CliError(
          `${flag}: the run was started with ${JSON.stringify(stored)}; a resumed run keeps its settings (omit ${flag}).`,
        );
      }
    }
    return a.steps === undefined ? cfg : { ...cfg, train: { ...cfg.train, steps: a.steps } };
  }
  if (a.model === undefined) {
    throw new CliError("<model>: missing; e.g. 'dgm train gaussian-vae --steps 1000 --out run/'.");
  }
  if (hasRun(a.out)) {
    throw new CliError(
      `--out: ${a.out} already holds a run (run.json); pass --resume to continue it, or choose another directory.`,
    );
  }
  if (a.steps === undefined)
    throw new CliError('--steps: required (the number of training steps).');
  const trainSize = a.trainSize ?? MNIST_TRAIN;
  if (trainSize > MNIST_TRAIN) {
    throw new CliError(`--train-size: MNIST has ${MNIST_TRAIN} training digits, got ${trainSize}.`);
  }
  const batchSize = a.batchSize ?? 64;
  if (batchSize > trainSize) {
    throw new CliError(`--batch-size: ${batchSize} is more than --train-size ${trainSize}.`);
  }
  const gan = MODELS[a.model].family === 'gan';
  return {
    format: 'dgm-run',
    version: 1,
    model: a.model,
    options: resolveOptions(a.model, a.options),
    data: { name: 'mnist', trainSize, batchSize },
    train: {
      steps: a.steps,
      lr: a.lr ?? (gan ? 2e-4 : 1e-3),
      seed: a.seed ?? 0,
      checkpointEvery: a.checkpointEvery ?? Math.max(1, Math.min(1000, Math.ceil(a.steps / 10))),
      keep: a.keep ?? 3,
    },
    createdAt: new Date().toISOString(),
  };
}

/** Progress on stderr: on a terminal, or anywhere with --progress. */
function progressStream(force: boolean): ProgressStream | undefined {
  const err = process.stderr;
  if (!err.isTTY && !force) return undefined;
  return err;
}

/**
 * Runs `dgm train`. Returns the summary (also printed as one line on stdout).
 *
 * @example
 * ```ts
 * await train({ model: 'gaussian-vae', out: 'run', data: 'mnist', steps: 100, resume: false, ... });
 * ```
 */
export async function train(a: TrainArgs): Promise<TrainSummary> {
  const cfg = runConfig(a);
  const paths = runPaths(a.out);
  if (a.resume) {
    const last = await latestCheckpoint(paths.checkpoints);
    const at = last ? Number(/step-(\d+)/.exec(last)?.[1] ?? 0) : 0;
    if (at > cfg.train.steps) {
      throw new CliError(
        `--steps: the run is already at step ${at} (${last}); give --steps ${at} or more.`,
      );
    }
  }
  await initBackend({ quiet: true });
  const family = MODELS[cfg.model].family;
  const train = firstN(await mnistSplit(family, 'train'), cfg.data.trainSize, '--train-size');
  writeRun(a.out, cfg);
  const model = buildModel(cfg.model, cfg.options, new Rng(cfg.train.seed));
  const stream = progressStream(a.progress);
  const t0 = performance.now();
  try {
    const r =
      model.family === 'gan'
        ? await trainGan(model, cfg, train, a, stream)
        : await trainWithTrainer(model, cfg, train, a, stream);
    return { model: cfg.model, ...r, seconds: (performance.now() - t0) / 1000 };
  } finally {
    disposeModel(model);
  }
}

// biome-ignore lint/suspicious/noExplicitAny: the image dataset's shape parameter is not needed
type Images = import('@dgm-js/datasets').ImageDataset<any>;

type Result = Omit<TrainSummary, 'model' | 'seconds'>;

/** VAEs and flows: the core Trainer, with its checkpoints, JSONL log and progress. */
async function trainWithTrainer(
  model: Exclude<BuiltModel, { family: 'gan' }>,
  cfg: RunConfig,
  train: Images,
  a: TrainArgs,
  stream: ProgressStream | undefined,
): Promise<Result> {
  const paths = runPaths(a.out);
  type Batch = { tensors: { x: Tensor } };
  let module: Trainable;
  let loss: (b: Batch, ctx: StepContext) => { loss: Tensor; metrics?: Record<string, Tensor> };
  // The JSONL log, flushed when a checkpoint's state is gathered (before the checkpoint is
  // written), so a process killed right after a checkpoint leaves no gap before it in the log.
  const jsonl = new JsonlLogCallback(paths.log);
  const callbacks: Callback[] = [
    jsonl,
    {
      name: 'cli-log-flush',
      saveState: async () => {
        await jsonl.onCheckpoint();
        return undefined;
      },
    },
  ];
  if (model.family === 'vae') {
    const vae = model.vae;
    module = vae;
    const objective = vae.objective();
    loss = (b, ctx) => objective.loss(b, ctx) as ReturnType<typeof loss>;
    const est = vae.estimator;
    if (est) {
      // the estimator's state (temperature schedule, baselines) goes into every checkpoint (a
      // Trainer that checkpoints `trainingState()` itself saves it twice: the same state)
      callbacks.push({
        name: 'cli-estimator-state',
        saveState: () => ({ json: est.getState() }),
        loadState: (_t, s) => est.setState(s.json as never),
      });
    }
  } else {
    const flow = model.flow;
    module = flow;
    loss = (b, ctx) => {
      const x = dequantize(b.tensors.x, { rng: ctx.rng }); // (k + u) / 256, fresh u every step
      const nll = tf.neg(tf.mean(flow.logProb(x)));
      // bits/dim of the discrete data: (nll + D ln 256) / (D ln 2)
      const bpd = tf.div(tf.add(nll, PIXELS * Math.log(256)), PIXELS * Math.LN2);
      return { loss: nll, metrics: { bpd } };
    };
  }
  const display = stream ? new CliProgress(stream, cfg.train.steps) : undefined;
  // the Trainer's messages: on the progress display, or (without one) only its warnings
  callbacks.push({
    name: 'cli-messages',
    onMessage: (_t, m) => {
      if (display) display.log(m);
      else if (m.startsWith('warning')) process.stderr.write(`${m}\n`);
    },
  });
  const { batchSize } = cfg.data;
  const seed = cfg.train.seed;
  const optimizer = adam(cfg.train.lr);
  try {
    const result = await new Trainer<Batch>({
      model: module,
      objective: { loss },
      data: (epoch: number) =>
        batches(train, { batchSize, seed: seed + 1, startEpoch: epoch, fields: ['x'] }),
      optimizer,
      maxSteps: cfg.train.steps,
      seed,
      checkpoint: {
        dir: paths.checkpoints,
        every: cfg.train.checkpointEvery,
        keep: cfg.train.keep,
      },
      resume: a.resume,
      metadata: { run: cfg },
      // the built-in display stays quiet: its lines go through CliProgress (fitted to the terminal)
      quiet: true,
      ...(display && stream
        ? {
            progress: {
              stream,
              ...(stream.isTTY
                ? {}
                : { everySteps: Math.max(1, Math.round(cfg.train.steps / 20)) }),
            },
            onProgress: (p: ProgressInfo) => display.update(p),
          }
        : {}),
      callbacks,
    }).fit();
    display?.finish();
    return {
      step: result.step,
      resumedFrom: result.resumedFrom,
      lastCheckpoint: result.lastCheckpoint,
      loss: result.history.at(-1)?.loss,
    };
  } finally {
    optimizer.dispose();
  }
}

/** The GAN: GanTrainer (exact resume of both players), with progress and a JSONL log here. */
async function trainGan(
  model: Extract<BuiltModel, { family: 'gan' }>,
  cfg: RunConfig,
  train: Images,
  a: TrainArgs,
  stream: ProgressStream | undefined,
): Promise<Result> {
  const paths = runPaths(a.out);
  const { batchSize, trainSize } = cfg.data;
  const total = cfg.train.steps;
  const log = new GanLog(paths.log);
  const reporter = stream ? new CliProgress(stream, total) : undefined;
  let sessionStart = performance.now();
  let sessionStep = 0;
  const info = (step: number, metrics: Readonly<Record<string, number>>) => {
    const sec = Math.max((performance.now() - sessionStart) / 1000, 1e-9);
    const sps = (step - sessionStep) / sec;
    const { lossG = Number.NaN, ...rest } = metrics;
    return {
      step,
      totalSteps: total,
      epoch: 0,
      epochs: undefined,
      loss: lossG,
      metrics: { lossD: rest.lossD ?? Number.NaN },
      stepsPerSec: sps,
      examplesPerSec: sps * batchSize,
      etaSec: sps > 0 ? Math.max(total - step, 0) / sps : undefined,
      skipped: 0,
    };
  };
  let lastMetrics: Readonly<Record<string, number>> | undefined;
  const callback: GanCallback = {
    name: 'cli',
    // flushed while the checkpoint is gathered, before it is written (no gap if killed after it)
    saveState: () => {
      log.flush();
      return undefined;
    },
    onStepEnd: (_t, e) => {
      lastMetrics = e.metrics;
      log.push({ type: 'train', step: e.step, ...e.metrics });
      if (reporter?.due(e.step)) reporter.update(info(e.step, e.metrics));
    },
  };
  // the caller owns the optimizers (their Adam moments are tensors): disposed below
  const generatorOptimizer = adam(cfg.train.lr, 0.5, 0.999);
  const criticOptimizer = adam(cfg.train.lr, 0.5, 0.999);
  const trainer = new GanTrainer({
    generator: model.generator,
    critic: model.critic,
    loss: 'non-saturating',
    data: (rng) => getBatch(train, randomIndices(rng, trainSize, batchSize), { fields: ['x'] }).x,
    generatorOptimizer,
    criticOptimizer,
    seed: cfg.train.seed,
    checkpoint: { dir: paths.checkpoints, every: cfg.train.checkpointEvery, keep: cfg.train.keep },
    resume: a.resume,
    metadata: { run: cfg },
    callbacks: [callback],
  });
  try {
    const startStep = a.resume ? await resumedStep(paths.checkpoints) : 0;
    log.open(startStep);
    sessionStart = performance.now();
    sessionStep = startStep;
    const r = await trainer.fit({ steps: total });
    log.flush();
    if (reporter) reporter.finish(lastMetrics ? info(r.step, lastMetrics) : undefined);
    return {
      step: r.step,
      resumedFrom: r.resumedFrom,
      lastCheckpoint: r.lastCheckpoint,
      loss: lastMetrics?.lossG,
    };
  } finally {
    trainer.dispose();
    generatorOptimizer.dispose();
    criticOptimizer.dispose();
  }
}

async function resumedStep(dir: string): Promise<number> {
  const last = await latestCheckpoint(dir);
  return last ? Number(/step-(\d+)/.exec(last)?.[1] ?? 0) : 0;
}

/**
 * The GAN's JSONL log: one `{"type":"train","step":...}` line per step, written at every
 * checkpoint; on resume the lines after the checkpoint's step are dropped, so the file reads as
 * one uninterrupted run (as the core Trainer's log does).
 */
class GanLog {
  private pending: string[] = [];
  constructor(private readonly path: string) {}

  open(step: number): void {
    if (!existsSync(this.path)) return;
    const keep = readFileSync(this.path, 'utf8')
      .split('\n')
      .filter((l) => {
        if (l.trim() === '') return false;
        try {
          return (JSON.parse(l) as { step?: number }).step! <= step;
        } catch {
          return false;
        }
      });
    writeFileSync(this.path, keep.length ? `${keep.join('\n')}\n` : '');
  }

  push(row: Record<string, unknown>): void {
    this.pending.push(JSON.stringify(row));
  }

  flush(): void {
    if (this.pending.length === 0) return;
    appendFileSync(this.path, `${this.pending.join('\n')}\n`);
    this.pending = [];
  }
}
