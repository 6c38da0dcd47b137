// Index and label arrays over a SharedArrayBuffer that another thread rewrites
// while sync calls run (issue 26): before the fix the range was checked on the
// caller's memory and the kernel read that memory again unchecked, and a
// BigInt64Array target crashed the process (SIGSEGV) in 2 of 3 runs. Now the
// library copies first, checks the copy and computes from it: every call either
// returns a finite loss or throws a RangeError naming the index. The calls run
// in a child process, so that a crash fails this test instead of ending jest.
import * as path from 'path';
import { ROOT, runChild } from './helpers/child';

jest.setTimeout(120000);

const REGISTER = path.join(ROOT, 'test', 'helpers', 'register-ts.js');

/** A child that rewrites `kind`'s SharedArrayBuffer from a worker while the main thread calls `call`. */
function source(kind: 'BigInt64Array' | 'Int32Array', call: 'npairs-target' | 'crossEntropy' | 'supcon-labels'): string {
  // a valid value for entry i (crossEntropy has D = 16 classes)
  const valid = call === 'crossEntropy' ? '(i % 16)' : 'i';
  const big = kind === 'BigInt64Array' ? 'BigInt' : '';
  return `
const { Worker } = require('worker_threads');
const pl = require(${JSON.stringify(path.join(ROOT, 'lib', 'index.ts'))});
const N = 64, D = 16;
const sab = new SharedArrayBuffer(N * ${kind}.BYTES_PER_ELEMENT);
const target = new ${kind}(sab);
for (let i = 0; i < N; i++) target[i] = ${big}(${valid});
const x1 = new Float32Array(N * D).map((_, i) => Math.sin(i));
const x2 = new Float32Array(N * D).map((_, i) => Math.cos(i * 0.7));
const a = { data: x1, shape: [N, D] }, b = { data: x2, shape: [N, D] };
pl.npairsLoss(a, b); // the addon loaded before the clock starts
// The worker makes the last entry out of range for an instant, again and
// again: most checks pass, and a kernel that read the memory again would
// meet the bad value.
const worker = new Worker(\`
  const { workerData, parentPort } = require('worker_threads');
  const t = new ${kind}(workerData);
  const last = t.length - 1;
  const good = ${big}(${valid.replace(/i/g, 'last')});
  const bad = ${kind === 'BigInt64Array' ? '1n << 40n' : '1 << 30'};
  parentPort.postMessage('writing');
  const end = Date.now() + 60000;
  while (Date.now() < end) {
    for (let k = 0; k < 1000; k++) {
      t[last] = bad;
      t[last] = good;
    }
  }
\`, { eval: true, workerData: sab });
let ok = 0, rangeErrors = 0, calls = 0;
const other = [];
// the calls start once the worker writes (its start-up may take long on a busy machine)
worker.once('message', () => {
const end = Date.now() + 2000;
while (Date.now() < end && calls < 200000) {
  calls++;
  try {
    let loss;
    ${call === 'npairs-target' ? 'loss = pl.npairsLoss(a, b, { target }).loss;'
      : call === 'crossEntropy' ? "loss = pl.crossEntropy({ data: x1, shape: [N, D] }, target);"
      : 'loss = pl.npairsLoss(a, a, { labels: target }).loss;'}
    if (!Number.isFinite(loss)) throw new Error('loss ' + loss);
    ok++;
  } catch (e) {
    if (e instanceof RangeError && /target|labels/.test(e.message)) rangeErrors++;
    else if (other.length < 3) other.push(String(e && e.message));
  }
}
worker.terminate().then(() => console.log(JSON.stringify({ calls, ok, rangeErrors, other })));
});
`;
}

describe('index arrays over a SharedArrayBuffer rewritten by another thread', () => {
  // crossEntropy's classes: D = 16, so the valid values i < 16 mix with out-of-range ones
  const cases = [
    ['BigInt64Array', 'npairs-target'],
    ['Int32Array', 'npairs-target'],
    ['BigInt64Array', 'supcon-labels'],
    ['BigInt64Array', 'crossEntropy'],
  ] as const;
  test.each(cases)('%s %s: no crash; every call a finite loss or a RangeError', async (kind, call) => {
    const r = await runChild<{ calls: number; ok: number; rangeErrors: number; other: string[] }>(source(kind, call), {
      nodeArgs: ['-r', REGISTER],
      timeoutMs: 100000,
    });
    expect(r.other).toEqual([]);
    expect(r.ok + r.rangeErrors).toBe(r.calls);
    expect(r.calls).toBeGreaterThan(0);
    // eslint-disable-next-line no-console
    console.log(`${kind} ${call}: ${r.calls} calls while another thread rewrote the indices: ${r.ok} losses, ${r.rangeErrors} RangeErrors`);
  });
});
