/**
 * Checkpoint / resume of every hybrid: a trained model saved with core's `saveModule` and loaded
 * into a freshly built one (other seeds) has the same state, the same ELBO at the same draws and
 * the same gradients; RELAX's estimator state (control variate and its optimiser) round-trips as
 * JSON beside it.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadModule, mlp, Rng, saveModule, tf } from '@dgm-js/core-tensors';
import { relax } from '@dgm-js/estimators';
import { disposeAll } from '@dgm-js/test-utils';
import {
  bernoulliDecoder,
  categoricalEncoder,
  gaussianEncoder,
  stdNormal,
  uniformCategorical,
  VAE,
} from '@dgm-js/vae';
import { afterAll, describe, expect, it } from 'vitest';
import { iafPosterior, mafPrior, pixelVae, planarPosterior } from './index.js';

const D = 16;
const d = 2;
const MODELS: [string, (seed: number) => VAE][] = [
  [
    'VAE + planar posterior',
    (seed) => {
      const rng = new Rng(seed);
      return new VAE({
        encoder: planarPosterior(mlp([D, 8, 2 * d + 3], { rng, activation: 'tanh' }), {
          latentDim: d,
          layers: 2,
          contextDim: 3,
          rng,
        }),
        decoder: bernoulliDecoder(mlp([d, 8, D], { rng, activation: 'tanh' })),
        prior: stdNormal(d),
      });
    },
  ],
  [
    'VAE + IAF posterior',
    (seed) => {
      const rng = new Rng(seed);
      return new VAE({
        encoder: iafPosterior(mlp([D, 8, 2 * d + 3], { rng, activation: 'tanh' }), {
          latentDim: d,
          contextDim: 3,
          hidden: [6],
          rng,
        }),
        decoder: bernoulliDecoder(mlp([d, 8, D], { rng, activation: 'tanh' })),
        prior: stdNormal(d),
      });
    },
  ],
  [
    'VAE + MAF prior',
    (seed) => {
      const rng = new Rng(seed);
      return new VAE({
        encoder: gaussianEncoder(mlp([D, 8, 2 * d], { rng, activation: 'tanh' })),
        decoder: bernoulliDecoder(mlp([d, 8, D], { rng, activation: 'tanh' })),
        prior: mafPrior(d, { rng, hidden: [6] }),
      });
    },
  ],
  [
    'PixelVAE',
    (seed) => {
      const rng = new Rng(seed);
      return pixelVae({
        height: 4,
        width: 4,
        latentDim: d,
        layers: 1,
        hiddenChannels: 4,
        firstKernelSize: 3,
        encoder: mlp([D, 8, 2 * d], { rng, activation: 'tanh' }),
        rng,
      });
    },
  ],
  [
    'categorical VAE + RELAX',
    (seed) => {
      const rng = new Rng(seed);
      return new VAE({
        encoder: categoricalEncoder(mlp([D, 8, 2 * 3], { rng }), { latents: 2, categories: 3 }),
        decoder: bernoulliDecoder(mlp([6, 8, D], { rng, activation: 'tanh' })),
        prior: uniformCategorical(2, 3),
        estimator: relax({ hidden: 4, seed }),
      });
    },
  ],
];

const dirs: string[] = [];
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

describe.each(MODELS)('%s', (_name, make) => {
  it('saveModule / loadModule round-trip the state; the ELBO and the gradients match after resume', async () => {
    const x = tf.tidy(() =>
      tf.cast(tf.less(tf.randomUniform([6, D], 0, 1, 'float32', 9), 0.5), 'float32'),
    );
    const a = make(0);
    const opt = tf.train.adam(1e-2);
    const rng = new Rng(1);
    for (let i = 0; i < 3; i++) tf.tidy(() => void opt.minimize(() => a.loss(x, { rng }).loss));
    opt.dispose();
    const dir = mkdtempSync(join(tmpdir(), 'hybrids-ckpt-'));
    dirs.push(dir);
    await saveModule(a, dir, { metadata: { model: _name } });
    const b = make(1);
    const meta = await loadModule(b, dir);
    expect(meta.model).toBe(_name);
    if (a.estimator) b.estimator!.setState(JSON.parse(JSON.stringify(a.estimator.getState())));
    const sa = a.getState();
    const sb = b.getState();
    expect(Object.keys(sb).sort()).toEqual(Object.keys(sa).sort());
    for (const k of Object.keys(sa)) expect(sb[k]!).toBeAllclose(sa[k]!, { rtol: 0, atol: 0 });
    disposeAll([sa, sb]);
    expect(b.elbo(x, { rng: new Rng(5), samples: 2 })).toBeAllclose(
      a.elbo(x, { rng: new Rng(5), samples: 2 }),
      { rtol: 0, atol: 0 },
    );
    const grads = [a, b].map((m) =>
      tf.variableGrads(() => m.loss(x, { rng: new Rng(6) }).loss, m.trainableParameters()),
    );
    const ga = Object.values(grads[0]!.grads);
    const gb = Object.values(grads[1]!.grads);
    expect(gb.length).toBe(ga.length);
    ga.forEach((g, i) => {
      expect(gb[i]!).toBeAllclose(g, { rtol: 1e-6, atol: 1e-7 });
    });
    disposeAll([grads, x]);
    a.dispose();
    b.dispose();
  });
});
