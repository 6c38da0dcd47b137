// CSR inputs: csrTensor (checked once, copied natively) and sparseMatmul
// (csr · b and csrᵀ · b), sync and async, against torch.sparse.mm, the dense
// product and F.embedding_bag in PyTorch on the same inputs (scripts/oracle.py).
import * as pl from '../lib';
import { binding } from '../lib/binding';
import { callNative } from '../lib/errors';
import { setInlineMaxWork } from '../lib/queue';
import { Case, mismatches, oracle } from './helpers/parity';
// eslint-disable-next-line @typescript-eslint/no-var-requires
const { rng, matrix } = require('./helpers/cases.js');

const r = rng(4096);

interface Csr { indptr: number[]; indices: number[]; shape: [number, number] }

/** A random CSR pattern: up to `perRow` entries a row (some rows empty), columns unsorted, some repeated. */
function pattern(n: number, f: number, perRow: number, repeats = true): Csr {
  const indptr = [0];
  const indices: number[] = [];
  for (let i = 0; i < n; i++) {
    const count = f === 0 ? 0 : Math.floor(r() * (perRow + 1));
    for (let k = 0; k < count; k++) {
      const repeat = repeats && k > 0 && r() < 0.2;
      indices.push(repeat ? indices[indices.length - 1] : Math.floor(r() * f));
    }
    indptr.push(indices.length);
  }
  return { indptr, indices, shape: [n, f] };
}

function makeCases(): Case[] {
  const cases: Case[] = [];
  for (const dtype of ['float32', 'float64'] as const) {
    const shapes: [string, Csr, number][] = [
      ['small', pattern(9, 12, 4), 5],
      ['the trainer scaled down: 64 rows, F = 512, ~30 nnz, D = 64', pattern(64, 512, 60), 64],
      ['every row empty', { indptr: [0, 0, 0, 0], indices: [], shape: [3, 5] }, 4],
      ['N = 0', { indptr: [0], indices: [], shape: [0, 6] }, 3],
      ['F = 1', pattern(7, 1, 3), 4],
      ['F = 0', { indptr: [0, 0, 0], indices: [], shape: [2, 0] }, 3],
      ['D = 1', pattern(8, 10, 4), 1],
      ['D = 70: register blocks of the kernel and a tail', pattern(12, 40, 8), 70],
      ['D = 13: one vector and a tail', pattern(10, 30, 6), 13],
      ['a column repeated in one row (summed)', { indptr: [0, 3, 4], indices: [2, 2, 0, 2], shape: [2, 3] }, 2],
      ['one row, one entry', { indptr: [0, 1], indices: [0], shape: [1, 1] }, 1],
    ];
    for (const [label, csr, d] of shapes) {
      for (const transposeA of [false, true]) {
        const nnz = csr.indices.length;
        const b = transposeA ? matrix(r, csr.shape[0], d, dtype) : matrix(r, csr.shape[1], d, dtype);
        cases.push({ name: `${label} ${transposeA ? 'csrᵀ · g' : 'csr · b'} ${dtype}`, op: 'sparse_mm', dtype,
          inputs: { values: matrix(r, 1, nnz, dtype), b }, options: { ...csr, transposeA } });
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

const floats = (dtype: string, data: number[]): Float32Array | Float64Array => (dtype === 'float64' ? Float64Array.from(data) : Float32Array.from(data));
function csrOf(c: Case, index: 'int32' | 'int64' | 'number[]' = 'int32'): pl.CsrLike {
  const o = c.options as unknown as Csr;
  const ix = (v: number[]) => (index === 'int32' ? Int32Array.from(v) : index === 'int64' ? BigInt64Array.from(v.map(BigInt)) : [...v]);
  return { indptr: ix(o.indptr), indices: ix(o.indices), values: floats(c.dtype, c.inputs.values.data), shape: o.shape };
}
const bOf = (c: Case): pl.Tensor => pl.Tensor.from(floats(c.dtype, c.inputs.b.data), c.inputs.b.shape);
/** Ours under every key the reference has (the one result compared with each of torch's ways). */
const asResult = (t: pl.Tensor, ref: Record<string, unknown>) =>
  Object.fromEntries(Object.keys(ref).map((k) => [k, { data: t.data(), shape: t.shape }]));

describe('sparseMatmul: parity with torch.sparse.mm, the dense product and F.embedding_bag', () => {
  it.each(cases.map((c, i) => [c.name, i] as const))('%s', async (_name, i) => {
    const c = cases[i];
    // float32: torch.sparse.mm and embedding_bag (the ops mirrored, which sum
    // each row's entries in order, as ours); the dense BLAS product sums in
    // blocks, another rounding where a row's terms cancel, so it is compared
    // in float64 only
    const ref = Object.fromEntries(Object.entries(reference.results[i]).filter(([k]) => c.dtype === 'float64' || k !== 'dense'));
    const transposeA = (c.options as { transposeA: boolean }).transposeA;
    expect(Object.keys(ref)).toContain('out');
    const csr = pl.csrTensor(csrOf(c));
    const check = (t: pl.Tensor) => expect(mismatches(asResult(t, ref), ref, c.dtype)).toEqual([]);
    check(pl.sparseMatmul(csr, bOf(c), { transposeA }));
    // a plain CSR object, checked per call, with each index type
    for (const index of ['int32', 'int64', 'number[]'] as const) check(pl.sparseMatmul(csrOf(c, index), bOf(c), { transposeA }));
    // into out
    const [rows, cols] = (ref.out as { shape: readonly number[] }).shape;
    const out = floats(c.dtype, new Array(rows * cols).fill(NaN));
    const t = pl.sparseMatmul(csr, bOf(c), { transposeA, out });
    expect(t.data()).toBe(out);
    check(t);
    // async: inline and on the pool, CsrTensor and plain object, with and without out
    for (const inline of [undefined, 0]) {
      setInlineMaxWork(inline);
      try {
        check(await pl.sparseMatmulAsync(csr, bOf(c), { transposeA }));
        check(await pl.sparseMatmulAsync(csrOf(c), bOf(c), { transposeA }));
        const out2 = floats(c.dtype, new Array(rows * cols).fill(NaN));
        const a = await pl.sparseMatmulAsync(csr, bOf(c), { transposeA, out: out2 });
        expect(a.data()).toBe(out2);
        check(a);
      } finally {
        setInlineMaxWork(undefined);
      }
    }
  });
});

describe('steady state: with out, no result memory is made', () => {
  it('sparseMatmul both ways and matmul into out: no external buffer or handle per call (one per call without out)', () => {
    const csr = pattern(40, 30, 6);
    const x = pl.csrTensor({ indptr: Int32Array.from(csr.indptr), indices: Int32Array.from(csr.indices),
      values: Float32Array.from(matrix(r, 1, csr.indices.length, 'float32').data), shape: csr.shape });
    const w = pl.Tensor.from(Float32Array.from(matrix(r, 30, 16, 'float32').data), [30, 16]);
    const g = pl.Tensor.from(Float32Array.from(matrix(r, 40, 16, 'float32').data), [40, 16]);
    const h = new Float32Array(40 * 16), gw = new Float32Array(30 * 16), hw = new Float32Array(40 * 30);
    const made = () => {
      const m = pl.memoryStats();
      return m.externalBuffers + m.handles;
    };
    const step = () => {
      pl.sparseMatmul(x, w, { out: h });
      pl.sparseMatmul(x, g, { transposeA: true, out: gw });
      pl.matmul(pl.Tensor.from(h, [40, 16]), w, { transposeB: true, out: hw });
    };
    const before = made();
    for (let i = 0; i < 10; i++) step();
    expect(made()).toBe(before);
    pl.sparseMatmul(x, w);
    expect(made()).toBe(before + 1);
  });
});

describe('sparseMatmul: deterministic', () => {
  it('the same bits with 1 and 2 threads, at a size that splits into several tasks', () => {
    const csr = pattern(600, 300, 40);
    const values = Float32Array.from(matrix(r, 1, csr.indices.length, 'float32').data);
    const x = pl.csrTensor({ indptr: Int32Array.from(csr.indptr), indices: Int32Array.from(csr.indices), values, shape: csr.shape });
    const w = pl.Tensor.from(Float32Array.from(matrix(r, 300, 64, 'float32').data), [300, 64]);
    const g = pl.Tensor.from(Float32Array.from(matrix(r, 600, 64, 'float32').data), [600, 64]);
    const before = pl.getNumThreads();
    try {
      const runs = [1, 2].map((n) => {
        pl.setNumThreads(n);
        return [pl.sparseMatmul(x, w).data(), pl.sparseMatmul(x, g, { transposeA: true }).data()];
      });
      expect(runs[1][0]).toEqual(runs[0][0]);
      expect(runs[1][1]).toEqual(runs[0][1]);
    } finally {
      pl.setNumThreads(before);
    }
  });
});

describe('csrTensor', () => {
  const base = (): { indptr: Int32Array; indices: Int32Array; values: Float32Array; shape: [number, number] } => ({
    indptr: Int32Array.of(0, 2, 3), indices: Int32Array.of(1, 0, 2), values: Float32Array.of(1, 2, 3), shape: [2, 3],
  });
  const b = pl.tensor([[1, 2], [3, 4], [5, 6]]);

  it('holds a copy: writing to the arrays afterwards changes nothing', () => {
    const parts = base();
    const csr = pl.csrTensor(parts);
    expect(csr.shape).toEqual([2, 3]);
    expect(csr.nnz).toBe(3);
    expect(csr.dtype).toBe('float32');
    const before = Array.from(pl.sparseMatmul(csr, b).data());
    expect(before).toEqual([3 + 2 * 1, 4 + 2 * 2, 15, 18]);
    parts.values.fill(100);
    parts.indices.fill(7); // out of range now: the copy is what counts
    expect(Array.from(pl.sparseMatmul(csr, b).data())).toEqual(before);
  });

  it('arrays over a SharedArrayBuffer: copied, then checked; a later rewrite does not reach the copy', () => {
    const shared = (a: Int32Array) => {
      const s = new Int32Array(new SharedArrayBuffer(a.byteLength));
      s.set(a);
      return s;
    };
    const parts = base();
    const indices = shared(parts.indices);
    const csr = pl.csrTensor({ ...parts, indptr: shared(parts.indptr), indices });
    Atomics.store(indices, 0, 1 << 30);
    expect(Array.from(pl.sparseMatmul(csr, b).data())).toEqual([5, 8, 15, 18]);
    // an out-of-range index in shared memory is refused like any other
    expect(() => pl.csrTensor({ ...parts, indices })).toThrow(/^Expected a column index in \[0, 3\) for csr\.indices\[0\]/);
    // and native code checks its own copy even where lib is bypassed
    expect(() => binding().csrCreate({ ...parts, indices })).toThrow(/indices\[0\] is out of range \[0, 3\)/);
    expect(() => binding().sparseMatmul({ ...parts, indices }, { data: b.data(), shape: [3, 2] }, { transposeA: false, out: null }, false))
      .toThrow(/out of range/);
  });

  it('native code refuses what lib would: each check of the copy (binding called directly)', () => {
    const p = base();
    const bad: [Partial<ReturnType<typeof base>>, RegExp][] = [
      [{ indptr: Int32Array.of(0, 3, 2) }, /indptr must not decrease/],
      [{ indptr: Int32Array.of(1, 2, 3) }, /indptr must start at 0/],
      [{ indptr: Int32Array.of(0, 2, 2) }, /indptr must end at nnz = 3/],
      [{ indptr: Int32Array.of(0, 3) }, /indptr must have rows \+ 1 = 3 entries/],
      [{ indices: Int32Array.of(1, -1, 2) }, /indices\[1\] is out of range/],
      [{ indices: Int32Array.of(1, 0) }, /indices and values must have the same length/],
    ];
    for (const [change, message] of bad) expect(() => binding().csrCreate({ ...p, ...change })).toThrow(message);
  });
});

describe('csrTensor and sparseMatmul: bad arguments', () => {
  const ok = { indptr: Int32Array.of(0, 2, 3), indices: Int32Array.of(1, 0, 2), values: Float32Array.of(1, 2, 3), shape: [2, 3] as [number, number] };
  const b = pl.tensor([[1, 2], [3, 4], [5, 6]]);
  const both = (csr: unknown, error: ErrorConstructor, message: RegExp): void => {
    expect(() => pl.csrTensor(csr as pl.CsrLike)).toThrow(error);
    expect(() => pl.csrTensor(csr as pl.CsrLike)).toThrow(message);
    expect(() => pl.sparseMatmul(csr as pl.CsrLike, b)).toThrow(message);
  };
  it('a decreasing indptr, one that does not start at 0 or end at nnz, or of the wrong length', () => {
    both({ ...ok, indptr: Int32Array.of(0, 3, 2) }, RangeError, /^csr\.indptr: must not decrease: indptr\[2\] = 2 < indptr\[1\] = 3/);
    both({ ...ok, indptr: Int32Array.of(1, 2, 3) }, RangeError, /^csr\.indptr: must start at 0, got 1/);
    both({ ...ok, indptr: Int32Array.of(0, 1, 2) }, RangeError, /^csr\.indptr: must end at nnz = 3/);
    both({ ...ok, indptr: Int32Array.of(0, 3) }, RangeError, /^csr\.indptr: must have N \+ 1 = 3 entries for shape \[2, 3\], got 2/);
    both({ ...ok, indptr: BigInt64Array.of(0n, 3n, 2n) }, RangeError, /must not decrease/);
  });
  it('an index out of range or negative', () => {
    both({ ...ok, indices: Int32Array.of(1, 3, 2) }, RangeError, /^Expected a column index in \[0, 3\) for csr\.indices\[1\] but received 3/);
    both({ ...ok, indices: Int32Array.of(1, -1, 2) }, RangeError, /for csr\.indices\[1\] but received -1/);
    both({ ...ok, indices: BigInt64Array.of(1n, 0n, -5n) }, RangeError, /for csr\.indices\[2\] but received -5n/);
    both({ ...ok, indices: [1, 0, 99] }, RangeError, /csr\.indices\[2\]/);
  });
  it('lengths that disagree', () => {
    both({ ...ok, indices: Int32Array.of(1, 0) }, RangeError, /^csr\.indices: must have one entry per value \(3\), got 2/);
    both({ ...ok, values: Float32Array.of(1, 2) }, RangeError, /^csr\.indices: must have one entry per value \(2\), got 3/);
  });
  it('non-integer index arrays: Float32Array indices, number[] with 1.5, strings', () => {
    both({ ...ok, indices: Float32Array.of(1, 0, 2) }, TypeError, /^Expected an Int32Array, BigInt64Array or number\[\] of integers for csr\.indices but received a Float32Array/);
    both({ ...ok, indices: [1, 1.5, 2] }, RangeError, /^Expected an integer \(int32\) for csr\.indices\[1\] but received 1\.5/);
    both({ ...ok, indptr: [0, '2', 3] }, TypeError, /for csr\.indptr\[1\]/);
    both({ ...ok, indptr: Uint32Array.of(0, 2, 3) }, TypeError, /for csr\.indptr but received a Uint32Array/);
  });
  it('values and shape of the wrong kind; a csr that is not an object', () => {
    both({ ...ok, values: [1, 2, 3] }, TypeError, /^Expected a Float32Array or Float64Array for csr\.values/);
    both({ ...ok, shape: [2] }, TypeError, /for csr\.shape/);
    both({ ...ok, shape: [2, -3] }, RangeError, /for csr\.shape\[1\]/);
    both(null, TypeError, /for csr but received null/);
    both(new Float32Array(3), TypeError, /for csr but received a Float32Array/);
  });
  it('b of another dtype, the wrong number of rows, or not a matrix', async () => {
    const csr = pl.csrTensor(ok);
    expect(() => pl.sparseMatmul(csr, pl.Tensor.from(new Float64Array(6), [3, 2]))).toThrow(TypeError);
    expect(() => pl.sparseMatmul(csr, pl.tensor([[1, 2], [3, 4]]))).toThrow(/^b: csr · b needs b to have F = 3 rows \(csr is \[2, 3\]\), got \[2, 2\]/);
    expect(() => pl.sparseMatmul(csr, b, { transposeA: true })).toThrow(/^b: csrᵀ · b needs b to have N = 2 rows/);
    expect(() => pl.sparseMatmul(csr, pl.Tensor.from(new Float32Array(3), [3]))).toThrow(RangeError);
    await expect(pl.sparseMatmulAsync(csr, pl.tensor([[1, 2], [3, 4]]))).rejects.toThrow(/^b: csr · b needs/);
    await expect(pl.sparseMatmulAsync({ ...ok, indptr: Int32Array.of(0, 3, 2) }, b)).rejects.toThrow(/must not decrease/);
  });
  it('out of the wrong size, dtype, or over an input', () => {
    const csr = pl.csrTensor(ok);
    expect(() => pl.sparseMatmul(csr, b, { out: new Float32Array(3) })).toThrow(/^out: must have exactly 4 elements \(the result is \[2, 2\]\), got 3/);
    expect(() => pl.sparseMatmul(csr, b, { transposeA: true, out: new Float32Array(4) })).toThrow(RangeError);
    expect(() => pl.sparseMatmul(csr, b, { out: new Float64Array(4) })).toThrow(/^out: must have the inputs' dtype \(float32\), got float64/);
    const buffer = new Float32Array(10);
    const bb = { data: buffer.subarray(0, 6), shape: [3, 2] };
    expect(() => pl.sparseMatmul(csr, bb, { out: buffer.subarray(4, 8) })).toThrow(/^out: overlaps the memory of b/);
    const values = new Float32Array(8);
    values.set([1, 2, 3]);
    expect(() => pl.sparseMatmul({ ...ok, values: values.subarray(0, 3) }, b, { out: values.subarray(2, 6) })).toThrow(/^out: overlaps the memory of csr\.values/);
    expect(() => pl.sparseMatmul(csr, b, { tranposeA: true } as pl.SparseMatmulOptions)).toThrow(/Unknown option 'tranposeA'/);
  });
  it('native code: a csr that is neither a CsrTensor\'s handle nor a CSR object is a TypeError', () => {
    const call = () => callNative(() => binding().sparseMatmul({} as never, { data: b.data(), shape: [3, 2] }, { transposeA: false, out: null }, false));
    expect(call).toThrow(TypeError);
    expect(call).toThrow(/csr\.values must be a Float32Array or Float64Array/);
  });
});
