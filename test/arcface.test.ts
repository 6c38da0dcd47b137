// arcFaceLoss against pytorch-metric-learning's ArcFaceLoss run by PyTorch
// (scripts/oracle_pml.py; PML's W [D, C] is the transpose of centers
// [C, D]), on the direct and the autograd path.
//
// Written ahead of registration against the public API of issue 25; the
// loss is registered on the loss spec of issue 21 (lib/losses/arcface.ts).
import * as pl from '../lib';
import { binding } from '../lib/binding';
import { Case, DEVICE, Result, Spec, mismatches, oracle } from './helpers/parity';
// eslint-disable-next-line @typescript-eslint/no-var-requires
const { rng, matrix } = require('./helpers/cases.js');

type ArcFaceOptions = pl.ArcFaceOptions;
type ArcFaceResult = pl.ArcFaceResult<true>;
const api = pl;

const r = rng(4242);
const labelsOf = (n: number, k: number): number[] => Array.from({ length: n }, () => Math.floor(r() * k));

function makeCases(): Case[] {
  const cases: Case[] = [];
  for (const dtype of ['float32', 'float64'] as const) {
    const add = (name: string, x: Spec, labels: number[], centers: Spec, extra: Record<string, unknown> = {}) =>
      cases.push({ name: `${name} ${dtype}`, op: 'arcface', dtype, inputs: { x, centers }, options: { labels, ...extra } });
    add('N = 1, C = 3', matrix(r, 1, 4, dtype), [2], matrix(r, 3, 4, dtype));
    add('N = 2, C = 5', matrix(r, 2, 3, dtype), [0, 4], matrix(r, 5, 3, dtype));
    add('C = 1', matrix(r, 4, 3, dtype), [0, 0, 0, 0], matrix(r, 1, 3, dtype));
    add('classes absent from the batch', matrix(r, 16, 8, dtype), labelsOf(16, 4), matrix(r, 10, 8, dtype));
    add('N = 32, D = 128, C = 100', matrix(r, 32, 128, dtype), labelsOf(32, 100), matrix(r, 100, 128, dtype));
    add('scale 1, margin 10', matrix(r, 32, 16, dtype), labelsOf(32, 8), matrix(r, 8, 16, dtype), { scale: 1, margin: 10 });
    add('margin 0', matrix(r, 12, 6, dtype), labelsOf(12, 5), matrix(r, 5, 6, dtype), { margin: 0 });
    // rows near the opposite of their centre: theta > pi - m, PML's other branch (cos(theta) - m sin(m))
    const centers = matrix(r, 6, 5, dtype);
    const labels = labelsOf(12, 6);
    const round = dtype === 'float32' ? Math.fround : (v: number) => v;
    const noise = matrix(r, 12, 5, dtype);
    const x = { data: noise.data.map((v: number, k: number) => round(-centers.data[labels[Math.floor(k / 5)] * 5 + (k % 5)] + 0.05 * v)), shape: [12, 5] };
    add('theta past pi - m', x, labels, centers);
    add('zero rows in x and in centers', matrix(r, 10, 4, dtype, { zeroRows: [3] }), labelsOf(10, 5), matrix(r, 5, 4, dtype, { zeroRows: [1] }));
  }
  return cases;
}

const tensorOf = (s: Spec, dtype: string): pl.Tensor =>
  pl.Tensor.from(dtype === 'float64' ? Float64Array.from(s.data) : Float32Array.from(s.data), s.shape, { device: DEVICE });
const out = (v: pl.Tensor) => ({ data: v.data(), shape: v.shape });

function options(c: Case): ArcFaceOptions & pl.WithGrad {
  const { labels: _labels, ...rest } = c.options;
  return rest as ArcFaceOptions & pl.WithGrad;
}
const toResult = (res: ArcFaceResult): Result => ({ loss: res.loss, grad: out(res.grad), gradCenters: out(res.gradCenters) });
const ours = (c: Case): Result =>
  toResult(api.arcFaceLoss(tensorOf(c.inputs.x, c.dtype), c.options.labels as number[], tensorOf(c.inputs.centers, c.dtype), options(c)));
const oursAsync = async (c: Case): Promise<Result> =>
  toResult(await api.arcFaceLossAsync(tensorOf(c.inputs.x, c.dtype), Int32Array.from(c.options.labels as number[]),
    tensorOf(c.inputs.centers, c.dtype), options(c)));

const cases = makeCases();
let reference: ReturnType<typeof oracle>;
beforeAll(() => {
  reference = oracle(cases);
});

describe('arcFaceLoss: parity with pytorch-metric-learning\'s ArcFaceLoss in PyTorch', () => {
  it('the oracle is a real PyTorch', () => {
    expect(reference.torch).toMatch(/^\d+\.\d+/);
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

describe('arcFaceLoss', () => {
  const x = t(6, 4, 1), centers = t(5, 4, 2);
  const labels = [0, 1, 2, 3, 4, 0];

  it('defaults: margin 28.6 degrees, scale 64; async = sync; grad: false', async () => {
    const a = api.arcFaceLoss(x, labels, centers);
    const b = api.arcFaceLoss(x, labels, centers, { margin: 28.6, scale: 64 });
    expect(b.loss).toBe(a.loss);
    expect(Array.from(b.gradCenters.data())).toEqual(Array.from(a.gradCenters.data()));
    expect(a.grad.shape).toEqual([6, 4]);
    expect(a.gradCenters.shape).toEqual([5, 4]);
    const q = await api.arcFaceLossAsync(x, BigInt64Array.from(labels.map(BigInt)), centers);
    expect(q.loss).toBe(a.loss);
    expect(Array.from(q.grad.data())).toEqual(Array.from(a.grad.data()));
    const n = api.arcFaceLoss(x, labels, centers, { grad: false });
    expect(n.loss).toBe(a.loss);
    expect(n.grad).toBeUndefined();
    expect(n.gradCenters).toBeUndefined();
  });

  it.each([
    ['labels of another length', () => api.arcFaceLoss(x, [0, 1], centers), RangeError, /labels/],
    ['a label equal to C', () => api.arcFaceLoss(x, [0, 1, 2, 3, 4, 5], centers), RangeError, /labels/],
    ['a negative label', () => api.arcFaceLoss(x, [0, 1, 2, 3, 4, -1], centers), RangeError, /labels/],
    ['labels a string', () => api.arcFaceLoss(x, 'abc' as unknown as number[], centers), TypeError, /labels/],
    ['centers of another D', () => api.arcFaceLoss(x, labels, t(5, 3, 3)), RangeError, /centers/],
    ['centers not a tensor', () => api.arcFaceLoss(x, labels, [1, 2] as unknown as pl.Tensor), TypeError, /centers/],
    ['x not a tensor', () => api.arcFaceLoss(3 as unknown as pl.Tensor, labels, centers), TypeError, /x/],
    ['a negative margin', () => api.arcFaceLoss(x, labels, centers, { margin: -1 }), RangeError, /margin/],
    ['margin 180 degrees', () => api.arcFaceLoss(x, labels, centers, { margin: 180 }), RangeError, /margin/],
    ['margin a string', () => api.arcFaceLoss(x, labels, centers, { margin: '28.6' as unknown as number }), TypeError, /margin/],
    ['scale 0', () => api.arcFaceLoss(x, labels, centers, { scale: 0 }), RangeError, /scale/],
    ['scale Infinity', () => api.arcFaceLoss(x, labels, centers, { scale: Infinity }), RangeError, /scale/],
    ['an unknown option', () => api.arcFaceLoss(x, labels, centers, { easyMargin: true } as unknown as ArcFaceOptions), RangeError, /easyMargin/],
  ] as const)('%s', (_name, f, kind, message) => {
    expect(f).toThrow(kind);
    expect(f).toThrow(message);
  });

  it('a bad argument rejects the async call with the same error', async () => {
    await expect(api.arcFaceLossAsync(x, [0, 1, 2, 3, 4, 5], centers)).rejects.toThrow(RangeError);
  });

  it('out: both gradients written into caller memory (sync and async); a wrong shape is a RangeError naming it', async () => {
    const a = api.arcFaceLoss(x, labels, centers);
    for (const run of [
      (out: { grad: Float64Array; gradCenters: Float64Array }) => Promise.resolve(api.arcFaceLoss(x, labels, centers, { out })),
      (out: { grad: Float64Array; gradCenters: Float64Array }) => api.arcFaceLossAsync(x, labels, centers, { out }),
    ]) {
      const out = { grad: new Float64Array(6 * 4), gradCenters: new Float64Array(5 * 4) };
      const r = await run(out);
      expect(r.loss).toBe(a.loss);
      expect(Array.from(out.grad)).toEqual(Array.from(a.grad.data()));
      expect(Array.from(out.gradCenters)).toEqual(Array.from(a.gradCenters.data()));
      expect(out.gradCenters.some((v) => v !== 0)).toBe(true);
    }
    const only = new Float64Array(5 * 4);
    const r = api.arcFaceLoss(x, labels, centers, { out: { gradCenters: only } });
    expect(Array.from(only)).toEqual(Array.from(a.gradCenters.data()));
    expect(Array.from(r.grad.data())).toEqual(Array.from(a.grad.data()));
    expect(() => api.arcFaceLoss(x, labels, centers, { out: { gradCenters: new Float64Array(6 * 4) } })).toThrow(/out\.gradCenters/);
  });

  it('checkFinite refuses NaN, naming the input', () => {
    const bad = pl.tensor(Float64Array.from([1, NaN, 0, 2, 2, 2, 1, 1]), [2, 4]);
    expect(() => api.arcFaceLoss(bad, [0, 1], centers, { checkFinite: true })).toThrow(/x/);
    expect(() => api.arcFaceLoss(x, labels, pl.tensor(Float64Array.from(Array(20).fill(NaN)), [5, 4]), { checkFinite: true })).toThrow(/centers/);
  });
});
