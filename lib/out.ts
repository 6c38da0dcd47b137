/**
 * The `out` argument of the products (matmul, sparseMatmul) and the async
 * machinery they share: a result written into memory the caller keeps, so
 * that a training step allocates nothing in steady state (PyTorch's `out=`).
 * @internal
 */
import { RawInput, RawTensor } from './binding';
import { callNative, invalidType, rangeError, withCallerStack } from './errors';
import { inlineTurnSpent, mustWait, nextTurn, runsInline, schedule } from './queue';
import { DType, FloatArray, hostData, isDetached, Operand, Tensor, typedArrayName } from './tensor';

/** Where a product can write its result: a CPU {@link Tensor}, a Float32Array or a Float64Array of exactly the result's element count and the inputs' dtype. */
export type OutBuffer = Tensor | Float32Array | Float64Array;

/** A checked `out`: what crosses to native code, and the tensor the call returns over it. */
export interface CheckedOut {
  raw: RawTensor;
  result(): Tensor;
}

/** True when two views share bytes of one buffer. */
export function viewsOverlap(a: ArrayBufferView, b: ArrayBufferView): boolean {
  if (a.buffer !== b.buffer || a.byteLength === 0 || b.byteLength === 0) return false;
  return a.byteOffset < b.byteOffset + b.byteLength && b.byteOffset < a.byteOffset + a.byteLength;
}

/**
 * Checks `out` for a result of `shape` and `dtype` on `device`, beside the
 * views it must not overlap (`inputs`: name -> view, undefined for memory
 * held natively).
 */
export function checkOut(out: unknown, shape: [number, number], dtype: DType, device: string,
  inputs: [string, ArrayBufferView | undefined][]): CheckedOut {
  let data: FloatArray;
  let tensor: Tensor | undefined;
  if (out instanceof Tensor) {
    if (out.device !== 'cpu' || out.resident) throw rangeError('out', `must be a tensor in CPU memory that JS can see, got one on ${out.device}${out.resident ? ' held natively' : ''}`);
    data = hostData(out, 'out');
    tensor = out;
  } else {
    const kind = typedArrayName(out);
    if (kind !== 'Float32Array' && kind !== 'Float64Array') throw invalidType('out', 'a Tensor, Float32Array or Float64Array', out);
    data = out as FloatArray;
    if (isDetached(data.buffer)) throw rangeError('out', 'a detached ArrayBuffer (transferred or freed)');
  }
  if (device !== 'cpu') throw rangeError('out', `is for inputs on the CPU; these are on ${device}`);
  const outDType: DType = typedArrayName(data) === 'Float64Array' ? 'float64' : 'float32';
  if (outDType !== dtype) throw rangeError('out', `must have the inputs' dtype (${dtype}), got ${outDType}`);
  const count = shape[0] * shape[1];
  if (data.length !== count) throw rangeError('out', `must have exactly ${count} elements (the result is [${shape.join(', ')}]), got ${data.length}`);
  for (const [name, view] of inputs) {
    if (view !== undefined && viewsOverlap(data, view)) throw rangeError('out', `overlaps the memory of ${name}; the result must go to memory of its own`);
  }
  return {
    raw: { data, shape: [...shape] },
    result: () => (tensor !== undefined && tensor.shape.length === 2 && tensor.shape[0] === shape[0] && tensor.shape[1] === shape[1]
      ? tensor : Tensor.from(data, shape)),
  };
}

/** An operand's host view for overlap checks (undefined when held natively). */
export function hostView(x: Operand): ArrayBufferView | undefined {
  return x.handle !== undefined ? undefined : x.data;
}

/** A copy of an input for a queued call (typed arrays sliced; handles kept: nothing JS does writes to them). */
export function snapshot(x: RawInput): RawInput {
  return 'handle' in x ? x : { data: x.data.slice(), shape: x.shape };
}

/**
 * An async op's call: inline (the sync call, settled at once) when its work
 * is small and it runs on the CPU, else on the libuv pool under the bound on
 * calls in flight; a call that must wait for a slot first takes its inputs'
 * snapshot (`copy`), so that it computes on the values of the time of the call.
 * Errors carry the caller's stack.
 */
export async function runOp<R>(work: number, device: string, sync: () => R, async: () => Promise<R>, copy: () => void): Promise<R> {
  try {
    if (device === 'cpu' && runsInline(Math.max(1, work))) {
      const spent = inlineTurnSpent();
      const result = callNative(sync);
      if (spent) await nextTurn();
      return result;
    }
    if (mustWait()) copy();
    return await schedule(async);
  } catch (error) {
    throw withCallerStack(error);
  }
}
