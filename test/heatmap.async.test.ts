// heatmapPngAsync / writeHeatmapAsync (issue 26): the PNG rendered off the
// event loop by resvg's renderAsync, the same bytes as heatmapPng; the event
// loop's delay while it renders, against the time the sync function blocks
// it; cancellation with a signal.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { heatmapPng, heatmapPngAsync, writeHeatmapAsync } from '../lib/heatmap';

jest.setTimeout(120000);

const matrix = Array.from({ length: 32 }, (_, i) => Array.from({ length: 32 }, (_, j) => Math.cos(i * 0.3 + j * 0.17)));
const opts = { title: 'cosine similarity', annotate: true };

/** The longest gap between 1 ms timer ticks while `work` runs: the event loop's worst delay. */
async function worstDelay(work: () => Promise<unknown>): Promise<{ worst: number; elapsed: number }> {
  let last = performance.now();
  let worst = 0;
  const timer = setInterval(() => {
    const now = performance.now();
    worst = Math.max(worst, now - last);
    last = now;
  }, 1);
  const t0 = performance.now();
  await work();
  const elapsed = performance.now() - t0;
  // one more tick: a block at the very end counts too
  await new Promise((r) => setTimeout(r, 2));
  clearInterval(timer);
  return { worst, elapsed };
}

test('the same PNG bytes as heatmapPng', async () => {
  const png = await heatmapPngAsync(matrix, opts);
  expect(png.subarray(1, 4).toString()).toBe('PNG');
  expect(png.equals(heatmapPng(matrix, opts))).toBe(true);
});

test('the event loop keeps turning while a 32x32 annotated PNG renders (the sync call blocks it)', async () => {
  await heatmapPngAsync(matrix, opts); // fonts and code warm
  const sync = await worstDelay(async () => heatmapPng(matrix, opts));
  const async = await worstDelay(() => heatmapPngAsync(matrix, opts));
  const load = os.loadavg()[0];
  // eslint-disable-next-line no-console
  console.log(`32x32 annotated PNG: heatmapPng blocks the loop ${sync.worst.toFixed(1)} ms; heatmapPngAsync: worst loop delay ${async.worst.toFixed(1)} ms over ${async.elapsed.toFixed(0)} ms (load ${load.toFixed(1)}, ${os.cpus().length} CPUs)`);
  // the sync call's block is the whole render; the async one's worst delay is the
  // SVG's construction and whatever else the machine does: a fraction of it
  expect(sync.worst).toBeGreaterThan(sync.elapsed * 0.9);
  expect(async.worst).toBeLessThan(sync.worst / 3);
});

test('an aborted signal: rejects with an AbortError before or after rendering; writes nothing', async () => {
  const before = new AbortController();
  before.abort();
  await expect(heatmapPngAsync(matrix, { ...opts, signal: before.signal })).rejects.toMatchObject({ name: 'AbortError' });
  const during = new AbortController();
  const p = heatmapPngAsync(matrix, { ...opts, signal: during.signal });
  during.abort();
  await expect(p).rejects.toMatchObject({ name: 'AbortError' });
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pairloss-heatmap-'));
  try {
    const file = path.join(dir, 'h.png');
    const w = new AbortController();
    const write = writeHeatmapAsync(file, matrix, { ...opts, signal: w.signal });
    w.abort();
    await expect(write).rejects.toMatchObject({ name: 'AbortError' });
    expect(fs.existsSync(file)).toBe(false);
    await writeHeatmapAsync(file, matrix, opts);
    expect(fs.readFileSync(file).equals(heatmapPng(matrix, opts))).toBe(true);
    await writeHeatmapAsync(path.join(dir, 'h.svg'), [[1, 0], [0, 1]]);
    expect(fs.readFileSync(path.join(dir, 'h.svg'), 'utf8')).toMatch(/^<svg/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
