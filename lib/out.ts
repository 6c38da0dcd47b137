/**
 * The `out` argument of the products (matmul, sparseMatmul) and of the
 * losses' gradients, and the async machinery the products share: a result
 * written into memory the caller keeps, so that a training step allocates
 * nothing in steady state (PyTorch's `out=`).
 * @internal
 */
import type { RawGradOut, RawInput, RawTensor } from './raw';
import { callNative, invalidType, rangeError, withCallerStack } from './errors';
import { inlineTurnSpent, mustWait, nextTurn, runsInline, schedule } from './queue';
import { DType, FloatArray, hostData, isDetached, Operand, Tensor, typedArrayName } from './tensor';

/** Where a product can write its result: a CPU {@link Tensor}, a Float32Array or a Float64Array of exactly the result's element count and the inputs' dtype. */
export type OutBuffer = Tensor | Float32Array | Float64Array;

/** A checked `out`: what crosses to native code, and the tensor the call returns over it. @internal */
export interface CheckedOut {
  raw: RawTensor;
  result(): Tensor;
}

/** True when two views share bytes of one buffer. @internal */
export function viewsOverlap(a: ArrayBufferView, b: ArrayBufferView): boolean {
  if (a.buffer !== b.buffer || a.byteLength === 0 || b.byteLength === 0) return false;
  return a.byteOffset < b.byteOffset + b.byteLength && b.byteOffset < a.byteOffset + a.byteLength;
}

/**
 * Checks `out` for a result of `shape` and `dtype` on `device`, beside the
 * views it must not overlap (`inputs`: name -> view, undefined for memory
 * held natively).
 * @internal
 */
export function checkOut(out: unknown, shape: [number, number], dtype: DType, device: string,
  inputs: [string, ArrayBufferView | undefined][], name = 'out'): CheckedOut {
  let data: FloatArray;
  let tensor: Tensor | undefined;
  if (out instanceof Tensor) {
    if (out.device !== 'cpu' || out.resident) throw rangeError(name, `must be a tensor in CPU memory that JS can see, got one on ${out.device}${out.resident ? ' held natively' : ''}`);
    data = hostData(out, name);
    tensor = out;
  } else {
    const kind = typedArrayName(out);
    if (kind !== 'Float32Array' && kind !== 'Float64Array') throw invalidType(name, 'a Tensor, Float32Array or Float64Array', out);
    data = out as FloatArray;
    if (isDetached(data.buffer)) throw rangeError(name, 'a detached ArrayBuffer (transferred or freed)');
  }
  if (device !== 'cpu') throw rangeError(name, `is for inputs on the CPU; these are on ${device}`);
  const outDType: DType = typedArrayName(data) === 'Float64Array' ? 'float64' : 'float32';
  if (outDType !== dtype) throw rangeError(name, `must have the inputs' dtype (${dtype}), got ${outDType}`);
  const count = shape[0] * shape[1];
  if (data.length !== count) throw rangeError(name, `must have exactly ${count} elements (the result is [${shape.join(', ')}]), got ${data.length}`);
  for (const [input, view] of inputs) {
    if (view !== undefined && viewsOverlap(data, view)) throw rangeError(name, `overlaps the memory of ${input}; the result must go to memory of its own`);
  }
  return {
    raw: { data, shape: [...shape] },
    result: () => (tensor !== undefined && tensor.shape.length === 2 && tensor.shape[0] === shape[0] && tensor.shape[1] === shape[1]
      ? tensor : Tensor.from(data, shape)),
  };
}

/** An operand's host view for overlap checks (undefined when held natively). @internal */
export function hostView(x: Operand): ArrayBufferView | undefined {
  return x.handle !== undefined ? undefined : x.data;
}

/** A copy of an input for a queued call (typed arrays sliced; handles kept: nothing JS does writes to them). @internal */
export function snapshot(x: RawInput): RawInput {
  return 'handle' in x ? x : { data: x.data.slice(), shape: x.shape };
}

/**
 * An async op's call: inline (the sync call, settled at once) when its work
 * is small and it runs on the CPU, else on the libuv pool under the bound on
 * calls in flight; a call that must wait for a slot first takes its inputs'
 * snapshot (`copy`), so that it computes on the values of the time of the call.
 * Errors carry the caller's stack.
 * @internal
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

/** Caller memory for a loss's two gradients (the losses' `out` option). */
export interface GradOut {
  /** Memory for `grad1` (x1's or z1's shape). */
  grad1?: OutBuffer;
  /** Memory for `grad2` (x2's or z2's shape). */
  grad2?: OutBuffer;
}

/** What crosses to native code for {@link GradOut} (lib/raw.ts). @internal */
export type { RawGradOut } from './raw';

/** The host memory of a raw tensor or index array that native code will read (undefined for a handle or none). */
function memoryOf(x: unknown): ArrayBufferView | undefined {
  if (x === null || x === undefined) return undefined;
  if (ArrayBuffer.isView(x)) return x;
  const data = (x as { data?: unknown }).data;
  return (x as { handle?: unknown }).handle === undefined && ArrayBuffer.isView(data) ? data : undefined;
}

/** A tensor input of a loss as {@link gradOut} checks `out` against it: its gradient's field, its name, its operand. @internal */
export interface GradInput {
  grad: string;
  name: string;
  x: Operand;
}

/**
 * Checks a loss's `out` option (undefined: null) against its tensor inputs
 * `inputs` (`out`'s keys are their gradient fields: grad1/grad2, grad,
 * gradCenters…; `extra`, the other arrays it reads by name: class labels, a
 * target, a memory bank): each given array holds its input's shape, in its
 * dtype, on the CPU (as {@link checkOut}), overlapping no input and no other
 * array of `out`. Every gradient field crosses, null where not given.
 * @internal
 */
export function gradOut(value: unknown, inputs: readonly GradInput[], device: string, grad: boolean,
  extra: readonly [string, unknown][] = []): RawGradOut | null {
  if (value === undefined) return null;
  const keys = inputs.map((i) => i.grad);
  if (value === null || typeof value !== 'object' || Array.isArray(value) || ArrayBuffer.isView(value) || value instanceof Tensor) {
    throw invalidType('out', `an object { ${keys.map((k) => `${k}?`).join(', ')} }`, value);
  }
  for (const key of Object.keys(value)) {
    if (!keys.includes(key)) throw new RangeError(`Unknown key '${key}' in out; expected ${keys.join(', ')}`);
  }
  if (!grad) throw rangeError('out', 'holds gradients, and grad: false computes none');
  if (inputs.some((i) => i.x.handle !== undefined)) throw rangeError('out', 'holds host memory, and these inputs are held natively');
  const o = value as Record<string, unknown>;
  const views: [string, ArrayBufferView | undefined][] = [...inputs.map((i): [string, ArrayBufferView | undefined] => [i.name, hostView(i.x)]),
    ...extra.map(([name, x]): [string, ArrayBufferView | undefined] => [name, memoryOf(x)])];
  const raw: RawGradOut = {};
  const given: string[] = [];
  for (const { grad: key, x } of inputs) {
    const g = o[key] === undefined ? null : checkOut(o[key], [x.shape[0], x.shape[1]], x.dtype, device, views, `out.${key}`).raw;
    for (const other of given) {
      if (g && viewsOverlap(g.data, (raw[other] as RawTensor).data)) throw rangeError(`out.${key}`, `overlaps out.${other}; each gradient needs memory of its own`);
    }
    if (g) given.push(key);
    raw[key] = g;
  }
  return raw;
}
