#!/usr/bin/env node
'use strict';
/**
 * `npm run bench`: pairloss against PyTorch-from-Python, TensorFlow.js (cpu,
 * wasm) and plain JavaScript, float32, forward + backward, on identical
 * inputs, in one run. See --help.
 */
const fs = require('fs');
const os = require('os');
const path = require('path');
const readline = require('readline');
const { spawn, spawnSync } = require('child_process');
const { monitorEventLoopDelay } = require('perf_hooks');
const { normals, nowMs, measure, stats, fmtTime, fmtStats, fmtRatio, table, startHogs } = require('./common');

const HELP = `Usage: node bench/run.js [options]   (npm run bench -- [options])

  --sizes 32x128,256x256   N×D problems (default 32x128,256x256,1024x512,4096x256)
  --quick                  fewer repetitions (about a quarter of the time)
  --device cuda            run pairloss and PyTorch on this device (tfjs and plain JS stay on the CPU)
  --max-call-s 10          skip a peer (tfjs, plain JS) at sizes where one call would take longer (estimated)
  --only LIST              sections to run, of agreement,main,concurrency,threads,rss (default: all)
  --no-extras              the same as --only agreement,main
  --json FILE              also write every measurement to FILE
  --python PATH            the Python with torch (default /usr/bin/python3)
  --torch-threads N        PyTorch's intra-op threads (default: its own default)
  --concurrency-sizes LIST N×D problems of the concurrency section (default 256x256)
  --hog N                  run N busy processes (node, nice 0) beside the whole run, e.g. one per core:
                           the busy many-core server case; each ends by itself after --hog-max-s
  --hog-max-s 1800         the longest a hog lives if the bench cannot kill it (default 1800)
  --docs FILE              where the run's tables go (default docs/PERFORMANCE.md, between its
                           bench markers); written after a full default run, or with --docs given
  --no-docs                write no docs file
`;

const DOCS = path.join(__dirname, '..', 'docs', 'PERFORMANCE.md');
const BEGIN = '<!-- bench:begin (written by `npm run bench`; do not edit by hand) -->';
const END = '<!-- bench:end -->';

/**
 * Puts a run's report (the Markdown the bench printed) between the bench
 * markers of the docs file, leaving the prose around them as it is; a file
 * without the markers gets them at its end.
 */
function writeDocs(file, report) {
  const block = `${BEGIN}\n\`\`\`\n${report.trimEnd()}\n\`\`\`\n${END}`;
  const old = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '# pairloss performance\n';
  const b = old.indexOf(BEGIN);
  const e = old.indexOf(END);
  const text = b >= 0 && e > b ? `${old.slice(0, b)}${block}${old.slice(e + END.length)}` : `${old.trimEnd()}\n\n${block}\n`;
  fs.writeFileSync(file, text);
}

/** A bad option or an unusable setting: reported in one line, without a stack. */
class UsageError extends Error {}

function parseArgs(argv) {
  const o = {
    sizes: [[32, 128], [256, 256], [1024, 512], [4096, 256]],
    quick: false,
    device: 'cpu',
    maxCallS: 10,
    only: new Set(['agreement', 'main', 'concurrency', 'threads', 'rss']),
    json: null,
    python: '/usr/bin/python3',
    concurrencySizes: [[256, 256]],
    hog: 0,
    hogMaxS: 1800,
    docs: DOCS,
    docsGiven: false,
    defaults: true,
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const val = () => {
      const v = a.includes('=') ? a.slice(a.indexOf('=') + 1) : argv[++i];
      if (v === undefined) throw new UsageError(`${a} needs a value`);
      return v;
    };
    const key = a.split('=')[0];
    // any option but these makes a partial or different run, whose tables do not replace the docs' unless --docs says so
    if (!['--json', '--python', '--docs', '--no-docs'].includes(key)) o.defaults = false;
    if (key === '--help' || key === '-h') {
      process.stdout.write(HELP);
      process.exit(0);
    } else if (key === '--sizes') {
      o.sizes = val().split(',').map((s) => {
        const m = /^(\d+)x(\d+)$/i.exec(s.trim());
        if (!m || Number(m[1]) < 2 || Number(m[2]) < 2) throw new UsageError(`--sizes: expected NxD with N, D >= 2, got '${s}'`);
        return [Number(m[1]), Number(m[2])];
      });
    } else if (key === '--concurrency-sizes') {
      o.concurrencySizes = val().split(',').map((s) => {
        const m = /^(\d+)x(\d+)$/i.exec(s.trim());
        if (!m || Number(m[1]) < 2 || Number(m[2]) < 2) throw new UsageError(`--concurrency-sizes: expected NxD with N, D >= 2, got '${s}'`);
        return [Number(m[1]), Number(m[2])];
      });
    } else if (key === '--quick') o.quick = true;
    else if (key === '--device') o.device = val();
    else if (key === '--max-call-s') o.maxCallS = Number(val());
    else if (key === '--no-extras') o.only = new Set(['agreement', 'main']);
    else if (key === '--only') {
      o.only = new Set(val().split(',').map((x) => x.trim()));
      for (const x of o.only) if (!['agreement', 'main', 'concurrency', 'threads', 'rss'].includes(x)) throw new UsageError(`--only: unknown section '${x}'`);
    }
    else if (key === '--json') o.json = val();
    else if (key === '--docs') {
      o.docs = path.resolve(val());
      o.docsGiven = true;
    } else if (key === '--no-docs') o.docs = null;
    else if (key === '--python') o.python = val();
    else if (key === '--torch-threads') {
      o.torchThreads = Number(val());
      if (!Number.isInteger(o.torchThreads) || o.torchThreads < 1) throw new UsageError('--torch-threads: expected an integer >= 1');
    }
    else if (key === '--hog' || key === '--hog-max-s') {
      const v = Number(val());
      if (!Number.isInteger(v) || v < (key === '--hog' ? 0 : 1)) throw new UsageError(`${key}: expected an integer >= ${key === '--hog' ? 0 : 1}`);
      if (key === '--hog') o.hog = v;
      else o.hogMaxS = v;
    }
    else throw new UsageError(`unknown option '${a}' (see --help)`);
  }
  return o;
}

/** The PyTorch side: one long-lived /usr/bin/python3 bench/torch_bench.py serve. */
class Torch {
  static start(python) {
    const probe = spawnSync(python, ['-c', 'import torch, numpy'], { encoding: 'utf8' });
    if (probe.status !== 0) return { error: `${python} cannot import torch and numpy (${(probe.stderr || probe.error || '').toString().trim().split('\n').pop()})` };
    const t = new Torch();
    t.python = python;
    t.proc = spawn(python, [path.join(__dirname, 'torch_bench.py'), 'serve'], { stdio: ['pipe', 'pipe', 'inherit'] });
    t.waiting = [];
    readline.createInterface({ input: t.proc.stdout }).on('line', (line) => {
      const w = t.waiting.shift();
      if (w) w(JSON.parse(line));
    });
    t.proc.on('exit', () => t.waiting.splice(0).forEach((w) => w({ ok: false, error: 'python exited' })));
    return t;
  }

  request(obj) {
    return new Promise((resolve, reject) => {
      this.waiting.push((res) => (res.ok ? resolve(res.result) : reject(new Error(`torch_bench.py: ${res.error}`))));
      this.proc.stdin.write(`${JSON.stringify(obj)}\n`);
    });
  }

  stop() {
    this.proc.stdin.end(`${JSON.stringify({ cmd: 'quit' })}\n`);
  }
}

const LOSSES = ['npairs', 'correlation', 'siglip', 'supcon', 'ntxent', 'vicreg', 'negcos', 'koleo', 'hypersphere', 'dcl', 'triplet', 'arcface'];
const LOSS_LABEL = {
  npairs: 'N-pairs', correlation: 'correlation', siglip: 'SigLIP', supcon: 'SupCon', ntxent: 'NT-Xent', vicreg: 'VICReg',
  negcos: 'neg. cosine', koleo: 'KoLeo', hypersphere: 'align.–unif.', dcl: 'DCL', triplet: 'triplet', arcface: 'ArcFace',
};
/** The losses the Node.js alternatives (tfjs, plain JS) implement, and the ones the extra sections (concurrency, threads, RSS) measure. */
const CORE_LOSSES = ['npairs', 'correlation'];
const PEER_LOSSES = CORE_LOSSES;
/**
 * The GEMM flop of one forward + backward, for the GEMM limit: 3 GEMMs over the loss's matrix (N×N; SupCon over
 * both views and NT-Xent 2N×2N), and VICReg's 4 of D×D×N (each view's covariance and its gradient); the negative
 * cosine has no product (one pass over the inputs), KoLeo 1 N×N×D (the similarities: the nearest neighbours are
 * constants of the gradient, which needs no product, in lightly's graph as in ours), the alignment–uniformity 4
 * (each view's Gram matrix and its gradient's), DCL 1.5 of a 2N×2N matrix (X = [z1; z2] is both sides: its Gram
 * matrix by syrk, half a product, and (G + Gᵀ) X back). Also the matrix's elements, for the one memory pass.
 */
function gemmWork(loss, n, d) {
  if (loss === 'vicreg') return { flops: 4 * 2 * d * d * n, elements: 2 * d * d };
  if (loss === 'negcos') return { flops: 0, elements: 4 * n * d };
  if (loss === 'koleo') return { flops: 2 * n * n * d, elements: n * n };
  if (loss === 'hypersphere') return { flops: 4 * 2 * n * n * d, elements: 2 * n * n };
  if (loss === 'dcl') return { flops: 1.5 * 2 * 4 * n * n * d, elements: 4 * n * n };
  // triplet: the N×N distance matrix and one product of its weights with x
  if (loss === 'triplet') return { flops: 2 * 2 * n * n * d, elements: n * n };
  const side = (loss === 'supcon' || loss === 'ntxent' ? 2 : 1) * n;
  return { flops: 3 * 2 * side * side * d, elements: side * side };
}
/** SupCon's classes in the bench: i mod max(1, N/4) for sample i, both views (bench/torch_bench.py: the same). */
const supconLabels = (n) => Int32Array.from({ length: 2 * n }, (_v, i) => (i % n) % Math.max(1, Math.floor(n / 4)));
const PEERS = ['tfjs-wasm', 'tfjs-cpu', 'plainjs'];
const IMPL_LABEL = {
  sync: 'pairloss sync', async: 'pairloss async', torch: 'PyTorch (Python)',
  'tfjs-wasm': 'tfjs wasm', 'tfjs-cpu': 'tfjs cpu', plainjs: 'plain JS',
};

/** Inputs of one size: x1, x2 ~ N(0, 1), the same for every implementation (and written for Python). */
function inputs(n, d, dir) {
  const all = normals(2 * n * d, 1000003 * n + d);
  const file = path.join(dir, `in_${n}x${d}.bin`);
  fs.writeFileSync(file, Buffer.from(all.buffer, all.byteOffset, all.byteLength));
  return { n, d, file, x1: all.subarray(0, n * d), x2: all.subarray(n * d) };
}

/** PyTorch's gradients of x1 and x2 for each of `losses`, in that order (bench/torch_bench.py's gradsOut). */
function readGrads(file, n, d, losses) {
  const buf = fs.readFileSync(file);
  const all = new Float32Array(buf.buffer, buf.byteOffset, buf.byteLength / 4);
  const k = n * d;
  return Object.fromEntries(losses.map((loss, i) => [loss, [all.subarray(2 * i * k, (2 * i + 1) * k), all.subarray((2 * i + 1) * k, (2 * i + 2) * k)]]));
}

/** max |a − b| / max |b|, and whether every element is within rtol 1e-5 / atol 1e-6 (DESIGN.md's float32 bar). */
function compareGrads(a, b) {
  let maxDiff = 0;
  let maxRef = 0;
  let close = true;
  for (let i = 0; i < b.length; i++) {
    const diff = Math.abs(a[i] - b[i]);
    if (!(diff <= maxDiff)) maxDiff = diff;
    if (Math.abs(b[i]) > maxRef) maxRef = Math.abs(b[i]);
    if (!(diff <= 1e-6 + 1e-5 * Math.abs(b[i]))) close = false;
  }
  // a zero reference (triplet's unused x2): the absolute difference
  return { rel: maxRef === 0 ? maxDiff : maxDiff / maxRef, close };
}

const toArray = (g) => (g && typeof g.data === 'function' ? g.data() : g);
/** The gradients of x1 and x2 from SupCon's over z = [x1; x2] (npairsLoss(z, z): grad1 + grad2, split in halves). */
function viewGradients(g1, g2) {
  const sum = Float32Array.from(g1, (v, k) => v + g2[k]);
  return [sum.subarray(0, sum.length / 2), sum.subarray(sum.length / 2)];
}

let hogs = null; // --hog: stopped at the end, also on failure

let tmpDir = null; // inputs for Python and the child processes; removed at the end, also on failure

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  if (opts.hog > 0) {
    hogs = startHogs(opts.hog, opts.hogMaxS);
    await new Promise((r) => setTimeout(r, 500)); // let them start spinning before anything is timed
  }
  const started = nowMs();
  const load0 = os.loadavg();
  // maxReps: enough calls of a 50 µs loss to span several of V8's GC cycles
  // (one every ~2000 calls at 32×128), which change a call's time by half
  const policy = opts.quick
    ? { quick: true, minReps: 3, maxReps: 300, budgetMs: 300 }
    : { quick: false, minReps: 5, maxReps: 3000, budgetMs: 1500 };
  const pl = require(path.join(__dirname, '..', 'dist', 'lib'));
  if (opts.device !== 'cpu' && !pl.cuda.isAvailable()) {
    throw new UsageError(`--device ${opts.device}: cuda.isAvailable() is false (LibTorch ${pl.torchVersion} built without CUDA, or no GPU visible); ` +
      'run without --device, or build pairloss against a CUDA LibTorch (Torch_DIR / LIBTORCH_DIR)');
  }
  // On a GPU: inputs are placed there once per size, results stay there (see ours()).
  const onDevice = opts.device !== 'cpu';
  // Waits for the GPU: a 1×1 product read back to host, which waits for everything queued on the
  // stream before it (as the torch side's torch.cuda.synchronize()); nothing on the CPU.
  const unit = onDevice ? pl.Tensor.from(new Float32Array([1]), [1, 1], { device: opts.device }) : null;
  const deviceSync = () => {
    if (!unit) return;
    const t = pl.matmul(unit, unit);
    t.data();
    t.dispose();
  };
  tmpDir = fs.mkdtempSync(path.join(os.tmpdir(), 'pairloss-bench-'));
  const dir = tmpDir;
  const out = { machine: {}, rows: [], agreement: null, concurrency: null, threads: null, rss: null };
  const report = [];
  const log = (s = '') => {
    process.stdout.write(`${s}\n`);
    report.push(s);
  };
  const progress = (s) => process.stderr.write(`  … ${s}\n`);

  // ---------- machine and versions ----------
  const threads = pl.getNumThreads();
  const torch = Torch.start(opts.python);
  let tinfo = null;
  if (torch.error) {
    log(`PyTorch: not available — ${torch.error}; its columns read n/a.`);
  } else {
    // PyTorch runs with its own default thread count, as a user gets it
    // (`--torch-threads N` to choose); the threads section compares 1 and 2.
    if (opts.torchThreads) await torch.request({ cmd: 'threads', n: opts.torchThreads });
    tinfo = await torch.request({ cmd: 'info' });
  }
  const cpu = os.cpus();
  const machine = {
    cpu: `${cpu[0] ? cpu[0].model : '?'} × ${cpu.length} logical cores`,
    memGB: (os.totalmem() / 2 ** 30).toFixed(0),
    node: process.version,
    pairloss: pl.version,
    libtorch: pl.torchVersion,
    pairlossThreads: threads,
    torch: tinfo ? tinfo.torch : 'n/a',
    torchThreads: tinfo ? tinfo.numThreads : 'n/a',
    python: tinfo ? tinfo.python : 'n/a',
    openblasThreadsEnv: process.env.OPENBLAS_NUM_THREADS || '(unset)',
    openblas: tinfo && tinfo.openblas ? `${tinfo.openblas.config.split(' ').slice(0, 2).join(' ')}, ${tinfo.openblas.threads} thread(s) in its own pool` : 'unknown',
    ompThreadsEnv: process.env.OMP_NUM_THREADS || '(unset)',
    device: opts.device,
    loadavgStart: load0.map((x) => x.toFixed(2)).join(' '),
  };
  out.machine = machine;
  log(`# pairloss bench — ${new Date().toISOString()}`);
  log(`machine: ${machine.cpu}, ${machine.memGB} GB; load average at start ${machine.loadavgStart}`);
  log(`node ${machine.node}; pairloss ${machine.pairloss} on LibTorch ${machine.libtorch}; PyTorch ${machine.torch} (Python ${machine.python})`);
  log(`threads: pairloss at::get_num_threads() = ${threads}; torch.get_num_threads() = ${machine.torchThreads} ` +
    `(${opts.torchThreads ? '--torch-threads' : "PyTorch's default"}); BLAS: ${machine.openblas} (set_num_threads does not change it; ` +
    `both processes load the same library); OPENBLAS_NUM_THREADS=${machine.openblasThreadsEnv}, OMP_NUM_THREADS=${machine.ompThreadsEnv}`);
  if (hogs) log(`hogs: ${hogs.n} busy node process(es) at nice 0 beside the whole run (--hog ${hogs.n}; ${os.cpus().length} logical cores)`);
  log(`device: ${opts.device}${opts.device !== 'cpu' ? ' (pairloss and PyTorch; tfjs and plain JS on the CPU)' : ''}; float32; forward + backward; ` +
    `times are median (p10–p90) per call; ${opts.quick ? 'quick mode' : 'full mode'}`);
  log();

  // ---------- the machine's limits: sgemm rate, memory pass ----------
  progress('sgemm rate (1024×1024×1024) and memory bandwidth');
  const G = 1024;
  const place = (data, shape) => (onDevice ? pl.Tensor.from(data, shape, { device: opts.device }) : { data, shape });
  const ga = place(normals(G * G, 7), [G, G]);
  const gb = place(normals(G * G, 8), [G, G]);
  // The sgemm rate of this machine right now: the faster of our matmul and torch.mm on 1024³ (median).
  // Measured here and again before each size, so that each row's limit sees the same load as the row.
  async function sgemm(budgetMs) {
    const pol = { ...policy, minReps: 5, budgetMs };
    const gemm = () => {
      pl.matmul(ga, gb).dispose();
      deviceSync();
    };
    const ours = (2 * G ** 3) / ((await measure(gemm, pol, false)).median * 1e-3) / 1e9;
    const theirs = torch.error ? NaN : (await torch.request({ cmd: 'gemm', n: G, policy: pol, device: opts.device })).gflops;
    return { ours, torch: theirs, rate: Math.max(ours, Number.isFinite(theirs) ? theirs : 0) * 1e9 };
  }
  const g0 = await sgemm(policy.budgetMs);
  const [ourGflops, torchGflops, rate] = [g0.ours, g0.torch, g0.rate]; // flop/s
  const big = new Float32Array(16 * 2 ** 20);
  const big2 = new Float32Array(16 * 2 ** 20).fill(1);
  const copy = await measure(() => big.set(big2), { ...policy, minReps: 5 }, false);
  const bandwidth = (big.byteLength / (copy.median * 1e-3)); // bytes copied (read + written) per second
  out.limits = { ourGflops, torchGflops, rateGflops: rate / 1e9, copyGBs: bandwidth / 1e9 };
  log(`sgemm 1024³: pairloss matmul ${ourGflops.toFixed(1)} GFLOP/s, torch.mm ${Number.isFinite(torchGflops) ? torchGflops.toFixed(1) : 'n/a'} GFLOP/s ` +
    `(the faster, ${(rate / 1e9).toFixed(1)} GFLOP/s, is the machine's rate; it is measured again before each size); memory copy ${(bandwidth / 1e9).toFixed(1)} GB/s`);
  log('GEMM limit = 3 GEMMs of 2·N·M·D flop (forward, and the two of the backward; M = N) at that rate + one copy-speed pass over the N×M float32 matrix; SupCon over both views and NT-Xent: the same over their 2N×2N matrix; VICReg: 4 GEMMs of 2·D·D·N flop; KoLeo: 1 GEMM (no product in its gradient); DCL: 1.5 over its 2N×2N matrix (syrk forward, one product back)');
  log();

  // ---------- peers ----------
  const tfjs = require('./tfjs');
  const plain = require('./plainjs');
  const backendDesc = {};
  const peerCall = {
    plainjs: (inp) => ({
      npairs: () => plain.npairsLoss(inp.x1, inp.x2, inp.n, inp.n, inp.d),
      correlation: () => plain.correlationLoss(inp.x1, inp.x2, inp.n, inp.d),
      dispose() {},
    }),
  };
  async function tfjsCalls(backend, inp) {
    backendDesc[backend] = await tfjs.useBackend(backend.replace('tfjs-', ''));
    return tfjs.prepare(inp.x1, inp.x2, inp.n, inp.d);
  }
  const makePeer = async (peer, inp) => (peer === 'plainjs' ? peerCall.plainjs(inp) : tfjsCalls(peer, inp));
  // pairloss's calls on one size's inputs. On a GPU the inputs are copied there once, here, and the
  // results stay there: the timed calls free the gradients at once (GC would free them only when it
  // collects the objects, and GPU memory would pile up meanwhile), and a sync call waits for the GPU
  // (its loss value does not wait for the backward kernels), as the torch side synchronizes. With
  // `keep`, results are returned whole (the caller reads and disposes them). dispose() frees the inputs.
  const ours = (inp, keep = false) => {
    const x1 = place(inp.x1, [inp.n, inp.d]);
    const x2 = place(inp.x2, [inp.n, inp.d]);
    // SupCon over both views: the views one after the other, with their labels (made once, as a trainer holds them)
    const both = new Float32Array(2 * inp.n * inp.d);
    both.set(inp.x1, 0);
    both.set(inp.x2, inp.n * inp.d);
    const z = place(both, [2 * inp.n, inp.d]);
    const supcon = { labels: supconLabels(inp.n), excludeSelf: true, temperature: 0.07 };
    // triplet (x1 alone) and ArcFace (x1 against C = N centres x2): labels i mod max(1, N/4), as torch_bench.py's
    const classes = supconLabels(inp.n).subarray(0, inp.n);
    // their gradients under the names the tables read: grad1 of x1, grad2 of x2 (ArcFace's centres; triplet: none)
    const asPair = (r) => ({ loss: r.loss, grad1: r.grad, grad2: r.gradCenters });
    const settle = (r) => {
      if (onDevice && !keep) {
        if (r.grad) r.grad.dispose();
        if (r.grad1) r.grad1.dispose();
        if (r.grad2) r.grad2.dispose();
      }
      return r;
    };
    const syncCall = (fn) => () => {
      const r = settle(fn(x1, x2));
      if (!keep) deviceSync();
      return r;
    };
    const asyncCall = (fn) => () => fn(x1, x2).then(settle);
    return {
      sync: {
        npairs: syncCall(pl.npairsLoss), correlation: syncCall(pl.correlationLoss),
        supcon: syncCall(() => pl.npairsLoss(z, z, supcon)), ntxent: syncCall(pl.ntXentLoss),
        siglip: syncCall(pl.sigmoidLoss), vicreg: syncCall(pl.vicregLoss),
        negcos: syncCall(pl.negativeCosineLoss), koleo: syncCall((a) => pl.koleoLoss(a)),
        hypersphere: syncCall(pl.alignmentUniformityLoss), dcl: syncCall(pl.dclLoss),
        triplet: syncCall(() => asPair(pl.tripletMarginLoss(x1, classes))), arcface: syncCall(() => asPair(pl.arcFaceLoss(x1, classes, x2))),
      },
      async: {
        npairs: asyncCall(pl.npairsLossAsync), correlation: asyncCall(pl.correlationLossAsync),
        supcon: asyncCall(() => pl.npairsLossAsync(z, z, supcon)), ntxent: asyncCall(pl.ntXentLossAsync),
        siglip: asyncCall(pl.sigmoidLossAsync), vicreg: asyncCall(pl.vicregLossAsync),
        negcos: asyncCall(pl.negativeCosineLossAsync), koleo: asyncCall((a) => pl.koleoLossAsync(a)),
        hypersphere: asyncCall(pl.alignmentUniformityLossAsync), dcl: asyncCall(pl.dclLossAsync),
        triplet: asyncCall(() => pl.tripletMarginLossAsync(x1, classes).then(asPair)),
        arcface: asyncCall(() => pl.arcFaceLossAsync(x1, classes, x2).then(asPair)),
      },
      dispose() {
        if (onDevice) {
          x1.dispose();
          x2.dispose();
          z.dispose();
        }
      },
    };
  };
  const disposeResult = (r) => {
    if (r && r.grad && typeof r.grad.dispose === 'function') r.grad.dispose();
    if (r && r.grad1 && typeof r.grad1.dispose === 'function') r.grad1.dispose();
    if (r && r.grad2 && typeof r.grad2.dispose === 'function') r.grad2.dispose();
  };

  // ---------- agreement at 256×256 (before any timing: comparing wrong answers is worthless) ----------
  if (opts.only.has('agreement')) {
    progress('agreement check at 256×256');
    const inp = inputs(256, 256, dir);
    const agree = { n: 256, d: 256, rows: [] };
    let ref = null;
    if (!torch.error) {
      const gradsOut = path.join(dir, 'grads_256x256.bin');
      const r = await torch.request({ cmd: 'bench', file: inp.file, n: 256, d: 256, losses: LOSSES, device: opts.device, gradsOut, policy: { minReps: 1, maxReps: 1, budgetMs: 0 } });
      ref = { loss: Object.fromEntries(LOSSES.map((loss) => [loss, r[loss].value])), grads: readGrads(gradsOut, 256, 256, LOSSES) };
    }
    const o = ours(inp, true);
    const results = { sync: {}, async: {} };
    for (const loss of LOSSES) {
      results.sync[loss] = o.sync[loss]();
      results.async[loss] = await o.async[loss]();
    }
    for (const peer of PEERS) {
      const p = await makePeer(peer, inp);
      results[peer] = {};
      for (const loss of PEER_LOSSES) results[peer][loss] = p[loss]();
      p.dispose();
    }
    const rows = [];
    let bad = 0;
    for (const impl of ['sync', 'async', ...PEERS]) {
      const row = [IMPL_LABEL[impl]];
      const rec = { impl };
      for (const loss of LOSSES) {
        const r = results[impl][loss];
        if (!r) {
          row.push('n/a', '', '', '');
          continue;
        }
        row.push(r.loss.toPrecision(8));
        if (ref) {
          const rel = Math.abs(r.loss - ref.loss[loss]) / Math.abs(ref.loss[loss]);
          // SupCon over both views: z = [x1; x2] is x1 and x2 of npairsLoss, its gradient grad1 + grad2
          // KoLeo has one input (x1), triplet leaves x2 unused: x2's gradient is 0 on both sides
          const [a1, a2] = loss === 'supcon' ? viewGradients(toArray(r.grad1), toArray(r.grad2))
            : loss === 'koleo' ? [toArray(r.grad), new Float32Array(inp.n * inp.d)]
              : [toArray(r.grad1), r.grad2 ? toArray(r.grad2) : new Float32Array(ref.grads[loss][1].length)];
          const g1 = compareGrads(a1, ref.grads[loss][0]);
          const g2 = compareGrads(a2, ref.grads[loss][1]);
          // (KoLeo: x2's gradient is 0 on both sides, its rel 0/0)
          const grel = loss === 'koleo' ? g1.rel : Math.max(g1.rel, g2.rel);
          // pairloss is held to DESIGN.md's bar (every element within rtol 1e-5 / atol 1e-6, loss rel 1e-5);
          // peers to float32 agreement (tfjs wasm accumulates sums in float32: loss rel 1e-3, grad rel 1e-4).
          const ours = impl === 'sync' || impl === 'async';
          const ok = ours ? rel <= 1e-5 && g1.close && g2.close : rel <= 1e-3 && grel <= 1e-4;
          if (!ok) bad++;
          row.push(rel.toExponential(1), grel.toExponential(1), g1.close && g2.close ? 'yes' : 'no');
          rec[loss] = { loss: r.loss, relLoss: rel, relGrad: grel, allclose: g1.close && g2.close, ok };
        } else {
          row.push('n/a', 'n/a', 'n/a');
          rec[loss] = { loss: r.loss };
        }
      }
      rows.push(row);
      agree.rows.push(rec);
    }
    if (ref) rows.unshift(['PyTorch (reference)', ...LOSSES.flatMap((loss) => [ref.loss[loss].toPrecision(8), '0', '0', 'yes'])]);
    out.agreement = agree;
    for (const impl of ['sync', 'async']) for (const loss of LOSSES) disposeResult(results[impl][loss]);
    o.dispose();
    log('## Agreement at 256×256 (float32), against PyTorch on the same inputs');
    log('loss rel = |loss − torch| / |torch|; grad rel = max |g − g_torch| / max |g_torch| over grad1 and grad2; allclose = every element within rtol 1e-5, atol 1e-6');
    log(table(['implementation', ...LOSSES.flatMap((loss) => [`${LOSS_LABEL[loss]} loss`, 'loss rel', 'grad rel', 'allclose'])], rows));
    log(ref ? (bad ? `WARNING: ${bad} result(s) disagree with PyTorch (pairloss: beyond DESIGN.md's rtol 1e-5 / atol 1e-6; peers: loss rel > 1e-3 or grad rel > 1e-4) — their timings compare different answers.`
      : 'Agreement: pairloss within DESIGN.md\'s float32 bar (loss rel ≤ 1e-5, every gradient element within rtol 1e-5 / atol 1e-6); ' +
        'every peer within float32 agreement (loss rel ≤ 1e-3, grad rel ≤ 1e-4; tfjs wasm accumulates its sums in float32, so a loss summed over N² terms drifts by ~1e-4).') : 'No PyTorch: agreement not checked.');
    log();
  }

  // ---------- main table ----------
  const last = {}; // impl/loss -> { n, d, median } for the skip estimates
  const est = (key, n, d) => {
    // Scaled by N·N·D from the largest size measured so far, if that was not dominated by per-call overhead.
    const l = last[key];
    return l && l.n * l.n * l.d >= 256 * 256 * 128 ? l.median * ((n * n * d) / (l.n * l.n * l.d)) : NaN;
  };
  for (const [n, d] of opts.only.has('main') ? opts.sizes : []) {
    progress(`${n}×${d}`);
    const inp = inputs(n, d, dir);
    const g = await sgemm(policy.quick ? 150 : 400);
    const cell = {};
    for (const loss of LOSSES) cell[loss] = {};
    if (!torch.error) {
      const r = await torch.request({ cmd: 'bench', file: inp.file, n, d, losses: LOSSES, device: opts.device, policy });
      for (const loss of LOSSES) cell[loss].torch = { ...stats(r[loss].times), value: r[loss].value };
    }
    const o = ours(inp);
    for (const kind of ['sync', 'async']) {
      for (const loss of LOSSES) {
        const m = await measure(o[kind][loss], policy, kind === 'async');
        cell[loss][kind] = { ...m, value: m.value.loss };
      }
    }
    o.dispose();
    for (const peer of PEERS) {
      let p = null;
      for (const loss of LOSSES) {
        if (!PEER_LOSSES.includes(loss)) {
          cell[loss][peer] = { skipped: 'n/a' };
          continue;
        }
        const key = `${peer}/${loss}`;
        let e = est(key, n, d);
        if (!Number.isFinite(e) && n > 256) {
          // No smaller size measured in this run: time one call at 256×D to estimate.
          const small = inputs(256, d, dir);
          const q = await makePeer(peer, small);
          q[loss]();
          const t0 = nowMs();
          q[loss]();
          last[key] = { n: 256, d, median: nowMs() - t0 };
          q.dispose();
          e = est(key, n, d);
        }
        if (e > opts.maxCallS * 1000) {
          cell[loss][peer] = { skipped: `skipped (too slow: est. ${fmtTime(e)})`, estimateMs: e };
          continue;
        }
        try {
          if (!p) p = await makePeer(peer, inp);
          const m = await measure(p[loss], policy, false);
          cell[loss][peer] = { ...m, value: m.value.loss };
          last[key] = { n, d, median: m.median };
        } catch (err) {
          cell[loss][peer] = { skipped: `failed: ${String(err.message || err).split('\n')[0].slice(0, 60)}` };
        }
      }
      if (p) p.dispose();
    }
    const slim = (v) => ({ median: v.median, p10: v.p10, p90: v.p90, reps: v.reps, value: v.value, skipped: v.skipped, estimateMs: v.estimateMs });
    for (const loss of LOSSES) {
      const work = gemmWork(loss, n, d);
      const limitMs = (work.flops / g.rate + (work.elements * 4) / bandwidth) * 1e3;
      out.rows.push({ n, d, loss, limitMs, sgemmGflops: g.rate / 1e9, cells: Object.fromEntries(Object.entries(cell[loss]).map(([k, v]) => [k, slim(v)])) });
    }
  }
  const flagged = [];
  const fmtOverhead = (ms) => (Number.isFinite(ms) ? `${ms < 0 ? '−' : '+'}${fmtTime(Math.abs(ms))}` : 'n/a');
  const mainRows = out.rows.map((r) => {
    const c = r.cells;
    const t = c.torch ? c.torch.median : NaN;
    // Every timed call's loss is compared with PyTorch's on the same inputs: ⚠ marks a rel. difference above 1e-5 (pairloss) / 1e-3 (peers).
    const f = (v) => {
      const s = fmtStats(v);
      if (!v || v.skipped || !c.torch || !Number.isFinite(v.value)) return s;
      const tol = v === c.sync || v === c.async ? 1e-5 : 1e-3;
      const rel = Math.abs(v.value - c.torch.value) / Math.abs(c.torch.value);
      const bad = !(rel <= tol);
      if (bad) flagged.push(`${Object.keys(c).find((k) => c[k] === v)} ${r.loss} ${r.n}×${r.d}: rel ${rel.toExponential(1)}`);
      return bad ? `${s} ⚠` : s;
    };
    return [
      `${r.n}×${r.d}`, LOSS_LABEL[r.loss], f(c.sync), f(c.async), c.torch ? fmtStats(c.torch) : 'n/a',
      fmtRatio(c.sync.median / t), fmtRatio(c.async.median / t), fmtOverhead(c.async.median - c.sync.median), `${fmtTime(r.limitMs)} @${r.sgemmGflops.toFixed(0)}`, fmtRatio(c.sync.median / r.limitMs),
      f(c['tfjs-wasm']), f(c['tfjs-cpu']), f(c.plainjs),
    ];
  });
  if (opts.only.has('main')) {
  log(`## Forward + backward, float32, ${opts.device}: median (p10–p90) per call`);
  log(table(['N×D', 'loss', 'pairloss sync', 'pairloss async', 'PyTorch', 'sync/torch', 'async/torch', 'async − sync', 'GEMM limit', 'sync/limit', 'tfjs wasm', 'tfjs cpu', 'plain JS'], mainRows));
  log('GEMM limit @R: computed with the sgemm rate R GFLOP/s measured just before that size (see above).');
  log(`pairloss async: one call at a time (await); async − sync: the difference of the two medians. PyTorch: the seed's NPairsLoss (docs/DESIGN.md, "The seed") with torch.eye(N) built once outside the loop, and correlation_loss_func; HobbitLong's SupConLoss over both views (temperature 0.07, classes i mod N/4; ours: npairsLoss(z, z, { labels, excludeSelf })) lightly's NTXentLoss (temperature 0.5), open_clip's SigLipLoss (scale 10 and bias −10, learnable) lightly's VICRegLoss, and lightly's NegativeCosineSimilarity, KoLeoLoss (of x1), HypersphereLoss and DCLLoss with their defaults, and pytorch-metric-learning's TripletMarginLoss with BatchHardMiner (x1, classes i mod N/4) and ArcFaceLoss (x1 against C = N centres x2, W = x2ᵀ) as scripts/oracle_pml.py writes them from PML's code (PML is not installed): each with .backward(), timed with time.perf_counter in Python.`);
  log(flagged.length ? `WARNING: cells marked ⚠ returned a loss further from PyTorch's on the same inputs than rel. 1e-5 (pairloss) / 1e-3 (peers): ${flagged.join('; ')}` +
      (flagged.every((f) => f.startsWith('tfjs-wasm')) ? ' (tfjs wasm accumulates its sums in float32; its gradients agree, see the agreement check)' : '')
    : 'Every timed call returned PyTorch\'s loss on the same inputs (rel. difference ≤ 1e-5 for pairloss, ≤ 1e-3 for the peers).');
  log(`tfjs: ${[backendDesc['tfjs-wasm'], backendDesc['tfjs-cpu']].filter(Boolean).join('; ')}; gradients by tf.valueAndGrads, results read back with dataSync.`);
  log();
  }

  for (const [cn, cd] of opts.only.has('concurrency') ? opts.concurrencySizes : []) {
    // ---------- concurrency ----------
    progress(`concurrency at ${cn}×${cd}`);
    const inp = inputs(cn, cd, dir);
    const o = ours(inp);
    const dur = opts.quick ? 700 : 2000;
    const conc = [];
    async function run(K, fn) {
      const h = monitorEventLoopDelay({ resolution: 1 });
      await new Promise((r) => setTimeout(r, 20));
      h.enable();
      let done = 0;
      const t0 = nowMs();
      const end = t0 + dur;
      const worker = async () => {
        while (nowMs() < end) {
          await fn();
          done++;
        }
      };
      await Promise.all(Array.from({ length: K }, worker));
      const el = nowMs() - t0;
      // One more turn of the loop before reading the delays: callers whose
      // Promises settle at once (inline calls) may have held the loop until
      // now, and the histogram's timer records that only when it fires.
      await new Promise((r) => setTimeout(r, 2));
      h.disable();
      return { perSec: (done / el) * 1e3, p99: h.percentile(99) / 1e6, max: h.max / 1e6 };
    }
    async function syncLoop(fn) {
      // For contrast: the sync call in a loop that yields between calls (setImmediate).
      const h = monitorEventLoopDelay({ resolution: 1 });
      h.enable();
      let done = 0;
      const t0 = nowMs();
      while (nowMs() < t0 + dur) {
        fn();
        done++;
        await new Promise((r) => setImmediate(r));
      }
      const el = nowMs() - t0;
      h.disable();
      return { perSec: (done / el) * 1e3, p99: h.percentile(99) / 1e6, max: h.max / 1e6 };
    }
    const rows = [];
    for (const K of ['sync', 1, 2, 8, 64]) {
      const row = [K === 'sync' ? 'sync loop (for contrast)' : `K = ${K} async`];
      const rec = { K };
      for (const loss of CORE_LOSSES) {
        const r = K === 'sync' ? await syncLoop(o.sync[loss]) : await run(K, o.async[loss]);
        rec[loss] = r;
        row.push(r.perSec.toFixed(0), `${r.p99.toFixed(1)} ms`, `${r.max.toFixed(1)} ms`);
      }
      rows.push(row);
      conc.push(rec);
    }
    (out.concurrency ??= []).push({ n: cn, d: cd, rows: conc });
    o.dispose();
    log(`## Concurrency at ${cn}×${cd}: K callers each awaiting one async call after another for ${dur / 1000} s`);
    log(`losses/s and the event loop's delay (perf_hooks.monitorEventLoopDelay, resolution 1 ms), libuv pool ${process.env.UV_THREADPOOL_SIZE || 4} threads, intra-op threads ${pl.getNumThreads()}`);
    log(table(['callers', 'N-pairs losses/s', 'loop p99', 'loop max', 'correlation losses/s', 'loop p99', 'loop max'], rows));
    log();
  }

  if (opts.only.has('threads')) {
    // ---------- threads ----------
    progress('threads 1 vs 2 at 1024×512');
    const ti = inputs(1024, 512, dir);
    const to = ours(ti);
    const trows = [];
    out.threads = [];
    for (const k of [1, 2]) {
      pl.setNumThreads(k);
      const row = [String(k)];
      const rec = { threads: k };
      let tr = null;
      if (!torch.error) {
        await torch.request({ cmd: 'threads', n: k });
        tr = await torch.request({ cmd: 'bench', file: ti.file, n: 1024, d: 512, losses: CORE_LOSSES, device: opts.device, policy: { ...policy, budgetMs: policy.budgetMs / 2 } });
      }
      for (const loss of CORE_LOSSES) {
        const m = await measure(to.sync[loss], { ...policy, budgetMs: policy.budgetMs / 2 }, false);
        const t = tr ? stats(tr[loss].times) : null;
        rec[loss] = { ours: m.median, torch: t ? t.median : null };
        row.push(fmtStats(m), t ? fmtStats(t) : 'n/a', t ? fmtRatio(m.median / t.median) : 'n/a');
      }
      trows.push(row);
      out.threads.push(rec);
    }
    to.dispose();
    pl.setNumThreads(threads);
    if (!torch.error) await torch.request({ cmd: 'threads', n: machine.torchThreads });
    log('## Intra-op threads at 1024×512 (setNumThreads / torch.set_num_threads), sync calls');
    log(table(['threads', 'N-pairs pairloss', 'N-pairs PyTorch', 'ratio', 'correlation pairloss', 'correlation PyTorch', 'ratio'], trows));
    log(`(the main table runs pairloss with ${threads} thread(s), its default here (one per logical CPU), and PyTorch with ${machine.torchThreads}, its default)`);
    log();
  }

  if (opts.only.has('rss')) {
    // ---------- peak RSS ----------
    progress('peak RSS at 4096×256 (child processes)');
    const [rn, rd] = [4096, 256];
    const ri = inputs(rn, rd, dir);
    const mb = (kb) => `${(kb / 1024).toFixed(0)} MB`;
    // Linux hands a forked child its parent's RSS high-water mark (and exec keeps it in ru_maxrss), so a child
    // spawned straight from this process would report at least this process's size. /bin/sh forks the
    // measured process from its own small image instead ('; true' stops sh from exec'ing it directly).
    const quote = (a) => `'${String(a).replace(/'/g, "'\\''")}'`;
    const fresh = (cmd, args) => spawnSync('/bin/sh', ['-c', `${[cmd, ...args].map(quote).join(' ')}; true`], { encoding: 'utf8' });
    const rrows = [];
    out.rss = [];
    const budgetBytes = 2 * rn * rd * 4 + 2 * rn * rn * 4; // the gradients + two N×N float32 matrices (the inputs are in 'before')
    for (const loss of CORE_LOSSES) {
      const r = fresh(process.execPath, [path.join(__dirname, 'rss_child.js'), loss, ri.file, String(rn), String(rd), String(threads)]);
      const rec = { loss };
      if (r.status === 0) {
        const j = JSON.parse(r.stdout.trim().split('\n').pop());
        rec.ours = j;
        const route = loss === 'npairs' ? (j.chunked ? ' (chunked)' : ' (unchunked)') : '';
        rrows.push([`pairloss sync, ${LOSS_LABEL[loss]}${route}`, mb(j.baselineKB), mb(j.peakKB), mb(j.peakKB - j.baselineKB), mb(j.hwmKB), mb(budgetBytes / 1024)]);
      } else {
        rrows.push([`pairloss sync, ${LOSS_LABEL[loss]}`, 'failed', (r.stderr || '').trim().split('\n').pop(), '', '', '']);
      }
      if (!torch.error) {
        const p = fresh(opts.python, [path.join(__dirname, 'torch_bench.py'), 'rss', loss, ri.file, String(rn), String(rd), String(machine.torchThreads)]);
        if (p.status === 0) {
          const j = JSON.parse(p.stdout.trim().split('\n').pop());
          rec.torch = j;
          rrows.push([`PyTorch, ${LOSS_LABEL[loss]}`, mb(j.baselineKB), mb(j.peakKB), mb(j.peakKB - j.baselineKB), mb(j.hwmKB), '']);
        }
      }
      out.rss.push(rec);
    }
    // An N×N matrix too large to hold (32768² float32 = 4 GiB, and the unchunked path keeps two): the chunked
    // (row-block) N-pairs path, CLIP's symmetric loss, in O(block × N) beyond inputs and gradients.
    const [cn, cd] = [32768, 256];
    progress(`peak RSS and time of one symmetric N-pairs call at ${cn}×${cd} (chunked path)`);
    const ci = inputs(cn, cd, dir);
    // its products: the forward one twice (the column-wise softmax needs every row before any gradient) and the two of the backward
    const gq = await sgemm(policy.quick ? 150 : 400);
    const chunkLimitS = (4 * 2 * cn * cn * cd) / gq.rate;
    const cr = fresh(process.execPath, [path.join(__dirname, 'rss_child.js'), 'npairs', ci.file, String(cn), String(cd), String(threads), JSON.stringify({ symmetric: true })]);
    fs.rmSync(ci.file, { force: true });
    const chunkLabel = `pairloss sync, N-pairs symmetric ${cn}×${cd}`;
    const chunkBudget = 2 * cn * cd * 4 + 2 * cn * cn * 4; // what the unchunked path would need for growth
    let chunkNote = '';
    if (cr.status === 0) {
      const j = JSON.parse(cr.stdout.trim().split('\n').pop());
      out.rss.push({ loss: 'npairs', n: cn, d: cd, options: { symmetric: true }, ours: j });
      rrows.push([`${chunkLabel}${j.chunked ? ' (chunked)' : ' (unchunked)'}`, mb(j.baselineKB), mb(j.peakKB), mb(j.peakKB - j.baselineKB), mb(j.hwmKB),
        `unchunked: ${mb(chunkBudget / 1024)}`]);
      out.rss[out.rss.length - 1].gemmLimitS = chunkLimitS;
      chunkNote = `${cn}×${cd} symmetric N-pairs (forward + backward, one sync call, ${threads} thread(s)): ${(j.ms / 1e3).toFixed(1)} s ` +
        `(${fmtRatio(j.ms / 1e3 / chunkLimitS)} its GEMM limit of ${chunkLimitS.toFixed(1)} s: 4 GEMMs of 2·N²·D flop at ${(gq.rate / 1e9).toFixed(0)} GFLOP/s), ` +
        `peak RSS ${mb(j.peakKB)}; ${j.chunked ? 'row blocks of ~32 MiB, the N×N matrix never held' : 'NOT chunked (PAIRLOSS_CHUNK_BYTES?)'}. ` +
        'PyTorch is not run at this size (its autograd graph holds several 4 GiB N×N matrices).';
    } else {
      rrows.push([chunkLabel, 'failed', (cr.stderr || '').trim().split('\n').pop(), '', '', '']);
    }
    // SigLIP in row blocks: its N×M matrix (16384² float32 = 1 GiB) never held.
    const [sn, sd] = [16384, 64];
    progress(`peak RSS and time of one SigLIP call at ${sn}×${sd} (row blocks)`);
    const si = inputs(sn, sd, dir);
    const sr = fresh(process.execPath, [path.join(__dirname, 'rss_child.js'), 'siglip', si.file, String(sn), String(sd), String(threads)]);
    fs.rmSync(si.file, { force: true });
    const sigLabel = `pairloss sync, SigLIP ${sn}×${sd}`;
    if (sr.status === 0) {
      const j = JSON.parse(sr.stdout.trim().split('\n').pop());
      out.rss.push({ loss: 'siglip', n: sn, d: sd, ours: j, gemmLimitS: (3 * 2 * sn * sn * sd) / gq.rate });
      rrows.push([`${sigLabel}${j.chunked ? ' (row blocks)' : ' (whole matrix)'}`, mb(j.baselineKB), mb(j.peakKB), mb(j.peakKB - j.baselineKB), mb(j.hwmKB),
        `inputs + gradients: ${mb((4 * sn * sd * 4) / 1024)}; whole matrix: ${mb((sn * sn * 4) / 1024)}`]);
      chunkNote += `${chunkNote ? '\n' : ''}${sn}×${sd} SigLIP (forward + backward, one sync call): ${(j.ms / 1e3).toFixed(1)} s ` +
        `(${fmtRatio(j.ms / 1e3 / ((3 * 2 * sn * sn * sd) / gq.rate))} its 3 GEMMs at ${(gq.rate / 1e9).toFixed(0)} GFLOP/s), growth ${mb(j.peakKB - j.baselineKB)}.`;
    } else {
      rrows.push([sigLabel, 'failed', (sr.stderr || '').trim().split('\n').pop(), '', '', '']);
    }
    log(`## Peak RSS of one call at ${rn}×${rd} (and one chunked call at ${cn}×${cd}), fresh process each (process.resourceUsage().maxRSS / getrusage ru_maxrss)`);
    log('growth = peak − high-water mark before the call (library loaded, inputs read, code warmed on 32×D); VmHWM = /proc/self/status cross-check of the peak;');
    log(`budget for growth = the two gradients + two N×N float32 matrices = ${mb(budgetBytes / 1024)} (issue 5; the inputs are already in 'before'), before a fixed overhead`);
    log(table(['call', 'before the call', 'peak (maxRSS)', 'growth', 'VmHWM', 'budget for growth'], rrows));
    if (chunkNote) log(chunkNote);
    log();
  }

  if (!torch.error) torch.stop();
  if (hogs) hogs.stop();
  const load1 = os.loadavg();
  out.machine.loadavgEnd = load1.map((x) => x.toFixed(2)).join(' ');
  out.totalS = (nowMs() - started) / 1e3;
  log(`total bench time ${out.totalS.toFixed(0)} s; load average at end ${out.machine.loadavgEnd} (${os.cpus().length} cores: a load above that means other processes shared the CPU and timings are noisy)`);
  if (opts.json) {
    fs.writeFileSync(opts.json, JSON.stringify(out, (k, v) => (v instanceof Float32Array ? undefined : v), 1));
    process.stdout.write(`measurements written to ${opts.json}\n`);
  }
  if (opts.docs && (opts.defaults || opts.docsGiven)) {
    writeDocs(opts.docs, report.join('\n'));
    process.stdout.write(`the tables written to ${path.relative(process.cwd(), opts.docs)} (between its bench markers)\n`);
  } else if (opts.docs) {
    process.stdout.write(`not written to ${path.relative(process.cwd(), DOCS)}: not the full default run (pass --docs FILE to write anyway)\n`);
  }
  fs.rmSync(dir, { recursive: true, force: true });
}

main().catch((err) => {
  if (hogs) hogs.stop();
  if (tmpDir) fs.rmSync(tmpDir, { recursive: true, force: true });
  process.stderr.write(`bench failed: ${err instanceof UsageError ? err.message : err && err.stack ? err.stack : err}\n`);
  process.exit(1);
});
