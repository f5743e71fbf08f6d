/**
 * Rebuilds a run's model from `run.json` and loads the parameters of its newest checkpoint.
 */
import { latestCheckpoint, loadModule, Rng } from '@dgm-js/core-tensors';
import { CliError } from './errors.js';
import { type BuiltModel, buildModel, disposeModel } from './models.js';
import { type RunConfig, readRun, runPaths } from './run-dir.js';

/** A restored run: its config, its model with trained parameters, and the checkpoint's step. */
export interface RestoredRun {
  cfg: RunConfig;
  model: BuiltModel;
  checkpoint: string;
  step: number;
}

/**
 * Reads `run.json` of `dir`, builds the model and loads its newest checkpoint (a CliError when
 * the run has none yet).
 */
export async function restoreRun(dir: string): Promise<RestoredRun> {
  const cfg = readRun(dir);
  const checkpoint = await latestCheckpoint(runPaths(dir).checkpoints);
  if (checkpoint === undefined) {
    throw new CliError(
      `${dir}: the run has no checkpoint yet (${runPaths(dir).checkpoints} is empty); train it first.`,
    );
  }
  const model = buildModel(cfg.model, cfg.options, new Rng(cfg.train.seed));
  try {
    if (model.family === 'vae') await loadModule(model.vae, checkpoint, { prefix: 'model/' });
    else if (model.family === 'flow')
      await loadModule(model.flow, checkpoint, { prefix: 'model/' });
    else await loadModule(model.generator, checkpoint, { prefix: 'generator/' });
  } catch (e) {
    disposeModel(model);
    throw e;
  }
  return { cfg, model, checkpoint, step: Number(/step-(\d+)/.exec(checkpoint)?.[1] ?? 0) };
}
