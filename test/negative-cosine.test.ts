// negativeCosineLoss against lightly's NegativeCosineSimilarity run by
// PyTorch (scripts/oracle_lightly.py), on both routes, sync and async; its
// options and bad arguments.
import * as pl from '../lib';
import { Case } from './helpers/parity';
import { describeParity } from './helpers/lightly-losses';
// eslint-disable-next-line @typescript-eslint/no-var-requires
const { rng, matrix } = require('./helpers/cases.js');

const r = rng(25001);

function makeCases(): Case[] {
  const cases: Case[] = [];
  for (const dtype of ['float32', 'float64'] as const) {
    const add = (name: string, n: number, d: number, options: Record<string, unknown> = {}, opts: Record<string, unknown> = {}) =>
      cases.push({ name: `${name} N=${n} D=${d} ${JSON.stringify(options)} ${dtype}`, op: 'negative_cosine', dtype,
        inputs: { x1: matrix(r, n, d, dtype, opts), x2: matrix(r, n, d, dtype) }, options });
    add('', 1, 4);
    add('', 2, 3);
    add('', 8, 5);
    add('', 32, 128);
    add('', 100, 16);
    add('D = 1', 5, 1);
    add('a zero row', 6, 3, {}, { zeroRows: [2] });
    // norms below eps: torch's clamp (in the value and, as its graph has it, in the gradient)
    add('rows shorter than eps', 6, 3, { eps: 2 }, { scale: 0.3 });
    add('eps', 7, 4, { eps: 1e-3 });
  }
  return cases;
}

describeParity("negativeCosineLoss: parity with lightly's NegativeCosineSimilarity in PyTorch", makeCases());

const t = (n: number, d: number, seed: number): pl.Tensor => pl.tensor(Float64Array.from(matrix(rng(seed), n, d, 'float64').data), [n, d]);

describe('negativeCosineLoss', () => {
  it('is -mean cos; SimSiam\'s symmetric form is two calls; grad: false; async = sync', async () => {
    const p1 = t(12, 6, 1), z2 = t(12, 6, 2);
    const a = pl.negativeCosineLoss(p1, z2);
    const c1 = pl.cosineSimilarity(p1, z2).data();
    let mean = 0;
    for (let i = 0; i < 12; i++) mean += c1[i * 12 + i] / 12;
    expect(a.loss).toBeCloseTo(-mean, 12);
    expect(a.loss).toBeGreaterThanOrEqual(-1);
    // the same rows: -1, and no gradient along the rows' own direction
    expect(pl.negativeCosineLoss(p1, p1).loss).toBeCloseTo(-1, 12);
    const q = pl.negativeCosineLoss(p1, z2, { grad: false });
    expect(q).toEqual({ loss: a.loss });
    const b = await pl.negativeCosineLossAsync(p1, z2);
    expect(b.loss).toBe(a.loss);
    expect(Array.from(b.grad1.data())).toEqual(Array.from(a.grad1.data()));
    expect(Array.from(b.grad2.data())).toEqual(Array.from(a.grad2.data()));
  });

  it('out: the gradients in caller memory', () => {
    const x1 = t(5, 3, 3), x2 = t(5, 3, 4);
    const ref = pl.negativeCosineLoss(x1, x2);
    const g1 = new Float64Array(15), g2 = new Float64Array(15);
    const r = pl.negativeCosineLoss(x1, x2, { out: { grad1: g1, grad2: g2 } });
    expect(r.grad1.data()).toBe(g1);
    expect(Array.from(g1)).toEqual(Array.from(ref.grad1.data()));
    expect(Array.from(g2)).toEqual(Array.from(ref.grad2.data()));
  });

  const x = t(4, 3, 5);
  it.each([
    ['x2 of another N', () => pl.negativeCosineLoss(x, t(5, 3, 1)), RangeError, /x2/],
    ['x2 of another D', () => pl.negativeCosineLoss(x, t(4, 2, 1)), RangeError, /x2/],
    ['an empty batch (zero rows)', () => pl.negativeCosineLoss(pl.tensor(new Float64Array(0), [0, 3]), pl.tensor(new Float64Array(0), [0, 3])), RangeError, /x1/],
    ['mixed dtypes', () => pl.negativeCosineLoss(x, pl.tensor(new Float32Array(12), [4, 3])), TypeError, /x2/],
    ['eps 0', () => pl.negativeCosineLoss(x, x, { eps: 0 }), RangeError, /eps/],
    ['eps NaN', () => pl.negativeCosineLoss(x, x, { eps: NaN }), RangeError, /eps/],
    ['eps a string', () => pl.negativeCosineLoss(x, x, { eps: '1e-8' as unknown as number }), TypeError, /eps/],
    ['an unknown option', () => pl.negativeCosineLoss(x, x, { dim: 1 } as unknown as Parameters<typeof pl.negativeCosineLoss>[2]), RangeError, /dim/],
    ['x1 not a tensor', () => pl.negativeCosineLoss(3 as unknown as pl.Tensor, x), TypeError, /x1/],
    ['x2 missing', () => pl.negativeCosineLoss(x, undefined as unknown as pl.Tensor), TypeError, /x2/],
    ['a signal on a sync call', () => pl.negativeCosineLoss(x, x, { signal: new AbortController().signal } as unknown as Parameters<typeof pl.negativeCosineLoss>[2]), RangeError, /signal/],
  ] as const)('%s', (_name, f, kind, message) => {
    expect(f).toThrow(kind);
    expect(f).toThrow(message);
  });

  it('async: bad arguments reject with the same errors', async () => {
    await expect(pl.negativeCosineLossAsync(x, t(5, 3, 1))).rejects.toThrow(RangeError);
    await expect(pl.negativeCosineLossAsync(x, x, { eps: -1 })).rejects.toThrow(/eps/);
  });

  it('checkFinite refuses NaN and Infinity, naming the input', () => {
    const bad = pl.tensor(Float64Array.from([1, NaN, 0, 2, 2, 2]), [2, 3]);
    const inf = pl.tensor(Float64Array.from([1, 1, 0, 2, Infinity, 2]), [2, 3]);
    const ok = t(2, 3, 9);
    expect(() => pl.negativeCosineLoss(bad, ok, { checkFinite: true })).toThrow(/x1/);
    expect(() => pl.negativeCosineLoss(ok, inf, { checkFinite: true })).toThrow(/x2/);
    expect(Number.isNaN(pl.negativeCosineLoss(bad, ok).loss)).toBe(true);
  });
});
