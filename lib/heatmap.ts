/**
 * Heatmaps of a 2-D matrix (a similarity or correlation matrix) as SVG or
 * PNG, in the look of seaborn's `heatmap`: square cells coloured by a colour
 * map between `vmin` and `vmax` (clipped), a colour bar on the right, row and
 * column tick labels, and the value written in each cell in a colour that
 * stays readable. The PNG is the same SVG rendered by resvg, so both look the
 * same. Pure TypeScript: no native code of pairloss is involved.
 */
import * as fs from 'fs';
import * as nodePath from 'path';
import type { ResvgRenderOptions } from '@resvg/resvg-js';
import { COLORMAP_TABLES } from './colormaps';
import { invalidType, invalidValue, rangeError } from './errors';
import { encodePng } from './png';

// ---------------------------------------------------------------------------
// Matrix input
// ---------------------------------------------------------------------------

/**
 * What the heatmap functions accept as a matrix: a rectangular `number[][]`,
 * a `{ data, shape }` pair of a float typed array (row-major) and its
 * `[rows, cols]` shape, or an object with `shape` and a `data()` method
 * returning such a typed array (pairloss's `Tensor`).
 *
 * @example
 * ```ts
 * heatmapSvg([[1, 0], [0, 1]]);
 * heatmapSvg({ data: new Float32Array([1, 0, 0, 1]), shape: [2, 2] });
 * heatmapSvg(cosineSimilarity(x1, x2)); // a Tensor
 * ```
 */
export type HeatmapMatrix =
  | ReadonlyArray<ReadonlyArray<number>>
  | { readonly data: Float32Array | Float64Array; readonly shape: ReadonlyArray<number> }
  | { readonly shape: ReadonlyArray<number>; data(): Float32Array | Float64Array };

/**
 * A matrix read by {@link readMatrix}: `rows` x `cols` values, row-major.
 *
 * @example
 * ```ts
 * const { rows, cols, data } = readMatrix([[1, 2], [3, 4]]);
 * data[1 * cols + 0]; // 3, row 1 column 0
 * ```
 */
export interface MatrixView {
  readonly rows: number;
  readonly cols: number;
  /** Row-major values; the caller's typed array itself when one was given (no copy). */
  readonly data: ArrayLike<number>;
}

function formatShape(shape: ReadonlyArray<unknown>): string {
  return `[${shape.map((d) => String(d)).join(', ')}]`;
}

/**
 * Reads a 2-D matrix from any of the accepted forms ({@link HeatmapMatrix}).
 *
 * @param matrix - `number[][]` (rectangular), `{ data: Float32Array | Float64Array, shape: [rows, cols] }`,
 *   or an object with `shape` and a `data()` method returning such a typed array.
 * @param name - the argument's name used in error messages (default `'matrix'`).
 * @returns `{ rows, cols, data }`, `data` row-major (the caller's typed array, not a copy, when one was given).
 * @throws TypeError when `matrix` is none of the accepted forms, a cell of a `number[][]` is not
 *   a number, or `data` is not a Float32Array/Float64Array.
 * @throws RangeError when the matrix is not 2-D, is ragged, is empty (0 rows or 0 columns), or
 *   `data`'s length differs from `rows * cols`.
 * @example
 * ```ts
 * readMatrix([[1, 2], [3, 4]]);                                   // { rows: 2, cols: 2, data: Float64Array [1, 2, 3, 4] }
 * readMatrix({ data: new Float32Array(6), shape: [2, 3] });       // { rows: 2, cols: 3, data: <the same Float32Array> }
 * ```
 */
export function readMatrix(matrix: unknown, name = 'matrix'): MatrixView {
  if (typeof name !== 'string') throw invalidType('name', 'a string', name);
  if (Array.isArray(matrix)) {
    const rows = matrix.length;
    if (rows === 0) throw rangeError(name, `expected at least one row and one column, got an empty array`);
    const first: unknown = matrix[0];
    if (!Array.isArray(first)) {
      if (typeof first === 'number') {
        throw rangeError(name, `expected 2-D (an array of rows), got a 1-D array of numbers`);
      }
      throw invalidType(`${name}[0]`, 'an array of numbers (a row)', first);
    }
    const cols = first.length;
    if (cols === 0) throw rangeError(name, `expected at least one row and one column, got ${rows} empty row(s)`);
    const data = new Float64Array(rows * cols);
    for (let i = 0; i < rows; i++) {
      const row: unknown = matrix[i];
      if (!Array.isArray(row)) throw invalidType(`${name}[${i}]`, 'an array of numbers (a row)', row);
      if (row.length !== cols) {
        throw rangeError(name, `expected a rectangular matrix: row ${i} has ${row.length} value(s) but row 0 has ${cols}`,
        );
      }
      for (let j = 0; j < cols; j++) {
        const v: unknown = row[j];
        if (typeof v !== 'number') throw invalidType(`${name}[${i}][${j}]`, 'a number', v);
        data[i * cols + j] = v;
      }
    }
    return { rows, cols, data };
  }
  if (typeof matrix !== 'object' || matrix === null || ArrayBuffer.isView(matrix)) {
    throw invalidType(
      name,
      'a number[][], a { data: Float32Array | Float64Array, shape: [rows, cols] } object or a Tensor',
      matrix,
    );
  }
  const obj = matrix as { shape?: unknown; data?: unknown };
  const shape = obj.shape;
  if (!Array.isArray(shape)) throw invalidType(`${name}.shape`, 'an array of 2 integers [rows, cols]', shape);
  for (const d of shape) {
    if (typeof d !== 'number') throw invalidType(`${name}.shape`, 'an array of integers', shape);
    if (!Number.isInteger(d) || d < 0) {
      throw rangeError(`${name}.shape`, `expected non-negative integers, got ${formatShape(shape)}`);
    }
  }
  if (shape.length !== 2) {
    throw rangeError(name, `expected 2-D (shape [rows, cols]), got shape ${formatShape(shape)}`);
  }
  const [rows, cols] = shape as number[];
  const data: unknown = typeof obj.data === 'function' ? (obj.data as () => unknown).call(matrix) : obj.data;
  if (!(data instanceof Float32Array) && !(data instanceof Float64Array)) {
    throw invalidType(`${name}.data`, 'a Float32Array or a Float64Array', data);
  }
  if (data.length !== rows * cols) {
    throw rangeError(`${name}.data`, `has ${data.length} value(s) but shape ${formatShape(shape)} needs ${rows * cols}`,
    );
  }
  if (rows === 0 || cols === 0) {
    throw rangeError(name, `expected at least one row and one column, got shape ${formatShape(shape)}`);
  }
  return { rows, cols, data };
}

// ---------------------------------------------------------------------------
// Colour maps
// ---------------------------------------------------------------------------

/**
 * An 8-bit sRGB colour `[r, g, b]`.
 *
 * @example
 * ```ts
 * const [r, g, b]: RgbColor = colormapColors('vlag')[128];
 * ```
 */
export type RgbColor = readonly [number, number, number];
type Rgb = RgbColor;

const BASE_COLORMAPS = Object.keys(COLORMAP_TABLES);

/**
 * The colour map names {@link HeatmapOptions.cmap} accepts: seaborn's `rocket` (the default),
 * `mako`, `flare`, `crest`, the diverging `vlag` and `icefire`, and matplotlib's `viridis`,
 * `magma`, `inferno`, `plasma`, `cividis`; each also reversed with the suffix `_r` (as in
 * matplotlib), e.g. `rocket_r`.
 *
 * @example
 * ```ts
 * HEATMAP_COLORMAPS.includes('icefire'); // true
 * ```
 */
export const HEATMAP_COLORMAPS: readonly string[] = Object.freeze(
  BASE_COLORMAPS.flatMap((n) => [n, `${n}_r`]),
);

const lutCache = new Map<string, Rgb[]>();

/**
 * The 256 colours of a colour map as `[r, g, b]` bytes, lowest value first.
 *
 * @param name - one of {@link HEATMAP_COLORMAPS}.
 * @throws TypeError when `name` is not a string; RangeError when it is not a known map.
 * @example
 * ```ts
 * colormapColors('rocket')[255]; // [250, 235, 221], seaborn's rocket at its top
 * ```
 */
export function colormapColors(name: string): Rgb[] {
  if (typeof name !== 'string') throw invalidType('name', 'a colour map name (string)', name);
  const cached = lutCache.get(name);
  if (cached) return cached.slice();
  const reversed = name.endsWith('_r');
  const base = reversed ? name.slice(0, -2) : name;
  if (!Object.prototype.hasOwnProperty.call(COLORMAP_TABLES, base)) {
    throw invalidValue('name', `one of ${HEATMAP_COLORMAPS.join(', ')}`, name);
  }
  const hex = COLORMAP_TABLES[base];
  const lut: Rgb[] = [];
  for (let k = 0; k < hex.length; k += 6) {
    lut.push([
      parseInt(hex.slice(k, k + 2), 16),
      parseInt(hex.slice(k + 2, k + 4), 16),
      parseInt(hex.slice(k + 4, k + 6), 16),
    ]);
  }
  if (reversed) lut.reverse();
  lutCache.set(name, lut);
  return lut.slice();
}

/**
 * Index into a 256-entry map for `v`, as matplotlib's `Normalize` then
 * `Colormap.__call__` do: `x = (v - vmin) / (vmax - vmin)`, index
 * `floor(x * N)` with `x == 1` mapped to the last entry, values outside
 * clipped to the end colours (matplotlib's default under/over colours).
 * NaN gives -1.
 */
function lutIndex(v: number, vmin: number, vmax: number, n: number): number {
  if (Number.isNaN(v)) return -1;
  const x = ((v - vmin) / (vmax - vmin)) * n;
  if (x < 0) return 0;
  if (x >= n) return n - 1;
  return Math.floor(x);
}

function hexColor(c: Rgb): string {
  return `#${((1 << 24) | (c[0] << 16) | (c[1] << 8) | c[2]).toString(16).slice(1)}`;
}

/** WCAG relative luminance of an 8-bit sRGB colour, as seaborn's `utils.relative_luminance`. */
function relativeLuminance(c: Rgb): number {
  const lin = (x: number) => {
    const s = x / 255;
    return s <= 0.03928 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
  };
  return 0.2126 * lin(c[0]) + 0.7152 * lin(c[1]) + 0.0722 * lin(c[2]);
}

/** Annotation text on dark cells (seaborn: "w"). */
const LIGHT_TEXT = '#ffffff';
/** Annotation text on light cells (seaborn: ".15"). */
const DARK_TEXT = '#262626';

/**
 * The annotation colour seaborn picks for a cell colour: light text when the
 * colour's relative luminance is below 0.408, dark text otherwise.
 */
function textColorFor(c: Rgb): string {
  return relativeLuminance(c) < 0.408 ? LIGHT_TEXT : DARK_TEXT;
}

// ---------------------------------------------------------------------------
// Options
// ---------------------------------------------------------------------------

/**
 * Options of {@link heatmapSvg}, {@link heatmapPng} and {@link writeHeatmap}. All optional; an option
 * left `undefined` takes its default, an unknown option name is a RangeError.
 *
 * @example
 * ```ts
 * const opts: HeatmapOptions = { cmap: 'vlag', fmt: '.1f', title: 'epoch 3', xLabel: 'pronunciation', yLabel: 'spelling' };
 * ```
 */
export interface HeatmapOptions {
  /** Write each cell's value in it. Default: `true` when rows <= 32 and cols <= 32. */
  annotate?: boolean;
  /** Value at the bottom of the colour map; lower values are clipped to its first colour. Default `-1`. */
  vmin?: number;
  /** Value at the top of the colour map; higher values are clipped to its last colour. Default `1`. */
  vmax?: number;
  /**
   * Colour map, one of {@link HEATMAP_COLORMAPS}. Default `'rocket'` (seaborn's default sequential map);
   * `'vlag'` and `'icefire'` are diverging (their middle sits at `(vmin + vmax) / 2`).
   */
  cmap?: string;
  /**
   * Number format of the annotations, Python-style: `'.Nf'` (fixed, N decimals), `'.Ne'` (exponent),
   * `'.N%'` (percent), or `'d'` (integer, values rounded). N is 0..20. Default `'.2f'`.
   * Infinite values print as `inf`/`-inf`; NaN cells are left blank.
   */
  fmt?: string;
  /** Title above the heatmap. Default: none. */
  title?: string;
  /** Label under the column tick labels. Default: none. */
  xLabel?: string;
  /** Label left of the row tick labels. Default: none. */
  yLabel?: string;
  /** Column tick labels, one per column. Default: the column indices 0..cols-1. */
  xTickLabels?: ReadonlyArray<string | number>;
  /** Row tick labels, one per row. Default: the row indices 0..rows-1. */
  yTickLabels?: ReadonlyArray<string | number>;
  /**
   * Side of a (square) cell in pixels, 1..500. Default: chosen from the matrix size: square cells making
   * the longer side about 480 px (2 to 80 px a cell), large enough for the annotations when they are on;
   * a much shorter side is stretched to span at least 160 px.
   */
  cellSize?: number;
  /** Draw the colour bar. Default `true`. */
  colorbar?: boolean;
  /** PNG only: zoom factor of the rendering (2 for a high-DPI image), in (0, 16]. Default `1`. */
  scale?: number;
}

const OPTION_NAMES = [
  'annotate', 'vmin', 'vmax', 'cmap', 'fmt', 'title', 'xLabel', 'yLabel',
  'xTickLabels', 'yTickLabels', 'cellSize', 'colorbar', 'scale',
];

interface Formatter {
  (v: number): string;
}

interface ResolvedOptions {
  annotate: boolean;
  vmin: number;
  vmax: number;
  cmap: string;
  format: Formatter;
  title: string;
  xLabel: string;
  yLabel: string;
  xTickLabels: string[] | null;
  yTickLabels: string[] | null;
  cellSize: number | null;
  colorbar: boolean;
  scale: number;
}

/** Parses a Python-style format spec into a formatter; null when not supported. */
function parseFormat(fmt: string): Formatter | null {
  if (fmt === 'd') return (v) => (Number.isFinite(v) ? (Math.round(v) + 0).toString() : v > 0 ? 'inf' : '-inf');
  const m = /^\.(\d{1,2})([fe%])$/.exec(fmt);
  if (!m) return null;
  const digits = Number(m[1]);
  if (digits > 20) return null;
  const kind = m[2];
  return (v) => {
    if (!Number.isFinite(v)) return v > 0 ? 'inf' : '-inf';
    if (kind === 'f') return v.toFixed(digits);
    if (kind === '%') return `${(v * 100).toFixed(digits)}%`;
    // Python writes at least two exponent digits: 1.50e+00
    return v.toExponential(digits).replace(/e([+-])(\d)$/, 'e$10$2');
  };
}

function optString(o: Record<string, unknown>, key: string): string {
  const v = o[key];
  if (v === undefined) return '';
  if (typeof v !== 'string') throw invalidType(`opts.${key}`, 'a string', v);
  return v;
}

function optBoolean(o: Record<string, unknown>, key: string, dflt: boolean): boolean {
  const v = o[key];
  if (v === undefined) return dflt;
  if (typeof v !== 'boolean') throw invalidType(`opts.${key}`, 'a boolean', v);
  return v;
}

function optNumber(o: Record<string, unknown>, key: string, dflt: number): number {
  const v = o[key];
  if (v === undefined) return dflt;
  if (typeof v !== 'number') throw invalidType(`opts.${key}`, 'a number', v);
  if (!Number.isFinite(v)) throw invalidValue(`opts.${key}`, 'a finite number', v);
  return v;
}

function optLabels(o: Record<string, unknown>, key: string, count: number, what: string): string[] | null {
  const v = o[key];
  if (v === undefined) return null;
  if (!Array.isArray(v)) throw invalidType(`opts.${key}`, 'an array of strings', v);
  if (v.length !== count) {
    throw rangeError(`opts.${key}`, `expected one label per ${what} (${count}), got ${v.length}`);
  }
  return v.map((s: unknown, i: number) => {
    if (typeof s === 'string') return s;
    if (typeof s === 'number') return String(s);
    throw invalidType(`opts.${key}[${i}]`, 'a string or a number', s);
  });
}

function resolveOptions(opts: unknown, rows: number, cols: number): ResolvedOptions {
  if (opts === undefined) opts = {};
  if (typeof opts !== 'object' || opts === null || Array.isArray(opts)) {
    throw invalidType('opts', 'an object of heatmap options', opts);
  }
  const o = opts as Record<string, unknown>;
  for (const key of Object.keys(o)) {
    if (o[key] !== undefined && !OPTION_NAMES.includes(key)) {
      throw rangeError(`opts.${key}`, `is not a heatmap option; expected one of ${OPTION_NAMES.join(', ')}`);
    }
  }
  const annotate = optBoolean(o, 'annotate', rows <= 32 && cols <= 32);
  const vmin = optNumber(o, 'vmin', -1);
  const vmax = optNumber(o, 'vmax', 1);
  if (!(vmin < vmax)) {
    throw rangeError('opts.vmin', `expected less than opts.vmax, got vmin ${vmin} and vmax ${vmax}`);
  }
  const cmapRaw = o.cmap === undefined ? 'rocket' : o.cmap;
  if (typeof cmapRaw !== 'string') throw invalidType('opts.cmap', 'a colour map name (string)', cmapRaw);
  if (!HEATMAP_COLORMAPS.includes(cmapRaw)) {
    throw invalidValue('opts.cmap', `one of ${HEATMAP_COLORMAPS.join(', ')}`, cmapRaw);
  }
  const fmtRaw = o.fmt === undefined ? '.2f' : o.fmt;
  if (typeof fmtRaw !== 'string') throw invalidType('opts.fmt', "a format string such as '.2f'", fmtRaw);
  const format = parseFormat(fmtRaw);
  if (!format) throw invalidValue('opts.fmt', "'.Nf', '.Ne', '.N%' (N in 0..20) or 'd'", fmtRaw);
  let cellSize: number | null = null;
  if (o.cellSize !== undefined) {
    cellSize = optNumber(o, 'cellSize', 0);
    if (cellSize < 1 || cellSize > 500) throw invalidValue('opts.cellSize', 'a size in pixels in 1..500', cellSize);
  }
  const scale = optNumber(o, 'scale', 1);
  if (!(scale > 0 && scale <= 16)) throw invalidValue('opts.scale', 'a zoom factor in (0, 16]', scale);
  return {
    annotate,
    vmin,
    vmax,
    cmap: cmapRaw,
    format,
    title: optString(o, 'title'),
    xLabel: optString(o, 'xLabel'),
    yLabel: optString(o, 'yLabel'),
    xTickLabels: optLabels(o, 'xTickLabels', cols, 'column'),
    yTickLabels: optLabels(o, 'yTickLabels', rows, 'row'),
    cellSize,
    colorbar: optBoolean(o, 'colorbar', true),
    scale,
  };
}

// ---------------------------------------------------------------------------
// Text
// ---------------------------------------------------------------------------

/** The font the SVG asks for and the PNG renderer loads (matplotlib's default font too). */
const FONT_FAMILY = 'DejaVu Sans';
const SVG_FONT_FAMILY = "'DejaVu Sans', 'Bitstream Vera Sans', Verdana, Arial, Helvetica, sans-serif";
const DEJAVU_SANS = '/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf';

/** Advance widths (em) of DejaVu Sans for the characters numbers are written with. */
const CHAR_EM: Record<string, number> = {
  '0': 0.636, '1': 0.636, '2': 0.636, '3': 0.636, '4': 0.636, '5': 0.636, '6': 0.636, '7': 0.636,
  '8': 0.636, '9': 0.636, '.': 0.318, ',': 0.318, '-': 0.361, '\u2212': 0.838, '+': 0.838,
  e: 0.615, '%': 0.95, ' ': 0.318, i: 0.278, n: 0.634, f: 0.352, l: 0.278, I: 0.295, j: 0.278, t: 0.392,
};

/** Width in px of `s` in DejaVu Sans at `size` px: exact for numbers, an estimate for other text. */
function textWidth(s: string, size: number): number {
  let em = 0;
  for (const ch of s) {
    const w = CHAR_EM[ch];
    if (w !== undefined) em += w;
    else if (ch.codePointAt(0)! >= 0x2e80) em += 1.0; // CJK and other wide scripts
    else if (ch >= 'A' && ch <= 'Z') em += 0.7;
    else em += 0.6;
  }
  return em * size;
}

/** Escapes text for SVG content and attributes; drops characters XML 1.0 does not allow. */
function escapeXml(s: string): string {
  return s
    // eslint-disable-next-line no-control-regex
    .replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]/g, '')
    .replace(/[\r\n\t]+/g, ' ')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;');
}

/** Rounds a coordinate to 2 decimals for compact SVG. */
function r2(x: number): string {
  return String(Math.round(x * 100) / 100);
}

// ---------------------------------------------------------------------------
// Layout
// ---------------------------------------------------------------------------

const TICK_FONT = 12; // px, tick labels (matplotlib: 10 pt at 100 dpi ~ 14 px)
const LABEL_FONT = 13; // px, axis labels
const TITLE_FONT = 16; // px
const TICK_LEN = 4;
const TICK_PAD = 4;
const PAD = 12; // outer margin
const TARGET_SIDE = 480; // px, default length of the matrix's longer side
const MAX_CELL = 80;
const MIN_SHORT_SIDE = 160; // px, the shorter side of the matrix spans at least this much
const MIN_CELL = 2;
const MIN_ANNOT_FONT = 7;
const MAX_ANNOT_FONT = 14;
const MIN_COLORBAR = 120; // px, the colour bar is at least this tall
const MAX_SIDE = 16384; // px, largest image side
const MAX_CELLS = 2048 * 2048;
/** Up to this many cells, one <rect> a cell; above, one embedded image with one pixel a cell. */
const MAX_VECTOR_CELLS = 128 * 128;

/** Tick steps allowed when labels must be thinned, as matplotlib picks them. */
function niceStep(minStep: number): number {
  if (minStep <= 1) return 1;
  let mag = 1;
  for (;;) {
    for (const s of [1, 2, 2.5, 5]) {
      const step = s * mag;
      if (Number.isInteger(step) && step >= minStep) return step;
    }
    mag *= 10;
  }
}

/** Colour bar ticks: multiples of a 1/2/2.5/5 x 10^k step within [vmin, vmax], at most `maxTicks`. */
function colorbarTicks(vmin: number, vmax: number, maxTicks: number): { values: number[]; decimals: number } {
  const raw = (vmax - vmin) / Math.max(1, maxTicks - 1);
  const mag = 10 ** Math.floor(Math.log10(raw));
  let step = 10 * mag;
  for (const s of [1, 2, 2.5, 5, 10]) {
    if (s * mag >= raw * (1 - 1e-9)) {
      step = s * mag;
      break;
    }
  }
  const values: number[] = [];
  const first = Math.ceil(vmin / step - 1e-9);
  const last = Math.floor(vmax / step + 1e-9);
  for (let k = first; k <= last; k++) values.push(k * step === 0 ? 0 : k * step);
  // As many decimals as the step needs, the same for every label (matplotlib's ScalarFormatter).
  let decimals = 0;
  while (decimals < 10 && Math.abs(Math.round(step * 10 ** decimals) - step * 10 ** decimals) > 1e-6) decimals++;
  return { values, decimals };
}

/** A colour bar tick label: fixed decimals and a true minus sign, as matplotlib writes them. */
function colorbarLabel(v: number, decimals: number): string {
  const s = Math.abs(v).toFixed(decimals);
  const isZero = Number(s) === 0;
  return v < 0 && !isZero ? `\u2212${s}` : s;
}

// ---------------------------------------------------------------------------
// SVG
// ---------------------------------------------------------------------------

function buildSvg(m: MatrixView, o: ResolvedOptions): string {
  const { rows, cols, data } = m;
  if (rows * cols > MAX_CELLS) {
    throw rangeError('matrix', `has ${rows} x ${cols} = ${rows * cols} cells; a heatmap draws at most ${MAX_CELLS}: downsample it first`,
    );
  }
  const lut = colormapColors(o.cmap);
  const n = lut.length;

  // Annotation strings first: their width sets the cell size.
  const labels: string[] | null = o.annotate ? new Array<string>(rows * cols) : null;
  let widestEm = 0;
  if (labels) {
    for (let k = 0; k < rows * cols; k++) {
      const v = data[k];
      labels[k] = Number.isNaN(v) ? '' : o.format(v);
      widestEm = Math.max(widestEm, textWidth(labels[k], 1));
    }
  }

  // Cell size and annotation font. Cells are square, sized from the longer side; a short side is
  // stretched (cells taller or wider) until it spans MIN_SHORT_SIDE px, as seaborn fills its axes.
  let cellW: number;
  let cellH: number;
  if (o.cellSize !== null) {
    cellW = cellH = o.cellSize;
  } else {
    let cell = Math.min(MAX_CELL, Math.max(MIN_CELL, Math.floor(TARGET_SIDE / Math.max(rows, cols))));
    if (labels) cell = Math.max(cell, Math.ceil(widestEm * MIN_ANNOT_FONT + 6), Math.ceil(MIN_ANNOT_FONT * 2));
    cellW = cols * cell < MIN_SHORT_SIDE ? Math.max(cell, Math.min(MAX_CELL, Math.ceil(MIN_SHORT_SIDE / cols))) : cell;
    cellH = rows * cell < MIN_SHORT_SIDE ? Math.max(cell, Math.min(MAX_CELL, Math.ceil(MIN_SHORT_SIDE / rows))) : cell;
  }
  let annotFont = 0;
  if (labels) {
    annotFont = Math.min(
      MAX_ANNOT_FONT,
      Math.min(cellW, cellH) * 0.3,
      cellH * 0.6,
      widestEm > 0 ? (cellW - 6) / widestEm : MAX_ANNOT_FONT,
    );
    annotFont = Math.max(1, Math.floor(annotFont * 2) / 2);
  }
  const plotW = cols * cellW;
  const plotH = rows * cellH;

  // Tick labels, thinned to fit.
  const xNames = o.xTickLabels ?? Array.from({ length: cols }, (_, j) => String(j));
  const yNames = o.yTickLabels ?? Array.from({ length: rows }, (_, i) => String(i));
  const xWidest = Math.max(...xNames.map((s) => textWidth(s, TICK_FONT)));
  const yWidestAll = Math.max(...yNames.map((s) => textWidth(s, TICK_FONT)));
  // Custom column names too wide for their cell are written vertically, as seaborn does.
  const xVertical = o.xTickLabels !== null && xWidest + 4 > cellW;
  const xStep = niceStep((xVertical ? TICK_FONT * 1.3 : xWidest + 6) / cellW);
  const yStep = niceStep((TICK_FONT * 1.3) / cellH);
  const xTicks: number[] = [];
  for (let j = 0; j < cols; j += xStep) xTicks.push(j);
  const yTicks: number[] = [];
  for (let i = 0; i < rows; i += yStep) yTicks.push(i);
  const yWidest = Math.max(...yTicks.map((i) => textWidth(yNames[i], TICK_FONT)), 0) || yWidestAll;
  const xExtent = xVertical
    ? Math.max(...xTicks.map((j) => textWidth(xNames[j], TICK_FONT)))
    : TICK_FONT;

  // Colour bar.
  const cbarH = o.colorbar ? Math.max(plotH, MIN_COLORBAR) : 0;
  const cbarW = o.colorbar ? Math.min(24, Math.max(10, Math.round(cbarH / 20))) : 0;
  const cbarGap = o.colorbar ? Math.min(30, Math.max(12, Math.round(plotW * 0.05))) : 0;
  const ticks = o.colorbar ? colorbarTicks(o.vmin, o.vmax, Math.min(9, Math.floor(cbarH / 24) + 1)) : null;
  const cbarLabels = ticks ? ticks.values.map((v) => colorbarLabel(v, ticks.decimals)) : [];
  const cbarLabelW = Math.max(0, ...cbarLabels.map((s) => textWidth(s, TICK_FONT)));

  // Figure geometry.
  const bodyH = Math.max(plotH, cbarH);
  // Whole pixels for the plot's corner, so cells of whole pixels have sharp edges.
  const left = Math.ceil(PAD + (o.yLabel ? LABEL_FONT + 8 : 0) + yWidest + TICK_LEN + TICK_PAD);
  const top = PAD + (o.title ? TITLE_FONT + 10 : 0);
  const plotX = left;
  const plotY = top + Math.floor((bodyH - plotH) / 2);
  const cbarX = plotX + plotW + cbarGap;
  const cbarY = top + (bodyH - cbarH) / 2;
  const lastXHalf = xVertical ? 0 : textWidth(xNames[xTicks[xTicks.length - 1]], TICK_FONT) / 2;
  const rightEdge = o.colorbar
    ? cbarX + cbarW + TICK_LEN + TICK_PAD + cbarLabelW + PAD
    : plotX + plotW + Math.max(0, lastXHalf - cellW / 2) + PAD;
  const xLabelsBottom = plotY + plotH + TICK_LEN + TICK_PAD + xExtent;
  const bottomEdge = Math.max(xLabelsBottom + (o.xLabel ? LABEL_FONT + 8 : 0), top + bodyH) + PAD;
  const width = Math.ceil(rightEdge);
  const height = Math.ceil(bottomEdge);
  if (width * o.scale > MAX_SIDE || height * o.scale > MAX_SIDE) {
    throw rangeError(
      'opts',
      `the heatmap would be ${Math.ceil(width * o.scale)} x ${Math.ceil(height * o.scale)} px, more than ${MAX_SIDE} px a side: ` +
        'lower opts.cellSize or opts.scale, or set opts.annotate to false',
    );
  }

  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" ` +
      `font-family="${escapeXml(SVG_FONT_FAMILY)}">`,
  );
  if (o.title) out.push(`<title>${escapeXml(o.title)}</title>`);
  out.push('<defs>');
  // NaN cells: white with grey hatching (seaborn leaves them blank), distinct from every map colour.
  out.push(
    '<pattern id="pairloss-nan" patternUnits="userSpaceOnUse" width="6" height="6">' +
      '<rect width="6" height="6" fill="#ffffff"/>' +
      '<path d="M-1,1 l2,-2 M0,6 l6,-6 M5,7 l2,-2" stroke="#b0b0b0" stroke-width="1"/></pattern>',
  );
  if (o.colorbar) {
    // One flat band per colour-map entry, bottom (vmin) to top (vmax), as matplotlib's colour bar.
    const stops: string[] = [];
    for (let k = 0; k < n; k++) {
      const c = hexColor(lut[k]);
      stops.push(`<stop offset="${r2((k / n) * 100)}%" stop-color="${c}"/>`);
      stops.push(`<stop offset="${r2(((k + 1) / n) * 100)}%" stop-color="${c}"/>`);
    }
    out.push(`<linearGradient id="pairloss-cbar" x1="0" y1="1" x2="0" y2="0">${stops.join('')}</linearGradient>`);
  }
  out.push('</defs>');
  out.push(`<rect class="background" width="${width}" height="${height}" fill="#ffffff"/>`);

  // Cells: the colour of each (null for NaN).
  const colors = new Array<Rgb | null>(rows * cols);
  for (let k = 0; k < rows * cols; k++) {
    const idx = lutIndex(data[k], o.vmin, o.vmax, n);
    colors[k] = idx < 0 ? null : lut[idx];
  }
  const cw = r2(cellW);
  const ch = r2(cellH);
  if (rows * cols <= MAX_VECTOR_CELLS) {
    out.push(`<g class="cells" shape-rendering="crispEdges">`);
    for (let i = 0; i < rows; i++) {
      const y = r2(plotY + i * cellH);
      for (let j = 0; j < cols; j++) {
        const c = colors[i * cols + j];
        const fill = c === null ? 'url(#pairloss-nan)' : hexColor(c);
        out.push(`<rect x="${r2(plotX + j * cellW)}" y="${y}" width="${cw}" height="${ch}" fill="${fill}"/>`);
      }
    }
    out.push('</g>');
  } else {
    // Many cells: a PNG of one pixel a cell, scaled up without smoothing, over the NaN hatching
    // (NaN pixels are transparent). Keeps the SVG small and within renderers' element limits.
    const pixels = new Uint8Array(4 * rows * cols);
    for (let k = 0; k < rows * cols; k++) {
      const c = colors[k];
      pixels[4 * k] = c ? c[0] : 0;
      pixels[4 * k + 1] = c ? c[1] : 0;
      pixels[4 * k + 2] = c ? c[2] : 0;
      pixels[4 * k + 3] = c ? 255 : 0;
    }
    const b64 = encodePng(cols, rows, pixels).toString('base64');
    out.push(`<g class="cells">`);
    out.push(
      `<rect x="${r2(plotX)}" y="${r2(plotY)}" width="${r2(plotW)}" height="${r2(plotH)}" fill="url(#pairloss-nan)"/>`,
    );
    out.push(
      `<image x="${r2(plotX)}" y="${r2(plotY)}" width="${r2(plotW)}" height="${r2(plotH)}" preserveAspectRatio="none" ` +
        `image-rendering="optimizeSpeed" xlink:href="data:image/png;base64,${b64}"/>`,
    );
    out.push('</g>');
  }

  // Annotations, centred in their cells; the baseline sits 0.36 em below the centre.
  if (labels) {
    out.push(`<g class="annotations" font-size="${annotFont}" text-anchor="middle">`);
    for (let i = 0; i < rows; i++) {
      const y = r2(plotY + (i + 0.5) * cellH + 0.36 * annotFont);
      for (let j = 0; j < cols; j++) {
        const k = i * cols + j;
        const c = colors[k];
        if (c === null || labels[k] === '') continue;
        out.push(
          `<text x="${r2(plotX + (j + 0.5) * cellW)}" y="${y}" fill="${textColorFor(c)}">${escapeXml(labels[k])}</text>`,
        );
      }
    }
    out.push('</g>');
  }

  // Axis ticks and labels.
  const tickPath: string[] = [];
  out.push(`<g class="xticks" font-size="${TICK_FONT}" fill="#000000" text-anchor="${xVertical ? 'end' : 'middle'}">`);
  const xTextY = plotY + plotH + TICK_LEN + TICK_PAD;
  for (const j of xTicks) {
    const x = plotX + (j + 0.5) * cellW;
    tickPath.push(`M${r2(x)},${r2(plotY + plotH)}v${TICK_LEN}`);
    if (xVertical) {
      out.push(
        `<text transform="translate(${r2(x + 0.36 * TICK_FONT)},${r2(xTextY)}) rotate(-90)">${escapeXml(xNames[j])}</text>`,
      );
    } else {
      out.push(`<text x="${r2(x)}" y="${r2(xTextY + 0.76 * TICK_FONT)}">${escapeXml(xNames[j])}</text>`);
    }
  }
  out.push('</g>');
  out.push(`<g class="yticks" font-size="${TICK_FONT}" fill="#000000" text-anchor="end">`);
  for (const i of yTicks) {
    const y = plotY + (i + 0.5) * cellH;
    tickPath.push(`M${r2(plotX)},${r2(y)}h${-TICK_LEN}`);
    out.push(
      `<text x="${r2(plotX - TICK_LEN - TICK_PAD)}" y="${r2(y + 0.36 * TICK_FONT)}">${escapeXml(yNames[i])}</text>`,
    );
  }
  out.push('</g>');
  out.push(`<path class="ticks" d="${tickPath.join('')}" stroke="#000000" stroke-width="1" fill="none"/>`);
  if (o.xLabel) {
    out.push(
      `<text class="xlabel" x="${r2(plotX + plotW / 2)}" y="${r2(xLabelsBottom + 6 + 0.8 * LABEL_FONT)}" ` +
        `font-size="${LABEL_FONT}" text-anchor="middle">${escapeXml(o.xLabel)}</text>`,
    );
  }
  if (o.yLabel) {
    out.push(
      `<text class="ylabel" transform="translate(${r2(PAD + 0.8 * LABEL_FONT)},${r2(plotY + plotH / 2)}) rotate(-90)" ` +
        `font-size="${LABEL_FONT}" text-anchor="middle">${escapeXml(o.yLabel)}</text>`,
    );
  }

  // Colour bar with its ticks.
  if (o.colorbar && ticks) {
    out.push('<g class="colorbar">');
    out.push(
      `<rect x="${r2(cbarX)}" y="${r2(cbarY)}" width="${cbarW}" height="${r2(cbarH)}" fill="url(#pairloss-cbar)"/>`,
    );
    const d: string[] = [];
    const labelsSvg: string[] = [];
    ticks.values.forEach((v, t) => {
      const y = cbarY + cbarH * (1 - (v - o.vmin) / (o.vmax - o.vmin));
      d.push(`M${r2(cbarX + cbarW)},${r2(y)}h${TICK_LEN}`);
      labelsSvg.push(
        `<text x="${r2(cbarX + cbarW + TICK_LEN + TICK_PAD)}" y="${r2(y + 0.36 * TICK_FONT)}">${escapeXml(cbarLabels[t])}</text>`,
      );
    });
    out.push(`<path d="${d.join('')}" stroke="#000000" stroke-width="1" fill="none"/>`);
    out.push(`<g font-size="${TICK_FONT}" fill="#000000">${labelsSvg.join('')}</g>`);
    out.push('</g>');
  }

  if (o.title) {
    out.push(
      `<text class="title" x="${r2(plotX + plotW / 2)}" y="${r2(PAD + 0.8 * TITLE_FONT)}" font-size="${TITLE_FONT}" ` +
        `text-anchor="middle">${escapeXml(o.title)}</text>`,
    );
  }
  out.push('</svg>');
  return out.join('\n');
}

// ---------------------------------------------------------------------------
// Public API
// ---------------------------------------------------------------------------

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

let fontOptions: ResvgRenderOptions['font'] | undefined;

/** DejaVu Sans from its Debian path (fonts-dejavu-core); the system's fonts when it is missing. */
function resvgFontOptions(): ResvgRenderOptions['font'] {
  if (!fontOptions) {
    fontOptions = fs.existsSync(DEJAVU_SANS)
      ? { fontFiles: [DEJAVU_SANS], loadSystemFonts: false, defaultFontFamily: FONT_FAMILY, sansSerifFamily: FONT_FAMILY }
      : { loadSystemFonts: true };
  }
  return fontOptions;
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
export function heatmapPng(matrix: HeatmapMatrix, opts?: HeatmapOptions): Buffer {
  const m = readMatrix(matrix, 'matrix');
  const o = resolveOptions(opts, m.rows, m.cols);
  return renderPng(buildSvg(m, o), o.scale);
}

/**
 * resvg (the optional peer dependency `@resvg/resvg-js`), loaded on the first
 * PNG: SVG heatmaps need nothing but this module.
 */
function resvgModule(): typeof import('@resvg/resvg-js') {
  try {
    // eslint-disable-next-line @typescript-eslint/no-var-requires
    return require('@resvg/resvg-js') as typeof import('@resvg/resvg-js');
  } catch (cause) {
    const error = new Error(
      'PNG heatmaps are rendered by the package @resvg/resvg-js, which is not installed: `npm install @resvg/resvg-js` ' +
        '(SVG heatmaps need nothing more).',
    );
    (error as Error & { cause?: unknown }).cause = cause;
    throw error;
  }
}

function renderPng(svg: string, scale: number): Buffer {
  const { Resvg } = resvgModule();
  const resvg = new Resvg(svg, {
    font: resvgFontOptions(),
    fitTo: scale === 1 ? { mode: 'original' } : { mode: 'zoom', value: scale },
    background: '#ffffff',
  });
  return resvg.render().asPng();
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
