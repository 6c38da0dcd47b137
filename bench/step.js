#!/usr/bin/env node
// The training step of `pairloss-demo train` piece by piece, at its shape
// (batch 512, 2048 hash buckets, ~30 non-zeros a row, D = 64): each piece's
// median time over many calls, in one process, and the loss against its own
// three matrix products (S = y1·y2ᵀ, ∂y1 = G·y2, ∂y2 = Gᵀ·y1) through the
// same BLAS with the same threads.
//
//   node bench/step.js [--iterations N] [--threads N] [--clock wall|cpu]
//
// --clock cpu times the pair by the process's CPU time (user + system)
// instead of the wall clock: with --threads 1 that is the work itself, which
// holds on a machine busy with other jobs (where the wall clock counts their
// time slices too); with more threads it also counts threads spinning.
'use strict';

const os = require('os');
const pl = require('../dist/lib');

function arg(name, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  return i < 0 ? fallback : Number(process.argv[i + 1]);
}

const iterations = arg('iterations', 300);
const threads = arg('threads', 0);
const clockIndex = process.argv.indexOf('--clock');
const clock = clockIndex < 0 ? 'wall' : process.argv[clockIndex + 1];
if (clock !== 'wall' && clock !== 'cpu') throw new RangeError(`--clock must be wall or cpu, got ${clock}`);
// nanoseconds, as a BigInt: the wall clock or the process's CPU time
const now = clock === 'cpu'
  ? () => { const u = process.cpuUsage(); return BigInt(u.user + u.system) * 1000n; }
  : () => process.hrtime.bigint();
if (threads > 0) pl.setNumThreads(threads);

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

function time(fn) {
  for (let i = 0; i < Math.min(20, iterations); i++) fn();
  const t = [];
  for (let i = 0; i < iterations; i++) {
    const t0 = process.hrtime.bigint();
    fn();
    t.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  return median(t);
}

// a seeded generator (bench/common.js's mulberry32) for the inputs
const rand = require('./common').rng(12345);

const n = 512, f = 2048, d = 64, perRow = 30;
const fill = (len, scale = 1) => Float32Array.from({ length: len }, () => (rand() * 2 - 1) * scale);
// CSR rows like the job's: ~30 distinct buckets a row, L2-normalised
function csrRows(rowCount) {
  const indptr = new Int32Array(rowCount + 1);
  const indices = new Int32Array(rowCount * perRow);
  const values = new Float32Array(rowCount * perRow);
  for (let i = 0; i < rowCount; i++) {
    const cols = new Set();
    while (cols.size < perRow) cols.add(Math.floor(rand() * f));
    const sorted = [...cols].sort((a, b) => a - b);
    for (let k = 0; k < perRow; k++) {
      indices[i * perRow + k] = sorted[k];
      values[i * perRow + k] = 1 / Math.sqrt(perRow);
    }
    indptr[i + 1] = (i + 1) * perRow;
  }
  return { indptr, indices, values, shape: [rowCount, f] };
}
const csrLike = csrRows(n);
const w = fill(f * d);
const gw = new Float32Array(f * d);
const z1 = fill(n * d), z2 = fill(n * d);
const g1 = new Float32Array(n * d), g2 = new Float32Array(n * d);
const S = new Float32Array(n * n), G = fill(n * n, 1e-3);
const m = new Float32Array(f * d), v = new Float32Array(f * d);
const W = [fill(f * d), fill(f * d)], GW = [fill(f * d, 1e-3), fill(f * d, 1e-3)];
const M = [new Float32Array(f * d), new Float32Array(f * d)], V = [new Float32Array(f * d), new Float32Array(f * d)];
let step = 0;
const x = pl.csrTensor(csrLike);
// the trainer's way to a batch: one dataset-wide CsrTensor, checked once,
// and each step's rows gathered from it into a reused CsrTensor (drawn
// after the inputs above, which stay as they were)
const dataset = pl.csrTensor(csrRows(8 * n));
const batchRows = Int32Array.from({ length: n }, () => Math.floor(rand() * 8 * n));
const gathered = pl.csrIndexSelect(dataset, batchRows);
const t = (data, shape) => ({ data, shape });

console.log(`step pieces at batch ${n}, F ${f}, D ${d}, ${perRow} non-zeros a row — ${pl.getNumThreads()} LibTorch threads, ` +
  `OpenBLAS ${pl.blasCore} kernels (${pl.getBlasThreads()} threads), load average ${os.loadavg().map((a) => a.toFixed(2)).join(' ')}`);
const rows = [];
const lossCall = () => pl.npairsLoss(t(z1, [n, d]), t(z2, [n, d]), { temperature: 0.05, symmetric: true, out: { grad1: g1, grad2: g2 } });
const gemmCalls = () => {
  pl.matmul(t(z1, [n, d]), t(z2, [n, d]), { transposeB: true, out: S });
  pl.matmul(t(G, [n, n]), t(z2, [n, d]), { out: g1 });
  pl.matmul(t(G, [n, n]), t(z1, [n, d]), { transposeA: true, out: g2 });
};
// the loss and its products in turn, pair by pair: the ratio's median holds while the VM's speed drifts
const ratios = [];
const lossTimes = [];
const gemmTimes = [];
for (let i = 0; i < 20; i++) { lossCall(); gemmCalls(); }
for (let i = 0; i < iterations; i++) {
  const t0 = now();
  lossCall();
  const t1 = now();
  gemmCalls();
  const t2 = now();
  lossTimes.push(Number(t1 - t0) / 1e6);
  gemmTimes.push(Number(t2 - t1) / 1e6);
  ratios.push(Number(t1 - t0) / Number(t2 - t1));
}
const loss = median(lossTimes);
const gemms = median(gemmTimes);
rows.push([`npairsLoss symmetric 512x64, temperature 0.05 (sync, out; ${clock === 'cpu' ? 'CPU time' : 'wall clock'})`, loss]);
rows.push(['  its 3 matrix products (matmul with out)', gemms]);
rows.push(['csrIndexSelect (a batch gathered from the dataset, out: the trainer\'s)', time(() => pl.csrIndexSelect(dataset, batchRows, { out: gathered }))]);
rows.push(['csrTensor (check and copy a batch: the trainer before csrIndexSelect)', time(() => pl.csrTensor(csrLike))]);
rows.push(['sparseMatmul x·W (forward)', time(() => pl.sparseMatmul(x, t(w, [f, d]), { out: z1 }))]);
rows.push(['sparseMatmul xᵀ·g (weight gradient)', time(() => pl.sparseMatmul(x, t(g1, [n, d]), { transposeA: true, out: gw }))]);
if (typeof pl.adam === "function") rows.push(["adam, 2 x 131,072 weights", time(() => pl.adam(W, GW, M, V, { step: ++step, lr: 0.01 }))]);
void m; void v;
const width = Math.max(...rows.map((r) => r[0].length));
for (const [name, ms] of rows) console.log(`  ${name.padEnd(width)}  ${ms.toFixed(3)} ms`);
const sorted = [...ratios].sort((a, b) => a - b);
console.log(`loss / its matrix products, pair by pair (${clock === 'cpu' ? 'CPU time' : 'wall clock'}): median ${median(ratios).toFixed(2)}x ` +
  `(quartiles ${sorted[Math.floor(sorted.length / 4)].toFixed(2)}-${sorted[Math.floor((3 * sorted.length) / 4)].toFixed(2)})`);
