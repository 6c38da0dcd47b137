// SupCon (npairsLoss's labels / excludeSelf) and NT-Xent (ntXentLoss) on the
// N-pairs graph, against PyTorch references written from HobbitLong's
// SupConLoss and lightly's NTXentLoss (scripts/oracle.py), on every path:
// the fused kernels, the row blocks (chunked) and the autograd reference.
import * as pl from '../lib';
import { binding } from '../lib/binding';
import { Case, mismatches, oracle, runOurs } from './helpers/parity';
// eslint-disable-next-line @typescript-eslint/no-var-requires
const { rng, matrix } = require('./helpers/cases.js');

const SEED = 604125;
const r = rng(SEED);
const labelsOf = (n: number, classes: number): number[] => Array.from({ length: n }, () => Math.floor(r() * classes));

function makeCases(): Case[] {
  const cases: Case[] = [];
  for (const dtype of ['float32', 'float64'] as const) {
    // SupCon over all views (x1 = x2 = z, each row leaving out itself)
    for (const [n, d, classes, temperature] of [[8, 5, 3, 0.1], [16, 12, 4, 0.07], [2, 3, 1, 0.5], [12, 7, 12, 1], [33, 9, 5, 0.2]] as const) {
      cases.push({ name: `supcon views N=${n} D=${d} classes=${classes} t=${temperature} ${dtype}`, op: 'supcon', dtype,
        inputs: { x1: matrix(r, n, d, dtype) }, options: { labels: labelsOf(n, classes), excludeSelf: true, temperature } });
    }
    // SupCon with anchors x1 and contrast x2 (two views, no self to leave out)
    for (const [n, d, classes] of [[10, 6, 3], [1, 4, 1], [7, 3, 7]] as const) {
      cases.push({ name: `supcon x1 vs x2 N=${n} D=${d} classes=${classes} ${dtype}`, op: 'supcon', dtype,
        inputs: { x1: matrix(r, n, d, dtype), x2: matrix(r, n, d, dtype) }, options: { labels: labelsOf(n, classes), temperature: 0.3 } });
    }
    // NT-Xent over the 2N views
    for (const [n, d, temperature] of [[8, 5, 0.5], [1, 4, 0.5], [24, 16, 0.1], [5, 1, 0.5], [40, 9, 0.05]] as const) {
      cases.push({ name: `ntxent N=${n} D=${d} t=${temperature} ${dtype}`, op: 'ntxent', dtype,
        inputs: { z1: matrix(r, n, d, dtype), z2: matrix(r, n, d, dtype) }, options: { temperature } });
    }
    // NT-Xent with a memory bank
    for (const [n, k, d] of [[6, 10, 4], [1, 1, 3], [16, 40, 8]] as const) {
      cases.push({ name: `ntxent memory bank N=${n} K=${k} D=${d} ${dtype}`, op: 'ntxent', dtype,
        inputs: { z1: matrix(r, n, d, dtype), z2: matrix(r, n, d, dtype), negatives: matrix(r, k, d, dtype) }, options: { temperature: 0.2 } });
    }
  }
  return cases;
}

const cases = makeCases();
let reference: ReturnType<typeof oracle>;
let chunking: { rows: number; budgetBytes: number };

beforeAll(() => {
  reference = oracle(cases);
  chunking = binding().chunking();
});

describe('SupCon and NT-Xent: parity with PyTorch', () => {
  it('the oracle is a real PyTorch', () => {
    expect(reference.torch).toMatch(/^\d+\.\d+/);
    expect(reference.results).toHaveLength(cases.length);
  });

  describe.each([['fused kernels', true, false], ['row blocks (chunked)', true, true], ['autograd path', false, false]] as const)('%s', (_path, fused, chunked) => {
    beforeAll(() => {
      binding().setFusedKernels(fused);
      if (chunked) binding().chunking(3, 0);
    });
    afterAll(() => {
      binding().setFusedKernels(true);
      binding().chunking(chunking.rows, chunking.budgetBytes);
    });
    it.each(cases.map((c, i) => [c.name, i] as const))('%s', (_name, i) => {
      expect(mismatches(runOurs(cases[i]), reference.results[i], cases[i].dtype)).toEqual([]);
    });
  });
});

const t = (n: number, d: number, seed: number): pl.Tensor => {
  const q = rng(seed);
  return pl.tensor(Float64Array.from(matrix(q, n, d, 'float64').data), [n, d]);
};

function closeTo(a: ArrayLike<number>, b: ArrayLike<number>, tol = 1e-12): void {
  expect(a.length).toBe(b.length);
  for (let k = 0; k < a.length; k++) expect(Math.abs(a[k] - b[k])).toBeLessThanOrEqual(tol * (1 + Math.abs(b[k])));
}

describe('labels: a probability target uniform over the positives', () => {
  const x1 = t(9, 6, 1), x2 = t(9, 6, 2);
  const labels = [0, 1, 0, 2, 1, 0, 3, 2, 2];
  const uniform = (exclude: boolean): pl.Tensor => {
    const n = labels.length, q = new Float64Array(n * n);
    for (let i = 0; i < n; i++) {
      let c = 0;
      for (let j = 0; j < n; j++) if (labels[i] === labels[j] && !(exclude && i === j)) c++;
      for (let j = 0; j < n; j++) if (labels[i] === labels[j] && !(exclude && i === j)) q[i * n + j] = 1 / c;
    }
    return pl.tensor(q, [n, n]);
  };

  it.each([['x1 vs x2', false], ['symmetric', true]] as const)('%s: the same loss and gradients as the target', (_n, symmetric) => {
    const a = pl.npairsLoss(x1, x2, { labels, temperature: 0.2, symmetric });
    const b = pl.npairsLoss(x1, x2, { target: uniform(false), temperature: 0.2, symmetric });
    expect(Math.abs(a.loss - b.loss)).toBeLessThan(1e-12);
    closeTo(a.grad1.data(), b.grad1.data());
    closeTo(a.grad2.data(), b.grad2.data());
    expect(Math.abs(a.gradTemperature - b.gradTemperature)).toBeLessThan(1e-10);
  });

  it('over the views with excludeSelf: the same as the target with a zero diagonal', () => {
    const a = pl.npairsLoss(x1, x1, { labels, excludeSelf: true, temperature: 0.2 });
    const b = pl.npairsLoss(x1, x1, { target: uniform(true), excludeSelf: true, temperature: 0.2 });
    expect(Math.abs(a.loss - b.loss)).toBeLessThan(1e-12);
    closeTo(a.grad1.data(), b.grad1.data());
  });

  it('labels all distinct and two views: the default N-pairs loss (one positive each)', () => {
    const a = pl.npairsLoss(x1, x2, { labels: [0, 1, 2, 3, 4, 5, 6, 7, 8], temperature: 0.5 });
    const b = pl.npairsLoss(x1, x2, { temperature: 0.5 });
    expect(Math.abs(a.loss - b.loss)).toBeLessThan(1e-12);
    closeTo(a.grad1.data(), b.grad1.data());
  });

  it('BigInt64Array labels and Int32Array labels agree', () => {
    const a = pl.npairsLoss(x1, x2, { labels: Int32Array.from(labels) });
    const b = pl.npairsLoss(x1, x2, { labels: BigInt64Array.from(labels.map(BigInt)) });
    expect(a.loss).toBe(b.loss);
  });
});

describe('NT-Xent is N-pairs over the 2N views', () => {
  it('ntXentLoss(z1, z2) = npairsLoss([z1; z2], [z1; z2], target i -> i + N mod 2N, excludeSelf)', () => {
    const n = 7, z1 = t(n, 5, 3), z2 = t(n, 5, 4);
    const z = pl.tensor(Float64Array.from([...z1.data(), ...z2.data()]), [2 * n, 5]);
    const target = Int32Array.from({ length: 2 * n }, (_v, i) => (i + n) % (2 * n));
    const a = pl.ntXentLoss(z1, z2, { temperature: 0.3 });
    const b = pl.npairsLoss(z, z, { target, excludeSelf: true, temperature: 0.3 });
    expect(Math.abs(a.loss - b.loss)).toBeLessThan(1e-12);
    const g = b.grad1.data().map((v, k) => v + b.grad2.data()[k]);
    closeTo([...a.grad1.data(), ...a.grad2.data()], g);
    expect(a.gradTemperature).toBeCloseTo(b.gradTemperature, 10);
  });

  it('async = sync; grad: false gives the loss only', async () => {
    const z1 = t(64, 32, 5), z2 = t(64, 32, 6);
    const s = pl.ntXentLoss(z1, z2);
    const a = await pl.ntXentLossAsync(z1, z2);
    expect(a.loss).toBe(s.loss);
    expect(Array.from(a.grad1.data())).toEqual(Array.from(s.grad1.data()));
    const q = pl.ntXentLoss(z1, z2, { grad: false });
    expect(q.loss).toBe(s.loss);
    expect(q.grad1).toBeUndefined();
  });
});

describe('errors name the argument', () => {
  const x = t(4, 3, 7), y = t(5, 3, 8);
  it.each([
    ['labels with M != N', () => pl.npairsLoss(x, y, { labels: [0, 1, 0, 1] }), RangeError, /labels.*M = N/],
    ['labels and target', () => pl.npairsLoss(x, x, { labels: [0, 1, 0, 1], target: [1, 0, 3, 2] }), RangeError, /labels.*target/],
    ['labels of the wrong length', () => pl.npairsLoss(x, x, { labels: [0, 1, 0] }), RangeError, /labels.*expected 4 labels/],
    ['a label that is not an integer', () => pl.npairsLoss(x, x, { labels: [0, 1.5, 0, 1] }), RangeError, /labels\[1\]/],
    ['labels of the wrong type', () => pl.npairsLoss(x, x, { labels: 'abcd' as unknown as number[] }), TypeError, /labels/],
    ['excludeSelf with the default target', () => pl.npairsLoss(x, x, { excludeSelf: true }), RangeError, /excludeSelf.*default target/],
    ['excludeSelf with a target on the diagonal', () => pl.npairsLoss(x, x, { excludeSelf: true, target: [1, 0, 2, 0] }), RangeError, /target\[2\]/],
    ['excludeSelf with probabilities on the diagonal', () => pl.npairsLoss(x, x, { excludeSelf: true, target: pl.tensor(new Float64Array(16).fill(0.25), [4, 4]) }), RangeError, /excludeSelf.*target\[i\]\[i\] must be 0/],
    ['excludeSelf with symmetric', () => pl.npairsLoss(x, x, { excludeSelf: true, labels: [0, 0, 1, 1], symmetric: true }), RangeError, /excludeSelf.*symmetric/],
    ['excludeSelf with labelSmoothing', () => pl.npairsLoss(x, x, { excludeSelf: true, labels: [0, 0, 1, 1], labelSmoothing: 0.1 }), RangeError, /excludeSelf.*labelSmoothing/],
    ['excludeSelf with M != N', () => pl.npairsLoss(x, y, { excludeSelf: true, target: [1, 0, 3, 2] }), RangeError, /excludeSelf.*M = N/],
    ['excludeSelf with N = 1', () => pl.npairsLoss(t(1, 3, 9), t(1, 3, 9), { excludeSelf: true, labels: [0] }), RangeError, /excludeSelf.*N = 1/],
    ['excludeSelf not a boolean', () => pl.npairsLoss(x, x, { excludeSelf: 1 as unknown as boolean }), TypeError, /excludeSelf/],
    ['ntXent: z2 of another N', () => pl.ntXentLoss(x, y), RangeError, /z2/],
    ['ntXent: temperature 0', () => pl.ntXentLoss(x, x, { temperature: 0 }), RangeError, /temperature/],
    ['ntXent: an unknown option', () => pl.ntXentLoss(x, x, { temprature: 1 } as unknown as pl.NtXentOptions), RangeError, /temprature/],
    ['ntXent: negatives of another D', () => pl.ntXentLoss(x, x, { negatives: t(6, 2, 1) }), RangeError, /negatives.*D = 3/],
    ['ntXent: negatives of another dtype', () => pl.ntXentLoss(x, x, { negatives: pl.tensor(new Float32Array(6), [2, 3]) }), TypeError, /negatives/],
    ['ntXent: an empty memory bank', () => pl.ntXentLoss(x, x, { negatives: pl.tensor(new Float64Array(0), [0, 3]) }), RangeError, /negatives/],
    ['ntXent: z1 not a tensor', () => pl.ntXentLoss('z' as unknown as pl.Tensor, x), TypeError, /z1/],
  ] as const)('%s', (_name, f, kind, message) => {
    expect(f).toThrow(kind);
    expect(f).toThrow(message);
  });

  it('checkFinite refuses NaN in the views and the bank', () => {
    const bad = pl.tensor(Float64Array.from([NaN, 1, 2, 3, 4, 5]), [2, 3]);
    expect(() => pl.ntXentLoss(bad, bad, { checkFinite: true })).toThrow(RangeError);
    expect(() => pl.ntXentLoss(x, x, { negatives: bad, checkFinite: true })).toThrow(/negatives/);
  });
});
