// koleoLoss against lightly's KoLeoLoss run by PyTorch
// (scripts/oracle_lightly.py), on both routes, sync and async; its options
// and bad arguments.
import * as pl from '../lib';
import { Case } from './helpers/parity';
import { describeParity } from './helpers/lightly-losses';
// eslint-disable-next-line @typescript-eslint/no-var-requires
const { rng, matrix } = require('./helpers/cases.js');

const r = rng(25002);

function makeCases(): Case[] {
  const cases: Case[] = [];
  for (const dtype of ['float32', 'float64'] as const) {
    const add = (name: string, n: number, d: number, options: Record<string, unknown> = {}, opts: Record<string, unknown> = {}) =>
      cases.push({ name: `${name} N=${n} D=${d} ${JSON.stringify(options)} ${dtype}`, op: 'koleo', dtype,
        inputs: { x: matrix(r, n, d, dtype, opts) }, options });
    // N = 2: each row's only neighbour is the other
    add('', 2, 3);
    add('', 3, 2);
    add('', 8, 5);
    add('', 32, 128);
    add('', 200, 24);
    // (No D = 1 case: every row normalises to +-1 at distance eps from its neighbour, and its share of
    // the gradient, 1 / (N eps) along the row, is projected out by the normalisation's backward, exactly
    // here and up to an ulp of it in PyTorch: 2.0 in float32, 4e-9 in float64 at N = 6. The test below
    // checks that it is 0.)
    add('eps', 6, 4, { eps: 1e-3 });
    // a zero row normalises to 0 (norm < eps: the clamp's gradient g / eps)
    add('a zero row', 6, 4, {}, { zeroRows: [3] });
    // two equal rows: distance eps * sqrt(D) between them, the first of the tied neighbours
    add('two equal rows', 5, 3, {}, { constantRows: [1, 3] });
    // N >= 16: the CPU path's argmax runs in 8 lanes of columns (j mod 8). Row 30 = e1 has two
    // neighbours at exactly the same similarity, rows 13 (lane 5) and 18 (lane 2): (0.9, 0.1, 0, ...)
    // and (0.9, 0, 0.1, ...) (the same norm and the same products in any order); the first, 13, wins
    const tie = matrix(r, 40, 8, dtype);
    const round = dtype === 'float32' ? Math.fround : (v: number) => v;
    for (const [row, values] of [[30, [1]], [13, [0.9, 0.1]], [18, [0.9, 0, 0.1]]] as const) {
      for (let k = 0; k < 8; k++) tie.data[row * 8 + k] = round((values as readonly number[])[k] ?? 0);
    }
    cases.push({ name: `a tie across the argmax lanes N=40 D=8 ${dtype}`, op: 'koleo', dtype, inputs: { x: tie }, options: {} });
    add('two equal rows, N not a multiple of 8', 21, 16, {}, { constantRows: [20, 4] });
  }
  return cases;
}

describeParity("koleoLoss: parity with lightly's KoLeoLoss in PyTorch", makeCases());

const t = (n: number, d: number, seed: number): pl.Tensor => pl.tensor(Float64Array.from(matrix(rng(seed), n, d, 'float64').data), [n, d]);

describe('koleoLoss', () => {
  it('returns { loss, grad }; grad: false; async = sync', async () => {
    const x = t(20, 7, 1);
    const a = pl.koleoLoss(x);
    expect(Object.keys(a).sort()).toEqual(['grad', 'loss']);
    expect(a.grad.shape).toEqual([20, 7]);
    expect(pl.koleoLoss(x, { grad: false })).toEqual({ loss: a.loss });
    const b = await pl.koleoLossAsync(x);
    expect(b.loss).toBe(a.loss);
    expect(Array.from(b.grad.data())).toEqual(Array.from(a.grad.data()));
  });

  it('a row\'s scale does not change the loss (the rows are normalised) and its gradient is orthogonal to the row', () => {
    const x = t(9, 4, 2);
    const y = pl.tensor(Float64Array.from(x.data(), (v, k) => (k < 4 ? 3 * v : v)), [9, 4]);
    const a = pl.koleoLoss(x), b = pl.koleoLoss(y);
    expect(b.loss).toBeCloseTo(a.loss, 12);
    const g = a.grad.data(), xs = x.data();
    for (let i = 0; i < 9; i++) {
      let dot = 0;
      for (let k = 0; k < 4; k++) dot += g[i * 4 + k] * xs[i * 4 + k];
      expect(Math.abs(dot)).toBeLessThan(1e-10);
    }
  });

  it("D = 1: the gradient is 0 up to rounding (each row's share, 1 / (N eps), lies along the row)", () => {
    const x = t(6, 1, 8);
    const a = pl.koleoLoss(x);
    expect(Number.isFinite(a.loss)).toBe(true);
    const scale = 1 / (6 * 1e-8);
    for (const v of Array.from(a.grad.data() as ArrayLike<number>)) expect(Math.abs(v)).toBeLessThan(1e-6 * scale);
  });

  it('out: the gradient in caller memory', () => {
    const x = t(6, 3, 3);
    const ref = pl.koleoLoss(x);
    const g = new Float64Array(18);
    const r2 = pl.koleoLoss(x, { out: { grad: g } });
    expect(r2.grad.data()).toBe(g);
    expect(Array.from(g)).toEqual(Array.from(ref.grad.data()));
  });

  const x = t(4, 3, 5);
  it.each([
    ['N = 1 (no neighbour)', () => pl.koleoLoss(t(1, 3, 1)), RangeError, /x.*N >= 2/],
    ['an empty batch (zero rows)', () => pl.koleoLoss(pl.tensor(new Float64Array(0), [0, 3])), RangeError, /x/],
    ['a 1-D x', () => pl.koleoLoss(pl.tensor(new Float64Array(4), [4]) as pl.Tensor), RangeError, /x/],
    ['eps 0', () => pl.koleoLoss(x, { eps: 0 }), RangeError, /eps/],
    ['eps negative', () => pl.koleoLoss(x, { eps: -1e-8 }), RangeError, /eps/],
    ['eps a string', () => pl.koleoLoss(x, { eps: '1e-8' as unknown as number }), TypeError, /eps/],
    ['an unknown option (lightly\'s p)', () => pl.koleoLoss(x, { p: 2 } as unknown as Parameters<typeof pl.koleoLoss>[1]), RangeError, /\bp\b/],
    ['out.grad1 (KoLeo\'s gradient is grad)', () => pl.koleoLoss(x, { out: { grad1: new Float64Array(12) } } as unknown as Parameters<typeof pl.koleoLoss>[1]), RangeError, /grad1/],
    ['out.grad of another size', () => pl.koleoLoss(x, { out: { grad: new Float64Array(11) } }), RangeError, /out\.grad/],
    ['x not a tensor', () => pl.koleoLoss('x' as unknown as pl.Tensor), TypeError, /x/],
  ] as const)('%s', (_name, f, kind, message) => {
    expect(f).toThrow(kind);
    expect(f).toThrow(message);
  });

  it('async: N = 1 rejects with the RangeError', async () => {
    await expect(pl.koleoLossAsync(t(1, 3, 1))).rejects.toThrow(RangeError);
  });

  it('checkFinite refuses NaN, naming x', () => {
    const bad = pl.tensor(Float64Array.from([1, NaN, 0, 2, 2, 2]), [2, 3]);
    expect(() => pl.koleoLoss(bad, { checkFinite: true })).toThrow(/x/);
  });
});
