// The lib ↔ binding options contract (lib/contract.ts NATIVE_OPTION_KEYS, the
// binding's field lists in binding/fields.h and binding/loss_specs.h): every key sent across with a value other than
// its default comes back as the binding read it; a key missing, renamed or
// left over is an Error; and what the public functions send for every user
// option is what the binding reads. A key renamed on either side fails here.
import * as pl from '../lib';
import { freePort } from './helpers/distributed';
import { binding } from '../lib/binding';
import { callNative } from '../lib/errors';
import { NATIVE_OPTION_KEYS, NativeKind } from '../lib/contract';

type Options = Record<string, unknown>;
/** What the binding read, tensors' typed arrays as plain arrays (they come from Node's realm, not jest's). */
const echo = (kind: string, options: unknown): Options => {
  const back = callNative(() => (binding()._echoOptions as (k: string, o: unknown) => Options)(kind, options));
  const out = { ...back };
  for (const key of ['target', 'labels', 'negatives']) {
    const t = back[key] as { data: ArrayLike<number | bigint>; shape: number[] } | null | undefined;
    if (t) out[key] = { data: Array.from(t.data, Number), shape: t.shape };
  }
  // a product's out is a tensor; a loss's out is { grad1, grad2 } of tensors
  type T = { data: ArrayLike<number>; shape: number[] };
  const o = back.out as T | Record<string, T | null> | null | undefined;
  if (o && 'data' in o) out.out = { data: Array.from((o as T).data), shape: (o as T).shape };
  else if (o) out.out = Object.fromEntries(Object.entries(o as Record<string, T | null>).map(([k, t]) => [k, t && { data: Array.from(t.data), shape: t.shape }]));
  return out;
};

const indices = BigInt64Array.from([2n, 0n, 1n]);
const probabilities = { data: Float32Array.from([0.5, 0.25, 0.25, 0, 1, 0, 0.1, 0.2, 0.7]), shape: [3, 3] };
/** csrIndexSelect's `out`: a CsrTensor's native matrix (an opaque External). */
const csrOut = callNative(() => binding().csrCreate({ indptr: Int32Array.of(0, 1), indices: Int32Array.of(0), values: Float32Array.of(1), shape: [1, 3] }));
/** A loss's `out`: caller memory for both gradients. */
const gradOut = { grad1: { data: Float32Array.from([1, 2, 3, 4]), shape: [2, 2] }, grad2: { data: Float32Array.from([5, 6]), shape: [1, 2] } };

/**
 * Every key of each native function with a value other than the default lib
 * sends (device aside: 'cpu' is the only one here). The group is set per test.
 */
const NON_DEFAULT: { [K in NativeKind]: Options } = {
  normalize: { p: 3, dim: 0, eps: 1e-3, device: 'cpu' },
  matmul: { transposeA: true, transposeB: true, out: probabilities, device: 'cpu' },
  sparseMatmul: { transposeA: true, out: probabilities },
  csrIndexSelect: { out: csrOut },
  adam: { step: 7, lr: 0.01, beta1: 0.8, beta2: 0.99, eps: 1e-6, weightDecay: 0.1, decoupledWeightDecay: true, amsgrad: true, maximize: true },
  crossEntropy: { reduction: 'sum', labelSmoothing: 0.2, device: 'cpu' },
  batchNorm1d: { eps: 1e-3, device: 'cpu' },
  cosineSimilarity: { eps: 1e-4, device: 'cpu' },
  npairsLoss: {
    target: indices, temperature: 0.07, symmetric: true, labelSmoothing: 0.1, reduction: 'sum', similarity: 'dot',
    l2Reg: 0.002, eps: 1e-6, grad: false, returnSimilarity: true, checkFinite: true, device: 'cpu', group: null,
    localLoss: false, gatherWithGrad: false, labels: BigInt64Array.from([1n, 0n, 1n]), excludeSelf: true, out: gradOut,
  },
  ntXentLoss: { temperature: 0.2, eps: 1e-6, negatives: probabilities, grad: false, checkFinite: true, device: 'cpu', group: null, out: gradOut },
  sigmoidLoss: { scale: 3, bias: 0.5, target: probabilities, eps: 1e-6, grad: false, checkFinite: true, device: 'cpu', group: null, out: gradOut },
  vicregLoss: {
    invarianceWeight: 2, varianceWeight: 3, covarianceWeight: 0.5, gamma: 0.9, eps: 1e-3, grad: false, checkFinite: true, device: 'cpu', group: null,
    out: gradOut,
  },
  correlationLoss: {
    lambda: 0.01, scale: 0.5, eps: 1e-3, mode: 'features', grad: false, checkFinite: true, device: 'cpu', group: null,
    syncBatchNorm: true, out: gradOut,
  },
  negativeCosineLoss: { eps: 1e-6, grad: false, checkFinite: true, device: 'cpu', out: gradOut },
  koleoLoss: { eps: 1e-6, grad: false, checkFinite: true, device: 'cpu', out: { grad: gradOut.grad1 } },
  alignmentUniformityLoss: { t: 2, lambda: 0.5, alpha: 1.5, grad: false, checkFinite: true, device: 'cpu', out: gradOut },
  dclLoss: { temperature: 0.2, weighted: true, sigma: 0.7, grad: false, checkFinite: true, device: 'cpu', group: null, out: gradOut },
  tripletMarginLoss: { margin: 0.2, mining: 'all', distance: 'cosine', grad: false, checkFinite: true, device: 'cpu', out: { grad: gradOut.grad1 } },
  arcFaceLoss: { margin: 30, scale: 32, grad: false, checkFinite: true, device: 'cpu', out: { grad: gradOut.grad1, gradCenters: gradOut.grad2 } },
  processGroupConnect: {
    backend: 'nccl', rank: 2, worldSize: 3, host: '10.0.0.7', port: 12345, agentStore: true, restartCount: 4, timeoutMs: 1234,
    storePrefix: 'other_pg', checkShapes: false, cudaDevice: 1,
  },
};

/** What the binding gives back for a sent value: tensors as { data, shape } (float32), a group as { rank, worldSize }. */
function echoed(key: string, value: unknown): unknown {
  if (ArrayBuffer.isView(value)) return { data: Array.from(value as BigInt64Array, Number), shape: [(value as BigInt64Array).length] };
  if (value !== null && typeof value === 'object' && 'data' in value) {
    const t = value as { data: ArrayLike<number>; shape: number[] };
    return { data: Array.from(t.data), shape: t.shape };
  }
  if (key === 'group' && value !== null) return { rank: 0, worldSize: 1 };
  if (key === 'out' && value !== null) {
    return Object.fromEntries(Object.entries(value as Options).map(([k, t]) => [k, t === null ? null : echoed(k, t)]));
  }
  return value;
}

function expectEchoed(kind: string, sent: Options, back: Options): void {
  expect(Object.keys(back).sort()).toEqual(Object.keys(sent).sort());
  for (const [key, value] of Object.entries(sent)) {
    if (key === 'group' && value !== null) {
      expect(back.group).toEqual({ rank: 0, worldSize: 1 });
    } else {
      expect({ kind, key, value: back[key] }).toEqual({ kind, key, value: echoed(key, value) });
    }
  }
}

const kinds = Object.keys(NATIVE_OPTION_KEYS) as NativeKind[];

describe('every key across and back (binding()._echoOptions)', () => {
  it('the table above covers exactly the key list of every native function', () => {
    for (const kind of kinds) expect(Object.keys(NON_DEFAULT[kind]).sort()).toEqual([...NATIVE_OPTION_KEYS[kind]].sort());
  });

  it.each(kinds)('%s: each key comes back with the value sent', (kind) => {
    expectEchoed(kind, NON_DEFAULT[kind], echo(kind, NON_DEFAULT[kind]));
  });

  it('csrIndexSelect: out comes back as the very External sent, null as null', () => {
    const back = callNative(() => (binding()._echoOptions as (k: string, o: unknown) => Options)('csrIndexSelect', { out: csrOut }));
    expect(back.out).toBe(csrOut);
    expect(echo('csrIndexSelect', { out: null }).out).toBeNull();
  });

  it('npairsLoss: a probability target, and no target (null)', () => {
    const back = echo('npairsLoss', { ...NON_DEFAULT.npairsLoss, target: probabilities });
    expect(back.target).toEqual({ data: Array.from(probabilities.data), shape: probabilities.shape });
    expect(echo('npairsLoss', { ...NON_DEFAULT.npairsLoss, target: null }).target).toBeNull();
  });

  it('enum values other than the first: similarity cosine, mode samples, reduction mean and none, mining batch-hard, distance euclidean', () => {
    expect(echo('npairsLoss', { ...NON_DEFAULT.npairsLoss, similarity: 'cosine', reduction: 'mean' })).toMatchObject({ similarity: 'cosine', reduction: 'mean' });
    expect(echo('correlationLoss', { ...NON_DEFAULT.correlationLoss, mode: 'samples' }).mode).toBe('samples');
    expect(echo('crossEntropy', { ...NON_DEFAULT.crossEntropy, reduction: 'none' }).reduction).toBe('none');
    expect(echo('processGroupConnect', { ...NON_DEFAULT.processGroupConnect, backend: 'gloo' }).backend).toBe('gloo');
    expect(echo('tripletMarginLoss', { ...NON_DEFAULT.tripletMarginLoss, mining: 'batch-hard', distance: 'euclidean' })).toMatchObject({ mining: 'batch-hard', distance: 'euclidean' });
  });

  it('processGroupConnect: cudaDevice null (none) comes back null, 0 as 0', () => {
    expect(echo('processGroupConnect', { ...NON_DEFAULT.processGroupConnect, cudaDevice: null }).cudaDevice).toBeNull();
    expect(echo('processGroupConnect', { ...NON_DEFAULT.processGroupConnect, cudaDevice: 0 }).cudaDevice).toBe(0);
  });
});

describe('keys the two sides disagree on are an Error, never a default', () => {
  it.each(kinds)('%s: any one key missing, or undefined', (kind) => {
    for (const key of NATIVE_OPTION_KEYS[kind]) {
      const missing: Options = { ...NON_DEFAULT[kind] };
      delete missing[key];
      expect(() => echo(kind, missing)).toThrow(new RegExp(`^${kind} options: '${key}' is missing`));
      expect(() => echo(kind, { ...NON_DEFAULT[kind], [key]: undefined })).toThrow(`'${key}' is missing`);
    }
  });

  it.each(kinds)('%s: a key renamed, or one more key', (kind) => {
    const [first] = NATIVE_OPTION_KEYS[kind];
    const renamed: Options = { ...NON_DEFAULT[kind], [`${first}X`]: NON_DEFAULT[kind][first] };
    delete renamed[first];
    expect(() => echo(kind, renamed)).toThrow(`'${first}' is missing`);
    expect(() => echo(kind, { ...NON_DEFAULT[kind], extra: 1 })).toThrow(new RegExp(`^${kind} options: the binding does not read 'extra'`));
  });

  it('the real functions read the same way (a missing key, an extra key)', () => {
    const x = { data: Float32Array.from([1, 2, 3, 4]), shape: [2, 2] };
    const b = binding() as unknown as Record<string, (...args: unknown[]) => unknown>;
    expect(() => b.normalize(x, { p: 2, dim: 1, device: 'cpu' })).toThrow(/normalize options: 'eps' is missing/);
    expect(() => b.matmul(x, x, { ...NON_DEFAULT.matmul, out: null, eps: 1 }, false)).toThrow(/matmul options: the binding does not read 'eps'/);
    expect(() => b.sparseMatmul({ indptr: Int32Array.of(0, 1), indices: Int32Array.of(0), values: Float32Array.of(1), shape: [1, 2] }, x,
      { transposeA: false }, false)).toThrow(/sparseMatmul options: 'out' is missing/);
    const { maximize: _m, ...adamNoMaximize } = NON_DEFAULT.adam;
    void _m;
    expect(() => b.adam([x], [x], [x], [x], null, adamNoMaximize, false)).toThrow(/adam options: 'maximize' is missing/);
    const { group, ...noGroup } = NON_DEFAULT.npairsLoss;
    void group;
    expect(() => b.npairsLoss(x, x, { ...noGroup, target: null }, false)).toThrow(/npairsLoss options: 'group' is missing/);
    // an async call too: the options are read before anything is queued
    expect(() => b.correlationLoss(x, x, { ...NON_DEFAULT.correlationLoss, lamda: 1 }, true)).toThrow(/does not read 'lamda'/);
  });

  it('a wrong type is a TypeError naming the key; an unknown kind a RangeError', () => {
    expect(() => echo('normalize', { ...NON_DEFAULT.normalize, eps: '1' })).toThrow(TypeError);
    expect(() => echo('normalize', { ...NON_DEFAULT.normalize, eps: '1' })).toThrow(/eps must be a number/);
    expect(() => echo('softmax', {})).toThrow(RangeError);
  });
});

/**
 * What lib sends: the binding's function `name` wrapped so that it records
 * its options and calls through (the real computation runs).
 */
async function sent<T>(name: NativeKind,
  call: () => T | Promise<T>): Promise<Options> {
  const b = binding() as unknown as Record<string, (...args: unknown[]) => unknown>;
  const original = b[name];
  let options: Options | undefined;
  const first = name === 'processGroupConnect' ? 0 : 1;  // the index of the first argument that may be the options
  b[name] = (...args: unknown[]) => {
    options = args.find((a, i) => i >= first && a !== null && typeof a === 'object' && !Array.isArray(a) && !('data' in a) && !('handle' in a) && !ArrayBuffer.isView(a)) as Options;
    return original(...args);
  };
  try {
    await call();
  } finally {
    b[name] = original;
  }
  expect(options).toBeDefined();
  return options as Options;
}

describe('the public functions send every user option under its key', () => {
  const x = pl.tensor([[1, 2, 3], [0.5, -1, 2], [3, 0, -2]]);
  const y = pl.tensor([[0, 1, 2], [1, 1, -1], [2, -3, 0.5]]);

  it('the ops', async () => {
    expectEchoed('normalize', NON_DEFAULT.normalize, echo('normalize', await sent('normalize', () => pl.normalize(x, { p: 3, dim: 0, eps: 1e-3 }))));
    const plainMatmul = await sent('matmul', () => pl.matmul(x, y));
    expect(plainMatmul).toEqual({ transposeA: false, transposeB: false, out: null, device: 'cpu' });
    expectEchoed('matmul', plainMatmul, echo('matmul', plainMatmul));
    expectEchoed('crossEntropy', NON_DEFAULT.crossEntropy,
      echo('crossEntropy', await sent('crossEntropy', () => pl.crossEntropy(x, [2, 0, 1], { reduction: 'sum', labelSmoothing: 0.2 }))));
    expectEchoed('batchNorm1d', NON_DEFAULT.batchNorm1d, echo('batchNorm1d', await sent('batchNorm1d', () => pl.batchNorm1d(x, { eps: 1e-3 }))));
    expectEchoed('cosineSimilarity', NON_DEFAULT.cosineSimilarity,
      echo('cosineSimilarity', await sent('cosineSimilarity', () => pl.cosineSimilarity(x, y, { eps: 1e-4 }))));
  });

  it('the training-step ops, sync and async: matmul, sparseMatmul, csrIndexSelect (sync), adam', async () => {
    for (const async of [false, true]) {
      const out = new Float32Array(9);
      const m = await sent('matmul', () => (async ? pl.matmulAsync : pl.matmul)(x, y, { transposeA: true, transposeB: true, out }));
      expect(m).toEqual({ transposeA: true, transposeB: true, out: { data: out, shape: [3, 3] }, device: 'cpu' });
      expectEchoed('matmul', m, echo('matmul', m));
      const csr = { indptr: Int32Array.of(0, 1, 1, 3), indices: Int32Array.of(2, 0, 1), values: Float32Array.of(1, 2, 3), shape: [3, 3] as [number, number] };
      const s = await sent('sparseMatmul', () => (async ? pl.sparseMatmulAsync : pl.sparseMatmul)(csr, y, { transposeA: true, out }));
      expect(s).toEqual({ transposeA: true, out: { data: out, shape: [3, 3] } });
      expectEchoed('sparseMatmul', s, echo('sparseMatmul', s));
      if (!async) {
        const all = pl.csrTensor(csr);
        const fresh = await sent('csrIndexSelect', () => pl.csrIndexSelect(all, [2, 0]));
        expect(fresh).toEqual({ out: null });
        const target = pl.csrIndexSelect(all, [1]);
        const into = await sent('csrIndexSelect', () => pl.csrIndexSelect(all, [2, 2], { out: target }));
        expect(Object.keys(into)).toEqual(['out']);
        expect(into.out).not.toBeNull();
        expect(callNative(() => (binding()._echoOptions as (k: string, o: unknown) => Options)('csrIndexSelect', into)).out).toBe(into.out);
      }
      const { step: _s, ...hyper } = NON_DEFAULT.adam;
      void _s;
      const p = Float32Array.of(1, 2);
      const a = await sent('adam', () => (async ? pl.adamAsync : pl.adam)([p], [Float32Array.of(1, 1)], [new Float32Array(2)], [new Float32Array(2)],
        { ...(hyper as Omit<pl.AdamOptions, 'step'>), step: 7, maxExpAvgSqs: [new Float32Array(2)] }));
      expect(a).toEqual(NON_DEFAULT.adam);
      expectEchoed('adam', a, echo('adam', a));
    }
  });

  it('ProcessGroup.init: processGroupConnect gets every key, cudaDevice null without a device', async () => {
    const port = await freePort();
    let pg: pl.ProcessGroup | undefined;
    const o = await sent('processGroupConnect', async () => {
      pg = await pl.ProcessGroup.init({ rank: 0, worldSize: 1, port, timeoutMs: 10000, storePrefix: 'echo_pg', checkShapes: false });
    });
    try {
      expect(o).toEqual({
        backend: 'gloo', rank: 0, worldSize: 1, host: '127.0.0.1', port, agentStore: false, restartCount: 0, timeoutMs: 10000,
        storePrefix: 'echo_pg', checkShapes: false, cudaDevice: null,
      });
      expectEchoed('processGroupConnect', o, echo('processGroupConnect', o));
    } finally {
      await pg?.destroy();
    }
  });

  it('the losses, sync and async, with a process group (W = 1)', async () => {
    const pg = await pl.ProcessGroup.init({ rank: 0, worldSize: 1, port: await freePort(), timeoutMs: 10000 });
    try {
      // labels and excludeSelf exclude target and symmetric: sent in a call of their own below
      // `out` holds gradients, which grad: false does not compute: sent in a call of its own below
      const npairs = { ...NON_DEFAULT.npairsLoss, group: pg, labels: null, excludeSelf: false, out: null } as Options;
      const { device: _d, labels: _l, excludeSelf: _x, out: _o1, ...npairsUser } = npairs;
      void _o1;
      void _l;
      void _x;
      const supcon = { ...NON_DEFAULT.npairsLoss, group: pg, target: null, symmetric: false, labelSmoothing: 0, out: null } as Options;
      const { device: _s, target: _t, out: _o2, ...supconUser } = supcon;
      void _o2;
      void _s;
      void _t;
      const ntxent = { ...NON_DEFAULT.ntXentLoss, group: pg, out: null } as Options;
      const sigmoid = { ...NON_DEFAULT.sigmoidLoss, group: pg, out: null } as Options;
      const { device: _g, out: _o3, ...sigmoidUser } = sigmoid;
      void _o3;
      void _g;
      const vicreg = { ...NON_DEFAULT.vicregLoss, group: pg, out: null } as Options;
      const { device: _v, out: _o4, ...vicregUser } = vicreg;
      void _o4;
      void _v;
      const { device: _n, out: _o5, ...ntxentUser } = ntxent;
      void _o5;
      void _n;
      void _d;
      const correlation = { ...NON_DEFAULT.correlationLoss, group: pg, out: null } as Options;
      const { device: _e, out: _o6, ...correlationUser } = correlation;
      void _o6;
      void _e;
      for (const async of [false, true]) {
        const n = await sent('npairsLoss', () => (async ? pl.npairsLossAsync : pl.npairsLoss)(x, y, npairsUser as pl.NpairsOptions));
        expectEchoed('npairsLoss', npairs, echo('npairsLoss', n));
        const sc = await sent('npairsLoss', () => (async ? pl.npairsLossAsync : pl.npairsLoss)(x, x, supconUser as pl.NpairsOptions));
        expectEchoed('npairsLoss', supcon, echo('npairsLoss', sc));
        const nt = await sent('ntXentLoss', () => (async ? pl.ntXentLossAsync : pl.ntXentLoss)(x, y,
          { ...ntxentUser, negatives: pl.Tensor.from(probabilities.data, probabilities.shape) } as pl.NtXentOptions));
        expectEchoed('ntXentLoss', ntxent, echo('ntXentLoss', nt));
        const sg = await sent('sigmoidLoss', () => (async ? pl.sigmoidLossAsync : pl.sigmoidLoss)(x, y,
          { ...sigmoidUser, target: pl.Tensor.from(probabilities.data, probabilities.shape) } as pl.SigmoidOptions));
        expectEchoed('sigmoidLoss', sigmoid, echo('sigmoidLoss', sg));
        const vr = await sent('vicregLoss', () => (async ? pl.vicregLossAsync : pl.vicregLoss)(x, y, vicregUser as pl.VicregOptions));
        expectEchoed('vicregLoss', vicreg, echo('vicregLoss', vr));
        const c = await sent('correlationLoss', () => (async ? pl.correlationLossAsync : pl.correlationLoss)(x, y, correlationUser as pl.CorrelationOptions));
        expectEchoed('correlationLoss', correlation, echo('correlationLoss', c));
      }
      // without a group and without a target: null for both
      const plain = await sent('npairsLoss', () => pl.npairsLoss(x, y));
      expect({ group: plain.group, target: plain.target, out: plain.out }).toEqual({ group: null, target: null, out: null });
      // `out` (with gradients): each loss sends the caller's arrays under out.grad1 / out.grad2
      const g1 = Float32Array.from({ length: 9 }, (_, k) => k);
      const g2 = Float32Array.from({ length: 9 }, (_, k) => -k);
      const outs: Array<[NativeKind, () => unknown]> = [
        ['npairsLoss', () => pl.npairsLoss(x, y, { out: { grad1: g1, grad2: g2 } })],
        ['ntXentLoss', () => pl.ntXentLoss(x, y, { out: { grad1: g1, grad2: g2 } })],
        ['sigmoidLoss', () => pl.sigmoidLoss(x, y, { out: { grad1: g1, grad2: g2 } })],
        ['vicregLoss', () => pl.vicregLoss(x, y, { out: { grad1: g1, grad2: g2 } })],
        ['correlationLoss', () => pl.correlationLoss(x, y, { out: { grad1: g1, grad2: g2 } })],
      ];
      for (const [kind, call] of outs) {
        const o = await sent(kind, call);
        const back = echo(kind, o).out as Record<string, { data: number[]; shape: number[] }>;
        // the arrays the loss then wrote its gradients into
        expect({ kind, out: back }).toEqual({ kind, out: { grad1: { data: Array.from(g1), shape: [3, 3] }, grad2: { data: Array.from(g2), shape: [3, 3] } } });
      }
    } finally {
      await pg.destroy();
    }
  });
});
