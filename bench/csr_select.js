#!/usr/bin/env node
// A batch's CSR in the demo trainer, old way against new, pair by pair in one
// process: CsrBatch.of (the rows copied in JS into reused typed arrays) then
// csrTensor (checked in JS, copied and checked again natively, fresh memory
// every batch), against csrIndexSelect(all, rows, { out }) from the view's
// whole matrix (made once) into two CsrTensors refilled in turn. Both on the
// demo's data (the CMU dictionary's spelling features, the demo's 2048
// buckets), the same random 512 rows each pair; the products of both
// batches compared once.
//
//   npm run build:ts && node bench/csr_select.js [--iterations N] [--rows N]
'use strict';

const os = require('os');
const pl = require('../dist/lib');
const { loadCmudict } = require('../packages/cli/dist/train/data');

function arg(name, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  return i < 0 ? fallback : Number(process.argv[i + 1]);
}
const iterations = arg('iterations', 2000);
const batch = arg('rows', 512);

/** The trainer's batch before issue 20's csrIndexSelect (packages/cli/src/train/model.ts CsrBatch). */
class CsrBatch {
  constructor() {
    this.indptr = new Int32Array(1);
    this.indices = new Int32Array(0);
    this.values = new Float32Array(0);
  }

  of(m, rows) {
    const n = rows.length;
    let nnz = 0;
    for (let r = 0; r < n; r++) nnz += m.ptr[rows[r] + 1] - m.ptr[rows[r]];
    if (this.indptr.length < n + 1) this.indptr = new Int32Array(n + 1);
    if (this.indices.length < nnz) {
      this.indices = new Int32Array(2 * nnz);
      this.values = new Float32Array(2 * nnz);
    }
    const { indptr, indices, values } = this;
    let k = 0;
    indptr[0] = 0;
    for (let r = 0; r < n; r++) {
      const start = m.ptr[rows[r]];
      const end = m.ptr[rows[r] + 1];
      indices.set(m.idx.subarray(start, end), k);
      values.set(m.val.subarray(start, end), k);
      k += end - start;
      indptr[r + 1] = k;
    }
    return pl.csrTensor({ indptr: indptr.subarray(0, n + 1), indices: indices.subarray(0, k), values: values.subarray(0, k), shape: [n, m.dim] });
  }
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

const ds = loadCmudict({ featureDim: 2048 });
const m = ds.spelling;
// LibTorch's one-time start (the first call into it, ~0.7 s here) out of the timing below
pl.csrTensor({ indptr: [0, 1], indices: [0], values: Float32Array.of(1), shape: [1, 1] });
const made = process.hrtime.bigint();
const all = pl.csrTensor({ indptr: m.ptr, indices: m.idx, values: m.val, shape: [m.rows, m.dim] });
const madeMs = Number(process.hrtime.bigint() - made) / 1e6;
let seed = 20;
const rand = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32);
const rowsOf = () => Int32Array.from({ length: batch }, () => Math.floor(rand() * m.rows));

const old = new CsrBatch();
const outs = [pl.csrIndexSelect(all, rowsOf()), pl.csrIndexSelect(all, rowsOf())];
// the same numbers: both batches' products
{
  const rows = rowsOf();
  const w = { data: Float32Array.from({ length: m.dim * 64 }, () => rand() - 0.5), shape: [m.dim, 64] };
  const a = pl.sparseMatmul(old.of(m, rows), w).data();
  const b = pl.sparseMatmul(pl.csrIndexSelect(all, rows, { out: outs[0] }), w).data();
  if (a.length !== b.length || a.some((v, i) => v !== b[i])) throw new Error('the two batches give different products');
}
const oldTimes = [];
const newTimes = [];
const ratios = [];
let nnz = 0;
for (let i = 0; i < iterations + 100; i++) {
  const rows = rowsOf();
  const t0 = process.hrtime.bigint();
  const x = old.of(m, rows);
  const t1 = process.hrtime.bigint();
  const y = pl.csrIndexSelect(all, rows, { out: outs[i & 1] });
  const t2 = process.hrtime.bigint();
  if (x.nnz !== y.nnz) throw new Error('nnz differs');
  nnz += y.nnz;
  if (i < 100) continue; // warm-up
  oldTimes.push(Number(t1 - t0) / 1e3);
  newTimes.push(Number(t2 - t1) / 1e3);
  ratios.push(Number(t1 - t0) / Number(t2 - t1));
}
console.log(`${batch} rows of ${m.rows} (F ${m.dim}), ~${Math.round(nnz / (iterations + 100))} entries a batch, ${iterations} pairs; ` +
  `load average ${os.loadavg().map((a) => a.toFixed(2)).join(' ')}; the whole view's csrTensor made once in ${madeMs.toFixed(1)} ms`);
console.log(`CsrBatch.of + csrTensor          median ${median(oldTimes).toFixed(1)} µs`);
console.log(`csrIndexSelect(all, rows, {out}) median ${median(newTimes).toFixed(1)} µs`);
console.log(`old / new, pair by pair          median ${median(ratios).toFixed(2)}×`);
