import { Rng, ShapeError, ValueError } from '@dgm-js/core-tensors';
import { describe, expect, it } from 'vitest';
import { alternativeInterpretation } from './index.js';

function simplex(n: number, rng: Rng, zeros = false): number[] {
  const v = Array.from({ length: n }, (_, i) => (zeros && i === 0 ? 0 : 0.05 + rng.float()));
  const s = v.reduce((a, b) => a + b, 0);
  return v.map((x) => x / s);
}

describe('alternativeInterpretation', () => {
  it('a 2 x 2 model by hand: E[ELBO], -KL and H(p_data)', () => {
    const m = {
      pData: [0.25, 0.75],
      prior: [0.5, 0.5],
      likelihood: [
        [0.8, 0.2],
        [0.4, 0.6],
      ],
      posterior: [
        [0.5, 0.5],
        [1, 0],
      ],
    };
    const r = alternativeInterpretation(m);
    // ELBO(x=0) = 0.5 [ln(0.5*0.8) - ln 0.5] + 0.5 [ln(0.5*0.4) - ln 0.5]; ELBO(x=1) = ln(0.5*0.2)
    const e0 = 0.5 * Math.log(0.8) + 0.5 * Math.log(0.4);
    const e1 = Math.log(0.1);
    expect(r.elbo[0]).toBeCloseTo(e0, 14);
    expect(r.elbo[1]).toBeCloseTo(e1, 14);
    expect(r.expectedElbo).toBeCloseTo(0.25 * e0 + 0.75 * e1, 14);
    const h = -(0.25 * Math.log(0.25) + 0.75 * Math.log(0.75));
    expect(r.dataEntropy).toBeCloseTo(h, 14);
    // the joint table q(z,x): (x0,z0)=0.125, (x0,z1)=0.125, (x1,z0)=0.75
    const kl =
      0.125 * Math.log(0.125 / (0.5 * 0.8)) +
      0.125 * Math.log(0.125 / (0.5 * 0.4)) +
      0.75 * Math.log(0.75 / (0.5 * 0.2));
    expect(r.negJointKl).toBeCloseTo(-kl, 14);
  });

  it('for random models and encoders, -KL(q(z,x) || p(z,x)) - E[ELBO] = H(p_data) exactly', () => {
    const rng = new Rng(3);
    for (let t = 0; t < 50; t++) {
      const nx = 2 + (t % 5);
      const nz = 1 + (t % 4);
      const m = {
        pData: simplex(nx, rng, t % 3 === 0), // some with a zero-probability x
        prior: simplex(nz, rng),
        likelihood: Array.from({ length: nz }, () => simplex(nx, rng)),
        posterior: Array.from({ length: nx }, () => simplex(nz, rng, t % 2 === 0 && nz > 1)),
      };
      const r = alternativeInterpretation(m);
      expect(Math.abs(r.negJointKl - r.expectedElbo - r.dataEntropy)).toBeLessThan(1e-12);
      expect(r.negJointKl).toBeLessThanOrEqual(1e-12); // a KL is >= 0
    }
  });

  it('q(z|x) the exact posterior and p(x) = p_data: KL = 0 and ELBO(x) = log p_data(x)', () => {
    const rng = new Rng(8);
    const nx = 4;
    const nz = 3;
    const prior = simplex(nz, rng);
    const likelihood = Array.from({ length: nz }, () => simplex(nx, rng));
    const pData = Array.from({ length: nx }, (_, x) =>
      prior.reduce((s, pz, z) => s + pz * likelihood[z]![x]!, 0),
    );
    const posterior = pData.map((px, x) => prior.map((pz, z) => (pz * likelihood[z]![x]!) / px));
    const r = alternativeInterpretation({ pData, prior, likelihood, posterior });
    expect(Math.abs(r.negJointKl)).toBeLessThan(1e-12);
    r.elbo.forEach((e, x) => {
      expect(e).toBeCloseTo(Math.log(pData[x]!), 12);
    });
    expect(r.expectedElbo).toBeCloseTo(-r.dataEntropy, 12);
  });

  it('typed errors name the argument and the fix', () => {
    const ok = {
      pData: [0.5, 0.5],
      prior: [1],
      likelihood: [[0.5, 0.5]],
      posterior: [[1], [1]],
    };
    expect(() => alternativeInterpretation({ ...ok, pData: [0.5, 0.6] })).toThrow(ValueError);
    expect(() => alternativeInterpretation({ ...ok, pData: [0.5, 0.6] })).toThrow(/pData sums to/);
    expect(() => alternativeInterpretation({ ...ok, prior: [-1, 2] })).toThrow(/>= 0/);
    expect(() => alternativeInterpretation({ ...ok, posterior: [[1]] })).toThrow(ShapeError);
    expect(() => alternativeInterpretation({ ...ok, likelihood: [[1]] })).toThrow(
      /likelihood \(one row per z\)\[0\] has 1 entries, expected 2/,
    );
    expect(() => alternativeInterpretation(undefined as never)).toThrow(ValueError);
  });
});
