// Device placement (DESIGN.md "Tensors", issue 6 "Device placement"): tensors
// held natively through a handle stay where they are computed until data() or
// to('cpu') copies them to host, dispose() frees their memory at once, use
// after dispose is a clean error, and async calls work on them.
//
// Without a GPU the same machinery runs on the CPU: Tensor.residentCpu (an
// internal factory) makes a handle-backed CPU tensor, as a CUDA tensor is
// held on its device. With PAIRLOSS_TEST_DEVICE=cuda (scripts/gpu-check.sh on
// a lent GPU) every check here runs on CUDA tensors instead, plus the
// CUDA-only checks at the end (device memory freed by dispose, as the CUDA
// caching allocator counts it).
import * as v8 from 'v8';
import * as vm from 'vm';
import * as pl from '../lib';
import { binding } from '../lib/binding';
import { residentCpu, Tensor } from '../lib/tensor';

const DEVICE_ENV = process.env.PAIRLOSS_TEST_DEVICE ?? 'cpu';
const CUDA = DEVICE_ENV.startsWith('cuda');
/** Where resident tensors live in this run ('cpu', or 'cuda:N'). */
const DEVICE = CUDA ? (DEVICE_ENV === 'cuda' ? 'cuda:0' : DEVICE_ENV) : 'cpu';

// gc() in this process (as --expose-gc gives it), so that counting tests start
// with no unreachable handle left for GC to finalize while they count.
v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;
/** Collects until handle finalizers (which run on later turns of the loop) have run. */
async function collect(rounds = 6): Promise<void> {
  for (let i = 0; i < rounds; i++) {
    gc();
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** Deterministic values in [-0.5, 0.5) (an LCG), so that failures reproduce. */
function values(n: number, seed: number): number[] {
  let x = seed >>> 0;
  return Array.from({ length: n }, () => {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
    return x / 2 ** 32 - 0.5;
  });
}
type Host = { data: Float32Array | Float64Array; shape: number[] };
function mat(n: number, d: number, seed: number, dtype: 'float32' | 'float64' = 'float32'): Host {
  const v = values(n * d, seed);
  return { data: dtype === 'float64' ? Float64Array.from(v) : Float32Array.from(v), shape: [n, d] };
}
/** A row-stochastic [n, m] matrix (a probability target). */
function probabilities(n: number, m: number, seed: number, dtype: 'float32' | 'float64' = 'float32'): Host {
  const v = values(n * m, seed).map((x) => Math.exp(2 * x));
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let j = 0; j < m; j++) s += v[i * m + j];
    for (let j = 0; j < m; j++) v[i * m + j] /= s;
  }
  return { data: dtype === 'float64' ? Float64Array.from(v) : Float32Array.from(v), shape: [n, m] };
}

/** `x` held natively on this run's device: one copy of the host data. */
function place(x: Host): Tensor {
  return CUDA ? Tensor.from(x.data, x.shape, { device: DEVICE }) : residentCpu(x);
}

function bytes(a: ArrayLike<number> & { buffer: ArrayBufferLike; byteOffset: number; byteLength: number }): Buffer {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength);
}

/** Bit-for-bit equality of two tensors' values (same shape and dtype). */
function expectSameTensor(actual: Tensor | undefined, expected: Tensor | undefined, what: string): void {
  expect({ what, defined: actual !== undefined }).toEqual({ what, defined: expected !== undefined });
  if (!actual || !expected) return;
  expect({ what, shape: actual.shape, dtype: actual.dtype }).toEqual({ what, shape: expected.shape, dtype: expected.dtype });
  const same = bytes(actual.data()).equals(bytes(expected.data()));
  if (!same) {
    const a = actual.data();
    const e = expected.data();
    let worst = 0;
    for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - e[i]));
    throw new Error(`${what}: not bit-for-bit equal (max |diff| ${worst})`);
  }
}

type AnyResult = { loss: number; onDiagonal?: number; offDiagonal?: number; gradTemperature?: number; grad1?: Tensor; grad2?: Tensor; similarity?: Tensor };
function expectSameResult(actual: AnyResult, expected: AnyResult, what: string): void {
  expect({ what, loss: actual.loss, on: actual.onDiagonal, off: actual.offDiagonal, gt: actual.gradTemperature }).toEqual({
    what, loss: expected.loss, on: expected.onDiagonal, off: expected.offDiagonal, gt: expected.gradTemperature,
  });
  for (const key of ['grad1', 'grad2', 'similarity'] as const) expectSameTensor(actual[key], expected[key], `${what}.${key}`);
}
function residentParts(r: AnyResult): boolean[] {
  return (['grad1', 'grad2', 'similarity'] as const).filter((k) => r[k] !== undefined).map((k) => r[k]!.resident);
}

/** Live handles and the bytes they hold (memoryStats), for this process. */
function handleCounts(): { live: number; bytes: number; hostBytes: number } {
  const s = binding().memoryStats();
  return { live: s.handles - s.freedHandles, bytes: s.handleBytes, hostBytes: s.hostHandleBytes };
}

describe(`tensors held natively (${DEVICE})`, () => {
  it('are made by one copy of the host data, with their shape, dtype and device', () => {
    for (const dtype of ['float32', 'float64'] as const) {
      const host = mat(3, 4, 1, dtype);
      const t = place(host);
      expect({ resident: t.resident, device: t.device, shape: t.shape, dtype: t.dtype, size: t.size }).toEqual({
        resident: true, device: DEVICE, shape: [3, 4], dtype, size: 12,
      });
      // a copy: later writes to the host array are not seen
      const before = Array.from(host.data);
      host.data.fill(7);
      expect(Array.from(t.data())).toEqual(before);
      expect(t.toArray()).toEqual([before.slice(0, 4), before.slice(4, 8), before.slice(8)]);
      expect(t.toJSON()).toEqual({ shape: [3, 4], dtype, device: DEVICE });
    }
  });

  it('data() is a new copy in host memory on every call; writing to it does not reach the tensor', () => {
    const host = mat(4, 5, 2);
    const t = place(host);
    const a = t.data();
    const b = t.data();
    expect(a).not.toBe(b);
    expect(a.buffer).not.toBe(b.buffer);
    expect(bytes(a).equals(bytes(host.data))).toBe(true);
    a.fill(0);
    expect(bytes(t.data()).equals(bytes(host.data))).toBe(true);
  });

  it("to('cpu') is a typed-array tensor (a copy, then zero copy as any CPU tensor); to(own CUDA device) is the tensor", () => {
    const host = mat(3, 2, 3, 'float64');
    const t = place(host);
    if (CUDA) {
      expect(t.to(DEVICE)).toBe(t);
      expect(t.to('cuda:' + DEVICE.slice(5))).toBe(t);
    }
    const c = t.to('cpu');
    expect({ resident: c.resident, device: c.device, shape: c.shape, dtype: c.dtype }).toEqual({ resident: false, device: 'cpu', shape: [3, 2], dtype: 'float64' });
    expect(c.data()).toBe(c.data()); // its own memory now, no further copies
    expect(bytes(c.data()).equals(bytes(host.data))).toBe(true);
    expect(c.to('cpu')).toBe(c);
    // back again: a new native copy
    const again = c.to(DEVICE);
    if (CUDA) {
      expect(again).not.toBe(c);
      expect(again.resident).toBe(true);
      expect(bytes(again.data()).equals(bytes(host.data))).toBe(true);
    } else {
      expect(again).toBe(c); // a typed-array CPU tensor is already on 'cpu'
    }
  });

  it('typed-array CPU tensors keep their zero-copy behaviour', () => {
    const a = new Float32Array([1, 2, 3, 4]);
    const t = pl.Tensor.from(a, [2, 2]);
    expect(t.resident).toBe(false);
    expect(t.data()).toBe(a);
    expect(t.to('cpu')).toBe(t);
    const before = handleCounts();
    const r = pl.npairsLoss(t, t, { returnSimilarity: true });
    expect(residentParts(r)).toEqual([false, false, false]);
    expect(handleCounts()).toEqual(before);
  });
});

describe('results stay held natively', () => {
  const x = mat(6, 5, 4);
  const y = mat(8, 5, 5);
  const logits = mat(6, 8, 6);

  it('ops: normalize, matmul, cosineSimilarity, batchNorm1d, crossEntropy(none)', () => {
    const rx = place(x);
    const ry = place(y);
    const rl = place(logits);
    const yT = place({ data: Float32Array.from({ length: 40 }, (_, i) => y.data[(i % 8) * 5 + Math.floor(i / 8)]), shape: [5, 8] });
    const out = {
      normalize: pl.normalize(rx),
      matmul: pl.matmul(rx, yT),
      cosineSimilarity: pl.cosineSimilarity(rx, ry),
      batchNorm1d: pl.batchNorm1d(rx),
      crossEntropy: pl.crossEntropy(rl, [0, 1, 2, 3, 4, 5], { reduction: 'none' }),
    };
    for (const [name, t] of Object.entries(out)) {
      expect({ name, resident: t.resident, device: t.device }).toEqual({ name, resident: true, device: DEVICE });
    }
    expect(out.matmul.shape).toEqual([6, 8]);
    expect(out.cosineSimilarity.shape).toEqual([6, 8]);
    expect(out.crossEntropy.shape).toEqual([6]);
    // a reduced cross entropy is a number, its one-element result freed at once
    const before = handleCounts();
    expect(typeof pl.crossEntropy(rl, [0, 1, 2, 3, 4, 5])).toBe('number');
    expect(handleCounts()).toEqual(before);
  });

  it('losses: grad1, grad2 and similarity; results feed further calls without leaving the device', () => {
    const r = pl.npairsLoss(place(x), place(y), { returnSimilarity: true, temperature: 0.1 });
    expect(residentParts(r)).toEqual([true, true, true]);
    expect(r.grad1!.device).toBe(DEVICE);
    expect(r.similarity!.shape).toEqual([6, 8]);
    const c = pl.correlationLoss(place(x), place(mat(6, 5, 7)), { mode: 'features' });
    expect(residentParts(c)).toEqual([true, true]);
    // a result as the next call's input
    const n = pl.normalize(r.grad1!);
    expect(n.resident).toBe(true);
    expect(pl.npairsLoss(r.grad1!, r.grad2!).grad1!.resident).toBe(true);
  });
});

describe('parity: handle inputs give the typed-array path\'s results bit for bit', () => {
  // Both sides compute on the same device with the same kernels: on CPU the
  // typed-array inputs, on CUDA host inputs with { device } (copied per call).
  const onDevice = CUDA ? { device: DEVICE } : {};
  const cases: [string, number, number, number, 'float32' | 'float64', Record<string, unknown>][] = [
    ['defaults', 8, 8, 6, 'float32', {}],
    ['CLIP: symmetric, temperature', 12, 12, 7, 'float32', { symmetric: true, temperature: 0.07 }],
    ['extra negatives, label smoothing, sum', 5, 9, 4, 'float32', { labelSmoothing: 0.1, reduction: 'sum' }],
    ["Sohn: 'dot' with l2Reg", 6, 6, 5, 'float32', { similarity: 'dot', l2Reg: 0.002 }],
    ['float64, symmetric', 7, 7, 3, 'float64', { symmetric: true, temperature: 0.5 }],
  ];

  for (const fused of [true, false]) {
    describe(fused ? 'fused kernels (default)' : 'autograd path', () => {
      beforeAll(() => binding().setFusedKernels(fused));
      afterAll(() => binding().setFusedKernels(true));

      it.each(cases)('npairsLoss: %s', (name, n, m, d, dtype, opts) => {
        const a = mat(n, d, 11, dtype);
        const b = mat(m, d, 12, dtype);
        const expected = pl.npairsLoss(a, b, { ...opts, ...onDevice, returnSimilarity: true });
        const actual = pl.npairsLoss(place(a), place(b), { ...opts, returnSimilarity: true });
        expect(residentParts(actual)).toEqual([true, true, true]);
        expectSameResult(actual, expected, name);
      });

      it('npairsLoss with class indices and with a probability target (resident)', () => {
        const a = mat(5, 4, 13);
        const b = mat(7, 4, 14);
        const idx = Int32Array.from([6, 0, 3, 3, 1]);
        expectSameResult(pl.npairsLoss(place(a), place(b), { target: idx }), pl.npairsLoss(a, b, { target: idx, ...onDevice }), 'indices');
        const p = probabilities(5, 7, 15);
        expectSameResult(pl.npairsLoss(place(a), place(b), { target: place(p) }), pl.npairsLoss(a, b, { target: p, ...onDevice }), 'probabilities');
      });

      it.each([['samples', 'float32'], ['features', 'float32'], ['features', 'float64']] as const)('correlationLoss: %s, %s', (mode, dtype) => {
        const a = mat(9, 6, 16, dtype);
        const b = mat(9, 6, 17, dtype);
        const expected = pl.correlationLoss(a, b, { mode, ...onDevice });
        const actual = pl.correlationLoss(place(a), place(b), { mode });
        expect(residentParts(actual)).toEqual([true, true]);
        expectSameResult(actual, expected, `correlation ${mode}`);
      });
    });
  }

  it('ops: the same values as on typed arrays', () => {
    const a = mat(5, 6, 18);
    const b = mat(7, 6, 19);
    // on CUDA the reference is the same op on a tensor copied to the device by to()
    const ref = (t: Host): Host | Tensor => (CUDA ? pl.Tensor.from(t.data, t.shape).to(DEVICE) : t);
    expectSameTensor(pl.normalize(place(a)), pl.normalize(ref(a)), 'normalize');
    expectSameTensor(pl.cosineSimilarity(place(a), place(b)), pl.cosineSimilarity(ref(a), ref(b)), 'cosineSimilarity');
    expectSameTensor(pl.batchNorm1d(place(b)), pl.batchNorm1d(ref(b)), 'batchNorm1d');
    const l = mat(5, 7, 20);
    expect(pl.crossEntropy(place(l), [1, 2, 3, 4, 5], { labelSmoothing: 0.2 })).toBe(pl.crossEntropy(ref(l), [1, 2, 3, 4, 5], { labelSmoothing: 0.2 }));
  });
});

describe('mixing a held tensor with host inputs', () => {
  const a = mat(4, 3, 21);
  const b = mat(4, 3, 22);
  if (!CUDA) {
    it('on CPU: allowed (both are on the cpu); results are held natively when any input is', () => {
      const expected = pl.npairsLoss(a, b, { returnSimilarity: true });
      const mixed = pl.npairsLoss(place(a), b, { returnSimilarity: true });
      expect(residentParts(mixed)).toEqual([true, true, true]);
      expectSameResult(mixed, expected, 'resident x1, typed x2');
      const nestedB = Array.from({ length: 4 }, (_, i) => Array.from(b.data.subarray(i * 3, i * 3 + 3)));
      expectSameResult(pl.npairsLoss(a, place(b), { returnSimilarity: true }), expected, 'typed x1, resident x2');
      expectSameResult(pl.npairsLoss(place(a), nestedB, { returnSimilarity: true }), expected, 'resident x1, nested x2');
      // a resident probability target alone makes the results resident too
      const p = probabilities(4, 4, 23);
      const r = pl.npairsLoss(a, b, { target: place(p) });
      expect(residentParts(r)).toEqual([true, true]);
      expectSameResult(r, pl.npairsLoss(a, b, { target: p }), 'resident target');
      // device: 'cpu' stated explicitly changes nothing
      expect(residentParts(pl.npairsLoss(place(a), b, { device: 'cpu' }))).toEqual([true, true]);
    });
  } else {
    it('on CUDA: a host tensor beside a CUDA one is a RangeError naming it (as in PyTorch)', () => {
      expect(() => pl.npairsLoss(place(a), b)).toThrow(/^x2: must be on the device of x1 \(cuda:\d+\), got cpu$/);
      expect(() => pl.matmul(place(a), pl.Tensor.from(b.data, [3, 4]))).toThrow(RangeError);
      // { device: 'cpu' } computes on host copies: results in host memory
      const r = pl.npairsLoss(place(a), place(b), { device: 'cpu' });
      expect(residentParts(r)).toEqual([false, false]);
    });
  }
});

describe('dispose frees at once; use after dispose is a clean error', () => {
  it('memory held by a handle is released by dispose, without GC', async () => {
    const host = mat(256, 64, 24, 'float64');
    await collect();
    const before = handleCounts();
    const t = place(host);
    const made = handleCounts();
    expect(made.live).toBe(before.live + 1);
    expect(made.bytes - before.bytes).toBe(256 * 64 * 8);
    expect(made.hostBytes - before.hostBytes).toBe(CUDA ? 0 : 256 * 64 * 8);
    t.dispose();
    expect(t.disposed).toBe(true);
    expect(t.resident).toBe(false);
    expect(handleCounts()).toEqual(before);
    t.dispose(); // twice is harmless
    expect(handleCounts()).toEqual(before);
  });

  it('results too: each freed by its own dispose', async () => {
    await collect();
    const before = handleCounts();
    const a = place(mat(16, 8, 25));
    const b = place(mat(16, 8, 26));
    const r = pl.npairsLoss(a, b, { returnSimilarity: true });
    const held = handleCounts();
    expect(held.live - before.live).toBe(5);
    expect(held.bytes - before.bytes).toBe((16 * 8 * 4 + 16 * 16) * 4);
    for (const key of ['grad1', 'grad2', 'similarity'] as const) r[key]!.dispose();
    const after = handleCounts();
    expect(after.live - before.live).toBe(2);
    expect(held.bytes - after.bytes).toBe((16 * 8 + 16 * 8 + 16 * 16) * 4);
    a.dispose();
    b.dispose();
    expect(handleCounts()).toEqual(before);
  });

  it('data(), toArray() and to() of a disposed tensor are Errors', () => {
    const t = place(mat(2, 3, 27));
    t.dispose();
    expect(() => t.data()).toThrow(/^This tensor has been disposed$/);
    expect(() => t.toArray()).toThrow(/^This tensor has been disposed$/);
    expect(() => t.to('cpu')).toThrow(/^This tensor has been disposed$/);
    expect(t.toJSON()).toEqual({ shape: [2, 3], dtype: 'float32', device: DEVICE });
  });

  it('a disposed tensor as an argument is a RangeError naming it, for every function', async () => {
    const gone = (): Tensor => {
      const t = place(mat(4, 3, 28));
      t.dispose();
      return t;
    };
    const live = place(mat(4, 3, 29));
    const cases: [string, () => unknown, RegExp][] = [
      ['normalize', () => pl.normalize(gone()), /^x: the tensor has been disposed$/],
      ['matmul', () => pl.matmul(live, gone()), /^b: the tensor has been disposed$/],
      ['cosineSimilarity', () => pl.cosineSimilarity(gone(), live), /^x1: the tensor has been disposed$/],
      ['batchNorm1d', () => pl.batchNorm1d(gone()), /^x: the tensor has been disposed$/],
      ['crossEntropy', () => pl.crossEntropy(gone(), [0, 1, 2, 0]), /^logits: the tensor has been disposed$/],
      ['npairsLoss x2', () => pl.npairsLoss(live, gone()), /^x2: the tensor has been disposed$/],
      ['npairsLoss target', () => pl.npairsLoss(live, live, { target: gone() }), /^target: the tensor has been disposed$/],
      ['correlationLoss', () => pl.correlationLoss(gone(), live), /^z1: the tensor has been disposed$/],
      ['residentCpu', () => residentCpu(gone()), /^t: the tensor has been disposed$/],
    ];
    for (const [name, call, message] of cases) {
      let error: unknown;
      try {
        call();
      } catch (e) {
        error = e;
      }
      expect({ name, class: (error as Error)?.constructor?.name, message: (error as Error)?.message, realm: error instanceof RangeError })
        .toEqual({ name, class: 'RangeError', message: expect.stringMatching(message), realm: true });
    }
    await expect(pl.npairsLossAsync(gone(), live)).rejects.toThrow(/^x1: the tensor has been disposed$/);
    await expect(pl.correlationLossAsync(live, gone())).rejects.toThrow(/^z2: the tensor has been disposed$/);
  });

  it('native code refuses disposed and foreign handles itself (lib/ bypassed): errors, not crashes', () => {
    const b = binding();
    const raw = b.tensorToDevice(mat(2, 2, 30), DEVICE);
    b.tensorDispose(raw);
    const expectNative = (call: () => unknown, cls: string, message: RegExp): void => {
      let error: Error | undefined;
      try {
        call();
      } catch (e) {
        error = e as Error;
      }
      expect({ class: error?.constructor?.name, message: error?.message }).toEqual({ class: cls, message: expect.stringMatching(message) });
    };
    // every option, as lib sends them (lib/contract.ts NATIVE_OPTION_KEYS)
    const normalizeOptions = { p: 2, dim: 1, eps: 1e-12, device: DEVICE };
    const npairsOptions = {
      target: null, temperature: 1, symmetric: false, labelSmoothing: 0, reduction: 'mean', similarity: 'cosine', l2Reg: 0, eps: 1e-12,
      grad: true, returnSimilarity: false, checkFinite: false, device: DEVICE, group: null, localLoss: true, gatherWithGrad: true,
      labels: null, excludeSelf: false, out: null,
    } as const;
    expectNative(() => b.normalize(raw, normalizeOptions), 'RangeError', /^x: the tensor has been disposed$/);
    expectNative(() => b.npairsLoss(raw, raw, npairsOptions, false), 'RangeError', /^x1: the tensor has been disposed$/);
    expectNative(() => b.tensorToHost(raw), 'RangeError', /^tensor: the tensor has been disposed$/);
    expectNative(() => b.tensorShare(raw), 'RangeError', /^tensor: the tensor has been disposed$/);
    b.tensorDispose(raw); // again: nothing
    const fake = { handle: {}, shape: [2, 2] } as unknown as Parameters<typeof b.normalize>[0];
    expectNative(() => b.normalize(fake, normalizeOptions), 'TypeError', /^x must be a tensor \(its handle is not a pairloss tensor handle\)$/);
    expectNative(() => b.tensorDispose(fake), 'TypeError', /tensor must be a tensor/);
    expectNative(() => b.tensorToHost({ data: new Float32Array(4), shape: [2, 2] }), 'TypeError', /^tensor must be a tensor handle$/);
    expectNative(() => b.tensorToDevice(mat(2, 2, 31), 'tpu'), 'RangeError', /device must be 'cpu', 'cuda' or 'cuda:N'/);
  });
});

describe('async calls on held tensors', () => {
  const a = mat(64, 16, 32);
  const b = mat(64, 16, 33);

  it('resolve to the synchronous results, held natively', async () => {
    const ra = place(a);
    const rb = place(b);
    const [np, cr] = await Promise.all([
      pl.npairsLossAsync(ra, rb, { symmetric: true, temperature: 0.1, returnSimilarity: true }),
      pl.correlationLossAsync(ra, rb, { mode: 'features' }),
    ]);
    expect(residentParts(np)).toEqual([true, true, true]);
    expect(residentParts(cr)).toEqual([true, true]);
    expectSameResult(np, pl.npairsLoss(ra, rb, { symmetric: true, temperature: 0.1, returnSimilarity: true }), 'npairsLossAsync');
    expectSameResult(cr, pl.correlationLoss(ra, rb, { mode: 'features' }), 'correlationLossAsync');
  });

  it('inputs disposed right after the call: the call keeps them until it is done', async () => {
    const expected = pl.npairsLoss(a, b, CUDA ? { device: DEVICE } : {});
    const ra = place(a);
    const rb = place(b);
    const promise = pl.npairsLossAsync(ra, rb);
    ra.dispose();
    rb.dispose();
    expectSameResult(await promise, expected, 'after dispose');
  });

  it('queued calls (concurrency 1) keep disposed inputs alive by a shared handle, released when they end', async () => {
    const limit = pl.getAsyncConcurrency();
    pl.setAsyncConcurrency(1);
    try {
      const expected = pl.correlationLoss(a, b, CUDA ? { device: DEVICE } : {});
      await collect();
      const before = handleCounts();
      const calls = Array.from({ length: 4 }, () => {
        const ra = place(a);
        const rb = place(b);
        const p = pl.correlationLossAsync(ra, rb);
        ra.dispose();
        rb.dispose();
        return p;
      });
      // three of them waited in the queue on shared handles
      const results = await Promise.all(calls);
      for (const r of results) expectSameResult(r, expected, 'queued');
      // only the results (2 gradients each) are alive: inputs and shared handles were freed
      expect(handleCounts().live - before.live).toBe(4 * 2);
      for (const r of results) {
        r.grad1!.dispose();
        r.grad2!.dispose();
      }
      expect(handleCounts()).toEqual(before);
    } finally {
      pl.setAsyncConcurrency(limit);
    }
  });
});

describe('GC frees handles that were never disposed', () => {
  it('freedHandles catches up and handleBytes returns to where it was, not before the results are dropped', async () => {
    const x = mat(32, 16, 39);
    await collect();
    const s0 = binding().memoryStats();
    let kept: pl.NpairsResult[] | undefined = [];
    for (let i = 0; i < 200; i++) kept.push(pl.npairsLoss(place(x), place(x)));
    const s1 = binding().memoryStats();
    await collect();
    const s2 = binding().memoryStats();
    const grads = 200 * 2 * 32 * 16 * 4;
    // 200 calls: 2 inputs (temporaries, GC may free them) + 2 gradients (still referenced)
    expect(s1.handles - s0.handles).toBe(800);
    expect(s2.handleBytes - s0.handleBytes).toBeGreaterThanOrEqual(grads);
    expect(kept.length).toBe(200);
    kept = undefined;
    await collect(8);
    const s3 = binding().memoryStats();
    expect({ live: s3.handles - s3.freedHandles, bytes: s3.handleBytes, hostBytes: s3.hostHandleBytes })
      .toEqual({ live: s0.handles - s0.freedHandles, bytes: s0.handleBytes, hostBytes: s0.hostHandleBytes });
  });
});

(CUDA ? describe : describe.skip)('CUDA only: device memory and the stream', () => {
  const index = CUDA ? Number(DEVICE.slice(5)) : 0;
  const allocated = (): number => binding().cudaMemoryStats(index).allocated;

  it('dispose returns device memory to the caching allocator at once (torch.cuda.memory_allocated)', () => {
    const n = 1024;
    const before = allocated();
    const t = Tensor.from(new Float32Array(n * n), [n, n], { device: DEVICE });
    const during = allocated();
    expect(during - before).toBeGreaterThanOrEqual(n * n * 4);
    t.dispose();
    expect(allocated()).toBe(before);
    const r = pl.npairsLoss(place(mat(512, 256, 34)), place(mat(512, 256, 35)), { returnSimilarity: true });
    const held = allocated();
    r.grad1!.dispose();
    r.grad2!.dispose();
    r.similarity!.dispose();
    expect(held - allocated()).toBeGreaterThanOrEqual((512 * 256 * 2 + 512 * 512) * 4);
    console.log(`cuda memory: a 4 MiB tensor took ${during - before} B; reserved ${binding().cudaMemoryStats(index).reserved} B`);
  });

  it('an async call returns a pending Promise and resolves with finished results (the stream waited on off the loop)', async () => {
    const n = 8192;
    const d = 512;
    const a = place(mat(n, d, 36));
    const b = place(mat(n, d, 37));
    const sync = pl.npairsLoss(a, b, { symmetric: true });
    let ticks = 0;
    const timer = setInterval(() => ticks++, 1);
    const t0 = Date.now();
    const before = binding().poolCalls();
    const promise = pl.npairsLossAsync(a, b, { symmetric: true });
    const returnedAfter = Date.now() - t0;
    // the call was handed to the libuv pool (binding/async_call.cc), not computed inline
    const now = binding().poolCalls();
    expect(now.finished + now.pending - (before.finished + before.pending)).toBe(1);
    const r = await promise;
    clearInterval(timer);
    // and its work, stream wait included, was done on the pool before the Promise settled
    expect(binding().poolCalls().finished - before.finished).toBe(1);
    expect(r.grad1!.device).toBe(DEVICE);
    expectSameResult(r, sync, 'async on cuda');
    console.log(`cuda async ${n}x${d}: call returned after ${returnedAfter} ms, resolved after ${Date.now() - t0} ms, ${ticks} timer ticks meanwhile`);
  });

  (pl.cuda.deviceCount() >= 2 ? it : it.skip)('a tensor on another device index is a copy there', () => {
    const t = place(mat(4, 4, 38));
    const other = t.to('cuda:1');
    expect(other.device).toBe('cuda:1');
    expect(bytes(other.data()).equals(bytes(t.data()))).toBe(true);
  });
});

(pl.cuda.isAvailable() ? describe.skip : describe)('without a CUDA device', () => {
  it("'cuda' is a RangeError saying so; the allocator counts are a RangeError without CUDA code", () => {
    expect(() => pl.Tensor.from(new Float32Array(4), [2, 2], { device: 'cuda' })).toThrow(RangeError);
    expect(() => pl.tensor([[1, 2]]).to('cuda:0')).toThrow(/not available/);
    if (!binding().cudaCompiled) expect(() => binding().cudaMemoryStats(0)).toThrow(/need a LibTorch with CUDA/);
    else expect(() => binding().cudaMemoryStats(0)).toThrow(/must be a CUDA device index in \[0, 0\)/);
  });
});
