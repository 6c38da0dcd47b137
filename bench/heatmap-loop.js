#!/usr/bin/env node
'use strict';
/**
 * The event loop's delay while a PNG heatmap renders (issue 26): a
 * perf_hooks.monitorEventLoopDelay histogram (resolution 1 ms) enabled around
 * the calls of each mode, for a 32x32 annotated heatmap and a 128x128 one
 * without annotations.
 *
 *   sync    heatmapPng: the whole render on the event loop
 *   before  the previous heatmapPngAsync (up to commit d1eedeb): the matrix read,
 *           the options checked and the SVG built on the event loop, resvg's
 *           renderAsync on libuv's pool, the PNG encoded by asPng() on the loop
 *   after   heatmapPngAsync as it is now (the SVG built and rendered on its
 *           render thread)
 *   first   the first heatmapPngAsync call of a fresh process (the render
 *           thread started by it), in a child process
 *   idle    no render: a sleep as long as 'after' took, the control (what the
 *           machine's load alone does to the loop's delay)
 *
 * Also, a call: the loop's active time (performance.eventLoopUtilization:
 * the time the calling thread spent outside its idle wait, render and timers
 * together, including the time it was preempted by other processes meanwhile)
 * and the calling thread's own CPU time (/proc/PID/task/PID/schedstat: what
 * the render costs the JS thread, whatever the load).
 *
 * The histogram's values are the intervals between its 1 ms timer's ticks, so
 * a free loop reads about 1.0-1.1 ms; a block of B ms reads about B + 1 ms.
 * The figures depend on the machine's load: the script prints the load
 * average (/proc/loadavg) before and after. Run from dist/ (npm run build:ts).
 *
 *   node bench/heatmap-loop.js [--reps N] [--hog N]
 */
const path = require('path');
const fs = require('fs');
const { spawnSync } = require('child_process');
const { monitorEventLoopDelay } = require('perf_hooks');

const DIST = path.join(__dirname, '..', 'dist', 'lib');
const args = process.argv.slice(2);
const reps = args.includes('--reps') ? Number(args[args.indexOf('--reps') + 1]) : 5;
const hogN = args.includes('--hog') ? Number(args[args.indexOf('--hog') + 1]) : 0;

const CASES = {
  '32x32 annotated': { n: 32, opts: { title: 'cosine similarity', annotate: true } },
  '128x128': { n: 128, opts: { title: 'cosine similarity' } },
};

function matrixOf(n) {
  return Array.from({ length: n }, (_, i) => Array.from({ length: n }, (_, j) => Math.cos(i * 0.3 + j * 0.17)));
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
/** The main thread's CPU time so far, ms (the kernel's schedstat, in ns). */
const mainCpu = () => Number(fs.readFileSync(`/proc/${process.pid}/task/${process.pid}/schedstat`, 'utf8').split(' ')[0]) / 1e6;
const loadavg = () => fs.readFileSync('/proc/loadavg', 'utf8').trim();

/** The previous heatmapPngAsync, rebuilt from dist's parts (commit d1eedeb's lib/heatmap.ts and lib/heatmap/resvg.ts). */
function beforeAsync() {
  const { readMatrix } = require(path.join(DIST, 'heatmap', 'matrix.js'));
  const { resolveOptions } = require(path.join(DIST, 'heatmap', 'options.js'));
  const { buildSvg } = require(path.join(DIST, 'heatmap', 'svg.js'));
  const { DEJAVU_SANS, FONT_FAMILY } = require(path.join(DIST, 'heatmap', 'text.js'));
  const { renderAsync } = require('@resvg/resvg-js');
  const font = fs.existsSync(DEJAVU_SANS)
    ? { fontFiles: [DEJAVU_SANS], loadSystemFonts: false, defaultFontFamily: FONT_FAMILY, sansSerifFamily: FONT_FAMILY }
    : { loadSystemFonts: true };
  return async (matrix, opts) => {
    const m = readMatrix(matrix, 'matrix');
    const o = resolveOptions(opts, m.rows, m.cols);
    const svg = buildSvg(m, o);
    const image = await renderAsync(svg, {
      font,
      fitTo: o.scale === 1 ? { mode: 'original' } : { mode: 'zoom', value: o.scale },
      background: '#ffffff',
    }, null);
    return image.asPng();
  };
}

/** Runs `call` `reps` times in a row under one histogram; a short sleep after each lets a delayed tick land. */
async function measure(call, reps) {
  const h = monitorEventLoopDelay({ resolution: 1 });
  const walls = [];
  await sleep(20);
  const elu0 = performance.eventLoopUtilization();
  const cpu0 = mainCpu();
  h.enable();
  for (let r = 0; r < reps; r++) {
    const t0 = performance.now();
    await call();
    walls.push(performance.now() - t0);
    await sleep(3);
  }
  h.disable();
  const cpu = (mainCpu() - cpu0) / reps;
  const active = performance.eventLoopUtilization(elu0).active / reps;
  const ms = (ns) => ns / 1e6;
  walls.sort((a, b) => a - b);
  return { max: ms(h.max), p99: ms(h.percentile(99)), p50: ms(h.percentile(50)), samples: h.count, wall: walls[walls.length >> 1], active, cpu };
}

const fmt = (v) => v.toFixed(1).padStart(6);

async function child() {
  // --first NAME: one heatmapPngAsync call in this fresh process
  const name = args[args.indexOf('--first') + 1];
  const c = CASES[name];
  const hm = require(path.join(DIST, 'heatmap.js'));
  const matrix = matrixOf(c.n);
  const r = await measure(() => hm.heatmapPngAsync(matrix, c.opts), 1);
  process.stdout.write(JSON.stringify(r));
}

async function main() {
  const hm = require(path.join(DIST, 'heatmap.js'));
  const before = beforeAsync();
  let hogs = [];
  if (hogN > 0) {
    const code = 'const end = Date.now() + 600000; while (Date.now() < end) {}';
    hogs = Array.from({ length: hogN }, () => require('child_process').spawn(process.execPath, ['-e', code], { stdio: 'ignore' }));
    process.on('exit', () => hogs.forEach((p) => p.kill('SIGKILL')));
    await sleep(500);
  }
  console.log(`load before: ${loadavg()}; ${require('os').cpus().length} CPUs; ${reps} calls a mode; ${hogN} hog(s) of this script`);
  console.log('case              mode    | loop delay max   p99   p50 (ms) | samples | wall median | a call: loop active, JS thread CPU (ms)');
  for (const [name, c] of Object.entries(CASES)) {
    const matrix = matrixOf(c.n);
    // the same bytes, and everything warm (fonts, code, the render thread)
    const ref = hm.heatmapPng(matrix, c.opts);
    if (!(await hm.heatmapPngAsync(matrix, c.opts)).equals(ref)) throw new Error(`${name}: heatmapPngAsync's bytes differ from heatmapPng's`);
    if (!Buffer.from(await before(matrix, c.opts)).equals(ref)) throw new Error(`${name}: the previous async form's bytes differ`);
    const modes = {
      sync: async () => hm.heatmapPng(matrix, c.opts),
      before: () => before(matrix, c.opts),
      after: () => hm.heatmapPngAsync(matrix, c.opts),
    };
    let afterWall = 0;
    const line = (mode, r) => console.log(`${name.padEnd(17)} ${mode.padEnd(7)} | ${fmt(r.max)} ${fmt(r.p99)} ${fmt(r.p50)}      | ${String(r.samples).padStart(7)} | ${fmt(r.wall)}      | ${fmt(r.active)} ${fmt(r.cpu)}`);
    for (const [mode, call] of Object.entries(modes)) {
      const r = await measure(call, reps);
      if (mode === 'after') afterWall = r.wall;
      line(mode, r);
    }
    line('idle', await measure(() => sleep(afterWall), reps));
    const first = spawnSync(process.execPath, [__filename, '--first', name], { encoding: 'utf8' });
    if (first.status !== 0) throw new Error(`first call: ${first.stderr}`);
    line('first', JSON.parse(first.stdout));
  }
  console.log(`load after: ${loadavg()}`);
  hogs.forEach((p) => p.kill('SIGKILL'));
}

(args.includes('--first') ? child() : main()).catch((e) => {
  console.error(e);
  process.exit(1);
});
