// The fused N-pairs kernel computes in one N x M workspace kept between calls
// when the matrix has 8 MiB or more (src/fused.cpp): reusing it must not
// change a number, leak one call's matrix into another's results, or be
// shared by two calls at once.
import * as pl from '../lib';
import { Case, mismatches, oracle, Result, runOurs } from './helpers/parity';
// eslint-disable-next-line @typescript-eslint/no-var-requires
const { rng, matrix } = require('./helpers/cases.js');

const seed = Number(process.env.PAIRLOSS_PARITY_SEED ?? Math.floor(Math.random() * 2 ** 31));
const r = rng(seed);
const npairs = (name: string, dtype: 'float32' | 'float64', n: number, m: number, d: number, options: Record<string, unknown>): Case =>
  ({ name, op: 'npairs', dtype, options, inputs: { x1: matrix(r, n, d, dtype), x2: matrix(r, m, d, dtype) } });
const cases: Case[] = [
  npairs('float32 1500x1500 D=16, symmetric, labelSmoothing, temperature 0.05', 'float32', 1500, 1500, 16,
    { symmetric: true, labelSmoothing: 0.1, temperature: 0.05 }),
  npairs('float32 1500x1500 D=16, symmetric, temperature 0.004 (two-pass kernel)', 'float32', 1500, 1500, 16,
    { symmetric: true, temperature: 0.004 }),
  npairs('float32 1200/2000 D=8, rows only', 'float32', 1200, 2000, 8, { temperature: 0.1 }),
  npairs('float64 1100x1100 D=8, symmetric', 'float64', 1100, 1100, 8, { symmetric: true, temperature: 0.2 }),
];

function same(a: Result, b: Result): boolean {
  for (const k of Object.keys(b)) {
    const x = a[k] as unknown, y = b[k] as unknown;
    if (typeof y === 'number') { if (!Object.is(x, y)) return false; continue; }
    const xd = (x as { data: ArrayLike<number> }).data, yd = (y as { data: ArrayLike<number> }).data;
    if (xd.length !== yd.length) return false;
    for (let i = 0; i < yd.length; i++) if (!Object.is(xd[i], yd[i])) return false;
  }
  return true;
}

describe(`N-pairs in the reused workspace (seed ${seed})`, () => {
  let refs: Result[];
  let first: Result[];
  beforeAll(() => {
    refs = cases.map((c) => oracle([c]).results[0]);  // one per run: each result carries its N×M matrix
    first = cases.map((c) => runOurs(c));
  });

  it.each(cases.map((c, i) => [c.name, i] as const))('%s matches PyTorch', (_name, i) => {
    expect(mismatches(first[i], refs[i], cases[i].dtype)).toEqual([]);
  });

  it('calls after other sizes, dtypes and paths give the first calls\' numbers bit for bit', () => {
    for (const i of [3, 0, 2, 1, 0, 3]) expect(same(runOurs(cases[i]), first[i])).toBe(true);
  });

  it('a returned similarity matrix is never the workspace: later calls leave it as it was', () => {
    const c = cases[0];
    const x1 = pl.Tensor.from(Float32Array.from(c.inputs.x1.data as number[]), c.inputs.x1.shape);
    const x2 = pl.Tensor.from(Float32Array.from(c.inputs.x2.data as number[]), c.inputs.x2.shape);
    const kept = pl.npairsLoss(x1, x2, { ...c.options, returnSimilarity: true }).similarity as pl.Tensor;
    const before = Float32Array.from(kept.data());
    runOurs(cases[0]);
    runOurs(cases[2]);
    expect(Buffer.compare(Buffer.from(kept.data().buffer, kept.data().byteOffset, kept.data().byteLength), Buffer.from(before.buffer))).toBe(0);
  });

  it('async calls running at once each get their own matrix and the sync numbers', async () => {
    const limit = pl.getAsyncConcurrency();
    pl.setAsyncConcurrency(3);
    try {
      const run = (c: Case) => pl.npairsLossAsync(
        pl.Tensor.from(Float32Array.from(c.inputs.x1.data as number[]), c.inputs.x1.shape),
        pl.Tensor.from(Float32Array.from(c.inputs.x2.data as number[]), c.inputs.x2.shape), c.options as pl.NpairsOptions);
      const got = await Promise.all([run(cases[0]), run(cases[2]), run(cases[1]), run(cases[0])]);
      for (const [k, i] of [[0, 0], [1, 2], [2, 1], [3, 0]]) {
        expect(got[k].loss).toBe(first[i].loss);
        expect(same({ grad1: { data: got[k].grad1!.data(), shape: got[k].grad1!.shape } } as Result, { grad1: first[i].grad1 } as Result)).toBe(true);
      }
    } finally {
      pl.setAsyncConcurrency(limit);
    }
  });
});
