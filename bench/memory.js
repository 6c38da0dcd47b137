#!/usr/bin/env node
'use strict';
// Issue 22's memory table: batch size -> peak RSS growth and time of one
// forward + backward (float32, D = 128), for each loss, pairloss beside the
// anchors' own PyTorch code, one fresh process per case.
//
//   node bench/memory.js (or npm run bench:memory --) [options]
//
//   --sizes LIST     batch sizes N (default 1024,4096,16384,32768)
//   --losses LIST    of npairs-sym, siglip, supcon, ntxent, vicreg, barlow, and
//                    correlation, negcos, koleo, hypersphere, dcl (or all;
//                    default: the first six)
//   --dim D          embedding width (default 128)
//   --goal           issue 22's goal instead: symmetric N-pairs at 131072 and
//                    SigLIP at 65536 (pairloss only; ~10-30 minutes here),
//                    growth against 2x (inputs + gradients)
//   --max-gib G      skip a case whose estimated growth passes G GiB (default 8):
//                    "not run (needs ~X GiB)"; the estimate scales the same
//                    loss's growth at the size before by N² (by N for the
//                    O(N·D) losses), or counts 8 N×N float32 matrices
//   --threads N      both sides' intra-op threads (default: one per logical CPU)
//   --no-torch       pairloss only
//   --python PATH    the Python with torch (default /usr/bin/python3)
//   --docs FILE      where the table goes (default docs/PERFORMANCE.md, between
//                    its memory markers); written after a default run or a
//                    --goal run, or with --docs given
//   --no-docs        write no docs file
//
// Growth: each case runs in a fresh process (bench/rss_child.js for pairloss,
// bench/torch_bench.py rss for PyTorch) that reads its inputs, warms its code
// on a 32×D problem, resets the kernel's RSS high-water mark to the resident
// set (/proc/self/clear_refs "5"), makes the one call and reads VmHWM:
// growth = VmHWM − VmRSS just before the call. The process is forked by
// /bin/sh, not by this one (a forked child starts with its parent's
// ru_maxrss; VmHWM belongs to the exec'd image, and the reset makes it the
// call's own either way). The PyTorch side: open_clip's ClipLoss (world size
// 1) and SigLipLoss, HobbitLong's SupConLoss (views [N, 2, D], classes
// i mod N/4), lightly's NTXentLoss (temperature 0.5), VICRegLoss and
// BarlowTwinsLoss, on the inputs normalised where the anchor's model does it,
// each with .backward() (bench/torch_bench.py, scripts/oracle.py).
const fs = require('fs');
const os = require('os');
const path = require('path');
const { spawnSync } = require('child_process');
const { rng } = require('./common');

const argv = process.argv.slice(2);
if (argv.includes('--help') || argv.includes('-h')) {
  const lines = fs.readFileSync(__filename, 'utf8').split('\n').slice(2);
  process.stdout.write(`${lines.slice(0, lines.findIndex((l) => !l.startsWith('//'))).map((l) => l.replace(/^\/\/ ?/, '')).join('\n')}\n`);
  process.exit(0);
}

const DOCS = path.join(__dirname, '..', 'docs', 'PERFORMANCE.md');
const MARKERS = {
  table: ['<!-- memory:begin (written by `npm run bench:memory`; do not edit by hand) -->', '<!-- memory:end -->'],
  goal: ['<!-- memory-goal:begin (written by `npm run bench:memory -- --goal`; do not edit by hand) -->', '<!-- memory-goal:end -->'],
};

// loss -> label, the PyTorch reference's name in torch_bench.py, the power of N its memory grows with, and the side of
// its square matrix in units of N (SupCon and NT-Xent: both views, 2N)
const LOSSES = {
  'npairs-sym': { label: 'N-pairs symmetric (T 0.07)', torch: 'clip', ref: "open_clip ClipLoss", p: 2, side: 1 },
  siglip: { label: 'SigLIP', torch: 'siglip', ref: 'open_clip SigLipLoss', p: 2, side: 1 },
  supcon: { label: 'SupCon (T 0.07, classes i mod N/4)', torch: 'supcon-views', ref: 'HobbitLong SupConLoss', p: 2, side: 2 },
  ntxent: { label: 'NT-Xent (T 0.5)', torch: 'ntxent', ref: 'lightly NTXentLoss', p: 2, side: 2 },
  vicreg: { label: 'VICReg', torch: 'vicreg', ref: 'lightly VICRegLoss', p: 1, side: 0 },
  barlow: { label: 'Barlow Twins', torch: 'barlow', ref: 'lightly BarlowTwinsLoss', p: 1, side: 0 },
  correlation: { label: 'correlation (the seed, samples)', torch: 'correlation', ref: "the seed's correlation_loss_func", p: 2, side: 1, capOurs: true },
  negcos: { label: 'negative cosine', torch: 'negcos', ref: 'lightly NegativeCosineSimilarity', p: 1, side: 0 },
  koleo: { label: 'KoLeo (of x1)', torch: 'koleo', ref: 'lightly KoLeoLoss', p: 2, side: 1, capOurs: true },
  hypersphere: { label: 'alignment-uniformity', torch: 'hypersphere', ref: 'lightly HypersphereLoss', p: 2, side: 1, capOurs: true },
  dcl: { label: 'DCL', torch: 'dcl', ref: 'lightly DCLLoss', p: 2, side: 2, capOurs: true },
};
const DEFAULT_LOSSES = ['npairs-sym', 'siglip', 'supcon', 'ntxent', 'vicreg', 'barlow'];
const DEFAULT_SIZES = [1024, 4096, 16384, 32768];

class UsageError extends Error {}

function parseArgs(args) {
  const o = {
    sizes: DEFAULT_SIZES, losses: DEFAULT_LOSSES, dim: 128, goal: false, maxGiB: 8, threads: os.cpus().length,
    torch: true, python: '/usr/bin/python3', docs: DOCS, docsGiven: false, defaults: true,
  };
  const list = (v, name) => {
    if (v === undefined || v.startsWith('--')) throw new UsageError(`${name} needs a value`);
    return v.split(',').map((s) => s.trim()).filter(Boolean);
  };
  const positive = (v, name) => {
    const x = Number(v);
    if (!Number.isFinite(x) || x <= 0) throw new UsageError(`${name} must be a positive number, got ${v}`);
    return x;
  };
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === '--sizes') {
      o.sizes = list(args[++i], a).map((s) => positive(s, a));
      if (o.sizes.some((n) => !Number.isInteger(n) || n < 2)) throw new UsageError('--sizes: integers of at least 2');
      o.defaults = false;
    } else if (a === '--losses') {
      const ls = list(args[++i], a);
      o.losses = ls.length === 1 && ls[0] === 'all' ? Object.keys(LOSSES) : ls;
      for (const l of o.losses) if (!LOSSES[l]) throw new UsageError(`--losses: ${l} is not one of ${Object.keys(LOSSES).join(', ')}, all`);
      o.defaults = false;
    } else if (a === '--dim') {
      o.dim = positive(args[++i], a);
      o.defaults = false;
    } else if (a === '--goal') o.goal = true;
    else if (a === '--max-gib') o.maxGiB = positive(args[++i], a);
    else if (a === '--threads') o.threads = positive(args[++i], a);
    else if (a === '--no-torch') {
      o.torch = false;
      o.defaults = false;
    } else if (a === '--python') o.python = args[++i];
    else if (a === '--docs') {
      o.docs = path.resolve(args[++i]);
      o.docsGiven = true;
    } else if (a === '--no-docs') o.docs = null;
    else throw new UsageError(`unknown option ${a} (see --help)`);
  }
  return o;
}

// inputs uniform in [-1, 1) from a seeded generator (bench/common.js's mulberry32)
function writeInputs(file, n, d, seed) {
  const a = new Float32Array(2 * n * d);
  const rand = rng(seed);
  for (let i = 0; i < a.length; i++) a[i] = rand() * 2 - 1;
  fs.writeFileSync(file, Buffer.from(a.buffer));
}

// Linux hands a forked child its parent's RSS high-water mark (ru_maxrss; exec keeps it), so /bin/sh forks the
// measured process from its own small image ('; true' stops sh from exec'ing it directly); the child also resets
// VmHWM before its call (see the top).
const quote = (a) => `'${String(a).replace(/'/g, "'\\''")}'`;
function fresh(cmd, args, env = process.env) {
  const r = spawnSync('/bin/sh', ['-c', `${[cmd, ...args].map(quote).join(' ')}; true`], { encoding: 'utf8', maxBuffer: 1 << 24, env });
  const last = (r.stdout || '').trim().split('\n').pop();
  try {
    const j = JSON.parse(last);
    return { ok: true, ...j, growthKB: j.hwmKB - j.rssBeforeKB };
  } catch {
    return { ok: false, error: ((r.stderr || '').trim().split('\n').pop() || `no result (status ${r.status})`).slice(0, 120) };
  }
}

const GiB = 1024 ** 3;
const MiB = 1024 ** 2;
const fmtBytes = (b) => (b >= 10 * GiB ? `${(b / GiB).toFixed(0)} GiB` : b >= GiB ? `${(b / GiB).toFixed(1)} GiB` : `${(b / MiB).toFixed(0)} MiB`);
const fmtMs = (ms) => (ms >= 10e3 ? `${(ms / 1e3).toFixed(0)} s` : ms >= 1e3 ? `${(ms / 1e3).toFixed(1)} s` : `${ms.toFixed(0)} ms`);
const load = () => os.loadavg().map((x) => x.toFixed(2)).join(' ');
function table(head, rows) {
  const w = head.map((h, i) => Math.max(h.length, ...rows.map((r) => String(r[i]).length)));
  const line = (r) => `| ${r.map((c, i) => String(c).padEnd(w[i])).join(' | ')} |`;
  return [line(head), `|${w.map((x) => '-'.repeat(x + 2)).join('|')}|`, ...rows.map(line)].join('\n');
}

/** Growth estimate at N: the same side's growth at the size before scaled by (N / N0)^p, else 8 float32 matrices. */
function estimate(spec, n, d, prev) {
  if (prev) return prev.bytes * (n / prev.n) ** spec.p;
  return spec.p === 2 ? 8 * (spec.side * n) ** 2 * 4 : 8 * n * d * 4;
}

function writeDocs(file, markers, report) {
  const [begin, end] = markers;
  const block = `${begin}\n\`\`\`\n${report.trimEnd()}\n\`\`\`\n${end}`;
  const old = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '# pairloss performance\n';
  const b = old.indexOf(begin);
  const e = old.indexOf(end);
  fs.writeFileSync(file, b >= 0 && e > b ? `${old.slice(0, b)}${block}${old.slice(e + end.length)}` : `${old.trimEnd()}\n\n${block}\n`);
}

function main() {
  const o = parseArgs(argv);
  const pl = require(path.join(__dirname, '..', 'dist', 'lib'));
  const child = path.join(__dirname, 'rss_child.js');
  const torchBench = path.join(__dirname, 'torch_bench.py');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pairloss-memory-'));
  const started = Date.now();
  const report = [];
  const log = (s = '') => {
    report.push(s);
    process.stdout.write(`${s}\n`);
  };
  const progress = (s) => process.stderr.write(`[memory] ${s} (load ${load()})\n`);
  const d = o.dim;
  const cases = o.goal
    ? [['npairs-sym', 131072], ['siglip', 65536]]
    : o.sizes.flatMap((n) => o.losses.map((l) => [l, n]));
  const torchOn = o.torch && !o.goal;
  const cpu = os.cpus();
  log(`# pairloss memory bench${o.goal ? ' (issue 22 goal)' : ''} — ${new Date().toISOString()}`);
  log(`machine: ${cpu[0] ? cpu[0].model : '?'} × ${cpu.length} logical cores, ${(os.totalmem() / GiB).toFixed(0)} GiB; ` +
    `node ${process.version}, pairloss ${pl.version} on LibTorch ${pl.torchVersion}, OpenBLAS ${pl.blasCore} kernels; ` +
    `${o.threads} intra-op thread(s) each side; load average at start ${load()}`);
  log(`one forward + backward, float32, D = ${d}, one fresh process per case; growth = VmHWM after the call − VmRSS before it ` +
    '(the high-water mark reset just before the call; inputs and libraries already resident); time = the call\'s wall clock');
  if (torchOn) {
    log(`PyTorch ${JSON.parse(spawnSync(o.python, ['-c', 'import json, torch; print(json.dumps(torch.__version__))'], { encoding: 'utf8' }).stdout || '"?"')} ` +
      `(${o.python}), the anchors' code: ${o.losses.map((l) => `${LOSSES[l].label.split(' (')[0]}: ${LOSSES[l].ref}`).join('; ')}; ` +
      `a case whose growth is estimated above ${o.maxGiB} GiB (--max-gib) is not run`);
  }
  if (o.goal && o.torch) {
    // The loss in row blocks against PyTorch float64 at a size PyTorch holds: blocks forced by a 4 MiB budget
    // (PAIRLOSS_CHUNK_BYTES, read at load); test/chunked.test.ts and test/siglip.test.ts check the gradients too.
    const n0 = 4096;
    const file0 = path.join(dir, `check-${n0}x${d}.bin`);
    writeInputs(file0, n0, d, 22);
    for (const loss of ['npairs-sym', 'siglip']) {
      const ours = fresh(process.execPath, [child, loss, file0, String(n0), String(d), String(o.threads)], { ...process.env, PAIRLOSS_CHUNK_BYTES: String(4 << 20) });
      const ref = fresh(o.python, [torchBench, 'rss', LOSSES[loss].torch, file0, String(n0), String(d), String(o.threads), 'float64']);
      log(ours.ok && ref.ok
        ? `check at ${n0}×${d}, ${LOSSES[loss].label}, float32 ${ours.chunked ? 'in row blocks (4 MiB budget)' : 'NOT in row blocks'}: loss ${ours.loss} ` +
          `against ${LOSSES[loss].ref} in float64 ${ref.loss}: relative difference ${(Math.abs(ours.loss - ref.loss) / Math.abs(ref.loss)).toExponential(1)}`
        : `check at ${n0}×${d}, ${LOSSES[loss].label}: failed (${ours.error || ref.error})`);
    }
    fs.rmSync(file0, { force: true });
  }
  const rows = [];
  const prev = { ours: {}, torch: {} };
  let lastN = 0;
  let file = null;
  for (const [loss, n] of cases) {
    const spec = LOSSES[loss];
    if (n !== lastN) {
      if (file) fs.rmSync(file, { force: true });
      file = path.join(dir, `inputs-${n}x${d}.bin`);
      writeInputs(file, n, d, 22);
      lastN = n;
    }
    const io = 4 * n * d * 4; // x1, x2 and their gradients
    const matrix = spec.p === 2 ? (spec.side * n) ** 2 * 4 : 0;
    const cells = [spec.label, `${n}×${d}`, fmtBytes(io)];
    // pairloss
    let ours;
    const oursEst = spec.capOurs ? estimate(spec, n, d, prev.ours[loss]) : 0;
    if (oursEst > o.maxGiB * GiB) {
      cells.push(`not run (needs ~${fmtBytes(oursEst)})`, '', '');
    } else {
      progress(`pairloss ${loss} ${n}×${d}`);
      ours = fresh(process.execPath, [child, loss, file, String(n), String(d), String(o.threads)]);
      if (ours.ok) {
        prev.ours[loss] = { n, bytes: ours.growthKB * 1024 };
        const route = ours.chunked ? 'row blocks' : 'whole matrix';
        cells.push(`${fmtBytes(ours.growthKB * 1024)}${o.goal ? ` (${((ours.growthKB * 1024) / io).toFixed(2)}× inputs + gradients)` : ''}`,
          fmtMs(ours.ms), spec.p === 2 && loss !== 'koleo' && loss !== 'hypersphere' ? route : '');
      } else {
        cells.push(`failed: ${ours.error}`, '', '');
      }
    }
    // PyTorch
    let theirs;
    if (!torchOn) {
      cells.push(o.goal ? `not run (the ${spec.side * n}² float32 matrix alone is ${fmtBytes(matrix)})` : 'not run (--no-torch)', '');
    } else {
      const est = estimate(spec, n, d, prev.torch[loss]);
      if (est > o.maxGiB * GiB) {
        cells.push(`not run (needs ~${fmtBytes(est)})`, '');
      } else {
        progress(`PyTorch ${spec.torch} ${n}×${d}`);
        theirs = fresh(o.python, [torchBench, 'rss', spec.torch, file, String(n), String(d), String(o.threads)]);
        if (theirs.ok) {
          prev.torch[loss] = { n, bytes: theirs.growthKB * 1024 };
          cells.push(fmtBytes(theirs.growthKB * 1024), fmtMs(theirs.ms));
        } else {
          cells.push(`failed: ${theirs.error}`, '');
        }
      }
    }
    // the two losses agree (float32: relative 1e-4)
    const agree = ours && ours.ok && theirs && theirs.ok ? Math.abs(ours.loss - theirs.loss) <= 1e-4 * Math.max(1, Math.abs(theirs.loss)) : null;
    cells.push(agree === null ? '' : agree ? 'yes' : `NO (${ours.loss} vs ${theirs.loss})`);
    rows.push(cells);
    progress(`  ${cells.filter(Boolean).join(', ')}`); // each row as it comes (a long run stopped early keeps them)
  }
  if (file) fs.rmSync(file, { force: true });
  fs.rmSync(dir, { recursive: true, force: true });
  log();
  log(table(['loss', 'N×D', 'inputs + gradients', 'pairloss growth', 'pairloss time', 'pairloss path', 'PyTorch growth', 'PyTorch time', 'same loss'], rows));
  log();
  log(`total ${((Date.now() - started) / 1e3).toFixed(0)} s; load average at end ${load()} (${cpu.length} cores: above that, other processes shared the CPU and the times are slowed)`);
  if (o.docs && (o.docsGiven || o.goal || o.defaults)) {
    writeDocs(o.docs, o.goal ? MARKERS.goal : MARKERS.table, report.join('\n'));
    process.stdout.write(`written to ${path.relative(process.cwd(), o.docs)} (between its ${o.goal ? 'memory-goal' : 'memory'} markers)\n`);
  } else if (o.docs) {
    process.stdout.write('no docs written: not the default run (pass --docs FILE to write anyway)\n');
  }
}

try {
  main();
} catch (err) {
  process.stderr.write(`bench:memory failed: ${err instanceof UsageError ? err.message : err && err.stack ? err.stack : err}\n`);
  process.exit(1);
}
