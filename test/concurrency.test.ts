// Concurrency: many async calls in flight at once, on the libuv pool or
// (small ones) inline beside pool calls, give bit for bit the answers of the
// same calls made synchronously, each its own (no results swapped or mixed
// between calls), and sync calls made on the JS thread while async ones run
// are unaffected.
import * as pl from '../lib';
import { binding } from '../lib/binding';
import { INLINE_MAX_WORK, setInlineMaxWork } from '../lib/queue';
// eslint-disable-next-line @typescript-eslint/no-var-requires
const { rng, normal } = require('./helpers/cases.js') as { rng: (seed: number) => () => number; normal: (r: () => number) => number };

type Loss = Record<string, unknown>;
interface Call { kind: 'npairs' | 'correlation'; x1: pl.TensorLike; x2: pl.TensorLike; opts: Record<string, unknown> }

/**
 * The inputs' seed: recorded, so that `npm test` makes the same calls on
 * every run (it passed here, as did 100 fresh seeds of the distinct-losses
 * premise below); PAIRLOSS_CONCURRENCY_SEED=random draws a fresh one, any
 * integer replays one.
 */
const DEFAULT_SEED = 813717085;
const seedText = process.env.PAIRLOSS_CONCURRENCY_SEED;
const seed = !seedText ? DEFAULT_SEED : seedText === 'random' ? Math.floor(Math.random() * 2 ** 31) : Number(seedText);
if (!Number.isSafeInteger(seed)) throw new Error(`PAIRLOSS_CONCURRENCY_SEED must be an integer or 'random', got ${JSON.stringify(seedText)}`);
/** jest's time limit of the 1,000- and 400-call tests: 30 s and 15 s here at a load average of 21 on 2 cores (jest's default: 60 s). */
const HEAVY_MS = 300_000;

function matrix(r: () => number, rows: number, cols: number, f64: boolean): { data: Float32Array | Float64Array; shape: number[] } {
  const data = f64 ? new Float64Array(rows * cols) : new Float32Array(rows * cols);
  for (let i = 0; i < data.length; i++) data[i] = normal(r);
  return { data, shape: [rows, cols] };
}

/** Call i: a loss, dtype, size and options of its own (sizes up to `max` rows). */
function call(i: number, max = 40): Call {
  const r = rng(seed + i * 7919);
  const n = 2 + Math.floor(r() * (max - 1));
  const d = 2 + Math.floor(r() * 48);
  const f64 = i % 3 === 0;
  if (i % 2 === 0) {
    const symmetric = r() < 0.3;
    const m = symmetric ? n : n + Math.floor(r() * 4);
    const opts: Record<string, unknown> = { temperature: 0.05 + r(), symmetric, returnSimilarity: r() < 0.5, labelSmoothing: r() < 0.3 ? r() * 0.2 : 0 };
    if (r() < 0.2) opts.similarity = 'dot';
    if (r() < 0.2) opts.reduction = 'sum';
    // a third of the calls get a Tensor, the rest plain { data, shape }
    const x1 = matrix(r, n, d, f64);
    const x2 = matrix(r, m, d, f64);
    return { kind: 'npairs', x1: i % 3 === 1 ? pl.Tensor.from(x1.data, x1.shape) : x1, x2, opts };
  }
  const opts = { mode: r() < 0.5 ? 'samples' : 'features', lambda: r() * 0.01, scale: 0.01 + r() * 0.05 };
  return { kind: 'correlation', x1: matrix(r, n, d, f64), x2: matrix(r, n, d, f64), opts };
}

function runSync(c: Call): Loss {
  return (c.kind === 'npairs' ? pl.npairsLoss(c.x1, c.x2, c.opts) : pl.correlationLoss(c.x1, c.x2, c.opts)) as unknown as Loss;
}
function runAsync(c: Call): Promise<Loss> {
  return (c.kind === 'npairs' ? pl.npairsLossAsync(c.x1, c.x2, c.opts) : pl.correlationLossAsync(c.x1, c.x2, c.opts)) as unknown as Promise<Loss>;
}

/** Where two results differ (undefined: bit for bit the same, NaN included). */
function difference(a: Loss, b: Loss): string | undefined {
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
  for (const k of keys) {
    const x = a[k];
    const y = b[k];
    if (x instanceof pl.Tensor && y instanceof pl.Tensor) {
      if (x.shape.join() !== y.shape.join() || x.dtype !== y.dtype) return `${k}: [${x.shape}] ${x.dtype} vs [${y.shape}] ${y.dtype}`;
      const p = x.data();
      const q = y.data();
      for (let i = 0; i < p.length; i++) if (!Object.is(p[i], q[i])) return `${k}[${i}]: ${p[i]} vs ${q[i]}`;
    } else if (!Object.is(x, y)) {
      return `${k}: ${String(x)} vs ${String(y)}`;
    }
  }
  return undefined;
}

function differences(calls: number[], got: Loss[], expected: Loss[]): string[] {
  const bad: string[] = [];
  got.forEach((g, j) => {
    const d = difference(g, expected[j]);
    if (d) bad.push(`call ${calls[j]}: ${d}`);
  });
  return bad;
}

// Every call on the pool (threshold 0), and a threshold amid the calls' sizes
// (a 40-row call is up to 40·43·50 = 86k multiply-adds): half inline, half on the pool.
const MODES: Array<[string, number]> = [['every call on the pool', 0], ['small calls inline, the others on the pool', 20000]];

describe.each(MODES)(`concurrent async calls, %s (seed ${seed}; replay: PAIRLOSS_CONCURRENCY_SEED=${seed} npx jest test/concurrency.test.ts)`, (_mode, threshold) => {
  beforeEach(() => setInlineMaxWork(threshold));
  afterEach(() => setInlineMaxWork(undefined));

  it('the threshold splits the calls as intended', () => {
    const work = Array.from({ length: 1000 }, (_, i) => call(i)).map((c) => {
      const [n, d] = (c.x1 as unknown as { shape: number[] }).shape;
      return c.kind === 'npairs' ? n * (c.x2 as unknown as { shape: number[] }).shape[0] * d : c.opts.mode === 'features' ? d * d * n : n * n * d;
    });
    const inline = work.filter((w) => w <= threshold).length;
    if (threshold === 0) expect(inline).toBe(0);
    else expect(Math.min(inline, 1000 - inline)).toBeGreaterThan(200);
    // the default threshold would run all of them inline
    expect(Math.max(...work)).toBeLessThan(INLINE_MAX_WORK);
  });

  it('1,000 concurrent async calls on distinct inputs give exactly the sync results', async () => {
    const ids = Array.from({ length: 1000 }, (_, i) => i);
    const calls = ids.map((i) => call(i));
    const expected = calls.map(runSync);
    // distinct inputs give distinct losses, so a swapped result cannot go unseen
    expect(new Set(expected.map((e) => e.loss)).size).toBe(1000);
    const got = await Promise.all(calls.map(runAsync));
    expect(differences(ids, got, expected)).toEqual([]);
  }, HEAVY_MS);

  it('sync calls on the JS thread while async ones run are unaffected, and so are the async ones', async () => {
    setInlineMaxWork(0); // the async calls must still be running when the sync ones go
    // every async call goes to the pool at once (libuv queues them), not one at a time from lib's queue
    const limit = pl.getAsyncConcurrency();
    pl.setAsyncConcurrency(1000);
    // larger async calls (up to 160 rows) so that they are still running while the sync ones go
    const asyncIds = Array.from({ length: 200 }, (_, i) => 5000 + i);
    const syncIds = Array.from({ length: 200 }, (_, i) => 9000 + i);
    const asyncCalls = asyncIds.map((i) => call(i, 160));
    const syncCalls = syncIds.map((i) => call(i));
    const asyncExpected = asyncCalls.map(runSync);
    const syncExpected = syncCalls.map(runSync);

    // native pool calls whose work had not finished when a sync call began
    // (binding/async_call.cc's counter: handed to libuv, work not yet done)
    let overlapped = 0;
    let computing = 0;
    const finishedBefore = binding().poolCalls().finished;
    const pending: Array<Promise<Loss>> = [];
    const syncGot: Loss[] = [];
    try {
      for (let j = 0; j < asyncCalls.length; j++) {
        pending.push(runAsync(asyncCalls[j]));
        const inFlight = binding().poolCalls();
        if (inFlight.pending > 0) overlapped++;
        if (inFlight.running > 0) computing++;
        syncGot.push(runSync(syncCalls[j]));
        // let completions in now and then, as a server's loop would
        if (j % 25 === 24) await new Promise((resolve) => setImmediate(resolve));
      }
    } finally {
      pl.setAsyncConcurrency(limit);
    }
    const asyncGot = await Promise.all(pending);
    // every async call really went through the pool
    expect(binding().poolCalls().finished - finishedBefore).toBe(200);
    // The sync calls really ran while native async work was unfinished: an
    // async call (up to 160 rows) is on average ~15 times the work of a sync
    // one (up to 40 rows), so the pool falls behind the JS thread however
    // busy the machine; half the samples is far below what it gives (200).
    expect(overlapped).toBeGreaterThan(100);
    // and some sampled while a pool thread was inside the computation
    expect(computing).toBeGreaterThan(0);
    expect(differences(syncIds, syncGot, syncExpected)).toEqual([]);
    expect(differences(asyncIds, asyncGot, asyncExpected)).toEqual([]);
  }, HEAVY_MS);

  it('the same inputs in many concurrent calls give one answer', async () => {
    const c = call(4, 200); // float32 npairs, a Tensor input shared by every call
    expect(c.kind).toBe('npairs');
    expect(c.x1).toBeInstanceOf(pl.Tensor);
    expect((c.x1 as pl.Tensor).dtype).toBe('float32');
    const expected = runSync(c);
    const got = await Promise.all(Array.from({ length: 64 }, () => runAsync(c)));
    expect(differences(got.map((_, i) => i), got, got.map(() => expected))).toEqual([]);
  });
});
