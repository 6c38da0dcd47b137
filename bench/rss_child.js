'use strict';
/**
 * Peak RSS of one synchronous pairloss call (forward and backward), in a fresh
 * process (run by run.js and memory.js):
 *   node bench/rss_child.js <loss> <inputs.bin> <N> <D> <threads> [options JSON]
 * loss: npairs, npairs-sym (npairsLoss symmetric, temperature 0.07: CLIP's),
 * correlation, siglip, supcon (supConLoss, classes i mod max(1, N/4)), ntxent,
 * vicreg, barlow (barlowTwinsLoss), negcos, koleo (of x1), hypersphere, dcl.
 * inputs.bin: x1 then x2, float32, row-major.
 * Prints one JSON line:
 *   baselineKB / peakKB: the high-water mark (process.resourceUsage().maxRSS)
 *     before the call (library loaded, inputs in memory, code paths warmed on a
 *     small problem) and after it;
 *   rssBeforeKB / hwmKB: the resident set just before the call, after the
 *     kernel's high-water mark was reset to it (/proc/self/clear_refs "5"), and
 *     VmHWM after the call: hwmKB − rssBeforeKB is the call's own peak growth,
 *     even below an earlier, higher mark (hwmReset false: the reset was refused,
 *     and VmHWM is the process's whole-life mark);
 *   ms: the call's wall time; chunked: whether it took a row-block path
 *   (N-pairs, SupCon, NT-Xent or SigLIP); loss; gradBytes: its gradients' bytes.
 */
const fs = require('fs');
const path = require('path');

const [loss, file, nArg, dArg, threadsArg, optsArg] = process.argv.slice(2);
const options = optsArg ? JSON.parse(optsArg) : {};
const n = Number(nArg);
const d = Number(dArg);
const pl = require(path.join(__dirname, '..', 'dist', 'lib'));
pl.setNumThreads(Number(threadsArg));
const buf = fs.readFileSync(file);
const all = new Float32Array(buf.buffer, buf.byteOffset, buf.byteLength / 4);
const x1 = { data: all.subarray(0, n * d), shape: [n, d] };
const x2 = { data: all.subarray(n * d, 2 * n * d), shape: [n, d] };

/** The bench's SupCon classes: i mod max(1, N/4) for sample i (bench/torch_bench.py: the same). */
const classes = (rows) => Int32Array.from({ length: rows }, (_v, i) => i % Math.max(1, Math.floor(rows / 4)));
const CALLS = {
  npairs: (a, b, o) => pl.npairsLoss(a, b, o),
  'npairs-sym': (a, b, o) => pl.npairsLoss(a, b, { symmetric: true, temperature: 0.07, ...o }),
  correlation: (a, b, o) => pl.correlationLoss(a, b, o),
  siglip: (a, b, o) => pl.sigmoidLoss(a, b, o),
  supcon: (a, b, o) => pl.supConLoss(a, b, classes(a.shape[0]), o),
  ntxent: (a, b, o) => pl.ntXentLoss(a, b, o),
  vicreg: (a, b, o) => pl.vicregLoss(a, b, o),
  barlow: (a, b, o) => pl.barlowTwinsLoss(a, b, o),
  negcos: (a, b, o) => pl.negativeCosineLoss(a, b, o),
  koleo: (a, _b, o) => pl.koleoLoss(a, o),
  hypersphere: (a, b, o) => pl.alignmentUniformityLoss(a, b, o),
  dcl: (a, b, o) => pl.dclLoss(a, b, o),
};
const fn = CALLS[loss];
if (!fn) throw new RangeError(`loss must be one of ${Object.keys(CALLS).join(', ')}, got ${loss}`);

const small = { data: new Float32Array(32 * d).map((_, i) => Math.sin(i)), shape: [32, d] };
fn(small, { data: small.data.map((v) => v * 0.5 + 0.1), shape: [32, d] }, options);
const { binding } = require(path.join(__dirname, '..', 'dist', 'lib', 'binding'));
const chunkedBefore = binding().chunking().calls;
const status = (key) => Number(new RegExp(`${key}:\\s*(\\d+)`).exec(fs.readFileSync('/proc/self/status', 'utf8'))[1]);
let hwmReset = true;
try {
  fs.writeFileSync('/proc/self/clear_refs', '5'); // VmHWM := VmRSS (Linux 4.0 and later)
} catch {
  hwmReset = false;
}
const rssBeforeKB = status('VmRSS');
const baselineKB = process.resourceUsage().maxRSS;
const t0 = process.hrtime.bigint();
const r = fn(x1, x2, options);
const ms = Number(process.hrtime.bigint() - t0) / 1e6;
const chunked = binding().chunking().calls > chunkedBefore;
const peakKB = process.resourceUsage().maxRSS;
const hwmKB = status('VmHWM');
const gradBytes = ['grad1', 'grad2', 'grad'].reduce((s, k) => s + (r[k] ? r[k].data().byteLength : 0), 0);
process.stdout.write(`${JSON.stringify({ baselineKB, peakKB, rssBeforeKB, hwmKB, hwmReset, ms, chunked, loss: r.loss, gradBytes })}\n`);
