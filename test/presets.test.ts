// The paper-named presets against their anchors' code run by PyTorch
// (scripts/oracle.py): supConLoss against HobbitLong/SupContrast's
// SupConLoss on the two views, barlowTwinsLoss against lightly's
// BarlowTwinsLoss; on the hand-derived path and the autograd path, float32
// and float64. Both are built on the existing native losses (N-pairs, the
// correlation loss) with the papers' defaults.
import * as pl from '../lib';
import { binding } from '../lib/binding';
import { Case, mismatches, oracle, Result } from './helpers/parity';
// eslint-disable-next-line @typescript-eslint/no-var-requires
const { rng, matrix } = require('./helpers/cases.js');

const r = rng(2021);

function makeCases(): Case[] {
  const cases: Case[] = [];
  for (const dtype of ['float32', 'float64'] as const) {
    for (const [n, d, labels, options] of [
      [8, 5, [0, 1, 0, 2, 1, 0, 3, 2], {}],
      [6, 3, [0, 1, 2, 3, 4, 5], {}], // every label distinct: SimCLR's positives only
      [5, 4, [7, 7, 7, 7, 7], {}], // one class
      [1, 3, [0], {}],
      [16, 12, [0, 1, 2, 3, 0, 1, 2, 3, 0, 1, 2, 3, 4, 4, 5, 5], { temperature: 0.5 }],
      [10, 6, [1, 0, 1, 0, 1, 0, 1, 0, 2, 2], { temperature: 0.2, eps: 1e-8 }],
    ] as const) {
      cases.push({ name: `supCon N=${n} D=${d} labels ${labels.join('')} ${JSON.stringify(options)} ${dtype}`, op: 'supcon_views', dtype,
        inputs: { z1: matrix(r, n, d, dtype), z2: matrix(r, n, d, dtype) }, options: { ...options, labels: [...labels] } });
    }
    for (const [n, d, scale, options] of [
      [8, 5, 1, {}], [32, 16, 2, {}], [2, 3, 1, {}], [16, 1, 0.7, {}], [12, 24, 3, {}], [10, 4, 1, { lambda: 0.02 }],
    ] as const) {
      cases.push({ name: `barlowTwins N=${n} D=${d} scale ${scale} ${JSON.stringify(options)} ${dtype}`, op: 'lightly_barlow_twins', dtype,
        inputs: { z1: matrix(r, n, d, dtype, { scale }), z2: matrix(r, n, d, dtype, { scale }) }, options });
    }
  }
  return cases;
}

const tensorOut = (t: pl.Tensor | undefined) => {
  if (!t) throw new Error('missing tensor in result');
  return { data: t.data(), shape: t.shape };
};

function input(c: Case, key: string): pl.Tensor {
  const s = c.inputs[key];
  return pl.Tensor.from(c.dtype === 'float64' ? Float64Array.from(s.data) : Float32Array.from(s.data), s.shape);
}

async function ours(c: Case, async: boolean): Promise<Result> {
  const z1 = input(c, 'z1'), z2 = input(c, 'z2');
  if (c.op === 'supcon_views') {
    const { labels, ...opts } = c.options as unknown as { labels: number[] } & pl.SupConOptions;
    const res = async ? await pl.supConLossAsync(z1, z2, labels, opts) : pl.supConLoss(z1, z2, labels, opts);
    return { loss: res.loss, grad1: tensorOut(res.grad1), grad2: tensorOut(res.grad2), gradTemperature: res.gradTemperature as number };
  }
  const opts = c.options as pl.BarlowTwinsOptions;
  const res = async ? await pl.barlowTwinsLossAsync(z1, z2, opts) : pl.barlowTwinsLoss(z1, z2, opts);
  return { loss: res.loss, onDiagonal: res.onDiagonal, offDiagonal: res.offDiagonal, grad1: tensorOut(res.grad1), grad2: tensorOut(res.grad2) };
}

const cases = makeCases();
let reference: ReturnType<typeof oracle>;
beforeAll(() => {
  reference = oracle(cases);
});

describe('supConLoss and barlowTwinsLoss: parity with SupContrast\'s SupConLoss and lightly\'s BarlowTwinsLoss in PyTorch', () => {
  it('the oracle is a real PyTorch', () => {
    expect(reference.torch).toMatch(/^\d+\.\d+/);
  });
  describe.each([['hand-derived path', true], ['autograd path', false]] as const)('%s', (_path, fused) => {
    beforeAll(() => binding().setFusedKernels(fused));
    afterAll(() => binding().setFusedKernels(true));
    it.each(cases.map((c, i) => [c.name, i] as const))('%s', async (_name, i) => {
      expect(mismatches(await ours(cases[i], false), reference.results[i], cases[i].dtype)).toEqual([]);
      expect(mismatches(await ours(cases[i], true), reference.results[i], cases[i].dtype)).toEqual([]);
    });
  });
});

const t = (n: number, d: number, seed: number): pl.Tensor => pl.tensor(Float64Array.from(matrix(rng(seed), n, d, 'float64').data), [n, d]);

describe('the presets are the existing losses with the papers\' defaults', () => {
  it('barlowTwinsLoss = correlationLoss in \'features\' mode with scale 1 (lambda 5e-3); correlationLoss\'s own defaults unchanged', () => {
    const z1 = t(12, 5, 1), z2 = t(12, 5, 2);
    const paper = pl.barlowTwinsLoss(z1, z2);
    const same = pl.correlationLoss(z1, z2, { mode: 'features', scale: 1, lambda: 5e-3 });
    expect(paper.loss).toBe(same.loss);
    expect(paper.grad1.data()).toEqual(same.grad1.data());
    expect(paper.loss).toBeCloseTo(paper.onDiagonal + 5e-3 * paper.offDiagonal, 12);
    // correlationLoss keeps the seed's sample-wise form and scale 0.025
    expect(pl.correlationLoss(z1, z2).loss).toBe(pl.correlationLoss(z1, z2, { mode: 'samples', scale: 0.025 }).loss);
    expect(pl.correlationLoss(z1, z2).loss).not.toBeCloseTo(paper.loss, 3);
    expect(pl.barlowTwinsLoss(z1, z2, { scale: 2 }).loss).toBeCloseTo(2 * paper.loss, 12);
  });

  it('supConLoss = npairsLoss over [z1; z2] with the labels repeated, excludeSelf and temperature 0.07', () => {
    const z1 = t(6, 4, 3), z2 = t(6, 4, 4);
    const labels = [0, 1, 0, 1, 2, 2];
    const z = pl.tensor(Float64Array.from([...z1.data(), ...z2.data()]), [12, 4]);
    const viaNpairs = pl.npairsLoss(z, z, { labels: [...labels, ...labels], excludeSelf: true, temperature: 0.07 });
    const paper = pl.supConLoss(z1, z2, labels);
    expect(paper.loss).toBe(viaNpairs.loss);
    expect(paper.gradTemperature).toBe(viaNpairs.gradTemperature);
    const sum = viaNpairs.grad1.data().map((v, k) => v + viaNpairs.grad2.data()[k]);
    expect(Array.from(paper.grad1.data())).toEqual(Array.from(sum.slice(0, 24)));
    expect(Array.from(paper.grad2.data())).toEqual(Array.from(sum.slice(24)));
    // npairsLoss's own defaults unchanged (temperature 1, no excludeSelf)
    expect(pl.npairsLoss(z1, z2).loss).toBe(pl.npairsLoss(z1, z2, { temperature: 1 }).loss);
    // grad: false computes none
    const q = pl.supConLoss(z1, z2, labels, { grad: false });
    expect(q.loss).toBe(paper.loss);
    expect(q.grad1).toBeUndefined();
  });

  it('bad arguments: named TypeErrors and RangeErrors', async () => {
    const z1 = t(4, 3, 5), z2 = t(4, 3, 6);
    expect(() => pl.supConLoss(z1, z2, [0, 1, 0])).toThrow(/labels: expected 4 labels/);
    expect(() => pl.supConLoss(z1, t(5, 3, 7), [0, 1, 0, 1])).toThrow(/z2: must have N = 4 rows/);
    expect(() => pl.supConLoss(z1, z2, [0, 1, 0, 1], { temperature: 0 })).toThrow(RangeError);
    expect(() => pl.supConLoss(z1, z2, [0, 1, 0, 1], { tempreature: 1 } as pl.SupConOptions)).toThrow(/Did you mean 'temperature'/);
    expect(() => pl.supConLoss(z1, z2, 'x' as unknown as number[])).toThrow(TypeError);
    expect(() => pl.supConLoss(z1, z2, [0, 1, 0, 1], { signal: new AbortController().signal })).toThrow(/supConLossAsync/);
    expect(() => pl.barlowTwinsLoss(z1, z2, { mode: 'samples' } as pl.BarlowTwinsOptions)).toThrow(/Unknown option 'mode'/);
    expect(() => pl.barlowTwinsLoss(z1, z2, { signal: new AbortController().signal })).toThrow(/barlowTwinsLossAsync/);
    expect(() => pl.barlowTwinsLoss(t(1, 3, 8), t(1, 3, 9))).toThrow(/needs N >= 2/);
    await expect(pl.supConLossAsync(z1, z2, [0, 1])).rejects.toThrow(RangeError);
    await expect(pl.barlowTwinsLossAsync(z1, z2, { lambda: -1 })).rejects.toThrow(RangeError);
  });
});
