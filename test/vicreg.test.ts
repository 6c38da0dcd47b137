// VICReg (vicregLoss) against lightly's VICRegLoss run by PyTorch
// (scripts/oracle.py), on the hand-derived path and the autograd path.
import * as pl from '../lib';
import { binding } from '../lib/binding';
import { Case, mismatches, oracle, runOurs } from './helpers/parity';
// eslint-disable-next-line @typescript-eslint/no-var-requires
const { rng, matrix } = require('./helpers/cases.js');

const r = rng(90210);

function makeCases(): Case[] {
  const cases: Case[] = [];
  for (const dtype of ['float32', 'float64'] as const) {
    // scale 0.5: every std below gamma (the hinge active); scale 3: inactive
    for (const [n, d, scale, options] of [
      [8, 5, 0.5, {}], [32, 16, 1, {}], [2, 3, 1, {}], [16, 1, 0.7, {}], [12, 6, 3, {}], [64, 24, 0.9, {}],
      [10, 4, 1, { invarianceWeight: 1, varianceWeight: 2, covarianceWeight: 0.04, gamma: 0.8, eps: 1e-3 }],
    ] as const) {
      cases.push({ name: `N=${n} D=${d} scale ${scale} ${JSON.stringify(options)} ${dtype}`, op: 'vicreg', dtype,
        inputs: { z1: matrix(r, n, d, dtype, { scale }), z2: matrix(r, n, d, dtype, { scale }) }, options });
    }
    // a constant feature: std = sqrt(eps), the hinge at its largest
    const z1 = matrix(r, 6, 3, dtype);
    for (let i = 0; i < 6; i++) z1.data[i * 3 + 1] = dtype === 'float32' ? Math.fround(0.25) : 0.25;
    cases.push({ name: `a constant feature ${dtype}`, op: 'vicreg', dtype, inputs: { z1, z2: matrix(r, 6, 3, dtype) }, options: {} });
  }
  return cases;
}

const cases = makeCases();
let reference: ReturnType<typeof oracle>;
beforeAll(() => {
  reference = oracle(cases);
});

describe('vicregLoss: parity with lightly\'s VICRegLoss in PyTorch', () => {
  it('the oracle is a real PyTorch', () => {
    expect(reference.torch).toMatch(/^\d+\.\d+/);
  });
  describe.each([['hand-derived path', true], ['autograd path', false]] as const)('%s', (_path, fused) => {
    beforeAll(() => binding().setFusedKernels(fused));
    afterAll(() => binding().setFusedKernels(true));
    it.each(cases.map((c, i) => [c.name, i] as const))('%s', (_name, i) => {
      expect(mismatches(runOurs(cases[i]), reference.results[i], cases[i].dtype)).toEqual([]);
    });
  });
});

const t = (n: number, d: number, seed: number): pl.Tensor => pl.tensor(Float64Array.from(matrix(rng(seed), n, d, 'float64').data), [n, d]);

describe('vicregLoss', () => {
  it('the loss is the weighted sum of its terms; grad: false; async = sync', async () => {
    const z1 = t(20, 7, 1), z2 = t(20, 7, 2);
    const a = pl.vicregLoss(z1, z2, { invarianceWeight: 2, varianceWeight: 3, covarianceWeight: 0.5 });
    expect(a.loss).toBeCloseTo(2 * a.invariance + 3 * a.variance + 0.5 * a.covariance, 12);
    const q = pl.vicregLoss(z1, z2, { grad: false, invarianceWeight: 2, varianceWeight: 3, covarianceWeight: 0.5 });
    expect(q.loss).toBe(a.loss);
    expect(q.grad1).toBeUndefined();
    const b = await pl.vicregLossAsync(z1, z2, { invarianceWeight: 2, varianceWeight: 3, covarianceWeight: 0.5 });
    expect(b.loss).toBe(a.loss);
    expect(Array.from(b.grad2.data())).toEqual(Array.from(a.grad2.data()));
  });

  const x = t(4, 3, 5);
  it.each([
    ['N = 1', () => pl.vicregLoss(t(1, 3, 1), t(1, 3, 2)), RangeError, /z1.*N >= 2/],
    ['z2 of another N', () => pl.vicregLoss(x, t(5, 3, 1)), RangeError, /z2.*N = 4/],
    ['z2 of another D', () => pl.vicregLoss(x, t(4, 2, 1)), RangeError, /z2/],
    ['a negative weight', () => pl.vicregLoss(x, x, { varianceWeight: -1 }), RangeError, /varianceWeight/],
    ['eps 0', () => pl.vicregLoss(x, x, { eps: 0 }), RangeError, /eps/],
    ['gamma a string', () => pl.vicregLoss(x, x, { gamma: '1' as unknown as number }), TypeError, /gamma/],
    ['an unknown option', () => pl.vicregLoss(x, x, { lambda: 1 } as unknown as pl.VicregOptions), RangeError, /lambda/],
    ['z1 not a tensor', () => pl.vicregLoss(3 as unknown as pl.Tensor, x), TypeError, /z1/],
  ] as const)('%s', (_name, f, kind, message) => {
    expect(f).toThrow(kind);
    expect(f).toThrow(message);
  });

  it('checkFinite refuses NaN', () => {
    const bad = pl.tensor(Float64Array.from([1, NaN, 0, 2, 2, 2]), [2, 3]);
    expect(() => pl.vicregLoss(bad, bad, { checkFinite: true })).toThrow(/z1/);
  });
});
