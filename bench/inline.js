#!/usr/bin/env node
'use strict';
/**
 * Where an async loss should stop running inline (lib/queue.ts's
 * INLINE_MAX_WORK): the pool hop -- an async call on the libuv pool minus the
 * same call sync -- against the sync time of a ladder of sizes. The threshold
 * is the work (multiply-adds of the loss's matrix product: N·M·D for N-pairs,
 * N·N·D / D·D·N for correlation) at which a sync call takes as long as the
 * hop: below it, the hop costs more than the work.
 *
 *   node bench/inline.js [--hog N] [--quick]
 */
const path = require('path');
const { normals, measure, fmtTime, table, startHogs } = require('./common');

const args = process.argv.slice(2);
const hogN = args.includes('--hog') ? Number(args[args.indexOf('--hog') + 1]) : 0;
const quick = args.includes('--quick');
const policy = quick ? { minReps: 20, maxReps: 300, budgetMs: 150 } : { minReps: 50, maxReps: 3000, budgetMs: 600 };

const pl = require(path.join(__dirname, '..', 'dist', 'lib'));
const queue = require(path.join(__dirname, '..', 'dist', 'lib', 'queue.js'));

// N-pairs, square (M = N): work N·N·D from 64 to ~17M multiply-adds
const LADDER = [[2, 16], [8, 32], [16, 64], [32, 64], [32, 128], [48, 128], [64, 128], [64, 256], [96, 256], [128, 256], [192, 256], [256, 256]];

async function main() {
  const hogs = hogN > 0 ? startHogs(hogN, 600) : null;
  if (hogs) await new Promise((r) => setTimeout(r, 500));
  const rows = [];
  const points = [];
  for (const [n, d] of LADDER) {
    const x1 = { data: normals(n * d, n * 31 + d), shape: [n, d] };
    const x2 = { data: normals(n * d, n * 37 + d), shape: [n, d] };
    const sync = await measure(() => pl.npairsLoss(x1, x2), policy, false);
    queue.setInlineMaxWork(0);
    const pool = await measure(() => pl.npairsLossAsync(x1, x2), policy, true);
    queue.setInlineMaxWork(undefined);
    const work = n * n * d;
    const hop = pool.median - sync.median;
    points.push({ work, sync: sync.median, hop });
    rows.push([`${n}×${d}`, String(work), fmtTime(sync.median), fmtTime(pool.median), fmtTime(hop), work <= queue.INLINE_MAX_WORK ? 'inline' : 'pool']);
  }
  // A sync call's fixed cost (arguments, result objects): its time at the
  // smallest size. The work's own time is the rest; the hop is pool − sync at
  // the same size (the input copy, the wake-ups, the completion).
  const fixed = points[0].sync;
  for (const p of points) p.compute = p.sync - fixed;
  // The crossing: the first size whose work takes longer than its hop, log-interpolated from the one before.
  let crossing = NaN;
  for (let i = 1; i < points.length; i++) {
    const [a, b] = [points[i - 1], points[i]];
    if (a.compute <= a.hop && b.compute > b.hop) {
      const fa = a.compute - a.hop;
      const fb = b.compute - b.hop;
      const t = fa / (fa - fb);
      crossing = Math.exp(Math.log(a.work) + t * (Math.log(b.work) - Math.log(a.work)));
      break;
    }
  }
  rows.forEach((r, i) => r.splice(5, 0, fmtTime(points[i].compute)));
  if (hogs) hogs.stop();
  process.stdout.write(`# inline threshold — ${new Date().toISOString()}${hogs ? ` (${hogs.n} hog process(es) beside it)` : ''}\n`);
  process.stdout.write(`N-pairs float32, forward + backward, M = N; medians; pool = npairsLossAsync with every call on the libuv pool\n`);
  process.stdout.write(`${table(['N×D', 'work (N·N·D)', 'sync', 'async on the pool', 'hop = pool − sync', 'work\'s time = sync − sync at 2×16', 'now'], rows)}\n`);
  process.stdout.write(`the work takes longer than the hop from ~${Number.isFinite(crossing) ? Math.round(crossing).toExponential(2) : 'n/a'} multiply-adds ` +
    `(2^${Number.isFinite(crossing) ? Math.log2(crossing).toFixed(1) : '?'}); INLINE_MAX_WORK = ${queue.INLINE_MAX_WORK} (2^${Math.log2(queue.INLINE_MAX_WORK).toFixed(1)}), PAIRLOSS_ASYNC_INLINE_MADDS overrides it\n`);
}

main().catch((e) => {
  process.stderr.write(`${e && e.stack ? e.stack : e}\n`);
  process.exit(1);
});
