// GradCache: the whole batch's loss from micro-batches equals one call on the
// whole batch (float64 within 1e-10, float32 within 1e-5 / 1e-6; it is that
// call, so in fact to the bit), and PyTorch's for CLIP; each micro-batch's
// gradients are views of one buffer; under a group (W = 1 here, W = 2 in
// grad-cache.distributed.test.ts) the loss's group option gives global negatives;
// bad input is a TypeError or RangeError naming it.
import { spawnSync } from 'child_process';
import * as pl from '../lib';
import { GradCache, GradCacheLoss } from '../lib';
import { excess, hasPythonTorch, PYTHON, randn, freePort } from './helpers/distributed';

type DType = 'float32' | 'float64';
const TOL = { float32: { rtol: 1e-5, atol: 1e-6 }, float64: { rtol: 1e-10, atol: 1e-10 } };
const SPLITS = [3, 5, 1, 7]; // 4 micro-batches of uneven sizes: N = 16
const N = SPLITS.reduce((a, b) => a + b, 0);
const D = 6;

function arr(dtype: DType, values: number[]): Float32Array | Float64Array {
  return dtype === 'float64' ? Float64Array.from(values) : Float32Array.from(values);
}

function views(seed: number, dtype: DType, n = N, d = D): { a: Float32Array | Float64Array; b: Float32Array | Float64Array } {
  const a = randn(seed, n * d);
  const noise = randn(seed + 1, n * d);
  return { a: arr(dtype, a), b: arr(dtype, a.map((v, i) => v + 0.6 * noise[i])) };
}

function expectClose(ours: ArrayLike<number>, ref: ArrayLike<number>, dtype: DType, what: string): void {
  const e = excess(ours, ref, TOL[dtype].rtol, TOL[dtype].atol);
  if (!(e <= 0)) throw new Error(`${what}: beyond tolerance by ${e}`);
}

/** Feeds the cache the batch in SPLITS micro-batches; returns the micro-batches' row offsets. */
function feed(cache: GradCache, a: Float32Array | Float64Array, b: Float32Array | Float64Array, labels?: number[]): number[] {
  const starts: number[] = [];
  let start = 0;
  for (const rows of SPLITS) {
    const part = (x: Float32Array | Float64Array) => ({ data: x.slice(start * D, (start + rows) * D), shape: [rows, D] });
    const index = cache.add(part(a), part(b), labels?.slice(start, start + rows));
    expect(index).toBe(starts.length);
    starts.push(start);
    start += rows;
  }
  return starts;
}

/** The micro-batches' gradients, concatenated. */
function gathered(cache: GradCache, dtype: DType): { g1: number[]; g2: number[] } {
  const g1: number[] = [];
  const g2: number[] = [];
  for (let i = 0; i < SPLITS.length; i++) {
    const g = cache.gradients(i);
    expect(g.grad1.shape).toEqual([SPLITS[i], D]);
    expect(g.grad1.dtype).toBe(dtype);
    g1.push(...g.grad1.data());
    g2.push(...g.grad2.data());
  }
  return { g1, g2 };
}

const LABELS = [0, 1, 2, 0, 1, 3, 3, 2, 0, 1, 2, 4, 4, 0, 1, 2];

const cases: { name: string; loss: GradCacheLoss; options: Record<string, unknown>; labels?: boolean }[] = [
  { name: 'CLIP (npairs, symmetric)', loss: 'npairs', options: { symmetric: true, temperature: 0.1 } },
  { name: 'InfoNCE with label smoothing', loss: 'npairs', options: { temperature: 0.3, labelSmoothing: 0.1 } },
  { name: 'SupCon (labels per micro-batch)', loss: 'npairs', options: { temperature: 0.2 }, labels: true },
  { name: 'NT-Xent', loss: 'ntXent', options: { temperature: 0.5 } },
  { name: 'SigLIP (sigmoid)', loss: 'sigmoid', options: { scale: 10, bias: -10 } },
  { name: 'VICReg', loss: 'vicreg', options: {} },
  { name: 'Barlow Twins (correlation, features)', loss: 'correlation', options: { mode: 'features', lambda: 0.01, scale: 0.5 } },
];

const direct: Record<GradCacheLoss, (a: pl.TensorLike, b: pl.TensorLike, o: Record<string, unknown>) => { loss: number; grad1?: pl.Tensor; grad2?: pl.Tensor }> = {
  npairs: pl.npairsLoss,
  ntXent: pl.ntXentLoss,
  sigmoid: pl.sigmoidLoss,
  vicreg: pl.vicregLoss,
  correlation: pl.correlationLoss,
};

describe('the cached loss equals the loss of the whole batch at once', () => {
  for (const dtype of ['float64', 'float32'] as const) {
    for (const c of cases) {
      test(`${c.name}, ${dtype}`, () => {
        const { a, b } = views(100 + c.name.length, dtype);
        const cache = new GradCache({ loss: c.loss, batchSize: N, dim: D, dtype, lossOptions: c.options as never });
        feed(cache, a, b, c.labels ? LABELS : undefined);
        expect(cache.complete).toBe(true);
        const r = cache.loss();
        const whole = direct[c.loss]({ data: a, shape: [N, D] }, { data: b, shape: [N, D] },
          { ...c.options, ...(c.labels ? { labels: LABELS } : {}) });
        expectClose([r.loss], [whole.loss], dtype, 'loss');
        const { g1, g2 } = gathered(cache, dtype);
        expectClose(g1, whole.grad1!.data(), dtype, 'grad1');
        expectClose(g2, whole.grad2!.data(), dtype, 'grad2');
        // the same call: the same bits
        expect(r.loss).toBe(whole.loss);
        expect(g1).toEqual(Array.from(whole.grad1!.data()));
      });
    }
  }

  test('the async loss, reused over three batches (reset between them)', async () => {
    const cache = new GradCache({ loss: 'npairs', batchSize: N, dim: D, dtype: 'float64', lossOptions: { symmetric: true } });
    for (let step = 0; step < 3; step++) {
      const { a, b } = views(7 + step, 'float64');
      feed(cache, a, b);
      const r = await cache.lossAsync();
      const whole = pl.npairsLoss({ data: a, shape: [N, D] }, { data: b, shape: [N, D] }, { symmetric: true });
      expectClose([r.loss], [whole.loss], 'float64', `step ${step} loss`);
      const { g1, g2 } = gathered(cache, 'float64');
      expectClose(g1, whole.grad1.data(), 'float64', `step ${step} grad1`);
      expectClose(g2, whole.grad2.data(), 'float64', `step ${step} grad2`);
      cache.reset();
    }
  });

  test('a batch big enough for the libuv pool (not inline): the gradients still land in the cache\'s buffers', async () => {
    const [n, d] = [96, 32]; // N·N·D = 294912 multiply-adds > the 2^17 inline threshold
    const a = Float64Array.from(randn(5, n * d));
    const b = Float64Array.from(randn(6, n * d));
    const cache = new GradCache({ loss: 'npairs', batchSize: n, dim: d, dtype: 'float64', lossOptions: { symmetric: true } });
    for (let s = 0; s < n; s += 32) cache.add({ data: a.slice(s * d, (s + 32) * d), shape: [32, d] }, { data: b.slice(s * d, (s + 32) * d), shape: [32, d] });
    const pending = cache.lossAsync();
    expect(() => cache.reset()).toThrow(/reset: the loss is computing/);
    expect(() => cache.add({ data: a.slice(0, d), shape: [1, d] }, { data: b.slice(0, d), shape: [1, d] })).toThrow(/x1: this batch's loss is computing/);
    const r = await pending;
    const whole = pl.npairsLoss({ data: a, shape: [n, d] }, { data: b, shape: [n, d] }, { symmetric: true });
    expectClose([r.loss], [whole.loss], 'float64', 'loss');
    const g: number[] = [];
    for (let i = 0; i < 3; i++) g.push(...cache.gradients(i).grad1.data());
    expectClose(g, whole.grad1.data(), 'float64', 'grad1');
  });

  test('gradients are views of one buffer, the one the loss wrote through out (no copy)', () => {
    const { a, b } = views(3, 'float32');
    const cache = new GradCache({ loss: 'npairs', batchSize: N, dim: D });
    const starts = feed(cache, a, b);
    const r = cache.loss();
    const all1 = r.grad1.data();
    const all2 = r.grad2.data();
    expect(all1.length).toBe(N * D);
    for (let i = 0; i < SPLITS.length; i++) {
      const g = cache.gradients(i);
      const [d1, d2] = [g.grad1.data(), g.grad2.data()];
      expect(d1.buffer).toBe(all1.buffer);
      expect(d2.buffer).toBe(all2.buffer);
      expect(d1.byteOffset).toBe(all1.byteOffset + starts[i] * D * 4);
      expect(d1.length).toBe(SPLITS[i] * D);
    }
    // the next batch computes into the same memory
    cache.reset();
    feed(cache, b, a);
    expect(cache.loss().grad1.data().buffer).toBe(all1.buffer);
  });
});

describe('per-batch options', () => {
  test('a temperature that changes every step (learned), and NT-Xent against an EmbeddingQueue', () => {
    const cache = new GradCache({ loss: 'npairs', batchSize: N, dim: D, dtype: 'float64', lossOptions: { symmetric: true } });
    for (const temperature of [0.5, 0.25]) {
      const { a, b } = views(20 + temperature * 8, 'float64');
      feed(cache, a, b);
      const r = cache.loss({ temperature });
      const whole = pl.npairsLoss({ data: a, shape: [N, D] }, { data: b, shape: [N, D] }, { symmetric: true, temperature });
      expect(r.loss).toBe(whole.loss);
      expect(r.gradTemperature).toBe(whole.gradTemperature);
      expect(gathered(cache, 'float64').g1).toEqual(Array.from(whole.grad1.data()));
      cache.reset();
    }
    const queue = new pl.EmbeddingQueue({ size: 8, dim: D, dtype: 'float64' });
    const nt = new GradCache({ loss: 'ntXent', batchSize: N, dim: D, dtype: 'float64', lossOptions: { temperature: 0.2 } });
    for (let step = 0; step < 3; step++) {
      const { a, b } = views(60 + step, 'float64');
      feed(nt, a, b);
      const negatives = step === 0 ? {} : { negatives: queue.negatives() };
      const r = nt.loss(negatives);
      const whole = pl.ntXentLoss({ data: a, shape: [N, D] }, { data: b, shape: [N, D] }, { temperature: 0.2, ...negatives });
      expect(r.loss).toBe(whole.loss);
      const { g1, g2 } = gathered(nt, 'float64');
      expect(g1).toEqual(Array.from(whole.grad1.data()));
      expect(g2).toEqual(Array.from(whole.grad2.data()));
      queue.enqueue({ data: b, shape: [N, D] });
      nt.reset();
    }
  });

  test('an aborted lossAsync leaves the batch without a loss; it can be asked again', async () => {
    const { a, b } = views(9, 'float32');
    const cache = new GradCache({ loss: 'npairs', batchSize: N, dim: D });
    feed(cache, a, b);
    const ac = new AbortController();
    ac.abort();
    await expect(cache.lossAsync({ signal: ac.signal })).rejects.toThrow(/aborted/);
    expect(() => cache.gradients(0)).toThrow(/not computed yet/);
    const r = await cache.lossAsync({ signal: new AbortController().signal });
    expect(r.loss).toBe(pl.npairsLoss({ data: a, shape: [N, D] }, { data: b, shape: [N, D] }).loss);
  });

  test('the options the cache owns are refused per batch too', () => {
    const { a, b } = views(9, 'float32');
    const cache = new GradCache({ loss: 'npairs', batchSize: N, dim: D });
    feed(cache, a, b);
    expect(() => cache.loss({ out: {} } as never)).toThrow(/overrides\.out: is the cache's own/);
    expect(() => cache.loss({ grad: false } as never)).toThrow(/overrides\.grad/);
    expect(() => cache.loss({ signal: new AbortController().signal } as never)).toThrow(/overrides\.signal: applies to lossAsync/);
    expect(() => cache.loss(5 as never)).toThrow(TypeError);
    expect(() => cache.loss({ tempreature: 1 } as never)).toThrow(/Did you mean 'temperature'/);
    // and the batch still computes afterwards
    expect(Number.isFinite(cache.loss().loss)).toBe(true);
  });
});

describe('PyTorch', () => {
  const torch = hasPythonTorch();
  (torch ? test : test.skip)('CLIP through the cache equals torch autograd on the whole batch (float32 and float64)', () => {
    for (const dtype of ['float32', 'float64'] as const) {
      const { a, b } = views(42, dtype);
      const cache = new GradCache({ loss: 'npairs', batchSize: N, dim: D, dtype, lossOptions: { symmetric: true, temperature: 0.07 } });
      feed(cache, a, b);
      const r = cache.loss();
      const { g1, g2 } = gathered(cache, dtype);
      const script = `
import json, sys, torch
import torch.nn.functional as F
j = json.load(sys.stdin)
dt = torch.float64 if j['dtype'] == 'float64' else torch.float32
a = torch.tensor(j['a'], dtype=dt).reshape(${N}, ${D}).requires_grad_()
b = torch.tensor(j['b'], dtype=dt).reshape(${N}, ${D}).requires_grad_()
logits = F.normalize(a, dim=1) @ F.normalize(b, dim=1).T / 0.07
t = torch.arange(${N})
loss = (F.cross_entropy(logits, t) + F.cross_entropy(logits.T, t)) / 2
loss.backward()
print(json.dumps({'loss': loss.item(), 'g1': a.grad.flatten().tolist(), 'g2': b.grad.flatten().tolist()}))
`;
      const out = spawnSync(PYTHON, ['-c', script], { input: JSON.stringify({ dtype, a: Array.from(a), b: Array.from(b) }), encoding: 'utf8', timeout: 120000 });
      expect(out.stderr).toBe('');
      const ref = JSON.parse(out.stdout);
      expectClose([r.loss], [ref.loss], dtype, `${dtype} loss`);
      expectClose(g1, ref.g1, dtype, `${dtype} grad1`);
      expectClose(g2, ref.g2, dtype, `${dtype} grad2`);
    }
  });
});

describe('under a process group of one rank', () => {
  test('npairs and SigLIP through lossAsync with the loss\'s group equal the call without one', async () => {
    const pg = await pl.ProcessGroup.init({ rank: 0, worldSize: 1, port: await freePort(), timeoutMs: 10000 });
    try {
      for (const loss of ['npairs', 'sigmoid'] as const) {
        const { a, b } = views(11, 'float64');
        const options = loss === 'npairs' ? { symmetric: true, temperature: 0.2 } : {};
        const cache = new GradCache({ loss, batchSize: N, dim: D, dtype: 'float64', lossOptions: { ...options, group: pg } });
        feed(cache, a, b);
        const r = await cache.lossAsync();
        const whole = direct[loss]({ data: a, shape: [N, D] }, { data: b, shape: [N, D] }, options);
        expectClose([r.loss], [whole.loss], 'float64', `${loss} loss`);
        const { g1, g2 } = gathered(cache, 'float64');
        expectClose(g1, whole.grad1!.data(), 'float64', `${loss} grad1`);
        expectClose(g2, whole.grad2!.data(), 'float64', `${loss} grad2`);
      }
    } finally {
      await pg.destroy();
    }
  });
});

describe('bad input', () => {
  const x = (rows: number, d = D, dtype: DType = 'float32') => ({ data: arr(dtype, randn(rows, rows * d)), shape: [rows, d] });
  const cache = () => new GradCache({ loss: 'npairs', batchSize: 8, dim: D });

  test('construction', () => {
    expect(() => new GradCache({ loss: 'nope' as never, batchSize: 8, dim: D })).toThrow(RangeError);
    expect(() => new GradCache({ loss: 'nope' as never, batchSize: 8, dim: D })).toThrow(/for loss/);
    expect(() => new GradCache({ loss: 'npairs', batchSize: 0, dim: D })).toThrow(/batchSize/);
    expect(() => new GradCache({ loss: 'npairs', batchSize: 8, dim: 2.5 })).toThrow(RangeError);
    expect(() => new GradCache({ loss: 'npairs', batchSize: '8' as never, dim: D })).toThrow(TypeError);
    expect(() => new GradCache({ loss: 'npairs', batchSize: 8, dim: D, dtype: 'int8' as never })).toThrow(/dtype/);
    expect(() => new GradCache({ loss: 'npairs', batchSize: 8, dim: D, lossOptions: { out: {} } as never })).toThrow(/lossOptions\.out/);
    expect(() => new GradCache({ loss: 'npairs', batchSize: 8, dim: D, lossOptions: { grad: false } as never })).toThrow(/lossOptions\.grad/);
    expect(() => new GradCache({ loss: 'npairs', batchSize: 8, dim: D, bogus: 1 } as never)).toThrow(RangeError);
  });

  test('embeddings of mixed dtypes or widths', () => {
    const c = cache();
    expect(() => c.add(x(2, D, 'float64'), x(2, D, 'float64'))).toThrow(TypeError);
    expect(() => c.add(x(2, D, 'float64'), x(2, D, 'float64'))).toThrow(/x1 must have the cache's dtype \(float32\)/);
    expect(() => c.add(x(2), x(2, D, 'float64'))).toThrow(/x2 must have the cache's dtype/);
    expect(() => c.add(x(2, D + 1), x(2, D + 1))).toThrow(RangeError);
    expect(() => c.add(x(2, D + 1), x(2, D + 1))).toThrow(/x1: must have the cache's width D = 6, got 7/);
    expect(() => c.add(x(2), x(3))).toThrow(/x2: must have the 2 rows of x1/);
    expect(() => c.add(x(0), x(0))).toThrow(/x1: an empty micro-batch/);
    expect(() => c.add(Float32Array.from([1]) as never, x(1))).toThrow(TypeError);
    // nothing was added by the failed calls
    expect(c.rows).toBe(0);
    const t = new GradCache({ loss: 'ntXent', batchSize: 4, dim: D });
    expect(() => t.add(x(2, D + 1), x(2))).toThrow(/z1: must have the cache's width/);
  });

  test('more rows than the declared batch', () => {
    const c = cache();
    c.add(x(5), x(5));
    expect(() => c.add(x(4), x(4))).toThrow(RangeError);
    expect(() => c.add(x(4), x(4))).toThrow(/x1: 4 more rows would make 9, beyond the declared batchSize 8/);
    expect(c.rows).toBe(5);
    c.add(x(3), x(3));
    expect(() => c.add(x(1), x(1))).toThrow(/beyond the declared batchSize 8/);
  });

  test('the loss asked before every row arrived, or twice', async () => {
    const c = cache();
    expect(() => c.loss()).toThrow(/loss: 0 of the batch's 8 rows have arrived/);
    c.add(x(5), x(5));
    expect(() => c.loss()).toThrow(RangeError);
    expect(() => c.loss()).toThrow(/loss: 5 of the batch's 8 rows have arrived \(1 micro-batches\)/);
    await expect(c.lossAsync()).rejects.toThrow(/loss: 5 of the batch's 8 rows/);
    c.add(x(3), x(3));
    c.loss();
    expect(() => c.loss()).toThrow(/loss: already computed for this batch/);
    expect(() => c.add(x(1), x(1))).toThrow(/x1: this batch's loss is already computed; call reset\(\)/);
  });

  test("a micro-batch's gradient asked for twice, before the loss, or after a reset", () => {
    const c = cache();
    c.add(x(5), x(5));
    c.add(x(3), x(3));
    expect(() => c.gradients(0)).toThrow(/microBatch: the loss of this batch is not computed yet/);
    c.loss();
    c.gradients(1);
    expect(() => c.gradients(1)).toThrow(RangeError);
    expect(() => c.gradients(1)).toThrow(/microBatch: micro-batch 1's gradients were already handed out/);
    expect(() => c.gradients(2)).toThrow(/Expected a micro-batch index in \[0, 2\) for microBatch but received 2/);
    expect(() => c.gradients(0.5)).toThrow(RangeError);
    expect(() => c.gradients('0' as never)).toThrow(TypeError);
    c.reset();
    expect(() => c.gradients(0)).toThrow(RangeError);
    expect(() => c.gradients(0)).toThrow(/microBatch: the cache was reset/);
  });

  test('labels: only for npairs, every micro-batch or none, the right length', () => {
    const c = cache();
    expect(() => c.add(x(2), x(2), [0, 1, 2])).toThrow(/labels: expected 2 labels/);
    c.add(x(2), x(2), [0, 1]);
    expect(() => c.add(x(2), x(2))).toThrow(/labels: micro-batch 1 gives none and the earlier ones did/);
    const s = new GradCache({ loss: 'sigmoid', batchSize: 4, dim: D });
    expect(() => s.add(x(2), x(2), [0, 1])).toThrow(/labels: are SupCon's, for the 'npairs' loss/);
    const w = new GradCache({ loss: 'npairs', batchSize: 4, dim: D, lossOptions: { labels: [0, 1, 0, 1] } });
    expect(() => w.add(x(2), x(2), [0, 1])).toThrow(/labels: were given for the whole batch/);
  });

  test("the loss's own errors come through", () => {
    const c = new GradCache({ loss: 'npairs', batchSize: 2, dim: D, lossOptions: { temperature: -1 } });
    c.add(x(2), x(2));
    expect(() => c.loss()).toThrow(/temperature/);
  });
});

describe("issue 22's goal: one step over 16 micro-batches equals the whole batch at once", () => {
  // a batch of 512 in 16 micro-batches of uneven sizes (44, 20, 44, 20, ...)
  const sizes = Array.from({ length: 16 }, (_, i) => (i % 2 === 0 ? 44 : 20));
  const [n, d] = [sizes.reduce((x, y) => x + y, 0), 32];
  for (const dtype of ['float64', 'float32'] as const) {
    for (const c of cases.filter((k) => !k.labels)) {
      test(`${c.name}, ${dtype}, ${sizes.length} micro-batches of ${n}×${d}`, () => {
        const a = arr(dtype, randn(900 + c.name.length, n * d));
        const noise = randn(901 + c.name.length, n * d);
        const b = arr(dtype, Array.from(a, (v, i) => v + 0.6 * noise[i]));
        const cache = new GradCache({ loss: c.loss, batchSize: n, dim: d, dtype, lossOptions: c.options as never });
        let start = 0;
        for (const [i, rows] of sizes.entries()) {
          const part = (x: Float32Array | Float64Array) => ({ data: x.slice(start * d, (start + rows) * d), shape: [rows, d] });
          expect(cache.add(part(a), part(b))).toBe(i);
          start += rows;
        }
        expect(cache.complete).toBe(true);
        const r = cache.loss();
        const whole = direct[c.loss]({ data: a, shape: [n, d] }, { data: b, shape: [n, d] }, c.options);
        expectClose([r.loss], [whole.loss], dtype, 'loss');
        const g1: number[] = [];
        const g2: number[] = [];
        for (const [i, rows] of sizes.entries()) {
          const g = cache.gradients(i);
          expect(g.grad1.shape).toEqual([rows, d]);
          g1.push(...g.grad1.data());
          g2.push(...g.grad2.data());
        }
        expectClose(g1, whole.grad1!.data(), dtype, 'grad1');
        expectClose(g2, whole.grad2!.data(), dtype, 'grad2');
        expect(r.loss).toBe(whole.loss);
        expect(g2).toEqual(Array.from(whole.grad2!.data()));
      });
    }
  }
});
