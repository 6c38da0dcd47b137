'use strict';
/**
 * Peak RSS of one synchronous pairloss call, in a fresh process (run by run.js):
 *   node bench/rss_child.js <npairs|correlation|siglip> <inputs.bin> <N> <D> <threads> [options JSON]
 * Prints one JSON line: the high-water mark (process.resourceUsage().maxRSS, KB)
 * before the call (library loaded, inputs in memory, code paths warmed on a
 * small problem) and after it, the call's wall time, and whether it took the
 * chunked (row-block) path (N-pairs or SigLIP).
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
const fn = { npairs: pl.npairsLoss, correlation: pl.correlationLoss, siglip: pl.sigmoidLoss }[loss];
if (!fn) throw new RangeError(`loss must be npairs, correlation or siglip, got ${loss}`);

const small = { data: new Float32Array(32 * d).map((_, i) => Math.sin(i)), shape: [32, d] };
fn(small, { data: small.data.map((v) => v * 0.5 + 0.1), shape: [32, d] });
const baselineKB = process.resourceUsage().maxRSS;
const { binding } = require(path.join(__dirname, '..', 'dist', 'lib', 'binding'));
const chunkedBefore = binding().chunking().calls;
const t0 = process.hrtime.bigint();
const r = fn(x1, x2, options);
const ms = Number(process.hrtime.bigint() - t0) / 1e6;
const chunked = binding().chunking().calls > chunkedBefore;
const peakKB = process.resourceUsage().maxRSS;
const hwmKB = Number(/VmHWM:\s*(\d+)/.exec(fs.readFileSync('/proc/self/status', 'utf8'))[1]);
process.stdout.write(`${JSON.stringify({ baselineKB, peakKB, hwmKB, ms, chunked, loss: r.loss, gradBytes: r.grad1.data().byteLength * 2 })}\n`);
