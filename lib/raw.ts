/**
 * What crosses between lib and native code: tensors, handles, index arrays
 * and a loss's caller memory as the binding takes and returns them. Types
 * only, imported by lib/binding.ts, lib/options.ts and the losses' specs
 * (lib/losses/define.ts), so that none of them imports another for its types.
 * @internal
 */

/** A tensor as it crosses into and out of native code. */
export interface RawTensor {
  data: Float32Array | Float64Array;
  shape: number[];
}

/**
 * A native tensor handle: an opaque, type-tagged External owning an
 * at::Tensor in native memory (on a CUDA device, or on the CPU in the
 * internal resident mode). Freed by `tensorDispose` at once, or after GC.
 */
export type NativeHandle = object & { readonly __pairlossTensorHandle: unique symbol };

/** A result held natively, as native code returns it. */
export interface RawHandle {
  handle: NativeHandle;
  shape: number[];
  dtype: 'float32' | 'float64';
  device: string;
}

/** What native code returns for a tensor: host memory, or a handle (see RawHandle). */
export type RawResult = RawTensor | RawHandle;

/** What native code takes for a tensor: `{ data, shape }` or anything carrying a handle. */
export type RawInput = RawTensor | { handle: NativeHandle; shape: readonly number[] };

/** Class indices as native code takes them. */
export type RawIndices = Int32Array | BigInt64Array;

/** A process group's native handle (lib/distributed.ts's groupHandle). */
export type NativeGroup = object;

/**
 * What crosses to native code for a loss's `out`: one key per gradient field
 * of its tensor inputs (grad1/grad2, grad, gradCenters…), each a `{ data,
 * shape }` view of the caller's memory, or null.
 */
export type RawGradOut = { [gradField: string]: { data: Float32Array | Float64Array; shape: number[] } | null };
