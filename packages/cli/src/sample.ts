/**
 * `dgm sample <run>`: n images from a trained run, tiled into one PNG grid.
 */
import { initBackend, Rng, saveImageGrid } from '@dgm-js/core-tensors';
import { disposeModel, sampleImages } from './models.js';
import { restoreRun } from './restore.js';

/** What `dgm sample` was given. */
export interface SampleArgs {
  run: string;
  n: number;
  png: string;
  seed: number;
  cols: number | undefined;
}

/**
 * Runs `dgm sample`: writes the grid and returns where, the step and the image count.
 *
 * @example
 * ```ts
 * await sample({ run: 'run', n: 64, png: 'grid.png', seed: 0, cols: undefined });
 * ```
 */
export async function sample(a: SampleArgs): Promise<{ png: string; step: number; n: number }> {
  await initBackend({ quiet: true });
  const { model, step } = await restoreRun(a.run);
  try {
    const images = sampleImages(model, a.n, new Rng(a.seed));
    try {
      await saveImageGrid(a.png, images, a.cols === undefined ? {} : { cols: a.cols });
    } finally {
      images.dispose();
    }
  } finally {
    disposeModel(model);
  }
  return { png: a.png, step, n: a.n };
}
