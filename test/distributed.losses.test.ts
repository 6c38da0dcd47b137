// Both losses across 2 and 4 Node.js ranks against references no one can argue
// with: N-pairs equals one process computing the loss on the concatenated
// batch (loss and gradients), and so does the correlation loss with
// syncBatchNorm in 'features' mode. (The per-rank correlation semantics of
// the seed, docs/DESIGN.md#the-seed, are checked against Python ranks in distributed.interop.test.ts.)
import * as pl from '../lib';
import { excess, randn, resultsOf, runGroup } from './helpers/distributed';

jest.setTimeout(180000);

type DType = 'float32' | 'float64';
interface Spec { data: number[]; shape: number[] }

const TOL = { float32: { rtol: 1e-5, atol: 1e-6 }, float64: { rtol: 1e-10, atol: 1e-12 } };

function makeInputs(w: number, n: number, d: number, seed: number, dtype: DType): { a: Spec; b: Spec }[] {
  const round = (v: number[]) => (dtype === 'float32' ? v.map(Math.fround) : v);
  return [...Array(w).keys()].map((r) => {
    const a = round(randn(seed + 17 * r, n * d));
    // x2 close to x1 so the losses are in a typical range
    const noise = randn(seed + 17 * r + 5, n * d);
    const b = round(a.map((v, i) => v + 0.5 * noise[i]));
    return { a: { data: a, shape: [n, d] }, b: { data: b, shape: [n, d] } };
  });
}

function concat(specs: Spec[], dtype: DType): pl.Tensor {
  const rows = specs.reduce((s, x) => s + x.shape[0], 0);
  const data = specs.flatMap((x) => x.data);
  return pl.Tensor.from(dtype === 'float64' ? Float64Array.from(data) : Float32Array.from(data), [rows, specs[0].shape[1]]);
}

function rowsOf(t: pl.Tensor | undefined, start: number, count: number): number[] {
  const cols = t!.shape[1];
  return Array.from(t!.data().subarray(start * cols, (start + count) * cols));
}

function expectClose(ours: ArrayLike<number>, ref: ArrayLike<number>, dtype: DType, what: string) {
  const e = excess(ours, ref, TOL[dtype].rtol, TOL[dtype].atol);
  if (!(e <= 0)) throw new Error(`${what}: beyond tolerance by ${e} (ours ${Array.from(ours).slice(0, 6)} vs ref ${Array.from(ref).slice(0, 6)})`);
}

interface NpairsCase {
  w: number; n: number; d: number; dtype: DType; async: boolean; options: Record<string, unknown>;
  /** per-rank targets: class indices among the rank's own columns, or probabilities */
  targets?: 'indices' | 'probs';
}

const npairsCases: NpairsCase[] = [
  { w: 2, n: 3, d: 4, dtype: 'float32', async: true, options: { symmetric: true, temperature: 0.1 } },
  { w: 2, n: 4, d: 3, dtype: 'float64', async: false, options: { localLoss: false, temperature: 0.5, labelSmoothing: 0.1 } },
  { w: 4, n: 2, d: 5, dtype: 'float64', async: true, options: { symmetric: true, reduction: 'sum', l2Reg: 0.002, temperature: 0.2 } },
  { w: 4, n: 3, d: 3, dtype: 'float32', async: true, options: { localLoss: false, gatherWithGrad: false, symmetric: true, similarity: 'dot' } },
  { w: 2, n: 3, d: 4, dtype: 'float64', async: true, options: { symmetric: true }, targets: 'indices' },
  { w: 2, n: 3, d: 4, dtype: 'float64', async: false, options: { localLoss: false, symmetric: true }, targets: 'indices' },
  { w: 2, n: 3, d: 2, dtype: 'float64', async: true, options: { localLoss: false }, targets: 'probs' },
  { w: 2, n: 3, d: 2, dtype: 'float32', async: true, options: { temperature: 0.5 }, targets: 'probs' },
];

// Per-rank targets, and the same targets for the concatenated batch.
function targetsFor(c: NpairsCase, inputs: Record<string, unknown>[]): pl.NpairsOptions['target'] {
  const { w, n } = c;
  if (c.targets === 'indices') {
    const perms = [[1, 2, 0], [2, 0, 1], [0, 2, 1], [1, 0, 2]];
    inputs.forEach((inp, r) => { inp.targetIndices = perms[r % perms.length].slice(0, n); });
    return Int32Array.from(inputs.flatMap((inp, r) => (inp.targetIndices as number[]).map((t) => t + r * n)));
  }
  const full = new Float64Array(w * n * w * n);
  inputs.forEach((inp, r) => {
    const p = randn(900 + r, n * n).map((v) => Math.exp(v));
    for (let i = 0; i < n; i++) {
      const row = p.slice(i * n, (i + 1) * n);
      const s = row.reduce((a, b) => a + b, 0);
      row.forEach((v, j) => { p[i * n + j] = v / s; full[(r * n + i) * w * n + r * n + j] = v / s; });
    }
    inp.targetProbs = { data: c.dtype === 'float32' ? p.map(Math.fround) : p, shape: [n, n] };
  });
  const data = c.dtype === 'float32' ? Float32Array.from(full, (v, i) => {
    const [row, col] = [Math.floor(i / (w * n)), i % (w * n)];
    const r = Math.floor(row / n);
    return Math.floor(col / n) === r ? Math.fround(v) : 0;
  }) : full;
  return pl.Tensor.from(data, [w * n, w * n]);
}

describe('npairsLoss under a group equals one process on the concatenated batch', () => {
  for (const c of npairsCases) {
    test(`W = ${c.w}, N = ${c.n}, ${c.dtype}, ${c.async ? 'async' : 'sync'}, ${JSON.stringify(c.options)}${c.targets ? `, ${c.targets} targets` : ''}`, async () => {
      const inputs = makeInputs(c.w, c.n, c.d, 1000 + c.w * 10 + c.n, c.dtype);
      const refOptions = { ...c.options } as pl.NpairsOptions;
      if (c.targets) refOptions.target = targetsFor(c, inputs as unknown as Record<string, unknown>[]);
      const results = resultsOf(await runGroup(Array(c.w).fill('node'), {
        scenario: 'loss', loss: 'npairs', dtype: c.dtype, async: c.async, options: c.options, inputs, repeat: 2,
      }));
      const ref = pl.npairsLoss(concat(inputs.map((i) => i.a), c.dtype), concat(inputs.map((i) => i.b), c.dtype), refOptions);
      results.forEach((r, rank) => {
        expectClose([r.loss], [ref.loss], c.dtype, `rank ${rank} loss`);
        expectClose([r.gradTemperature], [ref.gradTemperature!], c.dtype, `rank ${rank} gradTemperature`);
        expect(r.grad1.shape).toEqual([c.n, c.d]);
        expectClose(r.grad1.data, rowsOf(ref.grad1, rank * c.n, c.n), c.dtype, `rank ${rank} grad1`);
        expectClose(r.grad2.data, rowsOf(ref.grad2, rank * c.n, c.n), c.dtype, `rank ${rank} grad2`);
      });
      // the same loss on every rank, to the bit
      expect(new Set(results.map((r) => r.loss)).size).toBe(1);
    });
  }

  test("localLoss without gatherWithGrad is open_clip's cheap gradient: each rank's rows only", async () => {
    const [w, n, d, dtype] = [2, 3, 4, 'float64' as DType];
    const inputs = makeInputs(w, n, d, 77, dtype);
    const options = { temperature: 0.3, localLoss: true, gatherWithGrad: false };
    const results = resultsOf(await runGroup(Array(w).fill('node'), { scenario: 'loss', loss: 'npairs', dtype, options, inputs }));
    const all2 = concat(inputs.map((i) => i.b), dtype);
    const local = inputs.map((inp, r) => pl.npairsLoss(concat([inp.a], dtype), all2,
      { temperature: 0.3, target: Int32Array.from([...Array(n).keys()].map((i) => i + r * n)) }));
    const global = pl.npairsLoss(concat(inputs.map((i) => i.a), dtype), all2, { temperature: 0.3 });
    results.forEach((r, rank) => {
      // the loss is still the global one
      expectClose([r.loss], [global.loss], dtype, 'loss');
      // rank r's share L_r / W, through its own rows only (x2 takes no part as rows without symmetric)
      expectClose(r.grad1.data, Array.from(local[rank].grad1!.data()).map((v) => v / w), dtype, 'grad1');
      expect(r.grad2.data.every((v: number) => v === 0)).toBe(true);
    });
  });
});

// The group's local computation is the one of W = 1: with every matrix sent
// over row blocks (PAIRLOSS_CHUNK_BYTES=0 in the ranks), each rank runs the
// chunked kernels on its rows against the gathered columns, and the numbers
// are still those of one process on the concatenated batch.
describe('npairsLoss under a group runs the W = 1 kernels on the gathered batch', () => {
  const cases: NpairsCase[] = [
    { w: 2, n: 5, d: 4, dtype: 'float64', async: false, options: { symmetric: true, temperature: 0.2, labelSmoothing: 0.1 } },
    { w: 2, n: 4, d: 3, dtype: 'float32', async: true, options: { localLoss: false, symmetric: true, l2Reg: 0.01 } },
    { w: 2, n: 3, d: 4, dtype: 'float64', async: false, options: { temperature: 0.5, reduction: 'sum' }, targets: 'probs' },
  ];
  for (const c of cases) {
    test(`W = ${c.w}, N = ${c.n}, ${c.dtype}, ${JSON.stringify(c.options)}${c.targets ? `, ${c.targets} targets` : ''}`, async () => {
      const inputs = makeInputs(c.w, c.n, c.d, 3000 + c.n, c.dtype);
      const refOptions = { ...c.options } as pl.NpairsOptions;
      if (c.targets) refOptions.target = targetsFor(c, inputs as unknown as Record<string, unknown>[]);
      const saved = process.env.PAIRLOSS_CHUNK_BYTES;
      process.env.PAIRLOSS_CHUNK_BYTES = '0';
      let results;
      try {
        results = resultsOf(await runGroup(Array(c.w).fill('node'), {
          scenario: 'loss', loss: 'npairs', dtype: c.dtype, async: c.async, options: c.options, inputs,
        }));
      } finally {
        if (saved === undefined) delete process.env.PAIRLOSS_CHUNK_BYTES; else process.env.PAIRLOSS_CHUNK_BYTES = saved;
      }
      const ref = pl.npairsLoss(concat(inputs.map((i) => i.a), c.dtype), concat(inputs.map((i) => i.b), c.dtype), refOptions);
      results.forEach((r, rank) => {
        expect(r.chunkedCalls).toBeGreaterThan(0);
        expectClose([r.loss], [ref.loss], c.dtype, `rank ${rank} loss`);
        expectClose([r.gradTemperature], [ref.gradTemperature!], c.dtype, `rank ${rank} gradTemperature`);
        expectClose(r.grad1.data, rowsOf(ref.grad1, rank * c.n, c.n), c.dtype, `rank ${rank} grad1`);
        expectClose(r.grad2.data, rowsOf(ref.grad2, rank * c.n, c.n), c.dtype, `rank ${rank} grad2`);
      });
    });
  }
});

// SupCon (npairsLoss's labels) and NT-Xent: positives and negatives among
// every rank's rows, equal to one process on the concatenated batch.
describe('SupCon and NT-Xent under a group equal one process on the concatenated batch', () => {
  const labelsFor = (w: number, n: number, seed: number): number[][] =>
    [...Array(w).keys()].map((r) => randn(seed + r, n).map((v) => Math.floor(Math.abs(v) * 2) % 3));
  const supconCases: (NpairsCase & { same: boolean; chunked?: boolean })[] = [
    { w: 2, n: 4, d: 3, dtype: 'float64', async: true, options: { temperature: 0.2 }, same: true },
    { w: 3, n: 3, d: 4, dtype: 'float32', async: false, options: { temperature: 0.1 }, same: true },
    { w: 2, n: 3, d: 4, dtype: 'float64', async: true, options: { temperature: 0.5, localLoss: false }, same: true },
    { w: 2, n: 4, d: 3, dtype: 'float64', async: false, options: { temperature: 0.2 }, same: true, chunked: true },
    // Sohn's 'dot' similarity: the autograd reference path, dropping each row's own view under the group
    { w: 2, n: 3, d: 4, dtype: 'float64', async: true, options: { similarity: 'dot', temperature: 4 }, same: true },
    { w: 2, n: 3, d: 4, dtype: 'float64', async: false, options: { similarity: 'dot', temperature: 4, localLoss: false }, same: true },
    { w: 3, n: 3, d: 3, dtype: 'float64', async: true, options: { symmetric: true, temperature: 0.3 }, same: false },
    { w: 2, n: 4, d: 5, dtype: 'float32', async: true, options: { temperature: 0.3 }, same: false },
  ];
  for (const c of supconCases) {
    test(`SupCon W = ${c.w}, N = ${c.n}, ${c.dtype}, ${c.same ? 'over all views (excludeSelf)' : 'x1 vs x2'}${c.chunked ? ', row blocks' : ''}, ${JSON.stringify(c.options)}`, async () => {
      const inputs = makeInputs(c.w, c.n, c.d, 4000 + c.w * 10 + c.n, c.dtype);
      const labels = labelsFor(c.w, c.n, 4100 + c.n);
      inputs.forEach((inp, r) => { (inp as unknown as Record<string, unknown>).labels = labels[r]; });
      const options = { ...c.options, ...(c.same ? { excludeSelf: true } : {}) };
      const saved = process.env.PAIRLOSS_CHUNK_BYTES;
      if (c.chunked) process.env.PAIRLOSS_CHUNK_BYTES = '0';
      let results;
      try {
        results = resultsOf(await runGroup(Array(c.w).fill('node'), {
          scenario: 'loss', loss: 'npairs', dtype: c.dtype, async: c.async, options, inputs, sameViews: c.same,
        }));
      } finally {
        if (saved === undefined) delete process.env.PAIRLOSS_CHUNK_BYTES; else process.env.PAIRLOSS_CHUNK_BYTES = saved;
      }
      const all1 = concat(inputs.map((i) => i.a), c.dtype);
      const all2 = c.same ? all1 : concat(inputs.map((i) => i.b), c.dtype);
      const ref = pl.npairsLoss(all1, all2, { ...options, labels: labels.flat() } as pl.NpairsOptions);
      results.forEach((r, rank) => {
        if (c.chunked) expect(r.chunkedCalls).toBeGreaterThan(0);
        expectClose([r.loss], [ref.loss], c.dtype, `rank ${rank} loss`);
        expectClose([r.gradTemperature], [ref.gradTemperature!], c.dtype, `rank ${rank} gradTemperature`);
        if (c.same) {
          // z is x1 and x2: its gradient is grad1 + grad2, on every side
          const ours = r.grad1.data.map((v: number, k: number) => v + r.grad2.data[k]);
          const g1 = rowsOf(ref.grad1, rank * c.n, c.n), g2 = rowsOf(ref.grad2, rank * c.n, c.n);
          expectClose(ours, g1.map((v, k) => v + g2[k]), c.dtype, `rank ${rank} gradient`);
        } else {
          expectClose(r.grad1.data, rowsOf(ref.grad1, rank * c.n, c.n), c.dtype, `rank ${rank} grad1`);
          expectClose(r.grad2.data, rowsOf(ref.grad2, rank * c.n, c.n), c.dtype, `rank ${rank} grad2`);
        }
      });
      expect(new Set(results.map((r) => r.loss)).size).toBe(1);
    });
  }

  const ntxentCases: { w: number; n: number; d: number; dtype: DType; async: boolean; bank: boolean }[] = [
    { w: 2, n: 3, d: 4, dtype: 'float64', async: true, bank: false },
    { w: 3, n: 2, d: 5, dtype: 'float32', async: false, bank: false },
    { w: 4, n: 1, d: 3, dtype: 'float64', async: true, bank: false },
    { w: 2, n: 3, d: 4, dtype: 'float64', async: false, bank: true },
  ];
  for (const c of ntxentCases) {
    test(`NT-Xent W = ${c.w}, N = ${c.n}, ${c.dtype}, ${c.async ? 'async' : 'sync'}${c.bank ? ', memory bank' : ''}`, async () => {
      const inputs = makeInputs(c.w, c.n, c.d, 5000 + c.w * 10 + c.n, c.dtype);
      const bank = makeInputs(1, 5, c.d, 5900, c.dtype)[0].a;
      if (c.bank) inputs.forEach((inp) => { (inp as unknown as Record<string, unknown>).negatives = bank; });
      const options = { temperature: 0.3 };
      const results = resultsOf(await runGroup(Array(c.w).fill('node'), {
        scenario: 'loss', loss: 'ntxent', dtype: c.dtype, async: c.async, options, inputs,
      }));
      const ref = pl.ntXentLoss(concat(inputs.map((i) => i.a), c.dtype), concat(inputs.map((i) => i.b), c.dtype),
        { ...options, ...(c.bank ? { negatives: concat([bank], c.dtype) } : {}) });
      results.forEach((r, rank) => {
        expectClose([r.loss], [ref.loss], c.dtype, `rank ${rank} loss`);
        expectClose([r.gradTemperature], [ref.gradTemperature!], c.dtype, `rank ${rank} gradTemperature`);
        expectClose(r.grad1.data, rowsOf(ref.grad1, rank * c.n, c.n), c.dtype, `rank ${rank} grad1`);
        expectClose(r.grad2.data, rowsOf(ref.grad2, rank * c.n, c.n), c.dtype, `rank ${rank} grad2`);
      });
    });
  }
});

// SigLIP's neighbour exchange: x2 around the ring, no all-gather; the same
// loss and gradients as one process on the concatenated batch.
describe('sigmoidLoss under a group (the ring) equals one process on the concatenated batch', () => {
  const cases: { w: number; n: number; d: number; dtype: DType; async: boolean; options: Record<string, unknown>; target?: boolean; fused?: boolean; chunked?: boolean }[] = [
    { w: 2, n: 3, d: 4, dtype: 'float64', async: true, options: {} },
    { w: 3, n: 4, d: 3, dtype: 'float32', async: false, options: { scale: 5, bias: -2 } },
    { w: 4, n: 2, d: 5, dtype: 'float64', async: true, options: { scale: 12, bias: -8 } },
    { w: 4, n: 3, d: 4, dtype: 'float32', async: true, options: {} },
    { w: 3, n: 3, d: 4, dtype: 'float64', async: false, options: { scale: 2, bias: 0.5 }, target: true },
    // each ring block in row slices of 2 (the block too large to hold: PAIRLOSS_CHUNK_BYTES=0)
    { w: 2, n: 5, d: 4, dtype: 'float64', async: true, options: { scale: 3, bias: -1 }, chunked: true },
    { w: 3, n: 3, d: 4, dtype: 'float32', async: false, options: {}, chunked: true },
    { w: 2, n: 5, d: 3, dtype: 'float64', async: false, options: { scale: 2, bias: 0.5 }, target: true, chunked: true },
  ];
  for (const c of cases) {
    test(`W = ${c.w}, N = ${c.n}, ${c.dtype}, ${c.async ? 'async' : 'sync'}, ${JSON.stringify(c.options)}${c.target ? ', per-rank labels' : ''}${c.chunked ? ', row slices of 2' : ''}`, async () => {
      const inputs = makeInputs(c.w, c.n, c.d, 6000 + c.w * 10 + c.n, c.dtype);
      const refOptions = { ...c.options } as pl.SigmoidOptions;
      if (c.target) {
        // each rank labels its own block; the other ranks' columns are negatives
        const wn = c.w * c.n, full = new Float64Array(wn * wn).fill(-1);
        inputs.forEach((inp, r) => {
          const y = randn(6500 + r, c.n * c.n).map((v) => (v > 0 ? 1 : -1));
          (inp as unknown as Record<string, unknown>).targetProbs = { data: y, shape: [c.n, c.n] };
          for (let i = 0; i < c.n; i++) for (let j = 0; j < c.n; j++) full[(r * c.n + i) * wn + r * c.n + j] = y[i * c.n + j];
        });
        refOptions.target = pl.Tensor.from(c.dtype === 'float64' ? full : Float32Array.from(full), [wn, wn]);
      }
      const saved = [process.env.PAIRLOSS_CHUNK_BYTES, process.env.PAIRLOSS_CHUNK_ROWS];
      if (c.chunked) Object.assign(process.env, { PAIRLOSS_CHUNK_BYTES: '0', PAIRLOSS_CHUNK_ROWS: '2' });
      let results;
      try {
        results = resultsOf(await runGroup(Array(c.w).fill('node'), {
          scenario: 'loss', loss: 'siglip', dtype: c.dtype, async: c.async, options: c.options, inputs,
        }));
      } finally {
        ['PAIRLOSS_CHUNK_BYTES', 'PAIRLOSS_CHUNK_ROWS'].forEach((k, i) => {
          if (saved[i] === undefined) delete process.env[k]; else process.env[k] = saved[i];
        });
      }
      const ref = pl.sigmoidLoss(concat(inputs.map((i) => i.a), c.dtype), concat(inputs.map((i) => i.b), c.dtype), refOptions);
      results.forEach((r, rank) => {
        expectClose([r.loss], [ref.loss], c.dtype, `rank ${rank} loss`);
        expectClose([r.gradScale, r.gradBias], [ref.gradScale as number, ref.gradBias as number], c.dtype, `rank ${rank} gradScale, gradBias`);
        expectClose(r.grad1.data, rowsOf(ref.grad1, rank * c.n, c.n), c.dtype, `rank ${rank} grad1`);
        expectClose(r.grad2.data, rowsOf(ref.grad2, rank * c.n, c.n), c.dtype, `rank ${rank} grad2`);
        // one count per ring block sliced (W blocks), none without slicing
        expect(r.chunkedCalls).toBe(c.chunked ? c.w : 0);
      });
      expect(new Set(results.map((r) => r.loss)).size).toBe(1);
    });
  }
});

describe('the new losses refuse ranks that disagree on the shapes: a RangeError on every rank, and the group goes on', () => {
  test.each(['siglip', 'vicreg', 'ntxent'])('%s', async (loss) => {
    const inputs = [...makeInputs(1, 3, 4, 8100, 'float64'), ...makeInputs(1, 5, 4, 8200, 'float64')];
    const results = resultsOf(await runGroup(['node', 'node'], { scenario: 'lossMismatch', loss, dtype: 'float64', inputs }));
    results.forEach((r) => {
      expect(r.error).toMatchObject({ name: 'RangeError', message: expect.stringMatching(/the ranks disagree on this collective/) });
      expect(r.after.data).toEqual([3]);
    });
  });
});

describe('vicregLoss under a group equals one process on the concatenated batch', () => {
  const cases: { w: number; n: number; d: number; dtype: DType; async: boolean }[] = [
    { w: 2, n: 4, d: 3, dtype: 'float64', async: true },
    { w: 3, n: 3, d: 5, dtype: 'float32', async: false },
    { w: 2, n: 1, d: 4, dtype: 'float64', async: true }, // one row per rank: only the global batch has a variance
  ];
  for (const c of cases) {
    test(`W = ${c.w}, N = ${c.n}, D = ${c.d}, ${c.dtype}, ${c.async ? 'async' : 'sync'}`, async () => {
      const inputs = makeInputs(c.w, c.n, c.d, 7000 + c.w * 10 + c.n, c.dtype);
      const results = resultsOf(await runGroup(Array(c.w).fill('node'), {
        scenario: 'loss', loss: 'vicreg', dtype: c.dtype, async: c.async, options: {}, inputs,
      }));
      const ref = pl.vicregLoss(concat(inputs.map((i) => i.a), c.dtype), concat(inputs.map((i) => i.b), c.dtype));
      results.forEach((r, rank) => {
        expectClose([r.loss, ...r.terms], [ref.loss, ref.invariance, ref.variance, ref.covariance], c.dtype, `rank ${rank} loss and terms`);
        expectClose(r.grad1.data, rowsOf(ref.grad1, rank * c.n, c.n), c.dtype, `rank ${rank} grad1`);
        expectClose(r.grad2.data, rowsOf(ref.grad2, rank * c.n, c.n), c.dtype, `rank ${rank} grad2`);
      });
    });
  }
});

describe('correlationLoss with syncBatchNorm equals one process on the concatenated batch', () => {
  const cases: { w: number; n: number; d: number; dtype: DType; async: boolean; options: Record<string, unknown> }[] = [
    { w: 2, n: 4, d: 3, dtype: 'float64', async: true, options: {} },
    { w: 4, n: 3, d: 4, dtype: 'float32', async: false, options: { lambda: 0.01, scale: 1 } },
    { w: 4, n: 1, d: 3, dtype: 'float64', async: true, options: {} }, // one row per rank: only the global batch has statistics
  ];
  for (const c of cases) {
    test(`W = ${c.w}, N = ${c.n}, D = ${c.d}, ${c.dtype}, ${c.async ? 'async' : 'sync'}`, async () => {
      const inputs = makeInputs(c.w, c.n, c.d, 500 + c.w + c.n, c.dtype);
      const options = { ...c.options, mode: 'features', syncBatchNorm: true };
      const results = resultsOf(await runGroup(Array(c.w).fill('node'), {
        scenario: 'loss', loss: 'correlation', dtype: c.dtype, async: c.async, options, inputs,
      }));
      const ref = pl.correlationLoss(concat(inputs.map((i) => i.a), c.dtype), concat(inputs.map((i) => i.b), c.dtype),
        { ...c.options, mode: 'features' } as pl.CorrelationOptions);
      results.forEach((r, rank) => {
        expectClose([r.loss], [ref.loss], c.dtype, `rank ${rank} loss`);
        expectClose(r.grad1.data, rowsOf(ref.grad1, rank * c.n, c.n), c.dtype, `rank ${rank} grad1`);
        expectClose(r.grad2.data, rowsOf(ref.grad2, rank * c.n, c.n), c.dtype, `rank ${rank} grad2`);
      });
    });
  }
});
