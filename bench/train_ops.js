#!/usr/bin/env node
'use strict';
/**
 * The training-step ops at the demo trainer's shape (packages/cli's model:
 * a 512-row batch of 4096 sparse features, ~30 non-zeros a row, a first
 * layer of 64 units, 262k weights): sparseMatmul both ways, adam, and the
 * dense products they replace; median per-call times. Run beside
 * bench/train_ops_torch.py (the same ops in PyTorch) on the same machine.
 *
 *   node bench/train_ops.js [--threads N]
 */
const path = require('path');
const pl = require(path.join(__dirname, '..', 'dist', 'lib'));
const { normals } = require('./common');

const args = process.argv.slice(2);
if (args.includes('--threads')) pl.setNumThreads(Number(args[args.indexOf('--threads') + 1]));
const N = 512, F = 4096, D = 64, PER_ROW = 30;

function median(fn, reps) {
  for (let i = 0; i < 5; i++) fn();
  const times = [];
  for (let i = 0; i < reps; i++) {
    const t0 = process.hrtime.bigint();
    fn();
    times.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(reps / 2)];
}

async function medianAsync(fn, reps) {
  for (let i = 0; i < 5; i++) await fn();
  const times = [];
  for (let i = 0; i < reps; i++) {
    const t0 = process.hrtime.bigint();
    await fn();
    times.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(reps / 2)];
}

async function main() {
  // a batch: ~30 distinct random columns a row
  const indptr = new Int32Array(N + 1);
  const cols = [];
  let seed = 7;
  const rand = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 4294967296);
  for (let i = 0; i < N; i++) {
    const row = new Set();
    const count = PER_ROW - 5 + Math.floor(rand() * 11);
    while (row.size < count) row.add(Math.floor(rand() * F));
    cols.push(...row);
    indptr[i + 1] = cols.length;
  }
  const indices = Int32Array.from(cols);
  const values = Float32Array.from(normals(indices.length, 1));
  const w = pl.Tensor.from(Float32Array.from(normals(F * D, 2)), [F, D]);
  const g = pl.Tensor.from(Float32Array.from(normals(N * D, 3)), [N, D]);
  const dense = new Float32Array(N * F);
  for (let i = 0; i < N; i++) for (let k = indptr[i]; k < indptr[i + 1]; k++) dense[i * F + indices[k]] += values[k];
  const x = pl.Tensor.from(dense, [N, F]);
  const csrParts = { indptr, indices, values, shape: [N, F] };
  const csr = pl.csrTensor(csrParts);
  const h = new Float32Array(N * D), gw = new Float32Array(F * D);
  const reps = 200;
  const rows = [];
  rows.push(['csrTensor (check + copy, once per batch)', median(() => pl.csrTensor(csrParts), reps)]);
  rows.push(['sparseMatmul(csr, W) [512x4096]·[4096x64], out', median(() => pl.sparseMatmul(csr, w, { out: h }), reps)]);
  rows.push(['sparseMatmul(csr, g, transposeA) -> [4096x64], out', median(() => pl.sparseMatmul(csr, g, { transposeA: true, out: gw }), reps)]);
  rows.push(['sparseMatmul(plain CSR object, W) (checked per call)', median(() => pl.sparseMatmul(csrParts, w, { out: h }), reps)]);
  rows.push(['sparseMatmulAsync(csr, W), out', await medianAsync(() => pl.sparseMatmulAsync(csr, w, { out: h }), reps)]);
  rows.push(['dense matmul(x, W) [512x4096]·[4096x64], out', median(() => pl.matmul(x, w, { out: h }), 50)]);
  rows.push(['dense matmul(x, g, transposeA) -> [4096x64], out', median(() => pl.matmul(x, g, { transposeA: true, out: gw }), 50)]);
  const param = Float32Array.from(normals(F * D, 4));
  const grad = Float32Array.from(normals(F * D, 5));
  const opt = new pl.Adam([param], { lr: 1e-3 });
  rows.push(['Adam.step, 262144 float32 weights', median(() => opt.step([grad]), reps)]);
  rows.push(['Adam.stepAsync, 262144 float32 weights', await medianAsync(() => opt.stepAsync([grad]), reps)]);
  console.log(`pairloss, ${pl.getNumThreads()} intra-op thread(s); load average ${require('os').loadavg().map((v) => v.toFixed(1)).join(' ')}`);
  for (const [name, ms] of rows) console.log(`${name.padEnd(58)} ${(ms * 1000).toFixed(1).padStart(9)} µs`);
}

main();
