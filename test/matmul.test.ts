// matmul with BLAS's transpose flags and `out`, sync and async, against
// PyTorch's a @ b, a.T @ b and a @ b.T on the same inputs (scripts/oracle.py).
import * as pl from '../lib';
import { setInlineMaxWork } from '../lib/queue';
import { residentCpu } from '../lib/tensor';
import { Case, mismatches, oracle } from './helpers/parity';
// eslint-disable-next-line @typescript-eslint/no-var-requires
const { rng, matrix } = require('./helpers/cases.js');

const r = rng(2020);
type Flags = { transposeA?: boolean; transposeB?: boolean };

function makeCases(): Case[] {
  const cases: Case[] = [];
  for (const dtype of ['float32', 'float64'] as const) {
    // [N, K, M]: the trainer's 512×2048×64 scaled down, vectors, K = 1, a zero-row result
    for (const [n, k, m] of [[7, 5, 3], [64, 96, 16], [1, 9, 4], [6, 1, 5], [5, 8, 1], [0, 4, 3], [3, 0, 2]]) {
      for (const flags of [{}, { transposeA: true }, { transposeB: true }, { transposeA: true, transposeB: true }] as Flags[]) {
        const a = flags.transposeA ? matrix(r, k, n, dtype) : matrix(r, n, k, dtype);
        const b = flags.transposeB ? matrix(r, m, k, dtype) : matrix(r, k, m, dtype);
        cases.push({ name: `[${n}, ${k}] x [${k}, ${m}] ${JSON.stringify(flags)} ${dtype}`, op: 'matmul', dtype, inputs: { a, b }, options: flags });
      }
    }
  }
  return cases;
}

const cases = makeCases();
let reference: ReturnType<typeof oracle>;
beforeAll(() => {
  reference = oracle(cases);
});

const typed = (c: Case, key: string): Float32Array | Float64Array =>
  c.dtype === 'float64' ? Float64Array.from(c.inputs[key].data) : Float32Array.from(c.inputs[key].data);
const input = (c: Case, key: string): pl.Tensor => pl.Tensor.from(typed(c, key), c.inputs[key].shape);
const result = (t: pl.Tensor) => ({ out: { data: t.data(), shape: t.shape } });

describe('matmul: parity with PyTorch (a @ b, a.T @ b, a @ b.T)', () => {
  it.each(cases.map((c, i) => [c.name, i] as const))('%s', async (_name, i) => {
    const c = cases[i];
    const opts = c.options as Flags;
    expect(mismatches(result(pl.matmul(input(c, 'a'), input(c, 'b'), opts)), reference.results[i], c.dtype)).toEqual([]);
    // into out: the same numbers, in out's memory
    const [n, m] = (reference.results[i].out as { shape: readonly number[] }).shape;
    const out = c.dtype === 'float64' ? new Float64Array(n * m).fill(NaN) : new Float32Array(n * m).fill(NaN);
    const t = pl.matmul(input(c, 'a'), input(c, 'b'), { ...opts, out });
    expect(t.data()).toBe(out);
    expect(t.shape).toEqual([n, m]);
    expect(mismatches(result(t), reference.results[i], c.dtype)).toEqual([]);
    // async: inline and on the pool
    for (const inline of [undefined, 0]) {
      setInlineMaxWork(inline);
      try {
        const a = await pl.matmulAsync(input(c, 'a'), input(c, 'b'), opts);
        expect(mismatches(result(a), reference.results[i], c.dtype)).toEqual([]);
        const out2 = c.dtype === 'float64' ? new Float64Array(n * m) : new Float32Array(n * m);
        const b = await pl.matmulAsync(input(c, 'a'), input(c, 'b'), { ...opts, out: out2 });
        expect(b.data()).toBe(out2);
        expect(mismatches(result(b), reference.results[i], c.dtype)).toEqual([]);
      } finally {
        setInlineMaxWork(undefined);
      }
    }
  });
});

describe('matmul: out', () => {
  const a = pl.tensor([[1, 2, 3], [4, 5, 6]]);
  const b = pl.tensor([[1, 0], [0, 1], [1, 1]]);
  it('a Tensor of the result shape is returned as is; any shape with the element count works', () => {
    const out = pl.Tensor.from(new Float32Array(4), [2, 2]);
    expect(pl.matmul(a, b, { out })).toBe(out);
    expect(Array.from(out.data())).toEqual([4, 5, 10, 11]);
    const flat = pl.Tensor.from(new Float32Array(4), [4]);
    const t = pl.matmul(a, b, { out: flat });
    expect(t.shape).toEqual([2, 2]);
    expect(t.data()).toBe(flat.data());
  });
  it('steady state: the same buffer every call, overwritten', () => {
    const out = new Float32Array(4).fill(7);
    for (let i = 0; i < 3; i++) pl.matmul(a, b, { out });
    expect(Array.from(out)).toEqual([4, 5, 10, 11]);
  });
  it('a view into a larger buffer next to the inputs, not overlapping them', () => {
    const buffer = new Float32Array(6 + 6 + 4);
    buffer.set([1, 2, 3, 4, 5, 6], 0);
    buffer.set([1, 0, 0, 1, 1, 1], 6);
    const out = buffer.subarray(12, 16);
    pl.matmul({ data: buffer.subarray(0, 6), shape: [2, 3] }, { data: buffer.subarray(6, 12), shape: [3, 2] }, { out });
    expect(Array.from(out)).toEqual([4, 5, 10, 11]);
  });
  it('wrong size, dtype, type or overlap: errors naming out, nothing written', () => {
    expect(() => pl.matmul(a, b, { out: new Float32Array(5) })).toThrow(RangeError);
    expect(() => pl.matmul(a, b, { out: new Float32Array(5) })).toThrow(/^out: must have exactly 4 elements/);
    expect(() => pl.matmul(a, b, { out: new Float64Array(4) })).toThrow(/^out: must have the inputs' dtype \(float32\), got float64/);
    expect(() => pl.matmul(a, b, { out: new Float64Array(4) })).toThrow(RangeError);
    expect(() => pl.matmul(a, b, { out: [0, 0, 0, 0] as unknown as Float32Array })).toThrow(TypeError);
    expect(() => pl.matmul(a, b, { out: new Int32Array(4) as unknown as Float32Array })).toThrow(/for out/);
    const buffer = new Float32Array(10);
    buffer.set([1, 2, 3, 4, 5, 6]);
    const x = { data: buffer.subarray(0, 6), shape: [2, 3] };
    const y = { data: buffer.subarray(0, 6), shape: [3, 2] };
    expect(() => pl.matmul(x, y, { out: buffer.subarray(5, 9) })).toThrow(/^out: overlaps the memory of a/);
    expect(() => pl.matmul(a, y, { out: buffer.subarray(2, 6) })).toThrow(/^out: overlaps the memory of b/);
    expect(Array.from(buffer)).toEqual([1, 2, 3, 4, 5, 6, 0, 0, 0, 0]);
    // the input itself as out
    const sq = pl.Tensor.from(Float32Array.of(1, 2, 3, 4), [2, 2]);
    expect(() => pl.matmul(sq, sq, { out: sq })).toThrow(RangeError);
    const disposed = pl.Tensor.from(new Float32Array(4), [2, 2]);
    disposed.dispose();
    expect(() => pl.matmul(a, b, { out: disposed })).toThrow(/^out: the tensor has been disposed/);
  });
  it('async rejects with the same errors', async () => {
    await expect(pl.matmulAsync(a, b, { out: new Float32Array(3) })).rejects.toThrow(/^out: must have exactly 4 elements/);
    await expect(pl.matmulAsync(a, b, { out: new Float64Array(4) })).rejects.toThrow(RangeError);
  });
  it('async on the pool: an out transferred while the call runs is a RangeError when it is done, never a write into it', async () => {
    setInlineMaxWork(0);
    try {
      const out = new Float32Array(4);
      const pending = pl.matmulAsync(a, b, { out });
      structuredClone(out.buffer, { transfer: [out.buffer] });
      expect(out.length).toBe(0);
      await expect(pending).rejects.toThrow(/out.*detached/);
    } finally {
      setInlineMaxWork(undefined);
    }
  });
  it('native code refuses an overlap lib did not see (the binding called directly)', () => {
    // eslint-disable-next-line @typescript-eslint/no-var-requires
    const { binding } = require('../lib/binding');
    const buffer = new Float32Array(8).fill(1);
    const x = { data: buffer.subarray(0, 4), shape: [2, 2] };
    expect(() => binding().matmul(x, x, { transposeA: false, transposeB: false, out: { data: buffer.subarray(2, 6), shape: [2, 2] }, device: 'cpu' }, false))
      .toThrow(/out overlaps an input's memory/);
  });
});

describe('matmul: inputs held natively (the internal resident CPU mode, as CUDA tensors are held)', () => {
  it('a resident result equal to the typed-array one, sync and async on the pool', async () => {
    const a = pl.tensor([[1, 2, 3], [4, 5, 6]]);
    const b = pl.tensor([[1, 0], [2, 1]]);
    const expected = Array.from(pl.matmul(a, b, { transposeA: true }).data());
    const ra = residentCpu(a), rb = residentCpu(b);
    const sync = pl.matmul(ra, rb, { transposeA: true });
    expect(sync.resident).toBe(true);
    expect(Array.from(sync.data())).toEqual(expected);
    setInlineMaxWork(0);
    try {
      const async = await pl.matmulAsync(ra, rb, { transposeA: true });
      expect(Array.from(async.data())).toEqual(expected);
      const out = new Float32Array(6);
      await pl.matmulAsync(ra, rb, { transposeA: true, out });
      expect(Array.from(out)).toEqual(expected);
    } finally {
      setInlineMaxWork(undefined);
    }
  });
});

describe('matmul: bad arguments', () => {
  const a = pl.tensor([[1, 2, 3], [4, 5, 6]]);
  it('inner sizes that differ name b and the flags', () => {
    expect(() => pl.matmul(a, a)).toThrow(/^b: matmul needs b to have 3 rows/);
    expect(() => pl.matmul(a, pl.tensor([[1, 2, 3]]), { transposeA: true })).toThrow(/^b: matmul needs b to have 2 rows \(a\.T is \[3, 2\]\), got \[1,3\]/);
    expect(pl.matmul(a, a, { transposeA: true }).shape).toEqual([3, 3]);
    expect(() => pl.matmul(a, pl.tensor([[1, 2]]), { transposeB: true })).toThrow(/^b: matmul needs b to have 3 columns/);
    expect(pl.matmul(a, a, { transposeB: true }).shape).toEqual([2, 2]);
  });
  it('option types and unknown options', () => {
    expect(() => pl.matmul(a, a, { transposeA: 1 as unknown as boolean })).toThrow(TypeError);
    expect(() => pl.matmul(a, a, { transposeA: 1 as unknown as boolean })).toThrow(/for transposeA/);
    expect(() => pl.matmul(a, a, { tranposeB: true } as pl.MatmulOptions)).toThrow(/Unknown option 'tranposeB'/);
  });
  it('mixed dtypes: TypeError', async () => {
    expect(() => pl.matmul(a, pl.Tensor.from(new Float64Array(6), [3, 2]))).toThrow(TypeError);
    await expect(pl.matmulAsync(a, pl.Tensor.from(new Float64Array(6), [3, 2]))).rejects.toThrow(TypeError);
  });
});
