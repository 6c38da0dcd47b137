/**
 * Heatmap options: the public {@link HeatmapOptions}, checked and given their
 * defaults once, into the {@link ResolvedOptions} the layout and drawing read.
 */
import { invalidType, invalidValue, rangeError } from '../errors';
import { HEATMAP_COLORMAPS } from './colors';

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

/** Writes one annotation value. */
export type Formatter = (v: number) => string;

/** Every option checked and defaulted; `''` for no text, `null` for "choose from the matrix". */
export interface ResolvedOptions {
  annotate: boolean;
  vmin: number;
  vmax: number;
  cmap: string;
  /** The `fmt` spec that {@link format} writes. */
  fmt: string;
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

/**
 * Checks `opts` for a `rows` x `cols` matrix and fills in the defaults.
 * Errors name the option (`opts.vmin`, …) in lib/errors.ts's wording.
 */
export function resolveOptions(opts: unknown, rows: number, cols: number): ResolvedOptions {
  if (opts === undefined) opts = {};
  if (typeof opts !== 'object' || opts === null || Array.isArray(opts)) {
    throw invalidType('opts', 'an object of heatmap options', opts);
  }
  const o = opts as Record<string, unknown>;
  // A misspelt option is an error, not silently its default; `undefined` counts as left out.
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
    fmt: fmtRaw,
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

/**
 * Resolved options as plain data that `postMessage` can clone (no formatter),
 * such that {@link resolveOptions} makes the same {@link ResolvedOptions} of it.
 */
export type PlainOptions = Omit<HeatmapOptions, 'xTickLabels' | 'yTickLabels'> & { xTickLabels?: string[]; yTickLabels?: string[] };

/** `o` as {@link PlainOptions}: each option's checked value (tick labels as strings), `fmt` instead of the formatter. */
export function plainOptions(o: ResolvedOptions): PlainOptions {
  return {
    annotate: o.annotate,
    vmin: o.vmin,
    vmax: o.vmax,
    cmap: o.cmap,
    fmt: o.fmt,
    title: o.title,
    xLabel: o.xLabel,
    yLabel: o.yLabel,
    xTickLabels: o.xTickLabels ?? undefined,
    yTickLabels: o.yTickLabels ?? undefined,
    cellSize: o.cellSize ?? undefined,
    colorbar: o.colorbar,
    scale: o.scale,
  };
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

/** Tick labels: one string or number per `what` (row or column), numbers written with String(). */
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
