// Property-based fuzzing (fast-check) of every public function of pairloss
// except ProcessGroup: random shapes (0, 1, large, mismatched), dtypes,
// buffers (offset views into larger buffers, SharedArrayBuffer, detached),
// options (NaN, ±Infinity, strings, objects, negative numbers, unknown keys)
// and targets. The properties:
//   - a call returns a well-formed result or throws (rejects) a TypeError,
//     RangeError or Error with a message -- never a native crash, never a JS
//     engine error from an unchecked argument;
//   - it never writes into its inputs, nor next to them in a larger buffer;
//   - checkFinite: true with NaN/Inf in the data is a RangeError;
//   - a loss called again on fresh copies of its inputs gives bit for bit
//     the same answer; an async loss gives bit for bit the sync result (or
//     the same error), even when the caller scribbles over or detaches its
//     inputs at once;
//   - successes match PyTorch: a sample of them goes through the oracle in
//     one Python call at the end (float32 cases also in float64, which
//     settles who is right where two float32 answers differ; a float64 case
//     outside tolerance goes again with its inputs moved by a few ulps, which
//     tells an ill-conditioned case from a wrong answer: withinSpread).
// A crash would kill the jest worker, so each group of functions runs in a
// child process (this same file, run by node with a TypeScript require hook)
// and the test asserts that the child exits 0; a crash shows the child's
// stderr and the last case it started.
//
// Result dtypes follow PyTorch's type promotion for each op
// (resultDtypes in helpers/parity.ts, checked against PyTorch itself by the
// last test here): e.g. crossEntropy of float32 logits with a float64
// probability target is float64, as F.cross_entropy's is.
//
// Seed: `npm test` fuzzes with DEFAULT_SEED below, so that the suite gives the
// same answer on every run; `npm run fuzz` (PAIRLOSS_FUZZ_SEED=random)
// explores a fresh seed and prints it; scripts/fuzz-seeds.sh N runs N fresh
// seeds and tallies them. Any seed is PAIRLOSS_FUZZ_SEED=<integer>; every
// failure prints the command that replays it.
// Cases per property: PAIRLOSS_FUZZ_RUNS (default 150, a few thousand calls
// in all); parity sample size: PAIRLOSS_FUZZ_PARITY (default 240).
import fc from 'fast-check';
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Resvg } from '@resvg/resvg-js';
import { PNG } from 'pngjs';
import * as pl from '../lib';
import { Case, dtypeCombinations, DTYPE_INPUTS, FloatDType, InputDType, mismatches, oracle, Result, resultDtypes, TOLERANCE, torchResultDtypes } from './helpers/parity';
// eslint-disable-next-line @typescript-eslint/no-var-requires
const { rng, normal } = require('./helpers/cases.js') as { rng: (seed: number) => () => number; normal: (r: () => number) => number };

type FloatArray = Float32Array | Float64Array;
type DType = 'float32' | 'float64';

/**
 * The random seed of `npm test`: recorded, so that every run fuzzes the same cases
 * and a failure is a change in the library (or the test), not a new draw. It
 * passed here with 150 runs a property on LibTorch 1.13 (it was CI's pinned
 * seed); change it only together with a run of scripts/fuzz-seeds.sh.
 */
const DEFAULT_SEED = 285472872;
const DEFAULT_RUNS = 150;
const DEFAULT_PARITY = 240;
const RUNS = Math.max(1, Number(process.env.PAIRLOSS_FUZZ_RUNS || DEFAULT_RUNS));
const PARITY = Math.max(0, Number(process.env.PAIRLOSS_FUZZ_PARITY || DEFAULT_PARITY));
const CHILD = process.env.PAIRLOSS_FUZZ_CHILD;
/** Elements of the largest input (float64: 4 MiB). */
const MAX_ELEMENTS = 1 << 19;

// ---------------------------------------------------------------------------
// Inputs: recipes (plain data fast-check generates, shrinks and prints) that
// are made into fresh arrays, tensors and buffers for each call.
// ---------------------------------------------------------------------------

/** How a float array reaches the function. */
type Form =
  | 'plain' // { data: new Float32Array(n), shape }
  | 'offset' // a view into a larger ArrayBuffer, sentinels around it
  | 'shared' // the same over a SharedArrayBuffer
  | 'tensor' // Tensor.from(plain view)
  | 'tensorOffset' // Tensor.from(offset view)
  | 'nested' // number[][] (2-D shapes only; otherwise plain)
  | 'detached' // a typed array whose ArrayBuffer was transferred away
  | 'disposed'; // a disposed Tensor

interface ArrayRecipe {
  dtype: DType;
  shape: unknown; // as passed: may be garbage
  length: number; // elements in the typed array
  form: Form;
  seed: number;
  scale: number;
  special: number; // share of NaN / ±Infinity / huge / denormal values
  zeroRow: boolean;
  pad: number; // elements before and after an offset view
}

/** An argument: a recipe, or a raw (usually garbage) value passed as it is. */
type Arg = { recipe: ArrayRecipe } | { raw: unknown };

const SPECIALS = [NaN, Infinity, -Infinity, -0, 3e-45, 1e-310, 3e38, -3e38, 1e300, Number.MAX_VALUE];
const SENTINEL = -7.25e29;

/** An object whose getter throws, printed by name (fast-check would call the getter). */
class ThrowingGetter {
  constructor(key: string) {
    Object.defineProperty(this, key, { enumerable: true, get: () => { throw new Error(`getter of ${key} throws`); } });
  }
  [fc.toStringMethod](): string {
    return 'ThrowingGetter';
  }
}

const GARBAGE: unknown[] = [
  null, undefined, 0, -1, NaN, Infinity, '', 'x', 'float32', true, 1n, Symbol('garbage'), () => 1,
  {}, [], [[]], [[1, 'a']], [[1, 2], [3]], [1, 2, 3], [[NaN, Infinity], [-Infinity, -0]], [[1], null],
  new Int32Array(4), new Uint8Array(8), new BigInt64Array(2), new DataView(new ArrayBuffer(8)), new ArrayBuffer(16),
  { data: [1, 2, 3, 4], shape: [2, 2] }, { data: new Float32Array(4) }, { shape: [2, 2] },
  { data: new Float32Array(4), shape: '2,2' }, { data: new Float32Array(4), shape: [2, 2, 1, -1] },
  { data: () => new Float32Array(4), shape: [2, 2] }, new Date(0), /re/, Object.create(null), new ThrowingGetter('data'),
];
const garbage = fc.constantFrom(...GARBAGE);

/** Shape mutations: most inputs are well-formed, some are not. */
const SHAPE_MUTATIONS = ['none', 'longer', 'shorter', 'rank1', 'rank3', 'rank0', 'swap', 'garbage'] as const;
type ShapeMutation = (typeof SHAPE_MUTATIONS)[number];
const shapeMutation = fc.oneof(
  { weight: 24, arbitrary: fc.constant<ShapeMutation>('none') },
  { weight: 1, arbitrary: fc.constantFrom<ShapeMutation>(...SHAPE_MUTATIONS) },
);
/** Bad shapes, each with the length its array gets. */
const BAD_SHAPES: Array<[unknown, number]> = [
  [[-1, 2], 2], [[1.5, 2], 3], [[NaN, 1], 1], [[Infinity, 1], 1], [['2', 2], 4], [[null, 1], 1],
  [[2 ** 53, 1], 1], [[0, 2 ** 40], 0], [[2 ** 40, 0], 0], [[0, 2 ** 31, 2 ** 31, 2 ** 31], 0],
  [[2 ** 31, 2 ** 31, 0], 0], [[2 ** 31, 2 ** 31], 4], [[2 ** 32 + 1, 1], 1], [[-0, 3], 0], ['abc', 4],
  [null, 4], [{ length: 2 }, 4], [[], 1], [[undefined], 1], [[2, 2], 5], [new Int32Array([2, 2]), 4], [[1, 1, 1, 1, 1, 1, 1, 1], 1],
];

function numel(shape: number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** A recipe for a `rows x cols` input, possibly malformed. */
function arrayArb(rows: number, cols: number, dtype: DType, opts: { forms?: Form[]; special?: boolean } = {}): fc.Arbitrary<ArrayRecipe> {
  const forms = opts.forms ?? ['plain', 'plain', 'offset', 'shared', 'tensor', 'tensorOffset', 'nested', 'detached', 'disposed'];
  return fc
    .record({
      mutation: shapeMutation,
      badShape: fc.nat(BAD_SHAPES.length - 1),
      form: fc.oneof({ weight: 30, arbitrary: fc.constantFrom(...forms.filter((f) => f !== 'detached' && f !== 'disposed')) }, { weight: 1, arbitrary: fc.constantFrom(...forms) }),
      seed: fc.nat(),
      scale: fc.constantFrom(1, 1, 1, 1e-3, 10, 100),
      special: opts.special === false ? fc.constant(0) : fc.oneof({ weight: 12, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.constantFrom(0.01, 0.2, 1) }),
      zeroRow: fc.boolean(),
      pad: fc.integer({ min: 1, max: 9 }),
    })
    .map(({ mutation, badShape, form, seed, scale, special, zeroRow, pad }) => {
      let shape: unknown = [rows, cols];
      let length = rows * cols;
      switch (mutation) {
        case 'longer': length += 1; break;
        case 'shorter': length = Math.max(0, length - 1); break;
        case 'rank1': shape = [length]; break;
        case 'rank3': shape = [rows, 1, cols]; break;
        case 'rank0': shape = []; length = 1; break;
        case 'swap': shape = [cols + 1, rows]; length = (cols + 1) * rows; break;
        case 'garbage': [shape, length] = BAD_SHAPES[badShape]; break;
        default: break;
      }
      return { dtype, shape, length, form, seed, scale, special, zeroRow, pad };
    });
}

/** An argument: mostly a recipe, sometimes garbage. */
function argArb(recipe: fc.Arbitrary<ArrayRecipe>, garbageWeight = 1): fc.Arbitrary<Arg> {
  return fc.oneof(
    { weight: 30, arbitrary: recipe.map((r) => ({ recipe: r })) },
    { weight: garbageWeight, arbitrary: garbage.map((raw) => ({ raw })) },
  );
}

/** Sizes: mostly tiny (0 and 1 included), some medium, a few large. */
function sizeArb(max = 768): fc.Arbitrary<number> {
  return fc.oneof(
    { weight: 10, arbitrary: fc.integer({ min: 0, max: 6 }) },
    { weight: 8, arbitrary: fc.integer({ min: 1, max: Math.min(48, max) }) },
    { weight: 1, arbitrary: fc.integer({ min: Math.min(128, max), max }) },
  );
}
/** [rows, cols] with rows * cols bounded. */
function dimsArb(maxRows = 768, maxCols = 384): fc.Arbitrary<{ n: number; m: number; d: number; bump: number }> {
  return fc
    .record({ n: sizeArb(maxRows), m: sizeArb(maxRows), d: sizeArb(maxCols), same: fc.constantFrom('same', 'same', 'same', 'more', 'any'), bump: fc.integer({ min: 1, max: 5 }) })
    .map(({ n, m, d, same, bump }) => {
      const cap = (rows: number) => Math.max(0, Math.min(rows, Math.floor(MAX_ELEMENTS / Math.max(d, 1))));
      const n2 = cap(n);
      const m2 = cap(same === 'same' ? n2 : same === 'more' ? n2 + bump : m);
      return { n: n2, m: m2, d, bump };
    });
}
const dtypeArb = fc.constantFrom<DType>('float32', 'float64');
/** The partner's dtype: mostly the same. */
function partnerDtype(d: DType): fc.Arbitrary<DType> {
  return fc.oneof({ weight: 15, arbitrary: fc.constant(d) }, { weight: 1, arbitrary: dtypeArb });
}

/** What was made from a recipe, with what the checks need. */
interface Made {
  value: unknown;
  /** Typed arrays whose buffers must not change (the call must not write into or next to its inputs). */
  views: FloatArray[];
  /** The element values (for the oracle), when the input is a well-formed float array. */
  values?: ArrayLike<number>;
  shape?: number[];
  dtype?: DType;
  finite: boolean;
}

function fill(r: ArrayRecipe, out: FloatArray): void {
  const random = rng(r.seed);
  const cols = Array.isArray(r.shape) && typeof r.shape[1] === 'number' ? Math.max(1, r.shape[1] as number) : 1;
  for (let i = 0; i < out.length; i++) {
    out[i] = r.special > 0 && random() < r.special ? SPECIALS[Math.floor(random() * SPECIALS.length)] : r.scale * normal(random);
  }
  if (r.zeroRow && out.length >= cols) out.fill(0, 0, cols);
}

function detach(buffer: ArrayBufferLike): void {
  if (buffer instanceof ArrayBuffer) structuredClone(buffer, { transfer: [buffer] });
}

function make(arg: Arg, nestedDtype: DType = 'float32'): Made {
  if ('raw' in arg) return { value: arg.raw, views: [], finite: true };
  const r = arg.recipe;
  const Ctor = r.dtype === 'float64' ? Float64Array : Float32Array;
  const bpe = Ctor.BYTES_PER_ELEMENT;
  const offset = r.form === 'offset' || r.form === 'shared' || r.form === 'tensorOffset';
  const BufferType = r.form === 'shared' ? SharedArrayBuffer : ArrayBuffer;
  const before = offset ? r.pad : 0;
  const total = before + r.length + (offset ? r.pad : 0);
  const whole = new Ctor(new BufferType(total * bpe) as ArrayBuffer);
  whole.fill(SENTINEL);
  const data = new Ctor(whole.buffer, before * bpe, r.length);
  fill(r, data);
  let finite = true;
  for (let i = 0; i < data.length; i++) if (!Number.isFinite(data[i])) { finite = false; break; }
  const shape = Array.isArray(r.shape) ? [...r.shape] : r.shape;
  const wellFormed = Array.isArray(shape) && shape.every((s) => typeof s === 'number' && Number.isSafeInteger(s) && s >= 0) && numel(shape as number[]) === r.length;
  const values = wellFormed ? Array.from(data) : undefined;
  const base = { views: [whole], finite, values, shape: wellFormed ? (shape as number[]) : undefined, dtype: r.dtype };
  switch (r.form) {
    case 'tensor':
    case 'tensorOffset':
    case 'disposed':
      try {
        const t = pl.Tensor.from(data, shape as number[]);
        if (r.form === 'disposed') t.dispose();
        return { ...base, value: t };
      } catch {
        return { ...base, value: { data, shape } }; // Tensor.from refused the shape: pass it raw
      }
    case 'nested':
      // a JS array holds at most 2^32 - 1 elements: larger "nested" shapes stay plain
      if (wellFormed && (shape as number[]).length === 2 && (shape as number[])[0] < 2 ** 20) {
        const [rows, cols] = shape as number[];
        const nested = Array.from({ length: rows }, (_, i) => Array.from(data.subarray(i * cols, (i + 1) * cols)));
        // number[][] take the dtype of their typed partner (or float32); [] is [0, 0]
        const rounded = nestedDtype === r.dtype ? values : nestedDtype === 'float32' ? Array.from(Float32Array.from(values!)) : values;
        return { value: nested, views: [], finite, values: rounded, shape: [rows, rows > 0 ? cols : 0], dtype: nestedDtype };
      }
      return { ...base, value: { data, shape } };
    case 'detached':
      detach(data.buffer);
      return { value: { data, shape }, views: [], finite: true };
    default:
      return { ...base, value: { data, shape } };
  }
}

function dtypeOfArg(arg: Arg): DType | undefined {
  return 'recipe' in arg && arg.recipe.form !== 'nested' ? arg.recipe.dtype : undefined;
}

/** Byte copies of the buffers behind inputs, to check that a call leaves them alone. */
function snapshot(views: FloatArray[]): Array<[FloatArray, Uint8Array]> {
  return views.filter((v) => v.byteLength > 0).map((v) => [v, new Uint8Array(v.buffer.slice(0))]);
}
function changed(snap: Array<[FloatArray, Uint8Array]>): string | undefined {
  for (const [v, bytes] of snap) {
    if (v.byteLength === 0) continue; // detached by the test itself
    const now = new Uint8Array(v.buffer);
    for (let i = 0; i < bytes.length; i++) {
      if (now[i] !== bytes[i]) return `input buffer changed at byte ${i} (of ${bytes.length})`;
    }
  }
  return undefined;
}

// ---------------------------------------------------------------------------
// Options
// ---------------------------------------------------------------------------

const weird = fc.constantFrom<unknown>(
  NaN, Infinity, -Infinity, -1, -0, 0, 1e308, -1e-300, 2 ** 53, 0.5, '1', '', 'mean', 'x'.repeat(100), true, false,
  null, {}, [], [1], { valueOf: () => 1 }, 1n, Symbol('option'), () => 0,
);

function optionValue<T>(valid: fc.Arbitrary<T>): fc.Arbitrary<unknown> {
  return fc.oneof({ weight: 8, arbitrary: valid }, { weight: 1, arbitrary: weird });
}

/**
 * An options argument: a record of valid values (each key present or not), a
 * record where some values are weird or invalid (and the `rare` keys may
 * appear), unknown keys, garbage, or an object whose getter throws.
 */
function optionsArb(
  model: Record<string, fc.Arbitrary<unknown>>,
  extra: { rare?: Record<string, fc.Arbitrary<unknown>>; invalid?: Record<string, fc.Arbitrary<unknown>> } = {},
): fc.Arbitrary<unknown> {
  const keys = Object.keys(model);
  const valid = fc.record(model, { requiredKeys: [] });
  const all = { ...model, ...extra.rare };
  const invalid = extra.invalid ?? {};
  const value = (k: string) =>
    invalid[k] ? fc.oneof({ weight: 8, arbitrary: all[k] }, { weight: 1, arbitrary: weird }, { weight: 2, arbitrary: invalid[k] }) : optionValue(all[k]);
  const mixed = fc.record(Object.fromEntries(Object.keys(all).map((k) => [k, value(k)])), { requiredKeys: [] });
  return fc.oneof(
    { weight: 2, arbitrary: fc.constant(undefined) },
    { weight: 16, arbitrary: valid },
    { weight: 8, arbitrary: mixed },
    {
      weight: 1,
      arbitrary: fc.tuple(valid, fc.dictionary(fc.string({ maxLength: 6 }), weird, { minKeys: 1, maxKeys: 2 })).map(([a, b]) => ({ ...a, ...b })),
    },
    { weight: 1, arbitrary: garbage },
    { weight: 1, arbitrary: fc.constantFrom(...keys).map((k) => new ThrowingGetter(k)) },
  );
}

const DEVICES = ['cpu', 'cuda', 'cuda:0', 'cuda:1', 'cuda:99999', 'CPU', 'cpu:0', 'mps', '', 'cuda:-1', ' cpu'];
const device = fc.oneof({ weight: 6, arbitrary: fc.constant('cpu') }, { weight: 1, arbitrary: fc.constantFrom(...DEVICES) });
const FAKE_GROUPS = [{ rank: 0, worldSize: 1 }, { rank: 1, worldSize: 2 }, { worldSize: NaN }, { worldSize: '2' }, { rank: 0, worldSize: 0 }];
const positive = (min: number, max: number) => fc.oneof(fc.double({ min, max, noNaN: true }), fc.constantFrom(Number.MIN_VALUE, 1e-300, 1e300));

const NPAIRS_OPTIONS = {
  temperature: fc.oneof({ weight: 6, arbitrary: fc.double({ min: 0.01, max: 10, noNaN: true }) }, { weight: 1, arbitrary: positive(1e-6, 1e6) }),
  symmetric: fc.boolean(),
  labelSmoothing: fc.double({ min: 0, max: 1, noNaN: true }),
  reduction: fc.constantFrom('mean', 'sum'),
  similarity: fc.constantFrom('cosine', 'dot'),
  l2Reg: fc.oneof(fc.constant(0), fc.double({ min: 0, max: 1, noNaN: true })),
  eps: fc.oneof({ weight: 4, arbitrary: fc.constant(1e-12) }, { weight: 1, arbitrary: positive(1e-12, 1) }),
  grad: fc.boolean(),
  returnSimilarity: fc.boolean(),
  checkFinite: fc.boolean(),
  localLoss: fc.boolean(),
  gatherWithGrad: fc.boolean(),
  excludeSelf: fc.boolean(),
};
const NTXENT_OPTIONS = {
  temperature: NPAIRS_OPTIONS.temperature,
  eps: NPAIRS_OPTIONS.eps,
  grad: fc.boolean(),
  checkFinite: fc.boolean(),
};
const SIGMOID_OPTIONS = {
  scale: fc.oneof({ weight: 6, arbitrary: fc.double({ min: -30, max: 30, noNaN: true }) }, { weight: 1, arbitrary: fc.constantFrom(10, 0, 1e300) }),
  bias: fc.oneof({ weight: 6, arbitrary: fc.double({ min: -30, max: 30, noNaN: true }) }, { weight: 1, arbitrary: fc.constantFrom(-10, 0, -1e300) }),
  eps: NPAIRS_OPTIONS.eps,
  grad: fc.boolean(),
  checkFinite: fc.boolean(),
};
const weight = (usual: number, max: number) => fc.oneof({ weight: 2, arbitrary: fc.constant(usual) }, { weight: 3, arbitrary: fc.double({ min: 0, max, noNaN: true }) });
const VICREG_OPTIONS = {
  invarianceWeight: weight(25, 50),
  varianceWeight: weight(25, 50),
  covarianceWeight: weight(1, 10),
  gamma: weight(1, 4),
  eps: fc.oneof({ weight: 4, arbitrary: fc.constant(1e-4) }, { weight: 1, arbitrary: positive(1e-8, 1) }),
  grad: fc.boolean(),
  checkFinite: fc.boolean(),
};
/** Options that mostly make a call fail here (no CUDA, a fake process group): only in the mixed records. */
const RARE_OPTIONS = { device, group: fc.constantFrom(...FAKE_GROUPS) };
const CORRELATION_OPTIONS = {
  lambda: fc.oneof(fc.double({ min: -1, max: 1, noNaN: true }), fc.constantFrom(5e-3, 0, 1e300)),
  scale: fc.oneof(fc.double({ min: -10, max: 10, noNaN: true }), fc.constantFrom(0.025, 1e300)),
  eps: fc.oneof({ weight: 4, arbitrary: fc.double({ min: 1e-6, max: 1, noNaN: true }) }, { weight: 1, arbitrary: positive(1e-12, 1e3) }),
  mode: fc.constantFrom('samples', 'features'),
  grad: fc.boolean(),
  checkFinite: fc.boolean(),
  syncBatchNorm: fc.boolean(),
};

/** Drops options with a getter that throws or of garbage type, for the checks that read options. */
function plainOptions(o: unknown): Record<string, unknown> {
  if (o === null || typeof o !== 'object' || o instanceof ThrowingGetter) return {};
  return o as Record<string, unknown>;
}
function numberIn(v: unknown, lo: number, hi: number): boolean {
  return typeof v === 'number' && v >= lo && v <= hi;
}

// ---------------------------------------------------------------------------
// Targets (class indices or probabilities) for crossEntropy and npairsLoss
// ---------------------------------------------------------------------------

const GOOD_TARGETS = ['int32', 'bigint64', 'array', 'permutation', 'probabilities', 'rawValues'] as const;
const BAD_TARGETS = ['outOfRange', 'wrongLength', 'floats', 'detachedInt32', 'badShapeProbabilities'] as const;
type TargetKind = (typeof GOOD_TARGETS)[number] | (typeof BAD_TARGETS)[number];
interface TargetRecipe { kind: TargetKind | 'none'; seed: number; dtype: DType; form: Form; raw?: unknown }

function targetArb(noneWeight: number): fc.Arbitrary<TargetRecipe> {
  const none = fc.constant<TargetRecipe>({ kind: 'none', seed: 0, dtype: 'float32', form: 'plain' });
  return fc.oneof(
    ...(noneWeight > 0 ? [{ weight: noneWeight, arbitrary: none }] : []),
    {
      weight: 10,
      arbitrary: fc.record({
        kind: fc.oneof({ weight: 4, arbitrary: fc.constantFrom<TargetKind>(...GOOD_TARGETS) }, { weight: 1, arbitrary: fc.constantFrom<TargetKind>(...BAD_TARGETS) }),
        seed: fc.nat(),
        dtype: dtypeArb,
        form: fc.constantFrom<Form>('plain', 'offset', 'shared', 'tensor', 'nested'),
      }),
    },
    { weight: 1, arbitrary: garbage.map((raw) => ({ kind: 'none' as const, seed: 0, dtype: 'float32' as DType, form: 'plain' as Form, raw })) },
  );
}

interface MadeTarget { value: unknown; present: boolean; indices?: number[]; probabilities?: Made }

/** A target for `n` rows over `classes` classes. */
function makeTarget(t: TargetRecipe, n: number, classes: number, dtype: DType): MadeTarget {
  if (t.raw !== undefined || ('raw' in t)) return { value: t.raw, present: true };
  if (t.kind === 'none') return { value: undefined, present: false };
  const random = rng(t.seed);
  const pick = () => Math.floor(random() * Math.max(classes, 1));
  const idx = Array.from({ length: n }, pick);
  switch (t.kind) {
    case 'int32': return { value: Int32Array.from(idx), present: true, indices: idx };
    case 'bigint64': return { value: BigInt64Array.from(idx.map(BigInt)), present: true, indices: idx };
    case 'array': return { value: idx, present: true, indices: idx };
    case 'permutation': {
      const p = Array.from({ length: n }, (_, i) => i);
      for (let i = n - 1; i > 0; i--) { const j = Math.floor(random() * (i + 1)); [p[i], p[j]] = [p[j], p[i]]; }
      return { value: Int32Array.from(p), present: true, indices: p };
    }
    case 'outOfRange': {
      const bad = idx.slice();
      if (bad.length) bad[Math.floor(random() * bad.length)] = [-1, classes, 2 ** 31 - 1, -(2 ** 31)][Math.floor(random() * 4)];
      return random() < 0.5 ? { value: Int32Array.from(bad), present: true } : { value: BigInt64Array.from(bad.map((v) => BigInt(v) * (random() < 0.3 ? 2n ** 32n : 1n))), present: true };
    }
    case 'wrongLength': return { value: Int32Array.from([...idx, 0]), present: true };
    case 'floats': return { value: idx.map((v) => v + 0.5), present: true };
    case 'detachedInt32': {
      const a = Int32Array.from(idx);
      detach(a.buffer);
      return { value: a, present: true };
    }
    case 'probabilities':
    case 'rawValues':
    case 'badShapeProbabilities': {
      const rows = t.kind === 'badShapeProbabilities' ? n + 1 : n;
      const recipe: ArrayRecipe = { dtype: t.dtype === dtype || random() < 0.8 ? dtype : t.dtype, shape: [rows, classes], length: rows * classes, form: t.form, seed: t.seed, scale: 1, special: 0, zeroRow: false, pad: 3 };
      const made = make({ recipe }, dtype);
      if (t.kind === 'probabilities' && made.values) {
        // rows of a softmax: what a soft target usually is
        const v = Array.from({ length: rows * classes }, () => Math.exp(2 * normal(random)));
        for (let i = 0; i < rows; i++) {
          const s = v.slice(i * classes, (i + 1) * classes).reduce((a, b) => a + b, 0);
          for (let j = 0; j < classes; j++) v[i * classes + j] /= s;
        }
        return { ...remake(made, v), present: true };
      }
      return { value: made.value, present: true, probabilities: made };
    }
    default: return { value: undefined, present: false };
  }
}

/** Writes new values into a made input (in place), keeping its form. */
function remake(made: Made, values: number[]): { value: unknown; probabilities: Made } {
  if (Array.isArray(made.value)) {
    const cols = made.shape![1];
    const nested = Array.from({ length: made.shape![0] }, (_, i) => values.slice(i * cols, (i + 1) * cols));
    const rounded = made.dtype === 'float32' ? values.map(Math.fround) : values;
    return { value: nested, probabilities: { ...made, value: nested, values: rounded } };
  }
  const view = made.value instanceof pl.Tensor ? made.value.data() : (made.value as { data: FloatArray }).data;
  view.set(values);
  return { value: made.value, probabilities: { ...made, values: Array.from(view), views: made.views } };
}

// ---------------------------------------------------------------------------
// Checks
// ---------------------------------------------------------------------------

/** Messages of errors JavaScript itself throws: an argument reached code that did not check it. */
const ENGINE_ERROR = /Cannot read propert|Cannot set propert|is not a function|is not iterable|is not a constructor|Cannot convert|undefined is not|null is not|Maximum call stack|Invalid array length|Invalid typed array length|Array buffer allocation failed|Cannot mix BigInt|Do not know how to serialize|Cannot destructure/;

class PropertyFailure extends Error {}

function fail(message: string): never {
  throw new PropertyFailure(message);
}

function checkError(e: unknown, where: string): Error {
  if (!(e instanceof Error)) fail(`${where} threw a non-Error: ${String(e)}`);
  if (e instanceof PropertyFailure) throw e;
  if (![TypeError, RangeError, Error].includes(e.constructor as ErrorConstructor)) {
    fail(`${where} threw a ${e.constructor.name} (expected TypeError, RangeError or Error): ${e.message}`);
  }
  if (typeof e.message !== 'string' || e.message.trim() === '') fail(`${where} threw a ${e.name} without a message`);
  if (ENGINE_ERROR.test(e.message)) fail(`${where} threw a JavaScript engine error (an unchecked argument): ${e.name}: ${e.message}`);
  return e;
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

/** A well-formed result tensor: CPU, its own memory, the expected shape and dtype. */
function checkTensor(t: unknown, what: string, shape: readonly number[] | undefined, dtype: DType | undefined, inputs: FloatArray[] = []): pl.Tensor {
  if (!(t instanceof pl.Tensor)) fail(`${what} is not a Tensor: ${String(t)}`);
  if (t.disposed) fail(`${what} is disposed`);
  if (t.device !== 'cpu') fail(`${what} is on ${t.device}`);
  if (!Array.isArray(t.shape) || !t.shape.every((s) => Number.isSafeInteger(s) && s >= 0)) fail(`${what} has a bad shape ${String(t.shape)}`);
  if (shape && !sameShape(t.shape, shape)) fail(`${what} has shape [${t.shape}], expected [${shape}]`);
  const data = t.data();
  if (!(data instanceof Float32Array) && !(data instanceof Float64Array)) fail(`${what}.data() is not a float array`);
  if (data.length !== numel([...t.shape])) fail(`${what}.data() has ${data.length} elements for shape [${t.shape}]`);
  const dt = data instanceof Float64Array ? 'float64' : 'float32';
  if (t.dtype !== dt) fail(`${what}.dtype is ${t.dtype} but its data is ${dt}`);
  if (dtype && dt !== dtype) fail(`${what} is ${dt}, expected ${dtype}`);
  for (const input of inputs) {
    if (data.byteLength > 0 && input.byteLength > 0 && data.buffer === input.buffer) fail(`${what} shares memory with an input`);
  }
  return t;
}

/** The dtype of a typed float operand (a Tensor, or { data: Float32Array | Float64Array }); undefined for anything else. */
function floatDtypeOf(v: unknown): DType | undefined {
  if (v instanceof pl.Tensor) return v.dtype;
  if (v === null || typeof v !== 'object' || Array.isArray(v) || v instanceof ThrowingGetter) return undefined;
  const data = (v as { data?: unknown }).data;
  if (data instanceof Float64Array) return 'float64';
  if (data instanceof Float32Array) return 'float32';
  return undefined;
}

/** A number[][] (a probability matrix where a target is taken; a flat array is class indices). */
function isNested(v: unknown): boolean {
  return Array.isArray(v) && v.length > 0 && Array.isArray(v[0]);
}

/**
 * The dtype each operand is computed in, from the values passed: a typed one
 * keeps its own; a number[][] takes float64 when a typed partner is float64,
 * else float32 (DESIGN.md's TensorLike; lib/tensor.ts partnerDType).
 * Undefined for an operand the test cannot type (garbage).
 */
function operandDtypes(...values: unknown[]): Array<DType | undefined> {
  const partner: DType = values.some((v) => floatDtypeOf(v) === 'float64') ? 'float64' : 'float32';
  return values.map((v) => floatDtypeOf(v) ?? (Array.isArray(v) ? partner : undefined));
}

/** A target's dtype as the op sees it: class indices, a typed probability tensor, or a number[][] in the dtype of `like`. */
function targetDtype(v: unknown, like: DType | undefined): InputDType | undefined {
  return floatDtypeOf(v) ?? (isNested(v) ? like : 'indices');
}

/**
 * The dtypes of the result tensors of a call that succeeded: PyTorch's for
 * the same op on operands of these dtypes (resultDtypes). A success where
 * PyTorch refuses the combination fails the property.
 */
function expectedDtypes(op: string, what: string, inputs: Array<InputDType | undefined>): Record<string, FloatDType> {
  if (inputs.some((d) => d === undefined)) return {}; // garbage that the call accepted: its shape and form are still checked
  const d = resultDtypes(op, inputs as InputDType[]);
  if (!d) fail(`${what} returned a result for operands of dtypes (${inputs.join(', ')}), which PyTorch refuses`);
  return d;
}

function isNumber(v: unknown): v is number {
  return typeof v === 'number';
}

// ---------------------------------------------------------------------------
// Bookkeeping: outcomes per function, the last case (for crashes), parity samples
// ---------------------------------------------------------------------------

interface Tally { ok: number; TypeError: number; RangeError: number; Error: number; plainErrors: string[] }
const tallies: Record<string, Tally> = {};
function count(fn: string, outcome: 'ok' | Error): void {
  const t = (tallies[fn] ??= { ok: 0, TypeError: 0, RangeError: 0, Error: 0, plainErrors: [] });
  if (outcome === 'ok') { t.ok++; return; }
  const kind = outcome instanceof TypeError ? 'TypeError' : outcome instanceof RangeError ? 'RangeError' : 'Error';
  t[kind]++;
  if (kind === 'Error' && t.plainErrors.length < 8) {
    const m = outcome.message.split('\n')[0].slice(0, 160);
    if (!t.plainErrors.includes(m)) t.plainErrors.push(m);
  }
}

let lastFd: number | undefined;
let lastArgs = '';
/** Records the case about to run, so that a crash can say which one it was. */
function starting(fn: string, args: unknown): void {
  const text = `${fn} ${fc.stringify(args)}`.slice(0, 20000);
  lastArgs = text;
  if (lastFd === undefined) return;
  fs.ftruncateSync(lastFd, 0);
  fs.writeSync(lastFd, text, 0);
}

interface Sample { case: Case; ours: Result; args?: string }
const reservoirs: Record<string, { seen: number; kept: Sample[] }> = {};
const sampleRandom = rng(Number(process.env.PAIRLOSS_FUZZ_SEED ?? 1) ^ 0x5bd1e995);
/**
 * Reservoir sampling of parity cases (small, finite, tame options), one
 * reservoir per op so that a rarely tame op is sampled as surely as a
 * common one: PARITY / 6 cases of each op at most.
 */
function sample(s: Sample): void {
  s.args = lastArgs;
  const limit = Math.ceil(PARITY / 6);
  const r = (reservoirs[s.case.op] ??= { seen: 0, kept: [] });
  r.seen++;
  if (r.kept.length < limit) r.kept.push(s);
  else {
    const j = Math.floor(sampleRandom() * r.seen);
    if (j < limit) r.kept[j] = s;
  }
}
function spec(m: Made): { data: number[]; shape: number[] } {
  return { data: Array.from(m.values!), shape: m.shape! };
}
function smallFinite(...ms: Made[]): boolean {
  return ms.every((m) => m.values !== undefined && m.shape !== undefined && m.finite && m.values.length <= 4096 && Array.from(m.values).every((v) => Math.abs(v) <= 1e4));
}
function out(t: pl.Tensor | undefined): { data: number[]; shape: number[] } | undefined {
  return t ? { data: Array.from(t.data()), shape: [...t.shape] } : undefined;
}
function result(r: Record<string, unknown>): Result {
  const o: Result = {};
  for (const [k, v] of Object.entries(r)) {
    if (v instanceof pl.Tensor) o[k] = out(v)!;
    else if (typeof v === 'number') o[k] = v;
  }
  return o;
}

/** Calls fn, counting the outcome; returns the result or the (checked) error. */
function attempt<T>(name: string, args: unknown, fn: () => T): { ok: true; value: T } | { ok: false; error: Error } {
  starting(name, args);
  try {
    const value = fn();
    count(name, 'ok');
    return { ok: true, value };
  } catch (e) {
    const error = checkError(e, name);
    count(name, error);
    return { ok: false, error };
  }
}

/** Failed properties of this child; one failing does not stop the others. */
const failures: string[] = [];
function report(e: unknown): void {
  const cause = e instanceof Error && e.cause instanceof Error ? `\nCaused by: ${e.cause.message}` : '';
  failures.push(`${e instanceof Error ? e.message : String(e)}${cause}`);
}
function propertyHolds<T>(p: fc.IProperty<T>, params?: fc.Parameters<T>): void {
  try {
    fc.assert(p, params);
  } catch (e) {
    report(e);
  }
}
async function asyncPropertyHolds<T>(p: fc.IAsyncProperty<T>, params?: fc.Parameters<T>): Promise<void> {
  try {
    await fc.assert(p, params);
  } catch (e) {
    report(e);
  }
}

// ---------------------------------------------------------------------------
// Group: tensors and runtime
// ---------------------------------------------------------------------------

function tensorProperties(): void {
  const typed = fc.record({ dims: dimsArb(64, 64), dtype: dtypeArb }).chain(({ dims, dtype }) =>
    fc.record({
      data: argArb(arrayArb(dims.n, dims.d, dtype, { forms: ['plain', 'offset', 'shared', 'detached'] }), 2),
      shape: fc.oneof({ weight: 8, arbitrary: fc.constant<unknown>('same') }, { weight: 1, arbitrary: fc.constantFrom(...BAD_SHAPES.map((s) => s[0])) }),
      opts: fc.oneof({ weight: 4, arbitrary: fc.constant(undefined) }, { weight: 2, arbitrary: fc.record({ device: optionValue(device) }, { requiredKeys: [] }) }, { weight: 1, arbitrary: garbage }),
      then: fc.array(fc.constantFrom('to', 'toArray', 'toJSON', 'dispose', 'data', 'size'), { maxLength: 4 }),
      to: optionValue(device),
    }));

  propertyHolds(fc.property(typed, (c) => {
    const made = make(c.data);
    const data = 'recipe' in c.data ? (made.value as { data: unknown }).data : made.value;
    const shape = c.shape === 'same' ? ('recipe' in c.data ? (made.value as { shape: unknown }).shape : [2, 2]) : c.shape;
    const snap = snapshot(made.views);
    const r = attempt('Tensor.from', c, () => pl.Tensor.from(data as FloatArray, shape as number[], c.opts as { device?: string }));
    if (!r.ok) return;
    const t = checkTensor(r.value, 'Tensor.from(...)', shape as number[], undefined);
    if (t.data() !== data) fail('Tensor.from did not keep the array it was given (zero copy)');
    for (const step of c.then) {
      const s = attempt(`Tensor#${step}`, c, () => {
        switch (step) {
          case 'to': return t.to(c.to as string);
          case 'toArray': return t.toArray();
          case 'toJSON': return t.toJSON();
          case 'dispose': return t.dispose();
          case 'size': return t.size;
          default: return t.data();
        }
      });
      if (step === 'data' && t.disposed && s.ok) fail('data() of a disposed tensor did not throw');
      if (step === 'size' && s.ok && s.value !== numel([...t.shape])) fail('size is not the product of the shape');
    }
    const diff = changed(snap);
    if (diff) fail(`Tensor.from: ${diff}`);
  }), { numRuns: RUNS });

  const copying = fc.record({ dims: dimsArb(64, 64), dtype: dtypeArb }).chain(({ dims, dtype }) =>
    fc.record({
      data: argArb(arrayArb(dims.n, dims.d, dtype, { forms: ['nested', 'nested', 'plain', 'offset', 'shared', 'detached'] }), 2),
      shape: fc.oneof({ weight: 4, arbitrary: fc.constant<unknown>('same') }, { weight: 2, arbitrary: fc.constant<unknown>(undefined) }, { weight: 1, arbitrary: fc.constantFrom(...BAD_SHAPES.map((s) => s[0])) }),
    }));
  propertyHolds(fc.property(copying, (c) => {
    const made = make(c.data);
    const isNested = Array.isArray(made.value);
    const data = isNested || !('recipe' in c.data) ? made.value : (made.value as { data: unknown }).data;
    const shape = c.shape === 'same' ? ('recipe' in c.data ? c.data.recipe.shape : undefined) : c.shape;
    const r = attempt('tensor', c, () => pl.tensor(data as FloatArray, shape as number[]));
    if (!r.ok) return;
    const t = checkTensor(r.value, 'tensor(...)', undefined, undefined, made.views);
    if (made.values) {
      const got = t.data();
      const want = made.values;
      if (got.length !== want.length) fail(`tensor() has ${got.length} elements, expected ${want.length}`);
      for (let i = 0; i < got.length; i++) {
        if (!Object.is(got[i], t.dtype === 'float32' ? Math.fround(want[i]) : want[i])) fail(`tensor() element ${i} is ${got[i]}, expected ${want[i]}`);
      }
    }
  }), { numRuns: RUNS });
}

function runtimeProperties(): void {
  const before = pl.getNumThreads();
  // Valid counts stay small: setting n threads takes about 25 ms a thread here (1024: 25 s).
  const arg = fc.oneof(
    { weight: 3, arbitrary: fc.integer({ min: 1, max: 8 }) },
    { weight: 2, arbitrary: weird },
    { weight: 1, arbitrary: fc.constantFrom(-5, 0, 1025, 5000, 2 ** 31, 1.5, -0, 4.000001) },
  );
  propertyHolds(fc.property(arg, fc.array(weird, { maxLength: 2 }), (n, extra) => {
    const r = attempt('setNumThreads', n, () => (pl.setNumThreads as (...a: unknown[]) => void)(n, ...extra));
    const now = pl.getNumThreads();
    pl.setNumThreads(before);
    if (r.ok && now !== n) fail(`setNumThreads(${String(n)}) then getNumThreads() = ${now}`);
    if (!r.ok && now !== before) fail(`a refused setNumThreads(${String(n)}) changed the thread count to ${now}`);
    const g = attempt('getNumThreads', extra, () => (pl.getNumThreads as (...a: unknown[]) => number)(...extra));
    if (g.ok && !(Number.isInteger(g.value) && g.value >= 1)) fail(`getNumThreads() = ${g.value}`);
    const m = attempt('memoryStats', extra, () => (pl.memoryStats as (...a: unknown[]) => ReturnType<typeof pl.memoryStats>)(...extra));
    if (m.ok) {
      const { externalBuffers, finalizedBuffers, externalBytes } = m.value;
      if (![externalBuffers, finalizedBuffers, externalBytes].every((v) => Number.isSafeInteger(v) && v >= 0) || finalizedBuffers > externalBuffers) {
        fail(`memoryStats() = ${JSON.stringify(m.value)}`);
      }
    }
    const a = attempt('cuda.isAvailable', extra, () => (pl.cuda.isAvailable as (...x: unknown[]) => boolean)(...extra));
    if (a.ok && typeof a.value !== 'boolean') fail('cuda.isAvailable() is not a boolean');
    const d = attempt('cuda.deviceCount', extra, () => (pl.cuda.deviceCount as (...x: unknown[]) => number)(...extra));
    if (d.ok && !(Number.isInteger(d.value) && d.value >= 0)) fail(`cuda.deviceCount() = ${d.value}`);
    if (a.ok && d.ok && a.value !== d.value > 0) fail(`cuda.isAvailable() = ${a.value} but deviceCount() = ${d.value}`);
  }), { numRuns: RUNS });
  pl.setNumThreads(before);
  if (!/^\d+\.\d+\.\d+/.test(pl.version)) fail(`version is ${pl.version}`);
  if (!/^\d+\.\d+/.test(pl.torchVersion)) fail(`torchVersion is ${pl.torchVersion}`);
  if (typeof pl.backends.gloo !== 'boolean' || typeof pl.backends.nccl !== 'boolean') fail('backends are not booleans');
}

// ---------------------------------------------------------------------------
// Group: ops
// ---------------------------------------------------------------------------

function opsProperties(): void {
  // normalize: any rank, p (Infinity allowed), dim, eps
  const normalizeArgs = fc.record({ dims: dimsArb(), dtype: dtypeArb }).chain(({ dims, dtype }) =>
    fc.record({
      x: argArb(arrayArb(dims.n, dims.d, dtype)),
      opts: optionsArb({
        p: fc.oneof(fc.double({ min: 0.25, max: 8, noNaN: true }), fc.constantFrom(1, 2, Infinity, 0.5, 1e-300)),
        dim: fc.integer({ min: -3, max: 3 }),
        eps: fc.oneof(fc.constant(1e-12), positive(1e-12, 1)),
      }),
    }));
  propertyHolds(fc.property(normalizeArgs, (c) => {
    const x = make(c.x);
    const snap = snapshot(x.views);
    const r = attempt('normalize', c, () => pl.normalize(x.value as pl.TensorLike, c.opts as { p?: number }));
    const diff = changed(snap);
    if (diff) fail(`normalize: ${diff}`);
    if (!r.ok) return;
    checkTensor(r.value, 'normalize(x)', x.shape, expectedDtypes('normalize', 'normalize(x)', operandDtypes(x.value)).out, x.views);
    const o = plainOptions(c.opts);
    const p = o.p ?? 2;
    if (smallFinite(x) && numberIn(p, 0.25, 8) && numberIn(o.eps ?? 1e-12, 1e-12, 1)) {
      sample({ case: { name: 'fuzz normalize', op: 'normalize', dtype: x.dtype!, inputs: { x: spec(x) }, options: { p, dim: o.dim ?? 1, eps: o.eps ?? 1e-12 } }, ours: { out: out(r.value)! } });
    }
  }), { numRuns: RUNS });

  const matmulArgs = fc.record({ dims: dimsArb(384, 256), k: sizeArb(256), dtype: dtypeArb, inner: fc.constantFrom('same', 'same', 'same', 'other') }).chain(({ dims, k, dtype, inner }) =>
    fc.record({
      a: argArb(arrayArb(dims.n, dims.d, dtype)),
      b: argArb(arrayArb(inner === 'same' ? dims.d : k, Math.min(dims.m, 384), dtype)),
    }));
  propertyHolds(fc.property(matmulArgs, (c) => {
    const partner = dtypeOfArg(c.a) === 'float64' || dtypeOfArg(c.b) === 'float64' ? 'float64' : 'float32';
    const a = make(c.a, partner);
    const b = make(c.b, partner);
    const snap = snapshot([...a.views, ...b.views]);
    const r = attempt('matmul', c, () => pl.matmul(a.value as pl.TensorLike, b.value as pl.TensorLike));
    const diff = changed(snap);
    if (diff) fail(`matmul: ${diff}`);
    if (!r.ok) return;
    checkTensor(r.value, 'matmul(a, b)', a.shape && b.shape ? [a.shape[0], b.shape[1]] : undefined, expectedDtypes('matmul', 'matmul(a, b)', operandDtypes(a.value, b.value)).out, [...a.views, ...b.views]);
    if (smallFinite(a, b) && a.dtype === b.dtype) {
      sample({ case: { name: 'fuzz matmul', op: 'matmul', dtype: a.dtype!, inputs: { a: spec(a), b: spec(b) }, options: {} }, ours: { out: out(r.value)! } });
    }
  }), { numRuns: RUNS });

  const ceArgs = fc.record({ dims: dimsArb(512, 256), dtype: dtypeArb }).chain(({ dims, dtype }) =>
    fc.record({
      logits: argArb(arrayArb(dims.n, dims.d, dtype)),
      target: targetArb(0),
      opts: optionsArb({ reduction: fc.constantFrom('mean', 'sum', 'none'), labelSmoothing: fc.double({ min: 0, max: 1, noNaN: true }) }),
      n: fc.constant(dims.n),
      c: fc.constant(dims.d),
    }));
  propertyHolds(fc.property(ceArgs, (c) => {
    // The target first: a number[][] target takes the dtype of the logits;
    // typed logits keep theirs (a typed target of the other dtype is mixed).
    const typed = dtypeOfArg(c.logits);
    const target = makeTarget(c.target, c.n, c.c, typed ?? (c.target.form !== 'nested' ? c.target.dtype : 'float32'));
    // number[][] logits take the dtype of a typed target (float64 if it is), else float32
    const logits = make(c.logits, typed ?? floatDtypeOf(target.value) ?? 'float32');
    const snap = snapshot([...logits.views, ...(target.probabilities?.views ?? [])]);
    const r = attempt('crossEntropy', c, () => (pl.crossEntropy as (l: unknown, t: unknown, o: unknown) => number | pl.Tensor)(logits.value, target.value, c.opts));
    const diff = changed(snap);
    if (diff) fail(`crossEntropy: ${diff}`);
    if (!r.ok) return;
    const o = plainOptions(c.opts);
    const value = r.value as unknown;
    const [dl] = operandDtypes(logits.value, target.value);
    const dtypes = expectedDtypes('cross_entropy', 'crossEntropy(logits, target)', [dl, targetDtype(target.value, dl)]);
    if (o.reduction === 'none') checkTensor(value, "crossEntropy(reduction 'none')", logits.shape ? [logits.shape[0]] : undefined, dtypes.out, logits.views);
    else if (!isNumber(value)) fail(`crossEntropy returned ${String(value)}, expected a number`);
    const probs = target.probabilities;
    if (smallFinite(logits) && logits.dtype === dl && (target.indices || (probs && smallFinite(probs) && probs.dtype === logits.dtype))) {
      const options: Record<string, unknown> = { reduction: o.reduction ?? 'mean', labelSmoothing: o.labelSmoothing ?? 0 };
      const inputs: Case['inputs'] = { logits: spec(logits) };
      if (target.indices) options.targetIndices = target.indices;
      else inputs.target = spec(probs!);
      const ours = value instanceof pl.Tensor ? out(value)! : { data: [value as number], shape: [1] };
      sample({ case: { name: 'fuzz cross_entropy', op: 'cross_entropy', dtype: logits.dtype!, inputs, options }, ours: { out: ours } });
    }
  }), { numRuns: RUNS });

  const bnArgs = fc.record({ dims: dimsArb(), dtype: dtypeArb }).chain(({ dims, dtype }) =>
    fc.record({ x: argArb(arrayArb(dims.n, dims.d, dtype)), opts: optionsArb({ eps: fc.oneof(fc.constant(1e-5), positive(1e-12, 10)) }) }));
  propertyHolds(fc.property(bnArgs, (c) => {
    const x = make(c.x);
    const snap = snapshot(x.views);
    const r = attempt('batchNorm1d', c, () => pl.batchNorm1d(x.value as pl.TensorLike, c.opts as { eps?: number }));
    const diff = changed(snap);
    if (diff) fail(`batchNorm1d: ${diff}`);
    if (!r.ok) return;
    checkTensor(r.value, 'batchNorm1d(x)', x.shape, expectedDtypes('batch_norm1d', 'batchNorm1d(x)', operandDtypes(x.value)).out, x.views);
    const eps = plainOptions(c.opts).eps ?? 1e-5;
    if (smallFinite(x) && numberIn(eps, 1e-8, 10)) {
      sample({ case: { name: 'fuzz batch_norm1d', op: 'batch_norm1d', dtype: x.dtype!, inputs: { x: spec(x) }, options: { eps } }, ours: { out: out(r.value)! } });
    }
  }), { numRuns: RUNS });

  const cosArgs = fc.record({ dims: dimsArb(), dtype: dtypeArb }).chain(({ dims, dtype }) =>
    fc.record({
      x1: argArb(arrayArb(dims.n, dims.d, dtype)),
      x2: fc.tuple(partnerDtype(dtype), fc.constantFrom('same', 'same', 'other')).chain(([d2, same]) => argArb(arrayArb(dims.m, same === 'same' ? dims.d : dims.bump, d2))),
      opts: optionsArb({ eps: fc.oneof(fc.constant(1e-12), positive(1e-12, 1)) }),
    }));
  propertyHolds(fc.property(cosArgs, (c) => {
    const partner = dtypeOfArg(c.x1) === 'float64' || dtypeOfArg(c.x2) === 'float64' ? 'float64' : 'float32';
    const x1 = make(c.x1, partner);
    const x2 = make(c.x2, partner);
    const snap = snapshot([...x1.views, ...x2.views]);
    const r = attempt('cosineSimilarity', c, () => pl.cosineSimilarity(x1.value as pl.TensorLike, x2.value as pl.TensorLike, c.opts as { eps?: number }));
    const diff = changed(snap);
    if (diff) fail(`cosineSimilarity: ${diff}`);
    if (!r.ok) return;
    const dtypes = expectedDtypes('cosine_similarity', 'cosineSimilarity(x1, x2)', operandDtypes(x1.value, x2.value));
    checkTensor(r.value, 'cosineSimilarity(x1, x2)', x1.shape && x2.shape ? [x1.shape[0], x2.shape[0]] : undefined, dtypes.out, [...x1.views, ...x2.views]);
    const eps = plainOptions(c.opts).eps;
    if (smallFinite(x1, x2) && x1.dtype === x2.dtype && (eps === undefined || eps === 1e-12)) {
      sample({ case: { name: 'fuzz cosine_similarity', op: 'cosine_similarity', dtype: x1.dtype!, inputs: { x1: spec(x1), x2: spec(x2) }, options: {} }, ours: { out: out(r.value)! } });
    }
  }), { numRuns: RUNS });
}

// ---------------------------------------------------------------------------
// Group: losses, sync and async
// ---------------------------------------------------------------------------

/** 'supcon': npairsLoss with labels and SupCon's options only (labels also reach 'npairs' among its other options). */
type LossKind = 'npairs' | 'supcon' | 'correlation' | 'ntxent' | 'sigmoid' | 'vicreg';
/** N-pairs' SupCon labels: N class labels, or malformed ones. */
interface LabelRecipe { kind: 'none' | 'good' | 'array' | 'wrongLength' | 'floats' | 'raw'; seed: number; classes: number; raw?: unknown }
interface LossCase {
  a: Arg; b: Arg; target: TargetRecipe; opts: unknown; n: number; m: number; after: 'none' | 'scribble' | 'detach';
  /** N-pairs: labels; x2 made from x1's own recipe (the same views, for excludeSelf). */
  labels: LabelRecipe; same: boolean;
  /** NT-Xent's memory bank `negatives`, SigLIP's ±1 `target`. */
  extra?: Arg;
}

const NO_LABELS: LabelRecipe = { kind: 'none', seed: 0, classes: 1 };
const labelsArb: fc.Arbitrary<LabelRecipe> = fc.oneof(
  { weight: 6, arbitrary: fc.constant(NO_LABELS) },
  { weight: 5, arbitrary: fc.record({ kind: fc.constantFrom<LabelRecipe['kind']>('good', 'array'), seed: fc.nat(), classes: fc.integer({ min: 1, max: 6 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constantFrom<LabelRecipe['kind']>('wrongLength', 'floats'), seed: fc.nat(), classes: fc.integer({ min: 1, max: 4 }) }) },
  { weight: 1, arbitrary: garbage.map((raw) => ({ kind: 'raw' as const, seed: 0, classes: 1, raw })) },
);

function makeLabels(l: LabelRecipe, n: number): { value: unknown; present: boolean; labels?: number[] } {
  if (l.kind === 'none') return { value: undefined, present: false };
  if (l.kind === 'raw') return { value: l.raw, present: true };
  const random = rng(l.seed);
  const labels = Array.from({ length: n }, () => Math.floor(random() * l.classes));
  switch (l.kind) {
    case 'good': return { value: Int32Array.from(labels), present: true, labels };
    case 'array': return { value: labels, present: true, labels };
    case 'wrongLength': return { value: Int32Array.from([...labels, 0]), present: true };
    default: return { value: labels.map((v) => v + 0.5), present: true };
  }
}

const SUPCON_OPTIONS = {
  temperature: NPAIRS_OPTIONS.temperature,
  excludeSelf: fc.boolean(),
  eps: NPAIRS_OPTIONS.eps,
  grad: fc.boolean(),
  checkFinite: fc.boolean(),
};
/** Mostly good labels: SupCon's calls. */
const supconLabelsArb: fc.Arbitrary<LabelRecipe> = fc.oneof(
  { weight: 10, arbitrary: fc.record({ kind: fc.constantFrom<LabelRecipe['kind']>('good', 'array'), seed: fc.nat(), classes: fc.integer({ min: 1, max: 6 }) }) },
  { weight: 1, arbitrary: labelsArb },
);

const LOSS_OPTIONS: Record<LossKind, Record<string, fc.Arbitrary<unknown>>> = {
  npairs: NPAIRS_OPTIONS, supcon: SUPCON_OPTIONS, correlation: CORRELATION_OPTIONS, ntxent: NTXENT_OPTIONS, sigmoid: SIGMOID_OPTIONS, vicreg: VICREG_OPTIONS,
};

function lossArgs(kind: LossKind): fc.Arbitrary<LossCase> {
  // x2 has M rows (npairs, sigmoid) or N (the others); rarely another D
  const byColumns = kind === 'npairs' || kind === 'sigmoid';
  return fc.record({ dims: dimsArb(), dtype: dtypeArb, otherD: fc.constantFrom(false, false, false, false, false, false, false, true), k: sizeArb(64) }).chain(({ dims, dtype, otherD, k }) =>
    fc.record({
      a: argArb(arrayArb(dims.n, dims.d, dtype)),
      b: partnerDtype(dtype).chain((d2) => argArb(arrayArb(byColumns ? dims.m : otherD ? dims.m : dims.n, otherD ? dims.bump : dims.d, d2))),
      target: kind === 'npairs' ? targetArb(12) : fc.constant<TargetRecipe>({ kind: 'none', seed: 0, dtype, form: 'plain' }),
      opts: optionsArb(LOSS_OPTIONS[kind], { rare: RARE_OPTIONS }),
      n: fc.constant(dims.n),
      m: fc.constant(byColumns ? dims.m : dims.n),
      after: fc.constantFrom<LossCase['after']>('none', 'scribble', 'detach'),
      labels: kind === 'npairs' ? labelsArb : kind === 'supcon' ? supconLabelsArb : fc.constant(NO_LABELS),
      same: kind === 'npairs' ? fc.constantFrom(false, false, false, true) : kind === 'supcon' ? fc.boolean() : fc.constant(false),
      extra: kind === 'ntxent' ? fc.oneof({ weight: 2, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: argArb(arrayArb(k, dims.d, dtype)) })
        : kind === 'sigmoid' ? fc.oneof({ weight: 3, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: argArb(arrayArb(dims.n, dims.m, dtype, { special: false })) })
          : fc.constant(undefined),
    }));
}

interface MadeLoss { a: Made; b: Made; target: MadeTarget; opts: unknown; labels?: number[]; extra?: Made; same: boolean }

function makeLoss(c: LossCase, kind: LossKind = 'npairs'): MadeLoss {
  const same = c.same && 'recipe' in c.a;
  // (x2 made from x1's recipe: x1's dtype is the only typed one)
  const partner = dtypeOfArg(c.a) === 'float64' || (!same && dtypeOfArg(c.b) === 'float64') ? 'float64' : 'float32';
  const a = make(c.a, partner);
  const b = same ? make(c.a, partner) : make(c.b, partner);
  const made = makeTarget(c.target, c.n, c.m, a.dtype ?? partner);
  const labels = makeLabels(c.labels, c.n);
  let extra = c.extra ? make(c.extra, partner) : undefined;
  if (extra && kind === 'sigmoid' && extra.values && !(extra.value instanceof pl.Tensor && extra.value.disposed)) {
    // SigLIP's labels: +1 or -1 for each pair
    const random = rng((c.extra as { recipe: ArrayRecipe }).recipe.seed);
    extra = remake(extra, Array.from(extra.values, () => (random() < 0.3 ? 1 : -1))).probabilities;
  }
  let opts = c.opts;
  let target: MadeTarget = { value: undefined, present: false };
  const added: Record<string, unknown> = {};
  if (made.present) added.target = made.value;
  if (labels.present) added.labels = labels.value;
  if (extra) added[kind === 'ntxent' ? 'negatives' : 'target'] = extra.value;
  const plain = opts === undefined || (opts !== null && typeof opts === 'object' && !(opts instanceof ThrowingGetter) && !Array.isArray(opts));
  if (Object.keys(added).length && plain) {
    opts = { ...(opts as object | undefined), ...added };
    if (made.present) target = made; // only a target that was passed counts
    return { a, b, target, opts, labels: labels.labels, extra, same };
  }
  return { a, b, target, opts, same };
}

/** The contrastive family (NT-Xent, SigLIP, VICReg): each gradient the shape and dtype of its input, the terms consistent. */
function checkOtherLoss(kind: 'ntxent' | 'sigmoid' | 'vicreg', r: Record<string, unknown>, m: MadeLoss): void {
  const o = plainOptions(m.opts);
  const views = [...m.a.views, ...m.b.views, ...(m.extra?.views ?? [])];
  if (!isNumber(r.loss)) fail(`${kind}: loss is not a number`);
  const grad = o.grad !== false;
  const [d1, d2] = operandDtypes(m.a.value, m.b.value);
  if (grad) {
    checkTensor(r.grad1, `${kind}: grad1`, m.a.shape, d1, views);
    checkTensor(r.grad2, `${kind}: grad2`, m.b.shape, d2, views);
  } else if (r.grad1 !== undefined || r.grad2 !== undefined) {
    fail(`${kind}: gradients returned with grad: false`);
  }
  const scalars = { ntxent: ['gradTemperature'], sigmoid: ['gradScale', 'gradBias'], vicreg: [] as string[] }[kind];
  for (const k of scalars) if (grad !== isNumber(r[k])) fail(`${kind}: ${k} is ${String(r[k])} with grad ${grad}`);
  if (kind === 'vicreg') {
    const { invariance, variance, covariance, loss } = r as { invariance: number; variance: number; covariance: number; loss: number };
    if (![invariance, variance, covariance].every(isNumber)) fail('vicreg: invariance/variance/covariance are not numbers');
    if (invariance < 0 || variance < 0 || covariance < 0) fail(`vicreg: a term is negative (${invariance}, ${variance}, ${covariance})`);
    const w = [(o.invarianceWeight as number | undefined) ?? 25, (o.varianceWeight as number | undefined) ?? 25, (o.covarianceWeight as number | undefined) ?? 1];
    const terms = [w[0] * invariance, w[1] * variance, w[2] * covariance];
    const expected = terms[0] + terms[1] + terms[2];
    const bound = 1e-5 * terms.reduce((a, t) => a + Math.abs(t), 0) + 1e-6;
    if (Number.isFinite(expected) && Number.isFinite(loss) && Math.abs(loss - expected) > bound) {
      fail(`vicreg: loss ${loss} is not the weighted sum of its terms ${expected}`);
    }
  }
}

/** Checks a loss result's shape and, for the 'features'/'samples' terms, its consistency. */
function checkLoss(lossKind: LossKind, r: Record<string, unknown>, m: MadeLoss): void {
  if (lossKind === 'ntxent' || lossKind === 'sigmoid' || lossKind === 'vicreg') {
    checkOtherLoss(lossKind, r, m);
    return;
  }
  const kind = lossKind === 'supcon' ? 'npairs' : lossKind;
  const o = plainOptions(m.opts);
  const views = [...m.a.views, ...m.b.views];
  if (!isNumber(r.loss)) fail(`${kind}: loss is not a number`);
  const grad = o.grad !== false;
  const [d1, d2] = operandDtypes(m.a.value, m.b.value);
  const dtypes = expectedDtypes(kind, kind, kind === 'npairs' ? [d1, d2, m.target.present ? targetDtype(m.target.value, d1) : 'indices'] : [d1, d2]);
  if (grad) {
    checkTensor(r.grad1, `${kind}: grad1`, m.a.shape, dtypes.grad1, views);
    checkTensor(r.grad2, `${kind}: grad2`, m.b.shape, dtypes.grad2, views);
  } else if (r.grad1 !== undefined || r.grad2 !== undefined) {
    fail(`${kind}: gradients returned with grad: false`);
  }
  if (kind === 'npairs') {
    if (grad !== isNumber(r.gradTemperature)) fail(`npairs: gradTemperature is ${String(r.gradTemperature)} with grad ${grad}`);
    if (o.returnSimilarity === true) checkTensor(r.similarity, 'npairs: similarity', m.a.shape && m.b.shape ? [m.a.shape[0], m.b.shape[0]] : undefined, dtypes.similarity, views);
    else if (r.similarity !== undefined) fail('npairs: similarity returned without returnSimilarity');
  } else {
    const { onDiagonal, offDiagonal, loss } = r as { onDiagonal: number; offDiagonal: number; loss: number };
    if (!isNumber(onDiagonal) || !isNumber(offDiagonal)) fail('correlation: onDiagonal/offDiagonal are not numbers');
    if (onDiagonal < 0 || offDiagonal < 0) fail(`correlation: a sum of squares is negative (${onDiagonal}, ${offDiagonal})`);
    const scale = (o.scale as number | undefined) ?? 0.025;
    const lambda = (o.lambda as number | undefined) ?? 5e-3;
    const expected = scale * (onDiagonal + lambda * offDiagonal);
    const bound = 1e-3 * Math.abs(scale) * (onDiagonal + Math.abs(lambda) * offDiagonal) + 1e-6;
    if (Number.isFinite(expected) && Number.isFinite(loss) && Math.abs(loss - expected) > bound) {
      fail(`correlation: loss ${loss} is not scale * (onDiagonal + lambda * offDiagonal) = ${expected}`);
    }
  }
}

/** checkFinite: true with NaN/Inf in an input: the call must have been refused. */
function checkFiniteRule(kind: string, m: MadeLoss, r: { ok: boolean }): void {
  const o = plainOptions(m.opts);
  if (o.checkFinite === true && r.ok && (!m.a.finite || !m.b.finite)) fail(`${kind}: checkFinite: true accepted NaN/Infinity in an input`);
}

function npairsSample(m: MadeLoss, r: Record<string, unknown>): void {
  const o = plainOptions(m.opts);
  const tame = numberIn(o.temperature ?? 1, 0.01, 10) && (o.eps === undefined || o.eps === 1e-12) && numberIn(o.l2Reg ?? 0, 0, 1) &&
    o.group === undefined && (o.device === undefined || o.device === 'cpu');
  if (o.labels !== undefined || o.excludeSelf === true) {
    supconSample(m, r, tame);
    return;
  }
  const probs = m.target.probabilities;
  if (!tame || !smallFinite(m.a, m.b) || m.a.dtype !== m.b.dtype || (probs && (!smallFinite(probs) || probs.dtype !== m.a.dtype))) return;
  if (m.target.present && !m.target.indices && !probs) return;
  const options: Record<string, unknown> = {};
  for (const k of ['temperature', 'symmetric', 'labelSmoothing', 'reduction', 'similarity', 'l2Reg']) if (o[k] !== undefined) options[k] = o[k];
  const inputs: Case['inputs'] = { x1: spec(m.a), x2: spec(m.b) };
  if (m.target.indices) options.targetIndices = m.target.indices;
  else if (probs) inputs.target = spec(probs);
  sample({ case: { name: 'fuzz npairs', op: 'npairs', dtype: m.a.dtype!, inputs, options }, ours: result(r) });
}

/** N-pairs with labels: SupCon (HobbitLong's SupConLoss), x1 against x2, or over the views [x1 = x2] with excludeSelf. */
function supconSample(m: MadeLoss, r: Record<string, unknown>, tame: boolean): void {
  const o = plainOptions(m.opts);
  const plainCe = !m.target.present && o.symmetric !== true && !(Number(o.labelSmoothing) > 0) && (o.reduction ?? 'mean') === 'mean' &&
    (o.similarity ?? 'cosine') === 'cosine' && !(Number(o.l2Reg) > 0);
  if (!tame || !plainCe || !m.labels || !smallFinite(m.a, m.b) || m.a.dtype !== m.b.dtype) return;
  // A zero row's gradient is 1/eps = 1e12 times a sum of terms that cancel
  // (exactly, in HobbitLong's sequence, when the row's labels are all
  // alike); pairloss's sequence leaves float32 noise times 1e12 there. Not
  // sampled: the gap is reported for triage.
  const zeroRow = (x: Made) => Array.from({ length: x.shape![0] }, (_, i) => Array.from(x.values!).slice(i * x.shape![1], (i + 1) * x.shape![1]))
    .some((row) => row.every((v) => v === 0));
  if (zeroRow(m.a) || zeroRow(m.b)) return;
  const options: Record<string, unknown> = { labels: m.labels };
  if (o.temperature !== undefined) options.temperature = o.temperature;
  const ours = result(r);
  if (o.excludeSelf === true) {
    // over the views z = x1 = x2: dloss/dz is both gradients' sum (test/helpers/parity.ts does the same)
    if (!m.same) return;
    options.excludeSelf = true;
    if (ours.grad1 !== undefined && ours.grad2 !== undefined) {
      const g1 = ours.grad1 as { data: number[]; shape: number[] };
      const g2 = ours.grad2 as { data: number[]; shape: number[] };
      const dtypeRound = m.a.dtype === 'float32' ? Math.fround : (v: number) => v;
      ours.grad1 = { data: g1.data.map((v, k) => dtypeRound(v + g2.data[k])), shape: g1.shape };
      delete ours.grad2;
    }
    sample({ case: { name: 'fuzz supcon over views', op: 'supcon', dtype: m.a.dtype!, inputs: { x1: spec(m.a) }, options }, ours });
    return;
  }
  sample({ case: { name: 'fuzz supcon', op: 'supcon', dtype: m.a.dtype!, inputs: { x1: spec(m.a), x2: spec(m.b) }, options }, ours });
}

function ntxentSample(m: MadeLoss, r: Record<string, unknown>): void {
  const o = plainOptions(m.opts);
  const tame = numberIn(o.temperature ?? 0.5, 0.01, 10) && (o.eps === undefined || o.eps === 1e-12) && o.group === undefined && (o.device === undefined || o.device === 'cpu');
  const bank = m.extra;
  // D = 1: every normalised row is ±1 and the exact gradient 0; what
  // remains is each implementation's rounding noise (1/|z| times float32's
  // epsilon), and lightly's sequence of operations is not pairloss's
  // (DESIGN.md: D = 1 takes the reference path, PyTorch's own sequence, for
  // N-pairs only). Not sampled: the gap (1e-4 against 0 at inputs of 1e-3) is reported for triage.
  if (m.a.shape?.[1] === 1) return;
  if (!tame || !smallFinite(m.a, m.b) || m.a.dtype !== m.b.dtype || (bank && (!smallFinite(bank) || bank.dtype !== m.a.dtype))) return;
  const options: Record<string, unknown> = {};
  if (o.temperature !== undefined) options.temperature = o.temperature;
  const inputs: Case['inputs'] = { z1: spec(m.a), z2: spec(m.b) };
  if (bank) inputs.negatives = spec(bank);
  sample({ case: { name: 'fuzz ntxent', op: 'ntxent', dtype: m.a.dtype!, inputs, options }, ours: result(r) });
}

function sigmoidSample(m: MadeLoss, r: Record<string, unknown>): void {
  const o = plainOptions(m.opts);
  const tame = numberIn(o.scale ?? 10, -30, 30) && numberIn(o.bias ?? -10, -30, 30) && (o.eps === undefined || o.eps === 1e-12) &&
    o.group === undefined && (o.device === undefined || o.device === 'cpu');
  const target = m.extra;
  if (!tame || !smallFinite(m.a, m.b) || m.a.dtype !== m.b.dtype || (target && (!smallFinite(target) || target.dtype !== m.a.dtype))) return;
  const options: Record<string, unknown> = {};
  for (const k of ['scale', 'bias']) if (o[k] !== undefined) options[k] = o[k];
  const inputs: Case['inputs'] = { x1: spec(m.a), x2: spec(m.b) };
  if (target) inputs.target = spec(target);
  sample({ case: { name: 'fuzz siglip', op: 'siglip', dtype: m.a.dtype!, inputs, options }, ours: result(r) });
}

function vicregSample(m: MadeLoss, r: Record<string, unknown>): void {
  const o = plainOptions(m.opts);
  const tame = numberIn(o.eps ?? 1e-4, 1e-6, 1) && o.group === undefined && (o.device === undefined || o.device === 'cpu');
  if (!tame || !smallFinite(m.a, m.b) || m.a.dtype !== m.b.dtype) return;
  const options: Record<string, unknown> = {};
  for (const k of ['invarianceWeight', 'varianceWeight', 'covarianceWeight', 'gamma', 'eps']) if (o[k] !== undefined) options[k] = o[k];
  sample({ case: { name: 'fuzz vicreg', op: 'vicreg', dtype: m.a.dtype!, inputs: { z1: spec(m.a), z2: spec(m.b) }, options }, ours: result(r) });
}

function correlationSample(m: MadeLoss, r: Record<string, unknown>): void {
  const o = plainOptions(m.opts);
  const tame = numberIn(o.lambda ?? 5e-3, -1, 1) && numberIn(o.scale ?? 0.025, -10, 10) && numberIn(o.eps ?? 1e-5, 1e-6, 1) &&
    o.group === undefined && (o.device === undefined || o.device === 'cpu');
  if (!tame || !smallFinite(m.a, m.b) || m.a.dtype !== m.b.dtype) return;
  const options: Record<string, unknown> = {};
  for (const k of ['lambda', 'scale', 'eps', 'mode']) if (o[k] !== undefined) options[k] = o[k];
  sample({ case: { name: 'fuzz correlation', op: 'correlation', dtype: m.a.dtype!, inputs: { z1: spec(m.a), z2: spec(m.b) }, options }, ours: result(r) });
}

type LossFn = (a: pl.TensorLike, b: pl.TensorLike, o?: unknown) => Record<string, unknown>;
type AsyncLossFn = (a: pl.TensorLike, b: pl.TensorLike, o?: unknown) => Promise<Record<string, unknown>>;
const LOSSES: Record<LossKind, { sync: LossFn; async: AsyncLossFn; name: string; sample: (m: MadeLoss, r: Record<string, unknown>) => void }> = {
  npairs: { sync: pl.npairsLoss as unknown as LossFn, async: pl.npairsLossAsync as unknown as AsyncLossFn, name: 'npairsLoss', sample: npairsSample },
  supcon: { sync: pl.npairsLoss as unknown as LossFn, async: pl.npairsLossAsync as unknown as AsyncLossFn, name: 'npairsLoss', sample: npairsSample },
  correlation: { sync: pl.correlationLoss as unknown as LossFn, async: pl.correlationLossAsync as unknown as AsyncLossFn, name: 'correlationLoss', sample: correlationSample },
  ntxent: { sync: pl.ntXentLoss as unknown as LossFn, async: pl.ntXentLossAsync as unknown as AsyncLossFn, name: 'ntXentLoss', sample: ntxentSample },
  sigmoid: { sync: pl.sigmoidLoss as unknown as LossFn, async: pl.sigmoidLossAsync as unknown as AsyncLossFn, name: 'sigmoidLoss', sample: sigmoidSample },
  vicreg: { sync: pl.vicregLoss as unknown as LossFn, async: pl.vicregLossAsync as unknown as AsyncLossFn, name: 'vicregLoss', sample: vicregSample },
};
const LOSS_KINDS = Object.keys(LOSSES) as LossKind[];

function lossProperties(): void {
  for (const kind of LOSS_KINDS) {
    const L = LOSSES[kind];
    propertyHolds(fc.property(lossArgs(kind), (c) => {
      const m = makeLoss(c, kind);
      const snap = snapshot([...m.a.views, ...m.b.views, ...(m.target.probabilities?.views ?? []), ...(m.extra?.views ?? [])]);
      const r = attempt(L.name, c, () => L.sync(m.a.value as pl.TensorLike, m.b.value as pl.TensorLike, m.opts));
      const diff = changed(snap);
      if (diff) fail(`${L.name}: ${diff}`);
      checkFiniteRule(L.name, m, r);
      if (!r.ok) return;
      checkLoss(kind, r.value, m);
      // the same call again, on fresh plain copies of the inputs: bit for bit the same answer
      if (m.a.values && m.b.values && m.a.shape && m.b.shape) {
        const copy = (x: Made) => ({ data: x.dtype === 'float64' ? Float64Array.from(x.values!) : Float32Array.from(x.values!), shape: x.shape! });
        const again = L.sync(copy(m.a), copy(m.b), m.opts);
        const d = identical(again, r.value);
        if (d) fail(`${L.name} on fresh copies of the same inputs differs: ${d}`);
      }
      L.sample(m, r.value);
    }), { numRuns: 2 * RUNS });
  }
}

function identical(a: Record<string, unknown>, b: Record<string, unknown>): string | undefined {
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
  for (const k of keys) {
    const x = a[k];
    const y = b[k];
    if (x instanceof pl.Tensor && y instanceof pl.Tensor) {
      if (!sameShape(x.shape, y.shape) || x.dtype !== y.dtype) return `${k}: shape/dtype differ`;
      const p = x.data();
      const q = y.data();
      for (let i = 0; i < p.length; i++) if (!Object.is(p[i], q[i])) return `${k}[${i}]: ${p[i]} vs ${q[i]}`;
    } else if (!Object.is(x, y)) {
      return `${k}: ${String(x)} vs ${String(y)}`;
    }
  }
  return undefined;
}

async function asyncLossProperties(): Promise<void> {
  for (const kind of LOSS_KINDS) {
    const L = LOSSES[kind];
    await asyncPropertyHolds(fc.asyncProperty(lossArgs(kind), async (c) => {
      const m = makeLoss(c, kind);
      starting(L.name, c);
      const sync = (() => {
        try { return { ok: true as const, value: L.sync(m.a.value as pl.TensorLike, m.b.value as pl.TensorLike, m.opts) }; } catch (e) { return { ok: false as const, error: e as Error }; }
      })();
      starting(`${L.name}Async`, c);
      let promise: Promise<Record<string, unknown>>;
      try {
        promise = L.async(m.a.value as pl.TensorLike, m.b.value as pl.TensorLike, m.opts);
      } catch (e) {
        fail(`${L.name}Async threw synchronously instead of rejecting: ${String(e)}`);
      }
      if (!(promise instanceof Promise)) fail(`${L.name}Async did not return a Promise`);
      // The caller is free to reuse its inputs at once: the call copied them.
      for (const v of m.a.views.concat(m.b.views)) {
        if (c.after === 'scribble') v.fill(NaN);
        else if (c.after === 'detach') detach(v.buffer);
      }
      let r: { ok: true; value: Record<string, unknown> } | { ok: false; error: Error };
      try {
        r = { ok: true, value: await promise };
        count(`${L.name}Async`, 'ok');
      } catch (e) {
        const error = checkError(e, `${L.name}Async`);
        count(`${L.name}Async`, error);
        r = { ok: false, error };
      }
      if (sync.ok !== r.ok) {
        fail(`${L.name}Async ${r.ok ? 'succeeded' : `rejected (${(r as { error: Error }).error.message})`} where ${L.name} ${sync.ok ? 'succeeded' : `threw (${(sync as { error: Error }).error.message})`}`);
      }
      if (r.ok && sync.ok) {
        checkLoss(kind, r.value, m);
        const d = identical(r.value, sync.value);
        if (d) fail(`${L.name}Async differs from ${L.name}: ${d}`);
      } else if (!r.ok && !sync.ok) {
        if (r.error.constructor !== sync.error.constructor || r.error.message !== sync.error.message) {
          fail(`${L.name}Async rejected with ${r.error.name}: ${r.error.message}; ${L.name} threw ${sync.error.name}: ${sync.error.message}`);
        }
      }
    }), { numRuns: RUNS });
  }
}

// ---------------------------------------------------------------------------
// Group: heatmaps (resvg is native code too)
// ---------------------------------------------------------------------------

const TEXT = fc.oneof(
  { weight: 3, arbitrary: fc.string({ unit: 'binary', maxLength: 24 }) },
  { weight: 1, arbitrary: fc.constantFrom('<b>&amp;</b>', ']]>', '"\'<>&', '\u0000', '\uD800', 'x'.repeat(300), '\u202Eright to left', '$$\\frac{1}{2}$$') },
);
function heatmapOptions(png: boolean): fc.Arbitrary<unknown> {
  const valid = {
    annotate: fc.boolean(),
    vmin: fc.double({ min: -10, max: -1e-3, noNaN: true }),
    vmax: fc.double({ min: 1e-3, max: 10, noNaN: true }),
    cmap: fc.constantFrom(...pl.HEATMAP_COLORMAPS),
    fmt: fc.constantFrom('.2f', '.0f', '.3e', '.1%', 'd', '.20f'),
    title: TEXT,
    xLabel: TEXT,
    yLabel: TEXT,
    xTickLabels: fc.array(fc.oneof(fc.string({ maxLength: 6 }), fc.integer()), { maxLength: 8 }),
    yTickLabels: fc.array(fc.oneof(fc.string({ maxLength: 6 }), fc.integer()), { maxLength: 8 }),
    cellSize: png ? fc.integer({ min: 1, max: 24 }) : fc.integer({ min: 1, max: 500 }),
    colorbar: fc.boolean(),
    scale: png ? fc.double({ min: 0.25, max: 2, noNaN: true }) : fc.double({ min: 0.01, max: 16, noNaN: true }),
  };
  const invalid = {
    vmin: fc.double({ min: -10, max: 10 }),
    vmax: fc.double({ min: -10, max: 10 }),
    cmap: fc.constantFrom('jet', 'Rocket', '', 'rocket_r_r', '__proto__', 'toString'),
    fmt: fc.constantFrom('.21f', 'f', '.2g', '%', '{:.2f}', '.-1f', '.2F', '.1e3', ''),
    xTickLabels: fc.array(fc.oneof(fc.string({ maxLength: 6 }), fc.double(), weird), { maxLength: 70 }),
    yTickLabels: fc.array(fc.oneof(fc.string({ maxLength: 6 }), weird), { maxLength: 8 }),
    cellSize: fc.constantFrom(0, 501, 1.5, 1e9),
    scale: fc.constantFrom(0, 16.5, 1e9, -1),
  };
  return optionsArb(valid, { invalid });
}
function heatmapMatrix(maxSide: number): fc.Arbitrary<Arg> {
  const side = fc.oneof(
    { weight: 10, arbitrary: fc.integer({ min: 0, max: 8 }) },
    { weight: 4, arbitrary: fc.integer({ min: 1, max: Math.min(40, maxSide) }) },
    { weight: 1, arbitrary: fc.integer({ min: Math.min(100, maxSide), max: maxSide }) },
  );
  return fc.record({ r: side, c: side, dtype: dtypeArb }).chain(({ r, c, dtype }) => argArb(arrayArb(Math.min(r, maxSide), Math.min(c, maxSide), dtype, { forms: ['plain', 'offset', 'shared', 'tensor', 'nested', 'nested', 'detached', 'disposed'] }), 2));
}

function svgWellFormed(svg: unknown, what: string): void {
  if (typeof svg !== 'string' || !/^\s*(<\?xml[^>]*>\s*)?<svg[\s>]/.test(svg) || !/<\/svg>\s*$/.test(svg)) fail(`${what} is not an SVG document`);
  try {
    new Resvg(svg as string);
  } catch (e) {
    fail(`${what} is not a well-formed SVG (resvg: ${(e as Error).message})`);
  }
}

/** Fits tick labels to the matrix most of the time (the lengths must match). */
function fitLabels(opts: unknown, rows: number, cols: number, fit: boolean): unknown {
  if (!fit || rows > 4096 || cols > 4096 || opts === null || typeof opts !== 'object' || opts instanceof ThrowingGetter || Array.isArray(opts)) return opts;
  const o = { ...(opts as Record<string, unknown>) };
  const fitTo = (labels: unknown, n: number) => (Array.isArray(labels) ? Array.from({ length: n }, (_, i) => labels[i % Math.max(labels.length, 1)] ?? i) : labels);
  if ('xTickLabels' in o) o.xTickLabels = fitTo(o.xTickLabels, cols);
  if ('yTickLabels' in o) o.yTickLabels = fitTo(o.yTickLabels, rows);
  return o;
}

function heatmapProperties(dir: string): void {
  const fit = fc.oneof({ weight: 4, arbitrary: fc.constant(true) }, { weight: 1, arbitrary: fc.constant(false) });
  const svgArgs = fc.record({ matrix: heatmapMatrix(160), opts: heatmapOptions(false), fit });
  propertyHolds(fc.property(svgArgs, (c) => {
    const m = make(c.matrix);
    const [rows, cols] = m.shape ?? [0, 0];
    const opts = fitLabels(c.opts, rows, cols, c.fit);
    const snap = snapshot(m.views);
    const r = attempt('heatmapSvg', c, () => pl.heatmapSvg(m.value as pl.HeatmapMatrix, opts as pl.HeatmapOptions));
    const diff = changed(snap);
    if (diff) fail(`heatmapSvg: ${diff}`);
    if (r.ok) svgWellFormed(r.value, 'heatmapSvg(...)');
  }), { numRuns: RUNS });

  const pngArgs = fc.record({ matrix: heatmapMatrix(40), opts: heatmapOptions(true), fit });
  propertyHolds(fc.property(pngArgs, (c) => {
    const m = make(c.matrix);
    const [rows, cols] = m.shape ?? [0, 0];
    const opts = fitLabels(c.opts, rows, cols, c.fit);
    const r = attempt('heatmapPng', c, () => pl.heatmapPng(m.value as pl.HeatmapMatrix, opts as pl.HeatmapOptions));
    if (!r.ok) return;
    if (!Buffer.isBuffer(r.value)) fail('heatmapPng did not return a Buffer');
    const png = PNG.sync.read(r.value);
    if (!(png.width > 0 && png.height > 0)) fail(`heatmapPng: a ${png.width}x${png.height} image`);
  }), { numRuns: Math.ceil(RUNS / 5) });

  const names = fc.oneof({ weight: 8, arbitrary: fc.string({ unit: fc.constantFrom(...'abcXYZ09 _-.é😀'.split('')), minLength: 1, maxLength: 12 }) }, { weight: 1, arbitrary: fc.constant('') });
  const exts = fc.oneof({ weight: 6, arbitrary: fc.constantFrom('.png', '.svg', '.SVG', '.Png') }, { weight: 2, arbitrary: fc.constantFrom('.jpg', '', '.svg.txt', '.png/') });
  const writeArgs = fc.record({
    name: names, ext: exts, folder: fc.oneof({ weight: 6, arbitrary: fc.constant('') }, { weight: 1, arbitrary: fc.constant('missing-folder/') }),
    path: fc.oneof({ weight: 10, arbitrary: fc.constant<unknown>('made') }, { weight: 1, arbitrary: weird }),
    matrix: heatmapMatrix(12), opts: heatmapOptions(true), fit,
  });
  propertyHolds(fc.property(writeArgs, (c) => {
    const m = make(c.matrix);
    const [rows, cols] = m.shape ?? [0, 0];
    const opts = fitLabels(c.opts, rows, cols, c.fit);
    const file = c.path === 'made' ? path.join(dir, c.folder + c.name + c.ext) : c.path;
    const r = attempt('writeHeatmap', c, () => pl.writeHeatmap(file as string, m.value as pl.HeatmapMatrix, opts as pl.HeatmapOptions));
    if (!r.ok) return;
    if (typeof file !== 'string' || !fs.existsSync(file) || fs.statSync(file).size === 0) fail(`writeHeatmap reported success but ${String(file)} is missing or empty`);
    if (file.toLowerCase().endsWith('.svg')) svgWellFormed(fs.readFileSync(file, 'utf8'), `writeHeatmap(${file})`);
    fs.rmSync(file, { force: true });
  }), { numRuns: Math.ceil(RUNS / 3) });

  const readArgs = fc.record({ matrix: heatmapMatrix(64), name: fc.oneof({ weight: 4, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: fc.string({ maxLength: 8 }) }, { weight: 1, arbitrary: weird }) });
  propertyHolds(fc.property(readArgs, (c) => {
    const m = make(c.matrix);
    const r = attempt('readMatrix', c, () => pl.readMatrix(m.value, c.name as string));
    if (!r.ok) return;
    const { rows, cols, data } = r.value;
    if (!(Number.isInteger(rows) && rows > 0 && Number.isInteger(cols) && cols > 0) || data.length !== rows * cols) fail(`readMatrix: ${rows}x${cols} with ${data.length} values`);
  }), {
    numRuns: RUNS,
    // found by this fuzz: a name that is not a string reached a template string
    examples: [[{ matrix: { raw: [[1], 'x'] }, name: Symbol('name') }]],
  });

  propertyHolds(fc.property(fc.oneof(fc.constantFrom(...pl.HEATMAP_COLORMAPS), fc.string({ maxLength: 10 }), weird), (name) => {
    const r = attempt('colormapColors', name, () => pl.colormapColors(name as string));
    if (!r.ok) return;
    if (r.value.length !== 256 || !r.value.every((c) => c.length === 3 && c.every((v) => Number.isInteger(v) && v >= 0 && v <= 255))) fail(`colormapColors(${String(name)}) is not 256 RGB bytes`);
  }), { numRuns: RUNS });
}

// ---------------------------------------------------------------------------
// The child: runs one group, writes a summary (and its parity samples)
// ---------------------------------------------------------------------------

const GROUPS: Record<string, { functions: string[]; run: (dir: string) => void | Promise<void> }> = {
  'tensors and runtime': {
    functions: ['Tensor.from', 'tensor', 'setNumThreads', 'getNumThreads', 'memoryStats', 'cuda.isAvailable', 'cuda.deviceCount'],
    run: () => { tensorProperties(); runtimeProperties(); },
  },
  ops: { functions: ['normalize', 'matmul', 'crossEntropy', 'batchNorm1d', 'cosineSimilarity'], run: () => opsProperties() },
  losses: {
    functions: [...new Set(LOSS_KINDS.flatMap((k) => [LOSSES[k].name, `${LOSSES[k].name}Async`]))],
    run: async () => { lossProperties(); await asyncLossProperties(); },
  },
  heatmaps: { functions: ['heatmapSvg', 'heatmapPng', 'writeHeatmap', 'readMatrix', 'colormapColors'], run: (dir) => heatmapProperties(dir) },
};

interface Summary { group: string; seed: number; runs: number; seconds: number; tallies: Record<string, Tally>; samples: Sample[] }

async function child(group: string): Promise<void> {
  const seed = Number(process.env.PAIRLOSS_FUZZ_SEED);
  fc.configureGlobal({ seed, endOnFailure: false });
  if (process.env.PAIRLOSS_FUZZ_LAST) lastFd = fs.openSync(process.env.PAIRLOSS_FUZZ_LAST, 'w');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pairloss-fuzz-'));
  const started = Date.now();
  try {
    await GROUPS[group].run(dir);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  const samples = Object.values(reservoirs).flatMap((r) => r.kept);
  const summary: Summary = { group, seed, runs: RUNS, seconds: (Date.now() - started) / 1000, tallies, samples };
  fs.writeFileSync(process.env.PAIRLOSS_FUZZ_SUMMARY!, JSON.stringify(summary));
  if (failures.length) throw new Error(`${failures.length} propert${failures.length > 1 ? 'ies' : 'y'} failed:\n\n${failures.join('\n\n')}`);
}

/**
 * DESIGN.md's tolerance with atol taken at the scale of each tensor
 * (atol * max(1, max |reference|)): the fuzz reaches ill-conditioned cases
 * (temperature 0.01 with 'sum' over rows, D = 1) where float32 rounding in
 * either implementation exceeds an absolute 1e-6 at the tensor's magnitude.
 */
function mismatchesAtScale(ours: Result, ref: Result, dtype: DType): string[] {
  const scaled: Result = {};
  const oursScaled: Result = {};
  for (const [k, v] of Object.entries(ref)) {
    const o = ours[k];
    if (typeof v === 'number' || typeof o === 'number' || o === undefined) { scaled[k] = v; oursScaled[k] = o; continue; }
    let scale = 1;
    for (let i = 0; i < v.data.length; i++) scale = Math.max(scale, Math.abs(v.data[i]));
    scaled[k] = { data: Array.from(v.data, (x) => x / scale), shape: v.shape };
    oursScaled[k] = { data: Array.from(o.data, (x) => x / scale), shape: o.shape };
  }
  return mismatches(oursScaled, scaled, dtype);
}

/**
 * The shapes mismatchesAtScale exists for: N-pairs over rows summed
 * ('sum') at a temperature of 0.05 or less (logits up to 20 times the
 * similarities, their errors summed over N rows), and D = 1 (every
 * normalised row is ±1: the gradient is rounding noise around 0). Nowhere
 * else does an error scaled by the tensor's largest value excuse a mismatch.
 */
function illConditionedAtScale(c: Case): boolean {
  if (c.op !== 'npairs') return false;
  const o = c.options as { reduction?: string; temperature?: number; similarity?: string };
  const d = c.inputs.x1.shape[1];
  return (o.reduction === 'sum' && (o.temperature ?? 1) <= 0.05) || ((o.similarity ?? 'cosine') === 'cosine' && d === 1);
}

/**
 * How many sampled results may be outside DESIGN.md's tolerance of PyTorch's
 * same-dtype answer and still pass, each explained by a note (closer to
 * PyTorch's float64 answer; ill-conditioned): about 2% of the ~385 samples.
 * The recorded seed gives 4 on LibTorch 1.13; the rest is room for another
 * LibTorch's rounding. Above this the parity test fails: a kernel that
 * drifts cannot hide among the notes.
 */
const NOTE_BUDGET = 8;

/** PAIRLOSS_FUZZ_SEED: unset or empty for DEFAULT_SEED, 'random' for a fresh one, or an integer. */
function fuzzSeed(text: string | undefined): number {
  if (text === undefined || text.trim() === '') return DEFAULT_SEED;
  if (text === 'random') return Math.floor(Math.random() * 2 ** 31);
  const n = Number(text);
  if (!Number.isSafeInteger(n) || !/^\s*-?\d+\s*$/.test(text)) {
    throw new Error(`PAIRLOSS_FUZZ_SEED must be an integer or 'random', got ${JSON.stringify(text)}`);
  }
  return n;
}

/**
 * For a case that is ill-conditioned in its dtype, rounding alone moves a
 * correct answer by more than DESIGN.md's tolerance, so no two
 * implementations need agree that closely. Two such kinds reach the fuzz:
 * float32 batch statistics of N = 2 rows whose variance dwarfs eps (the
 * gradient is a difference of nearly equal terms: PyTorch's own float32
 * answer misses its float64 one beyond tolerance), and float64 zero rows
 * (whose gradient is 1/eps = 1e12 times a difference) with labelSmoothing a
 * rounding away from 1. There ours passes when it is about as accurate as
 * PyTorch: every element within the tolerance plus twice the largest
 * distance, in that tensor, between `ref` and the `others` (PyTorch's
 * float32 answer against its float64 one; or PyTorch's float64 answers for
 * inputs and options moved by a few ulps). Where those agree with `ref`,
 * this is the plain check against `ref`.
 */
function withinSpread(ours: Result, ref: Result, others: Result[], dtype: DType): boolean {
  const { rtol, atol } = TOLERANCE[dtype];
  const flat = (v: Result[string]) => (typeof v === 'number' ? [v] : Array.from(v.data));
  for (const [k, e] of Object.entries(ref)) {
    const o = ours[k];
    if (o === undefined || others.some((t) => t[k] === undefined)) return false;
    const [od, ed] = [flat(o), flat(e)];
    if (od.length !== ed.length) return false;
    let spread = 0;
    for (const t of others) {
      const td = flat(t[k]);
      if (td.length !== ed.length) return false;
      for (let j = 0; j < ed.length; j++) spread = Math.max(spread, Math.abs(td[j] - ed[j]));
    }
    for (let j = 0; j < ed.length; j++) {
      if (!(Math.abs(od[j] - ed[j]) <= atol + rtol * Math.abs(ed[j]) + 2 * spread)) return false;
    }
  }
  return true;
}

/** A copy of a case with every float input and numeric option moved by 1e-15 relative (a few float64 ulps), up or down by `seed`. */
function nudged(c: Case, seed: number): Case {
  const r = rng(seed);
  const nudge = (v: number) => v * (1 + (r() < 0.5 ? -1e-15 : 1e-15));
  const inputs = Object.fromEntries(Object.entries(c.inputs).map(([k, v]) => [k, { data: v.data.map(nudge), shape: v.shape }]));
  const options = Object.fromEntries(Object.entries(c.options).map(([k, v]) => {
    if (typeof v !== 'number' || k === 'dim') return [k, v];
    return [k, k === 'labelSmoothing' ? Math.min(1, nudge(v)) : nudge(v)];
  }));
  return { ...c, inputs, options };
}

if (CHILD) {
  child(CHILD).then(
    () => process.exit(0),
    (e) => {
      const cause = e instanceof Error && e.cause instanceof Error ? `\nCaused by: ${e.cause.stack ?? e.cause.message}` : '';
      process.stderr.write(`${e instanceof Error ? e.stack ?? e.message : String(e)}${cause}\n`);
      process.exit(1);
    },
  );
} else {
  // -------------------------------------------------------------------------
  // The jest side: one child per group, then one oracle call for the samples.
  // -------------------------------------------------------------------------
  const ROOT = path.resolve(__dirname, '..');
  const seed = fuzzSeed(process.env.PAIRLOSS_FUZZ_SEED);
  const random = process.env.PAIRLOSS_FUZZ_SEED === 'random';
  /** The command that runs these very cases again. */
  const replay = [
    `PAIRLOSS_FUZZ_SEED=${seed}`,
    ...(RUNS !== DEFAULT_RUNS ? [`PAIRLOSS_FUZZ_RUNS=${RUNS}`] : []),
    ...(PARITY !== DEFAULT_PARITY ? [`PAIRLOSS_FUZZ_PARITY=${PARITY}`] : []),
    'npx jest test/fuzz.test.ts',
  ].join(' ');
  /** Runs a test body; whatever it throws says how to replay it. */
  const replayable = (body: () => void) => () => {
    try {
      body();
    } catch (e) {
      throw new Error(`${e instanceof Error ? e.message : String(e)}\n\nReplay: ${replay}`);
    }
  };
  process.stderr.write(`[fuzz] seed ${seed}${random ? ' (fresh)' : seed === DEFAULT_SEED ? " (npm test's recorded seed)" : ''}, ${RUNS} runs a property; replay: ${replay}\n`);
  /** A child's time limit: 580 s for the default runs, more for more runs. */
  const childTimeout = Math.max(580_000, Math.ceil((RUNS / DEFAULT_RUNS) * 120_000));
  /** Loads lib/*.ts in plain node, as ts-jest does (transpile only). */
  const hook = `
const fs = require('fs');
const ts = require(${JSON.stringify(require.resolve('typescript'))});
require.extensions['.ts'] = (module, filename) => {
  const { outputText } = ts.transpileModule(fs.readFileSync(filename, 'utf8'), {
    fileName: filename,
    compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2020, esModuleInterop: true },
  });
  module._compile(outputText, filename);
};
require(${JSON.stringify(__filename)});`;
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'pairloss-fuzz-'));
  const summaries: Summary[] = [];
  const crashed: string[] = [];
  afterAll(() => fs.rmSync(work, { recursive: true, force: true }));

  describe(`fuzzing every public function (seed ${seed}, ${RUNS} runs a property; replay: ${replay})`, () => {
    it.each(Object.keys(GROUPS))('%s: never crashes, only TypeError/RangeError/Error with a message', (group) => replayable(() => {
      const files = { last: path.join(work, `${group}.last`), summary: path.join(work, `${group}.json`) };
      const started = Date.now();
      const r = spawnSync(process.execPath, ['-e', hook], {
        cwd: ROOT,
        encoding: 'utf8',
        maxBuffer: 1 << 26,
        timeout: childTimeout,
        env: { ...process.env, PAIRLOSS_FUZZ_CHILD: group, PAIRLOSS_FUZZ_SEED: String(seed), PAIRLOSS_FUZZ_LAST: files.last, PAIRLOSS_FUZZ_SUMMARY: files.summary },
      });
      const seconds = ((Date.now() - started) / 1000).toFixed(1);
      // a child whose properties failed still wrote its summary; a crashed one did not
      const summary = fs.existsSync(files.summary) ? (JSON.parse(fs.readFileSync(files.summary, 'utf8')) as Summary) : undefined;
      if (summary && process.env.PAIRLOSS_FUZZ_VERBOSE) {
        process.stderr.write(`[fuzz] ${group}: ${seconds} s (${summary.seconds.toFixed(1)} s fuzzing)\n${JSON.stringify(summary.tallies, null, 1)}\n`);
      }
      // a child whose properties failed still wrote its samples: the parity test checks them too
      if (summary) summaries.push(summary);
      else crashed.push(group);
      if (r.status !== 0 || r.signal || !summary) {
        const last = fs.existsSync(files.last) ? fs.readFileSync(files.last, 'utf8') : '(none)';
        const how = r.signal ? `was killed by ${r.signal}${r.error ? ` (${r.error.message})` : ''} -- a native crash or a timeout` : `exited with status ${r.status}`;
        throw new Error(`The fuzz child for '${group}' ${how} after ${seconds} s (seed ${seed}).\n` +
          `Last case started:\n  ${last}\n--- stderr (tail) ---\n${(r.stderr ?? '').slice(-8000)}`);
      }
      // the generators reach both sides, valid calls and refused ones (checked when there are enough runs)
      for (const fn of RUNS >= 100 ? GROUPS[group].functions : []) {
        const t = summary.tallies[fn];
        if (!t || t.ok === 0) throw new Error(`${fn}: no call succeeded (${JSON.stringify(t)})`);
        if (!['getNumThreads', 'memoryStats', 'cuda.isAvailable', 'cuda.deviceCount'].includes(fn) && t.TypeError + t.RangeError + t.Error === 0) {
          throw new Error(`${fn}: no call was refused (${JSON.stringify(t)})`);
        }
      }
    })(), childTimeout + 20_000);

    it('successes match PyTorch (a sample, one oracle call; a second for ill-conditioned float64 cases)', replayable(() => {
      if (crashed.length) throw new Error(`no parity samples from the fuzz child of ${crashed.map((g) => `'${g}'`).join(', ')}: it died (see its test above)`);
      const all = summaries.flatMap((s) => s.samples);
      const ops = [...new Set(all.map((s) => s.case.op))];
      // every kind of call that can be checked was sampled
      const unsampled = ['npairs', 'supcon', 'correlation', 'ntxent', 'siglip', 'vicreg', 'normalize', 'matmul', 'cross_entropy', 'batch_norm1d', 'cosine_similarity'].filter((op) => !ops.includes(op));
      if (unsampled.length) throw new Error(`no parity sample of ${unsampled.join(', ')} (sampled: ${ops.join(', ')})`);
      // float32 cases also go to PyTorch in float64 (the inputs are exact in
      // both): where the two float32 answers differ, the float64 one says
      // which is right. One Python call for everything.
      const wide = all.filter((s) => s.case.dtype === 'float32').map((s) => ({ ...s.case, dtype: 'float64' as const }));
      const ref = oracle([...all.map((s) => s.case), ...wide]);
      if (ref.results.length !== all.length + wide.length) throw new Error(`the oracle gave ${ref.results.length} results for ${all.length + wide.length} cases`);
      let w = all.length;
      const bad: string[] = [];
      const notes: string[] = [];
      /** float64 cases outside tolerance: checked below against PyTorch on nudged inputs (one more oracle call). */
      const suspects: Array<{ s: Sample; ref: Result; what: string }> = [];
      all.forEach((s, i) => {
        // keys absent from ours (grad: false, returnSimilarity: false) were checked as absent by the properties
        const keep = (r: Result) => Object.fromEntries(Object.entries(r).filter(([k]) => k in s.ours));
        const diff = mismatches(s.ours, keep(ref.results[i]), s.case.dtype);
        const exact = s.case.dtype === 'float32' ? keep(ref.results[w++]) : undefined;
        if (diff.length === 0) return;
        const what = `${s.case.op} ${s.case.dtype} ${JSON.stringify(s.case.options)} [${Object.values(s.case.inputs).map((v) => v.shape.join('x')).join(', ')}]: ${diff.slice(0, 3).join('; ')}`;
        if (exact && mismatches(s.ours, exact, 'float32').length === 0) notes.push(`${what} -- but within float32 tolerance of PyTorch's float64 answer`);
        else if (illConditionedAtScale(s.case) && mismatchesAtScale(s.ours, keep(ref.results[i]), s.case.dtype).length === 0) notes.push(`${what} -- ill-conditioned ('sum' at temperature <= 0.05, or D = 1): within tolerance at the tensor's scale`);
        else if (exact && withinSpread(s.ours, exact, [keep(ref.results[i])], 'float32')) notes.push(`${what} -- ill-conditioned in float32: PyTorch's own float32 answer misses its float64 one as much`);
        else if (!exact) suspects.push({ s, ref: keep(ref.results[i]), what });
        else bad.push(`${what}\n    args: ${s.args ?? '?'}`);
        if (process.env.PAIRLOSS_FUZZ_DUMP) fs.appendFileSync(process.env.PAIRLOSS_FUZZ_DUMP, `${JSON.stringify({ ...s, torch: ref.results[i], torch64: exact })}\n`);
      });
      if (suspects.length) {
        const moved = oracle(suspects.flatMap(({ s }, j) => [nudged(s.case, 2 * j + 1), nudged(s.case, 2 * j + 2)])).results;
        suspects.forEach(({ s, ref: r, what }, j) => {
          const keep = (x: Result) => Object.fromEntries(Object.entries(x).filter(([k]) => k in s.ours));
          if (withinSpread(s.ours, r, [keep(moved[2 * j]), keep(moved[2 * j + 1])], 'float64')) notes.push(`${what} -- ill-conditioned in float64: PyTorch's answer moves as much when the inputs and options move by a few ulps`);
          else bad.push(`${what}\n    args: ${s.args ?? '?'}`);
        });
      }
      const perOp = Object.entries(all.reduce<Record<string, number>>((acc, s) => ({ ...acc, [s.case.op]: (acc[s.case.op] ?? 0) + 1 }), {})).map(([op, k]) => `${op} ${k}`).join(', ');
      process.stderr.write(`[fuzz] parity: ${all.length} cases against torch ${ref.torch} (${perOp}); ${notes.length} note(s) (budget ${NOTE_BUDGET}): ` +
        `outside DESIGN.md's tolerance of the same-dtype answer only${notes.length ? `:\n  ${notes.join('\n  ')}` : ''}\n`);
      if (notes.length > NOTE_BUDGET) bad.push(`${notes.length} notes, more than the budget of ${NOTE_BUDGET}:\n    ${notes.join('\n    ')}`);
      if (bad.length) throw new Error(`${bad.length} of ${all.length} sampled results differ from PyTorch ${ref.torch} beyond DESIGN.md's tolerance:\n  ${bad.join('\n  ')}`);
    }), 300_000);

    it("the result dtypes expected above are PyTorch's, for every op and every combination of input dtypes", replayable(() => {
      const { torch, table } = torchResultDtypes();
      const canonical = (d: Record<string, string> | null) => (d === null ? 'null' : JSON.stringify(Object.keys(d).sort().map((k) => [k, d[k]])));
      const differ: string[] = [];
      for (const op of Object.keys(DTYPE_INPUTS)) {
        for (const inputs of dtypeCombinations(op)) {
          const key = [op, ...inputs].join(' ');
          const ours = resultDtypes(op, inputs);
          if (!(key in table)) differ.push(`${key}: not probed`);
          else if (canonical(ours) !== canonical(table[key])) differ.push(`${key}: expected ${JSON.stringify(ours)}, PyTorch ${torch} gives ${JSON.stringify(table[key])}`);
        }
      }
      if (differ.length) throw new Error(`resultDtypes (test/helpers/parity.ts) is not PyTorch's type promotion:\n  ${differ.join('\n  ')}`);
    }), 120_000);
  });
}
