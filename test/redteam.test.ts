// Red team (issue 26): bad inputs that were accepted silently, or are easy to
// get wrong, each a TypeError or RangeError naming the argument (or option,
// or environment variable) at fault. Sync functions throw, async ones reject;
// nothing may crash the process. One table: every row is a call, the class it
// must fail with and a pattern the message must match (the name first).
import * as pl from '../lib';
import { freePort } from './helpers/distributed';

type ErrorClass = 'TypeError' | 'RangeError';
type Row = [label: string, call: () => unknown, cls: ErrorClass, message: RegExp];

function mat(n: number, d: number, start = 1): { data: Float32Array; shape: number[] } {
  return { data: Float32Array.from({ length: n * d }, (_, i) => Math.sin(i + start)), shape: [n, d] };
}
function filled(n: number, d: number, v: number): { data: Float32Array; shape: number[] } {
  return { data: new Float32Array(n * d).fill(v), shape: [n, d] };
}
const x = (): { data: Float32Array; shape: number[] } => mat(4, 3);
const y = (): { data: Float32Array; shape: number[] } => mat(4, 3, 7);
/** A matrix with one entry set. */
function withEntry(n: number, m: number, fill: number, at: number, v: number): { data: Float32Array; shape: number[] } {
  const t = filled(n, m, fill);
  t.data[at] = v;
  return t;
}

const losses = {
  npairs: (o: unknown) => pl.npairsLoss(x(), y(), o as pl.NpairsOptions),
  ntXent: (o: unknown) => pl.ntXentLoss(x(), y(), o as pl.NtXentOptions),
  sigmoid: (o: unknown) => pl.sigmoidLoss(x(), y(), o as pl.SigmoidOptions),
  vicreg: (o: unknown) => pl.vicregLoss(x(), y(), o as pl.VicregOptions),
  correlation: (o: unknown) => pl.correlationLoss(x(), y(), o as pl.CorrelationOptions),
};

/** Options objects that hide a key, or are no options object at all. */
function inherited(key: string, v: unknown): object {
  return Object.create({ [key]: v }) as object;
}
function hidden(key: string, v: unknown): object {
  return Object.defineProperty({}, key, { value: v, enumerable: false });
}
class Opts {
  temperature = 0.5;
}

const rows: Row[] = [];
const add = (...r: Row): void => {
  rows.push(r);
};

// ---- the options object itself, on every loss
for (const [name, f] of Object.entries(losses)) {
  add(`${name}: options as a Map`, () => f(new Map([['eps', 1]])), 'TypeError', /^Expected a plain object \(\{ key: value \}\) for options but received an object \(Map\)/);
  add(`${name}: options as a class instance`, () => f(new Opts()), 'TypeError', /for options but received an object \(Opts\)/);
  add(`${name}: options with a Symbol key`, () => f({ [Symbol('eps')]: 1 }), 'RangeError', /^Unknown option Symbol\(eps\) in options/);
  add(`${name}: an inherited typo`, () => f(inherited('epss', 1)), 'RangeError', /^Unknown option 'epss' in options \(inherited from its prototype\); .*Did you mean 'eps'\?$/);
  add(`${name}: a non-enumerable typo`, () => f(hidden('gard', false)), 'RangeError', /^Unknown option 'gard' in options; .*Did you mean 'grad'\?$/);
  add(`${name}: a typo in the case`, () => f({ CheckFinite: true }), 'RangeError', /^Unknown option 'CheckFinite'.*Did you mean 'checkFinite'\?$/);
  add(`${name}: options as an array`, () => f([1]), 'TypeError', /^Expected an object for options/);
  add(`${name}: signal that is not an AbortSignal`, () => f({ signal: {} }), 'TypeError', /^Expected an AbortSignal .* for signal/);
  add(`${name}: a signal on the sync call`, () => f({ signal: new AbortController().signal }), 'RangeError', /^signal: applies to the async functions \(\w+LossAsync\)/);
}
add('npairs: a far typo has no guess', () => losses.npairs({ zzzzzz: 1 }), 'RangeError', /^Unknown option 'zzzzzz' in options; expected one of: [\w, ]+$/);
add('npairs: temprature', () => losses.npairs({ temprature: 1 }), 'RangeError', /Did you mean 'temperature'\?$/);
add('correlation: lamda', () => losses.correlation({ lamda: 1 }), 'RangeError', /Did you mean 'lambda'\?$/);

// ---- option values accepted silently before issue 26
add('correlation: lambda < 0', () => losses.correlation({ lambda: -1e-3 }), 'RangeError', /for lambda but received -0.001/);
add('correlation: scale = 0', () => losses.correlation({ scale: 0 }), 'RangeError', /^Expected a finite number > 0 for scale but received 0/);
add('correlation: scale < 0', () => losses.correlation({ scale: -1 }), 'RangeError', /for scale but received -1/);
add('vicreg: gamma < 0', () => losses.vicreg({ gamma: -1 }), 'RangeError', /for gamma but received -1/);
add('vicreg: every weight 0', () => losses.vicreg({ invarianceWeight: 0, varianceWeight: 0, covarianceWeight: 0 }), 'RangeError', /^invarianceWeight: .*all 0/);
for (const w of ['invarianceWeight', 'varianceWeight', 'covarianceWeight']) {
  add(`vicreg: ${w} < 0`, () => losses.vicreg({ [w]: -1 }), 'RangeError', new RegExp(`for ${w} but received -1`));
  add(`vicreg: ${w} NaN`, () => losses.vicreg({ [w]: NaN }), 'RangeError', new RegExp(`for ${w} but received NaN`));
}
add('sigmoid: target entry 2', () => losses.sigmoid({ target: withEntry(4, 4, -1, 5, 2) }), 'RangeError', /for target\[1\]\[1\] but received 2/);
add('sigmoid: target entry -1.5', () => losses.sigmoid({ target: withEntry(4, 4, 1, 15, -1.5) }), 'RangeError', /for target\[3\]\[3\] but received -1.5/);
add('sigmoid: target NaN', () => losses.sigmoid({ target: withEntry(4, 4, -1, 0, NaN) }), 'RangeError', /for target\[0\]\[0\] but received NaN/);
add('sigmoid: target NaN with checkFinite', () => losses.sigmoid({ target: withEntry(4, 4, -1, 3, NaN), checkFinite: true }), 'RangeError', /for target\[0\]\[3\] but received NaN/);
add('sigmoid: target Infinity', () => losses.sigmoid({ target: withEntry(4, 4, -1, 3, Infinity) }), 'RangeError', /for target\[0\]\[3\] but received Infinity/);
add('npairs: probability target < 0', () => losses.npairs({ target: withEntry(4, 4, 0.25, 6, -0.25) }), 'RangeError', /for target\[1\]\[2\] but received -0.25/);
add('npairs: probability target NaN', () => losses.npairs({ target: withEntry(4, 4, 0.25, 0, NaN), checkFinite: true }), 'RangeError', /for target\[0\]\[0\] but received NaN/);
add('npairs: probability target Infinity', () => losses.npairs({ target: withEntry(4, 4, 0.25, 1, Infinity) }), 'RangeError', /for target\[0\]\[1\] but received Infinity/);
add('npairs: loss NaN from a tiny temperature (checkFinite)', () => pl.npairsLoss(mat(4, 3), mat(4, 3, 1), { temperature: 1e-300, checkFinite: true }), 'RangeError', /^temperature: the loss came out (NaN|Infinity) from finite inputs \(checkFinite is on\)/);
add('ntXent: loss NaN from a tiny temperature (checkFinite)', () => losses.ntXent({ temperature: 1e-300, checkFinite: true }), 'RangeError', /^temperature: the loss came out/);
add('sigmoid: loss infinite from a huge scale (checkFinite)', () => pl.sigmoidLoss(mat(4, 3), mat(4, 3, 2), { scale: 1e300, bias: 0, checkFinite: true }), 'RangeError', /^scale: the loss came out/);
add('npairs: NaN in x1 (checkFinite)', () => pl.npairsLoss(withEntry(4, 3, 0.5, 2, NaN), y(), { checkFinite: true }), 'RangeError', /x1 contains NaN or Infinity/);
add('correlation: Infinity in z2 (checkFinite)', () => pl.correlationLoss(x(), withEntry(4, 3, 0.5, 2, Infinity), { checkFinite: true }), 'RangeError', /z2 contains NaN or Infinity/);

// ---- more option values, each loss
const bad: [keyof typeof losses, string, unknown, ErrorClass][] = [
  ['npairs', 'temperature', 0, 'RangeError'], ['npairs', 'temperature', -1, 'RangeError'], ['npairs', 'temperature', NaN, 'RangeError'],
  ['npairs', 'temperature', Infinity, 'RangeError'], ['npairs', 'temperature', '0.1', 'TypeError'], ['npairs', 'temperature', null, 'TypeError'],
  ['npairs', 'labelSmoothing', -0.1, 'RangeError'], ['npairs', 'labelSmoothing', 1.5, 'RangeError'], ['npairs', 'reduction', 'none', 'RangeError'],
  ['npairs', 'reduction', 1, 'TypeError'], ['npairs', 'similarity', 'euclid', 'RangeError'], ['npairs', 'l2Reg', -1, 'RangeError'],
  ['npairs', 'eps', 0, 'RangeError'], ['npairs', 'eps', 1e39, 'RangeError'], ['npairs', 'grad', 'yes', 'TypeError'], ['npairs', 'symmetric', 1, 'TypeError'],
  ['npairs', 'returnSimilarity', 0, 'TypeError'], ['npairs', 'checkFinite', 'true', 'TypeError'], ['npairs', 'device', 'tpu', 'RangeError'],
  ['npairs', 'group', {}, 'TypeError'], ['npairs', 'group', null, 'TypeError'], ['npairs', 'excludeSelf', 'x', 'TypeError'],
  ['ntXent', 'temperature', 0, 'RangeError'], ['ntXent', 'eps', -1, 'RangeError'], ['ntXent', 'grad', null, 'TypeError'],
  ['sigmoid', 'scale', 0, 'RangeError'], ['sigmoid', 'scale', -3, 'RangeError'], ['sigmoid', 'bias', NaN, 'RangeError'], ['sigmoid', 'bias', '1', 'TypeError'],
  ['vicreg', 'eps', 0, 'RangeError'], ['vicreg', 'gamma', Infinity, 'RangeError'],
  ['correlation', 'eps', 0, 'RangeError'], ['correlation', 'mode', 'rows', 'RangeError'], ['correlation', 'syncBatchNorm', 1, 'TypeError'],
  ['correlation', 'lambda', NaN, 'RangeError'], ['correlation', 'scale', Infinity, 'RangeError'],
];
for (const [loss, key, v, cls] of bad) {
  add(`${loss}: ${key} = ${typeof v === 'string' ? JSON.stringify(v) : String(v)}`, () => losses[loss]({ [key]: v }), cls, new RegExp(`\\b${key}\\b`));
}

// ---- targets and labels
add('npairs: target index = M', () => losses.npairs({ target: [0, 1, 2, 4] }), 'RangeError', /target\[3\]/);
add('npairs: target index -1', () => losses.npairs({ target: new Int32Array([0, -1, 2, 3]) }), 'RangeError', /target\[1\]/);
add('npairs: BigInt64Array target 2^40', () => losses.npairs({ target: new BigInt64Array([0n, 1n, 1n << 40n, 3n]) }), 'RangeError', /target\[2\]/);
add('npairs: BigInt64Array target -2^63', () => losses.npairs({ target: new BigInt64Array([-(1n << 63n), 1n, 2n, 3n]) }), 'RangeError', /target\[0\]/);
add('npairs: target 1.5', () => losses.npairs({ target: [0, 1.5, 2, 3] }), 'RangeError', /target\[1\]/);
add('npairs: target NaN', () => losses.npairs({ target: [0, NaN, 2, 3] }), 'RangeError', /target\[1\]/);
add('npairs: target "1"', () => losses.npairs({ target: [0, '1', 2, 3] }), 'TypeError', /target\[1\]/);
add('npairs: target too short', () => losses.npairs({ target: [0, 1] }), 'RangeError', /^target: expected 4 class indices, got 2/);
add('npairs: target Float32Array of indices', () => losses.npairs({ target: new Float32Array(4) }), 'TypeError', /target/);
add('npairs: target Uint8Array', () => losses.npairs({ target: new Uint8Array(4) }), 'TypeError', /target/);
add('npairs: probability target of the wrong shape', () => losses.npairs({ target: filled(4, 3, 0.25) }), 'RangeError', /^target: a probability target must be \[N, M\] = \[4, 4\]/);
add('npairs: labels too short', () => losses.npairs({ labels: [0, 1] }), 'RangeError', /^labels: expected 4 labels/);
add('npairs: labels 0.5', () => losses.npairs({ labels: [0, 0.5, 1, 1] }), 'RangeError', /labels\[1\]/);
add('npairs: labels with target', () => losses.npairs({ labels: [0, 0, 1, 1], target: [0, 1, 2, 3] }), 'RangeError', /^labels: and target exclude each other/);
add('ntXent: negatives of another D', () => losses.ntXent({ negatives: mat(5, 2) }), 'RangeError', /^negatives: must have D = 3/);
add('ntXent: empty negatives', () => losses.ntXent({ negatives: { data: new Float32Array(0), shape: [0, 3] } }), 'RangeError', /^negatives: an empty memory bank/);
add('sigmoid: target of the wrong shape', () => losses.sigmoid({ target: filled(3, 4, 1) }), 'RangeError', /^target: labels must be \[N, M\]/);

// ---- tensors and shapes
add('Tensor.from: -0 in the shape', () => pl.Tensor.from(new Float32Array(0), [-0, 3]), 'RangeError', /^shape\[0\]: -0 is not a size/);
add('Tensor.from: shape overflowing int64', () => pl.Tensor.from(new Float32Array(0), [2 ** 32, 2 ** 32, 0]), 'RangeError', /^shape: \[4294967296, 4294967296, 0\]: its sizes multiply to more than 2\^53 - 1/);
add('Tensor.from: shape beyond safe integers', () => pl.Tensor.from(new Float32Array(0), [2 ** 27, 2 ** 27, 0]), 'RangeError', /^shape: .*more than 2\^53 - 1/);
add('loss: x1.shape with -0', () => pl.npairsLoss({ data: new Float32Array(0), shape: [-0, 3] }, y()), 'RangeError', /^x1\.shape\[0\]: -0 is not a size/);
add('loss: x1.shape overflowing', () => pl.npairsLoss({ data: new Float32Array(0), shape: [2 ** 31, 2 ** 31, 2 ** 31, 0] }, y()), 'RangeError', /^x1\.shape: .*more than 2\^53 - 1/);
add('loss: x1.shape 1.5', () => pl.npairsLoss({ data: new Float32Array(3), shape: [1.5, 2] }, y()), 'RangeError', /x1\.shape\[0\]/);
add('loss: x1.shape "4"', () => pl.npairsLoss({ data: new Float32Array(12), shape: ['4', 3] } as never, y()), 'TypeError', /x1\.shape\[0\]/);
add('loss: x1.shape not an array', () => pl.npairsLoss({ data: new Float32Array(12), shape: 12 } as never, y()), 'TypeError', /x1\.shape/);
add('loss: x1 a string', () => pl.npairsLoss('x' as never, y()), 'TypeError', /x1/);
add('loss: x1 null', () => pl.npairsLoss(null as never, y()), 'TypeError', /x1/);
add('loss: x2 Int32Array data', () => pl.npairsLoss(x(), { data: new Int32Array(12), shape: [4, 3] } as never), 'TypeError', /x2/);
add('loss: x1 3-D', () => pl.npairsLoss({ data: new Float32Array(12), shape: [2, 2, 3] }, y()), 'RangeError', /^x1: expected a 2-D tensor/);
add('loss: D differs', () => pl.npairsLoss(x(), mat(4, 2)), 'RangeError', /^x2: must have D = 3/);
add('loss: data length differs from shape', () => pl.npairsLoss({ data: new Float32Array(11), shape: [4, 3] }, y()), 'RangeError', /x1/);
add('loss: mixed dtypes', () => pl.npairsLoss(x(), { data: new Float64Array(12), shape: [4, 3] }), 'TypeError', /x2/);
add('vicreg: N = 1', () => pl.vicregLoss(mat(1, 3), mat(1, 3)), 'RangeError', /^z1: VICReg's variance/);
add('correlation: N differs', () => pl.correlationLoss(x(), mat(3, 3)), 'RangeError', /^z2: must have N = 4/);

// ---- runtime setters
add('setAsyncQueueLimit(-1)', () => pl.setAsyncQueueLimit(-1), 'RangeError', /for n but received -1/);
add('setAsyncQueueLimit(1.5)', () => pl.setAsyncQueueLimit(1.5), 'RangeError', /for n but received 1.5/);
add('setAsyncQueueLimit("8")', () => pl.setAsyncQueueLimit('8' as never), 'TypeError', /for n but received "8"/);
add('setAsyncQueueLimit(NaN)', () => pl.setAsyncQueueLimit(NaN), 'RangeError', /for n but received NaN/);
add('setAsyncConcurrency(0)', () => pl.setAsyncConcurrency(0), 'RangeError', /for n but received 0/);
add('setNumThreads(0)', () => pl.setNumThreads(0), 'RangeError', /\bn\b/);

describe('red team: sync bad inputs', () => {
  test.each(rows)('%s', (_label, call, cls, message) => {
    let error: unknown;
    try {
      call();
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(Error);
    expect((error as Error).name).toBe(cls);
    expect((error as Error).message).toMatch(message);
  });
});

// ---- async: the same checks reject, never throw
type AsyncRow = [label: string, call: () => Promise<unknown>, cls: ErrorClass, message: RegExp];
const asyncRows: AsyncRow[] = [
  ['npairsLossAsync: Map options', () => pl.npairsLossAsync(x(), y(), new Map() as never), 'TypeError', /for options/],
  ['npairsLossAsync: a signal that is not one', () => pl.npairsLossAsync(x(), y(), { signal: 'stop' as never }), 'TypeError', /for signal/],
  ['sigmoidLossAsync: target 3', () => pl.sigmoidLossAsync(x(), y(), { target: withEntry(4, 4, 1, 0, 3) }), 'RangeError', /target\[0\]\[0\]/],
  ['vicregLossAsync: gamma -1', () => pl.vicregLossAsync(x(), y(), { gamma: -1 }), 'RangeError', /gamma/],
  ['correlationLossAsync: scale 0', () => pl.correlationLossAsync(x(), y(), { scale: 0 }), 'RangeError', /scale/],
  ['ntXentLossAsync: tiny temperature (checkFinite)', () => pl.ntXentLossAsync(x(), y(), { temperature: 1e-300, checkFinite: true }), 'RangeError', /^temperature: the loss came out/],
  ['heatmapPngAsync: a 3-D matrix', () => pl.heatmapPngAsync({ data: new Float32Array(8), shape: [2, 2, 2] } as never), 'RangeError', /matrix/],
  ['heatmapPngAsync: a bad signal', () => pl.heatmapPngAsync([[1]], { signal: 1 as never }), 'TypeError', /for signal/],
  ['heatmapPngAsync: a typo', () => pl.heatmapPngAsync([[1]], { cmapp: 'rocket' } as never), 'RangeError', /cmapp/],
  ['writeHeatmapAsync: a .jpg path', () => pl.writeHeatmapAsync('/tmp/x.jpg', [[1]]), 'RangeError', /^path: /],
  ['writeHeatmapAsync: a number path', () => pl.writeHeatmapAsync(1 as never, [[1]]), 'TypeError', /for path/],
  ['ProcessGroup.init: timeoutMs 0.5', () => pl.ProcessGroup.init({ rank: 0, worldSize: 1, port: 1, timeoutMs: 0.5 }), 'RangeError', /for timeoutMs but received 0.5/],
  ['ProcessGroup.init: timeoutMs 0', () => pl.ProcessGroup.init({ rank: 0, worldSize: 1, port: 1, timeoutMs: 0 }), 'RangeError', /timeoutMs/],
  ['ProcessGroup.init: timeoutMs 2^31 + 1', () => pl.ProcessGroup.init({ rank: 0, worldSize: 1, port: 1, timeoutMs: 2 ** 31 + 1 }), 'RangeError', /timeoutMs/],
  ['ProcessGroup.init: rank = worldSize', () => pl.ProcessGroup.init({ rank: 2, worldSize: 2 }), 'RangeError', /^rank: /],
  ['ProcessGroup.init: worldSize 0', () => pl.ProcessGroup.init({ rank: 0, worldSize: 0 }), 'RangeError', /worldSize/],
  ['ProcessGroup.init: port 0', () => pl.ProcessGroup.init({ rank: 0, worldSize: 1, port: 0 }), 'RangeError', /for port/],
  ['ProcessGroup.init: port 65536', () => pl.ProcessGroup.init({ rank: 0, worldSize: 1, port: 65536 }), 'RangeError', /for port/],
  ['ProcessGroup.init: host ""', () => pl.ProcessGroup.init({ rank: 0, worldSize: 1, host: '' }), 'RangeError', /for host/],
  ['ProcessGroup.init: backend mpi', () => pl.ProcessGroup.init({ rank: 0, worldSize: 1, backend: 'mpi' as never }), 'RangeError', /for backend/],
  ['ProcessGroup.init: worldsize', () => pl.ProcessGroup.init({ rank: 0, worldsize: 1 } as never), 'RangeError', /Unknown option 'worldsize'.*Did you mean 'worldSize'\?$/],
  ['ProcessGroup.init: Map', () => pl.ProcessGroup.init(new Map() as never), 'TypeError', /for options/],
];
const env = (e: Record<string, string>) => () => pl.ProcessGroup.fromEnv({ env: { RANK: '0', WORLD_SIZE: '1', MASTER_ADDR: '127.0.0.1', MASTER_PORT: '29500', ...e } });
asyncRows.push(
  ['fromEnv: MASTER_PORT=0x7530', env({ MASTER_PORT: '0x7530' }), 'RangeError', /^MASTER_PORT: expected an integer in \[1, 65535\] \(decimal digits only\), got "0x7530"/],
  ['fromEnv: WORLD_SIZE=1e0', env({ WORLD_SIZE: '1e0' }), 'RangeError', /^WORLD_SIZE: .*got "1e0"/],
  ['fromEnv: RANK=" 0 "', env({ RANK: ' 0 ' }), 'RangeError', /^RANK: .*got " 0 "/],
  ['fromEnv: RANK=-0', env({ RANK: '-0' }), 'RangeError', /^RANK: /],
  ['fromEnv: RANK=1 of 1', env({ RANK: '1' }), 'RangeError', /^RANK: expected an integer in \[0, 0\]/],
  ['fromEnv: MASTER_PORT=""', env({ MASTER_PORT: '' }), 'RangeError', /^MASTER_PORT: the environment variable is not set/],
  ['fromEnv: MASTER_PORT=70000', env({ MASTER_PORT: '70000' }), 'RangeError', /^MASTER_PORT: /],
  ['fromEnv: LOCAL_RANK=+1', env({ LOCAL_RANK: '+1' }), 'RangeError', /^LOCAL_RANK: /],
);

describe('red team: async bad inputs reject', () => {
  test.each(asyncRows)('%s', async (_label, call, cls, message) => {
    let p: Promise<unknown> | undefined;
    expect(() => {
      p = call();
    }).not.toThrow();
    const error = await (p as Promise<unknown>).then(() => undefined, (e: unknown) => e);
    expect(error).toBeInstanceOf(Error);
    expect((error as Error).name).toBe(cls);
    expect((error as Error).message).toMatch(message);
  });
});

describe('red team: a destroyed ProcessGroup passed as group', () => {
  test('every loss and its async form: a RangeError naming group', async () => {
    const port = await freePort();
    const pg = await pl.ProcessGroup.init({ rank: 0, worldSize: 1, host: '127.0.0.1', port, timeoutMs: 60000 });
    expect(pl.npairsLoss(x(), y(), { group: pg }).loss).toBeGreaterThan(0);
    await pg.destroy();
    const calls: (() => unknown)[] = [
      () => pl.npairsLoss(x(), y(), { group: pg }), () => pl.ntXentLoss(x(), y(), { group: pg }),
      () => pl.sigmoidLoss(x(), y(), { group: pg }), () => pl.vicregLoss(x(), y(), { group: pg }),
      () => pl.correlationLoss(x(), y(), { group: pg }),
    ];
    for (const call of calls) expect(call).toThrow(/^group: the ProcessGroup has been destroyed/);
    for (const call of calls) expect(call).toThrow(RangeError);
    await expect(pl.npairsLossAsync(x(), y(), { group: pg })).rejects.toThrow(/^group: the ProcessGroup has been destroyed/);
    await expect(pl.vicregLossAsync(x(), y(), { group: pg })).rejects.toBeInstanceOf(RangeError);
  });
});

test('the table holds well over 100 bad inputs', () => {
  expect(rows.length + asyncRows.length).toBeGreaterThan(150);
});
