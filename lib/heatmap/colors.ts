/**
 * Colour maps (seaborn's and matplotlib's 256-entry tables in lib/colormaps.ts),
 * the value-to-colour lookup, and the annotation colour readable on a cell.
 */
import { COLORMAP_TABLES } from '../colormaps';
import { invalidType, invalidValue } from '../errors';

/**
 * An 8-bit sRGB colour `[r, g, b]`.
 *
 * @example
 * ```ts
 * const [r, g, b]: RgbColor = colormapColors('vlag')[128];
 * ```
 */
export type RgbColor = readonly [number, number, number];

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

const lutCache = new Map<string, RgbColor[]>();

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
export function colormapColors(name: string): RgbColor[] {
  if (typeof name !== 'string') throw invalidType('name', 'a colour map name (string)', name);
  const cached = lutCache.get(name);
  if (cached) return cached.slice();
  const reversed = name.endsWith('_r');
  const base = reversed ? name.slice(0, -2) : name;
  if (!Object.prototype.hasOwnProperty.call(COLORMAP_TABLES, base)) {
    throw invalidValue('name', `one of ${HEATMAP_COLORMAPS.join(', ')}`, name);
  }
  // The table packs `rrggbb` per entry.
  const hex = COLORMAP_TABLES[base];
  const lut: RgbColor[] = [];
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
export function lutIndex(v: number, vmin: number, vmax: number, n: number): number {
  if (Number.isNaN(v)) return -1;
  const x = ((v - vmin) / (vmax - vmin)) * n;
  if (x < 0) return 0;
  if (x >= n) return n - 1;
  return Math.floor(x);
}

/** `#rrggbb` of a colour. */
export function hexColor(c: RgbColor): string {
  return `#${((1 << 24) | (c[0] << 16) | (c[1] << 8) | c[2]).toString(16).slice(1)}`;
}

/** WCAG relative luminance of an 8-bit sRGB colour, as seaborn's `utils.relative_luminance`. */
function relativeLuminance(c: RgbColor): number {
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
export function textColorFor(c: RgbColor): string {
  return relativeLuminance(c) < 0.408 ? LIGHT_TEXT : DARK_TEXT;
}
