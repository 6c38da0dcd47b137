#!/usr/bin/env node
'use strict';
// Issue 22's "speed at scale": a loss against its own matrix products, pair
// by pair in one process (the loss call, then the products, many times; the
// median of the ratios with its quartiles), float32, synchronous, with
// gradients. The products are the GEMMs the loss must do, through the same
// BLAS with the same threads (pl.matmul with out memory):
//   S = y1·y2ᵀ [N, M], ∂y1 = G·y2 [N, D], ∂y2 = Gᵀ·y1 [M, D].
// At 32768×256 the [N, M] matrix (4 GiB) is not held: the products go in the
// chunked path's row blocks (the same block rows), which is the same
// multiply-adds. The chunked symmetric N-pairs must form each block of S
// twice (once for the column-wise log-sum-exp, once for the gradient), so its
// floor is 4/3 of these three products: its ratio against those 4 (the S
// products timed on their own within the three) is printed too.
//
//   node bench/scale.js (or npm run bench:scale --) [--case NAME]... [--pairs N] [--threads N] [--clock wall|cpu]
//
//   --case     siglip-1024x512, siglip-4096x256, npairs-32768x256 (repeatable;
//              default: all three)
//   --pairs    pairs per case (default: 41 / 11 / 3 by size; the 32768 case
//              prints each pair as it comes: 1-3 minutes a pair at 1 thread)
//   --threads  LibTorch's and OpenBLAS's threads (pl.setNumThreads; default:
//              as loaded). With 1, also set OPENBLAS_NUM_THREADS=1.
//   --clock    cpu: the process's CPU time (user + system): with --threads 1
//              that is the work itself, robust on a machine busy with other
//              jobs; wall: the wall clock (default).
//
// Example (the numbers, on a loaded machine):
//   OPENBLAS_NUM_THREADS=1 node bench/scale.js --threads 1 --clock cpu
//   node bench/scale.js
const os = require('os');
const fs = require('fs');
const path = require('path');

const argv = process.argv.slice(2);
if (argv.includes('--help') || argv.includes('-h')) {
  process.stdout.write(fs.readFileSync(__filename, 'utf8').split('\n').slice(2).filter((l, i, a) => a.slice(0, i + 1).every((x) => x.startsWith('//'))).map((l) => l.replace(/^\/\/ ?/, '')).join('\n') + '\n');
  process.exit(0);
}
function values(name) {
  const out = [];
  for (let i = 0; i < argv.length; i++) if (argv[i] === `--${name}`) out.push(argv[i + 1]);
  return out;
}
const pl = require(path.join(__dirname, '..', 'dist', 'lib'));
const { binding } = require(path.join(__dirname, '..', 'dist', 'lib', 'binding'));

const CASES = {
  'siglip-1024x512': { loss: 'siglip', n: 1024, d: 512, pairs: 41 },
  'siglip-4096x256': { loss: 'siglip', n: 4096, d: 256, pairs: 11 },
  'npairs-32768x256': { loss: 'npairs', n: 32768, d: 256, pairs: 3 },
};
const names = values('case').length ? values('case') : Object.keys(CASES);
for (const c of names) if (!CASES[c]) throw new RangeError(`--case must be one of ${Object.keys(CASES).join(', ')}, got ${c}`);
const pairsArg = values('pairs')[0];
const threads = Number(values('threads')[0] ?? 0);
const clock = values('clock')[0] ?? 'wall';
if (clock !== 'wall' && clock !== 'cpu') throw new RangeError(`--clock must be wall or cpu, got ${clock}`);
if (threads > 0) pl.setNumThreads(threads);
const now = clock === 'cpu'
  ? () => { const u = process.cpuUsage(); return (u.user + u.system) / 1e3; }
  : () => Number(process.hrtime.bigint()) / 1e6;

// a seeded generator (bench/common.js's mulberry32)
const rand = require('./common').rng(22);
const fill = (len, scale = 1) => {
  const a = new Float32Array(len);
  for (let i = 0; i < len; i++) a[i] = (rand() * 2 - 1) * scale;
  return a;
};
const q = (xs, f) => { const s = [...xs].sort((a, b) => a - b); return s[Math.min(s.length - 1, Math.floor(f * s.length))]; };
const t = (data, shape) => ({ data, shape });

function measure(name) {
  const c = CASES[name];
  const { n, d } = c;
  const m = n;
  const pairs = pairsArg ? Number(pairsArg) : c.pairs;
  const x1 = fill(n * d), x2 = fill(m * d);
  const g1 = new Float32Array(n * d), g2 = new Float32Array(m * d);
  const big = c.loss === 'npairs';
  // the chunked path's block rows (~32 MiB of one block matrix), or the whole matrix
  const rows = big ? Math.max(1, binding().chunking().rows || Math.floor((32 << 20) / (m * 4))) : n;
  const S = new Float32Array(rows * m), G = fill(rows * m, 1e-3);
  const p1 = new Float32Array(rows * d), p2 = new Float32Array(m * d);
  const lossCall = big
    ? () => pl.npairsLoss(t(x1, [n, d]), t(x2, [m, d]), { temperature: 0.07, symmetric: true, out: { grad1: g1, grad2: g2 } })
    : () => pl.sigmoidLoss(t(x1, [n, d]), t(x2, [m, d]), { out: { grad1: g1, grad2: g2 } });
  // the time of the S products alone, for the chunked path's floor (S twice: 3 products + S)
  let sTime = 0;
  const products = () => {
    for (let r0 = 0; r0 < n; r0 += rows) {
      const b = Math.min(rows, n - r0);
      const y1b = t(x1.subarray(r0 * d, (r0 + b) * d), [b, d]);
      const Sb = S.subarray(0, b * m), Gb = t(G.subarray(0, b * m), [b, m]);
      const s0 = now();
      pl.matmul(y1b, t(x2, [m, d]), { transposeB: true, out: Sb });
      sTime += now() - s0;
      pl.matmul(Gb, t(x2, [m, d]), { out: big ? p1.subarray(0, b * d) : g1 });
      pl.matmul(Gb, y1b, { transposeA: true, out: p2 });
    }
  };
  // warm-up: the pair itself at the small sizes; at 32768 (15 s and more a
  // call) the first pair is warm enough, and each pair is printed as it comes
  const chunkedBefore = binding().chunking().calls;
  if (!big) {
    lossCall();
    products();
  }
  const ratios = [], ratios4 = [], lt = [], pt = [];
  for (let i = 0; i < pairs; i++) {
    const t0 = now();
    lossCall();
    const t1 = now();
    sTime = 0;
    products();
    const t2 = now();
    lt.push(t1 - t0);
    pt.push(t2 - t1);
    ratios.push((t1 - t0) / (t2 - t1));
    ratios4.push((t1 - t0) / (t2 - t1 + sTime));
    if (big) {
      console.log(`  pair ${i + 1}: loss ${(t1 - t0).toFixed(0)} ms, products ${(t2 - t1).toFixed(0)} ms (S alone ` +
        `${sTime.toFixed(0)} ms), ratio ${ratios[i].toFixed(3)}x (${ratios4[i].toFixed(3)}x against the 4 with S twice)`);
    }
  }
  const chunked = binding().chunking().calls > chunkedBefore;
  const label = big ? `npairsLoss symmetric ${n}x${d}, T 0.07` : `sigmoidLoss ${n}x${d}`;
  console.log(`${label}${chunked ? ' (chunked, ' + rows + '-row blocks)' : ''}: loss ${q(lt, 0.5).toFixed(1)} ms, ` +
    `products ${q(pt, 0.5).toFixed(1)} ms; ratio median ${q(ratios, 0.5).toFixed(3)}x ` +
    `(quartiles ${q(ratios, 0.25).toFixed(3)}-${q(ratios, 0.75).toFixed(3)}, ${pairs} pairs)` +
    (big ? `; against the 4 products with S twice: median ${q(ratios4, 0.5).toFixed(3)}x` : ''));
}

console.log(`bench/scale.js — ${pl.getNumThreads()} LibTorch threads, OpenBLAS ${pl.getBlasThreads()} threads, ` +
  `${clock === 'cpu' ? 'CPU time' : 'wall clock'}, load average ${os.loadavg().map((a) => a.toFixed(2)).join(' ')}`);
for (const name of names) measure(name);
console.log(`load average after: ${os.loadavg().map((a) => a.toFixed(2)).join(' ')}`);
