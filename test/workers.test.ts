// worker_threads: the addon loads and runs in several workers at once (after
// the main thread loaded it, and before), each computing exactly the main
// thread's losses; workers that exit on their own or are terminated -- while
// async calls are in flight, in the middle of sync calls, with result buffers
// alive -- leave the process healthy, free those buffers, and the process
// still exits cleanly, even with workers running.
// The scenarios that could crash the process run in a child process (this
// file again, run by node with a TypeScript require hook), so that a native
// abort is a failed test showing the child's stderr, not a lost jest worker.
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { Worker } from 'worker_threads';
import * as ts from 'typescript';
import type * as Pairloss from '../lib';

type Loss = Record<string, unknown>;
type Matrix = { data: Float32Array | Float64Array; shape: number[] };
interface Spec { kind: 'npairs' | 'correlation'; x1: Matrix; x2: Matrix; opts: Record<string, unknown> }

const ROOT = path.resolve(__dirname, '..');
const LIB = path.join(ROOT, 'lib', 'index.ts');
const SCENARIO = process.env.PAIRLOSS_WORKERS_SCENARIO;

/** pairloss on this thread, loaded on first use (a scenario loads it after a worker did). */
function pl(): typeof Pairloss {
  // eslint-disable-next-line @typescript-eslint/no-var-requires
  return require('../lib');
}

/** lib/*.ts transpiled once (as ts-jest does), for the workers' require hook. */
function transpiledLib(): Record<string, string> {
  const dir = path.join(ROOT, 'lib');
  const out: Record<string, string> = {};
  for (const f of fs.readdirSync(dir).filter((n) => n.endsWith('.ts'))) {
    const file = path.join(dir, f);
    out[file] = ts.transpileModule(fs.readFileSync(file, 'utf8'), {
      fileName: file,
      compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2020, esModuleInterop: true },
    }).outputText;
  }
  return out;
}
const code = transpiledLib();

/**
 * The worker: loads lib/ (and so the addon) and does what `workerData.task` says.
 *   compute: every spec sync and async; posts the results; exits on its own.
 *   flood:   starts many async calls, posts 'started', keeps going (to be terminated).
 *   spin:    sync calls in a loop (some async), to be terminated in the middle of one.
 *   hold:    makes `count` results and keeps them alive; posts how many buffers it made.
 */
const WORKER = `
const { parentPort, workerData, threadId } = require('worker_threads');
require.extensions['.ts'] = (module, filename) => {
  let js = workerData.code[filename];
  if (js === undefined) {
    const ts = require(workerData.typescript);
    js = ts.transpileModule(require('fs').readFileSync(filename, 'utf8'), { fileName: filename, compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2020, esModuleInterop: true } }).outputText;
  }
  module._compile(js, filename);
};
const pl = require(workerData.lib);
const run = (s, async) => (s.kind === 'npairs' ? (async ? pl.npairsLossAsync : pl.npairsLoss) : (async ? pl.correlationLossAsync : pl.correlationLoss))(s.x1, s.x2, s.opts);
const plain = (r) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, v instanceof pl.Tensor ? { data: v.data(), shape: [...v.shape] } : v]));
const held = [];
(async () => {
  const task = workerData.task;
  const s = workerData.specs[0];
  if (task === 'compute') {
    const sync = workerData.specs.map((x) => plain(run(x, false)));
    const async = (await Promise.all(workerData.specs.map((x) => run(x, true)))).map(plain);
    parentPort.postMessage({ sync, async, threadId });
  } else if (task === 'flood') {
    for (let i = 0; i < 64; i++) held.push(run(s, true));
    parentPort.postMessage('started');
    for (;;) { held.push(await run(s, true)); held.push(run(s, false)); }
  } else if (task === 'spin') {
    parentPort.postMessage('started');
    for (let i = 0; ; i++) {
      held.push(run(s, false));
      if (held.length > 64) held.length = 0;
      if (i % 16 === 0) { held.push(run(s, true)); await new Promise((resolve) => setImmediate(resolve)); }
    }
  } else if (task === 'hold') {
    const before = pl.memoryStats().externalBuffers;
    for (let i = 0; i < workerData.count; i++) held.push(run(workerData.specs[i % workerData.specs.length], false));
    parentPort.postMessage({ made: pl.memoryStats().externalBuffers - before });
    if (workerData.stay) setInterval(() => {}, 1000);
  }
})().catch((e) => { parentPort.postMessage({ error: String(e && e.stack || e) }); });
`;

function spec(seed: number, kind: Spec['kind'], n: number, d: number, f64: boolean): Spec {
  let a = seed >>> 0;
  const next = () => { a = (Math.imul(a, 1664525) + 1013904223) >>> 0; return a / 2 ** 32 - 0.5; };
  const matrix = (rows: number) => {
    const data = f64 ? new Float64Array(rows * d) : new Float32Array(rows * d);
    for (let i = 0; i < data.length; i++) data[i] = next();
    return { data, shape: [rows, d] };
  };
  const opts = kind === 'npairs' ? { temperature: 0.1, symmetric: seed % 2 === 0, returnSimilarity: true } : { mode: seed % 2 === 0 ? 'features' : 'samples' };
  return { kind, x1: matrix(n), x2: matrix(n), opts };
}

function specs(seed: number): Spec[] {
  return [
    spec(seed, 'npairs', 24, 32, false),
    spec(seed + 1, 'npairs', 96, 64, true),
    spec(seed + 2, 'correlation', 32, 16, false),
    spec(seed + 3, 'correlation', 48, 40, true),
  ];
}

function plain(r: Loss): Loss {
  const { Tensor } = pl();
  return Object.fromEntries(Object.entries(r).map(([k, v]) => [k, v instanceof Tensor ? { data: v.data(), shape: [...v.shape] } : v]));
}

function runHere(x: Spec, async: false): Loss;
function runHere(x: Spec, async: true): Promise<Loss>;
function runHere(x: Spec, async: boolean): Loss | Promise<Loss> {
  const p = pl();
  if (x.kind === 'npairs') return (async ? p.npairsLossAsync : p.npairsLoss)(x.x1, x.x2, x.opts) as unknown as Loss;
  return (async ? p.correlationLossAsync : p.correlationLoss)(x.x1, x.x2, x.opts) as unknown as Loss;
}

function mainThread(s: Spec[]): Loss[] {
  return s.map((x) => plain(runHere(x, false)));
}

/** Where two plain results differ (undefined: bit for bit the same). */
function difference(a: Loss, b: Loss): string | undefined {
  for (const k of new Set([...Object.keys(a), ...Object.keys(b)])) {
    const x = a[k] as { data?: ArrayLike<number>; shape?: number[] } | number;
    const y = b[k] as { data?: ArrayLike<number>; shape?: number[] } | number;
    if (typeof x === 'object' && typeof y === 'object' && x && y && x.data && y.data) {
      if (String(x.shape) !== String(y.shape) || x.data.length !== y.data.length) return `${k}: shape [${x.shape}] vs [${y.shape}]`;
      for (let i = 0; i < x.data.length; i++) if (!Object.is(x.data[i], y.data[i])) return `${k}[${i}]: ${x.data[i]} vs ${y.data[i]}`;
    } else if (!Object.is(x, y)) {
      return `${k}: ${String(x)} vs ${String(y)}`;
    }
  }
  return undefined;
}

function check(results: Loss[], expected: Loss[]): string[] {
  const bad: string[] = [];
  results.forEach((r, i) => {
    const d = difference(r, expected[i]);
    if (d) bad.push(`spec ${i}: ${d}`);
  });
  return bad;
}

interface Started { worker: Worker; exit: Promise<number>; next: () => Promise<unknown> }

function start(task: string, data: Record<string, unknown>): Started {
  const worker = new Worker(WORKER, { eval: true, workerData: { code, lib: LIB, typescript: require.resolve('typescript'), task, ...data } });
  const messages: unknown[] = [];
  const waiting: Array<(m: unknown) => void> = [];
  let failure: Error | undefined;
  worker.on('message', (m) => {
    if (m && typeof m === 'object' && 'error' in m) failure = new Error(`worker: ${(m as { error: string }).error}`);
    const w = waiting.shift();
    if (w) w(m);
    else messages.push(m);
  });
  worker.on('error', (e) => { failure = e; });
  const exit = new Promise<number>((resolve) => worker.on('exit', resolve));
  const next = () => {
    if (failure) return Promise.reject(failure);
    if (messages.length) return Promise.resolve(messages.shift());
    return Promise.race([new Promise((resolve) => waiting.push(resolve)), exit.then((c) => { throw failure ?? new Error(`worker exited (${c}) before answering`); })]);
  };
  return { worker, exit, next };
}

function must(ok: boolean, message: string): void {
  if (!ok) throw new Error(message);
}
function same(results: Loss[], expected: Loss[], what: string): void {
  const bad = check(results, expected);
  must(bad.length === 0, `${what}: ${bad.join('; ')}`);
}

// ---------------------------------------------------------------------------
// Scenarios run in a child process
// ---------------------------------------------------------------------------

const SCENARIOS: Record<string, () => Promise<void>> = {
  /** Workers terminated while async calls are in flight; main-thread calls meanwhile. */
  async terminateAsync() {
    const reference = specs(101);
    const expected = mainThread(reference);
    const heavy = [spec(7, 'npairs', 256, 128, false)];
    for (let round = 0; round < 4; round++) {
      const workers = [0, 1, 2].map(() => start('flood', { specs: heavy }));
      await Promise.all(workers.map((w) => w.next()));
      const during = await Promise.all(reference.map((s) => runHere(s, true)));
      same(during.map(plain), expected, 'main thread while workers compute');
      const codes = await Promise.all(workers.map((w) => w.worker.terminate()));
      must(codes.every((c) => c === 1), `terminate() exit codes ${codes}`);
    }
    // a worker terminated before it finished loading (it may also have finished: 0)
    const early = start('compute', { specs: reference });
    must([0, 1].includes(await early.worker.terminate()), 'early terminate');
    same(mainThread(reference), expected, 'main thread afterwards');
  },

  /** Workers terminated in the middle of sync calls, at varying moments. */
  async terminateSync() {
    const reference = specs(101);
    const expected = mainThread(reference);
    const medium = [spec(9, 'npairs', 128, 64, false)];
    for (let round = 0; round < 12; round++) {
      const workers = [0, 1].map(() => start('spin', { specs: medium }));
      await Promise.all(workers.map((w) => w.next()));
      await new Promise((resolve) => setTimeout(resolve, (round % 4) * 7));
      const codes = await Promise.all(workers.map((w) => w.worker.terminate()));
      must(codes.every((c) => c === 1), `terminate() exit codes ${codes}`);
    }
    same(mainThread(reference), expected, 'main thread afterwards');
  },

  /**
   * A worker loads the addon before the main thread does; then the main
   * thread loads it and agrees; then the process exits (process.exit) while
   * workers are in the middle of sync and async calls.
   */
  async workerFirstThenExit() {
    const reference = specs(303);
    const first = start('compute', { specs: reference });
    const answer = (await first.next()) as { sync: Loss[]; async: Loss[] };
    must((await first.exit) === 0, 'first worker exit code');
    const expected = mainThread(reference); // loads the addon on this thread now
    same(answer.sync, expected, 'worker (sync) vs main thread');
    same(answer.async, expected, 'worker (async) vs main thread');
    const busy = [start('spin', { specs: [spec(9, 'npairs', 128, 64, false)] }), start('flood', { specs: [spec(7, 'npairs', 256, 128, false)] })];
    await Promise.all(busy.map((w) => w.next()));
    start('hold', { specs: reference, count: 50 });
    await new Promise((resolve) => setTimeout(resolve, Number(process.env.PAIRLOSS_WORKERS_EXIT_MS ?? 0)));
  },
};

if (SCENARIO) {
  SCENARIOS[SCENARIO]().then(
    () => {
      process.stdout.write('ok');
      process.exit(0); // with workers still running in workerFirstThenExit
    },
    (e) => {
      process.stderr.write(`${e instanceof Error ? e.stack : String(e)}\n`);
      process.exit(1);
    },
  );
} else {
  const hook = `
const fs = require('fs');
const ts = require(${JSON.stringify(require.resolve('typescript'))});
require.extensions['.ts'] = (module, filename) => {
  const { outputText } = ts.transpileModule(fs.readFileSync(filename, 'utf8'), {
    fileName: filename,
    compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2020, esModuleInterop: true },
  });
  module._compile(outputText, filename);
};
require(${JSON.stringify(__filename)});`;

  /** Runs a scenario in a fresh node process; it must print 'ok' and exit 0. */
  const inChild = (scenario: string, env: Record<string, string> = {}) => {
    const r = spawnSync(process.execPath, ['-e', hook], {
      cwd: ROOT,
      encoding: 'utf8',
      timeout: 170_000,
      env: { ...process.env, PAIRLOSS_WORKERS_SCENARIO: scenario, ...env },
    });
    return { status: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr.slice(-4000) };
  };
  const clean = { status: 0, signal: null, stdout: 'ok', stderr: '' };

  describe('worker_threads', () => {
    it('four workers at once load the addon (after the main thread did) and compute exactly its losses, sync and async, then exit on their own', async () => {
      const reference = specs(101);
      const expected = mainThread(reference); // the main thread loads the addon first
      const sets = [0, 1, 2, 3].map((k) => specs(101 + 10 * k));
      const want = sets.map(mainThread);
      const workers = sets.map((s) => start('compute', { specs: s }));
      const answers = (await Promise.all(workers.map((w) => w.next()))) as Array<{ sync: Loss[]; async: Loss[]; threadId: number }>;
      expect(new Set(answers.map((a) => a.threadId)).size).toBe(4);
      answers.forEach((a, k) => {
        expect(check(a.sync, want[k])).toEqual([]);
        expect(check(a.async, want[k])).toEqual([]);
      });
      expect(await Promise.all(workers.map((w) => w.exit))).toEqual([0, 0, 0, 0]);
      // the main thread still computes the same
      expect(check(mainThread(reference), expected)).toEqual([]);
    });

    it('result buffers alive in a worker are freed when it exits or is terminated', async () => {
      const reference = specs(101);
      const expected = mainThread(reference);
      for (const how of ['exit', 'terminate'] as const) {
        const before = pl().memoryStats();
        const w = start('hold', { specs: reference, count: 200, stay: how === 'terminate' });
        const { made } = (await w.next()) as { made: number };
        // one external buffer per N-pairs result (its similarity); gradients
        // this small live in ArrayBuffers V8 owns, freed with the isolate
        expect(made).toBeGreaterThanOrEqual(100);
        if (how === 'terminate') expect(await w.worker.terminate()).toBe(1);
        else expect(await w.exit).toBe(0);
        const after = pl().memoryStats();
        // every buffer the worker made was finalized with its environment
        // (>=: the main thread's GC may finalize some of its own meanwhile)
        expect(after.finalizedBuffers - before.finalizedBuffers).toBeGreaterThanOrEqual(made);
        expect(after.externalBytes).toBeLessThanOrEqual(before.externalBytes);
      }
      expect(check(mainThread(reference), expected)).toEqual([]);
    });

    it('workers terminated while async calls are in flight leave the process healthy', () => {
      expect(inChild('terminateAsync')).toEqual(clean);
    }, 180_000);

    it('workers terminated in the middle of sync calls leave the process healthy', () => {
      expect(inChild('terminateSync')).toEqual(clean);
    }, 180_000);

    it.each([0, 5, 20])('a worker loads the addon first, then the main thread; the process exits cleanly with workers busy (exit after %i ms)', (ms) => {
      expect(inChild('workerFirstThenExit', { PAIRLOSS_WORKERS_EXIT_MS: String(ms) })).toEqual(clean);
    }, 180_000);
  });
}
