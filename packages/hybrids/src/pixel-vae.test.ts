/**
 * PixelVAE: the loss against the ELBO by hand (decoder log-likelihood at the same latents, the
 * Gaussian KL in closed form), p(x | z) normalised over every 2 x 2 image, the same-depth
 * baseline (same reach, parameters differing by the conditioning maps only), sampling, leaks.
 */
import { mlp, Rng, tf, ValueError } from '@dgm-js/core-tensors';
import { disposeAll, expectNoLeaks } from '@dgm-js/test-utils';
import { describe, expect, it } from 'vitest';
import { LatentMap, pixelDecoder, pixelVae, sameDepthPixelCnn } from './index.js';

type Tensor = tf.Tensor;
const binary = (n: number, d: number, seed: number) =>
  tf.tidy(() => tf.cast(tf.less(tf.randomUniform([n, d], 0, 1, 'float32', seed), 0.4), 'float32'));

const small = (seed = 0, side = 4, latentDim = 3) => {
  const rng = new Rng(seed);
  return pixelVae({
    height: side,
    width: side,
    latentDim,
    layers: 1,
    hiddenChannels: 8,
    firstKernelSize: 3,
    encoder: mlp([side * side, 16, 2 * latentDim], { rng, activation: 'tanh' }),
    rng,
  });
};

describe('pixelVae', () => {
  it('the loss is E_q[log p(x|z)] - KL by hand: PixelCNN log-likelihood at the same z, closed-form Gaussian KL', () => {
    const vae = small();
    const x = binary(5, 16, 1);
    const k = 2;
    const got = vae.loss(x, { rng: new Rng(7), k });
    const want = tf.tidy(() => {
      const q = vae.encode(x);
      const z = q.rsample({ sampleShape: [k], rng: new Rng(7) }); // [k, 5, 3], the loss' draws
      q.dispose();
      const [loc, raw] = tf.split(vae.encoder.net.apply(x), 2, 1) as [Tensor, Tensor];
      const scale = tf.add(tf.softplus(raw), 1e-5);
      const klv = tf.sum(
        tf.sub(tf.mul(0.5, tf.add(tf.square(scale), tf.square(loc))), tf.add(tf.log(scale), 0.5)),
        -1,
      );
      const px = vae.decoder.condition(tf.reshape(z, [k * 5, 3])); // latent map + PixelCNN
      const ll = tf.reshape(px.logProb(tf.reshape(tf.tile(x, [k, 1]), [k * 5, 4, 4, 1])), [k, 5]);
      return tf.sub(tf.mean(klv), tf.mean(ll));
    });
    expect(got.loss).toBeAllclose(want, { rtol: 1e-5, atol: 1e-5 });
    disposeAll([got, want, x]);
    vae.dispose();
  });

  it('p(x | z) sums to 1 over every 2 x 2 binary image, for any z', () => {
    const vae = small(1, 2, 2);
    const xs = tf.tensor2d(
      Array.from({ length: 16 }, (_, i) => [0, 1, 2, 3].map((j) => (i >> j) & 1)),
    );
    const total = tf.tidy(() => {
      const z = tf.randomNormal([3, 1, 2], 0, 2, 'float32', 5); // 3 latents, each against 16 images
      const px = vae.decode(z); // batch [3, 1]
      const lp = px.logProb(tf.reshape(xs, [16, 2, 2, 1])); // [3, 16]
      px.dispose();
      return tf.sum(tf.exp(lp), 1);
    });
    expect(total).toBeAllclose([1, 1, 1], { rtol: 0, atol: 1e-5 });
    tf.dispose([total, xs]);
    vae.dispose();
  });

  it('draws from p(x | z) follow exp(logProb) (chi-square over the 16 images of 2 x 2, 4000 draws)', () => {
    const vae = small(4, 2, 2);
    const n = 4000;
    const z = tf.tile(tf.tensor2d([[0.8, -1.2]]), [n, 1]);
    const px = vae.decode(z);
    const s = px.sample({ rng: new Rng(9) }); // [n, 2, 2, 1]
    px.dispose();
    const v = s.dataSync();
    const counts = new Array<number>(16).fill(0);
    for (let i = 0; i < n; i++) {
      let k = 0;
      for (let j = 0; j < 4; j++) k += v[i * 4 + j]! << j;
      counts[k]!++;
    }
    const probs = tf.tidy(() => {
      const xs = tf.tensor4d(
        Array.from({ length: 16 }, (_, i) => [0, 1, 2, 3].map((j) => (i >> j) & 1)).flat(),
        [16, 2, 2, 1],
      );
      const pz = vae.decode(tf.tile(tf.tensor2d([[0.8, -1.2]]), [16, 1]));
      const lp = pz.logProb(xs);
      pz.dispose();
      return Array.from(tf.exp(lp).dataSync());
    });
    const stat = counts.reduce((a, c, k) => a + (c - n * probs[k]!) ** 2 / (n * probs[k]!), 0);
    expect(stat).toBeLessThan(37.7); // chi-square, 15 degrees of freedom, p = 0.001
    tf.dispose([s, z]);
    vae.dispose();
  });

  it('the same-depth PixelCNN has the decoder reach and its parameters minus the latent maps', () => {
    const o = { height: 8, width: 8, layers: 2, hiddenChannels: 8, rng: new Rng(0) };
    const base = sameDepthPixelCnn(o);
    // two conditioning maps (gate halves) per gated layer, no bias: c x hidden each, where c is
    // the latent map's channels (or the latent size for vector conditioning)
    for (const [dec, c] of [
      [pixelDecoder({ ...o, latentDim: 5, conditioning: 'vector' }), 5],
      [pixelDecoder({ ...o, latentDim: 5, mapChannels: 3 }), 3],
    ] as const) {
      expect(dec.pixel.receptiveReach()).toEqual(base.receptiveReach());
      expect(dec.pixel.numLayers).toBe(2);
      expect(dec.pixel.numParams() - base.numParams()).toBe(2 * (o.layers + 1) * c * 8);
      dec.dispose();
    }
    base.dispose();
    expect(() => pixelDecoder({ ...o, latentDim: 0 })).toThrow(ValueError);
    expect(() => pixelDecoder({ ...o, latentDim: 2, conditioning: 'x' as never })).toThrow(
      /conditioning/,
    );
  });

  it('the latent map has the image size; both conditionings give normalised p(x | z)', () => {
    for (const [h, w] of [
      [28, 28],
      [3, 5],
    ] as const) {
      const m = new LatentMap(4, { height: h, width: w, channels: 2, rng: new Rng(1) });
      const out = m.apply(tf.zeros([3, 4]));
      expect(out.shape).toEqual([3, h, w, 2]);
      out.dispose();
      m.dispose();
    }
    const vec = pixelVae({
      height: 2,
      width: 2,
      latentDim: 2,
      layers: 1,
      hiddenChannels: 4,
      firstKernelSize: 3,
      conditioning: 'vector',
      rng: new Rng(2),
    });
    const xs = tf.tensor4d(
      Array.from({ length: 16 }, (_, i) => [0, 1, 2, 3].map((j) => (i >> j) & 1)).flat(),
      [16, 2, 2, 1],
    );
    const total = tf.tidy(() => {
      const px = vec.decode(tf.randomNormal([2, 1, 2], 0, 2, 'float32', 6));
      const lp = px.logProb(xs);
      px.dispose();
      return tf.sum(tf.exp(lp), 1);
    });
    expect(total).toBeAllclose([1, 1], { rtol: 0, atol: 1e-5 });
    tf.dispose([total, xs]);
    vec.dispose();
  });

  it('samples binary images pixel by pixel; a 28 x 28 model takes flat MNIST batches (conv encoder)', async () => {
    const vae = small(2);
    const rng = new Rng(3);
    await expectNoLeaks(
      () => vae.sample(3, { rng, output: 'sample', shape: [4, 4] }).dispose(),
      'sample',
    );
    const s = vae.sample(3, { rng, output: 'sample', shape: [4, 4] });
    expect(s.shape).toEqual([3, 4, 4]);
    const v = Array.from(s.dataSync());
    expect(v.every((p) => p === 0 || p === 1)).toBe(true);
    s.dispose();
    vae.dispose();
    const big = pixelVae({
      height: 28,
      width: 28,
      latentDim: 4,
      layers: 1,
      hiddenChannels: 4,
      rng,
    });
    const x = binary(2, 784, 4);
    const e = big.elbo(x, { rng });
    expect(e.shape).toEqual([2]);
    expect(Array.from(e.dataSync()).every(Number.isFinite)).toBe(true);
    tf.dispose([e, x]);
    big.dispose();
  });

  it('leaks: construction, loss, a training step, elbo, iwae', async () => {
    await expectNoLeaks(() => small(3).dispose(), 'construction + dispose');
    const vae = small(3);
    const x = binary(4, 16, 2);
    const rng = new Rng(0);
    const opt = tf.train.adam(1e-2);
    const step = () => tf.tidy(() => void opt.minimize(() => vae.loss(x, { rng }).loss));
    step();
    await expectNoLeaks(step, 'training step');
    await expectNoLeaks(() => disposeAll(vae.loss(x, { rng })), 'loss');
    await expectNoLeaks(() => vae.elbo(x, { rng }).dispose(), 'elbo');
    await expectNoLeaks(() => vae.iwae(x, 3, { rng }).dispose(), 'iwae');
    opt.dispose();
    x.dispose();
    vae.dispose();
  });
});
