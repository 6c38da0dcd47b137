/**
 * Class labels and class indices as the losses and crossEntropy take them
 * (Int32Array, BigInt64Array or number[]), checked and copied for native
 * code. @internal
 */
import { invalidType, invalidValue, rangeError } from './errors';
import type { RawIndices } from './raw';
import { isDetached, typedArrayName } from './tensor';

function isIndexArray(value: unknown): value is Int32Array | BigInt64Array {
  const kind = typedArrayName(value);
  return kind === 'Int32Array' || kind === 'BigInt64Array';
}

/**
 * Class labels (any integers: equal labels mark positives), `count` of them,
 * converted for native code. @internal
 */
export function labelList(value: unknown, name: string, count: number): RawIndices {
  let out: RawIndices;
  const kind = typedArrayName(value);
  if (kind === 'Int32Array' || kind === 'BigInt64Array') {
    const v = value as Int32Array | BigInt64Array;
    if (isDetached(v.buffer)) throw rangeError(name, 'its data is a detached ArrayBuffer');
    // A copy: the caller's memory (a SharedArrayBuffer another thread writes) is never read twice.
    out = v.slice();
  } else if (Array.isArray(value)) {
    const list = new Int32Array(value.length);
    for (let i = 0; i < value.length; i++) {
      const v: unknown = value[i];
      if (typeof v !== 'number') throw invalidType(`${name}[${i}]`, 'an integer label', v);
      if (!Number.isInteger(v) || v < -2147483648 || v > 2147483647) {
        throw invalidValue(`${name}[${i}]`, 'an integer label in [-2^31, 2^31)', v);
      }
      list[i] = v;
    }
    out = list;
  } else {
    throw invalidType(name, 'class labels (Int32Array, BigInt64Array or number[])', value);
  }
  if (out.length !== count) throw rangeError(name, `expected ${count} labels (one per row), got ${out.length}`);
  return out;
}

/**
 * Class indices checked against `classes` and converted for native code.
 * @internal
 */
export function indices(value: unknown, name: string, count: number, classes: number): RawIndices {
  let out: RawIndices;
  if (isIndexArray(value)) {
    if (isDetached(value.buffer)) throw rangeError(name, 'its data is a detached ArrayBuffer');
    // Check a copy and compute from it: over a SharedArrayBuffer another thread
    // may rewrite the caller's memory between the check and the kernel's read.
    out = value.slice();
  } else if (Array.isArray(value)) {
    const list = new Int32Array(value.length);
    // A plain loop: forEach would skip the holes of a sparse array.
    for (let i = 0; i < value.length; i++) {
      const v: unknown = value[i];
      if (typeof v !== 'number') throw invalidType(`${name}[${i}]`, 'an integer class index', v);
      if (!Number.isInteger(v) || v < 0 || v >= classes) {
        throw invalidValue(`${name}[${i}]`, `an integer class index in [0, ${classes})`, v);
      }
      list[i] = v;
    }
    out = list;
  } else {
    throw invalidType(name, 'class indices (Int32Array, BigInt64Array or number[]) or a probability tensor', value);
  }
  if (out.length !== count) throw rangeError(name, `expected ${count} class indices, got ${out.length}`);
  for (let i = 0; i < out.length; i++) {
    const v = Number(out[i]);
    if (v < 0 || v >= classes) throw invalidValue(`${name}[${i}]`, `a class index in [0, ${classes})`, out[i]);
  }
  return out;
}

/** True for values that look like class indices rather than a probability tensor. @internal */
export function isIndices(value: unknown): boolean {
  // An array is a list of indices unless it holds rows (then it is a probability matrix).
  return isIndexArray(value) || (Array.isArray(value) && (value.length === 0 || !Array.isArray(value[0])));
}
