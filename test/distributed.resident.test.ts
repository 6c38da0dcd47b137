// ProcessGroup collectives on tensors held natively (issue 6): a handle goes
// to the group without a copy through host memory and the result comes back
// held natively on the input's device, as ops and losses give theirs. Without
// a GPU this runs on resident CPU tensors (Tensor.residentCpu, the internal
// stand-in for CUDA ones) through a real 2-process Gloo group, each call
// beside the same call on a typed-array tensor. scripts/gpu-check.sh runs the
// CUDA tensor through a one-rank NCCL group.
import * as pl from '../lib';
import { residentCpu, Tensor } from '../lib/tensor';
import { randn, resultsOf, runGroup, freePort } from './helpers/distributed';

jest.setTimeout(120000);

interface Held { data: number[]; shape: number[]; dtype: string; device: string; resident: boolean }

function expectResidentLike(actual: Held, typed: Held, what: string): void {
  expect({ what, resident: actual.resident, device: actual.device }).toEqual({ what, resident: true, device: 'cpu' });
  expect({ what, resident: typed.resident }).toEqual({ what, resident: false });
  // the same computation on the same values: bit for bit
  expect({ what, shape: actual.shape, dtype: actual.dtype, data: actual.data })
    .toEqual({ what, shape: typed.shape, dtype: typed.dtype, data: typed.data });
}

describe('collectives on resident tensors across 2 processes (Gloo)', () => {
  const w = 2;
  const n = 3;
  const d = 4;
  const inputs = [...Array(w).keys()].map((r) => {
    const a = randn(100 + r, n * d).map(Math.fround);
    const noise = randn(200 + r, n * d);
    return { a: { data: a, shape: [n, d] }, b: { data: a.map((v, i) => Math.fround(v + 0.5 * noise[i])), shape: [n, d] } };
  });
  let results: any[]; // eslint-disable-line @typescript-eslint/no-explicit-any

  beforeAll(async () => {
    results = resultsOf(await runGroup(Array(w).fill('node'), { scenario: 'resident', inputs }, { timeoutMs: 90000 }));
  });

  test('allReduce (every op): a resident result equal to the typed-array path, with no host buffer made', () => {
    const xs = [...Array(w).keys()].map((r) => [r + 1, -(r + 1), 2 * r + 0.5, 0.25 * r]);
    results.forEach((r, rank) => {
      for (const op of ['sum', 'avg', 'max', 'min', 'product']) {
        const o = r.ops[op];
        expectResidentLike(o.resident, o.typed, `rank ${rank} ${op}`);
        expect(o.resident.shape).toEqual([2, 2]);
        expect({ op, externalBuffersMade: o.externalBuffersMade, handlesMade: o.handlesMade }).toEqual({ op, externalBuffersMade: 0, handlesMade: 1 });
      }
      // and the typed-array path itself is right
      const sum = [0, 1, 2, 3].map((i) => Math.fround(xs[0][i] + xs[1][i]));
      expect(r.ops.sum.typed.data).toEqual(sum);
      expect(r.ops.max.typed.data).toEqual([0, 1, 2, 3].map((i) => Math.max(xs[0][i], xs[1][i])));
      // the input is not modified; the group goes on after the errors below
      expect(r.inputAfter.data).toEqual(xs[rank].map(Math.fround));
      expect(r.after).toEqual(r.ops.sum.resident);
      expect(r.error).toBeUndefined();
    });
  });

  test('allGather: one resident tensor per rank, equal to the typed-array path', () => {
    results.forEach((r, rank) => {
      expect(r.allGather.resident).toHaveLength(w);
      r.allGather.resident.forEach((t: Held, q: number) => {
        expectResidentLike(t, r.allGather.typed[q], `rank ${rank} allGather[${q}]`);
        expect(t).toMatchObject({ shape: [1, 3], data: [q, q * 10, q * 100] });
      });
      expect(r.allGatherBuffersMade).toBe(0);
    });
  });

  test('broadcast: a resident float64 result equal to the typed-array path', () => {
    results.forEach((r, rank) => {
      expectResidentLike(r.broadcast.resident, r.broadcast.typed, `rank ${rank} broadcast`);
      expect(r.broadcast.resident).toMatchObject({ dtype: 'float64', data: [w - 1, 2 * (w - 1), 3 * (w - 1)] });
    });
  });

  test('an input disposed while its call is pending: the call completes on its own reference', () => {
    results.forEach((r) => expect(r.disposedWhilePending).toEqual(r.ops.sum.resident));
  });

  test('a disposed tensor: a RangeError naming the argument (no native crash), and the group goes on', () => {
    results.forEach((r) => {
      for (const call of ['allReduce', 'allGather', 'broadcast']) {
        expect({ call, error: r.disposed[call] }).toEqual({ call, error: { name: 'RangeError', message: expect.stringMatching(/^t: the tensor has been disposed/) } });
      }
    });
  });

  test('the losses under the group take resident inputs: resident gradients equal to the typed-array path', () => {
    results.forEach((r, rank) => {
      for (const loss of ['npairs', 'correlation']) {
        const { resident, typed } = r[loss];
        expect({ rank, loss, value: resident.loss }).toEqual({ rank, loss, value: typed.loss });
        expectResidentLike(resident.grad1, typed.grad1, `rank ${rank} ${loss} grad1`);
        expectResidentLike(resident.grad2, typed.grad2, `rank ${rank} ${loss} grad2`);
      }
      // the global loss: the same on every rank
      expect(r.npairs.resident.loss).toBe(results[0].npairs.resident.loss);
    });
  });
});

describe('collectives on resident tensors in one process', () => {
  test('a group of one: resident in, resident out; dispose frees at once', async () => {
    const pg = await pl.ProcessGroup.init({ rank: 0, worldSize: 1, port: await freePort(), timeoutMs: 10000 });
    const x = residentCpu(pl.tensor([[1, 2], [3, 4]]));
    const start = pl.memoryStats();
    const r = await pg.allReduce(x, 'avg');
    expect([r.resident, r.device, Array.from(r.data())]).toEqual([true, 'cpu', [1, 2, 3, 4]]);
    const [g] = await pg.allGather(x);
    const b = await pg.broadcast(x, 0);
    expect([g.resident, b.resident]).toEqual([true, true]);
    const held = pl.memoryStats();
    expect(held.handles - start.handles).toBe(3);
    expect(held.handleBytes - start.handleBytes).toBe(3 * 4 * 4);
    for (const t of [r, g, b]) t.dispose();
    const freed = pl.memoryStats();
    expect(freed.freedHandles - held.freedHandles).toBe(3);
    expect(freed.handleBytes).toBe(start.handleBytes);
    // a disposed input, and a handle that is not a tensor's
    x.dispose();
    await expect(pg.allReduce(x)).rejects.toThrow(RangeError);
    await expect(pg.broadcast(x, 0)).rejects.toThrow(/^t: the tensor has been disposed/);
    await pg.destroy();
  });
});
