/**
 * The convolutional encoder / decoder: shapes, a few training steps, leaks and typed errors.
 */
import { Rng, ShapeError, tf, ValueError } from '@dgm-js/core-tensors';
import { disposeAll, expectNoLeaks } from '@dgm-js/test-utils';
import { afterAll, describe, expect, it } from 'vitest';
import { ConvDecoder, ConvEncoder, convGaussianVAE } from './conv.js';

/** Synthetic binary 28x28 images: a random bright rectangle per example, flat [b, 784]. */
function images(b: number, seed: number): tf.Tensor {
  const rng = new Rng(seed);
  const data = new Float32Array(b * 784);
  for (let i = 0; i < b; i++) {
    const r0 = rng.next() % 15;
    const c0 = rng.next() % 15;
    for (let r = r0; r < r0 + 12; r++) {
      for (let c = c0; c < c0 + 10; c++) data[i * 784 + r * 28 + c] = 1;
    }
  }
  return tf.tensor2d(data, [b, 784]);
}

const small = { channels: [4, 8] as const };

describe('ConvEncoder / ConvDecoder', () => {
  const enc = new ConvEncoder(6, { rng: new Rng(0), ...small });
  const dec = new ConvDecoder(3, { rng: new Rng(1), ...small });
  afterAll(() => {
    enc.dispose();
    dec.dispose();
  });

  it('map flat and NHWC images to [B, outputs] and latents to flat [N, 784]', () => {
    const x = images(5, 0);
    const x4 = tf.reshape(x, [5, 28, 28, 1]);
    const h = enc.apply(x);
    const h4 = enc.apply(x4);
    expect(h.shape).toEqual([5, 6]);
    expect(h4.shape).toEqual([5, 6]);
    expect(Math.max(...(tf.abs(tf.sub(h, h4)).dataSync() as Float32Array))).toBeLessThan(1e-5);
    const out = dec.apply(tf.zeros([7, 3]));
    expect(out.shape).toEqual([7, 784]);
    disposeAll([x, x4, h, h4, out]);
  });

  it('throw a ShapeError for wrong input shapes and a ValueError for bad options', () => {
    const bad = [tf.zeros([2, 100]), tf.zeros([2, 28, 28]), tf.zeros([2, 28, 28, 3])];
    for (const t of bad) expect(() => enc.apply(t)).toThrow(ShapeError);
    expect(() => enc.apply(bad[1] as tf.Tensor)).toThrow(/\[batch, 784\] or \[batch, 28, 28, 1\]/);
    const z = tf.zeros([2, 4]);
    expect(() => dec.apply(z)).toThrow(ShapeError);
    disposeAll([bad, z]);
    expect(() => new ConvEncoder(0, { rng: new Rng(0) })).toThrow(ValueError);
    expect(() => new ConvDecoder(2, { rng: new Rng(0), channels: [4] as never })).toThrow(
      ValueError,
    );
    expect(() => convGaussianVAE({ latentDim: 2 } as never)).toThrow(ValueError);
  });
});

describe('convGaussianVAE', () => {
  it('fits GaussianVAE: elbo [B], samples [n, 784], wrong x shape is a ShapeError', () => {
    const vae = convGaussianVAE({ latentDim: 3, rng: new Rng(2), ...small });
    const rng = new Rng(3);
    const x = images(4, 1);
    const e = vae.elbo(x, { rng });
    expect(e.shape).toEqual([4]);
    const e4 = vae.elbo(tf.reshape(x, [4, 28, 28, 1]), { rng });
    expect(e4.shape).toEqual([4]);
    const s = vae.sample(2, { rng });
    expect(s.shape).toEqual([2, 784]);
    const bad = tf.zeros([4, 27, 27, 1]);
    expect(() => vae.elbo(bad, { rng })).toThrow(ShapeError);
    disposeAll([x, e, e4, s, bad]);
    vae.dispose();
  });

  it('a few Adam steps on synthetic binary images lower the negative ELBO', () => {
    const vae = convGaussianVAE({ latentDim: 4, rng: new Rng(4), ...small });
    const rng = new Rng(5);
    const x = images(16, 2);
    const negElbo = (): number =>
      tf.tidy(() => -tf.mean(vae.elbo(x, { rng: new Rng(9), samples: 4 })).dataSync()[0]!);
    const before = negElbo();
    const opt = tf.train.adam(3e-3);
    for (let i = 0; i < 25; i++) {
      tf.tidy(() => {
        opt.minimize(() => vae.loss(x, { rng }).loss);
      });
    }
    const after = negElbo();
    expect(Number.isFinite(after)).toBe(true);
    expect(after).toBeLessThan(before - 20);
    opt.dispose();
    x.dispose();
    vae.dispose();
  });

  it('elbo and a training step leak no tensors', async () => {
    const vae = convGaussianVAE({ latentDim: 2, rng: new Rng(6), ...small });
    const rng = new Rng(7);
    const x = images(3, 3);
    const opt = tf.train.adam(1e-3);
    // the first step creates the optimizer's slots; leaks are measured after it
    tf.tidy(() => {
      opt.minimize(() => vae.loss(x, { rng }).loss);
    });
    await expectNoLeaks(() => vae.elbo(x, { rng }).dispose(), 'conv elbo');
    await expectNoLeaks(
      () =>
        tf.tidy(() => {
          opt.minimize(() => vae.loss(x, { rng }).loss);
        }),
      'conv training step',
    );
    opt.dispose();
    x.dispose();
    vae.dispose();
  });
});
