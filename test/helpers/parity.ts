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

/** pairloss's answer for a case. */
export function runOurs(c: Case): Result {
  const i = Object.fromEntries(Object.entries(c.inputs).map(([k, v]) => [k, input(v, c.dtype)]));
  const o = { ...c.options } as Record<string, unknown>;
  if (o.targetIndices) {
    o.target = Int32Array.from(o.targetIndices as number[]);
    delete o.targetIndices;
  }
  switch (c.op) {
    case 'npairs': {
      if (i.target) o.target = i.target;
      const r = pl.npairsLoss(i.x1, i.x2, { ...o, returnSimilarity: true } as pl.NpairsOptions);
      return { loss: r.loss, grad1: tensorOut(r.grad1), grad2: tensorOut(r.grad2), gradTemperature: r.gradTemperature as number, similarity: tensorOut(r.similarity) };
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
