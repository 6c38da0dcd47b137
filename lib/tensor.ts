/**
 * Tensors: a shape over a Float32Array or Float64Array, or over native memory.
 * On CPU a tensor is a view of its array (no copy either way); results of
 * pairloss own their memory through an external ArrayBuffer that frees it
 * after GC. On CUDA a tensor holds a native handle to device memory: host data
 * is copied there once, results stay there until `data()` / `to('cpu')` copy
 * them back, and `dispose()` frees the device memory at once.
 */
import { binding, isRawHandle, NativeHandle, RawHandle, RawIndices, RawResult, RawTensor } from './binding';
import { callNative, describe, invalidType, invalidValue, rangeError } from './errors';
import { optionsObject } from './options';

/** Element type of a tensor. */
export type DType = 'float32' | 'float64';

/** The typed arrays a tensor can view. */
export type FloatArray = Float32Array | Float64Array;

/**
 * An onnxruntime tensor as pairloss takes it (onnxruntime-node's / -web's
 * `Tensor`, duck-typed: no dependency on onnxruntime): `data` over `dims`,
 * with `type` (when given) agreeing with the array. A general `ort.Tensor`
 * (whose `data` may be any of its element types) needs a narrowing to
 * `ort.TypedTensor<'float32'>` first; other element types are a TypeError.
 */
export interface OnnxTensorLike {
  readonly data: FloatArray;
  readonly dims: readonly number[];
  readonly type?: DType;
}

/**
 * Anything a tensor argument accepts: a {@link Tensor}, a plain
 * `{ data, shape }` pair, an onnxruntime tensor (`{ data, dims, type }`, see
 * {@link OnnxTensorLike}), or a rectangular nested array (float32, or float64
 * when the other input is float64).
 */
export type TensorLike = Tensor | { data: FloatArray; shape: readonly number[] } | OnnxTensorLike | number[][];

/**
 * The rank a `Tensor<R>` reports: `R`, or `number` for a tensor of unknown
 * rank (plain `Tensor`, whose `R` is `any` so that it and a `Tensor<2>` are
 * assignable both ways, as before ranks were typed).
 */
export type RankOf<R extends number> = 0 extends 1 & R ? number : R;

/** What `toArray()` gives for rank `R`: rows for a matrix, the flat elements for other ranks, either when unknown. */
export type ArrayOf<R extends number> =
  0 extends 1 & R ? number[] | number[][] : number extends R ? number[] | number[][] : [R] extends [2] ? number[][] : number[];

/** Class indices for cross entropy targets. */
export type Indices = Int32Array | BigInt64Array | readonly number[];

const DEVICE = /^(cpu|cuda(:\d{1,4})?)$/;

/**
 * The kind of a typed array (`'Float32Array'`, …) or undefined for anything
 * else, read from the array's internal slot: unlike `instanceof` it holds for
 * arrays made in another realm (a vm context, jest's sandbox, native code).
 * @internal
 */
const typedArrayTag = Object.getOwnPropertyDescriptor(Object.getPrototypeOf(Uint8Array.prototype), Symbol.toStringTag)!.get!;
/** @internal */
export function typedArrayName(value: unknown): string | undefined {
  return ArrayBuffer.isView(value) ? (typedArrayTag.call(value) as string | undefined) : undefined;
}

function isFloatArray(value: unknown): value is FloatArray {
  const kind = typedArrayName(value);
  return kind === 'Float32Array' || kind === 'Float64Array';
}

function dtypeOf(data: FloatArray): DType {
  return typedArrayName(data) === 'Float64Array' ? 'float64' : 'float32';
}

/** True when an ArrayBuffer has been detached (transferred or freed). @internal */
export function isDetached(buffer: ArrayBufferLike): boolean {
  const b = buffer as ArrayBufferLike & { detached?: boolean };
  if (typeof b.detached === 'boolean') return b.detached;
  try {
    // Constructing a view on a detached buffer throws.
    new Uint8Array(buffer, 0, 0);
    return false;
  } catch {
    return true;
  }
}

/** Checks a device string; CUDA on a build or machine without it is a RangeError. @internal */
export function checkDevice(device: unknown, name = 'device'): string {
  if (typeof device !== 'string') throw invalidType(name, "a device string ('cpu', 'cuda', 'cuda:N')", device);
  if (!DEVICE.test(device)) throw invalidValue(name, "'cpu', 'cuda' or 'cuda:N'", device);
  if (device !== 'cpu') {
    const b = binding();
    if (!b.cudaIsAvailable()) {
      throw rangeError(name, `'${device}' is not available: LibTorch ${b.torchVersion} here has no usable CUDA device`);
    }
    const index = device === 'cuda' ? 0 : Number(device.slice(5));
    if (index >= b.cudaDeviceCount()) {
      throw rangeError(name, `'${device}' does not exist: ${b.cudaDeviceCount()} CUDA device(s) visible`);
    }
  }
  return device === 'cuda' ? 'cuda:0' : device;
}

/** LibTorch's limit on the number of dimensions. */
const MAX_DIMS = 64;

/** The longest typed array this Node.js can make: no size of a real tensor can exceed it. */
const MAX_LENGTH: number = (() => {
  try {
    // eslint-disable-next-line @typescript-eslint/no-var-requires
    return (require('buffer') as typeof import('buffer')).constants.MAX_LENGTH;
  } catch {
    return 2 ** 32;
  }
})();

/**
 * Checks a shape: an array of at most 64 integer sizes in [0, the longest
 * typed array]. A size beyond that could only come with a zero elsewhere
 * (no data) and would overflow the sizes computed from it.
 */
function checkShape(shape: unknown, name: string): number[] {
  if (!Array.isArray(shape)) throw invalidType(name, 'an array of integers', shape);
  if (shape.length > MAX_DIMS) throw rangeError(name, `at most ${MAX_DIMS} dimensions, got ${shape.length}`);
  let product = 1;  // of the non-zero sizes: what LibTorch multiplies in int64
  const dims = Array.from(shape, (s: unknown, i) => {
    if (typeof s !== 'number') throw invalidType(`${name}[${i}]`, 'an integer', s);
    if (!Number.isInteger(s) || s < 0 || s > MAX_LENGTH) throw invalidValue(`${name}[${i}]`, `an integer in [0, ${MAX_LENGTH}]`, s);
    if (Object.is(s, -0)) throw rangeError(`${name}[${i}]`, `-0 is not a size; expected an integer in [0, ${MAX_LENGTH}]`);
    if (s > 0) product *= s;
    return s;
  });
  // (without a zero size, such a shape already fails against its data's length)
  if (product > Number.MAX_SAFE_INTEGER && dims.includes(0)) {
    throw rangeError(name, `[${dims.join(', ')}]: its sizes multiply to more than 2^53 - 1 (LibTorch's int64 element count would overflow or lose precision)`);
  }
  return dims;
}

/**
 * A RangeError naming `name` when a result of `shape` could not be held in one
 * typed array (its sizes come from inputs with zero-size dimensions). @internal
 */
export function checkResultSize(shape: readonly number[], name: string): void {
  const n = numel(shape);
  if (n > MAX_LENGTH) {
    throw rangeError(name, `the result [${shape.join(', ')}] would have ${n} elements, more than a typed array holds (${MAX_LENGTH})`);
  }
}

function numel(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** `data` as a Float32Array/Float64Array over a live buffer; `name` is how the caller calls it. */
function checkData(data: unknown, name: string): FloatArray {
  if (!isFloatArray(data)) {
    throw invalidType(name, 'a Float32Array or Float64Array', data);
  }
  if (isDetached(data.buffer)) throw rangeError(name, 'a detached ArrayBuffer (transferred or freed); expected live data');
  return data;
}

/**
 * A tensor: `shape` over a Float32Array or Float64Array (CPU), or over device
 * memory held natively (CUDA). Immutable in shape.
 *
 * - CPU: the memory is shared with the array it was made from (no copy);
 *   `data()` is that array.
 * - CUDA (`'cuda'`, `'cuda:N'`): host data is copied to the device once, when
 *   the tensor is made; results of ops and losses on CUDA stay on the device;
 *   `data()` and `to('cpu')` copy to host; `dispose()` frees the device memory
 *   at once. GC frees an undisposed tensor only when it happens to collect the
 *   object (its size is reported to V8, so GC runs more often as device memory
 *   grows, but on no schedule a GPU can rely on): dispose tensors you are done with.
 *
 * @example
 * const x = Tensor.from(new Float32Array([1, 2, 3, 4, 5, 6]), [2, 3]);
 * x.shape;   // [2, 3]
 * x.data();  // the same Float32Array, no copy
 * @example
 * const g = Tensor.from(data, [n, d], { device: 'cuda' }); // one copy to the GPU
 * const { grad1 } = npairsLoss(g, g2);                     // grad1.device === 'cuda:0'
 * const host = grad1!.data();                              // a copy to host
 * grad1!.dispose();                                        // device memory freed now
 */
/** Module-private access to Tensor's constructor and private fields (set in its static block). */
let fields: {
  make(data: FloatArray | undefined, handle: NativeHandle | undefined, shape: number[], dtype: DType, device: string): Tensor;
  data(t: Tensor): FloatArray | undefined;
  handle(t: Tensor): NativeHandle | undefined;
};

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- `any`: a tensor of unknown rank, see RankOf
export class Tensor<R extends number = any> {
  /** Sizes of each dimension. */
  readonly shape: readonly number[];
  /** `'float32'` or `'float64'`. */
  readonly dtype: DType;
  /** Where this tensor's memory is and computations on it run: `'cpu'` or `'cuda:N'`. */
  readonly device: string;
  /** Host memory (a typed-array tensor), or undefined. */
  #data: FloatArray | undefined;
  /** Native memory (a handle-backed tensor), or undefined. */
  #handle: NativeHandle | undefined;

  private constructor(data: FloatArray | undefined, handle: NativeHandle | undefined, shape: number[], dtype: DType, device: string) {
    this.#data = data;
    this.#handle = handle;
    this.shape = Object.freeze(shape);
    this.dtype = dtype;
    this.device = device;
  }

  static {
    // The library's own access to a tensor's memory (see the functions after
    // this class); nothing of it is on the public class.
    fields = {
      make: (data, handle, shape, dtype, device) => new Tensor(data, handle, shape, dtype, device),
      data: (t) => t.#data,
      handle: (t) => t.#handle,
    };
  }

  /**
   * A tensor of `data` on `opts.device`. On CPU a view (no copy: later writes
   * to `data` are seen); on CUDA a copy made now, after which `data` is not
   * read again.
   * @param data - Float32Array or Float64Array with `product(shape)` elements.
   * @param shape - non-negative integer sizes.
   * @param opts.device - `'cpu'` (default), `'cuda'` (= `'cuda:0'`) or `'cuda:N'`.
   * @throws TypeError if `data` is not a Float32Array/Float64Array or `shape` not an integer array.
   * @throws RangeError if the sizes do not match the data's length, the buffer is detached, `opts` has an unknown key, or the device is unavailable.
   * @example
   * const t = Tensor.from(new Float64Array(6), [3, 2]);
   */
  static from(data: FloatArray, shape: readonly [], opts?: { device?: string }): Tensor<0>;
  static from(data: FloatArray, shape: readonly [number], opts?: { device?: string }): Tensor<1>;
  static from(data: FloatArray, shape: readonly [number, number], opts?: { device?: string }): Tensor<2>;
  static from(data: FloatArray, shape: readonly number[], opts?: { device?: string }): Tensor;
  static from(data: FloatArray, shape: readonly number[], opts?: { device?: string }): Tensor {
    const checked = checkData(data, 'data');
    const dims = checkShape(shape, 'shape');
    if (numel(dims) !== checked.length) {
      throw rangeError('shape', `[${dims.join(', ')}] needs ${numel(dims)} elements but data has ${checked.length}`);
    }
    const o = optionsObject(opts, ['device'], 'opts');
    const device = checkDevice(o.device ?? 'cpu', 'opts.device');
    if (device === 'cpu') return fields.make(checked, undefined, dims, dtypeOf(checked), 'cpu');
    return tensorFromHandle(callNative(() => binding().tensorToDevice({ data: checked, shape: dims }, device)));
  }

  /**
   * Number of dimensions (`shape.length`). Typed as `R`: the losses' gradients
   * and similarity matrices are `Tensor<2>`, as is `Tensor.from(data, [n, d])`.
   */
  get rank(): RankOf<R> {
    return this.shape.length as RankOf<R>;
  }

  /** Number of elements. */
  get size(): number {
    return numel(this.shape);
  }

  /** True once {@link Tensor.dispose} has been called. */
  get disposed(): boolean {
    return this.#data === undefined && this.#handle === undefined;
  }

  /**
   * @internal True when the memory is held natively (a CUDA tensor, or a
   * resident CPU one from the internal `residentCpu`); false for typed-array
   * tensors and once disposed.
   */
  get resident(): boolean {
    return this.#handle !== undefined;
  }

  /**
   * The elements, row-major. CPU: the tensor's own memory (a view, no copy).
   * CUDA: a copy to host memory, made now (each call makes a new one; writes
   * to it do not reach the tensor).
   * @throws Error if the tensor was disposed; RangeError if its ArrayBuffer was detached (transferred) or resized.
   */
  data(): FloatArray {
    if (this.disposed) throw new Error('This tensor has been disposed');
    if (this.#handle !== undefined) {
      const handle = this.#handle;
      return callNative(() => binding().tensorToHost({ handle, shape: [...this.shape] })).data;
    }
    return hostData(this, 'tensor');
  }

  /**
   * The elements as plain arrays (a copy): `number[][]` (one array per row)
   * for a matrix, the flat `number[]` for any other rank. Typed by rank: a
   * `Tensor<2>` (the losses' gradients, `Tensor.from(data, [n, d])`) gives
   * `number[][]`.
   */
  toArray(): ArrayOf<R> {
    const data = this.data();
    if (this.shape.length !== 2) return Array.from(data) as ArrayOf<R>;
    const [rows, cols] = this.shape;
    return Array.from({ length: rows }, (_, i) => Array.from(data.subarray(i * cols, (i + 1) * cols))) as ArrayOf<R>;
  }

  /**
   * This tensor placed on `device`: this one if it is already there, else a
   * copy. `'cpu'` gives a typed-array tensor (a copy to host from CUDA);
   * `'cuda'` / `'cuda:N'` a copy in that device's memory, made now.
   * @throws Error if the tensor was disposed; RangeError if the device is unknown or not available.
   * @example
   * const g = t.to('cuda');   // one copy host -> device
   * const h = g.to('cpu');    // one copy device -> host
   */
  to(device: string): Tensor<R> {
    const target = checkDevice(device);
    if (this.disposed) throw new Error('This tensor has been disposed');
    const handle = this.#handle;
    if (target === this.device && (handle === undefined || target !== 'cpu')) return this;
    if (target === 'cpu') return fields.make(this.data(), undefined, [...this.shape], this.dtype, 'cpu');
    const source = handle !== undefined ? { handle, shape: [...this.shape] } : { data: hostData(this, 'tensor'), shape: [...this.shape] };
    return tensorFromHandle(callNative(() => binding().tensorToDevice(source, target)));
  }

  /**
   * Releases this tensor's memory now: on CUDA (or any native memory) it is
   * freed at once; on CPU the tensor drops its reference to its array (which
   * GC frees when nothing else holds it). Using the tensor afterwards is an
   * Error (`data()`) or a RangeError naming the argument (as an input).
   * Disposing twice is harmless. A call already running on this tensor (an
   * async loss) keeps its own reference until it finishes.
   */
  dispose(): void {
    const handle = this.#handle;
    this.#data = undefined;
    this.#handle = undefined;
    if (handle !== undefined) callNative(() => binding().tensorDispose({ handle, shape: [] }));
  }

  /** @internal The tensor's description (not its data) for JSON.stringify. */
  toJSON(): { shape: number[]; dtype: DType; device: string } {
    return { shape: [...this.shape], dtype: this.dtype, device: this.device };
  }
}

/**
 * Wraps a native result: a handle (resident: CUDA, or the internal resident
 * CPU mode) or host memory it owns. Host memory with a CUDA `device` (the
 * process-group calls compute through host memory) is copied to that device,
 * so that a tensor is always where `device` says. @internal
 */
export function tensorFromRaw(raw: RawResult, device = 'cpu'): Tensor {
  if (isRawHandle(raw)) return tensorFromHandle(raw);
  if (device === 'cpu') return fields.make(raw.data, undefined, raw.shape, dtypeOf(raw.data), 'cpu');
  return tensorFromHandle(callNative(() => binding().tensorToDevice(raw, device)));
}

/** A tensor over a native handle. @internal */
export function tensorFromHandle(raw: RawHandle): Tensor {
  return fields.make(undefined, raw.handle, [...raw.shape], raw.dtype, raw.device);
}

/**
 * For tests of the handle machinery without a GPU: a copy of `t` held
 * natively on the CPU, as a CUDA tensor is held on its device ("resident").
 * Results computed from a resident CPU tensor come back resident too;
 * `data()` copies, `to('cpu')` makes a typed-array tensor, `dispose()` frees
 * at once. Not part of the public API (not exported from the package). @internal
 */
export function residentCpu(t: TensorLike): Tensor {
  const o = operand(t, 't', partnerDType(t));
  return tensorFromHandle(callNative(() => binding().tensorToDevice(o, 'cpu')));
}

/**
 * The live host data of a typed-array tensor `t`, or a RangeError naming it
 * `name` (disposed, detached, resized, or held natively). @internal
 */
export function hostData(t: Tensor, name: string): FloatArray {
  const data = fields.data(t);
  if (data === undefined) {
    if (fields.handle(t) !== undefined) throw rangeError(name, `the tensor is held natively on ${t.device}; its data() is a copy`);
    throw rangeError(name, 'the tensor has been disposed');
  }
  if (data.length !== t.size) {
    if (isDetached(data.buffer)) throw rangeError(name, 'its data is a detached ArrayBuffer (transferred or freed)');
    // a length-tracking view of a resizable ArrayBuffer that was resized
    throw rangeError(name, `its data now has ${data.length} elements but its shape [${t.shape.join(', ')}] needs ${t.size}`);
  }
  return data;
}

/** The native handle of `t` (undefined for typed-array tensors); a RangeError naming `name` once disposed. @internal */
export function tensorHandle(t: Tensor, name: string): NativeHandle | undefined {
  if (t.disposed) throw rangeError(name, 'the tensor has been disposed');
  return fields.handle(t);
}

function fromNested(rows: number[][], name: string, dtype: DType): RawTensor {
  const n = rows.length;
  if (n > 0 && !Array.isArray(rows[0])) throw invalidType(name, 'a nested array number[][]', rows);
  const d = n > 0 ? rows[0].length : 0;
  const data = dtype === 'float64' ? new Float64Array(n * d) : new Float32Array(n * d);
  for (let i = 0; i < n; i++) {
    const row = rows[i];
    if (!Array.isArray(row)) throw invalidType(`${name}[${i}]`, 'an array of numbers', row);
    if (row.length !== d) throw rangeError(name, `ragged nested array: row 0 has ${d} values, row ${i} has ${row.length}`);
    for (let j = 0; j < d; j++) {
      const v = row[j];
      if (typeof v !== 'number') throw invalidType(`${name}[${i}][${j}]`, 'a number', v);
      data[i * d + j] = v;
    }
  }
  return { data, shape: [n, d] };
}

/**
 * A checked tensor argument as native code takes it, with its device. A
 * tensor held natively carries its `handle` (native code reads that); its
 * `data` is then a host copy made on first access (for callers that need
 * host memory, e.g. process-group collectives). @internal
 */
export interface Operand extends RawTensor {
  device: string;
  dtype: DType;
  handle?: NativeHandle;
}

/**
 * Checks a TensorLike argument and returns its raw view (no copy, except for
 * nested arrays). `dtype` is used for nested arrays (default float32).
 * @internal
 */
export function operand(value: unknown, name: string, dtype: DType = 'float32'): Operand {
  if (value instanceof Tensor) {
    const handle = tensorHandle(value, name);
    if (handle !== undefined) return residentOperand(value, handle);
    const data = hostData(value, name);
    return { data, shape: [...value.shape], device: value.device, dtype: value.dtype };
  }
  if (Array.isArray(value)) {
    const raw = fromNested(value as number[][], name, dtype);
    return { ...raw, device: 'cpu', dtype };
  }
  if (value === null || typeof value !== 'object' || ArrayBuffer.isView(value)) {
    throw invalidType(name, 'a Tensor, { data, shape } or number[][]', value);
  }
  const v = value as { data?: unknown; shape?: unknown; dims?: unknown; type?: unknown };
  // `{ data, shape }`, or onnxruntime's `{ data, dims, type }` (duck-typed) when there is no shape.
  const onnx = v.shape === undefined && v.dims !== undefined;
  let raw: unknown;
  try {
    raw = v.data;
  } catch (error) {
    // onnxruntime's `data` getter throws for a tensor held on a GPU ('gpu-buffer', 'texture').
    throw rangeError(`${name}.data`, `could not be read (${(error as Error)?.message ?? String(error)}); expected data in host memory`);
  }
  const data = checkData(raw, `${name}.data`);
  if (onnx && v.type !== undefined && v.type !== dtypeOf(data)) {
    const kind = typedArrayName(data);
    throw new TypeError(
      `Expected ${name}.type to agree with ${name}.data (a ${kind}: '${dtypeOf(data)}') but received ${describe(v.type)}`,
    );
  }
  const shape = onnx ? checkShape(v.dims, `${name}.dims`) : checkShape(v.shape, `${name}.shape`);
  if (numel(shape) !== data.length) {
    throw rangeError(name, `${onnx ? 'dims' : 'shape'} [${shape.join(', ')}] needs ${numel(shape)} elements but data has ${data.length}`);
  }
  return { data, shape, device: 'cpu', dtype: dtypeOf(data) };
}

function residentOperand(t: Tensor, handle: NativeHandle): Operand {
  let copy: FloatArray | undefined;
  const shape = [...t.shape];
  return {
    handle,
    shape,
    device: t.device,
    dtype: t.dtype,
    get data(): FloatArray {
      copy ??= callNative(() => binding().tensorToHost({ handle, shape })).data;
      return copy;
    },
  };
}

/**
 * What native code takes for an operand: its handle when held natively, else
 * `{ data, shape }` (no copy). @internal
 */
export function rawInput(x: Operand): RawTensor | { handle: NativeHandle; shape: number[] } {
  return x.handle !== undefined ? { handle: x.handle, shape: x.shape } : { data: x.data, shape: x.shape };
}

/** `v.data`, or undefined where reading it throws (onnxruntime's getter for GPU-held data: {@link operand} says so). */
function dataOf(v: object): unknown {
  try {
    return (v as { data?: unknown }).data;
  } catch {
    return undefined;
  }
}

/** The dtype nested arrays take beside other arguments: float64 if any typed one is. @internal */
export function partnerDType(...values: unknown[]): DType {
  for (const v of values) {
    if (v instanceof Tensor) {
      if (v.dtype === 'float64') return 'float64';
    } else if (v && typeof v === 'object' && typedArrayName(dataOf(v)) === 'Float64Array') {
      return 'float64';
    }
  }
  return 'float32';
}

/** Checks that operands are matrices with the given dtype and device; names them. @internal */
export function checkMatrix(x: Operand, name: string): void {
  if (x.shape.length !== 2) throw rangeError(name, `expected a 2-D tensor [rows, cols], got shape [${x.shape.join(', ')}]`);
}

/** Same dtype and device, or a TypeError / RangeError naming `nameB`. @internal */
export function checkSameKind(a: Operand, b: Operand, nameA: string, nameB: string): void {
  if (a.dtype !== b.dtype) throw new TypeError(`${nameB} must have the dtype of ${nameA} (${a.dtype}), got ${b.dtype}`);
  if (a.device !== b.device) throw rangeError(nameB, `must be on the device of ${nameA} (${a.device}), got ${b.device}`);
}

/**
 * A tensor from nested arrays or a typed array (a copy).
 * @param data - `number[][]` (shape inferred), or a Float32Array/Float64Array with `shape`.
 * @param shape - required for typed arrays, optional check for nested arrays.
 * @throws TypeError / RangeError for wrong types, ragged arrays or a shape that does not fit.
 * @example
 * const t = tensor([[1, 0], [0, 1]]);  // float32 [2, 2]
 */
export function tensor(data: number[][] | FloatArray, shape?: readonly number[]): Tensor {
  if (Array.isArray(data)) {
    const raw = fromNested(data, 'data', 'float32');
    if (shape !== undefined) {
      const dims = checkShape(shape, 'shape');
      if (numel(dims) !== raw.data.length) throw rangeError('shape', `[${dims.join(', ')}] does not fit ${raw.data.length} elements`);
      return Tensor.from(raw.data, dims);
    }
    return Tensor.from(raw.data, raw.shape);
  }
  if (!isFloatArray(data)) {
    throw invalidType('data', 'number[][], a Float32Array or a Float64Array', data);
  }
  const checked = checkData(data, 'data');
  if (shape === undefined) throw invalidType('shape', 'an array of integers (required with a typed array)', shape);
  return Tensor.from(checked.slice(), shape);
}

export { describe };
