/**
 * Caller-owned output memory (the `out` option, as the `out=` of PyTorch's
 * ops): results are written into arrays the caller allocated once, so that a
 * training step allocates nothing in steady state. @internal
 */
import { invalidType, rangeError } from './errors';
import { DType, FloatArray, hostData, Operand, Tensor, typedArrayName } from './tensor';

/** Memory for one result: a Float32Array/Float64Array, or a CPU tensor over one. */
export type OutArray = FloatArray | Tensor;

/** An input's host memory (null or undefined: none, e.g. held natively). */
export type InputMemory = ArrayBufferView | null | undefined;

/** The host memory of a raw tensor or index array that native code will read (none for a handle). */
export function memoryOf(x: unknown): InputMemory {
  if (x === null || x === undefined) return null;
  if (ArrayBuffer.isView(x)) return x;
  const data = (x as { data?: unknown; handle?: unknown }).data;
  return (x as { handle?: unknown }).handle === undefined && ArrayBuffer.isView(data) ? data : null;
}

/** The bytes a typed array covers, as [buffer, start, end). */
function span(a: ArrayBufferView): [ArrayBufferLike, number, number] {
  return [a.buffer, a.byteOffset, a.byteOffset + a.byteLength];
}

/** True when two views share at least one byte of one buffer. */
export function overlaps(a: ArrayBufferView, b: ArrayBufferView): boolean {
  const [ba, sa, ea] = span(a);
  const [bb, sb, eb] = span(b);
  return ba === bb && sa < eb && sb < ea && a.byteLength > 0 && b.byteLength > 0;
}

/**
 * Checks `value` as memory for a `shape` result of `dtype` on the CPU and
 * returns its typed array: a TypeError when it is not a Float32Array,
 * Float64Array or Tensor; a RangeError naming `name` for the wrong dtype or
 * element count (a Tensor must also have exactly `shape`), memory held
 * natively, or memory that overlaps one of `inputs` (the result would be
 * computed from values it is overwriting).
 */
export function outArray(value: unknown, name: string, shape: readonly number[], dtype: DType, inputs: readonly InputMemory[]): FloatArray {
  let data: FloatArray;
  const count = shape.reduce((x, y) => x * y, 1);
  if (value instanceof Tensor) {
    if (value.device !== 'cpu') throw rangeError(name, `must be in host memory (a CPU tensor), got a tensor on ${value.device}`);
    data = hostData(value, name);
    if (value.shape.length !== shape.length || value.shape.some((s, i) => s !== shape[i])) {
      throw rangeError(name, `must have the result's shape [${shape.join(', ')}], got [${value.shape.join(', ')}]`);
    }
  } else if (value instanceof Float32Array || value instanceof Float64Array) {
    data = value;
  } else {
    throw invalidType(name, 'a Float32Array, Float64Array or CPU Tensor', value);
  }
  const kind = data instanceof Float64Array ? 'float64' : 'float32';
  if (kind !== dtype) throw rangeError(name, `must be ${dtype} like the inputs, got ${typedArrayName(data) ?? kind}`);
  if (data.length !== count) {
    throw rangeError(name, `must have ${count} elements (the result is [${shape.join(', ')}]), got ${data.length}`);
  }
  for (const x of inputs) {
    if (x !== null && x !== undefined && overlaps(data, x)) {
      throw rangeError(name, 'overlaps the memory of an input; use memory of its own (the result would overwrite what it is computed from)');
    }
  }
  return data;
}

/** Caller memory for a loss's two gradients (the losses' `out` option). */
export interface GradOut {
  /** Memory for `grad1` (x1's or z1's shape). */
  grad1?: OutArray;
  /** Memory for `grad2` (x2's or z2's shape). */
  grad2?: OutArray;
}

/** What crosses to native code for {@link GradOut}. */
export interface RawGradOut {
  grad1: { data: FloatArray; shape: number[] } | null;
  grad2: { data: FloatArray; shape: number[] } | null;
}

/**
 * Checks a loss's `out` option (undefined: null) against its inputs `a` and
 * `b` (and `extra`, the other arrays it reads: a target, labels, a memory
 * bank): each given array holds that input's shape, in its dtype, on the
 * CPU, overlapping no input and not the other array.
 */
export function gradOut(value: unknown, a: Operand, b: Operand, device: string, grad: boolean, extra: readonly unknown[] = []): RawGradOut | null {
  if (value === undefined) return null;
  if (value === null || typeof value !== 'object' || Array.isArray(value) || ArrayBuffer.isView(value) || value instanceof Tensor) {
    throw invalidType('out', 'an object { grad1?, grad2? }', value);
  }
  for (const key of Object.keys(value)) {
    if (key !== 'grad1' && key !== 'grad2') throw new RangeError(`Unknown key '${key}' in out; expected grad1, grad2`);
  }
  if (!grad) throw rangeError('out', 'holds gradients, and grad: false computes none');
  if (device !== 'cpu') throw rangeError('out', `gradients in caller memory need a CPU call, got device ${device}`);
  const o = value as GradOut;
  const inputs = [a, b, ...extra].map(memoryOf);
  const g1 = o.grad1 === undefined ? null : outArray(o.grad1, 'out.grad1', a.shape, a.dtype, inputs);
  const g2 = o.grad2 === undefined ? null : outArray(o.grad2, 'out.grad2', b.shape, b.dtype, inputs);
  if (g1 && g2 && overlaps(g1, g2)) throw rangeError('out.grad2', 'overlaps out.grad1; each gradient needs memory of its own');
  return {
    grad1: g1 ? { data: g1, shape: [...a.shape] } : null,
    grad2: g2 ? { data: g2, shape: [...b.shape] } : null,
  };
}
