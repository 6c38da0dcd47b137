// heatmapPngAsync / writeHeatmapAsync (issue 26): the SVG built and the PNG
// rendered on a render thread (lib/heatmap/thread.ts), the same bytes as
// heatmapPng and heatmapSvg; the event loop keeps turning while it renders
// and the JS thread does next to none of the work; errors as the sync form's;
// cancellation with a signal and the queue's bound; the thread neither keeps
// the process alive when idle nor lets it exit while a render is pending.
import { afterAll, expect, test } from '@jest/globals';
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { heatmapPng, heatmapPngAsync, heatmapSvg, writeHeatmapAsync } from '../lib/heatmap';
import type { HeatmapMatrix, HeatmapOptions } from '../lib/heatmap';
import { renderThreadStats, stopRenderThread } from '../lib/heatmap/thread';
import { setAsyncQueueLimit } from '../lib/queue';
import { testIf } from './helpers/skip';

jest.setTimeout(180000);

afterAll(() => stopRenderThread());

const matrix = Array.from({ length: 32 }, (_, i) => Array.from({ length: 32 }, (_, j) => Math.cos(i * 0.3 + j * 0.17)));
const opts = { title: 'cosine similarity', annotate: true };

function float32(rows: number, cols: number, seed: number): Float32Array {
  const a = new Float32Array(rows * cols);
  for (let k = 0; k < a.length; k++) a[k] = Math.sin(k * 0.37 + seed) * 1.3;
  return a;
}

test('the same PNG bytes as heatmapPng, for every input form and the options that change the drawing', async () => {
  const withNaN = float32(40, 24, 1);
  withNaN[5] = NaN;
  withNaN[77] = Infinity;
  const cases: Array<[string, HeatmapMatrix, HeatmapOptions]> = [
    ['32x32 number[][], annotated', matrix, opts],
    ['40x24 Float32Array with NaN and inf, every option', { data: withNaN, shape: [40, 24] }, {
      cmap: 'vlag', fmt: '.1e', annotate: true, vmin: -1.2, vmax: 1.1, xLabel: 'x', yLabel: 'y', title: 'τ = 0.07',
      xTickLabels: Array.from({ length: 24 }, (_, j) => `c${j}`), yTickLabels: Array.from({ length: 40 }, (_, i) => i * 2),
      cellSize: 9, colorbar: false, scale: 1.5,
    }],
    ['a Tensor-like object (data())', { shape: [3, 5], data: () => new Float64Array(float32(3, 5, 2)) }, { fmt: 'd' }],
    ['200x150: cells as one embedded image', { data: float32(200, 150, 3), shape: [200, 150] }, { cmap: 'viridis' }],
  ];
  for (const [what, m, o] of cases) {
    const png = await heatmapPngAsync(m, o);
    expect([what, Buffer.isBuffer(png), png.subarray(1, 4).toString()]).toEqual([what, true, 'PNG']);
    expect([what, png.equals(heatmapPng(m, o))]).toEqual([what, true]);
  }
});

test('a typed array changed after the call: the render shows the values it had at the call', async () => {
  const data = float32(24, 24, 4);
  const before = heatmapPng({ data, shape: [24, 24] });
  const p = heatmapPngAsync({ data, shape: [24, 24] });
  data.fill(0.5);
  const png = await p;
  expect(png.equals(before)).toBe(true);
  expect(png.equals(heatmapPng({ data, shape: [24, 24] }))).toBe(false);
});

test('writeHeatmapAsync writes the bytes of heatmapPng and the text of heatmapSvg', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pairloss-heatmap-'));
  try {
    await writeHeatmapAsync(path.join(dir, 'h.PNG'), matrix, opts);
    expect(fs.readFileSync(path.join(dir, 'h.PNG')).equals(heatmapPng(matrix, opts))).toBe(true);
    await writeHeatmapAsync(path.join(dir, 'h.svg'), matrix, { ...opts, cmap: 'mako' });
    expect(fs.readFileSync(path.join(dir, 'h.svg'), 'utf8')).toBe(heatmapSvg(matrix, { ...opts, cmap: 'mako' }));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

/** What `f` throws (sync) or rejects with. */
async function failure(f: () => unknown): Promise<unknown> {
  try {
    await f();
  } catch (error) {
    return error;
  }
  throw new Error('expected a failure');
}

test('bad arguments: the TypeError / RangeError the sync form throws, also those found on the render thread; the thread goes on', async () => {
  const bad: Array<[unknown, unknown]> = [
    [[[1, 2], [3]], undefined], // ragged: read on the calling thread
    [matrix, { vmin: 1, vmax: 0 }], // an option: checked on the calling thread
    [matrix, { cmpa: 'vlag' }],
    [{ data: new Float32Array(4), shape: [2, 2] }, { fmt: 7 }],
    [Array.from({ length: 64 }, () => new Array(64).fill(0)), { cellSize: 500 }], // the image too large: found by the layout, on the render thread
  ];
  for (const [m, o] of bad) {
    const sync = await failure(() => heatmapPng(m as HeatmapMatrix, o as HeatmapOptions));
    const async = await failure(() => heatmapPngAsync(m as HeatmapMatrix, o as HeatmapOptions));
    expect(sync).toBeInstanceOf(Error);
    expect(async).toBeInstanceOf((sync as Error).constructor);
    expect((async as Error).message).toBe((sync as Error).message);
  }
  const png = await heatmapPngAsync([[1, 0], [0, 1]]);
  expect(png.equals(heatmapPng([[1, 0], [0, 1]]))).toBe(true);
});

/** Ticks of a 5 ms interval while `work` runs, and the longest gap between two (printed, not asserted). */
async function ticksDuring(work: () => Promise<unknown>): Promise<{ ticks: number; gap: number; ms: number }> {
  let ticks = 0;
  let last = performance.now();
  let gap = 0;
  const timer = setInterval(() => {
    const now = performance.now();
    gap = Math.max(gap, now - last);
    last = now;
    ticks++;
  }, 5);
  const t0 = performance.now();
  try {
    await work();
  } finally {
    clearInterval(timer);
  }
  return { ticks, gap, ms: performance.now() - t0 };
}

test('the event loop keeps turning while a PNG renders (the same count sees no tick at all during heatmapPng)', async () => {
  const big = { ...opts, scale: 2 }; // 32x32 annotated at twice the size: hundreds of ms, and longer under load
  await heatmapPngAsync(matrix, big);
  // the control: a render on this thread lets no timer fire, so the count can fail
  const sync = await ticksDuring(async () => heatmapPng(matrix, big));
  const async = await ticksDuring(() => heatmapPngAsync(matrix, big));
  // eslint-disable-next-line no-console
  console.log(`32x32 annotated PNG at scale 2: heatmapPng ${sync.ms.toFixed(0)} ms, ${sync.ticks} ticks of a 5 ms timer; ` +
    `heatmapPngAsync ${async.ms.toFixed(0)} ms, ${async.ticks} ticks, longest gap ${async.gap.toFixed(1)} ms (load ${os.loadavg()[0].toFixed(1)})`);
  expect(sync.ticks).toBe(0);
  // a loop that turned at all ticks dozens of times in a render this long; 3 leaves room for a starved machine
  expect(async.ticks).toBeGreaterThanOrEqual(3);
});

const SCHEDSTAT = `/proc/${process.pid}/task/${process.pid}/schedstat`;

/** CPU time this (the JS) thread spent, ms, per the kernel's schedstat. */
function threadCpuMs(): number {
  return Number(fs.readFileSync(SCHEDSTAT, 'utf8').split(' ')[0]) / 1e6;
}

testIf(fs.existsSync(SCHEDSTAT), 'needs /proc/PID/task/PID/schedstat (Linux)')(
  'the JS thread spends under 1/20 of the sync render\'s CPU time on an async one (CPU time, not wall time: the load does not change it)',
  async () => {
    await heatmapPngAsync(matrix, opts);
    const sync: number[] = [];
    const async: number[] = [];
    for (let r = 0; r < 3; r++) {
      let t = threadCpuMs();
      heatmapPng(matrix, opts);
      sync.push(threadCpuMs() - t);
      t = threadCpuMs();
      await heatmapPngAsync(matrix, opts);
      async.push(threadCpuMs() - t);
    }
    // eslint-disable-next-line no-console
    console.log(`JS thread CPU a 32x32 annotated PNG: heatmapPng ${sync.map((v) => v.toFixed(1)).join(', ')} ms; heatmapPngAsync ${async.map((v) => v.toFixed(2)).join(', ')} ms`);
    // the smallest of three: a garbage collection in one call does not count. Building the SVG and encoding the PNG
    // on this thread (the previous async form) cost 1/10 to 1/7 of the sync call; posting and receiving, ~1/200
    expect(Math.min(...async)).toBeLessThan(Math.min(...sync) / 20);
  },
);

test('an aborted signal: rejects with an AbortError before, while waiting and while running; writes nothing; the others render', async () => {
  const before = new AbortController();
  before.abort();
  await expect(heatmapPngAsync(matrix, { ...opts, signal: before.signal })).rejects.toMatchObject({ name: 'AbortError' });
  const running = new AbortController();
  const waiting = new AbortController();
  const first = heatmapPngAsync(matrix, { ...opts, signal: running.signal });
  const second = heatmapPngAsync(matrix, { ...opts, signal: waiting.signal });
  const third = heatmapPngAsync(matrix, { ...opts, cmap: 'vlag' });
  expect(renderThreadStats()).toMatchObject({ running: 1, waiting: 2 });
  waiting.abort();
  await expect(second).rejects.toMatchObject({ name: 'AbortError' });
  expect(renderThreadStats()).toMatchObject({ running: 1, waiting: 1 });
  running.abort(new Error('client gone'));
  // rejected at once: the render thread has not answered yet (that takes a turn of the event loop)
  await expect(first).rejects.toMatchObject({ name: 'AbortError', cause: { message: 'client gone' } });
  expect(renderThreadStats()).toMatchObject({ running: 1, waiting: 1 });
  expect((await third).equals(heatmapPng(matrix, { ...opts, cmap: 'vlag' }))).toBe(true);
  expect(renderThreadStats()).toMatchObject({ running: 0, waiting: 0 });

  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pairloss-heatmap-'));
  try {
    const file = path.join(dir, 'h.png');
    const w = new AbortController();
    const write = writeHeatmapAsync(file, matrix, { ...opts, signal: w.signal });
    w.abort();
    await expect(write).rejects.toMatchObject({ name: 'AbortError' });
    await heatmapPngAsync([[1]]); // the aborted render has ended
    expect(fs.existsSync(file)).toBe(false);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('the queue bound (setAsyncQueueLimit): a render that would wait beyond it rejects at once with AsyncQueueFullError', async () => {
  setAsyncQueueLimit(1);
  try {
    const running = heatmapPngAsync(matrix, opts);
    const queued = heatmapPngAsync(matrix, opts);
    await expect(heatmapPngAsync(matrix, opts)).rejects.toMatchObject({ name: 'AsyncQueueFullError', code: 'PAIRLOSS_QUEUE_FULL' });
    expect(renderThreadStats()).toMatchObject({ running: 1, waiting: 1 });
    const ref = heatmapPng(matrix, opts);
    expect((await running).equals(ref)).toBe(true);
    expect((await queued).equals(ref)).toBe(true);
    expect((await heatmapPngAsync(matrix, opts)).equals(ref)).toBe(true); // the queue drained
  } finally {
    setAsyncQueueLimit(Infinity);
  }
});

test('the render thread is started once and kept; a render thread that dies rejects its render and a new one takes the next', async () => {
  await heatmapPngAsync([[1]]);
  const { started } = renderThreadStats();
  await heatmapPngAsync([[0.5]]);
  await heatmapPngAsync([[0.25]]);
  expect(renderThreadStats()).toMatchObject({ started, alive: true });
  const p = heatmapPngAsync(matrix, opts);
  await stopRenderThread();
  await expect(p).rejects.toThrow(/the heatmap render thread exited/);
  expect(renderThreadStats()).toMatchObject({ alive: false, running: 0 });
  expect((await heatmapPngAsync(matrix, opts)).equals(heatmapPng(matrix, opts))).toBe(true);
  expect(renderThreadStats().started).toBe(started + 1);
});

/**
 * Runs `script` in a fresh node with lib/ loaded from its TypeScript sources
 * (the require hook ts-jest's transpile stands for); `PRE` runs first.
 */
function child(script: string, pre = ''): { code: number | null; out: string; err: string; ms: number } {
  const hook = `
    const ts = require(${JSON.stringify(require.resolve('typescript'))});
    require.extensions['.ts'] = (m, f) => m._compile(ts.transpileModule(require('fs').readFileSync(f, 'utf8'), {
      fileName: f, compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022, esModuleInterop: true } }).outputText, f);
    ${pre}
    const hm = require(${JSON.stringify(path.join(__dirname, '..', 'lib', 'heatmap.ts'))});
    const thread = require(${JSON.stringify(path.join(__dirname, '..', 'lib', 'heatmap', 'thread.ts'))});
  `;
  const t0 = Date.now();
  const r = spawnSync(process.execPath, ['-e', hook + script], { encoding: 'utf8', timeout: 150000 });
  return { code: r.status, out: r.stdout, err: r.stderr, ms: Date.now() - t0 };
}

test('a process with nothing but a pending render waits for it, then exits on its own (the idle thread does not hold it)', () => {
  const r = child(`
    hm.heatmapPngAsync([[1, 0], [0, 1]]).then((png) => {
      console.log('rendered', png.subarray(1, 4).toString(), thread.renderThreadStats().alive);
      // the thread is up and idle now (a Worker that is still starting holds the process anyway): a second render
      // asked from a timer, after which nothing else is pending
      setTimeout(() => hm.heatmapPngAsync([[0, 1], [1, 0]]).then((png) => console.log('rendered again', png.subarray(1, 4).toString())), 50);
    });
  `);
  // without the ref while pending: exits before 'rendered again'; without the unref when idle: killed by the timeout (code null)
  expect([r.code, r.out.trim().split('\n'), r.err]).toEqual([0, ['rendered PNG true', 'rendered again PNG'], '']);
});

test('without @resvg/resvg-js: the sync form\'s Error naming the package, at once, and no render thread started; SVG files still written', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pairloss-heatmap-'));
  try {
    const r = child(`
      (async () => {
        for (const f of [() => hm.heatmapPng([[1]]), () => hm.heatmapPngAsync([[1]]), () => hm.writeHeatmapAsync(${JSON.stringify(path.join(dir, 'a.png'))}, [[1]])]) {
          try { await f(); console.log('no error'); } catch (e) { console.log(e.message); }
        }
        console.log(JSON.stringify(thread.renderThreadStats()));
        await hm.writeHeatmapAsync(${JSON.stringify(path.join(dir, 'a.svg'))}, [[1]]);
        console.log(JSON.stringify(thread.renderThreadStats()));
      })();
    `, `
      const Module = require('module');
      const resolve = Module._resolveFilename;
      Module._resolveFilename = function (request, ...rest) {
        if (request === '@resvg/resvg-js') { const e = new Error("Cannot find module '@resvg/resvg-js'"); e.code = 'MODULE_NOT_FOUND'; throw e; }
        return resolve.call(this, request, ...rest);
      };
    `);
    const lines = r.out.trim().split('\n');
    expect([r.code, r.err]).toEqual([0, '']);
    expect(lines.slice(0, 3)).toEqual(Array(3).fill(
      'PNG heatmaps are rendered by the package @resvg/resvg-js, which is not installed: `npm install @resvg/resvg-js` (SVG heatmaps need nothing more).',
    ));
    expect(JSON.parse(lines[3])).toMatchObject({ started: 0 });
    // the SVG file needs the thread (it builds the SVG there), not resvg
    expect(JSON.parse(lines[4])).toMatchObject({ started: 1, running: 0, waiting: 0 });
    expect(fs.existsSync(path.join(dir, 'a.png'))).toBe(false);
    expect(fs.readFileSync(path.join(dir, 'a.svg'), 'utf8')).toBe(heatmapSvg([[1]]));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
