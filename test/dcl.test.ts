// dclLoss against lightly's DCLLoss and DCLWLoss run by PyTorch
// (scripts/oracle_lightly.py), on both routes, sync and async; under a group
// of Node ranks against lightly's gather_distributed (its GatherLayer
// simulated over the ranks in one Python process) and, unweighted, against
// one process on the concatenated batch; options and bad arguments.
import * as pl from '../lib';
import { excess, randn, resultsOf, runGroup } from './helpers/distributed';
import { Case, oracle } from './helpers/parity';
import { describeParity } from './helpers/lightly-losses';
// eslint-disable-next-line @typescript-eslint/no-var-requires
const { rng, matrix } = require('./helpers/cases.js');

jest.setTimeout(180000);

const r = rng(25004);

function makeCases(): Case[] {
  const cases: Case[] = [];
  for (const dtype of ['float32', 'float64'] as const) {
    const add = (name: string, n: number, d: number, options: Record<string, unknown> = {}, opts: Record<string, unknown> = {}) =>
      cases.push({ name: `${name} N=${n} D=${d} ${JSON.stringify(options)} ${dtype}`, op: 'dcl', dtype,
        inputs: { z1: matrix(r, n, d, dtype, opts), z2: matrix(r, n, d, dtype) }, options });
    for (const weighted of [false, true]) {
      // N = 2: each row's negatives are the other image's two views
      add('', 2, 3, { weighted });
      add('', 8, 5, { weighted });
      add('', 32, 128, { weighted });
      add('', 150, 20, { weighted });
    }
    add('D = 1', 6, 1);
    add('temperature and sigma', 9, 4, { temperature: 0.5, weighted: true, sigma: 0.2 });
    add('sigma without weighted (unused)', 9, 4, { sigma: 0.2 });
    // a small temperature: logits up to 1 / T, the logsumexp shifted by its row's maximum. (At T = 0.01
    // lightly's own float32 answer is 2.4e-6 beyond float32's tolerance from its float64 one: float32
    // takes T = 0.05.)
    add('a small temperature', 10, 6, { temperature: dtype === 'float64' ? 0.01 : 0.05, weighted: true });
    add('a zero row', 6, 4, { temperature: 0.07 }, { zeroRows: [2] });
  }
  return cases;
}

describeParity("dclLoss: parity with lightly's DCLLoss / DCLWLoss in PyTorch", makeCases());

const t = (n: number, d: number, seed: number): pl.Tensor => pl.tensor(Float64Array.from(matrix(rng(seed), n, d, 'float64').data), [n, d]);

describe('dclLoss', () => {
  it('weighted with equal positives is the unweighted loss (every weight 1); grad: false; async = sync', async () => {
    const z = t(12, 5, 1);
    // z2 = z1: every <out0_i, out1_i> = 1, the softmax uniform, w_i = 2 - N / N = 1
    const a = pl.dclLoss(z, z), b = pl.dclLoss(z, z, { weighted: true });
    expect(b.loss).toBeCloseTo(a.loss, 12);
    const z2 = t(12, 5, 2);
    const c = pl.dclLoss(z, z2, { temperature: 0.3 });
    const q = pl.dclLoss(z, z2, { temperature: 0.3, grad: false });
    expect(q.loss).toBe(c.loss);
    expect(q.grad1).toBeUndefined();
    const d = await pl.dclLossAsync(z, z2, { temperature: 0.3 });
    expect(d.loss).toBe(c.loss);
    expect(Array.from(d.grad1.data())).toEqual(Array.from(c.grad1.data()));
  });

  it('out: the gradients in caller memory', () => {
    const z1 = t(5, 3, 3), z2 = t(5, 3, 4);
    const ref = pl.dclLoss(z1, z2, { weighted: true });
    const g1 = new Float64Array(15), g2 = new Float64Array(15);
    const r2 = pl.dclLoss(z1, z2, { weighted: true, out: { grad1: g1, grad2: g2 } });
    expect(r2.grad1.data()).toBe(g1);
    expect(Array.from(g1)).toEqual(Array.from(ref.grad1.data()));
    expect(Array.from(g2)).toEqual(Array.from(ref.grad2.data()));
  });

  const x = t(4, 3, 5);
  it.each([
    ['N = 1 (no negative)', () => pl.dclLoss(t(1, 3, 1), t(1, 3, 2)), RangeError, /z1.*N >= 2/],
    ['an empty batch (zero rows)', () => pl.dclLoss(pl.tensor(new Float64Array(0), [0, 3]), pl.tensor(new Float64Array(0), [0, 3])), RangeError, /z1/],
    ['z2 of another N', () => pl.dclLoss(x, t(5, 3, 1)), RangeError, /z2/],
    ['z2 of another D', () => pl.dclLoss(x, t(4, 2, 1)), RangeError, /z2/],
    ['temperature 0', () => pl.dclLoss(x, x, { temperature: 0 }), RangeError, /temperature/],
    ['temperature NaN', () => pl.dclLoss(x, x, { temperature: NaN }), RangeError, /temperature/],
    ['sigma negative', () => pl.dclLoss(x, x, { weighted: true, sigma: -0.5 }), RangeError, /sigma/],
    ['weighted a string', () => pl.dclLoss(x, x, { weighted: 'yes' as unknown as boolean }), TypeError, /weighted/],
    ['lightly\'s weight_fn', () => pl.dclLoss(x, x, { weightFn: () => 1 } as unknown as Parameters<typeof pl.dclLoss>[2]), RangeError, /weightFn/],
    ['z1 not a tensor', () => pl.dclLoss({} as unknown as pl.Tensor, x), TypeError, /z1/],
    ['a group that is not a ProcessGroup', () => pl.dclLoss(x, x, { group: { worldSize: 2 } } as unknown as Parameters<typeof pl.dclLoss>[2]), TypeError, /group/],
  ] as const)('%s', (_name, f, kind, message) => {
    expect(f).toThrow(kind);
    expect(f).toThrow(message);
  });

  it('checkFinite refuses NaN, naming the input, and a loss that comes out infinite', () => {
    const bad = pl.tensor(Float64Array.from([1, NaN, 0, 2, 2, 2]), [2, 3]);
    expect(() => pl.dclLoss(bad, t(2, 3, 1), { checkFinite: true })).toThrow(/z1/);
    // float32 logits of 1e-40 temperature overflow to infinity
    const f = pl.tensor(Float32Array.from(matrix(rng(7), 4, 3, 'float32').data), [4, 3]);
    expect(() => pl.dclLoss(f, f, { temperature: 1e-40, checkFinite: true })).toThrow(RangeError);
  });
});

// ---- under a group --------------------------------------------------------
type DType = 'float32' | 'float64';
interface Spec { data: number[]; shape: number[] }
const TOL = { float32: { rtol: 1e-5, atol: 1e-6 }, float64: { rtol: 1e-10, atol: 1e-10 } };

function rankInputs(w: number, n: number, d: number, seed: number, dtype: DType): { a: Spec; b: Spec }[] {
  const round = (v: number[]) => (dtype === 'float32' ? v.map(Math.fround) : v);
  return [...Array(w).keys()].map((k) => {
    const a = round(randn(seed + 17 * k, n * d));
    const noise = randn(seed + 17 * k + 5, n * d);
    const b = round(a.map((v, j) => v + 0.5 * noise[j]));
    return { a: { data: a, shape: [n, d] }, b: { data: b, shape: [n, d] } };
  });
}

function close(ours: ArrayLike<number>, ref: ArrayLike<number>, dtype: DType, what: string): void {
  const e = excess(ours, ref, TOL[dtype].rtol, TOL[dtype].atol);
  if (!(e <= 0)) throw new Error(`${what}: beyond tolerance by ${e} (ours ${Array.from(ours).slice(0, 6)} vs ref ${Array.from(ref).slice(0, 6)})`);
}

const groupCases = [
  { w: 2, n: 3, d: 4, dtype: 'float64' as DType, async: false, options: { temperature: 0.2 } },
  { w: 2, n: 4, d: 3, dtype: 'float32' as DType, async: true, options: { weighted: true } },
  { w: 3, n: 3, d: 5, dtype: 'float64' as DType, async: true, options: { weighted: true, sigma: 0.7, temperature: 0.3 } },
  // N = 1 on each rank: defined under the group (the other rank's rows are the negatives)
  { w: 2, n: 1, d: 3, dtype: 'float64' as DType, async: false, options: { weighted: true } },
];

describe("dclLoss under a group: lightly's gather_distributed", () => {
  for (const c of groupCases) {
    test(`W = ${c.w}, N = ${c.n}, ${c.dtype}, ${c.async ? 'async' : 'sync'}, ${JSON.stringify(c.options)}`, async () => {
      const inputs = rankInputs(c.w, c.n, c.d, 2500 + c.w * 10 + c.n, c.dtype);
      const results = resultsOf(await runGroup(Array(c.w).fill('node'), {
        scenario: 'loss', loss: 'dcl', dtype: c.dtype, async: c.async, options: c.options, inputs, repeat: 2,
      }));
      const cat = (k: 'a' | 'b'): Spec => ({ data: inputs.flatMap((i) => i[k].data), shape: [c.w * c.n, c.d] });
      const ref = oracle([{ name: 'group', op: 'dcl', dtype: c.dtype, inputs: { z1: cat('a'), z2: cat('b') }, options: { ...c.options, worldSize: c.w } }]).results[0];
      const rows = (v: { data: ArrayLike<number> }, k: number) => Array.from(v.data).slice(k * c.n * c.d, (k + 1) * c.n * c.d);
      results.forEach((res, k) => {
        close([res.loss], [ref.loss as number], c.dtype, `rank ${k} loss`);
        expect(res.grad1.shape).toEqual([c.n, c.d]);
        close(res.grad1.data, rows(ref.grad1 as Spec, k), c.dtype, `rank ${k} grad1`);
        close(res.grad2.data, rows(ref.grad2 as Spec, k), c.dtype, `rank ${k} grad2`);
      });
      // the same loss on every rank, to the bit
      expect(new Set(results.map((x) => x.loss)).size).toBe(1);
      if (!(c.options as { weighted?: boolean }).weighted && c.w * c.n >= 2) {
        // unweighted: one process on the concatenated batch
        const tensor = (s: Spec) => pl.Tensor.from(c.dtype === 'float64' ? Float64Array.from(s.data) : Float32Array.from(s.data), s.shape);
        const one = pl.dclLoss(tensor(cat('a')), tensor(cat('b')), c.options);
        results.forEach((res, k) => {
          close([res.loss], [one.loss], c.dtype, `rank ${k} loss vs one process`);
          close(res.grad1.data, rows({ data: one.grad1.data() }, k), c.dtype, `rank ${k} grad1 vs one process`);
        });
      }
    });
  }
});
