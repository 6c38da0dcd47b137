// ProcessGroup: the collectives with 2 and 4 Node.js ranks (child processes),
// the shape check, fromEnv, and every option's bad-argument errors.
import * as pl from '../lib';
import { resultsOf, runGroup, freePort } from './helpers/distributed';
import { testIf } from './helpers/skip';

jest.setTimeout(120000);

describe('ProcessGroup collectives across processes', () => {
  for (const w of [2, 4]) {
    test(`W = ${w}: allReduce (every op), allGather, broadcast, barrier, destroy`, async () => {
      const results = resultsOf(await runGroup(Array(w).fill('node'), { scenario: 'collectives' }, { timeoutMs: 60000 }));
      const xs = [...Array(w).keys()].map((r) => [r + 1, -(r + 1), 2 * r + 0.5]);
      const reduce = (f: (v: number[]) => number) => [0, 1, 2].map((i) => Math.fround(f(xs.map((x) => x[i]))));
      const expected = {
        sum: reduce((v) => v.reduce((a, b) => a + b, 0)),
        avg: reduce((v) => v.reduce((a, b) => a + b, 0) / w),
        max: reduce((v) => Math.max(...v)),
        min: reduce((v) => Math.min(...v)),
        product: reduce((v) => v.reduce((a, b) => a * b, 1)),
      };
      results.forEach((r, rank) => {
        expect(r.rank).toBe(rank);
        expect(r.worldSize).toBe(w);
        expect(r.backend).toBe('gloo');
        expect(r.pairlossRanks).toEqual([...Array(w).keys()]);
        for (const op of Object.keys(expected) as (keyof typeof expected)[]) {
          expect(r[op].shape).toEqual([3]);
          // small integers and halves: every op is exact in float32
          expect([op, r[op].data]).toEqual([op, expected[op]]);
        }
        expect(r.allGather.map((t: { data: number[] }) => t.data)).toEqual([...Array(w).keys()].map((q) => [q, q * 10]));
        expect(r.allGather[0].shape).toEqual([1, 2]);
        expect(r.broadcast).toEqual({ data: [w - 1, w - 1, w - 1, w - 1], shape: [2, 2] });
        expect(r.sum64.dtype).toBe('float64');
        expect(r.sum64.data[0]).toBeCloseTo((0.1 * w * (w + 1)) / 2, 12);
        // the input is not modified
        expect(r.inputAfter).toEqual(xs[rank].map(Math.fround));
        expect(r.errorAfterDestroy).toMatch(/destroyed/);
        expect(r.callAfterDestroy).toEqual({ name: 'Error', message: expect.stringMatching(/process group has been destroyed/) });
      });
    });
  }

  test('different shapes or dtypes on different ranks: a RangeError naming ranks and shapes on every rank, and the group goes on', async () => {
    const run = await runGroup(['node', 'node', 'node'], { scenario: 'mismatch', shapes: [[4, 3], [5, 3], [4, 3]] }, { timeoutMs: 60000 });
    const results = resultsOf(run);
    for (const o of run.outcomes) expect(o.code).toBe(0); // no Gloo abort
    results.forEach((r, rank) => {
      expect(r.allReduce.name).toBe('RangeError');
      expect(r.allReduce.message).toContain('rank 0: allReduce(sum) float32 [4, 3]');
      expect(r.allReduce.message).toContain('rank 1: allReduce(sum) float32 [5, 3]');
      expect(r.allReduce.message).toContain('rank 2: allReduce(sum) float32 [4, 3]');
      expect(r.allGather.name).toBe('RangeError');
      expect(r.allGather.message).toMatch(/rank 1: allGather float32 \[5, 3\]/);
      expect(r.dtype.name).toBe('RangeError');
      expect(r.dtype.message).toMatch(/rank 0: allReduce\(sum\) float64 \[3\]; rank 1: allReduce\(sum\) float32 \[3\]/);
      expect(r.after).toEqual({ data: [6], shape: [1] });
      expect(r.error).toBeUndefined();
      void rank;
    });
  });
});

describe('ProcessGroup in one process', () => {
  test('a group of one: every collective is the identity', async () => {
    const pg = await pl.ProcessGroup.init({ rank: 0, worldSize: 1, port: await freePort(), timeoutMs: 10000 });
    expect(pg.pairlossRanks).toEqual([0]);
    const x = pl.tensor([[1, 2], [3, 4]]);
    expect(Array.from((await pg.allReduce(x, 'avg')).data())).toEqual([1, 2, 3, 4]);
    const [g] = await pg.allGather(x);
    expect(g.shape).toEqual([2, 2]);
    expect(Array.from((await pg.broadcast(x, 0)).data())).toEqual([1, 2, 3, 4]);
    // the losses under a group of one equal the losses without one
    const z1 = pl.tensor([[1, 2, 0.5], [3, -1, 2], [0, 1, 1]]);
    const z2 = pl.tensor([[1, 2.5, 0], [2, -1, 2], [0, 1, 3]]);
    const alone = pl.correlationLoss(z1, z2);
    const grouped = await pl.correlationLossAsync(z1, z2, { group: pg });
    expect(grouped.loss).toBeCloseTo(alone.loss, 6);
    const np = pl.npairsLoss(z1, z2, { symmetric: true });
    const npg = pl.npairsLoss(z1, z2, { symmetric: true, group: pg });
    expect(npg.loss).toBeCloseTo(np.loss, 6);
    await pg.destroy();
    await pg.destroy(); // again: resolves
    await expect(pg.barrier()).rejects.toThrow(/destroyed/);
    expect(() => pl.correlationLoss(z1, z2, { group: pg })).toThrow(/destroyed/);
  });

  test('rendezvous timeout: rank 1 of 2 alone is an Error after timeoutMs', async () => {
    const t0 = Date.now();
    const port = 20000 + Math.floor(Math.random() * 20000);
    await expect(pl.ProcessGroup.init({ rank: 1, worldSize: 2, port, timeoutMs: 1500 })).rejects.toThrow(/ProcessGroup\.init \(rank 1 of 2, 127\.0\.0\.1:\d+\)/);
    const elapsed = Date.now() - t0;
    expect(elapsed).toBeGreaterThanOrEqual(1400);
    expect(elapsed).toBeLessThan(10000);
  });

  test('fromEnv reads RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT', async () => {
    const port = 20000 + Math.floor(Math.random() * 20000);
    const pg = await pl.ProcessGroup.fromEnv({ env: { RANK: '0', WORLD_SIZE: '1', MASTER_ADDR: '127.0.0.1', MASTER_PORT: String(port) }, timeoutMs: 10000 });
    expect([pg.rank, pg.worldSize, pg.backend]).toEqual([0, 1, 'gloo']);
    await pg.destroy();
    await expect(pl.ProcessGroup.fromEnv({ env: { WORLD_SIZE: '2', MASTER_ADDR: 'x', MASTER_PORT: '1' } })).rejects.toThrow(RangeError);
    await expect(pl.ProcessGroup.fromEnv({ env: { WORLD_SIZE: '2', MASTER_ADDR: 'x', MASTER_PORT: '1' } })).rejects.toThrow(/RANK/);
    await expect(pl.ProcessGroup.fromEnv({ env: { RANK: '0', MASTER_ADDR: 'x', MASTER_PORT: '1' } })).rejects.toThrow(/WORLD_SIZE/);
    await expect(pl.ProcessGroup.fromEnv({ env: { RANK: '2', WORLD_SIZE: '2', MASTER_ADDR: 'x', MASTER_PORT: '1' } })).rejects.toThrow(/RANK.*\[0, 1\]/);
    await expect(pl.ProcessGroup.fromEnv({ env: { RANK: '0', WORLD_SIZE: '2', MASTER_PORT: '1' } })).rejects.toThrow(/MASTER_ADDR/);
    await expect(pl.ProcessGroup.fromEnv({ env: { RANK: '0', WORLD_SIZE: '2', MASTER_ADDR: 'x', MASTER_PORT: '70000' } })).rejects.toThrow(/MASTER_PORT/);
    await expect(pl.ProcessGroup.fromEnv({ env: { RANK: '0', WORLD_SIZE: '2', MASTER_ADDR: 'x', MASTER_PORT: 'abc' } })).rejects.toThrow(/MASTER_PORT/);
  });
});

describe('ProcessGroup bad arguments', () => {
  const base = { rank: 0, worldSize: 2, port: 29500 };
  const cases: [string, unknown, ErrorConstructor, RegExp][] = [
    ['no options', undefined, TypeError, /options/],
    ['options not an object', 5, TypeError, /options/],
    ['unknown option', { ...base, ranks: 1 }, RangeError, /Unknown option 'ranks'/],
    ['rank missing', { worldSize: 2 }, TypeError, /for rank/],
    ['rank a string', { ...base, rank: '0' }, TypeError, /for rank/],
    ['rank negative', { ...base, rank: -1 }, RangeError, /for rank/],
    ['rank fractional', { ...base, rank: 0.5 }, RangeError, /for rank/],
    ['rank >= worldSize', { ...base, rank: 2 }, RangeError, /rank: must be in \[0, worldSize - 1\] = \[0, 1\], got 2/],
    ['worldSize missing', { rank: 0 }, TypeError, /for worldSize/],
    ['worldSize 0', { ...base, worldSize: 0 }, RangeError, /for worldSize/],
    ['worldSize NaN', { ...base, worldSize: NaN }, RangeError, /for worldSize/],
    ['backend unknown', { ...base, backend: 'mpi' }, RangeError, /for backend/],
    ['backend a number', { ...base, backend: 1 }, TypeError, /for backend/],
    ['host a number', { ...base, host: 127 }, TypeError, /for host/],
    ['host empty', { ...base, host: '' }, RangeError, /for host/],
    ['port 0', { ...base, port: 0 }, RangeError, /for port/],
    ['port 65536', { ...base, port: 65536 }, RangeError, /for port/],
    ['port a string', { ...base, port: '29500' }, TypeError, /for port/],
    ['timeoutMs 0', { ...base, timeoutMs: 0 }, RangeError, /for timeoutMs/],
    ['timeoutMs Infinity', { ...base, timeoutMs: Infinity }, RangeError, /for timeoutMs/],
    ['timeoutMs a string', { ...base, timeoutMs: '1000' }, TypeError, /for timeoutMs/],
    ['storePrefix empty', { ...base, storePrefix: '' }, RangeError, /for storePrefix/],
    ['checkShapes a string', { ...base, checkShapes: 'yes' }, TypeError, /for checkShapes/],
    ['device with gloo', { ...base, device: 'cpu' }, RangeError, /device/],
  ];
  for (const [what, opts, type, message] of cases) {
    test(`init: ${what}`, async () => {
      const p = pl.ProcessGroup.init(opts as pl.ProcessGroupOptions);
      await expect(p).rejects.toThrow(type);
      await expect(p).rejects.toThrow(message);
    });
  }

  testIf(!pl.backends.nccl, 'this LibTorch has NCCL: nothing to refuse')("backend 'nccl' on a LibTorch without it is a RangeError that says so", async () => {
    await expect(pl.ProcessGroup.init({ ...base, backend: 'nccl' })).rejects.toThrow(/backend: 'nccl' needs a LibTorch with CUDA and NCCL/);
  });

  test('collective arguments and the group option of the losses', async () => {
    const pg = await pl.ProcessGroup.init({ rank: 0, worldSize: 1, port: await freePort(), timeoutMs: 10000 });
    const x = pl.tensor([[1, 2]]);
    await expect(pg.allReduce(x, 'mean' as pl.ReduceOp)).rejects.toThrow(RangeError);
    await expect(pg.allReduce(x, 'mean' as pl.ReduceOp)).rejects.toThrow(/for op/);
    await expect(pg.allReduce(x, 1 as unknown as pl.ReduceOp)).rejects.toThrow(TypeError);
    await expect(pg.allReduce('x' as unknown as pl.Tensor)).rejects.toThrow(TypeError);
    await expect(pg.allGather({ data: new Float32Array(3), shape: [2] })).rejects.toThrow(RangeError);
    await expect(pg.broadcast(x, 1)).rejects.toThrow(/for src/);
    await expect(pg.broadcast(x, '0' as unknown as number)).rejects.toThrow(TypeError);
    // (a compile error too: group is typed ProcessGroup)
    const lookalike = { rank: 0, worldSize: 1 } as unknown as pl.ProcessGroup;
    expect(() => pl.correlationLoss(x, x, { group: lookalike })).toThrow(TypeError);
    expect(() => pl.correlationLoss(x, x, { group: lookalike })).toThrow(/for group/);
    expect(() => pl.correlationLoss(pl.tensor([[1, 2, 3], [2, 3, 5]]), pl.tensor([[1, 2, 3], [2, 1, 5]]), { group: pg, syncBatchNorm: true }))
      .toThrow(/syncBatchNorm applies to mode 'features'/);
    await pg.destroy();
  });
});
