/**
 * Heatmaps of a 2-D matrix (a similarity or correlation matrix) as SVG or
 * PNG, in the look of seaborn's `heatmap`: square cells coloured by a colour
 * map between `vmin` and `vmax` (clipped), a colour bar on the right, row and
 * column tick labels, and the value written in each cell in a colour that
 * stays readable. The PNG is the same SVG rendered by resvg, so both look the
 * same. Pure TypeScript: no native code of pairloss is involved (this is the
 * subpath `pairloss/heatmap`, which never loads the addon).
 *
 * The parts live in lib/heatmap/: matrix.ts (reading the input), options.ts,
 * colors.ts (colour maps), text.ts (font metrics), layout.ts (the geometry),
 * svg.ts (drawing), png.ts (the embedded image's encoder), resvg.ts (PNG output),
 * thread.ts and worker.ts (the async functions' render thread).
 */
import * as fs from 'fs';
import * as nodePath from 'path';
import { abortError, invalidType, rangeError, signalOption } from './errors';
import { readMatrix } from './heatmap/matrix';
import type { HeatmapMatrix } from './heatmap/matrix';
import { plainOptions, resolveOptions } from './heatmap/options';
import type { HeatmapOptions, PlainOptions } from './heatmap/options';
import { checkResvgInstalled, renderPng } from './heatmap/resvg';
import { buildSvg } from './heatmap/svg';
import { renderOnThread } from './heatmap/thread';

export { readMatrix } from './heatmap/matrix';
export type { HeatmapMatrix, MatrixView } from './heatmap/matrix';
export { colormapColors, HEATMAP_COLORMAPS } from './heatmap/colors';
export type { RgbColor } from './heatmap/colors';
export type { HeatmapOptions } from './heatmap/options';

/**
 * The bytes {@link heatmapPng} returns: at run time always a Node.js `Buffer`.
 * Typed as `Buffer` in a project that has Node's types (`@types/node`), and as
 * `Uint8Array` (which `Buffer` extends) in one that does not, so that the
 * declaration files compile with a compiler's default settings (TypeScript 6
 * and later include no `@types` package unless `types` names it).
 */
export type PngBytes = typeof globalThis extends { Buffer: { alloc(size: number): infer B } } ? B : Uint8Array;

/**
 * Draws a matrix as an SVG heatmap in seaborn's look.
 *
 * Cells are coloured by `opts.cmap` between `opts.vmin` and `opts.vmax` as matplotlib maps values
 * (256 colours; values outside are clipped to the end colours); NaN cells are hatched grey and left
 * unannotated. Large matrices get small cells (2 px at least) and thinned tick labels. Up to
 * 128 x 128 = 16384 cells each cell is one `<rect>` (inside `<g class="cells">`); above that the cells are
 * one embedded PNG `<image>` of one pixel a cell, scaled up without smoothing, which keeps the SVG small.
 *
 * @param matrix - the `[rows, cols]` matrix: `number[][]`, `{ data, shape }` or a `Tensor` ({@link HeatmapMatrix}).
 * @param opts - {@link HeatmapOptions}; defaults: `annotate` when both sides <= 32, `vmin: -1`, `vmax: 1`,
 *   `cmap: 'rocket'`, `fmt: '.2f'`, no title, colour bar on.
 * @returns the SVG document as a string (fonts: DejaVu Sans, then common sans-serif fonts).
 * @throws TypeError when `matrix` or an option has the wrong type (the message names it).
 * @throws RangeError when `matrix` is not a non-empty 2-D matrix or has more than 2048 x 2048 cells, or an option
 *   has a bad value (`vmin >= vmax`, non-finite numbers, unknown `cmap`, unsupported `fmt`, unknown option name).
 * @example
 * ```ts
 * import { heatmapSvg } from 'pairloss';
 * const svg = heatmapSvg([[1, 0.2], [0.1, 0.9]], { title: 'cosine similarity' });
 * ```
 */
export function heatmapSvg(matrix: HeatmapMatrix, opts?: HeatmapOptions): string {
  const m = readMatrix(matrix, 'matrix');
  return buildSvg(m, resolveOptions(opts, m.rows, m.cols));
}

/**
 * Draws a matrix as a PNG heatmap: the SVG of {@link heatmapSvg} rendered by resvg (synchronously).
 *
 * Text uses DejaVu Sans from `/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf` (Debian/Ubuntu package
 * `fonts-dejavu-core`); without that file the system's fonts are searched.
 *
 * @param matrix - the `[rows, cols]` matrix ({@link HeatmapMatrix}).
 * @param opts - {@link HeatmapOptions}; `scale` (default 1) zooms the rendering.
 * @returns the PNG file's bytes (RGBA, 8 bits a channel).
 * @throws TypeError / RangeError as {@link heatmapSvg}; RangeError also when the image would exceed 16384 px a side.
 * @example
 * ```ts
 * import { writeFileSync } from 'fs';
 * import { heatmapPng } from 'pairloss';
 * writeFileSync('sim.png', heatmapPng(similarity, { cmap: 'vlag', scale: 2 }));
 * ```
 */
export function heatmapPng(matrix: HeatmapMatrix, opts?: HeatmapOptions): PngBytes {
  const m = readMatrix(matrix, 'matrix');
  const o = resolveOptions(opts, m.rows, m.cols);
  return renderPng(buildSvg(m, o), o.scale) as PngBytes;
}

/**
 * Writes a heatmap file, PNG or SVG by the file's extension (`.png` or `.svg`, any case).
 *
 * @param path - where to write; an existing file is replaced.
 * @param matrix - the `[rows, cols]` matrix ({@link HeatmapMatrix}).
 * @param opts - {@link HeatmapOptions}.
 * @throws TypeError when `path` is not a string, or as {@link heatmapSvg}.
 * @throws RangeError when `path` does not end in `.png` or `.svg`, or as {@link heatmapPng}.
 * @throws Error from the file system (e.g. `ENOENT` when the folder does not exist).
 * @example
 * ```ts
 * import { writeHeatmap } from 'pairloss';
 * writeHeatmap('out/similarity.png', similarity, { title: 'after training' });
 * writeHeatmap('out/similarity.svg', similarity, { cmap: 'icefire' });
 * ```
 */
export function writeHeatmap(path: string, matrix: HeatmapMatrix, opts?: HeatmapOptions): void {
  if (typeof path !== 'string') throw invalidType('path', 'a file path string ending in .png or .svg', path);
  const ext = nodePath.extname(path).toLowerCase();
  if (ext !== '.png' && ext !== '.svg') {
    throw rangeError('path', `expected a path ending in .png or .svg (the format is taken from it), got ${JSON.stringify(path)}`);
  }
  const m = readMatrix(matrix, 'matrix');
  const o = resolveOptions(opts, m.rows, m.cols);
  const svg = buildSvg(m, o);
  fs.writeFileSync(path, ext === '.png' ? renderPng(svg, o.scale) : svg);
}

/** Options of the async heatmap functions: {@link HeatmapOptions} and a `signal`. */
export interface HeatmapAsyncOptions extends HeatmapOptions {
  /** Cancels the call: it rejects with an AbortError DOMException and writes nothing. */
  signal?: AbortSignal;
}

/** The heatmap options without `signal`, and the signal checked. */
function splitSignal(opts: unknown): [unknown, AbortSignal | undefined] {
  if (opts === null || typeof opts !== 'object' || !Object.prototype.hasOwnProperty.call(opts, 'signal')) return [opts, undefined];
  const { signal, ...rest } = opts as { signal?: unknown };
  return [rest, signalOption(signal)];
}

function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw abortError(signal);
}

/**
 * The matrix and options read and checked on the calling thread, as the
 * render thread takes them: the values copied (a `number[][]` is read into a
 * new Float64Array anyway, a typed array is copied: the render sees the
 * values of the call, and the copy's memory moves to the thread).
 */
function prepare(matrix: HeatmapMatrix, opts: unknown): { rows: number; cols: number; data: Float32Array | Float64Array; opts: PlainOptions; signal?: AbortSignal } {
  const [rest, signal] = splitSignal(opts);
  throwIfAborted(signal);
  const m = readMatrix(matrix, 'matrix');
  const o = plainOptions(resolveOptions(rest, m.rows, m.cols));
  const data = m.data as Float32Array | Float64Array;
  return { rows: m.rows, cols: m.cols, data: Array.isArray(matrix) ? data : data.slice(), opts: o, signal };
}

/**
 * {@link heatmapPng} off the event loop: the calling thread reads the matrix
 * (copying its values) and checks the options; the SVG is built and rendered
 * by resvg on a render thread of its own (a `worker_threads` Worker, started
 * by the first call and kept, unref'd, for the next ones). Same bytes as
 * {@link heatmapPng}. Renders run one at a time in call order; at most
 * `getAsyncQueueLimit()` wait (as the losses' queue, `setAsyncQueueLimit` /
 * `PAIRLOSS_ASYNC_QUEUE_LIMIT`; unbounded by default), beyond which a call
 * rejects at once with an `AsyncQueueFullError`. When `signal` fires the call
 * rejects at once: a waiting render is dropped, a running one finishes on the
 * render thread and its result is discarded.
 *
 * Measured on the 2-CPU development VM (bench/heatmap-loop.js, 32 x 32
 * annotated cells): the sync function holds the loop for the whole render
 * (~360 ms quiet), 420-530 ms of the JS thread's CPU time; this one 1-6 ms of
 * it. The first call also starts the thread (~10 ms of the
 * JS thread's CPU, once). A large `number[][]` is read on the calling thread:
 * pass big matrices as a typed array (copied at memory speed).
 *
 * @param opts - {@link HeatmapOptions}, and `signal` (an AbortSignal) to cancel.
 * @returns a Promise of the PNG file's bytes.
 * @throws (as a rejection) TypeError / RangeError as {@link heatmapPng}; a DOMException named 'AbortError' when `signal` fires first;
 *   an `AsyncQueueFullError` (`code: 'PAIRLOSS_QUEUE_FULL'`) when the queue is full.
 * @example
 * ```ts
 * const png = await heatmapPngAsync(similarity, { title: 'step 100', signal: req.signal });
 * ```
 */
export async function heatmapPngAsync(matrix: HeatmapMatrix, opts?: HeatmapAsyncOptions): Promise<PngBytes> {
  const { rows, cols, data, opts: o, signal } = prepare(matrix, opts);
  checkResvgInstalled();
  const png = await renderOnThread('png', rows, cols, data, o, signal);
  return Buffer.from(png.buffer, png.byteOffset, png.byteLength) as PngBytes;
}

/**
 * {@link writeHeatmap} off the event loop: the PNG rendered as
 * {@link heatmapPngAsync} renders it (an SVG is built on the same render
 * thread), the file written with `fs.promises`.
 * Nothing is written when `signal` fires before the write starts.
 * @throws (as a rejection) as {@link writeHeatmap}; an AbortError DOMException when `signal` fires first;
 *   an `AsyncQueueFullError` as {@link heatmapPngAsync}.
 * @example
 * ```ts
 * await writeHeatmapAsync('out/similarity.png', similarity, { title: 'after training' });
 * ```
 */
export async function writeHeatmapAsync(path: string, matrix: HeatmapMatrix, opts?: HeatmapAsyncOptions): Promise<void> {
  if (typeof path !== 'string') throw invalidType('path', 'a file path string ending in .png or .svg', path);
  const ext = nodePath.extname(path).toLowerCase();
  if (ext !== '.png' && ext !== '.svg') {
    throw rangeError('path', `expected a path ending in .png or .svg (the format is taken from it), got ${JSON.stringify(path)}`);
  }
  const { rows, cols, data, opts: o, signal } = prepare(matrix, opts);
  let bytes: Uint8Array | string;
  if (ext === '.png') {
    checkResvgInstalled();
    bytes = await renderOnThread('png', rows, cols, data, o, signal);
  } else {
    bytes = await renderOnThread('svg', rows, cols, data, o, signal);
  }
  throwIfAborted(signal);
  await fs.promises.writeFile(path, bytes);
}
