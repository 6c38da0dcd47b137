// tripletMarginLoss against pytorch-metric-learning's TripletMarginLoss
// (with BatchHardMiner, or all triplets; LpDistance or CosineSimilarity)
// run by PyTorch (scripts/oracle_pml.py), on the direct and the autograd path.
//
// Written ahead of registration against the public API of issue 25; the
// loss is registered on the loss spec of issue 21 (lib/losses/triplet-margin.ts).
import * as pl from '../lib';
import { binding } from '../lib/binding';
import { Case, DEVICE, Result, Spec, mismatches, oracle } from './helpers/parity';
// eslint-disable-next-line @typescript-eslint/no-var-requires
const { rng, matrix } = require('./helpers/cases.js');

type Mining = 'batch-hard' | 'all';
type Distance = 'euclidean' | 'cosine';
type TripletMarginOptions = pl.TripletMarginOptions;
type TripletMarginResult = pl.TripletMarginResult<true>;
const api = pl;

const r = rng(31337);
const labelsOf = (n: number, k: number): number[] => Array.from({ length: n }, () => Math.floor(r() * k));

// Tight clusters far apart: every triplet meets the margin (no triplet with a positive loss).
function clusters(n: number, d: number, k: number, dtype: 'float32' | 'float64'): { x: Spec; labels: number[] } {
  const round = dtype === 'float32' ? Math.fround : (v: number) => v;
  const labels = Array.from({ length: n }, (_, i) => i % k);
  const data: number[] = [];
  for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) data.push(round((j === labels[i] ? 10 : 0) + 0.01 * (r() - 0.5)));
  return { x: { data, shape: [n, d] }, labels };
}

function makeCases(): Case[] {
  const cases: Case[] = [];
  for (const dtype of ['float32', 'float64'] as const) {
    for (const mining of ['batch-hard', 'all'] as const) {
      for (const distance of ['euclidean', 'cosine'] as const) {
        const add = (name: string, x: Spec, labels: number[], extra: Record<string, unknown> = {}) =>
          cases.push({ name: `${name} ${mining} ${distance} ${dtype}`, op: 'triplet', dtype, inputs: { x },
            options: { labels, mining, distance, ...extra } });
        add('N = 1', matrix(r, 1, 4, dtype), [3]);
        add('N = 2, one label (no negative)', matrix(r, 2, 3, dtype), [1, 1]);
        add('N = 2, two labels (no positive)', matrix(r, 2, 3, dtype), [1, 2]);
        add('N = 3, labels a a b', matrix(r, 3, 3, dtype), [5, 5, -2]);
        add('one label (no valid triplet)', matrix(r, 6, 4, dtype), [0, 0, 0, 0, 0, 0]);
        const c = clusters(9, 4, 3, dtype);
        add('every triplet within the margin', c.x, c.labels);
        add('N = 8, D = 5, three classes', matrix(r, 8, 5, dtype), labelsOf(8, 3));
        add('margin 1 (every triplet active)', matrix(r, 12, 6, dtype), labelsOf(12, 3), { margin: 1 });
        add('margin 0', matrix(r, 12, 6, dtype), labelsOf(12, 3), { margin: 0 });
        // duplicate rows at N <= 25 (cdist's direct path: distance exactly 0, a zero subgradient)
        const dup = matrix(r, 20, 6, dtype);
        const labels = labelsOf(20, 4);
        for (const [to, from] of [[3, 7], [11, 2]]) dup.data.splice(to * 6, 6, ...dup.data.slice(from * 6, from * 6 + 6));
        labels[3] = labels[7];
        add('duplicate rows', dup, labels);
        add('zero rows', matrix(r, 10, 4, dtype, { zeroRows: [2, 6] }), labelsOf(10, 3));
        add('N = 32, D = 16, five classes', matrix(r, 32, 16, dtype), labelsOf(32, 5));
        add('N = 64, labels not class indices', matrix(r, 64, 32, dtype), labelsOf(64, 8).map((v) => v * 1000 - 3000));
        add('N = 100, D = 8', matrix(r, 100, 8, dtype), labelsOf(100, 4));
      }
    }
  }
  return cases;
}

const tensorOf = (s: Spec, dtype: string): pl.Tensor =>
  pl.Tensor.from(dtype === 'float64' ? Float64Array.from(s.data) : Float32Array.from(s.data), s.shape, { device: DEVICE });

function options(c: Case): TripletMarginOptions & pl.WithGrad {
  const { labels: _labels, ...rest } = c.options;
  return rest as TripletMarginOptions & pl.WithGrad;
}
function toResult(res: TripletMarginResult): Result {
  return { loss: res.loss, grad: { data: res.grad.data(), shape: res.grad.shape } };
}
const ours = (c: Case): Result => toResult(api.tripletMarginLoss(tensorOf(c.inputs.x, c.dtype), c.options.labels as number[], options(c)));
const oursAsync = async (c: Case): Promise<Result> =>
  toResult(await api.tripletMarginLossAsync(tensorOf(c.inputs.x, c.dtype), Int32Array.from(c.options.labels as number[]), options(c)));

const cases = makeCases();
let reference: ReturnType<typeof oracle>;
beforeAll(() => {
  reference = oracle(cases);
});

describe('tripletMarginLoss: parity with pytorch-metric-learning\'s TripletMarginLoss in PyTorch', () => {
  it('the oracle is a real PyTorch, and the cases are not all zero', () => {
    expect(reference.torch).toMatch(/^\d+\.\d+/);
    expect(reference.results.filter((x) => (x.loss as number) > 0).length).toBeGreaterThan(cases.length / 2);
  });
  describe.each([['direct path', true], ['autograd path', false]] as const)('%s', (_path, fused) => {
    beforeAll(() => binding().setFusedKernels(fused));
    afterAll(() => binding().setFusedKernels(true));
    it.each(cases.map((c, i) => [c.name, i] as const))('%s', (_name, i) => {
      expect(mismatches(ours(cases[i]), reference.results[i], cases[i].dtype)).toEqual([]);
    });
  });
  it.each(cases.map((c, i) => [c.name, i] as const))('async: %s', async (_name, i) => {
    expect(mismatches(await oursAsync(cases[i]), reference.results[i], cases[i].dtype)).toEqual([]);
  });
});

const t = (n: number, d: number, seed: number): pl.Tensor => pl.tensor(Float64Array.from(matrix(rng(seed), n, d, 'float64').data), [n, d]);

describe('tripletMarginLoss', () => {
  const x = t(12, 5, 1);
  const labels = [0, 1, 2, 0, 1, 2, 0, 1, 2, 0, 1, 2];

  it('defaults: margin 0.05, batch-hard, euclidean; async = sync; grad: false', async () => {
    const a = api.tripletMarginLoss(x, labels);
    const b = api.tripletMarginLoss(x, labels, { margin: 0.05, mining: 'batch-hard', distance: 'euclidean' });
    expect(a.loss).toBeGreaterThan(0);
    expect(b.loss).toBe(a.loss);
    expect(Array.from(b.grad.data())).toEqual(Array.from(a.grad.data()));
    expect(api.tripletMarginLoss(x, labels, { mining: 'all' }).loss).not.toBe(a.loss);
    const q = await api.tripletMarginLossAsync(x, Int32Array.from(labels));
    expect(q.loss).toBe(a.loss);
    expect(Array.from(q.grad.data())).toEqual(Array.from(a.grad.data()));
    const n = api.tripletMarginLoss(x, labels, { grad: false });
    expect(n.loss).toBe(a.loss);
    expect(n.grad).toBeUndefined();
  });

  it.each([['batch-hard'], ['all']] as const)('no valid triplet (%s): loss 0 and a zero gradient of x\'s shape', (mining) => {
    for (const l of [[4, 4, 4, 4], [0, 1, 2, 3]]) {
      const res = api.tripletMarginLoss(t(4, 3, 2), l, { mining });
      expect(res.loss).toBe(0);
      expect(res.grad.shape).toEqual([4, 3]);
      expect(Array.from(res.grad.data()).every((v) => v === 0)).toBe(true);
    }
  });

  it.each([
    ['labels of another length', () => api.tripletMarginLoss(x, [0, 1, 2]), RangeError, /labels/],
    ['labels not integers', () => api.tripletMarginLoss(x, labels.map((v) => v + 0.5)), RangeError, /labels/],
    ['labels a string', () => api.tripletMarginLoss(x, 'abc' as unknown as number[]), TypeError, /labels/],
    ['mining unknown', () => api.tripletMarginLoss(x, labels, { mining: 'hard' as Mining }), RangeError, /mining/],
    ['mining a number', () => api.tripletMarginLoss(x, labels, { mining: 1 as unknown as Mining }), TypeError, /mining/],
    ['distance unknown', () => api.tripletMarginLoss(x, labels, { distance: 'l2' as Distance }), RangeError, /distance/],
    ['a negative margin', () => api.tripletMarginLoss(x, labels, { margin: -0.1 }), RangeError, /margin/],
    ['margin NaN', () => api.tripletMarginLoss(x, labels, { margin: NaN }), RangeError, /margin/],
    ['margin a string', () => api.tripletMarginLoss(x, labels, { margin: '1' as unknown as number }), TypeError, /margin/],
    ['an unknown option', () => api.tripletMarginLoss(x, labels, { swap: true } as unknown as TripletMarginOptions), RangeError, /swap/],
    ['x not a tensor', () => api.tripletMarginLoss(3 as unknown as pl.Tensor, labels), TypeError, /x/],
    ['x 1-D', () => api.tripletMarginLoss(pl.tensor(Float64Array.from([1, 2, 3]), [3]), [0, 1, 2]), RangeError, /x/],
  ] as const)('%s', (_name, f, kind, message) => {
    expect(f).toThrow(kind);
    expect(f).toThrow(message);
  });

  it('a bad argument rejects the async call with the same error', async () => {
    await expect(api.tripletMarginLossAsync(x, [0, 1])).rejects.toThrow(RangeError);
    await expect(api.tripletMarginLossAsync(x, labels, { mining: 'hard' as Mining })).rejects.toThrow(/mining/);
  });

  it('out: the gradient written into caller memory (sync and async); a wrong key or shape is a RangeError naming it', async () => {
    const a = api.tripletMarginLoss(x, labels);
    const mem = new Float64Array(12 * 5);
    const r = api.tripletMarginLoss(x, labels, { out: { grad: mem } });
    expect(r.loss).toBe(a.loss);
    expect(Array.from(mem)).toEqual(Array.from(a.grad.data()));
    expect(mem.some((v) => v !== 0)).toBe(true);
    const mem2 = new Float64Array(12 * 5);
    await api.tripletMarginLossAsync(x, labels, { out: { grad: mem2 } });
    expect(Array.from(mem2)).toEqual(Array.from(a.grad.data()));
    expect(() => api.tripletMarginLoss(x, labels, { out: { grad1: mem } } as unknown as TripletMarginOptions)).toThrow(/grad1/);
    expect(() => api.tripletMarginLoss(x, labels, { out: { grad: new Float64Array(7) } })).toThrow(RangeError);
    expect(() => api.tripletMarginLoss(x, labels, { out: { grad: new Float64Array(7) } })).toThrow(/out\.grad/);
  });

  it('checkFinite refuses NaN, naming x', () => {
    const bad = pl.tensor(Float64Array.from([1, NaN, 0, 2, 2, 2]), [2, 3]);
    expect(() => api.tripletMarginLoss(bad, [0, 1], { checkFinite: true })).toThrow(/x/);
  });
});
