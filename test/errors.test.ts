// Bad arguments to every public function (DESIGN.md "Errors", issue 2
// "Errors"): a wrong type is a TypeError, a wrong shape, size or value a
// RangeError, each naming the argument; async functions reject their Promise
// (never throw synchronously) with the same class. Nothing may crash the
// process: a native abort here fails the whole file.
import fc from 'fast-check';
import * as pl from '../lib';
import { testIf } from './helpers/skip';

type ErrorClass = typeof TypeError | typeof RangeError | typeof Error;

/** Deterministic values, so that failures reproduce. */
function seq(n: number, start = 1): number[] {
  return Array.from({ length: n }, (_, i) => Math.sin(i + start));
}
function f32(n: number, start = 1): Float32Array {
  return Float32Array.from(seq(n, start));
}
function f64(n: number, start = 1): Float64Array {
  return Float64Array.from(seq(n, start));
}
function mat(n: number, d: number, start = 1): { data: Float32Array; shape: number[] } {
  return { data: f32(n * d, start), shape: [n, d] };
}
function mat64(n: number, d: number, start = 1): { data: Float64Array; shape: number[] } {
  return { data: f64(n * d, start), shape: [n, d] };
}
function nested(n: number, d: number, start = 1): number[][] {
  return Array.from({ length: n }, (_, i) => seq(d, start + i * d));
}
/** A typed array whose buffer has been transferred away (detached). */
function detached<T extends Float32Array | Float64Array | Int32Array | BigInt64Array>(a: T): T {
  structuredClone(a.buffer, { transfer: [a.buffer as ArrayBuffer] });
  return a;
}
function disposed(n = 2, d = 3): pl.Tensor {
  const t = pl.Tensor.from(f32(n * d), [n, d]);
  t.dispose();
  return t;
}
function detachedTensor(n = 2, d = 3): pl.Tensor {
  const a = f32(n * d);
  const t = pl.Tensor.from(a, [n, d]);
  detached(a);
  return t;
}

/**
 * The exact class (a RangeError is not accepted where a TypeError is expected),
 * and `instanceof` it in the caller's realm: jest runs this file in a sandbox
 * realm, where an error made by native code (Node's main realm) would fail
 * `expect(...).toThrow(RangeError)` in a user's own tests.
 */
function checkError(error: unknown, cls: ErrorClass, pattern: RegExp): void {
  expect(error).toBeDefined();
  const e = error as Error;
  expect({ class: e?.constructor?.name, message: e?.message, instanceofInThisRealm: e instanceof cls }).toEqual({
    class: cls.name,
    message: expect.stringMatching(pattern),
    instanceofInThisRealm: true,
  });
}

function expectThrows(fn: () => unknown, cls: ErrorClass, pattern: RegExp): void {
  let error: unknown;
  try {
    fn();
  } catch (e) {
    error = e;
  }
  checkError(error, cls, pattern);
}

/** The async function must return a Promise (no synchronous throw) that rejects with `cls`. */
async function expectRejects(fn: () => Promise<unknown>, cls: ErrorClass, pattern: RegExp): Promise<unknown> {
  let promise: Promise<unknown> | undefined;
  let syncError: unknown;
  try {
    promise = fn();
  } catch (e) {
    syncError = e;
  }
  expect(syncError).toBeUndefined();
  expect(promise).toBeInstanceOf(Promise);
  let error: unknown;
  try {
    await promise;
  } catch (e) {
    error = e;
  }
  checkError(error, cls, pattern);
  return error;
}

type Case = [label: string, args: unknown[], cls: ErrorClass, pattern: RegExp];

const cudaAbsent = !pl.cuda.isAvailable();
/** A CUDA device this machine does not have: 'cuda' on a CPU-only build, else one past the last. */
const missingCuda = cudaAbsent ? 'cuda' : `cuda:${pl.cuda.deviceCount()}`;
const missingCudaMessage = cudaAbsent ? /device.*'cuda' is not available/ : /device.*does not exist/;

describe('Tensor.from', () => {
  const cases: Case[] = [
    ['data a string', ['abc', [3]], TypeError, /^Expected a Float32Array or Float64Array for data but received "abc"$/],
    ['data a number[]', [[1, 2, 3], [3]], TypeError, /for data but received an array of length 3/],
    ['data an Int32Array', [new Int32Array(3), [3]], TypeError, /for data but received an Int32Array/],
    ['data a Uint8Array', [new Uint8Array(3), [3]], TypeError, /for data/],
    ['data undefined', [undefined, [3]], TypeError, /for data but received undefined/],
    ['shape a string', [f32(3), '3'], TypeError, /^Expected an array of integers for shape but received "3"$/],
    ['shape missing', [f32(3)], TypeError, /for shape but received undefined/],
    ['shape with a string', [f32(4), [2, '2']], TypeError, /for shape\[1\]/],
    ['shape with a BigInt', [f32(4), [2n, 2]], TypeError, /for shape\[0\] but received 2n/],
    ['shape with null', [f32(4), [null, 4]], TypeError, /for shape\[0\] but received null/],
    ['non-integer shape', [f32(6), [1.5, 4]], RangeError, /integer.*for shape\[0\] but received 1.5/],
    ['negative shape', [f32(4), [-2, -2]], RangeError, /for shape\[0\] but received -2/],
    ['NaN in shape', [f32(4), [NaN, 4]], RangeError, /for shape\[0\] but received NaN/],
    ['Infinity in shape', [f32(4), [2, Infinity]], RangeError, /for shape\[1\] but received Infinity/],
    // each size above the longest typed array: refused on its own; else the product cannot match the data
    ['overflowing shape, tiny data', [f32(4), [2 ** 40, 2 ** 40]], RangeError,
      /^(Expected an integer in \[0, \d+\] for shape\[0\] but received 1099511627776|shape: \[1099511627776, 1099511627776\] needs .* elements but data has 4)$/],
    ['shape overflowing int64, tiny data', [f32(4), [2 ** 31, 2 ** 31, 2 ** 31]], RangeError, /^shape: \[2147483648, 2147483648, 2147483648\] needs .* elements but data has 4$/],
    ['overflowing shape with a zero', [f32(0), [2 ** 53, 0]], RangeError, /for shape\[0\] but received 9007199254740992/],
    ['huge size with a zero', [f32(0), [2 ** 45, 0, 2 ** 45]], RangeError, /for shape\[0\]/],
    ['more than 64 dimensions', [f32(1), new Array(65).fill(1)], RangeError, /^shape: at most 64 dimensions, got 65$/],
    ['data shorter than shape', [f32(5), [2, 3]], RangeError, /^shape: \[2, 3\] needs 6 elements but data has 5$/],
    ['data longer than shape', [f32(7), [2, 3]], RangeError, /^shape: \[2, 3\] needs 6 elements but data has 7$/],
    ['detached buffer', [detached(f32(6)), [2, 3]], RangeError, /^data: .*detached ArrayBuffer/],
    ['opts null', [f32(3), [3], null], TypeError, /for opts but received null/],
    ['opts a string', [f32(3), [3], 'cpu'], TypeError, /for opts but received "cpu"/],
    ['unknown opts key', [f32(3), [3], { devcie: 'cpu' }], RangeError, /Unknown option 'devcie' in opts/],
    ['device a number', [f32(3), [3], { device: 0 }], TypeError, /for opts.device but received 0/],
    ['unknown device', [f32(3), [3], { device: 'gpu' }], RangeError, /for opts.device but received "gpu"/],
    ['device cpu:0', [f32(3), [3], { device: 'cpu:1' }], RangeError, /opts.device/],
    ['missing CUDA device', [f32(3), [3], { device: missingCuda }], RangeError, missingCudaMessage],
  ];
  it.each(cases)('%s', (_label, args, cls, pattern) => {
    expectThrows(() => (pl.Tensor.from as (...a: unknown[]) => unknown)(...args), cls, pattern);
  });

  testIf(cudaAbsent, 'a CUDA device is available')('names the device option when CUDA is absent', () => {
    expectThrows(() => pl.Tensor.from(f32(3), [3], { device: 'cuda:0' }), RangeError, /^opts.device: 'cuda:0' is not available/);
  });
});

describe('tensor', () => {
  const cases: Case[] = [
    ['data a string', ['abc'], TypeError, /for data but received "abc"/],
    ['data null', [null], TypeError, /for data but received null/],
    ['data an object', [{ data: f32(2), shape: [2] }], TypeError, /for data but received an object/],
    ['typed array without shape', [f32(4)], TypeError, /for shape but received undefined/],
    ['typed array, wrong shape', [f32(4), [3]], RangeError, /^shape: \[3\] needs 3 elements but data has 4$/],
    ['typed array, non-integer shape', [f32(4), [2.5, 2]], RangeError, /shape\[0\]/],
    ['typed array, detached', [detached(f32(4)), [4]], RangeError, /^data: .*detached/],
    ['a flat number[]', [[1, 2, 3]], TypeError, /nested array number\[\]\[\] for data/],
    ['ragged rows', [[[1, 2], [3]]], RangeError, /^data: ragged nested array: row 0 has 2 values, row 1 has 1$/],
    ['a row that is not an array', [[[1, 2], 5]], TypeError, /for data\[1\] but received 5/],
    ['a string element', [[[1, '2']]], TypeError, /^Expected a number for data\[0\]\[1\] but received "2"$/],
    ['a BigInt element', [[[1, 2], [3n, 4]]], TypeError, /for data\[1\]\[0\] but received 3n/],
    ['a null element', [[[null, 2]]], TypeError, /for data\[0\]\[0\] but received null/],
    // eslint-disable-next-line no-sparse-arrays
    ['a hole in a row', [[[1, , 3]]], TypeError, /for data\[0\]\[1\] but received undefined/],
    ['nested with a wrong shape', [[[1, 2], [3, 4]], [3]], RangeError, /^shape: \[3\] does not fit 4 elements$/],
  ];
  it.each(cases)('%s', (_label, args, cls, pattern) => {
    expectThrows(() => (pl.tensor as (...a: unknown[]) => unknown)(...args), cls, pattern);
  });
});

describe('Tensor methods', () => {
  it('to(): a missing CUDA device, an unknown device, a non-string', () => {
    const t = pl.tensor([[1, 2]]);
    expectThrows(() => t.to(missingCuda), RangeError, missingCudaMessage);
    expectThrows(() => t.to('tpu'), RangeError, /for device but received "tpu"/);
    expectThrows(() => t.to('cuda:x'), RangeError, /for device/);
    expectThrows(() => (t.to as (d: unknown) => unknown)(0), TypeError, /for device but received 0/);
    expectThrows(() => (t.to as (d: unknown) => unknown)(undefined), TypeError, /for device but received undefined/);
  });

  it('data() / toArray() of a disposed tensor', () => {
    const t = disposed();
    expect(t.disposed).toBe(true);
    expectThrows(() => t.data(), Error, /disposed/);
    expectThrows(() => t.toArray(), Error, /disposed/);
    t.dispose(); // twice is harmless
    expect(t.disposed).toBe(true);
  });

  it('data() of a tensor whose buffer was transferred', () => {
    expectThrows(() => detachedTensor().data(), RangeError, /detached ArrayBuffer/);
    expectThrows(() => detachedTensor().toArray(), RangeError, /detached ArrayBuffer/);
  });

  it('a tensor over a resizable ArrayBuffer that was resized', () => {
    const buffer = new (ArrayBuffer as unknown as new (n: number, o: { maxByteLength: number }) => ArrayBuffer & { resize(n: number): void })(16, { maxByteLength: 64 });
    const a = new Float32Array(buffer); // tracks the buffer's length
    a.set([3, 4, 0, 1]);
    const t = pl.Tensor.from(a, [2, 2]);
    expect(pl.normalize(t).toArray()).toEqual([[0.6000000238418579, 0.800000011920929], [0, 1]]);
    buffer.resize(8);
    expectThrows(() => pl.normalize(t), RangeError, /^x: its data now has 2 elements but its shape \[2, 2\] needs 4$/);
    expectThrows(() => t.data(), RangeError, /^tensor: its data now has 2 elements/);
    buffer.resize(32);
    expectThrows(() => pl.npairsLoss(t, t), RangeError, /^x1: its data now has 8 elements/);
    buffer.resize(16); // back to its size; the bytes cut off by the shrink come back as zeros
    expect(pl.normalize(t).toArray()).toEqual([[0.6000000238418579, 0.800000011920929], [0, 0]]);
  });

  it('a result whose external buffer is transferred stays readable or refuses, never garbage', () => {
    const r = pl.normalize([[3, 4], [1, 0]]);
    const values = Array.from(r.data());
    const buffer = r.data().buffer as ArrayBuffer;
    let moved: ArrayBuffer | undefined;
    try {
      moved = structuredClone(buffer, { transfer: [buffer] });
    } catch (e) {
      expect((e as Error).name).toBe('DataCloneError');
    }
    if (moved) expect(Array.from(new Float32Array(moved))).toEqual(values);
    if (buffer.byteLength === 0) {
      // detached: using the tensor is a RangeError
      expectThrows(() => r.data(), RangeError, /detached ArrayBuffer/);
      expectThrows(() => pl.normalize(r), RangeError, /^x: its data is a detached ArrayBuffer/);
    } else {
      // Node's external buffers are not detachable: the transfer copied
      expect(Array.from(r.data())).toEqual(values);
      expect(pl.normalize(r).toArray()).toEqual([[0.6000000238418579, 0.800000011920929], [1, 0]]);
    }
  });
});

/** Bad tensor arguments every function taking a TensorLike `name` must refuse. */
function tensorCases(name: string, place: (x: unknown) => unknown[], good: { n: number; d: number } = { n: 2, d: 3 }): Case[] {
  const { n, d } = good;
  const esc = name.replace(/[.[\]]/g, '\\$&');
  return [
    [`${name} a string`, place('abc'), TypeError, new RegExp(`^Expected a Tensor, \\{ data, shape \\} or number\\[\\]\\[\\] for ${esc} but received "abc"$`)],
    [`${name} a number`, place(3), TypeError, new RegExp(`for ${esc} but received 3`)],
    [`${name} null`, place(null), TypeError, new RegExp(`for ${esc} but received null`)],
    [`${name} undefined`, place(undefined), TypeError, new RegExp(`for ${esc} but received undefined`)],
    [`${name} a bare Float32Array`, place(f32(n * d)), TypeError, new RegExp(`for ${esc} but received a Float32Array`)],
    [`${name}.data a number[]`, place({ data: seq(n * d), shape: [n, d] }), TypeError, new RegExp(`for ${esc}\\.data but received an array`)],
    [`${name}.data an Int32Array`, place({ data: new Int32Array(n * d), shape: [n, d] }), TypeError, new RegExp(`for ${esc}\\.data but received an Int32Array`)],
    [`${name}.shape missing`, place({ data: f32(n * d) }), TypeError, new RegExp(`for ${esc}\\.shape but received undefined`)],
    [`${name}.shape a string element`, place({ data: f32(n * d), shape: [n, String(d)] }), TypeError, new RegExp(`for ${esc}\\.shape\\[1\\]`)],
    [`${name} data/shape length mismatch`, place({ data: f32(n * d - 1), shape: [n, d] }), RangeError,
      new RegExp(`^${esc}: shape \\[${n}, ${d}\\] needs ${n * d} elements but data has ${n * d - 1}$`)],
    [`${name} non-integer shape`, place({ data: f32(n * d), shape: [n + 0.5, d] }), RangeError, new RegExp(`for ${esc}\\.shape\\[0\\] but received ${n + 0.5}`)],
    [`${name} negative shape`, place({ data: f32(n * d), shape: [-n, -d] }), RangeError, new RegExp(`for ${esc}\\.shape\\[0\\] but received -${n}`)],
    [`${name} overflowing shape`, place({ data: f32(4), shape: [2 ** 40, 2 ** 40] }), RangeError,
      new RegExp(`^(Expected an integer in \\[0, \\d+\\] for ${esc}\\.shape\\[0\\] but received 1099511627776|${esc}: shape \\[1099511627776, 1099511627776\\] needs .*)$`)],
    [`${name} shape overflowing int64`, place({ data: f32(4), shape: [2 ** 31, 2 ** 31, 2 ** 31] }), RangeError, new RegExp(`^${esc}: shape \\[2147483648, 2147483648, 2147483648\\] needs`)],
    [`${name} huge shape with no data`, place({ data: f32(0), shape: [2 ** 50, 0] }), RangeError, new RegExp(`for ${esc}\\.shape\\[0\\] but received ${2 ** 50}`)],
    [`${name} detached data`, place({ data: detached(f32(n * d)), shape: [n, d] }), RangeError, new RegExp(`^${esc}\\.data: .*detached ArrayBuffer`)],
    [`${name} a Tensor over a detached buffer`, place(detachedTensor(n, d)), RangeError, new RegExp(`^${esc}: its data is a detached ArrayBuffer`)],
    [`${name} a disposed Tensor`, place(disposed(n, d)), RangeError, new RegExp(`^${esc}: the tensor has been disposed$`)],
    [`${name} ragged nested array`, place([seq(d), seq(d + 1)]), RangeError, new RegExp(`^${esc}: ragged nested array: row 0 has ${d} values, row 1 has ${d + 1}$`)],
    [`${name} a flat number[]`, place(seq(d)), TypeError, new RegExp(`nested array number\\[\\]\\[\\] for ${esc}`)],
    [`${name} a non-number element`, place([seq(d), [...seq(d - 1), 'x']]), TypeError, new RegExp(`^Expected a number for ${esc}\\[1\\]\\[${d - 1}\\] but received "x"$`)],
    [`${name} an object element`, place([[{}, ...seq(d - 1)], seq(d)]), TypeError, new RegExp(`for ${esc}\\[0\\]\\[0\\] but received an object`)],
    [`${name} 1-D`, place({ data: f32(d), shape: [d] }), RangeError, new RegExp(`^${esc}: expected a 2-D tensor \\[rows, cols\\], got shape \\[${d}\\]$`)],
    [`${name} 3-D`, place({ data: f32(n * d * 2), shape: [n, d, 2] }), RangeError, new RegExp(`^${esc}: expected a 2-D tensor`)],
  ];
}

/** Options that must be refused wherever an options object is taken. */
function optionsObjectCases(call: (o: unknown) => unknown[], name = 'options'): Case[] {
  return [
    ['options a string', call('fast'), TypeError, new RegExp(`^Expected an object for ${name} but received "fast"$`)],
    ['options a number', call(1), TypeError, new RegExp(`for ${name} but received 1`)],
    ['options null', call(null), TypeError, new RegExp(`for ${name} but received null`)],
    ['options an array', call([]), TypeError, new RegExp(`for ${name} but received an array`)],
  ];
}

/** A number option: non-finite, string, object, null. */
function numberOptionCases(key: string, call: (o: Record<string, unknown>) => unknown[], bad: number[]): Case[] {
  return [
    [`${key} a string`, call({ [key]: '1' }), TypeError, new RegExp(`^Expected a number for ${key} but received "1"$`)],
    [`${key} an object`, call({ [key]: {} }), TypeError, new RegExp(`for ${key} but received an object`)],
    [`${key} null`, call({ [key]: null }), TypeError, new RegExp(`for ${key} but received null`)],
    [`${key} a BigInt`, call({ [key]: 1n }), TypeError, new RegExp(`for ${key} but received 1n`)],
    ...bad.map((v): Case => [`${key} ${v}`, call({ [key]: v }), RangeError, new RegExp(`for ${key} but received ${Number.isNaN(v) ? 'NaN' : String(v).replace('.', '\\.')}$`)]),
  ];
}

function boolOptionCases(key: string, call: (o: Record<string, unknown>) => unknown[]): Case[] {
  return [
    [`${key} a string`, call({ [key]: 'true' }), TypeError, new RegExp(`^Expected a boolean for ${key} but received "true"$`)],
    [`${key} a number`, call({ [key]: 1 }), TypeError, new RegExp(`for ${key} but received 1`)],
  ];
}

function enumOptionCases(key: string, call: (o: Record<string, unknown>) => unknown[], bad: string): Case[] {
  return [
    [`${key} '${bad}'`, call({ [key]: bad }), RangeError, new RegExp(`^Expected one of .* for ${key} but received "${bad}"$`)],
    [`${key} a number`, call({ [key]: 0 }), TypeError, new RegExp(`for ${key} but received 0`)],
    [`${key} an object`, call({ [key]: { toString: () => bad } }), TypeError, new RegExp(`for ${key} but received an object`)],
  ];
}

function run(fn: (...a: never[]) => unknown, cases: Case[]): void {
  it.each(cases)('%s', (_label, args, cls, pattern) => {
    expectThrows(() => (fn as (...a: unknown[]) => unknown)(...args), cls, pattern);
  });
}

describe('normalize', () => {
  const x = () => mat(2, 3);
  run(pl.normalize, [
    ...tensorCases('x', (v) => [v]).filter(([label]) => !/[13]-D/.test(label)),
    ['x a scalar shape []', [{ data: f32(1), shape: [] }], RangeError, /^x: expected a tensor with at least one dimension$/],
    ['x with more than 64 dimensions', [{ data: f32(1), shape: new Array(65).fill(1) }], RangeError, /^x.shape: at most 64 dimensions/],
    ...optionsObjectCases((o) => [x(), o]),
    ['unknown option', [x(), { P: 2 }], RangeError, /^Unknown option 'P' in options; expected one of: p, dim, eps\. Did you mean 'p'\?$/],
    ['p a string', [x(), { p: '2' }], TypeError, /^Expected a number for p but received "2"$/],
    ['p an object', [x(), { p: {} }], TypeError, /for p but received an object/],
    ['p NaN', [x(), { p: NaN }], RangeError, /for p but received NaN/],
    ['p 0', [x(), { p: 0 }], RangeError, /^Expected a number > 0 for p but received 0$/],
    ['p negative', [x(), { p: -1 }], RangeError, /for p but received -1/],
    ['p -Infinity', [x(), { p: -Infinity }], RangeError, /for p but received -Infinity/],
    ...numberOptionCases('dim', (o) => [x(), o], [NaN, Infinity, 1.5, 2, -3]),
    ...numberOptionCases('eps', (o) => [x(), o], [NaN, Infinity, -Infinity, 0, -1e-12]),
  ]);
  it('p = Infinity and dim = -1 are allowed', () => {
    expect(pl.normalize([[3, -4]], { p: Infinity, dim: -1 }).toArray()).toEqual([[0.75, -1]]);
  });
});

describe('matmul', () => {
  run(pl.matmul, [
    ...tensorCases('a', (v) => [v, mat(3, 2)]),
    ...tensorCases('b', (v) => [mat(3, 2), v], { n: 2, d: 3 }),
    ['dtype mix float64 @ float32', [mat64(2, 3), mat(3, 2)], TypeError, /^b must have the dtype of a \(float64\), got float32$/],
    ['dtype mix float32 @ float64', [mat(2, 3), mat64(3, 2)], TypeError, /^b must have the dtype of a \(float32\), got float64$/],
    ['inner sizes differ', [mat(2, 3), mat(4, 2)], RangeError, /^b: matmul needs b to have 3 rows/],
    ['a result too large for a typed array', [{ data: f32(0), shape: [2 ** 31, 0] }, { data: f32(0), shape: [0, 2 ** 31] }], RangeError,
      /^b: the result \[2147483648, 2147483648\] would have .* elements, more than a typed array holds/],
  ]);
});

describe('crossEntropy', () => {
  const logits = () => mat(2, 3);
  run(pl.crossEntropy, [
    ...tensorCases('logits', (v) => [v, [0, 1]]),
    ['logits an empty batch', [{ data: f32(0), shape: [0, 3] }, []], RangeError, /^logits: an empty batch \(0 rows\)$/],
    ['logits without classes', [{ data: f32(0), shape: [2, 0] }, [0, 0]], RangeError, /^logits: expected at least one class/],
    ['target a string', [logits(), 'abc'], TypeError, /for target but received "abc"/],
    ['target a number', [logits(), 1], TypeError, /for target but received 1/],
    ['target undefined', [logits(), undefined], TypeError, /for target but received undefined/],
    ['target a Float32Array', [logits(), new Float32Array([0, 1])], TypeError,
      /^Expected class indices \(Int32Array, BigInt64Array or number\[\]\) or a probability tensor for target but received a Float32Array of length 2$/],
    ['target a Uint8Array', [logits(), new Uint8Array([0, 1])], TypeError, /for target but received a Uint8Array/],
    ['target a BigUint64Array', [logits(), new BigUint64Array([0n, 1n])], TypeError, /for target but received a BigUint64Array/],
    ['target index = C', [logits(), [0, 3]], RangeError, /^Expected an integer class index in \[0, 3\) for target\[1\] but received 3$/],
    ['target index negative', [logits(), [-1, 0]], RangeError, /for target\[0\] but received -1/],
    ['target index non-integer', [logits(), [0.5, 1]], RangeError, /for target\[0\] but received 0.5/],
    ['target index NaN', [logits(), [0, NaN]], RangeError, /for target\[1\] but received NaN/],
    ['target index Infinity', [logits(), [Infinity, 0]], RangeError, /for target\[0\] but received Infinity/],
    ['target too short', [logits(), [0]], RangeError, /^target: expected 2 class indices, got 1$/],
    ['target too long', [logits(), [0, 1, 2]], RangeError, /^target: expected 2 class indices, got 3$/],
    ['target empty', [logits(), []], RangeError, /^target: expected 2 class indices, got 0$/],
    ['target a string index', [logits(), [0, '1']], TypeError, /^Expected an integer class index for target\[1\] but received "1"$/],
    ['target a BigInt in number[]', [logits(), [0, 1n]], TypeError, /for target\[1\] but received 1n/],
    // eslint-disable-next-line no-sparse-arrays
    ['target with a hole', [logits(), [, 1]], TypeError, /for target\[0\] but received undefined/],
    ['Int32Array target out of range', [logits(), new Int32Array([0, 5])], RangeError, /^Expected a class index in \[0, 3\) for target\[1\] but received 5$/],
    ['Int32Array target negative', [logits(), new Int32Array([-1, 0])], RangeError, /for target\[0\] but received -1/],
    ['Int32Array target wrong length', [logits(), new Int32Array(3)], RangeError, /^target: expected 2 class indices, got 3$/],
    ['BigInt64Array target 2^63-1', [logits(), new BigInt64Array([0n, 2n ** 63n - 1n])], RangeError, /for target\[1\] but received 9223372036854775807n/],
    ['BigInt64Array target -2^63', [logits(), new BigInt64Array([-(2n ** 63n), 0n])], RangeError, /for target\[0\] but received -9223372036854775808n/],
    ['BigInt64Array target = C', [logits(), new BigInt64Array([3n, 0n])], RangeError, /for target\[0\] but received 3n/],
    ['detached Int32Array target', [logits(), detached(new Int32Array([0, 1]))], RangeError, /^target: .*detached/],
    ['detached BigInt64Array target', [logits(), detached(new BigInt64Array([0n, 1n]))], RangeError, /^target: .*detached/],
    ['probabilities of the wrong shape', [logits(), mat(3, 2)], RangeError, /^target: probabilities must have the shape of logits \[2, 3\], got \[3,2\]$/],
    ['probabilities 1-D', [logits(), { data: f32(6), shape: [6] }], RangeError, /^target: probabilities must have the shape of logits/],
    ['probabilities of the wrong dtype', [logits(), mat64(2, 3)], TypeError, /^target must have the dtype of logits \(float32\), got float64$/],
    ['probabilities ragged', [logits(), [seq(3), seq(2)]], RangeError, /^target: ragged nested array/],
    ['probabilities with a string', [logits(), [seq(3), [0, 'a', 1]]], TypeError, /for target\[1\]\[1\] but received "a"/],
    ['probabilities detached', [logits(), { data: detached(f32(6)), shape: [2, 3] }], RangeError, /^target\.data: .*detached/],
    ['probabilities disposed', [logits(), disposed(2, 3)], RangeError, /^target: the tensor has been disposed$/],
    ...optionsObjectCases((o) => [logits(), [0, 1], o]),
    ['unknown option', [logits(), [0, 1], { ignoreIndex: -100 }], RangeError, /^Unknown option 'ignoreIndex' in options; expected one of: reduction, labelSmoothing$/],
    ...enumOptionCases('reduction', (o) => [logits(), [0, 1], o], 'avg'),
    ...numberOptionCases('labelSmoothing', (o) => [logits(), [0, 1], o], [NaN, Infinity, -Infinity, -0.1, 1.5]),
  ]);
});

describe('batchNorm1d', () => {
  const x = () => mat(3, 2);
  run(pl.batchNorm1d, [
    ...tensorCases('x', (v) => [v], { n: 3, d: 2 }),
    ['one sample', [mat(1, 4)], RangeError, /^x: expected more than 1 value per channel when training, got shape \[1,4\]$/],
    ['an empty batch', [{ data: f32(0), shape: [0, 4] }], RangeError, /^x: expected more than 1 value per channel/],
    ...optionsObjectCases((o) => [x(), o]),
    ['unknown option', [x(), { momentum: 0.1 }], RangeError, /^Unknown option 'momentum' in options; expected one of: eps$/],
    ...numberOptionCases('eps', (o) => [x(), o], [NaN, Infinity, 0, -1e-5]),
  ]);
});

describe('cosineSimilarity', () => {
  run(pl.cosineSimilarity, [
    ...tensorCases('x1', (v) => [v, mat(4, 3)]),
    ...tensorCases('x2', (v) => [mat(4, 3), v]),
    ['dtype mix', [mat64(2, 3), mat(2, 3)], TypeError, /^x2 must have the dtype of x1 \(float64\), got float32$/],
    ['D mismatch', [mat(2, 3), mat(2, 4)], RangeError, /^x2: must have D = 3 columns like x1, got 4$/],
    ['a result too large for a typed array', [{ data: f32(0), shape: [2 ** 31, 0] }, { data: f32(0), shape: [2 ** 31, 0] }], RangeError, /^x2: the result .* would have/],
    ...optionsObjectCases((o) => [mat(2, 3), mat(2, 3), o]),
    ['unknown option', [mat(2, 3), mat(2, 3), { dim: 1 }], RangeError, /^Unknown option 'dim' in options; expected one of: eps$/],
    ...numberOptionCases('eps', (o) => [mat(2, 3), mat(2, 3), o], [NaN, Infinity, 0, -1]),
  ]);
});

/** Cases shared by npairsLoss and npairsLossAsync. */
function npairsCases(): Case[] {
  const x = () => mat(3, 4);
  const y = () => mat(3, 4, 50);
  const withOpts = (o: unknown) => [x(), y(), o];
  return [
    ...tensorCases('x1', (v) => [v, y()], { n: 3, d: 4 }),
    ...tensorCases('x2', (v) => [x(), v], { n: 3, d: 4 }),
    ['dtype mix float64 / float32', [mat64(3, 4), y()], TypeError, /^x2 must have the dtype of x1 \(float64\), got float32$/],
    ['dtype mix float32 / float64 Tensor', [x(), pl.Tensor.from(f64(12), [3, 4])], TypeError, /^x2 must have the dtype of x1 \(float32\), got float64$/],
    ['D mismatch', [x(), mat(3, 5)], RangeError, /^x2: must have D = 4 columns like x1, got 5$/],
    ['D mismatch, nested', [nested(2, 3), nested(2, 2)], RangeError, /^x2: must have D = 3 columns like x1, got 2$/],
    ['x1 an empty batch', [{ data: f32(0), shape: [0, 4] }, y()], RangeError, /^x1: an empty batch \(N = 0\)/],
    ['x2 an empty batch', [x(), { data: f32(0), shape: [0, 4] }], RangeError, /^x2: an empty batch/],
    ['both empty nested arrays', [[], []], RangeError, /^x1: an empty batch/],
    ['M < N with the default target', [mat(3, 4), mat(2, 4)], RangeError, /^x2: needs at least as many rows as x1 \(M >= N\) for the default target, got N = 3, M = 2$/],
    ...optionsObjectCases(withOpts),
    ['unknown option', withOpts({ temp: 0.1 }), RangeError, /^Unknown option 'temp' in options; expected one of: target, temperature/],
    ['an option in snake_case', withOpts({ label_smoothing: 0.1 }), RangeError, /^Unknown option 'label_smoothing'/],
    ...numberOptionCases('temperature', withOpts, [NaN, Infinity, -Infinity, 0, -0.07]),
    ...numberOptionCases('labelSmoothing', withOpts, [NaN, Infinity, -0.1, 1.5]),
    ...numberOptionCases('l2Reg', withOpts, [NaN, Infinity, -0.002]),
    ...numberOptionCases('eps', withOpts, [NaN, Infinity, 0, -1e-12]),
    ...enumOptionCases('reduction', withOpts, 'none'),
    ...enumOptionCases('similarity', withOpts, 'euclidean'),
    ...boolOptionCases('symmetric', withOpts),
    ...boolOptionCases('grad', withOpts),
    ...boolOptionCases('returnSimilarity', withOpts),
    ...boolOptionCases('checkFinite', withOpts),
    ['symmetric with M != N', [mat(2, 4), mat(3, 4), { symmetric: true }], RangeError, /^symmetric: needs as many rows in x2 as in x1, got N = 2, M = 3$/],
    ['checkFinite: NaN in x1', [{ data: Float32Array.from([1, NaN, 3, 4, 5, 6]), shape: [2, 3] }, mat(2, 3), { checkFinite: true }], RangeError,
      /^x1 contains NaN or Infinity/],
    ['checkFinite: Infinity in x2', [mat(2, 3), { data: Float32Array.from([1, 2, 3, 4, 5, -Infinity]), shape: [2, 3] }, { checkFinite: true }], RangeError,
      /^x2 contains NaN or Infinity/],
    ['device a number', withOpts({ device: 0 }), TypeError, /for device but received 0/],
    ['unknown device', withOpts({ device: 'gpu' }), RangeError, /for device but received "gpu"/],
    ['missing CUDA device', withOpts({ device: missingCuda }), RangeError, missingCudaMessage],
    ['target a string', withOpts({ target: 'eye' }), TypeError, /for target but received "eye"/],
    ['target a number', withOpts({ target: 0 }), TypeError, /for target but received 0/],
    ['target a Float32Array', withOpts({ target: new Float32Array(3) }), TypeError, /for target but received a Float32Array/],
    ['target index = M', withOpts({ target: [0, 1, 3] }), RangeError, /^Expected an integer class index in \[0, 3\) for target\[2\] but received 3$/],
    ['target index negative', withOpts({ target: [0, -1, 2] }), RangeError, /for target\[1\] but received -1/],
    ['target index non-integer', withOpts({ target: [0, 1.5, 2] }), RangeError, /for target\[1\] but received 1.5/],
    ['target index a string', withOpts({ target: [0, '1', 2] }), TypeError, /for target\[1\] but received "1"/],
    ['target index a BigInt in number[]', withOpts({ target: [0n, 1n, 2n] }), TypeError, /for target\[0\] but received 0n/],
    ['target too short', withOpts({ target: [0, 1] }), RangeError, /^target: expected 3 class indices, got 2$/],
    ['target too long', withOpts({ target: new Int32Array(4) }), RangeError, /^target: expected 3 class indices, got 4$/],
    ['Int32Array target out of range', withOpts({ target: new Int32Array([0, 1, 7]) }), RangeError, /for target\[2\] but received 7/],
    ['BigInt64Array target out of range', withOpts({ target: new BigInt64Array([2n ** 62n, 0n, 1n]) }), RangeError, /for target\[0\] but received 4611686018427387904n/],
    ['BigInt64Array target negative', withOpts({ target: new BigInt64Array([0n, -1n, 1n]) }), RangeError, /for target\[1\] but received -1n/],
    ['detached target', withOpts({ target: detached(new Int32Array([0, 1, 2])) }), RangeError, /^target: .*detached/],
    ['probability target of the wrong shape', withOpts({ target: mat(3, 2) }), RangeError, /^target: a probability target must be \[N, M\] = \[3, 3\], got \[3,2\]$/],
    ['probability target 1-D', withOpts({ target: { data: f32(9), shape: [9] } }), RangeError, /^target: a probability target must be/],
    ['probability target of the wrong dtype', withOpts({ target: mat64(3, 3) }), TypeError, /^target must have the dtype of x1 \(float32\), got float64$/],
    ['probability target ragged', withOpts({ target: [seq(3), seq(3), seq(2)] }), RangeError, /^target: ragged nested array/],
    ['probability target disposed', withOpts({ target: disposed(3, 3) }), RangeError, /^target: the tensor has been disposed$/],
    ['probability target detached', withOpts({ target: { data: detached(f32(9)), shape: [3, 3] } }), RangeError, /^target\.data: .*detached/],
    ['symmetric with a non-permutation target', withOpts({ symmetric: true, target: [0, 0, 1] }), RangeError, /target must be a permutation/],
  ];
}

/** Cases shared by correlationLoss and correlationLossAsync. */
function correlationCases(): Case[] {
  const z = () => mat(4, 3);
  const w = () => mat(4, 3, 50);
  const withOpts = (o: unknown) => [z(), w(), o];
  return [
    ...tensorCases('z1', (v) => [v, w()], { n: 4, d: 3 }),
    ...tensorCases('z2', (v) => [z(), v], { n: 4, d: 3 }),
    ['dtype mix', [mat64(4, 3), w()], TypeError, /^z2 must have the dtype of z1 \(float64\), got float32$/],
    ['D mismatch', [z(), mat(4, 2)], RangeError, /^z2: must have D = 3 columns like z1, got 2$/],
    ['N mismatch', [z(), mat(5, 3)], RangeError, /^z2: must have N = 4 rows like z1, got 5$/],
    ['z1 an empty batch', [{ data: f32(0), shape: [0, 3] }, { data: f32(0), shape: [0, 3] }], RangeError, /^z1: an empty batch/],
    ["'samples' with D = 1", [mat(4, 1), mat(4, 1)], RangeError, /^z1: mode 'samples' .* needs D >= 2, got D = 1$/],
    ["'features' with N = 1", [mat(1, 3), mat(1, 3), { mode: 'features' }], RangeError, /^z1: mode 'features' .* needs N >= 2, got N = 1$/],
    ...optionsObjectCases(withOpts),
    ['unknown option', withOpts({ lamda: 1 }), RangeError, /^Unknown option 'lamda' in options; expected one of: lambda, scale/],
    ...numberOptionCases('lambda', withOpts, [NaN, Infinity, -Infinity]),
    ...numberOptionCases('scale', withOpts, [NaN, Infinity, -Infinity]),
    ...numberOptionCases('eps', withOpts, [NaN, Infinity, 0, -1e-5]),
    ...enumOptionCases('mode', withOpts, 'diagonal'),
    ...boolOptionCases('grad', withOpts),
    ...boolOptionCases('checkFinite', withOpts),
    ...boolOptionCases('syncBatchNorm', withOpts),
    ['checkFinite: NaN in z2', [z(), { data: Float32Array.from([...seq(11), NaN]), shape: [4, 3] }, { checkFinite: true }], RangeError, /^z2 contains NaN or Infinity/],
    ['device a number', withOpts({ device: 1 }), TypeError, /for device but received 1/],
    ['unknown device', withOpts({ device: 'cpu:0' }), RangeError, /for device but received "cpu:0"/],
    ['missing CUDA device', withOpts({ device: missingCuda }), RangeError, missingCudaMessage],
  ];
}

describe('npairsLoss', () => {
  run(pl.npairsLoss, npairsCases());
});

describe('npairsLossAsync rejects with the same errors', () => {
  it.each(npairsCases())('%s', async (_label, args, cls, pattern) => {
    await expectRejects(() => (pl.npairsLossAsync as (...a: unknown[]) => Promise<unknown>)(...args), cls, pattern);
  });
});

describe('correlationLoss', () => {
  run(pl.correlationLoss, correlationCases());
});

describe('correlationLossAsync rejects with the same errors', () => {
  it.each(correlationCases())('%s', async (_label, args, cls, pattern) => {
    await expectRejects(() => (pl.correlationLossAsync as (...a: unknown[]) => Promise<unknown>)(...args), cls, pattern);
  });
});

describe('async errors raised on the worker thread', () => {
  it('keep the caller in the stack', async () => {
    const error = (await expectRejects(
      () => pl.npairsLossAsync(mat(2, 3), { data: Float32Array.from([1, 2, 3, 4, 5, NaN]), shape: [2, 3] }, { checkFinite: true }),
      RangeError,
      /^x2 contains NaN or Infinity/,
    )) as Error;
    expect(error.stack).toMatch(/errors\.test\.ts/);
  });
});

describe('setNumThreads', () => {
  const before = pl.getNumThreads();
  afterAll(() => expect(pl.getNumThreads()).toBe(before));
  run(pl.setNumThreads, [
    ['a string', ['2'], TypeError, /^Expected an integer >= 1 for n but received "2"$/],
    ['undefined', [undefined], TypeError, /for n but received undefined/],
    ['a BigInt', [2n], TypeError, /for n but received 2n/],
    ['0', [0], RangeError, /^Expected an integer in \[1, 256\] for n but received 0$/],
    ['negative', [-1], RangeError, /for n but received -1/],
    ['non-integer', [1.5], RangeError, /for n but received 1.5/],
    ['NaN', [NaN], RangeError, /for n but received NaN/],
    ['Infinity', [Infinity], RangeError, /for n but received Infinity/],
    ['2^40', [2 ** 40], RangeError, /for n but received 1099511627776/],
  ]);
});

// Random inputs, valid and not: each call returns or throws a TypeError /
// RangeError (async: rejects with one); never a plain Error, never a crash.
describe('random arguments never crash and only raise TypeError / RangeError', () => {
  const dims = fc.oneof(fc.integer({ min: 0, max: 4 }), fc.constantFrom(-1, 1.5, NaN, 2 ** 40, 2 ** 53, '2', null));
  const shape = fc.array(dims, { minLength: 0, maxLength: 3 });
  const data = fc.oneof(
    fc.integer({ min: 0, max: 12 }).map((n) => f32(n)),
    fc.integer({ min: 0, max: 12 }).map((n) => f64(n)),
    fc.integer({ min: 0, max: 12 }).map((n) => detached(f32(n))),
    fc.constant(new Int32Array(4)),
    fc.anything(),
  );
  const tensorLike = fc.oneof(
    fc.record({ data, shape }),
    fc.array(fc.array(fc.oneof(fc.double(), fc.anything()), { maxLength: 4 }), { maxLength: 4 }),
    fc.tuple(fc.integer({ min: 1, max: 4 }), fc.integer({ min: 1, max: 4 })).map(([n, d]) => mat(n, d)),
    fc.anything(),
  );
  const value = fc.oneof(fc.double(), fc.integer({ min: -3, max: 5 }), fc.boolean(), fc.string({ maxLength: 8 }), fc.anything());
  const keys = ['target', 'temperature', 'symmetric', 'labelSmoothing', 'reduction', 'similarity', 'l2Reg', 'eps', 'grad',
    'returnSimilarity', 'checkFinite', 'device', 'lambda', 'scale', 'mode', 'p', 'dim', 'labels', 'excludeSelf', 'negatives', 'bias',
    'invarianceWeight', 'varianceWeight', 'covarianceWeight', 'gamma', 'bogus'];
  const target = fc.oneof(fc.array(fc.oneof(fc.integer({ min: -1, max: 4 }), value), { maxLength: 4 }), tensorLike, fc.constant(new BigInt64Array([2n ** 63n - 1n])));
  const options = fc.oneof(
    fc.constant(undefined),
    fc.dictionary(fc.constantFrom(...keys), value, { maxKeys: 3 }),
    fc.record({ target }, { requiredKeys: [] }),
    // SupCon's labels (N-pairs), NT-Xent's memory bank, SigLIP's ±1 target
    fc.record({ labels: target, excludeSelf: fc.oneof(fc.boolean(), value), temperature: value }, { requiredKeys: [] }),
    fc.record({ negatives: tensorLike, temperature: value }, { requiredKeys: [] }),
    fc.anything(),
  );
  const allowed = (e: unknown) => e instanceof Error && (e.constructor.name === 'TypeError' || e.constructor.name === 'RangeError');
  const sync: [string, (a: unknown, b: unknown, o: unknown) => unknown][] = [
    ['normalize', (a, _b, o) => pl.normalize(a as pl.TensorLike, o as never)],
    ['matmul', (a, b) => pl.matmul(a as pl.TensorLike, b as pl.TensorLike)],
    ['crossEntropy', (a, b, o) => pl.crossEntropy(a as pl.TensorLike, b as pl.Indices, o as never)],
    ['batchNorm1d', (a, _b, o) => pl.batchNorm1d(a as pl.TensorLike, o as never)],
    ['cosineSimilarity', (a, b, o) => pl.cosineSimilarity(a as pl.TensorLike, b as pl.TensorLike, o as never)],
    ['npairsLoss', (a, b, o) => pl.npairsLoss(a as pl.TensorLike, b as pl.TensorLike, o as never)],
    ['correlationLoss', (a, b, o) => pl.correlationLoss(a as pl.TensorLike, b as pl.TensorLike, o as never)],
    ['ntXentLoss', (a, b, o) => pl.ntXentLoss(a as pl.TensorLike, b as pl.TensorLike, o as never)],
    ['sigmoidLoss', (a, b, o) => pl.sigmoidLoss(a as pl.TensorLike, b as pl.TensorLike, o as never)],
    ['vicregLoss', (a, b, o) => pl.vicregLoss(a as pl.TensorLike, b as pl.TensorLike, o as never)],
    ['Tensor.from', (a, b, o) => pl.Tensor.from(a as Float32Array, b as number[], o as never)],
    ['tensor', (a, b) => pl.tensor(a as number[][], b as number[])],
  ];
  it.each(sync)('%s', (_name, fn) => {
    fc.assert(
      fc.property(tensorLike, fc.oneof(tensorLike, target, shape), options, (a, b, o) => {
        try {
          fn(a, b, o);
        } catch (e) {
          if (!allowed(e)) throw new Error(`unexpected ${(e as Error)?.constructor?.name}: ${(e as Error)?.message}`);
        }
      }),
      { numRuns: 300, seed: 20240501 },
    );
  });
  it.each([
    ['npairsLossAsync', pl.npairsLossAsync],
    ['correlationLossAsync', pl.correlationLossAsync],
    ['ntXentLossAsync', pl.ntXentLossAsync],
    ['sigmoidLossAsync', pl.sigmoidLossAsync],
    ['vicregLossAsync', pl.vicregLossAsync],
  ] as const)('%s', async (_name, fn) => {
    await fc.assert(
      fc.asyncProperty(tensorLike, tensorLike, options, async (a, b, o) => {
        let promise: Promise<unknown>;
        try {
          promise = (fn as (...x: unknown[]) => Promise<unknown>)(a, b, o);
        } catch (e) {
          throw new Error(`threw synchronously: ${(e as Error)?.message}`);
        }
        try {
          await promise;
        } catch (e) {
          if (!allowed(e)) throw new Error(`unexpected ${(e as Error)?.constructor?.name}: ${(e as Error)?.message}`);
        }
      }),
      { numRuns: 150, seed: 20240502 },
    );
  });
});
