// adam / adamAsync / Adam against torch.optim.Adam and AdamW run by
// PyTorch over 100 steps on the same gradients (scripts/oracle.py), every
// option, float32 and float64, several tensors of different sizes.
import * as pl from '../lib';
import { binding } from '../lib/binding';
import { setInlineMaxWork } from '../lib/queue';
import { Case, mismatches, oracle } from './helpers/parity';
// eslint-disable-next-line @typescript-eslint/no-var-requires
const { rng, matrix } = require('./helpers/cases.js');

const r = rng(1e3);
const SIZES = [[5], [3, 11], [130]];
const STEPS = 100;

type Options = Record<string, number | boolean>;
const OPTIONS: [string, Options][] = [
  ['defaults', {}],
  ['lr, betas, eps', { lr: 0.01, beta1: 0.8, beta2: 0.99, eps: 1e-6 }],
  ['weightDecay (Adam: added to the grad)', { lr: 0.005, weightDecay: 0.1 }],
  ['decoupledWeightDecay (AdamW)', { lr: 0.005, weightDecay: 0.1, decoupledWeightDecay: true }],
  ['amsgrad', { lr: 0.01, amsgrad: true }],
  ['maximize', { lr: 0.003, maximize: true, weightDecay: 0.01 }],
  ['AdamW, amsgrad and maximize together', { lr: 0.02, weightDecay: 0.05, decoupledWeightDecay: true, amsgrad: true, maximize: true }],
  ['beta1 = 0 (RMSProp-like)', { beta1: 0, lr: 0.01 }],
];

interface AdamCase extends Case { params: number[][]; grads: number[][][] }

function makeCases(): AdamCase[] {
  const cases: AdamCase[] = [];
  for (const dtype of ['float32', 'float64'] as const) {
    for (const [label, options] of OPTIONS) {
      const count = (s: number[]) => s.reduce((a, b) => a * b, 1);
      const params = SIZES.map((s) => matrix(r, 1, count(s), dtype).data as number[]);
      // gradients that change sign and scale over the steps, some exactly zero
      const grads = Array.from({ length: STEPS }, (_, step) => SIZES.map((s) => {
        const g = matrix(r, 1, count(s), dtype, { scale: step % 10 === 9 ? 10 : 0.5 }).data as number[];
        if (step % 7 === 3) g[0] = 0;
        return g;
      }));
      const spec = (data: number[]) => ({ data, shape: [data.length] });
      cases.push({ name: `${label} ${dtype}`, op: 'adam', dtype, inputs: {}, params, grads,
        options: { ...options, params: params.map(spec), grads: grads.map((step) => step.map(spec)) } });
    }
  }
  return cases;
}

const cases = makeCases();
let reference: ReturnType<typeof oracle>;
beforeAll(() => {
  reference = oracle(cases);
});

const floats = (dtype: string, data: number[]): Float32Array | Float64Array => (dtype === 'float64' ? Float64Array.from(data) : Float32Array.from(data));
const zeros = (like: Float32Array | Float64Array) => (like instanceof Float64Array ? new Float64Array(like.length) : new Float32Array(like.length));

/** The state after every step, as the oracle's keys. */
function state(params: readonly ArrayLike<number>[], m: readonly ArrayLike<number>[], v: readonly ArrayLike<number>[], max?: readonly ArrayLike<number>[]) {
  const out: Record<string, { data: ArrayLike<number>; shape: number[] }> = {};
  const t = (x: ArrayLike<number>) => ({ data: x, shape: [x.length] });
  params.forEach((p, k) => {
    out[`param${k}`] = t(p);
    out[`expAvg${k}`] = t(m[k]);
    out[`expAvgSq${k}`] = t(v[k]);
    if (max) out[`maxExpAvgSq${k}`] = t(max[k]);
  });
  return out;
}

describe('adam: parity with torch.optim.Adam / AdamW over 100 steps', () => {
  it.each(cases.map((c, i) => [c.name, i] as const))('%s: adam, adamAsync (inline and pool) and the Adam class', async (_name, i) => {
    const c = cases[i];
    const { params: _p, grads: _g, ...options } = c.options as Options & { params: unknown; grads: unknown };
    void _p;
    void _g;
    const grads = c.grads.map((step) => step.map((g) => floats(c.dtype, g)));
    // the function, sync
    const p = c.params.map((x) => floats(c.dtype, x));
    const m = p.map(zeros), v = p.map(zeros);
    const max = options.amsgrad ? p.map(zeros) : undefined;
    for (let step = 1; step <= STEPS; step++) {
      pl.adam(p, grads[step - 1], m, v, { ...options, step, ...(max ? { maxExpAvgSqs: max } : {}) });
    }
    expect(mismatches(state(p, m, v, max), reference.results[i], c.dtype)).toEqual([]);
    // the function, async: inline, then on the pool; params as Tensors
    for (const inline of [undefined, 0]) {
      setInlineMaxWork(inline);
      try {
        const pa = c.params.map((x, k) => pl.Tensor.from(floats(c.dtype, x), SIZES[k]));
        const ma = pa.map((t) => zeros(t.data())), va = pa.map((t) => zeros(t.data()));
        const maxa = options.amsgrad ? pa.map((t) => zeros(t.data())) : undefined;
        for (let step = 1; step <= STEPS; step++) {
          await pl.adamAsync(pa, grads[step - 1], ma, va, { ...options, step, ...(maxa ? { maxExpAvgSqs: maxa } : {}) });
        }
        expect(mismatches(state(pa.map((t) => t.data()), ma, va, maxa), reference.results[i], c.dtype)).toEqual([]);
      } finally {
        setInlineMaxWork(undefined);
      }
    }
    // the class
    const pc = c.params.map((x) => floats(c.dtype, x));
    const opt = new pl.Adam(pc, options);
    for (let step = 0; step < STEPS; step++) opt.step(grads[step]);
    expect(opt.stepCount).toBe(STEPS);
    expect(mismatches(state(pc, opt.expAvgs, opt.expAvgSqs, opt.maxExpAvgSqs), reference.results[i], c.dtype)).toEqual([]);
  });
});

describe('Adam class', () => {
  it('stepAsync keeps the count; the moments start at zeros of each dtype', async () => {
    const w = Float64Array.of(1, 2, 3), b = Float32Array.of(0.5);
    const opt = new pl.Adam([w, b], { lr: 0.1 });
    expect(opt.expAvgs[0]).toBeInstanceOf(Float64Array);
    expect(opt.expAvgs[1]).toBeInstanceOf(Float32Array);
    expect(Array.from(opt.expAvgSqs[0])).toEqual([0, 0, 0]);
    await opt.stepAsync([Float64Array.of(1, -1, 0), Float32Array.of(2)]);
    expect(opt.stepCount).toBe(1);
    // the first step moves each param by lr against the grad's sign (zero grad: no move)
    expect(w[0]).toBeCloseTo(0.9, 6);
    expect(w[1]).toBeCloseTo(2.1, 6);
    expect(w[2]).toBe(3);
    await expect(opt.stepAsync([Float64Array.of(1, 2), Float32Array.of(1)])).rejects.toThrow(/^grads\[0\]: must have the 3 elements/);
    expect(opt.stepCount).toBe(1);
    expect(() => opt.step([Float64Array.of(1, 2, 3)])).toThrow(/^grads: must hold one tensor per param \(2\), got 1/);
    expect(opt.stepCount).toBe(1);
  });
  it('bad hyperparameters at construction, and changed ones at a step', () => {
    expect(() => new pl.Adam([new Float32Array(2)], { lr: -1 })).toThrow(RangeError);
    expect(() => new pl.Adam([new Float32Array(2)], { beta2: 1 })).toThrow(/for beta2/);
    expect(() => new pl.Adam([[1, 2] as unknown as Float32Array])).toThrow(TypeError);
    expect(() => new pl.Adam([new Float32Array(2)], { momentum: 0.9 } as pl.AdamHyperparameters)).toThrow(/Unknown option 'momentum'/);
    const opt = new pl.Adam([new Float32Array(2)]);
    opt.hyperparameters.lr = NaN;
    expect(() => opt.step([new Float32Array(2)])).toThrow(/for lr but received NaN/);
    expect(opt.stepCount).toBe(0);
  });
});

describe('adam: bad arguments', () => {
  type T = pl.AdamTensor[];
  const make = (): { p: T; g: T; m: T; v: T } => ({ p: [Float32Array.of(1, 2), Float32Array.of(3)], g: [Float32Array.of(0.1, 0.2), Float32Array.of(0.3)],
    m: [new Float32Array(2), new Float32Array(1)], v: [new Float32Array(2), new Float32Array(1)] });
  const call = (change: Partial<ReturnType<typeof make>>, opts: Record<string, unknown> = { step: 1 }) => {
    const a = { ...make(), ...change };
    return () => pl.adam(a.p, a.g, a.m, a.v, opts as unknown as pl.AdamOptions);
  };
  const untouched = () => {
    // nothing written when a check fails
    const a = make();
    expect(() => pl.adam(a.p, a.g, a.m, [a.v[0]], { step: 1 })).toThrow(RangeError);
    expect(Array.from(a.p[0] as Float32Array)).toEqual([1, 2]);
    expect(Array.from(a.m[0] as Float32Array)).toEqual([0, 0]);
  };
  it('lists of different counts', () => {
    expect(call({ g: [Float32Array.of(1, 2)] })).toThrow(/^grads: must hold one tensor per param \(2\), got 1/);
    expect(call({ m: [] })).toThrow(/^expAvgs: must hold one tensor per param/);
    expect(call({ v: [new Float32Array(2), new Float32Array(1), new Float32Array(1)] })).toThrow(/^expAvgSqs: must hold one tensor per param \(2\), got 3/);
    untouched();
  });
  it('tensors of different lengths or dtypes, or of the wrong type', () => {
    expect(call({ g: [Float32Array.of(1, 2, 3), Float32Array.of(3)] })).toThrow(/^grads\[0\]: must have the 2 elements of params\[0\], got 3/);
    expect(call({ v: [new Float32Array(2), new Float32Array(2)] })).toThrow(RangeError);
    expect(call({ m: [new Float64Array(2), new Float32Array(1)] })).toThrow(TypeError);
    expect(call({ m: [new Float64Array(2), new Float32Array(1)] })).toThrow(/^expAvgs\[0\] must have the dtype of params\[0\] \(float32\), got float64/);
    expect(call({ p: [[1, 2] as unknown as Float32Array, Float32Array.of(3)] })).toThrow(/^Expected a Tensor, Float32Array or Float64Array for params\[0\] but received an array/);
    expect(call({ g: 'x' as unknown as Float32Array[] })).toThrow(/for grads but received "x"/);
  });
  it('lr NaN or negative; betas outside [0, 1); eps <= 0; a negative weight decay', () => {
    expect(call({}, { step: 1, lr: NaN })).toThrow(RangeError);
    expect(call({}, { step: 1, lr: NaN })).toThrow(/for lr but received NaN/);
    expect(call({}, { step: 1, lr: -0.1 })).toThrow(/for lr but received -0\.1/);
    expect(call({}, { step: 1, beta1: 1 })).toThrow(/^Expected a number in \[0, 1\) for beta1 but received 1/);
    expect(call({}, { step: 1, beta1: -0.1 })).toThrow(/for beta1/);
    expect(call({}, { step: 1, beta2: 1.5 })).toThrow(/for beta2/);
    expect(call({}, { step: 1, eps: 0 })).toThrow(/for eps but received 0/);
    expect(call({}, { step: 1, eps: -1e-8 })).toThrow(RangeError);
    expect(call({}, { step: 1, weightDecay: -1 })).toThrow(/for weightDecay/);
    expect(call({}, { step: 1, lr: '1' })).toThrow(TypeError);
    expect(call({}, { step: 1, amsgrad: 1 })).toThrow(TypeError);
  });
  it('step missing, < 1 or not an integer', () => {
    expect(call({}, {})).toThrow(TypeError);
    expect(call({}, {})).toThrow(/for step but received undefined/);
    expect(call({}, { step: 0 })).toThrow(/^Expected an integer >= 1 for step but received 0/);
    expect(call({}, { step: 1.5 })).toThrow(RangeError);
    expect(call({}, { step: Infinity })).toThrow(RangeError);
    const a = make();
    expect(() => pl.adam(a.p, a.g, a.m, a.v, undefined as unknown as pl.AdamOptions)).toThrow(TypeError);
  });
  it('amsgrad without maxExpAvgSqs, or maxExpAvgSqs without amsgrad', () => {
    expect(call({}, { step: 1, amsgrad: true })).toThrow(/^Expected an array of tensors \(required with amsgrad\) for maxExpAvgSqs/);
    expect(call({}, { step: 1, maxExpAvgSqs: [new Float32Array(2), new Float32Array(1)] })).toThrow(/^maxExpAvgSqs: only with amsgrad: true/);
    expect(call({}, { step: 1, amsgrad: true, maxExpAvgSqs: [new Float32Array(2)] })).toThrow(/^maxExpAvgSqs: must hold one tensor per param/);
  });
  it('a moment that aliases a param, or another moment; a grad over a param', () => {
    const a = make();
    expect(() => pl.adam(a.p, a.g, [a.p[0], a.m[1]], a.v, { step: 1 })).toThrow(/^expAvgs\[0\]: shares memory with params\[0\]/);
    const buffer: Float32Array = new Float32Array(4);
    expect(() => pl.adam(a.p, a.g, [buffer.subarray(0, 2), a.m[1]], [buffer.subarray(1, 3), a.v[1]], { step: 1 }))
      .toThrow(/^expAvgSqs\[0\]: shares memory with expAvgs\[0\]/);
    expect(() => pl.adam(a.p, [a.p[0], a.g[1]], a.m, a.v, { step: 1 })).toThrow(/^grads\[0\]: shares memory with params\[0\]/);
    // a param listed twice
    expect(() => pl.adam([a.p[0], a.p[0]], [a.g[0], a.g[0]], [a.m[0], new Float32Array(2)], [a.v[0], new Float32Array(2)], { step: 1 }))
      .toThrow(/^params\[1\]: shares memory with params\[0\]/);
    // grads may share memory with each other (read only)
    expect(() => pl.adam([a.p[0], Float32Array.of(1, 1)], [a.g[0], a.g[0]], [a.m[0], new Float32Array(2)], [a.v[0], new Float32Array(2)], { step: 1 }))
      .not.toThrow();
    // and native code checks it too (binding called directly)
    const raw = (x: pl.AdamTensor) => ({ data: x as Float32Array, shape: [(x as Float32Array).length] });
    const opts = { step: 1, lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0, decoupledWeightDecay: false, amsgrad: false, maximize: false };
    expect(() => binding().adam([raw(a.p[0])], [raw(a.g[0])], [raw(a.p[0])], [raw(a.v[0])], null, opts, false)).toThrow(/share memory/);
  });
  it('async on the pool: a param transferred while the call runs is a RangeError when it is done', async () => {
    setInlineMaxWork(0);
    try {
      const a = make();
      const pending = pl.adamAsync(a.p, a.g, a.m, a.v, { step: 1 });
      const p0 = a.p[0] as Float32Array;
      structuredClone(p0.buffer, { transfer: [p0.buffer as ArrayBuffer] });
      await expect(pending).rejects.toThrow(/params and moments.*detached/);
    } finally {
      setInlineMaxWork(undefined);
    }
  });
  it('async rejects with the same errors', async () => {
    const a = make();
    await expect(pl.adamAsync(a.p, a.g, a.m, a.v, { step: 0 })).rejects.toThrow(/for step/);
    await expect(pl.adamAsync(a.p, a.g, [a.p[0], a.m[1]], a.v, { step: 1 })).rejects.toThrow(/^expAvgs\[0\]: shares memory/);
  });
});
