'use strict';
/**
 * Shared helpers of the bench: seeded inputs, timing, statistics, formatting.
 */

/** Mulberry32: a small seeded PRNG, so every run and every implementation sees the same inputs. */
function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A Float32Array of n standard normal values (Box-Muller). */
function normals(n, seed) {
  const r = rng(seed);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i += 2) {
    const u = 1 - r();
    const v = r();
    const m = Math.sqrt(-2 * Math.log(u));
    out[i] = m * Math.cos(2 * Math.PI * v);
    if (i + 1 < n) out[i + 1] = m * Math.sin(2 * Math.PI * v);
  }
  return out;
}

const nowMs = () => Number(process.hrtime.bigint()) / 1e6;

/** Linear-interpolated quantile of a sorted array. */
function quantile(sorted, q) {
  if (sorted.length === 0) return NaN;
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
}

/** median / p10 / p90 (ms) of a list of times in ms. */
function stats(times) {
  const s = [...times].sort((a, b) => a - b);
  return { median: quantile(s, 0.5), p10: quantile(s, 0.1), p90: quantile(s, 0.9), reps: s.length, times };
}

/**
 * How many timed repetitions: enough to fill `budgetMs`, at least minReps
 * (fewer for calls that take seconds), at most maxReps.
 */
function repsFor(firstMs, policy) {
  let min = policy.minReps;
  if (firstMs > 3000) min = Math.min(min, policy.quick ? 1 : 2);
  else if (firstMs > 1000) min = Math.min(min, 3);
  return Math.max(min, Math.min(policy.maxReps, Math.ceil(policy.budgetMs / Math.max(firstMs, 1e-3))));
}

/**
 * Times fn (sync, or returning a Promise when isAsync) after warm-up. The
 * first warm-up call decides the number of repetitions. A call under 50 ms is
 * then repeated for a fifth of the time budget (at least twice) before timing
 * starts, so that the timed calls see the steady state a server runs in (JIT
 * compiled, allocator and heap grown; bench/torch_bench.py warms up by the
 * same rule). Returns stats plus the value of the last call.
 */
async function measure(fn, policy, isAsync) {
  let last;
  let t0 = nowMs();
  last = isAsync ? await fn() : fn();
  const first = nowMs() - t0;
  if (first < 50) {
    const until = nowMs() + policy.budgetMs / 5;
    for (let i = 0; i < 2 || nowMs() < until; i++) {
      if (!isAsync) await new Promise((resolve) => setImmediate(resolve));
      last = isAsync ? await fn() : fn();
    }
  }
  const reps = repsFor(first, policy);
  const times = new Array(reps);
  if (isAsync) {
    for (let i = 0; i < reps; i++) {
      t0 = nowMs();
      last = await fn();
      times[i] = nowMs() - t0;
    }
  } else {
    for (let i = 0; i < reps; i++) {
      // Untimed, between calls: one turn of the event loop, as a training
      // server's loop takes between steps. Node runs the finalizers of
      // results that were collected (external buffers) only then; a loop
      // that never yields keeps every result alive and pays page faults for
      // fresh memory on each call (13 per 32x128 N-pairs call, ~1000 per
      // 1024x512 one, measured), which no real program does.
      if (i > 0) await new Promise((resolve) => setImmediate(resolve));
      t0 = nowMs();
      last = fn();
      times[i] = nowMs() - t0;
    }
  }
  return { ...stats(times), value: last };
}

/**
 * `n` busy processes beside the run (--hog): plain node loops at the default
 * priority, one per core for a machine whose every CPU is taken. Each ends by
 * itself after `maxS` seconds, so none outlives a bench that dies without
 * killing them; stop() kills them at once.
 */
function startHogs(n, maxS) {
  const { spawn } = require('child_process');
  const code = `const end = Date.now() + ${maxS * 1000}; while (Date.now() < end) {}`;
  const procs = Array.from({ length: n }, () => spawn(process.execPath, ['-e', code], { stdio: 'ignore' }));
  const stop = () => procs.forEach((p) => { if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL'); });
  process.on('exit', stop);
  for (const signal of ['SIGINT', 'SIGTERM']) {
    process.once(signal, () => {
      stop();
      process.exit(128 + (signal === 'SIGINT' ? 2 : 15));
    });
  }
  return { n, stop };
}
/** "1.23 ms", "456 µs", "2.10 s" (3 significant digits). */
function fmtTime(ms) {
  if (!Number.isFinite(ms)) return 'n/a';
  const sig = (v) => (v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2));
  if (ms < 1) return `${sig(ms * 1000)} µs`;
  if (ms < 1000) return `${sig(ms)} ms`;
  return `${sig(ms / 1000)} s`;
}

/** "1.23 ms (1.20–1.31)": median with p10–p90 in the median's unit. */
function fmtStats(s) {
  if (!s) return 'n/a';
  if (s.skipped) return s.skipped;
  const unit = s.median < 1 ? 1000 : s.median < 1000 ? 1 : 1e-3;
  const sig = (v) => (v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2));
  return `${fmtTime(s.median)} (${sig(s.p10 * unit)}–${sig(s.p90 * unit)})`;
}

function fmtRatio(r) {
  if (!Number.isFinite(r)) return 'n/a';
  return `${r >= 10 ? r.toFixed(1) : r.toFixed(2)}×`;
}

/** A markdown table from a header row and body rows (strings). */
function table(header, rows) {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => String(r[i]).length)));
  const line = (cells) => `| ${cells.map((c, i) => String(c).padEnd(widths[i])).join(' | ')} |`;
  return [line(header), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...rows.map(line)].join('\n');
}

module.exports = {
  rng, normals, nowMs, quantile, stats, measure, repsFor, fmtTime, fmtStats, fmtRatio, table, startHogs };
