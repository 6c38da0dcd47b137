// The losses' `out` option: gradients written into memory the caller owns
// (a training step that allocates nothing for them). Every loss case of the
// parity set runs with `out` buffers, sync and async, and is compared with
// PyTorch (scripts/oracle.py) at DESIGN.md's tolerances; the returned
// gradients must be views of the caller's arrays, and every bad `out` is a
// TypeError or RangeError naming it.
import * as pl from '../lib';
import { Case, mismatches, oracle, Result } from './helpers/parity';
// eslint-disable-next-line @typescript-eslint/no-var-requires
const { makeCases } = require('./helpers/cases.js');

const SEED = 730192113;
const LOSS_OPS = ['npairs', 'siglip', 'vicreg', 'ntxent', 'correlation'];
// eslint-disable-next-line @typescript-eslint/no-var-requires
const { matrix, rng } = require('./helpers/cases.js');
/**
 * The training job's shape: symmetric N-pairs over a batch of 512 (its
 * cross-entropy passes split over threads, merged in row order), at the
 * job's temperature and a colder one.
 */
function jobCases(): Case[] {
  const r = rng(SEED + 7);
  const out: Case[] = [];
  for (const dtype of ['float32', 'float64'] as const) {
    for (const temperature of [0.05, 0.01]) {
      out.push({
        name: `npairs symmetric 512x64, temperature ${temperature} ${dtype}`, op: 'npairs', dtype,
        inputs: { x1: matrix(r, 512, 64, dtype), x2: matrix(r, 512, 64, dtype) }, options: { temperature, symmetric: true },
      });
    }
  }
  return out;
}
const cases: Case[] = [...(makeCases(SEED) as Case[]).filter((c) => LOSS_OPS.includes(c.op)), ...jobCases()];
let reference: ReturnType<typeof oracle>;

beforeAll(() => {
  reference = oracle(cases);
});

type Arr = Float32Array | Float64Array;

function input(c: Case, key: string): pl.Tensor {
  const s = c.inputs[key];
  const data = c.dtype === 'float64' ? Float64Array.from(s.data) : Float32Array.from(s.data);
  return pl.Tensor.from(data, s.shape);
}

/** Buffers of the gradients' sizes, filled with NaN so that a value left unwritten fails the parity check. */
function buffers(c: Case, a: pl.Tensor, b: pl.Tensor): { grad1: Arr; grad2: Arr } {
  const make = (n: number): Arr => (c.dtype === 'float64' ? new Float64Array(n) : new Float32Array(n)).fill(NaN);
  return { grad1: make(a.size), grad2: make(b.size) };
}

interface Run { result: Result; returned: [Arr, Arr]; given: [Arr, Arr] }

/** The loss of case `c` with `out` buffers (sync or async). */
async function run(c: Case, async: boolean): Promise<Run> {
  const o = { ...c.options } as Record<string, unknown>;
  if (o.targetIndices) {
    o.target = Int32Array.from(o.targetIndices as number[]);
    delete o.targetIndices;
  }
  const names: Record<string, [string, string]> = { npairs: ['x1', 'x2'], siglip: ['x1', 'x2'], vicreg: ['z1', 'z2'], ntxent: ['z1', 'z2'], correlation: ['z1', 'z2'] };
  const [na, nb] = names[c.op];
  const a = input(c, na);
  const b = input(c, nb);
  if (c.inputs.target) o.target = input(c, 'target');
  if (c.inputs.negatives) o.negatives = input(c, 'negatives');
  const out = buffers(c, a, b);
  o.out = out;
  const call = <T>(sync: (x: pl.Tensor, y: pl.Tensor, opts: never) => T, asy: (x: pl.Tensor, y: pl.Tensor, opts: never) => Promise<T>): Promise<T> =>
    async ? asy(a, b, o as never) : Promise.resolve(sync(a, b, o as never));
  const t = (x: pl.Tensor | undefined) => ({ data: x!.data(), shape: x!.shape });
  let result: Result;
  let g1: pl.Tensor | undefined;
  let g2: pl.Tensor | undefined;
  switch (c.op) {
    case 'npairs': {
      const r = await call(pl.npairsLoss, pl.npairsLossAsync);
      [g1, g2] = [r.grad1, r.grad2];
      result = { loss: r.loss, grad1: t(g1), grad2: t(g2), gradTemperature: r.gradTemperature as number };
      break;
    }
    case 'siglip': {
      const r = await call(pl.sigmoidLoss, pl.sigmoidLossAsync);
      [g1, g2] = [r.grad1, r.grad2];
      result = { loss: r.loss, grad1: t(g1), grad2: t(g2), gradScale: r.gradScale as number, gradBias: r.gradBias as number };
      break;
    }
    case 'vicreg': {
      const r = await call(pl.vicregLoss, pl.vicregLossAsync);
      [g1, g2] = [r.grad1, r.grad2];
      result = { loss: r.loss, invariance: r.invariance, variance: r.variance, covariance: r.covariance, grad1: t(g1), grad2: t(g2) };
      break;
    }
    case 'ntxent': {
      const r = await call(pl.ntXentLoss, pl.ntXentLossAsync);
      [g1, g2] = [r.grad1, r.grad2];
      result = { loss: r.loss, grad1: t(g1), grad2: t(g2), gradTemperature: r.gradTemperature as number };
      break;
    }
    default: {
      const r = await call(pl.correlationLoss, pl.correlationLossAsync);
      [g1, g2] = [r.grad1, r.grad2];
      result = { loss: r.loss, onDiagonal: r.onDiagonal, offDiagonal: r.offDiagonal, grad1: t(g1), grad2: t(g2) };
    }
  }
  return { result, returned: [g1!.data() as Arr, g2!.data() as Arr], given: [out.grad1, out.grad2] };
}

/** The reference without what `out` has nothing to do with (the similarity matrix, which these runs do not ask for). */
function referenceOf(i: number): Result {
  const { similarity: _unused, ...rest } = reference.results[i];
  return rest;
}

describe(`gradients into caller memory match PyTorch (seed ${SEED})`, () => {
  it('covers every loss', () => {
    expect(new Set(cases.map((c) => c.op))).toEqual(new Set(LOSS_OPS));
    expect(reference.results).toHaveLength(cases.length);
  });

  describe.each([['sync', false], ['async', true]] as const)('%s', (_mode, async) => {
    it.each(cases.map((c, i) => [c.name, i] as const))('%s', async (_name, i) => {
      const r = await run(cases[i], async);
      expect(mismatches(r.result, referenceOf(i), cases[i].dtype)).toEqual([]);
      // the gradients returned are the caller's arrays, not copies
      for (const k of [0, 1]) {
        expect(r.returned[k].buffer).toBe(r.given[k].buffer);
        expect(r.returned[k].byteOffset).toBe(r.given[k].byteOffset);
        expect(r.returned[k].length).toBe(r.given[k].length);
      }
    });
  });
});

describe('out: reuse across calls', () => {
  it('a second call overwrites the first call\'s gradients in the same memory', () => {
    const x1 = pl.Tensor.from(Float32Array.from({ length: 12 }, (_, k) => Math.sin(k + 1)), [3, 4]);
    const x2 = pl.Tensor.from(Float32Array.from({ length: 12 }, (_, k) => Math.cos(2 * k + 1)), [3, 4]);
    const y2 = pl.Tensor.from(Float32Array.from({ length: 12 }, (_, k) => Math.cos(3 * k + 2)), [3, 4]);
    const out = { grad1: new Float32Array(12), grad2: new Float32Array(12) };
    pl.npairsLoss(x1, x2, { temperature: 0.1, symmetric: true, out });
    const first = Float32Array.from(out.grad1);
    const r = pl.npairsLoss(x1, y2, { temperature: 0.1, symmetric: true, out });
    const fresh = pl.npairsLoss(x1, y2, { temperature: 0.1, symmetric: true });
    expect(Array.from(out.grad1)).toEqual(Array.from(fresh.grad1.data()));
    expect(Array.from(out.grad2)).toEqual(Array.from(fresh.grad2.data()));
    expect(Array.from(out.grad1)).not.toEqual(Array.from(first));
    expect(r.grad1.data()).toBe(out.grad1);
  });

  it('a Tensor as out: the result is a tensor over its memory', () => {
    const x = pl.Tensor.from(Float64Array.from({ length: 8 }, (_, k) => k - 3.5), [2, 4]);
    const y = pl.Tensor.from(Float64Array.from({ length: 8 }, (_, k) => (k * 7) % 5), [2, 4]);
    const g = pl.Tensor.from(new Float64Array(8), [2, 4]);
    const r = pl.correlationLoss(x, y, { mode: 'features', out: { grad1: g } });
    const fresh = pl.correlationLoss(x, y, { mode: 'features' });
    expect(Array.from(g.data())).toEqual(Array.from(fresh.grad1.data()));
    expect(r.grad1.data()).toBe(g.data());
    expect(Array.from(r.grad2.data())).toEqual(Array.from(fresh.grad2.data()));
  });
});

describe('out: async calls on the pool', () => {
  it('compute into memory of their own and copy into out when they settle: equal to the sync call', async () => {
    const n = 600;
    const a = pl.Tensor.from(Float32Array.from({ length: n * 64 }, (_, k) => Math.sin(0.37 * k)), [n, 64]);
    const b = pl.Tensor.from(Float32Array.from({ length: n * 64 }, (_, k) => Math.cos(0.11 * k)), [n, 64]);
    const out = { grad1: new Float32Array(n * 64).fill(NaN), grad2: new Float32Array(n * 64).fill(NaN) };
    const pending = pl.npairsLossAsync(a, b, { temperature: 0.05, symmetric: true, out });
    // it runs on the pool (not inline): one call in flight now
    expect(pl.asyncQueueStats().running).toBe(1);
    const r = await pending;
    const sync = pl.npairsLoss(a, b, { temperature: 0.05, symmetric: true });
    expect(r.loss).toBe(sync.loss);
    expect(r.grad1.data()).toBe(out.grad1);
    expect(r.grad2.data()).toBe(out.grad2);
    expect(Buffer.from(out.grad1.buffer).equals(Buffer.from(sync.grad1.data().buffer, sync.grad1.data().byteOffset, sync.grad1.data().byteLength))).toBe(true);
    expect(Buffer.from(out.grad2.buffer).equals(Buffer.from(sync.grad2.data().buffer, sync.grad2.data().byteOffset, sync.grad2.data().byteLength))).toBe(true);
  });
});

describe('out: bad arguments', () => {
  const x1 = pl.Tensor.from(new Float32Array(12).map((_, k) => Math.sin(k)), [3, 4]);
  const x2 = pl.Tensor.from(new Float32Array(16).map((_, k) => Math.cos(k)), [4, 4]);
  const shared = new Float32Array(24);
  const a = pl.Tensor.from(shared.subarray(0, 12), [3, 4]);
  const b = pl.Tensor.from(shared.subarray(12, 24), [3, 4]);

  it.each([
    ['a number', 3, TypeError, /Expected an object \{ grad1\?, grad2\? \} for out/],
    ['null', null, TypeError, /for out/],
    ['an array', [new Float32Array(12)], TypeError, /for out/],
    ['a typed array itself', new Float32Array(12), TypeError, /for out/],
    ['an unknown key', { grad3: new Float32Array(12) }, RangeError, /Unknown key 'grad3' in out/],
    ['grad1 of the wrong type', { grad1: [0, 0] }, TypeError, /for out\.grad1/],
    ['grad1 of Int32Array', { grad1: new Int32Array(12) }, TypeError, /out\.grad1/],
    ['grad1 of the wrong size', { grad1: new Float32Array(11) }, RangeError, /out\.grad1: must have exactly 12 elements/],
    ['grad2 of the wrong size (x2 is [4, 4])', { grad2: new Float32Array(12) }, RangeError, /out\.grad2: must have exactly 16 elements/],
    ['grad1 of the wrong dtype', { grad1: new Float64Array(12) }, RangeError, /out\.grad1: must have the inputs' dtype \(float32\)/],
    ['a disposed Tensor', { grad1: (() => { const t = pl.Tensor.from(new Float32Array(12), [3, 4]); t.dispose(); return t; })() }, RangeError, /out\.grad1: the tensor has been disposed/],
  ] as const)('%s', (_what, out, cls, message) => {
    expect(() => pl.npairsLoss(x1, x2, { out } as never)).toThrow(cls);
    expect(() => pl.npairsLoss(x1, x2, { out } as never)).toThrow(message);
  });

  it('a Tensor of the right size but another shape: the gradient keeps its own shape, over that memory', () => {
    const t = pl.Tensor.from(new Float32Array(12), [4, 3]);
    const r = pl.npairsLoss(x1, x2, { out: { grad1: t } });
    expect(r.grad1.shape).toEqual([3, 4]);
    expect(r.grad1.data()).toBe(t.data());
  });

  it('out overlapping an input is a RangeError naming it', () => {
    expect(() => pl.npairsLoss(a, b, { out: { grad1: shared.subarray(0, 12) } })).toThrow(/out\.grad1: overlaps the memory of x1/);
    expect(() => pl.npairsLoss(a, b, { out: { grad2: shared.subarray(6, 18) } })).toThrow(/out\.grad2: overlaps the memory of x1/);
    expect(() => pl.npairsLoss(a, b, { out: { grad1: shared.subarray(6, 18) } })).toThrow(RangeError);
  });

  it('out overlapping a target or a memory bank is a RangeError', () => {
    const mem = new Float32Array(12 + 9);
    const target = pl.Tensor.from(mem.subarray(0, 9).fill(1 / 3), [3, 3]);
    const y = pl.Tensor.from(new Float32Array(12).map((_, k) => Math.cos(k)), [3, 4]);
    expect(() => pl.npairsLoss(x1, y, { target, out: { grad1: mem.subarray(9, 21) } })).not.toThrow();
    expect(() => pl.npairsLoss(x1, y, { target, out: { grad1: mem.subarray(0, 12) } })).toThrow(/out\.grad1: overlaps the memory of target/);
    const bank = new Float32Array(20).map((_, k) => Math.sin(3 * k));
    const negatives = pl.Tensor.from(bank, [5, 4]);
    expect(() => pl.ntXentLoss(x1, y, { negatives, out: { grad2: bank.subarray(4, 16) } })).toThrow(/out\.grad2: overlaps the memory of negatives/);
  });

  it('the two gradients in one memory is a RangeError', () => {
    const y = pl.Tensor.from(new Float32Array(12).map((_, k) => Math.cos(k)), [3, 4]);
    const m = new Float32Array(18);
    expect(() => pl.npairsLoss(x1, y, { out: { grad1: m.subarray(0, 12), grad2: m.subarray(6, 18) } })).toThrow(/out\.grad2: overlaps out\.grad1/);
  });

  it('out with grad: false is a RangeError', () => {
    expect(() => pl.npairsLoss(x1, x2, { grad: false, out: { grad1: new Float32Array(12) } })).toThrow(/out: holds gradients, and grad: false computes none/);
  });

  it('async calls reject with the same errors', async () => {
    await expect(pl.npairsLossAsync(x1, x2, { out: { grad1: new Float32Array(5) } })).rejects.toThrow(/out\.grad1: must have exactly 12 elements/);
    await expect(pl.sigmoidLossAsync(x1, x2, { out: { grad2: new Float64Array(16) } })).rejects.toThrow(/out\.grad2: must have the inputs' dtype/);
  });

  it('an async call whose out array is transferred meanwhile rejects instead of writing to it', async () => {
    const n = 600;
    const big1 = pl.Tensor.from(Float32Array.from({ length: n * 64 }, (_, k) => Math.sin(k)), [n, 64]);
    const big2 = pl.Tensor.from(Float32Array.from({ length: n * 64 }, (_, k) => Math.cos(k)), [n, 64]);
    const grad1 = new Float32Array(n * 64);
    const p = pl.npairsLossAsync(big1, big2, { out: { grad1 } });
    // transfer the array's buffer away while the pool computes (structuredClone detaches it here)
    structuredClone(grad1.buffer, { transfer: [grad1.buffer] });
    expect(grad1.length).toBe(0);
    await expect(p).rejects.toThrow(/out\.grad1: its memory was detached or resized while the call ran/);
  });
});
