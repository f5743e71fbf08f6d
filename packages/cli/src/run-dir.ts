/**
 * The run directory: `run.json` (the model kind, its options, the data and the training
 * settings: everything `eval` and `sample` need to rebuild the model), `checkpoints/`
 * (step-numbered Trainer checkpoints), `log.jsonl` (the training log) and `eval.jsonl`.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CliError } from './errors.js';
import { MODEL_KINDS, type ModelKind, type ModelOptions } from './specs.js';

/** The file that makes a directory a run. */
export const RUN_FILE = 'run.json';

/** What `run.json` holds. */
export interface RunConfig {
  format: 'dgm-run';
  version: 1;
  /** The model kind (`dgm train <model>`). */
  model: ModelKind;
  /** The model's options, as resolved from the flags and defaults. */
  options: ModelOptions;
  /** The data: MNIST, the first `trainSize` training digits, `batchSize` per step. */
  data: { name: 'mnist'; trainSize: number; batchSize: number };
  /** The training settings. */
  train: { steps: number; lr: number; seed: number; checkpointEvery: number; keep: number };
  /** When the run was created (ISO 8601). */
  createdAt: string;
}

/** The paths inside a run directory. */
export function runPaths(dir: string): {
  config: string;
  checkpoints: string;
  log: string;
  eval: string;
} {
  return {
    config: join(dir, RUN_FILE),
    checkpoints: join(dir, 'checkpoints'),
    log: join(dir, 'log.jsonl'),
    eval: join(dir, 'eval.jsonl'),
  };
}

/** Whether `dir` holds a run. */
export function hasRun(dir: string): boolean {
  return existsSync(runPaths(dir).config);
}

/**
 * Reads and checks `run.json` of `dir`: a CliError naming the file when it is missing or not a
 * dgm run.
 */
export function readRun(dir: string): RunConfig {
  const file = runPaths(dir).config;
  if (!existsSync(dir)) {
    throw new CliError(
      `${dir}: no such directory; give the --out directory of a \`dgm train\` run.`,
    );
  }
  if (!existsSync(file)) {
    throw new CliError(
      `${dir}: not a dgm run (${RUN_FILE} not found); give the --out directory of a \`dgm train\` run.`,
    );
  }
  let cfg: RunConfig;
  try {
    cfg = JSON.parse(readFileSync(file, 'utf8')) as RunConfig;
  } catch (e) {
    throw new CliError(`${file}: not valid JSON (${e instanceof Error ? e.message : String(e)}).`);
  }
  if (cfg?.format !== 'dgm-run' || cfg.version !== 1) {
    throw new CliError(`${file}: not a dgm run file (expected format 'dgm-run', version 1).`);
  }
  if (!(MODEL_KINDS as readonly string[]).includes(cfg.model)) {
    throw new CliError(
      `${file}: unknown model '${String(cfg.model)}' (this dgm knows ${MODEL_KINDS.join(', ')}).`,
    );
  }
  return cfg;
}

/** Writes `run.json` (creating the directory). */
export function writeRun(dir: string, cfg: RunConfig): void {
  mkdirSync(dir, { recursive: true });
  writeFileSync(runPaths(dir).config, `${JSON.stringify(cfg, null, 2)}\n`);
}
