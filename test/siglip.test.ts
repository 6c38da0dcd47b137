// SigLIP (sigmoidLoss) against open_clip's SigLipLoss run by PyTorch
// (scripts/oracle.py), on the fused CPU kernel and the autograd path.
import * as pl from '../lib';
import { binding } from '../lib/binding';
import { Case, mismatches, oracle, runOurs } from './helpers/parity';
// eslint-disable-next-line @typescript-eslint/no-var-requires
const { rng, matrix } = require('./helpers/cases.js');

const r = rng(771203);

function makeCases(): Case[] {
  const cases: Case[] = [];
  for (const dtype of ['float32', 'float64'] as const) {
    for (const [n, m, d, scale, bias] of [
      [8, 8, 5, 10, -10], [32, 32, 16, 10, -10], [1, 1, 4, 10, -10], [5, 9, 3, 2, 0.5], [9, 5, 6, 1, 0], [64, 64, 8, 25, -3], [3, 3, 1, 10, -10],
    ] as const) {
      cases.push({ name: `N=${n} M=${m} D=${d} scale=${scale} bias=${bias} ${dtype}`, op: 'siglip', dtype,
        inputs: { x1: matrix(r, n, d, dtype), x2: matrix(r, m, d, dtype) }, options: { scale, bias } });
    }
    // other positive layouts: labels in {-1, +1}, two positives in some rows
    const n = 6;
    const target = Array.from({ length: n * n }, (_v, k) => (Math.floor(k / n) % 3 === (k % n) % 3 ? 1 : -1));
    cases.push({ name: `target with several positives per row ${dtype}`, op: 'siglip', dtype,
      inputs: { x1: matrix(r, n, 4, dtype), x2: matrix(r, n, 4, dtype), target: { data: target, shape: [n, n] } }, options: {} });
    // a zero row (norm < eps: the reference path on every route)
    cases.push({ name: `a zero row ${dtype}`, op: 'siglip', dtype,
      inputs: { x1: matrix(r, 4, 3, dtype, { zeroRows: [1] }), x2: matrix(r, 4, 3, dtype) }, options: { scale: 5, bias: -2 } });
  }
  return cases;
}

const cases = makeCases();
let reference: ReturnType<typeof oracle>;
beforeAll(() => {
  reference = oracle(cases);
});

describe('sigmoidLoss: parity with open_clip\'s SigLipLoss in PyTorch', () => {
  it('the oracle is a real PyTorch', () => {
    expect(reference.torch).toMatch(/^\d+\.\d+/);
  });
  describe.each([['fused kernel', true], ['autograd path', false]] as const)('%s', (_path, fused) => {
    beforeAll(() => binding().setFusedKernels(fused));
    afterAll(() => binding().setFusedKernels(true));
    it.each(cases.map((c, i) => [c.name, i] as const))('%s', (_name, i) => {
      expect(mismatches(runOurs(cases[i]), reference.results[i], cases[i].dtype)).toEqual([]);
    });
  });
});

// Row blocks (the matrix too large to hold; src/fused.cpp's sigmoid_impl in
// blocks): forced tiny here (3 and 7 rows, N not a multiple of either) so
// that small cases cross block boundaries, against the same PyTorch results;
// the path taken is checked with the native counter of chunked calls.
describe('sigmoidLoss in row blocks: parity with open_clip\'s SigLipLoss', () => {
  let initial: { rows: number; budgetBytes: number; calls: number };
  beforeAll(() => {
    initial = binding().chunking();
  });
  afterAll(() => binding().chunking(initial.rows, initial.budgetBytes));
  describe.each([[3], [7], [0]])('blocks of %i rows (0: sized to ~32 MiB)', (rows) => {
    beforeAll(() => binding().chunking(rows, 0));
    it.each(cases.map((c, i) => [c.name, i] as const))('%s', (_name, i) => {
      const before = binding().chunking().calls;
      const got = runOurs(cases[i]);
      const taken = binding().chunking().calls - before;
      // D = 1 and a zero row take the autograd path, as without blocks
      const blocked = !/D=1 |a zero row/.test(cases[i].name);
      expect(taken).toBe(blocked ? 1 : 0);
      expect(mismatches(got, reference.results[i], cases[i].dtype)).toEqual([]);
    });
  });
  it('blocks equal the whole matrix: float64 within 1e-12, the same gradScale and gradBias', () => {
    const x1 = pl.tensor(Float64Array.from(matrix(rng(5), 50, 9, 'float64').data), [50, 9]);
    const x2 = pl.tensor(Float64Array.from(matrix(rng(6), 37, 9, 'float64').data), [37, 9]);
    binding().chunking(initial.rows, -1);
    const whole = pl.sigmoidLoss(x1, x2, { scale: 7, bias: -2 });
    binding().chunking(4, 0);
    const blocks = pl.sigmoidLoss(x1, x2, { scale: 7, bias: -2 });
    expect(Math.abs(blocks.loss - whole.loss)).toBeLessThan(1e-12);
    expect(Math.abs(blocks.gradScale! - whole.gradScale!)).toBeLessThan(1e-12);
    expect(Math.abs(blocks.gradBias! - whole.gradBias!)).toBeLessThan(1e-12);
    const d1 = blocks.grad1!.data(), e1 = whole.grad1!.data();
    const d2 = blocks.grad2!.data(), e2 = whole.grad2!.data();
    for (let k = 0; k < d1.length; k++) expect(Math.abs(d1[k] - e1[k])).toBeLessThan(1e-12);
    for (let k = 0; k < d2.length; k++) expect(Math.abs(d2[k] - e2[k])).toBeLessThan(1e-12);
  });
});

const t = (n: number, d: number, seed: number): pl.Tensor => pl.tensor(Float64Array.from(matrix(rng(seed), n, d, 'float64').data), [n, d]);

describe('sigmoidLoss', () => {
  it('the default target is 2·I − 1; grad: false gives the loss only; async = sync', async () => {
    const x1 = t(40, 12, 1), x2 = t(40, 12, 2);
    const y = new Float64Array(1600).fill(-1);
    for (let i = 0; i < 40; i++) y[i * 40 + i] = 1;
    const a = pl.sigmoidLoss(x1, x2);
    const b = pl.sigmoidLoss(x1, x2, { target: pl.tensor(y, [40, 40]) });
    expect(Math.abs(a.loss - b.loss)).toBeLessThan(1e-12);
    expect(pl.sigmoidLoss(x1, x2, { grad: false })).toEqual({ loss: a.loss });
    const c = await pl.sigmoidLossAsync(x1, x2);
    expect(c.loss).toBe(a.loss);
    expect(Array.from(c.grad1.data())).toEqual(Array.from(a.grad1.data()));
    expect(c.gradScale).toBe(a.gradScale);
  });

  it('gradScale and gradBias are the loss\'s derivatives (central differences, float64)', () => {
    const x1 = t(10, 6, 3), x2 = t(10, 6, 4);
    const at = (scale: number, bias: number) => pl.sigmoidLoss(x1, x2, { scale, bias, grad: false }).loss;
    const r0 = pl.sigmoidLoss(x1, x2, { scale: 3, bias: -1 });
    const h = 1e-6;
    expect(r0.gradScale).toBeCloseTo((at(3 + h, -1) - at(3 - h, -1)) / (2 * h), 7);
    expect(r0.gradBias).toBeCloseTo((at(3, -1 + h) - at(3, -1 - h)) / (2 * h), 7);
  });

  const x = t(4, 3, 5);
  it.each([
    ['scale 0', () => pl.sigmoidLoss(x, x, { scale: 0 }), RangeError, /scale/],
    ['bias NaN', () => pl.sigmoidLoss(x, x, { bias: NaN }), RangeError, /bias/],
    ['bias a string', () => pl.sigmoidLoss(x, x, { bias: '1' as unknown as number }), TypeError, /bias/],
    ['a target of the wrong shape', () => pl.sigmoidLoss(x, x, { target: t(4, 2, 1) }), RangeError, /target.*\[4, 4\]/],
    ['a target of another dtype', () => pl.sigmoidLoss(x, x, { target: pl.tensor(new Float32Array(16), [4, 4]) }), TypeError, /target/],
    ['x2 of another D', () => pl.sigmoidLoss(x, t(4, 2, 6)), RangeError, /x2.*D = 3/],
    ['an empty x2', () => pl.sigmoidLoss(x, pl.tensor(new Float64Array(0), [0, 3])), RangeError, /x2/],
    ['an unknown option', () => pl.sigmoidLoss(x, x, { temperature: 1 } as unknown as pl.SigmoidOptions), RangeError, /temperature/],
    ['x1 not a tensor', () => pl.sigmoidLoss(null as unknown as pl.Tensor, x), TypeError, /x1/],
  ] as const)('%s', (_name, f, kind, message) => {
    expect(f).toThrow(kind);
    expect(f).toThrow(message);
  });

  it('checkFinite refuses NaN', () => {
    const bad = pl.tensor(Float64Array.from([1, NaN, 0, 2, 2, 2]), [2, 3]);
    expect(() => pl.sigmoidLoss(bad, bad, { checkFinite: true })).toThrow(/x1/);
  });
});
