// Cancellation and back-pressure of the async calls (issue 26): a `signal`
// on every async loss (a waiting call leaves the queue at once and rejects
// with an AbortError DOMException; a running one rejects with it when it ends,
// its result discarded), and a bound on the calls waiting for a slot
// (setAsyncQueueLimit / PAIRLOSS_ASYNC_QUEUE_LIMIT): beyond it a call is
// refused at once with an AsyncQueueFullError (code 'PAIRLOSS_QUEUE_FULL').
import * as os from 'os';
import * as pl from '../lib';
import { setInlineMaxWork } from '../lib/queue';
import { runChild, ROOT } from './helpers/child';
import * as path from 'path';

jest.setTimeout(120000);

const mat = (n: number, d: number, s = 1): { data: Float32Array; shape: number[] } =>
  ({ data: Float32Array.from({ length: n * d }, (_, i) => Math.sin(i * 0.01 + s)), shape: [n, d] });
// big enough to stay on the pool for a while, even on a fast idle machine
const big1 = mat(512, 256);
const big2 = mat(512, 256, 2);
const small1 = mat(8, 4);
const small2 = mat(8, 4, 2);

let concurrency = 0;
beforeAll(() => {
  concurrency = pl.getAsyncConcurrency();
  setInlineMaxWork(0); // every call on the pool
  pl.setAsyncConcurrency(1);
});
afterAll(() => {
  setInlineMaxWork(undefined);
  pl.setAsyncConcurrency(concurrency);
  pl.setAsyncQueueLimit(Infinity);
});

const settle = (p: Promise<unknown>): Promise<unknown> => p.then((v) => v, (e: unknown) => e);

test('an already aborted signal: rejects with an AbortError, nothing computed', async () => {
  const c = new AbortController();
  c.abort(new Error('client gone'));
  const before = pl.asyncQueueStats();
  const e = (await settle(pl.npairsLossAsync(small1, small2, { signal: c.signal }))) as DOMException;
  expect(e.name).toBe('AbortError');
  expect((e as unknown as { cause: Error }).cause.message).toBe('client gone');
  expect(pl.asyncQueueStats().aborted).toBe(before.aborted + 1);
  expect(pl.asyncQueueStats().running).toBe(0);
});

test('a waiting call leaves the queue when aborted; a running one is discarded when it ends; the others compute', async () => {
  const controllers = [0, 1, 2, 3].map(() => new AbortController());
  const calls = controllers.map((c) => settle(pl.npairsLossAsync(big1, big2, { signal: c.signal })));
  expect(pl.asyncQueueStats()).toMatchObject({ running: 1, waiting: 3 });
  controllers[2].abort();
  // dropped at once: no longer waiting
  expect(pl.asyncQueueStats()).toMatchObject({ running: 1, waiting: 2 });
  const dropped = (await calls[2]) as DOMException;
  expect(dropped.name).toBe('AbortError');
  expect(pl.asyncQueueStats().running).toBe(1); // the first still computing
  controllers[0].abort();
  const discarded = (await calls[0]) as DOMException;
  expect(discarded.name).toBe('AbortError');
  const want = pl.npairsLoss(big1, big2).loss;
  expect(((await calls[1]) as pl.NpairsResult).loss).toBe(want);
  expect(((await calls[3]) as pl.NpairsResult).loss).toBe(want);
});

test('a full queue refuses at once with AsyncQueueFullError (code PAIRLOSS_QUEUE_FULL); the queue drains', async () => {
  pl.setAsyncQueueLimit(2);
  try {
    expect(pl.getAsyncQueueLimit()).toBe(2);
    const calls = [0, 1, 2].map(() => settle(pl.sigmoidLossAsync(big1, big2)));
    expect(pl.asyncQueueStats()).toMatchObject({ running: 1, waiting: 2, queueLimit: 2 });
    const t0 = performance.now();
    const refused = await settle(pl.vicregLossAsync(big1, big2));
    const refusedAfter = performance.now() - t0;
    expect(refused).toBeInstanceOf(pl.AsyncQueueFullError);
    expect((refused as pl.AsyncQueueFullError).code).toBe('PAIRLOSS_QUEUE_FULL');
    expect((refused as Error).message).toMatch(/^the async queue is full: 2 calls already wait for a slot \(queue limit 2/);
    // refused before the running call ended: still one running, two waiting
    expect(pl.asyncQueueStats()).toMatchObject({ running: 1, waiting: 2 });
    // eslint-disable-next-line no-console
    console.log(`a full queue refused a call after ${refusedAfter.toFixed(2)} ms (load ${os.loadavg()[0].toFixed(1)})`);
    for (const c of await Promise.all(calls)) expect((c as pl.SigmoidResult).loss).toBeGreaterThan(0);
    expect(pl.asyncQueueStats()).toMatchObject({ running: 0, waiting: 0 });
  } finally {
    pl.setAsyncQueueLimit(Infinity);
  }
});

test('every async loss takes a signal', async () => {
  const fns = [pl.npairsLossAsync, pl.ntXentLossAsync, pl.sigmoidLossAsync, pl.vicregLossAsync, pl.correlationLossAsync] as
    ((a: unknown, b: unknown, o: { signal: AbortSignal }) => Promise<unknown>)[];
  for (const f of fns) {
    const blocker = pl.npairsLossAsync(big1, big2); // takes the one slot
    const c = new AbortController();
    const p = settle(f(big1, big2, { signal: c.signal }));
    expect(pl.asyncQueueStats().waiting).toBe(1);
    c.abort();
    expect(((await p) as Error).name).toBe('AbortError');
    await blocker;
  }
});

test('PAIRLOSS_ASYNC_QUEUE_LIMIT bounds the queue; 63 steps whose clients left are dropped, not computed', async () => {
  // a process of its own: the variable is read at the first call that waits
  const r = await runChild<{ refused: number; refusedCode: string; aborted: number; computedMs: number; cancelledMs: number; load: number }>(`
    const pl = require(${JSON.stringify(path.join(ROOT, 'lib', 'index.ts'))});
    require(${JSON.stringify(path.join(ROOT, 'lib', 'queue.ts'))}).setInlineMaxWork(0);
    pl.setAsyncConcurrency(1);
    const m = (s) => ({ data: Float32Array.from({ length: 256 * 128 }, (_, i) => Math.sin(i * 0.01 + s)), shape: [256, 128] });
    const a = m(1), b = m(2);
    const settle = (p) => p.then((v) => v, (e) => e);
    (async () => {
      // bounded: 1 running + 63 waiting; the 65th is refused
      const all = Array.from({ length: 65 }, () => settle(pl.npairsLossAsync(a, b)));
      const refused = await all[64];
      let t = performance.now();
      await Promise.all(all);
      const computedMs = performance.now() - t;
      // the same 64 steps, their clients gone once the first started: 63 dropped at once
      const cs = Array.from({ length: 64 }, () => new AbortController());
      t = performance.now();
      const calls = cs.map((c) => settle(pl.npairsLossAsync(a, b, { signal: c.signal })));
      cs.forEach((c) => c.abort());
      const results = await Promise.all(calls);
      const cancelledMs = performance.now() - t;
      console.log(JSON.stringify({ refused: refused instanceof pl.AsyncQueueFullError ? 1 : 0, refusedCode: refused.code,
        aborted: results.filter((e) => e && e.name === 'AbortError').length, computedMs, cancelledMs, load: require('os').loadavg()[0] }));
    })();
  `, { nodeArgs: ['-r', path.join(ROOT, 'test', 'helpers', 'register-ts.js')], env: { PAIRLOSS_ASYNC_QUEUE_LIMIT: '63' }, timeoutMs: 100000 });
  expect(r.refused).toBe(1);
  expect(r.refusedCode).toBe('PAIRLOSS_QUEUE_FULL');
  expect(r.aborted).toBe(64);
  // eslint-disable-next-line no-console
  console.log(`64 steps of 256x128 N-pairs: ${r.computedMs.toFixed(0)} ms computed; with their clients gone ${r.cancelledMs.toFixed(0)} ms (one computed, 63 dropped; load ${r.load.toFixed(1)})`);
  // the cancelled run computes one step where the other computes 64: whatever the load, it is the shorter
  expect(r.cancelledMs).toBeLessThan(r.computedMs);
});
