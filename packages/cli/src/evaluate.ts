/**
 * `dgm eval <run>`: the metrics of a trained run on the first `n` MNIST test digits, each a mean
 * over examples with its standard error (FID with none), through @dgm-js/eval.
 */

import { appendFileSync } from 'node:fs';
import { bitsPerDim, initBackend, Rng, type Tensor } from '@dgm-js/core-tensors';
import {
  estimateLogLikelihood,
  evaluateElbo,
  evaluateLogProb,
  fidMetric,
  loadMnistClassifier,
} from '@dgm-js/eval';
import { evalTensor, firstN, MNIST_TEST, mnistSplit, realImages } from './data.js';
import { CliError } from './errors.js';
import { type BuiltModel, disposeModel, MODELS, PIXELS, sampleImages } from './models.js';
import { restoreRun } from './restore.js';
import { readRun, runPaths } from './run-dir.js';

/** What `dgm eval` was given. */
export interface EvalArgs {
  run: string;
  metrics: string[] | undefined;
  n: number;
  k: number;
  fidSamples: number;
  seed: number;
}

/** One metric's value. */
export interface MetricRow {
  metric: string;
  value: number;
  stderr: number | undefined;
  n: number;
  unit: string;
}

/**
 * The metrics to compute: the given list (each checked against the model kind: a CliError
 * naming `--metrics` otherwise), or the kind's defaults.
 */
export function checkMetrics(run: string, metrics: string[] | undefined): string[] {
  const cfg = readRun(run);
  const spec = MODELS[cfg.model];
  if (metrics === undefined) return [...spec.defaultMetrics];
  for (const m of metrics) {
    if (!spec.metrics.includes(m)) {
      throw new CliError(
        `--metrics: '${m}' does not apply to a ${cfg.model} run; it has ${spec.metrics.join(', ')}.`,
      );
    }
  }
  return metrics;
}

/**
 * Runs `dgm eval`: returns one row per metric (also appended to `<run>/eval.jsonl`).
 *
 * @example
 * ```ts
 * const rows = await evaluate({ run: 'run', metrics: ['elbo'], n: 1000, k: 100, fidSamples: 1000, seed: 0 });
 * ```
 */
export async function evaluate(a: EvalArgs): Promise<{ step: number; rows: MetricRow[] }> {
  const metrics = checkMetrics(a.run, a.metrics);
  if (a.n > MNIST_TEST) {
    throw new CliError(`-n/--n: MNIST has ${MNIST_TEST} test digits, got ${a.n}.`);
  }
  await initBackend({ quiet: true });
  const { model, step, cfg } = await restoreRun(a.run);
  const rows: MetricRow[] = [];
  let x: Tensor | undefined;
  try {
    const needsData = metrics.some((m) => m !== 'fid');
    if (needsData) {
      const test = firstN(await mnistSplit(model.family, 'test'), a.n, '-n/--n');
      x = evalTensor(model.family, test, a.seed);
    }
    for (const m of metrics) rows.push(await metric(m, model, x, a));
  } finally {
    x?.dispose();
    disposeModel(model);
  }
  const at = new Date().toISOString();
  const lines = rows.map((r) => JSON.stringify({ type: 'eval', step, model: cfg.model, ...r, at }));
  appendFileSync(runPaths(a.run).eval, `${lines.join('\n')}\n`);
  return { step, rows };
}

async function metric(
  name: string,
  model: BuiltModel,
  x: Tensor | undefined,
  a: EvalArgs,
): Promise<MetricRow> {
  if (name === 'fid') {
    const classifier = await loadMnistClassifier();
    const fake = sampleImages(model, a.fidSamples, new Rng(a.seed));
    const real = await realImages(a.fidSamples);
    try {
      const r = await fidMetric({ classifier, bootstrap: 0 }).compute(fake, real);
      return { metric: 'fid', value: r.value, stderr: undefined, n: r.n, unit: 'FID-MNIST' };
    } finally {
      fake.dispose();
      real.dispose();
      classifier.dispose();
    }
  }
  if (model.family === 'vae') {
    if (name === 'elbo') {
      const r = await evaluateElbo(model.vae, x!, { seed: a.seed });
      return { metric: 'elbo', value: r.mean, stderr: r.stderr, n: r.n, unit: 'nats' };
    }
    const chunk = Math.min(a.k, 50);
    const r = await estimateLogLikelihood(model.vae, x!, { k: a.k, chunk, seed: a.seed + 1 });
    return { metric: `iwae`, value: r.mean, stderr: r.stderr, n: r.n, unit: `nats (k=${a.k})` };
  }
  if (model.family === 'flow') {
    const r = await evaluateLogProb(model.flow, x!);
    const nll = -r.mean;
    if (name === 'nll')
      return { metric: 'nll', value: nll, stderr: r.stderr, n: r.n, unit: 'nats' };
    return {
      metric: 'bpd',
      value: bitsPerDim(nll, PIXELS, { levels: 256 }),
      stderr: r.stderr / (PIXELS * Math.LN2),
      n: r.n,
      unit: 'bits/dim',
    };
  }
  throw new CliError(`--metrics: '${name}' does not apply to a ${model.kind} run.`);
}
