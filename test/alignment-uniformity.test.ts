// alignmentUniformityLoss against lightly's HypersphereLoss run by PyTorch
// (scripts/oracle_lightly.py), on both routes, sync and async; its options
// and bad arguments.
import * as pl from '../lib';
import { Case } from './helpers/parity';
import { describeParity } from './helpers/lightly-losses';
// eslint-disable-next-line @typescript-eslint/no-var-requires
const { rng, matrix } = require('./helpers/cases.js');

const r = rng(25003);

function makeCases(): Case[] {
  const cases: Case[] = [];
  for (const dtype of ['float32', 'float64'] as const) {
    const add = (name: string, n: number, d: number, options: Record<string, unknown> = {}, opts: Record<string, unknown> = {}) =>
      cases.push({ name: `${name} N=${n} D=${d} ${JSON.stringify(options)} ${dtype}`, op: 'alignment_uniformity', dtype,
        inputs: { z1: matrix(r, n, d, dtype, opts), z2: matrix(r, n, d, dtype) }, options });
    // N = 2: one pair per view
    add('', 2, 3);
    add('', 8, 5);
    add('', 32, 128);
    add('', 150, 20);
    add('D = 1', 6, 1);
    add('t, lambda, alpha', 10, 4, { t: 2.5, lambda: 0.3, alpha: 1 });
    add('alpha 3, t 0.5', 10, 4, { t: 0.5, lambda: 2, alpha: 3 });
    add('a large t', 12, 6, { t: 20 });
    // two equal rows of z1: a pair at distance 0
    add('two equal rows', 7, 3, {}, { constantRows: [0, 4] });
    add('a zero row', 7, 3, {}, { zeroRows: [1] });
  }
  return cases;
}

describeParity("alignmentUniformityLoss: parity with lightly's HypersphereLoss in PyTorch", makeCases());

const t = (n: number, d: number, seed: number): pl.Tensor => pl.tensor(Float64Array.from(matrix(rng(seed), n, d, 'float64').data), [n, d]);

describe('alignmentUniformityLoss', () => {
  it('the loss is alignment + lambda * uniformity; grad: false; async = sync', async () => {
    const z1 = t(20, 7, 1), z2 = t(20, 7, 2);
    const a = pl.alignmentUniformityLoss(z1, z2, { lambda: 0.7 });
    expect(a.loss).toBeCloseTo(a.alignment + 0.7 * a.uniformity, 12);
    // the alignment of a batch with itself is 0
    expect(pl.alignmentUniformityLoss(z1, z1).alignment).toBe(0);
    const q = pl.alignmentUniformityLoss(z1, z2, { lambda: 0.7, grad: false });
    expect(q.loss).toBe(a.loss);
    expect(q.grad1).toBeUndefined();
    const b = await pl.alignmentUniformityLossAsync(z1, z2, { lambda: 0.7 });
    expect(b.loss).toBe(a.loss);
    expect(Array.from(b.grad2.data())).toEqual(Array.from(a.grad2.data()));
  });

  it('out: the gradients in caller memory', () => {
    const z1 = t(5, 3, 3), z2 = t(5, 3, 4);
    const ref = pl.alignmentUniformityLoss(z1, z2);
    const g1 = new Float64Array(15), g2 = new Float64Array(15);
    const r2 = pl.alignmentUniformityLoss(z1, z2, { out: { grad1: g1, grad2: g2 } });
    expect(r2.grad2.data()).toBe(g2);
    expect(Array.from(g1)).toEqual(Array.from(ref.grad1.data()));
    expect(Array.from(g2)).toEqual(Array.from(ref.grad2.data()));
  });

  const x = t(4, 3, 5);
  it.each([
    ['N = 1 (no pair)', () => pl.alignmentUniformityLoss(t(1, 3, 1), t(1, 3, 2)), RangeError, /z1.*N >= 2/],
    ['an empty batch (zero rows)', () => pl.alignmentUniformityLoss(pl.tensor(new Float64Array(0), [0, 3]), pl.tensor(new Float64Array(0), [0, 3])), RangeError, /z1/],
    ['z2 of another N', () => pl.alignmentUniformityLoss(x, t(5, 3, 1)), RangeError, /z2/],
    ['z2 of another D', () => pl.alignmentUniformityLoss(x, t(4, 2, 1)), RangeError, /z2/],
    ['t 0', () => pl.alignmentUniformityLoss(x, x, { t: 0 }), RangeError, /\bt\b/],
    ['lambda negative', () => pl.alignmentUniformityLoss(x, x, { lambda: -1 }), RangeError, /lambda/],
    ['alpha 0', () => pl.alignmentUniformityLoss(x, x, { alpha: 0 }), RangeError, /alpha/],
    ['alpha Infinity', () => pl.alignmentUniformityLoss(x, x, { alpha: Infinity }), RangeError, /alpha/],
    ['lambda a string', () => pl.alignmentUniformityLoss(x, x, { lambda: '1' as unknown as number }), TypeError, /lambda/],
    ['lightly\'s lam (the option is lambda)', () => pl.alignmentUniformityLoss(x, x, { lam: 1 } as unknown as Parameters<typeof pl.alignmentUniformityLoss>[2]), RangeError, /lam/],
    ['z1 not a tensor', () => pl.alignmentUniformityLoss('z1' as unknown as pl.Tensor, x), TypeError, /z1/],
  ] as const)('%s', (_name, f, kind, message) => {
    expect(f).toThrow(kind);
    expect(f).toThrow(message);
  });

  it('checkFinite refuses NaN, naming the input', () => {
    const bad = pl.tensor(Float64Array.from([1, NaN, 0, 2, 2, 2]), [2, 3]);
    expect(() => pl.alignmentUniformityLoss(t(2, 3, 1), bad, { checkFinite: true })).toThrow(/z2/);
  });
});
