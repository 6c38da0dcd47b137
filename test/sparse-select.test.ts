// csrIndexSelect: rows of a CsrTensor gathered natively (torch's
// csr.index_select(0, rows), scipy's csr[rows]), new or into a reused `out`,
// against PyTorch (scripts/oracle.py csr_index_select: the CSR arrays sliced
// from torch's crow/col/values, and the products of the selection by
// torch.sparse.mm and the dense transpose), float32 and float64.
import * as pl from '../lib';
import { binding, NativeCsr } from '../lib/binding';
import { callNative } from '../lib/errors';
import { setInlineMaxWork } from '../lib/queue';
import { csrParts } from '../lib/sparse';
import { Case, mismatches, oracle } from './helpers/parity';
// eslint-disable-next-line @typescript-eslint/no-var-requires
const { rng, matrix } = require('./helpers/cases.js');

const r = rng(2020);

interface Csr { indptr: number[]; indices: number[]; shape: [number, number] }

/** A random CSR pattern: up to `perRow` entries a row (some rows empty), columns unsorted, some repeated. */
function pattern(n: number, f: number, perRow: number): Csr {
  const indptr = [0];
  const indices: number[] = [];
  for (let i = 0; i < n; i++) {
    const count = f === 0 ? 0 : Math.floor(r() * (perRow + 1));
    for (let k = 0; k < count; k++) indices.push(k > 0 && r() < 0.2 ? indices[indices.length - 1] : Math.floor(r() * f));
    indptr.push(indices.length);
  }
  return { indptr, indices, shape: [n, f] };
}

const randomRows = (count: number, n: number): number[] => Array.from({ length: count }, () => Math.floor(r() * n));
const emptyRows = (c: Csr): number[] => c.indptr.slice(1).flatMap((e, i) => (e === c.indptr[i] ? [i] : []));

function makeCases(): Case[] {
  const cases: Case[] = [];
  for (const dtype of ['float32', 'float64'] as const) {
    const big = pattern(300, 1024, 40);
    const small = pattern(12, 9, 5);
    const withEmpty = pattern(30, 20, 2);
    const shapes: [string, Csr, number[], number][] = [
      ['12 rows shuffled, some repeated', small, randomRows(20, 12), 5],
      ['the trainer scaled down: 128 of 300 rows, F = 1024, ~20 nnz a row, D = 64', big, randomRows(128, 300), 64],
      ['every row once, reversed', small, Array.from({ length: 12 }, (_, i) => 11 - i), 3],
      ['rows empty', small, [], 4],
      ['N = 1, its row three times', pattern(1, 6, 5), [0, 0, 0], 2],
      ['one row repeated', small, [4, 4, 4, 4, 4], 3],
      ['rows of zero entries only', withEmpty, emptyRows(withEmpty).slice(0, 4), 3],
      ['rows of zero entries among others', withEmpty, [...emptyRows(withEmpty).slice(0, 2), 0, 1, 2, ...emptyRows(withEmpty).slice(0, 1)], 3],
      ['F = 0', { indptr: [0, 0, 0, 0], indices: [], shape: [3, 0] }, [2, 0, 2], 3],
      ['a column repeated in a row (kept, not summed)', { indptr: [0, 3, 4], indices: [2, 2, 0, 1], shape: [2, 3] }, [1, 0, 0], 2],
    ];
    for (const [label, csr, rows, d] of shapes) {
      const nnz = csr.indices.length;
      cases.push({ name: `${label} ${dtype}`, op: 'csr_index_select', dtype,
        inputs: { values: matrix(r, 1, nnz, dtype), w: matrix(r, csr.shape[1], d, dtype), g: matrix(r, rows.length, d, dtype) },
        options: { ...csr, rows } });
    }
  }
  return cases;
}

const cases = makeCases();
let reference: ReturnType<typeof oracle>;
beforeAll(() => {
  reference = oracle(cases);
});

type Spec = { data: number[]; shape: number[] };
const floats = (dtype: string, data: ArrayLike<number>): Float32Array | Float64Array => (dtype === 'float64' ? Float64Array.from(data) : Float32Array.from(data));
const csrOf = (c: Case): pl.CsrTensor => {
  const o = c.options as unknown as Csr;
  return pl.csrTensor({ indptr: Int32Array.from(o.indptr), indices: Int32Array.from(o.indices), values: floats(c.dtype, c.inputs.values.data), shape: o.shape });
};
const rowsOf = (c: Case): number[] => (c.options as { rows: number[] }).rows;
const tensorOf = (c: Case, key: string): pl.Tensor => pl.Tensor.from(floats(c.dtype, c.inputs[key].data), c.inputs[key].shape);
/** A selection's arrays as numbers, to compare with the oracle's exactly (they are copies, no arithmetic). */
const arrays = (t: pl.CsrTensor) => {
  const p = csrParts(t);
  return { indptr: Array.from(p.indptr), indices: Array.from(p.indices), values: Array.from(p.values) };
};
const expected = (i: number) => {
  const ref = reference.results[i] as Record<string, Spec>;
  return { indptr: ref.indptr.data, indices: ref.indices.data, values: Array.from(floats(cases[i].dtype, ref.values.data)) };
};

/** Selection i's arrays, dtype, shape and both products against the oracle. */
function checkSelection(i: number, sel: pl.CsrTensor): void {
  const c = cases[i];
  const ref = reference.results[i] as Record<string, Spec>;
  const [n, f] = (c.options as unknown as Csr).shape;
  void n;
  expect(sel.shape).toEqual([rowsOf(c).length, f]);
  expect(sel.dtype).toBe(c.dtype);
  expect(sel.nnz).toBe(ref.values.data.length);
  expect(arrays(sel)).toEqual(expected(i));
  const mm = pl.sparseMatmul(sel, tensorOf(c, 'w'));
  const mmT = pl.sparseMatmul(sel, tensorOf(c, 'g'), { transposeA: true });
  // torch.sparse.mm of the sliced arrays (each row's sum in entry order, as ours) in both dtypes; of the dense
  // rows made CSR again (a repeated column summed before the product: another rounding where terms cancel) in
  // float64 only, as test/sparse.test.ts compares the dense product
  const ours = { data: mm.data(), shape: mm.shape };
  const refs: Record<string, Spec> = { mmEntries: ref.mmEntries, mmT: ref.mmT, ...(c.dtype === 'float64' ? { mm: ref.mm } : {}) };
  expect(Object.keys(ref)).toEqual(expect.arrayContaining(['mm', 'mmEntries', 'mmT']));
  expect(mismatches({ mmEntries: ours, mm: ours, mmT: { data: mmT.data(), shape: mmT.shape } }, refs, c.dtype)).toEqual([]);
}

describe('csrIndexSelect: parity with the rows of torch\'s CSR arrays, and their products', () => {
  it.each(cases.map((c, i) => [c.name, i] as const))('%s', (_name, i) => {
    const c = cases[i];
    const x = csrOf(c);
    // Int32Array and number[] rows
    checkSelection(i, pl.csrIndexSelect(x, Int32Array.from(rowsOf(c))));
    checkSelection(i, pl.csrIndexSelect(x, rowsOf(c)));
    // into out: one made by csrTensor (no spare capacity), and one a selection of other rows first
    for (const out of [pl.csrTensor({ indptr: [0], indices: [], values: floats(c.dtype, []), shape: [0, x.shape[1]] }),
      pl.csrIndexSelect(x, randomRows(7, x.shape[0]))]) {
      const got = pl.csrIndexSelect(x, rowsOf(c), { out });
      expect(got).toBe(out);
      checkSelection(i, got);
    }
    // a selection of a selection (the source itself refilled): the rows of rows
    if (rowsOf(c).length > 0) {
      const first = pl.csrIndexSelect(x, rowsOf(c));
      const back = pl.csrIndexSelect(first, Array.from(rowsOf(c), (_v, k) => k));
      checkSelection(i, back);
    }
  });
});

describe('csrIndexSelect with out: refilled in place', () => {
  const dtypes = ['float32', 'float64'] as const;
  it.each(dtypes)('growing and shrinking selections, each equal to a fresh one; capacity kept, grown geometrically (%s)', (dtype) => {
    const c = pattern(200, 300, 30);
    const x = pl.csrTensor({ indptr: Int32Array.from(c.indptr), indices: Int32Array.from(c.indices),
      values: floats(dtype, matrix(r, 1, c.indices.length, dtype).data), shape: c.shape });
    const w = pl.Tensor.from(floats(dtype, matrix(r, 300, 16, dtype).data), [300, 16]);
    const out = pl.csrIndexSelect(x, [0]);
    const itemSize = dtype === 'float64' ? 8 : 4;
    // the capacity of each array (elements): exact at first, then kept, and grown to max(need, 2 x capacity)
    const capacity = { indptr: 2, entries: out.nnz };
    const grow = (have: number, need: number): number => (need <= have ? have : Math.max(need, 2 * have));
    expect(csrParts(out).bytes).toBe(8 * capacity.indptr + (8 + itemSize) * capacity.entries);
    // sizes 10, 150, 3, 150, 0, 200, 40: nnz up and down
    for (const count of [10, 150, 3, 150, 0, 200, 40]) {
      const rows = Int32Array.from(randomRows(count, 200));
      const fresh = pl.csrIndexSelect(x, rows);
      expect(pl.csrIndexSelect(x, rows, { out })).toBe(out);
      expect(out.shape).toEqual([count, 300]);
      expect(out.nnz).toBe(fresh.nnz);
      expect(arrays(out)).toEqual(arrays(fresh));
      expect(pl.sparseMatmul(out, w).data()).toEqual(pl.sparseMatmul(fresh, w).data());
      capacity.indptr = grow(capacity.indptr, count + 1);
      capacity.entries = grow(capacity.entries, fresh.nnz);
      expect(csrParts(out).bytes).toBe(8 * capacity.indptr + (8 + itemSize) * capacity.entries);
    }
    // steady state: the largest selection again, and smaller ones: no byte more
    const steady = csrParts(out).bytes;
    for (const count of [200, 100, 200, 1]) {
      pl.csrIndexSelect(x, Int32Array.from(randomRows(count, 200)), { out });
      expect(csrParts(out).bytes).toBe(steady);
    }
    // a fresh selection holds exactly what it needs
    const fresh = pl.csrIndexSelect(x, [5, 6]);
    expect(csrParts(fresh).bytes).toBe(3 * 8 + fresh.nnz * (8 + itemSize));
  });

  it('the old contents of a grown out do not leak into the new ones; a csrTensor as out', () => {
    const x = pl.csrTensor({ indptr: [0, 1, 4, 4], indices: [2, 0, 1, 2], values: Float32Array.of(1, 2, 3, 4), shape: [3, 3] });
    const out = pl.csrTensor({ indptr: [0, 2], indices: [1, 1], values: Float32Array.of(9, 9), shape: [1, 3] });
    pl.csrIndexSelect(x, [1, 2, 0, 1], { out });
    expect(arrays(out)).toEqual({ indptr: [0, 3, 3, 4, 7], indices: [0, 1, 2, 2, 0, 1, 2], values: [2, 3, 4, 1, 2, 3, 4] });
    pl.csrIndexSelect(x, [2, 0], { out });
    expect(arrays(out)).toEqual({ indptr: [0, 0, 1], indices: [2], values: [1] });
    expect(out.shape).toEqual([2, 3]);
    expect(Object.isFrozen(out.shape)).toBe(true);
    expect(JSON.stringify(out)).toBe('{"shape":[2,3],"dtype":"float32","nnz":1}');
  });

  it('a failed refill leaves out as it was', () => {
    const x = pl.csrTensor({ indptr: [0, 1, 4, 4], indices: [2, 0, 1, 2], values: Float32Array.of(1, 2, 3, 4), shape: [3, 3] });
    const out = pl.csrIndexSelect(x, [0, 1]);
    const before = arrays(out);
    expect(() => pl.csrIndexSelect(x, Int32Array.of(1, 1, 1, 3), { out })).toThrow(/rows\[3\]/);
    expect(() => pl.csrIndexSelect(x, [1, 1, 1, -1], { out })).toThrow(/rows\[3\]/);
    expect(out.shape).toEqual([2, 3]);
    expect(out.nnz).toBe(4);
    expect(arrays(out)).toEqual(before);
  });

  it('an out held by a pending sparseMatmulAsync is refused (RangeError naming out), then refilled once it settles', async () => {
    const c = pattern(64, 40, 8);
    const x = pl.csrTensor({ indptr: Int32Array.from(c.indptr), indices: Int32Array.from(c.indices),
      values: Float32Array.from(matrix(r, 1, c.indices.length, 'float32').data), shape: c.shape });
    const w = pl.Tensor.from(Float32Array.from(matrix(r, 40, 32, 'float32').data), [40, 32]);
    const out = pl.csrIndexSelect(x, randomRows(64, 64));
    const expectedProduct = pl.sparseMatmul(out, w).data();
    const other = randomRows(30, 64);
    setInlineMaxWork(0); // on the pool, whatever the size
    try {
      for (const transposeA of [false, true]) {
        const b = transposeA ? pl.Tensor.from(Float32Array.from(matrix(r, 64, 8, 'float32').data), [64, 8]) : w;
        const pending = pl.sparseMatmulAsync(out, b, { transposeA });
        const refill = () => pl.csrIndexSelect(x, other, { out });
        expect(refill).toThrow(RangeError);
        expect(refill).toThrow(/^out is in use by a pending async call \(e\.g\. sparseMatmulAsync\); await it first/);
        // a fresh selection from it (it is only read) is fine meanwhile
        expect(pl.csrIndexSelect(out, [0]).shape).toEqual([1, 40]);
        const product = await pending;
        if (!transposeA) expect(product.data()).toEqual(expectedProduct);
      }
      expect(pl.csrIndexSelect(x, other, { out })).toBe(out);
      expect(out.shape).toEqual([30, 40]);
    } finally {
      setInlineMaxWork(undefined);
    }
  });

  it('rows over a SharedArrayBuffer: copied, then checked', () => {
    const x = pl.csrTensor({ indptr: [0, 1, 4, 4], indices: [2, 0, 1, 2], values: Float32Array.of(1, 2, 3, 4), shape: [3, 3] });
    const rows = new Int32Array(new SharedArrayBuffer(8));
    rows.set([1, 0]);
    expect(arrays(pl.csrIndexSelect(x, rows))).toEqual({ indptr: [0, 3, 4], indices: [0, 1, 2, 2], values: [2, 3, 4, 1] });
    Atomics.store(rows, 1, 3);
    expect(() => pl.csrIndexSelect(x, rows)).toThrow(/^rows\[1\] must be a row index in \[0, 3\), got 3/);
  });
});

describe('csrIndexSelect: bad arguments', () => {
  const x = pl.csrTensor({ indptr: [0, 1, 4, 4], indices: [2, 0, 1, 2], values: Float32Array.of(1, 2, 3, 4), shape: [3, 3] });
  const fails = (call: () => unknown, error: ErrorConstructor, message: RegExp): void => {
    expect(call).toThrow(error);
    expect(call).toThrow(message);
  };

  it('rows out of range or negative, as number[] and Int32Array', () => {
    fails(() => pl.csrIndexSelect(x, [0, 3]), RangeError, /^Expected a row index in \[0, 3\) for rows\[1\] but received 3/);
    fails(() => pl.csrIndexSelect(x, [-1]), RangeError, /^Expected a row index in \[0, 3\) for rows\[0\] but received -1/);
    fails(() => pl.csrIndexSelect(x, [2 ** 31]), RangeError, /for rows\[0\]/);
    fails(() => pl.csrIndexSelect(x, Int32Array.of(2, 1, 3)), RangeError, /^rows\[2\] must be a row index in \[0, 3\), got 3/);
    fails(() => pl.csrIndexSelect(x, Int32Array.of(-7)), RangeError, /^rows\[0\] must be a row index in \[0, 3\), got -7/);
    const empty = pl.csrTensor({ indptr: [0], indices: [], values: new Float32Array(0), shape: [0, 3] });
    fails(() => pl.csrIndexSelect(empty, Int32Array.of(0)), RangeError, /^rows\[0\] must be a row index in \[0, 0\)/);
    expect(pl.csrIndexSelect(empty, []).shape).toEqual([0, 3]);
  });

  it('rows not integers, or of the wrong type', () => {
    fails(() => pl.csrIndexSelect(x, [0, 1.5]), TypeError, /^Expected an integer row index for rows\[1\] but received 1\.5/);
    fails(() => pl.csrIndexSelect(x, [NaN]), TypeError, /for rows\[0\]/);
    fails(() => pl.csrIndexSelect(x, ['1'] as unknown as number[]), TypeError, /for rows\[0\]/);
    fails(() => pl.csrIndexSelect(x, Float32Array.of(0) as unknown as Int32Array), TypeError,
      /^Expected an Int32Array or number\[\] of row indices for rows but received a Float32Array/);
    fails(() => pl.csrIndexSelect(x, BigInt64Array.of(0n) as unknown as Int32Array), TypeError, /for rows but received a BigInt64Array/);
    fails(() => pl.csrIndexSelect(x, null as unknown as number[]), TypeError, /for rows but received null/);
    const detached = new Int32Array(2);
    structuredClone(detached.buffer, { transfer: [detached.buffer] });
    fails(() => pl.csrIndexSelect(x, detached), RangeError, /^rows: a detached ArrayBuffer/);
  });

  it('out of another dtype or F, csr itself, not a CsrTensor; an unknown option', () => {
    const f64 = pl.csrTensor({ indptr: [0, 1], indices: [0], values: Float64Array.of(1), shape: [1, 3] });
    const f4 = pl.csrTensor({ indptr: [0, 1], indices: [0], values: Float32Array.of(1), shape: [1, 4] });
    fails(() => pl.csrIndexSelect(x, [0], { out: f64 }), RangeError, /^out: must have csr's dtype float32, got float64/);
    fails(() => pl.csrIndexSelect(x, [0], { out: f4 }), RangeError, /^out: must have csr's F = 3 columns, got 4/);
    fails(() => pl.csrIndexSelect(x, [0], { out: x }), RangeError, /^out: must not be csr itself/);
    const plain = { indptr: [0, 1], indices: [0], values: Float32Array.of(1), shape: [1, 3] };
    fails(() => pl.csrIndexSelect(x, [0], { out: plain as unknown as pl.CsrTensor }), TypeError, /^Expected a CsrTensor for out/);
    fails(() => pl.csrIndexSelect(x, [0], { out: new Float32Array(3) as unknown as pl.CsrTensor }), TypeError, /for out but received a Float32Array/);
    fails(() => pl.csrIndexSelect(x, [0], { outt: f4 } as pl.CsrIndexSelectOptions), RangeError, /Unknown option 'outt'.*Did you mean 'out'/);
    fails(() => pl.csrIndexSelect(x, [0], 3 as unknown as pl.CsrIndexSelectOptions), TypeError, /for options/);
  });

  it('csr not a CsrTensor: a CSR object, a tensor, null', () => {
    const plain = { indptr: [0, 1], indices: [0], values: Float32Array.of(1), shape: [1, 3] };
    fails(() => pl.csrIndexSelect(plain as unknown as pl.CsrTensor, [0]), TypeError, /^Expected a CsrTensor \(from csrTensor or csrIndexSelect\) for csr/);
    fails(() => pl.csrIndexSelect(pl.tensor([[1]]) as unknown as pl.CsrTensor, [0]), TypeError, /for csr/);
    fails(() => pl.csrIndexSelect(null as unknown as pl.CsrTensor, [0]), TypeError, /for csr but received null/);
  });

  it('native code checks what lib would (binding called directly)', () => {
    const b = binding();
    const ext = (values: Float32Array | Float64Array, cols: number): NativeCsr =>
      callNative(() => b.csrCreate({ indptr: Int32Array.of(0, values.length), indices: new Int32Array(values.length), values, shape: [1, cols] }));
    const src = ext(Float32Array.of(1, 2), 3);
    const call = (csr: unknown, rows: unknown, out: unknown) => () => callNative(() => b.csrIndexSelect(csr as NativeCsr, rows as Int32Array, { out: out as NativeCsr }));
    fails(call({}, Int32Array.of(0), null), TypeError, /^csr must be a CsrTensor/);
    fails(call(src, [0], null), TypeError, /^rows must be an Int32Array/);
    fails(call(src, Float64Array.of(0), null), TypeError, /^rows must be an Int32Array/);
    fails(call(src, Int32Array.of(1), null), RangeError, /^rows\[0\] must be a row index in \[0, 1\), got 1/);
    fails(call(src, Int32Array.of(0), {}), TypeError, /^out must be a CsrTensor/);
    fails(call(src, Int32Array.of(0), src), RangeError, /^out must not be csr itself/);
    fails(call(src, Int32Array.of(0), ext(Float64Array.of(1), 3)), RangeError, /^out must have csr's dtype/);
    fails(call(src, Int32Array.of(0), ext(Float32Array.of(1), 2)), RangeError, /^out must have csr's 3 columns/);
    expect(callNative(() => b.csrIndexSelect(src, Int32Array.of(0, 0), { out: null })).nnz).toBe(4);
  });
});
