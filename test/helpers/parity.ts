// Runs a parity case (test/helpers/cases.js) through pairloss and compares it
// with PyTorch's result (scripts/oracle.py) at DESIGN.md's tolerances.
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as pl from '../../lib';

export interface Spec { data: number[]; shape: number[] }
export interface Case { name: string; op: string; dtype: 'float32' | 'float64'; inputs: Record<string, Spec>; options: Record<string, unknown> }
type Value = number | { data: ArrayLike<number>; shape: readonly number[] };
export type Result = Record<string, Value>;

export const PYTHON = process.env.PAIRLOSS_PYTHON ?? '/usr/bin/python3';
export const ROOT = path.resolve(__dirname, '..', '..');
/** Where parity runs: PAIRLOSS_TEST_DEVICE (e.g. 'cuda' on a GPU machine), default cpu. */
export const DEVICE = process.env.PAIRLOSS_TEST_DEVICE ?? 'cpu';

export const TOLERANCE = {
  float32: { rtol: 1e-5, atol: 1e-6 },
  float64: { rtol: 1e-10, atol: 1e-10 },
};

function input(spec: Spec, dtype: string): pl.Tensor {
  const data = dtype === 'float64' ? Float64Array.from(spec.data) : Float32Array.from(spec.data);
  return pl.Tensor.from(data, spec.shape, { device: DEVICE });
}

function tensorOut(t: pl.Tensor | undefined): Value {
  if (!t) throw new Error('missing tensor in result');
  return { data: t.data(), shape: t.shape };
}

/**
 * How an N-pairs case is called: `'similarity'` asks for the matrix
 * (returnSimilarity: the fused kernel computes it and the gradient in fresh
 * memory of their own); `'default'` does not, as callers do by default (the
 * gradient is computed in the matrix's own memory, which is the workspace
 * kept between calls when it has 8 MiB or more: src/fused.cpp), and its
 * result has no `similarity`.
 */
export type NpairsCall = 'similarity' | 'default';
export const NPAIRS_CALLS: readonly NpairsCall[] = ['similarity', 'default'];

/** `ref` without the keys a result of this call does not have. */
export function expectedFor(ref: Result, call: NpairsCall): Result {
  if (call === 'similarity') return ref;
  const { similarity: _dropped, ...rest } = ref;
  return rest;
}

/** pairloss's answer for a case. */
export function runOurs(c: Case, call: NpairsCall = 'similarity'): Result {
  const i = Object.fromEntries(Object.entries(c.inputs).map(([k, v]) => [k, input(v, c.dtype)]));
  const o = { ...c.options } as Record<string, unknown>;
  if (o.targetIndices) {
    o.target = Int32Array.from(o.targetIndices as number[]);
    delete o.targetIndices;
  }
  switch (c.op) {
    case 'npairs': {
      if (i.target) o.target = i.target;
      if (call === 'default') {
        const r = pl.npairsLoss(i.x1, i.x2, o as pl.NpairsOptions);
        if (r.similarity !== undefined) throw new Error('npairsLoss returned a similarity matrix it was not asked for');
        return { loss: r.loss, grad1: tensorOut(r.grad1), grad2: tensorOut(r.grad2), gradTemperature: r.gradTemperature as number };
      }
      const r = pl.npairsLoss(i.x1, i.x2, { ...o, returnSimilarity: true } as pl.NpairsOptions);
      return { loss: r.loss, grad1: tensorOut(r.grad1), grad2: tensorOut(r.grad2), gradTemperature: r.gradTemperature as number, similarity: tensorOut(r.similarity) };
    }
    case 'supcon': {
      // SupCon through npairsLoss's labels: over all views z (x1 and x2 the same views, excludeSelf), or x1 against x2
      const labels = Int32Array.from(o.labels as number[]);
      if (o.excludeSelf) {
        const r = pl.npairsLoss(i.x1, i.x1, { ...o, labels } as pl.NpairsOptions);
        const g1 = r.grad1!.data(), g2 = r.grad2!.data();
        const sum = g1.map((v, k) => v + g2[k]);
        return { loss: r.loss, grad1: { data: sum, shape: r.grad1!.shape }, gradTemperature: r.gradTemperature as number };
      }
      const r = pl.npairsLoss(i.x1, i.x2, { ...o, labels } as pl.NpairsOptions);
      return { loss: r.loss, grad1: tensorOut(r.grad1), grad2: tensorOut(r.grad2), gradTemperature: r.gradTemperature as number };
    }
    case 'siglip': {
      if (i.target) o.target = i.target;
      const r = pl.sigmoidLoss(i.x1, i.x2, o as pl.SigmoidOptions);
      return { loss: r.loss, grad1: tensorOut(r.grad1), grad2: tensorOut(r.grad2), gradScale: r.gradScale as number, gradBias: r.gradBias as number };
    }
    case 'vicreg': {
      const r = pl.vicregLoss(i.z1, i.z2, o as pl.VicregOptions);
      return { loss: r.loss, invariance: r.invariance, variance: r.variance, covariance: r.covariance, grad1: tensorOut(r.grad1), grad2: tensorOut(r.grad2) };
    }
    case 'ntxent': {
      if (i.negatives) o.negatives = i.negatives;
      const r = pl.ntXentLoss(i.z1, i.z2, o as pl.NtXentOptions);
      return { loss: r.loss, grad1: tensorOut(r.grad1), grad2: tensorOut(r.grad2), gradTemperature: r.gradTemperature as number };
    }
    case 'correlation': {
      const r = pl.correlationLoss(i.z1, i.z2, o as pl.CorrelationOptions);
      return { loss: r.loss, onDiagonal: r.onDiagonal, offDiagonal: r.offDiagonal, grad1: tensorOut(r.grad1), grad2: tensorOut(r.grad2) };
    }
    case 'normalize':
      return { out: tensorOut(pl.normalize(i.x, o)) };
    case 'matmul':
      return { out: tensorOut(pl.matmul(i.a, i.b)) };
    case 'cosine_similarity':
      return { out: tensorOut(pl.cosineSimilarity(i.x1, i.x2)) };
    case 'batch_norm1d':
      return { out: tensorOut(pl.batchNorm1d(i.x, o)) };
    case 'cross_entropy': {
      const target = i.target ?? o.target;
      delete o.target;
      const r = pl.crossEntropy(i.logits, target as unknown as pl.Indices, o as pl.CrossEntropyOptions);
      return { out: typeof r === 'number' ? { data: [r], shape: [1] } : tensorOut(r) };
    }
    default:
      throw new Error(`unknown op ${c.op}`);
  }
}

/** Every place where ours and the reference differ beyond tolerance (empty: equal). */
export function mismatches(ours: Result, ref: Result, dtype: 'float32' | 'float64'): string[] {
  const { rtol, atol } = TOLERANCE[dtype];
  const bad: string[] = [];
  const close = (a: number, b: number) => (Number.isNaN(a) && Number.isNaN(b)) || Math.abs(a - b) <= atol + rtol * Math.abs(b);
  for (const [key, expected] of Object.entries(ref)) {
    const got = ours[key];
    if (got === undefined) {
      bad.push(`${key}: missing`);
    } else if (typeof expected === 'number') {
      if (typeof got !== 'number' || !close(got, expected)) bad.push(`${key}: ${got} vs torch ${expected}`);
    } else {
      if (typeof got === 'number') { bad.push(`${key}: a number, expected a tensor`); continue; }
      if (got.shape.join() !== expected.shape.join()) { bad.push(`${key}: shape [${got.shape}] vs torch [${expected.shape}]`); continue; }
      for (let j = 0; j < expected.data.length; j++) {
        if (!close(got.data[j], expected.data[j])) {
          bad.push(`${key}[${j}]: ${got.data[j]} vs torch ${expected.data[j]}`);
          break;
        }
      }
    }
  }
  return bad;
}

/** Runs PyTorch on the cases; throws with what to install when it cannot. */
export function oracle(cases: Case[]): { torch: string; results: Result[] } {
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'pairloss-oracle-')), 'cases.json');
  fs.writeFileSync(file, JSON.stringify(cases));
  const r = spawnSync(PYTHON, [path.join(ROOT, 'scripts', 'oracle.py'), file], { encoding: 'utf8', maxBuffer: 1 << 28 });
  fs.rmSync(path.dirname(file), { recursive: true, force: true });
  if (r.error || r.status !== 0) {
    throw new Error(`PyTorch oracle failed (${PYTHON} scripts/oracle.py): ${r.error?.message ?? r.stderr}\n` +
      'Install Debian\'s PyTorch: apt-get install python3-torch python3-numpy (npm test does it when root).');
  }
  return JSON.parse(r.stdout);
}

// ---------------------------------------------------------------------------
// Result dtypes: PyTorch's type promotion, per op
// ---------------------------------------------------------------------------

export type FloatDType = 'float32' | 'float64';
/** An input's dtype as the op sees it; `'indices'` for class indices (integers take no part in promotion). */
export type InputDType = FloatDType | 'indices';

/** Each op's inputs in order, and the dtypes each input can have. */
export const DTYPE_INPUTS: Record<string, InputDType[][]> = {
  normalize: [['float32', 'float64']],
  batch_norm1d: [['float32', 'float64']],
  matmul: [['float32', 'float64'], ['float32', 'float64']],
  cosine_similarity: [['float32', 'float64'], ['float32', 'float64']],
  cross_entropy: [['float32', 'float64'], ['indices', 'float32', 'float64']],
  npairs: [['float32', 'float64'], ['float32', 'float64'], ['indices', 'float32', 'float64']],
  correlation: [['float32', 'float64'], ['float32', 'float64']],
};

/**
 * The dtype of each tensor that PyTorch returns for `op` on inputs of these
 * dtypes (the names are pairloss's result keys), or null where PyTorch
 * refuses the combination. PyTorch's rules: an op that computes on its
 * inputs together promotes them (`torch.result_type`: float64 wins over
 * float32), so `cross_entropy(float32 logits, float64 probabilities)` is
 * float64; the matrix product does not (`mm` raises "expected scalar type
 * ..." for float32 @ float64), nor does what is built on it; autograd gives
 * each input a gradient of that input's dtype. What these are is checked
 * against PyTorch itself by {@link torchResultDtypes} (test/fuzz.test.ts).
 *
 * An input here has the dtype the op computes in: pairloss gives a
 * `number[][]` operand the dtype of its typed partner (float64 when one is
 * float64, else float32), so `[logits number[][], target Float64Array]` is
 * `['float64', 'float64']`.
 */
export function resultDtypes(op: string, d: InputDType[]): Record<string, FloatDType> | null {
  const f = (x: InputDType): FloatDType => {
    if (x === 'indices') throw new Error(`${op}: class indices where a float tensor belongs`);
    return x;
  };
  const promote = (...xs: InputDType[]): FloatDType => (xs.some((x) => x === 'float64') ? 'float64' : 'float32');
  switch (op) {
    case 'normalize':
    case 'batch_norm1d':
      return { out: f(d[0]) };
    case 'matmul':
    case 'cosine_similarity':
      return d[0] === d[1] ? { out: f(d[0]) } : null;
    case 'cross_entropy':
      return { out: d[1] === 'indices' ? f(d[0]) : promote(d[0], d[1]) };
    case 'npairs':
      // the target only meets the logits in the cross entropy: the loss may promote, the tensors do not
      return d[0] === d[1] ? { similarity: f(d[0]), grad1: f(d[0]), grad2: f(d[1]) } : null;
    case 'correlation':
      return d[0] === d[1] ? { grad1: f(d[0]), grad2: f(d[1]) } : null;
    default:
      throw new Error(`resultDtypes: unknown op ${op}`);
  }
}

/** Every combination of input dtypes of an op. */
export function dtypeCombinations(op: string): InputDType[][] {
  return DTYPE_INPUTS[op].reduce<InputDType[][]>((acc, choices) => acc.flatMap((a) => choices.map((c) => [...a, c])), [[]]);
}

/**
 * What PyTorch returns, for every op of {@link DTYPE_INPUTS} and every
 * combination of input dtypes: `"op d1 d2..."` -> the dtype of each result
 * tensor, or null where PyTorch raises. The same computations as
 * scripts/oracle.py (its own functions where it has them), on small random
 * inputs, one Python call.
 */
export function torchResultDtypes(): { torch: string; table: Record<string, Record<string, FloatDType> | null> } {
  const combos = Object.keys(DTYPE_INPUTS).flatMap((op) => dtypeCombinations(op).map((d) => [op, ...d]));
  const script = String.raw`
import json, sys
sys.path.insert(0, sys.argv[1])
import torch
import torch.nn.functional as F
from oracle import NPairsLoss, correlation_loss_func, barlow_twins_loss

D = {'float32': torch.float32, 'float64': torch.float64}
name = lambda t: str(t.dtype).replace('torch.', '')
def x(dt, rows=4, cols=3, grad=False):
    return torch.randn(rows, cols, dtype=D[dt], requires_grad=grad)
def target(dt, rows, cols):
    if dt == 'indices':
        return torch.arange(rows) % cols
    return torch.softmax(torch.randn(rows, cols, dtype=D[dt]), 1)

def run(op, d):
    if op == 'normalize':
        return {'out': F.normalize(x(d[0]), dim=1)}
    if op == 'batch_norm1d':
        return {'out': torch.nn.BatchNorm1d(3, affine=False).to(D[d[0]])(x(d[0]))}
    if op == 'matmul':
        return {'out': x(d[0], 4, 3) @ x(d[1], 3, 5)}
    if op == 'cosine_similarity':
        return {'out': NPairsLoss().similarities(x(d[0]), x(d[1], 5))}
    if op == 'cross_entropy':
        return {'out': F.cross_entropy(x(d[0]), target(d[1], 4, 3), reduction='none', label_smoothing=0.1)}
    if op == 'npairs':
        x1, x2 = x(d[0], grad=True), x(d[1], 5, grad=True)
        sim = NPairsLoss().similarities(x1, x2)
        loss = F.cross_entropy(sim / 0.5, target(d[2], 4, 5), label_smoothing=0.1)
        loss.backward()
        return {'similarity': sim, 'grad1': x1.grad, 'grad2': x2.grad}
    if op == 'correlation':
        out = {}
        for mode, fn in (('samples', correlation_loss_func), ('features', barlow_twins_loss)):
            z1, z2 = x(d[0], grad=True), x(d[1], grad=True)
            loss, corr = fn(z1, z2)
            loss.backward()
            out[mode] = {'grad1': name(z1.grad), 'grad2': name(z2.grad)}
        if out['samples'] != out['features']:
            raise AssertionError('the two modes disagree: %r' % out)
        return out['samples']
    raise ValueError(op)

table = {}
for op, *d in json.load(sys.stdin):
    try:
        table[' '.join([op] + d)] = {k: (v if isinstance(v, str) else name(v)) for k, v in run(op, d).items()}
    except (RuntimeError, ValueError, TypeError) as e:
        table[' '.join([op] + d)] = None
print(json.dumps({'torch': torch.__version__, 'table': table}))
`;
  const r = spawnSync(PYTHON, ['-c', script, path.join(ROOT, 'scripts')], { input: JSON.stringify(combos), encoding: 'utf8', maxBuffer: 1 << 24 });
  if (r.error || r.status !== 0) {
    throw new Error(`PyTorch dtype probe failed (${PYTHON}): ${r.error?.message ?? r.stderr}\n` +
      'Install Debian\'s PyTorch: apt-get install python3-torch python3-numpy (npm test does it when root).');
  }
  return JSON.parse(r.stdout);
}
