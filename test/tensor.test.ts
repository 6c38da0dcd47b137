// Zero copy (issue 2, "Zero copy and async"): inputs are viewed, not copied;
// results are external ArrayBuffers that own their tensor and data() is a
// view of them. Plus tensor()'s copy, toArray() and dispose().
import * as pl from '../lib';

function seq(n: number, start = 1): number[] {
  return Array.from({ length: n }, (_, i) => Math.sin(i + start));
}

/** Row-wise L2 normalisation in plain JS (float64), the reference for the checks below. */
function normalizeRows(values: ArrayLike<number>, n: number, d: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    let sq = 0;
    for (let j = 0; j < d; j++) sq += values[i * d + j] ** 2;
    const norm = Math.max(Math.sqrt(sq), 1e-12);
    for (let j = 0; j < d; j++) out.push(values[i * d + j] / norm);
  }
  return out;
}

function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, tol: number): void {
  expect(actual.length).toBe(expected.length);
  for (let i = 0; i < expected.length; i++) {
    if (!(Math.abs(actual[i] - expected[i]) <= tol)) {
      throw new Error(`element ${i}: ${actual[i]} vs ${expected[i]} (tolerance ${tol})`);
    }
  }
}

describe('Tensor.from views its array', () => {
  it('data() is the very array it was made from', () => {
    const a = Float32Array.from(seq(6));
    const t = pl.Tensor.from(a, [2, 3]);
    expect(t.data()).toBe(a);
    expect(t.shape).toEqual([2, 3]);
    expect(Object.isFrozen(t.shape)).toBe(true);
    expect(t.dtype).toBe('float32');
    expect(t.device).toBe('cpu');
    expect(t.size).toBe(6);
    const b = Float64Array.from(seq(6));
    const u = pl.Tensor.from(b, [3, 2]);
    expect(u.data()).toBe(b);
    expect(u.dtype).toBe('float64');
  });

  it('keeps no copy of the shape array it was given', () => {
    const shape = [2, 3];
    const t = pl.Tensor.from(new Float32Array(6), shape);
    shape[0] = 3;
    expect(t.shape).toEqual([2, 3]);
  });

  it('sees later writes to the array in the next computation', () => {
    const a = Float32Array.from([3, 4, 1, 0]);
    const t = pl.Tensor.from(a, [2, 2]);
    expect(Array.from(pl.normalize(t).data())).toEqual([0.6000000238418579, 0.800000011920929, 1, 0]);
    a.set([0, 2, 5, 12]);
    expectClose(pl.normalize(t).data(), normalizeRows([0, 2, 5, 12], 2, 2), 1e-7);
    a[0] = -8;
    a[1] = 6;
    expectClose(pl.normalize(t).data(), normalizeRows([-8, 6, 5, 12], 2, 2), 1e-7);
  });

  it('losses see later writes too (no cached copy)', () => {
    const x1 = Float32Array.from(seq(12));
    const x2 = Float32Array.from(seq(12, 40));
    const t1 = pl.Tensor.from(x1, [3, 4]);
    const t2 = pl.Tensor.from(x2, [3, 4]);
    const before = pl.npairsLoss(t1, t2).loss;
    x1.set(seq(12, 100));
    const after = pl.npairsLoss(t1, t2).loss;
    const fresh = pl.npairsLoss({ data: Float32Array.from(seq(12, 100)), shape: [3, 4] }, { data: Float32Array.from(seq(12, 40)), shape: [3, 4] }).loss;
    expect(after).not.toBe(before);
    expect(after).toBe(fresh);
  });

  it('the same array may be both inputs', () => {
    const a = Float64Array.from(seq(12));
    const t = pl.Tensor.from(a, [3, 4]);
    const same = pl.npairsLoss(t, t);
    const copies = pl.npairsLoss({ data: a.slice(), shape: [3, 4] }, { data: a.slice(), shape: [3, 4] });
    expect(same.loss).toBe(copies.loss);
    expect(Array.from(same.grad1!.data())).toEqual(Array.from(copies.grad1!.data()));
    expect(Array.from(same.grad2!.data())).toEqual(Array.from(copies.grad2!.data()));
  });
});

describe('views into a larger buffer (byteOffset)', () => {
  const n = 3;
  const d = 4;
  it.each([
    ['Float32Array.subarray', () => Float32Array.from(seq(40, 7)).subarray(5, 5 + n * d)],
    ['Float64Array.subarray', () => Float64Array.from(seq(40, 7)).subarray(9, 9 + n * d)],
    ['new Float32Array(buffer, 4, n)', () => {
      const buffer = new ArrayBuffer(4 * 50);
      new Float32Array(buffer).set(seq(50, 3));
      return new Float32Array(buffer, 4, n * d);
    }],
    ['new Float64Array(buffer, 8·7, n)', () => {
      const buffer = new ArrayBuffer(8 * 50);
      new Float64Array(buffer).set(seq(50, 3));
      return new Float64Array(buffer, 8 * 7, n * d);
    }],
  ] as const)('%s gives the numbers of its own elements', (_label, make) => {
    const view = make();
    expect(view.byteOffset).toBeGreaterThan(0);
    expect(view.buffer.byteLength).toBeGreaterThan(view.byteLength);
    const copy = view.slice();
    const t = pl.Tensor.from(view, [n, d]);
    expect(t.data()).toBe(view);
    // the same numbers as a standalone copy, and as plain JS
    const onView = pl.normalize(t).data();
    expect(Array.from(onView)).toEqual(Array.from(pl.normalize({ data: copy, shape: [n, d] }).data()));
    expectClose(onView, normalizeRows(copy, n, d), view instanceof Float64Array ? 1e-15 : 1e-7);
    // losses and their gradients too
    const other = view instanceof Float64Array ? Float64Array.from(seq(n * d, 77)) : Float32Array.from(seq(n * d, 77));
    const a = pl.npairsLoss(t, { data: other, shape: [n, d] });
    const b = pl.npairsLoss({ data: copy, shape: [n, d] }, { data: other, shape: [n, d] });
    expect(a.loss).toBe(b.loss);
    expect(Array.from(a.grad1!.data())).toEqual(Array.from(b.grad1!.data()));
    const c = pl.correlationLoss({ data: view, shape: [n, d] }, { data: other, shape: [n, d] });
    const e = pl.correlationLoss({ data: copy, shape: [n, d] }, { data: other, shape: [n, d] });
    expect(c.loss).toBe(e.loss);
    expect(Array.from(c.grad2!.data())).toEqual(Array.from(e.grad2!.data()));
    // the computation did not write outside (or inside) the view
    expect(Array.from(view)).toEqual(Array.from(copy));
  });

  it('a view sees writes made through the larger array', () => {
    const big = Float32Array.from(seq(20));
    const t = pl.Tensor.from(big.subarray(4, 8), [2, 2]);
    big.set([3, 4, 0, 5], 4);
    expectClose(pl.normalize(t).data(), [0.6, 0.8, 0, 1], 1e-7);
  });

  it('Int32Array / BigInt64Array targets at an offset', () => {
    const logits = { data: Float32Array.from(seq(6)), shape: [2, 3] };
    const ints = new Int32Array([9, 9, 2, 0, 9]).subarray(2, 4);
    const bigs = new BigInt64Array([7n, 2n, 0n]).subarray(1);
    const expected = pl.crossEntropy(logits, [2, 0]);
    expect(pl.crossEntropy(logits, ints)).toBe(expected);
    expect(pl.crossEntropy(logits, bigs)).toBe(expected);
  });
});

describe('SharedArrayBuffer-backed arrays', () => {
  function shared(values: number[], Type: typeof Float32Array | typeof Float64Array): Float32Array | Float64Array {
    const a = new Type(new SharedArrayBuffer(values.length * Type.BYTES_PER_ELEMENT) as unknown as ArrayBuffer);
    a.set(values);
    return a;
  }

  it.each([['Float32Array', Float32Array], ['Float64Array', Float64Array]] as const)('%s over a SharedArrayBuffer', (_label, Type) => {
    const x1 = shared(seq(12), Type);
    const x2 = shared(seq(12, 30), Type);
    expect(x1.buffer).toBeInstanceOf(SharedArrayBuffer);
    const t1 = pl.Tensor.from(x1, [3, 4]);
    expect(t1.data()).toBe(x1);
    const plain = (v: Float32Array | Float64Array) => ({ data: new Type(v), shape: [3, 4] });
    const onShared = pl.npairsLoss(t1, { data: x2, shape: [3, 4] }, { symmetric: true });
    const onPlain = pl.npairsLoss(plain(x1), plain(x2), { symmetric: true });
    expect(onShared.loss).toBe(onPlain.loss);
    expect(Array.from(onShared.grad1!.data())).toEqual(Array.from(onPlain.grad1!.data()));
    expect(Array.from(pl.normalize(t1).data())).toEqual(Array.from(pl.normalize(plain(x1)).data()));
    // a view into the shared memory sees writes to it
    x1.set(seq(12, 60));
    expect(Array.from(pl.normalize(t1).data())).toEqual(Array.from(pl.normalize(plain(x1)).data()));
  });

  it('a shared subarray and a shared Int32Array target', () => {
    const big = shared(seq(30), Float32Array);
    const view = big.subarray(6, 12);
    const target = new Int32Array(new SharedArrayBuffer(8));
    target.set([1, 2]);
    expect(pl.crossEntropy({ data: view, shape: [2, 3] }, target)).toBe(pl.crossEntropy({ data: view.slice(), shape: [2, 3] }, [1, 2]));
  });

  it('async losses take shared arrays too', async () => {
    const x1 = shared(seq(12), Float64Array);
    const x2 = shared(seq(12, 30), Float64Array);
    const sync = pl.correlationLoss({ data: x1, shape: [3, 4] }, { data: x2, shape: [3, 4] });
    const async = await pl.correlationLossAsync({ data: x1, shape: [3, 4] }, { data: x2, shape: [3, 4] });
    expect(async.loss).toBe(sync.loss);
    expect(Array.from(async.grad1!.data())).toEqual(Array.from(sync.grad1!.data()));
  });
});

describe('results own their memory through external ArrayBuffers', () => {
  it('data() returns the same view every time, over a buffer of exactly its bytes', () => {
    const r = pl.npairsLoss({ data: Float32Array.from(seq(12)), shape: [3, 4] }, { data: Float32Array.from(seq(20, 9)), shape: [5, 4] }, { returnSimilarity: true });
    for (const [t, shape] of [[r.grad1!, [3, 4]], [r.grad2!, [5, 4]], [r.similarity!, [3, 5]]] as const) {
      expect(t.shape).toEqual(shape);
      const view = t.data();
      expect(t.data()).toBe(view);
      expect(view.byteOffset).toBe(0);
      expect(view.buffer.byteLength).toBe(view.byteLength);
      expect(view.length).toBe(shape[0] * shape[1]);
    }
    // three results, three distinct buffers
    const buffers = new Set([r.grad1!.data().buffer, r.grad2!.data().buffer, r.similarity!.data().buffer]);
    expect(buffers.size).toBe(3);
  });

  it('each result tensor is one new buffer: external, or V8\'s own for gradients up to 1 MiB (memoryStats)', () => {
    const x = { data: Float64Array.from(seq(12)), shape: [3, 4] };
    const y = { data: Float64Array.from(seq(12, 5)), shape: [3, 4] };
    const count = () => pl.memoryStats().externalBuffers;
    let before = count();
    const r = pl.npairsLoss(x, y);
    // the gradients were computed into ArrayBuffers V8 allocated (no external buffer, no finalizer)
    expect(count() - before).toBe(0);
    expect(r.grad1!.data().buffer).not.toBe(r.grad2!.data().buffer);
    before = count();
    const s = pl.npairsLoss(x, y, { grad: false, returnSimilarity: true });
    expect(count() - before).toBe(1); // similarity only
    expect(s.grad1).toBeUndefined();
    before = count();
    pl.correlationLoss(x, y);
    expect(count() - before).toBe(0);
    before = count();
    // 'dot' takes the reference path: its gradients come back in external buffers
    pl.npairsLoss(x, y, { similarity: 'dot' });
    expect(count() - before).toBe(2);
    before = count();
    // above 1 MiB a gradient is an external buffer too
    const big = { data: new Float64Array(400 * 400).map((_, i) => Math.sin(i)), shape: [400, 400] };
    pl.npairsLoss(big, big);
    expect(count() - before).toBe(2);
    before = count();
    pl.matmul(x, { data: y.data, shape: [4, 3] });
    expect(count() - before).toBe(1);
    // results keep the inputs' dtype (their arrays are made by native code, in Node's own realm)
    expect(r.grad1!.dtype).toBe('float64');
    expect(Object.prototype.toString.call(r.grad1!.data())).toBe('[object Float64Array]');
    expect(pl.normalize([[1, 2]]).dtype).toBe('float32');
  });

  it('results are taken back as inputs, as Tensors and as { data, shape }', () => {
    const x = { data: Float64Array.from(seq(12)), shape: [3, 4] };
    const r = pl.normalize(x);
    expect(r.dtype).toBe('float64');
    const viaTensor = pl.npairsLoss(r, x);
    const viaObject = pl.npairsLoss({ data: r.data(), shape: [3, 4] }, x);
    const viaCopy = pl.npairsLoss({ data: Float64Array.from(r.data()), shape: [3, 4] }, x);
    expect(viaTensor.loss).toBe(viaCopy.loss);
    expect(viaObject.loss).toBe(viaCopy.loss);
    expect(pl.Tensor.from(r.data(), [4, 3]).dtype).toBe('float64');
  });

  it('writes to a result are seen when it is used as an input (it is a view too)', () => {
    const r = pl.normalize([[3, 4], [6, 8]]);
    const view = r.data();
    view.set([0, 1, 1, 0]);
    expect(r.toArray()).toEqual([[0, 1], [1, 0]]);
    expect(pl.matmul(r, [[2], [3]]).toArray()).toEqual([[3], [2]]);
  });
});

describe('tensor() copies', () => {
  it('from a typed array', () => {
    const a = Float32Array.from(seq(6));
    const t = pl.tensor(a, [2, 3]);
    expect(t.data()).not.toBe(a);
    expect(t.data().buffer).not.toBe(a.buffer);
    expect(Array.from(t.data())).toEqual(Array.from(a));
    a.fill(0);
    expect(Array.from(t.data())).toEqual(Array.from(Float32Array.from(seq(6))));
    const b = pl.tensor(Float64Array.from(seq(4)), [4]);
    expect(b.dtype).toBe('float64');
    expect(b.shape).toEqual([4]);
  });

  it('from nested arrays (float32, shape inferred or given)', () => {
    const rows = [[1, 2, 3], [4, 5, 6]];
    const t = pl.tensor(rows);
    expect(t.shape).toEqual([2, 3]);
    expect(t.dtype).toBe('float32');
    rows[0][0] = 100;
    expect(t.toArray()).toEqual([[1, 2, 3], [4, 5, 6]]);
    expect(pl.tensor([[1, 2], [3, 4]], [4]).shape).toEqual([4]);
    expect(pl.tensor([]).shape).toEqual([0, 0]);
    expect(pl.tensor([[], []]).shape).toEqual([2, 0]);
  });

  it('from a subarray copies only the view', () => {
    const big = Float64Array.from(seq(10));
    const t = pl.tensor(big.subarray(2, 6), [2, 2]);
    expect(Array.from(t.data())).toEqual(Array.from(big.subarray(2, 6)));
    expect(t.data().byteOffset).toBe(0);
    expect(t.data().buffer.byteLength).toBe(32);
  });
});

describe('toArray', () => {
  it('a matrix as rows, a vector flat, a copy', () => {
    const m = pl.Tensor.from(Float64Array.from([1, 2, 3, 4, 5, 6]), [2, 3]);
    const rows: number[][] = m.toArray(); // Tensor.from(…, [2, 3]) is a Tensor<2>
    expect(rows).toEqual([[1, 2, 3], [4, 5, 6]]);
    expect(m.rank).toBe(2);
    rows[0][0] = 9;
    expect(m.data()[0]).toBe(1);
    const v = pl.crossEntropy([[2, 0], [0, 2], [1, 1]], [0, 1, 0], { reduction: 'none' });
    expect(v.shape).toEqual([3]);
    const flat = v.toArray() as number[];
    expect(flat).toHaveLength(3);
    expect(flat[0]).toBeCloseTo(Math.log(1 + Math.exp(-2)), 6);
    expect(flat[2]).toBeCloseTo(Math.log(2), 6);
    expect(pl.Tensor.from(new Float32Array(0), [0, 3]).toArray()).toEqual([]);
    expect(pl.Tensor.from(Float32Array.from([1, 2, 3, 4]), [1, 2, 2]).toArray()).toEqual([1, 2, 3, 4]);
  });
});

describe('dispose', () => {
  it('drops the reference; the tensor can no longer be read or used', () => {
    const a = Float32Array.from(seq(6));
    const t = pl.Tensor.from(a, [2, 3]);
    expect(t.disposed).toBe(false);
    t.dispose();
    expect(t.disposed).toBe(true);
    expect(() => t.data()).toThrow(/disposed/);
    expect(() => pl.normalize(t)).toThrow(RangeError);
    // the caller's array is untouched
    expect(Array.from(a)).toEqual(Array.from(Float32Array.from(seq(6))));
    // shape and dtype stay readable
    expect(t.shape).toEqual([2, 3]);
    expect(t.dtype).toBe('float32');
  });

  it('a disposed result tensor', () => {
    const r = pl.correlationLoss([[1, 2, 3], [4, 5, 7]], [[1, 0, 1], [2, 2, 0]]);
    r.grad1!.dispose();
    expect(() => r.grad1!.toArray()).toThrow(/disposed/);
    expect(r.grad2!.data()).toHaveLength(6);
  });
});

describe('typed arrays from another realm', () => {
  it('are taken as what they are (dtype, zero copy)', () => {
    // eslint-disable-next-line @typescript-eslint/no-var-requires
    const vm = require('vm') as typeof import('vm');
    const realm = vm.runInNewContext('({ f32: new Float32Array([3, 4, 0, 2]), f64: new Float64Array([3, 4, 0, 2]), i32: new Int32Array([1, 0]) })') as {
      f32: Float32Array; f64: Float64Array; i32: Int32Array;
    };
    expect(realm.f64 instanceof Float64Array).toBe(false);
    const t = pl.Tensor.from(realm.f64, [2, 2]);
    expect(t.dtype).toBe('float64');
    expect(t.data()).toBe(realm.f64);
    expect(pl.normalize(t).toArray()).toEqual([[0.6, 0.8], [0, 1]]);
    expect(pl.normalize({ data: realm.f32, shape: [2, 2] }).dtype).toBe('float32');
    expect(pl.crossEntropy({ data: realm.f32, shape: [2, 2] }, realm.i32)).toBe(pl.crossEntropy({ data: realm.f32, shape: [2, 2] }, [1, 0]));
    expect(pl.tensor(realm.f64, [4]).dtype).toBe('float64');
  });
});

describe('to(device)', () => {
  it("'cpu' is the tensor itself", () => {
    const t = pl.tensor([[1, 2]]);
    expect(t.to('cpu')).toBe(t);
  });
});

describe("onnxruntime tensors ({ data, dims, type })", () => {
  /**
   * The shape of onnxruntime-common's Tensor (onnxruntime-node's outputs), duck-typed as pairloss takes it:
   * `dims`, `type`, `size`, `location`, and a `data` getter that throws when the data is not on the CPU.
   */
  class OrtLikeTensor {
    readonly size: number;
    constructor(readonly type: string, private readonly cpuData: unknown, readonly dims: readonly number[], readonly location = 'cpu') {
      this.size = dims.reduce((a, b) => a * b, 1);
    }
    get data(): unknown {
      if (this.location !== 'cpu') throw new Error('The data is not on CPU. Use `getData()` to download GPU data to CPU.');
      return this.cpuData;
    }
  }
  const ort = (type: string, data: unknown, dims: number[], location?: string) =>
    new OrtLikeTensor(type, data, dims, location) as unknown as pl.OnnxTensorLike;

  it('are taken as { data, shape } (float32 and float64), in ops and losses', () => {
    const a = Float32Array.from(seq(12)), b = Float32Array.from(seq(12, 5));
    const ours = pl.npairsLoss(ort('float32', a, [3, 4]), ort('float32', b, [3, 4]), { temperature: 0.5 });
    const ref = pl.npairsLoss(pl.Tensor.from(a, [3, 4]), pl.Tensor.from(b, [3, 4]), { temperature: 0.5 });
    expect(ours.loss).toBe(ref.loss);
    expect(Array.from(ours.grad1.data())).toEqual(Array.from(ref.grad1.data()));
    const n = pl.normalize(ort('float64', Float64Array.from(seq(6)), [2, 3]));
    expect(n.dtype).toBe('float64');
    expectClose(n.data(), normalizeRows(seq(6), 2, 3), 1e-15);
    // `type` may be left out; a nested array beside a float64 one is float64 too.
    const c = pl.correlationLoss({ data: Float64Array.from(seq(12)), dims: [3, 4] }, seq(12, 3).reduce<number[][]>(
      (rows, x, i) => (i % 4 ? rows[rows.length - 1].push(x) : rows.push([x]), rows), []));
    expect(c.grad1.dtype).toBe('float64');
  });

  it('a type that disagrees with the array is a TypeError naming the argument', () => {
    const x = pl.tensor([[1, 2], [3, 4]]);
    expect(() => pl.npairsLoss(ort('float64', new Float32Array(4), [2, 2]), x)).toThrow(TypeError);
    expect(() => pl.npairsLoss(ort('float64', new Float32Array(4), [2, 2]), x)).toThrow(/x1\.type to agree with x1\.data \(a Float32Array: 'float32'\) but received "float64"/);
    expect(() => pl.npairsLoss(x, ort('float32', new Float64Array(4), [2, 2]))).toThrow(/x2\.type/);
    // Element types pairloss does not compute with: the data is named.
    expect(() => pl.npairsLoss(x, ort('int32', new Int32Array(4), [2, 2]))).toThrow(TypeError);
    expect(() => pl.npairsLoss(x, ort('int32', new Int32Array(4), [2, 2]))).toThrow(/x2\.data/);
    expect(() => pl.normalize(ort('string', ['a', 'b'], [2]))).toThrow(/x\.data/);
  });

  it('bad dims are TypeErrors/RangeErrors naming them; GPU-held data a RangeError', () => {
    const x = pl.tensor([[1, 2], [3, 4]]);
    expect(() => pl.npairsLoss(ort('float32', new Float32Array(4), [2, 3]), x)).toThrow(/x1: dims \[2, 3\] needs 6 elements but data has 4/);
    expect(() => pl.npairsLoss(x, { data: new Float32Array(4), dims: 4 } as never)).toThrow(TypeError);
    expect(() => pl.npairsLoss(x, { data: new Float32Array(4), dims: 4 } as never)).toThrow(/x2\.dims/);
    expect(() => pl.npairsLoss(x, ort('float32', new Float32Array(4), [-2, -2]))).toThrow(/x2\.dims\[0\]/);
    expect(() => pl.npairsLoss(ort('float32', new Float32Array(4), [4]), x)).toThrow(/x1: expected a 2-D tensor/);
    expect(() => pl.npairsLoss(ort('float32', new Float32Array(4), [2, 2], 'gpu-buffer'), x)).toThrow(RangeError);
    expect(() => pl.npairsLoss(ort('float32', new Float32Array(4), [2, 2], 'gpu-buffer'), x)).toThrow(/x1\.data: could not be read \(The data is not on CPU/);
  });
});
