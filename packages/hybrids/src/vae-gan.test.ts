/**
 * VAE-GAN: the KL term against the analytic Gaussian KL; the reconstruction term against an
 * independent feature-space computation; each player's gradient is the sum of its parts'; a
 * training step leaks nothing; a resumed run equals an uninterrupted one; typed errors.
 */
import { MemoryCheckpointStore, Rng, ShapeError, tf, ValueError } from '@dgm-js/core-tensors';
import { MlpCritic } from '@dgm-js/gan';
import { disposeAll, expectNoLeaks } from '@dgm-js/test-utils';
import { GaussianVAE } from '@dgm-js/vae';
import { describe, expect, it } from 'vitest';
import { VaeGan, VaeGanTrainer } from './index.js';

const D = 8;
const d = 2;
function make(seed = 0, gamma = 0.5, features?: (x: tf.Tensor) => tf.Tensor) {
  const rng = new Rng(seed);
  return new VaeGan({
    vae: GaussianVAE.mlp({ inputDim: D, hidden: [6], latentDim: d, rng }),
    critic: new MlpCritic({ inputShape: D, hidden: [5, 4], rng }),
    gamma,
    ...(features ? { features } : {}),
  });
}
const batch = () =>
  tf.tidy(() => tf.cast(tf.less(tf.randomUniform([6, D], 0, 1, 'float32', 4), 0.5), 'float32'));
const data = (rng: Rng) =>
  tf.tidy(() =>
    tf.cast(tf.less(tf.randomUniform([6, D], 0, 1, 'float32', rng.next()), 0.4), 'float32'),
  );

describe('VaeGan terms', () => {
  it('KL is the analytic Gaussian KL; L_llike is 0.5 ||Dis_l(x) - Dis_l(x~)||^2 at the same draws', () => {
    const m = make(0, 1, (x) => tf.mul(2, x)); // Dis_l = 2x: an independent feature map
    const x = batch();
    const t = m.terms(x, new Rng(3));
    // the analytic KL from the encoder's mean and scale
    const q = m.vae.encode(x);
    const mu = (q.mean as tf.Tensor).arraySync() as number[][];
    const sd = tf
      .tidy(() => tf.sqrt((q as unknown as { variance: tf.Tensor }).variance))
      .arraySync() as number[][];
    let klSum = 0;
    mu.forEach((row, i) => {
      row.forEach((u, j) => {
        const s = sd[i]![j]!;
        klSum += 0.5 * (u * u + s * s - 1 - 2 * Math.log(s));
      });
    });
    expect(t.kl.dataSync()[0]!).toBeCloseTo(klSum / 6, 4);
    // x~ from the same posterior draw: q.rsample with the same stream state as terms()
    const z = q.rsample({ rng: new Rng(3) });
    const xt = m.decodeMean(z);
    const xs = x.arraySync() as number[][];
    const ts = xt.arraySync() as number[][];
    let ll = 0;
    xs.forEach((row, i) => {
      row.forEach((v, j) => {
        ll += 0.5 * (2 * v - 2 * ts[i]![j]!) ** 2;
      });
    });
    expect(t.llike.dataSync()[0]!).toBeCloseTo(ll / 6, 4);
    disposeAll([t, x, z, xt]);
    q.dispose();
    m.dispose();
  });

  it("each player's gradient is the sum of its parts' gradients", () => {
    const gamma = 0.3;
    const m = make(1, gamma);
    const x = batch();
    const grads = (vars: tf.Variable[], f: (t: ReturnType<typeof m.terms>) => tf.Scalar) =>
      tf.variableGrads(() => f(m.terms(x, new Rng(5))), vars);
    const enc = m.vae.encoder.parameters!();
    const dec = m.vae.decoder.parameters!();
    const cases: [
      tf.Variable[],
      (t: ReturnType<typeof m.terms>) => tf.Scalar,
      [number, keyof ReturnType<typeof m.terms>][],
    ][] = [
      [
        enc,
        (t) => m.encoderLoss(t),
        [
          [1, 'kl'],
          [1, 'llike'],
        ],
      ],
      [
        dec,
        (t) => m.decoderLoss(t),
        [
          [gamma, 'llike'],
          [1, 'ganG'],
        ],
      ],
    ];
    for (const [vars, total, parts] of cases) {
      const g = grads(vars, total);
      const gp = parts.map(([w, k]) => [w, grads(vars, (t) => t[k])] as const);
      for (const v of vars) {
        const sum = tf.tidy(() => tf.addN(gp.map(([w, r]) => tf.mul(w, r.grads[v.name]!))));
        expect(g.grads[v.name]!).toBeAllclose(sum, { rtol: 1e-5, atol: 1e-6 });
        sum.dispose();
      }
      disposeAll([g, gp.map(([, r]) => r)]);
    }
    x.dispose();
    m.dispose();
  });
});

describe('VaeGan training', () => {
  it('a training step leaks nothing and moves all three players', async () => {
    const m = make(2);
    const tr = new VaeGanTrainer({ model: m, data });
    await tr.fit({ steps: 1 });
    const snap = () => m.parameters().map((v) => v.dataSync().slice());
    const before = snap();
    const t2 = new VaeGanTrainer({
      model: m,
      data,
      encoderOptimizer: tr.loop.players.encoder!.optimizer,
      decoderOptimizer: tr.loop.players.decoder!.optimizer,
      criticOptimizer: tr.loop.players.critic!.optimizer,
    });
    await expectNoLeaks(() => t2.fit({ steps: 2 }), 'VAE-GAN step');
    const after = snap();
    const moved = (vars: tf.Variable[]) =>
      vars.some((v) => {
        const i = m.parameters().indexOf(v);
        return after[i]!.some((u, j) => u !== before[i]![j]);
      });
    expect(moved(m.vae.encoder.parameters!())).toBe(true);
    expect(moved(m.vae.decoder.parameters!())).toBe(true);
    expect(moved(m.critic.parameters())).toBe(true);
    tr.dispose();
    m.dispose();
  });

  it('a resumed run (other initial weights) ends exactly where an uninterrupted one does', async () => {
    const run = async (seed: number, store: MemoryCheckpointStore | undefined, steps: number) => {
      const m = make(seed);
      const tr = new VaeGanTrainer({
        model: m,
        data,
        seed: 4,
        ...(store ? { checkpoint: { store, every: 2 }, resume: true } : {}),
      });
      const r = await tr.fit({ steps });
      const s = Object.fromEntries(m.namedState().map(([n, v]) => [n, Array.from(v.dataSync())]));
      tr.dispose();
      m.dispose();
      return { r, s };
    };
    const full = await run(0, undefined, 5);
    const store = new MemoryCheckpointStore();
    await run(0, store, 2);
    const resumed = await run(7, store, 5);
    expect(resumed.r.resumedFrom).toBeDefined();
    expect(resumed.s).toEqual(full.s);
  });

  it('rejects bad options with typed errors', () => {
    const rng = new Rng(0);
    const vae = GaussianVAE.mlp({ inputDim: D, hidden: [4], latentDim: d, rng });
    const critic = new MlpCritic({ inputShape: D, hidden: [4], rng });
    expect(() => new VaeGan({ vae: {} as never, critic })).toThrow(ValueError);
    expect(() => new VaeGan({ vae, critic: {} as never })).toThrow(/critic/);
    expect(() => new VaeGan({ vae, critic, gamma: -1 })).toThrow(/gamma/);
    expect(() => new VaeGan({ vae, critic, features: 3 as never })).toThrow(/features/);
    expect(() => new VaeGan({ vae, critic, loss: 'nope' as never })).toThrow(/unknown loss/);
    const c2 = new MlpCritic({ inputShape: [2, 4], hidden: [4], rng });
    expect(() => new VaeGan({ vae, critic: c2 })).toThrow(ShapeError);
    c2.dispose();
    const m = new VaeGan({ vae, critic });
    const bad = tf.zeros([2, D + 1]);
    expect(() => m.terms(bad, rng)).toThrow(/\[N, 8\]/);
    expect(() => new VaeGanTrainer({ model: m, data: null as never })).toThrow(ValueError);
    bad.dispose();
    m.dispose();
  });
});
