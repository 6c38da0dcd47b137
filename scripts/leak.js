#!/usr/bin/env node
// Leak check: many sync and async calls of each loss at a small size, with
// RSS measured after full GCs before, halfway and at the end, and the
// external result buffers counted through memoryStats() (made, finalized,
// bytes still held). A leak shows as buffers never finalized or RSS that keeps
// growing in the second half (the first half may grow while allocator arenas
// and V8's heap settle).
//
//   node --expose-gc scripts/leak.js [--sync 100000] [--async 10000]
//        [--size 16x32] [--concurrency 64] [--max-growth-mb 16] [--quiet]
//
// Uses the built package (dist/lib, `npm run build`); PAIRLOSS_ADDON picks
// another addon (e.g. the ASan build). Exit status 1 when a loss leaks:
// more than 0.1% of its buffers (and more than 64) never finalized, or the
// second half's RSS growth above --max-growth-mb.
'use strict';

const path = require('path');

function parseArgs(argv) {
  const o = { sync: 100000, async: 10000, n: 16, d: 32, concurrency: 64, maxGrowthMb: 16, quiet: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const next = () => {
      if (i + 1 >= argv.length) throw new Error(`${a} needs a value`);
      return argv[++i];
    };
    if (a === '--sync') o.sync = Number(next());
    else if (a === '--async') o.async = Number(next());
    else if (a === '--size') [o.n, o.d] = next().split('x').map(Number);
    else if (a === '--concurrency') o.concurrency = Number(next());
    else if (a === '--max-growth-mb') o.maxGrowthMb = Number(next());
    else if (a === '--quiet') o.quiet = true;
    else if (a === '--help' || a === '-h') {
      process.stdout.write('node --expose-gc scripts/leak.js [--sync N] [--async N] [--size NxD] [--concurrency K] [--max-growth-mb MB]\n');
      process.exit(0);
    } else throw new Error(`unknown argument ${a} (see --help)`);
  }
  for (const k of ['sync', 'async', 'n', 'd', 'concurrency']) {
    if (!Number.isInteger(o[k]) || o[k] < 0) throw new Error(`--${k} must be an integer >= 0`);
  }
  return o;
}

const MB = 1024 * 1024;
const fmtMb = (bytes) => `${bytes >= 0 ? '+' : ''}${(bytes / MB).toFixed(1)} MB`;

/** Full GCs with turns of the event loop between them, so that finalizers run. */
async function settle() {
  for (let i = 0; i < 6; i++) {
    global.gc();
    await new Promise((resolve) => setImmediate(resolve));
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

function snapshot(pl) {
  const m = process.memoryUsage();
  return { rss: m.rss, heapUsed: m.heapUsed, external: m.external, ...pl.memoryStats() };
}

function inputs(n, d, seed) {
  let a = seed >>> 0;
  const next = () => { a = (Math.imul(a, 1664525) + 1013904223) >>> 0; return a / 2 ** 32 - 0.5; };
  const m = () => ({ data: Float32Array.from({ length: n * d }, next), shape: [n, d] });
  return [m(), m()];
}

async function measure(pl, loss, mode, calls, o) {
  const [x1, x2] = inputs(o.n, o.d, loss === 'npairs' ? 1 : 2);
  // npairs returns three buffers a call (grad1, grad2, similarity); correlation two
  const opts = loss === 'npairs' ? { temperature: 0.1, returnSimilarity: true } : { mode: 'features' };
  const sync = loss === 'npairs' ? pl.npairsLoss : pl.correlationLoss;
  const async = loss === 'npairs' ? pl.npairsLossAsync : pl.correlationLossAsync;
  let sink = 0;
  const run = async (count) => {
    if (mode === 'sync') {
      for (let i = 0; i < count; i++) sink += sync(x1, x2, opts).loss;
      return;
    }
    let started = 0;
    const lane = async () => {
      while (started < count) {
        started++;
        sink += (await async(x1, x2, opts)).loss;
      }
    };
    await Promise.all(Array.from({ length: Math.min(o.concurrency, count) }, lane));
  };
  await run(Math.min(2000, Math.ceil(calls / 10))); // warm-up: allocator, V8, LibTorch caches
  await settle();
  const s0 = snapshot(pl);
  const t0 = process.hrtime.bigint();
  await run(Math.floor(calls / 2));
  await settle();
  const s1 = snapshot(pl);
  await run(calls - Math.floor(calls / 2));
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  await settle();
  const s2 = snapshot(pl);
  if (!Number.isFinite(sink)) throw new Error('a loss was not finite');
  const made = s2.externalBuffers - s0.externalBuffers;
  const finalized = s2.finalizedBuffers - s0.finalizedBuffers;
  return {
    loss, mode, calls, seconds,
    made, finalized, unfinalized: made - finalized, heldBytes: s2.externalBytes,
    rssTotal: s2.rss - s0.rss, rssSecondHalf: s2.rss - s1.rss, heapSecondHalf: s2.heapUsed - s1.heapUsed,
    rssEnd: s2.rss,
  };
}

async function main() {
  if (typeof global.gc !== 'function') {
    process.stderr.write('Run with --expose-gc: node --expose-gc scripts/leak.js\n');
    process.exit(2);
  }
  const o = parseArgs(process.argv.slice(2));
  const pl = require(path.join(__dirname, '..', 'dist', 'lib'));
  const log = (s) => { if (!o.quiet) process.stdout.write(`${s}\n`); };
  log(`pairloss ${pl.version} on LibTorch ${pl.torchVersion}; node ${process.version}; ${o.n}x${o.d} float32; ` +
    `${o.sync} sync and ${o.async} async calls of each loss (async: ${o.concurrency} in flight)`);
  log('loss         mode   calls    time   buffers made  finalized  unfinalized  RSS total  RSS 2nd half  heap 2nd half');
  const results = [];
  for (const loss of ['npairs', 'correlation']) {
    for (const [mode, calls] of [['sync', o.sync], ['async', o.async]]) {
      if (calls === 0) continue;
      const r = await measure(pl, loss, mode, calls, o);
      results.push(r);
      log(`${loss.padEnd(12)} ${mode.padEnd(6)} ${String(calls).padStart(6)} ${r.seconds.toFixed(1).padStart(6)} s ${String(r.made).padStart(12)} ` +
        `${String(r.finalized).padStart(10)} ${String(r.unfinalized).padStart(12)} ${fmtMb(r.rssTotal).padStart(10)} ` +
        `${fmtMb(r.rssSecondHalf).padStart(13)} ${fmtMb(r.heapSecondHalf).padStart(14)}`);
    }
  }
  const leaks = results.filter((r) => (r.unfinalized > 64 && r.unfinalized > r.made / 1000) || r.rssSecondHalf > o.maxGrowthMb * MB);
  const stats = pl.memoryStats();
  log(`memoryStats() at the end: ${stats.externalBuffers} made, ${stats.finalizedBuffers} finalized, ${stats.externalBytes} bytes held; RSS ${(process.memoryUsage().rss / MB).toFixed(0)} MB`);
  log(leaks.length ? `LEAK: ${leaks.map((r) => `${r.loss} ${r.mode}`).join(', ')}` : `no leak: every buffer finalized (within 0.1%) and RSS flat within ${o.maxGrowthMb} MB over each second half`);
  if (o.quiet) process.stdout.write(`${JSON.stringify(results)}\n`);
  process.exit(leaks.length ? 1 : 0);
}

main().catch((e) => {
  process.stderr.write(`${e && e.stack ? e.stack : e}\n`);
  process.exit(2);
});
