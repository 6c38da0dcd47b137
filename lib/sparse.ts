/**
 * Sparse first layers: a CSR batch (scipy's / `torch.sparse_csr_tensor`'s
 * layout) times a dense matrix, and its transpose times a dense matrix (the
 * weight gradient), on the CPU.
 */
import { binding, NativeCsr, RawCsr, RawInput, RawResult } from './binding';
import { callNative, describe, invalidType, invalidValue, rangeError, withCallerStack } from './errors';
import { boolOption, NativeOptions, optionsObject } from './options';
import { CheckedOut, checkOut, hostView, OutBuffer, runOp, snapshot } from './out';
import { checkMatrix, DType, isDetached, operand, rawInput, Tensor, tensorFromRaw, TensorLike, typedArrayName } from './tensor';

/** Index arrays of a CSR matrix: int32 (as scipy and torch make them), int64, or plain integers. */
export type CsrIndices = Int32Array | BigInt64Array | readonly number[];

/**
 * A CSR matrix `[N, F]` as scipy (`indptr`, `indices`, `data`) and
 * `torch.sparse_csr_tensor(crow_indices, col_indices, values, size)` hold it:
 * row i's entries are k in `[indptr[i], indptr[i+1])`, in column
 * `indices[k]` with value `values[k]`. Columns within a row may come in any
 * order and repeat (repeats are summed, as torch sums them).
 */
export interface CsrLike {
  /** N + 1 offsets: starts at 0, never decreases, ends at nnz. */
  indptr: CsrIndices;
  /** nnz column indices in [0, F). */
  indices: CsrIndices;
  /** nnz values; their dtype is the matrix's. */
  values: Float32Array | Float64Array;
  /** `[N, F]`. */
  shape: readonly [number, number] | readonly number[];
}

let csrHandles: WeakMap<CsrTensor, NativeCsr>;

/**
 * A CSR matrix checked once and held natively (a copy: later writes to the
 * arrays it was made from do not reach it), for products that reuse it, e.g.
 * a batch's forward and backward. Made by {@link csrTensor} or
 * {@link csrIndexSelect}; its memory is freed after GC. It changes only when
 * passed as {@link csrIndexSelect}'s `out`: then its rows, entries, `shape`
 * and `nnz` become the selection's (the same object, refilled in place).
 */
export class CsrTensor {
  /** `[N, F]` (N changes when refilled as {@link csrIndexSelect}'s `out`). */
  readonly shape: readonly [number, number];
  /** `'float32'` or `'float64'` (the values'). */
  readonly dtype: DType;
  /** The number of stored entries (repeats counted; changes when refilled as {@link csrIndexSelect}'s `out`). */
  readonly nnz: number;

  private constructor(handle: NativeCsr, shape: [number, number], dtype: DType, nnz: number) {
    this.shape = Object.freeze(shape) as readonly [number, number];
    this.dtype = dtype;
    this.nnz = nnz;
    csrHandles.set(this, handle);
  }

  static {
    csrHandles = new WeakMap();
  }

  /** @internal */
  static make(csr: RawCsr): CsrTensor {
    const handle = callNative(() => binding().csrCreate(csr));
    return new CsrTensor(handle, [csr.shape[0], csr.shape[1]], typedArrayName(csr.values) === 'Float64Array' ? 'float64' : 'float32', csr.values.length);
  }

  /** @internal Rows of `csr` (checked by the caller, but for their range), into `out` when given. */
  static select(csr: CsrTensor, rows: Int32Array, out: CsrTensor | undefined): CsrTensor {
    const native = csrHandles.get(csr) as NativeCsr;
    const target = out === undefined ? null : (csrHandles.get(out) as NativeCsr);
    const r = callNative(() => binding().csrIndexSelect(native, rows, { out: target }));
    const shape: [number, number] = [rows.length, csr.shape[1]];
    if (out === undefined) return new CsrTensor(r.csr, shape, csr.dtype, r.nnz);
    const refilled = out as { shape: readonly [number, number]; nnz: number };
    refilled.shape = Object.freeze(shape);
    refilled.nnz = r.nnz;
    return out;
  }

  /** @internal The description (not the data) for JSON.stringify. */
  toJSON(): { shape: number[]; dtype: DType; nnz: number } {
    return { shape: [...this.shape], dtype: this.dtype, nnz: this.nnz };
  }
}

/** @internal Tests: copies of a CsrTensor's arrays (indices as float64) and the bytes of native storage it holds. */
export function csrParts(csr: CsrTensor): { indptr: Float64Array; indices: Float64Array; values: Float32Array | Float64Array; bytes: number } {
  const p = callNative(() => binding()._csrParts(csrHandles.get(csr) as NativeCsr));
  return { indptr: p.indptr.data as Float64Array, indices: p.indices.data as Float64Array, values: p.values.data as Float32Array | Float64Array, bytes: p.bytes };
}

/** An index array as native code takes it: Int32Array / BigInt64Array as given, number[] converted (integers checked). */
function indexArray(value: unknown, name: string): Int32Array | BigInt64Array {
  const kind = typedArrayName(value);
  if (kind === 'Int32Array' || kind === 'BigInt64Array') {
    const v = value as Int32Array | BigInt64Array;
    if (isDetached(v.buffer)) throw rangeError(name, 'a detached ArrayBuffer (transferred or freed)');
    return v;
  }
  if (Array.isArray(value)) {
    const out = new Int32Array(value.length);
    for (let i = 0; i < value.length; i++) {
      const v: unknown = value[i];
      if (typeof v !== 'number') throw invalidType(`${name}[${i}]`, 'an integer', v);
      if (!Number.isInteger(v) || v < -2147483648 || v > 2147483647) throw invalidValue(`${name}[${i}]`, 'an integer (int32)', v);
      out[i] = v;
    }
    return out;
  }
  throw invalidType(name, 'an Int32Array, BigInt64Array or number[] of integers', value);
}

/**
 * Checks a CSR object (every rule of {@link csrTensor}) and returns it as
 * native code takes it. Native code copies the arrays, then checks the copy
 * again for what keeps it inside memory (a SharedArrayBuffer another thread
 * rewrites meanwhile cannot make it read out of range).
 */
function checkCsr(value: unknown, name: string): RawCsr {
  if (value === null || typeof value !== 'object' || Array.isArray(value) || ArrayBuffer.isView(value)) {
    throw invalidType(name, 'a CsrTensor or a CSR object { indptr, indices, values, shape }', value);
  }
  const c = value as Record<string, unknown>;
  const shape = c.shape;
  if (!Array.isArray(shape) || shape.length !== 2) throw invalidType(`${name}.shape`, '[rows, cols]', shape);
  shape.forEach((s: unknown, i) => {
    if (typeof s !== 'number') throw invalidType(`${name}.shape[${i}]`, 'an integer', s);
    if (!Number.isInteger(s) || s < 0 || s > 2 ** 31 - 1) throw invalidValue(`${name}.shape[${i}]`, 'an integer in [0, 2^31)', s);
  });
  const [rows, cols] = shape as [number, number];
  const values = c.values;
  const kind = typedArrayName(values);
  if (kind !== 'Float32Array' && kind !== 'Float64Array') throw invalidType(`${name}.values`, 'a Float32Array or Float64Array', values);
  const v = values as Float32Array | Float64Array;
  if (isDetached(v.buffer)) throw rangeError(`${name}.values`, 'a detached ArrayBuffer (transferred or freed)');
  const indptr = indexArray(c.indptr, `${name}.indptr`);
  const indices = indexArray(c.indices, `${name}.indices`);
  const nnz = v.length;
  if (indices.length !== nnz) throw rangeError(`${name}.indices`, `must have one entry per value (${nnz}), got ${indices.length}`);
  if (indptr.length !== rows + 1) throw rangeError(`${name}.indptr`, `must have N + 1 = ${rows + 1} entries for shape [${rows}, ${cols}], got ${indptr.length}`);
  if (Number(indptr[0]) !== 0) throw rangeError(`${name}.indptr`, `must start at 0, got ${describe(indptr[0])}`);
  for (let i = 0; i < rows; i++) {
    if (indptr[i + 1] < indptr[i]) throw rangeError(`${name}.indptr`, `must not decrease: indptr[${i + 1}] = ${describe(indptr[i + 1])} < indptr[${i}] = ${describe(indptr[i])}`);
  }
  if (Number(indptr[rows]) !== nnz) throw rangeError(`${name}.indptr`, `must end at nnz = ${nnz} (the values' length), got ${describe(indptr[rows])}`);
  for (let k = 0; k < nnz; k++) {
    const ix = Number(indices[k]);
    if (!(ix >= 0 && ix < cols)) throw invalidValue(`${name}.indices[${k}]`, `a column index in [0, ${cols})`, indices[k]);
  }
  return { indptr, indices, values: v, shape: [rows, cols] };
}

/**
 * A CSR matrix checked once and copied into native memory, for products
 * that reuse it (the same batch forward and backward: no check and no copy
 * per call).
 * @param csr - `{ indptr, indices, values, shape: [N, F] }` (see {@link CsrLike}): N + 1 offsets starting at 0,
 *   never decreasing, ending at nnz; nnz column indices in [0, F) (Int32Array, BigInt64Array or integer number[]);
 *   nnz values (Float32Array or Float64Array). Repeated columns in a row are summed. N = 0 and F = 0 are allowed.
 * @returns a {@link CsrTensor}. Arrays over a SharedArrayBuffer are copied first, then the copy is checked.
 * @throws TypeError for arrays of the wrong type (e.g. Float32Array indices) or a non-integer index;
 *   RangeError for lengths that disagree, an indptr that does not start at 0, decreases, or does not end at nnz,
 *   or an index out of [0, F), each naming the array.
 * @example
 * // two rows of a 4-feature input: row 0 has features 1 and 3, row 1 has feature 0 twice (summed)
 * const x = csrTensor({ indptr: Int32Array.of(0, 2, 4), indices: Int32Array.of(1, 3, 0, 0),
 *   values: Float32Array.of(1, 0.5, 2, 1), shape: [2, 4] });
 */
export function csrTensor(csr: CsrLike): CsrTensor {
  return CsrTensor.make(checkCsr(csr, 'csr'));
}

/** Options of {@link csrIndexSelect}. */
export interface CsrIndexSelectOptions {
  /**
   * A CsrTensor (of csr's dtype and F, not csr itself) to refill with the selection and return, instead of a
   * new one: its native memory is reused (grown geometrically when a selection needs more), so that a loop that
   * refills the same `out` allocates nothing once warm. Refused while a pending async call (e.g.
   * {@link sparseMatmulAsync}) reads it.
   */
  out?: CsrTensor;
}

/** The rows argument of csrIndexSelect as native code takes it: an Int32Array (number[] converted and checked). */
function rowIndices(value: unknown, rows: number): Int32Array {
  if (typedArrayName(value) === 'Int32Array') {
    const v = value as Int32Array;
    if (isDetached(v.buffer)) throw rangeError('rows', 'a detached ArrayBuffer (transferred or freed)');
    return v;
  }
  if (!Array.isArray(value)) throw invalidType('rows', 'an Int32Array or number[] of row indices', value);
  const out = new Int32Array(value.length);
  for (let i = 0; i < value.length; i++) {
    const v: unknown = value[i];
    if (typeof v !== 'number' || !Number.isInteger(v)) throw invalidType(`rows[${i}]`, 'an integer row index', v);
    if (v < 0 || v >= rows) throw invalidValue(`rows[${i}]`, `a row index in [0, ${rows})`, v);
    out[i] = v;
  }
  return out;
}

/**
 * The rows `rows` of a CsrTensor, in that order (repeats allowed): what
 * torch's `csr.index_select(0, rows)` and scipy's `csr[rows]` give, a
 * `[rows.length, F]` CsrTensor of csr's dtype whose row i is row `rows[i]`
 * of csr, its entries as they are (not summed, not sorted). A native gather
 * (a copy of each row's entries; csr was checked when made, so its entries
 * are not checked again): one dataset-wide CsrTensor made once, then each
 * batch selected from it, with `out` into memory reused from batch to batch.
 * @param csr - a {@link CsrTensor} `[N, F]`.
 * @param rows - row indices in [0, N): an Int32Array (copied first, then checked) or a number[] of integers.
 * @param opts.out - a CsrTensor to refill and return instead of a new one (see {@link CsrIndexSelectOptions}):
 *   its contents, `shape` and `nnz` change; anything that still needs the old contents must not pass it.
 * @returns a new CsrTensor, or `out` itself refilled.
 * @throws TypeError for csr not a CsrTensor, rows not an Int32Array or number[] (e.g. a Float32Array), a
 *   non-integer row, or `out` not a CsrTensor; RangeError for a row out of [0, N) (naming `rows[i]`), or an `out`
 *   of another dtype or F, csr itself, or in use by a pending async call (naming `out`).
 * @example
 * const all = csrTensor(dataset);                                 // [N, F], checked once
 * const batch = csrIndexSelect(all, rows0);                       // the first batch: a new CsrTensor
 * csrIndexSelect(all, rows1, { out: batch });                     // then refilled in place
 */
export function csrIndexSelect(csr: CsrTensor, rows: Int32Array | readonly number[], opts?: CsrIndexSelectOptions): CsrTensor {
  if (!(csr instanceof CsrTensor)) throw invalidType('csr', 'a CsrTensor (from csrTensor or csrIndexSelect)', csr);
  const o = optionsObject(opts, ['out']);
  const out = o.out;
  if (out !== undefined) {
    if (!(out instanceof CsrTensor)) throw invalidType('out', 'a CsrTensor', out);
    if (out === csr) throw rangeError('out', 'must not be csr itself (the rows are read from it)');
    if (out.dtype !== csr.dtype) throw rangeError('out', `must have csr's dtype ${csr.dtype}, got ${out.dtype}`);
    if (out.shape[1] !== csr.shape[1]) throw rangeError('out', `must have csr's F = ${csr.shape[1]} columns, got ${out.shape[1]}`);
  }
  return CsrTensor.select(csr, rowIndices(rows, csr.shape[0]), out as CsrTensor | undefined);
}

/** Options of {@link sparseMatmul}. */
export interface SparseMatmulOptions {
  /** `csrᵀ · b`: `[N, F]ᵀ × [N, D] → [F, D]` (a sparse layer's weight gradient). Default false: `[N, F] × [F, D] → [N, D]`. */
  transposeA?: boolean;
  /** Where to write the result: a CPU Tensor, Float32Array or Float64Array with exactly its element count, of the dtype of b. */
  out?: OutBuffer;
}

interface SparseCall {
  csr: NativeCsr | RawCsr;
  b: RawInput;
  options: NativeOptions['sparseMatmul'];
  out: CheckedOut | undefined;
  work: number;
}

function prepareSparse(csr: CsrTensor | CsrLike, b: TensorLike, opts: SparseMatmulOptions | undefined): SparseCall {
  const o = optionsObject(opts, ['transposeA', 'out']);
  const transposeA = boolOption(o, 'transposeA', false);
  let native: NativeCsr | RawCsr;
  let shape: readonly [number, number];
  let dtype: DType;
  let nnz: number;
  const views: [string, ArrayBufferView | undefined][] = [];
  if (csr instanceof CsrTensor) {
    native = csrHandles.get(csr) as NativeCsr;
    ({ shape, dtype, nnz } = csr);
  } else {
    const raw = checkCsr(csr, 'csr');
    native = raw;
    shape = raw.shape;
    dtype = typedArrayName(raw.values) === 'Float64Array' ? 'float64' : 'float32';
    nnz = raw.values.length;
    views.push(['csr.values', raw.values], ['csr.indices', raw.indices], ['csr.indptr', raw.indptr]);
  }
  const tb = operand(b, 'b', dtype);
  checkMatrix(tb, 'b');
  if (tb.dtype !== dtype) throw new TypeError(`b must have the dtype of the CSR values (${dtype}), got ${tb.dtype}`);
  if (tb.device !== 'cpu') throw rangeError('b', `sparseMatmul computes on the CPU; b is on ${tb.device}`);
  const inner = transposeA ? shape[0] : shape[1];
  if (tb.shape[0] !== inner) {
    throw rangeError('b', transposeA
      ? `csrᵀ · b needs b to have N = ${inner} rows (csr is [${shape.join(', ')}]), got [${tb.shape.join(', ')}]`
      : `csr · b needs b to have F = ${inner} rows (csr is [${shape.join(', ')}]), got [${tb.shape.join(', ')}]`);
  }
  const result: [number, number] = [transposeA ? shape[1] : shape[0], tb.shape[1]];
  views.push(['b', hostView(tb)]);
  const out = o.out === undefined ? undefined : checkOut(o.out, result, dtype, 'cpu', views);
  return { csr: native, b: rawInput(tb), options: { transposeA, out: out?.raw ?? null }, out, work: nnz * tb.shape[1] };
}

function sparseResult(call: SparseCall, raw: RawResult | undefined): Tensor {
  return call.out !== undefined ? call.out.result() : tensorFromRaw(raw as RawResult);
}

/**
 * The product of a CSR matrix and a dense one, on the CPU: `csr · b`
 * (`[N, F] × [F, D] → [N, D]`: what `torch.sparse.mm(csr, b)` and
 * `F.embedding_bag(indices, b, offsets, mode='sum', per_sample_weights=values)`
 * compute), or with `transposeA` `csrᵀ · b` (`[N, F]ᵀ × [N, D] → [F, D]`: the
 * weight gradient of a sparse first layer, `x.T @ g`). Each output row is
 * one sum in the order of its entries (the same numbers however many
 * threads run it). Rows without entries give zeros.
 * @param csr - a {@link CsrTensor} (checked once, reused without a check or a copy), or a CSR object checked and
 *   copied in this call (see {@link csrTensor}).
 * @param b - `[F, D]` (or `[N, D]` with transposeA), of the values' dtype, on the CPU.
 * @param opts.transposeA - multiply by csr's transpose (default false).
 * @param opts.out - where to write the result (exactly its element count, b's dtype, no overlap with the inputs).
 * @returns a tensor `[N, D]` (`[F, D]` with transposeA); over `out` when given.
 * @throws TypeError / RangeError for a bad CSR (see {@link csrTensor}), b of another dtype or the wrong number of rows,
 *   or a bad `out`.
 * @example
 * const x = csrTensor(batch);                                    // once per batch
 * const h = sparseMatmul(x, w1);                                 // [N, F] × [F, D] -> [N, D]
 * const gradW1 = sparseMatmul(x, gradH, { transposeA: true, out: gradW1Buffer }); // [F, D]
 */
export function sparseMatmul(csr: CsrTensor | CsrLike, b: TensorLike, opts?: SparseMatmulOptions): Tensor {
  const call = prepareSparse(csr, b, opts);
  return sparseResult(call, callNative(() => binding().sparseMatmul(call.csr, call.b, call.options, false)));
}

/**
 * {@link sparseMatmul} off the event loop: on the libuv pool (b and a plain
 * CSR object copied when the call is made; a CsrTensor is held, and
 * {@link csrIndexSelect} refuses to refill it until the Promise settles),
 * `out` written when done (leave it alone until the Promise settles). At most 2^17
 * multiply-adds (nnz · D) compute at once on the calling thread instead.
 * @example
 * const h = await sparseMatmulAsync(x, w1);
 */
export async function sparseMatmulAsync(csr: CsrTensor | CsrLike, b: TensorLike, opts?: SparseMatmulOptions): Promise<Tensor> {
  let call: SparseCall;
  try {
    call = prepareSparse(csr, b, opts);
  } catch (error) {
    throw withCallerStack(error);
  }
  const raw = await runOp(call.work, 'cpu',
    () => binding().sparseMatmul(call.csr, call.b, call.options, false),
    () => binding().sparseMatmul(call.csr, call.b, call.options, true),
    () => {
      call.b = snapshot(call.b);
      if ('indptr' in call.csr) {
        const c = call.csr as RawCsr;
        call.csr = { indptr: c.indptr.slice(), indices: c.indices.slice(), values: c.values.slice(), shape: c.shape };
      }
    });
  return sparseResult(call, raw);
}
