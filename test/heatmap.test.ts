// Heatmaps: colour tables against seaborn/matplotlib, PNG pixels at known cells, SVG structure,
// files written, and every bad argument.
import { afterAll, describe, expect, test } from '@jest/globals';
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { PNG } from 'pngjs';
import { Resvg } from '@resvg/resvg-js';
import {
  colormapColors,
  heatmapPng,
  heatmapSvg,
  HEATMAP_COLORMAPS,
  HeatmapMatrix,
  HeatmapOptions,
  readMatrix,
  writeHeatmap,
} from '../lib/heatmap';
import { COLORMAP_TABLES } from '../lib/colormaps';
import { testIf } from './helpers/skip';

type Rgb = readonly [number, number, number];

// Entries of the colour tables as written in seaborn/cm.py (seaborn 0.12.2: _rocket_lut, _vlag_lut,
// _icefire_lut, _mako_lut) and matplotlib/_cm_listed.py (matplotlib 3.6.3: _viridis_data), copied
// by hand from those files. matplotlib writes a float colour to 8 bits as round(c * 255).
const SEABORN_ENTRIES: Array<[string, number, Rgb]> = [
  ['rocket', 0, [0.01060815, 0.01808215, 0.10018654]],
  ['rocket', 127, [0.79085854, 0.10184672, 0.313391]],
  ['rocket', 128, [0.7965014, 0.10506637, 0.31063031]],
  ['rocket', 255, [0.98137749, 0.92061729, 0.86536915]],
  ['vlag', 0, [0.13850039, 0.41331206, 0.74052025]],
  ['vlag', 128, [0.9805997, 0.96155216, 0.95813083]],
  ['vlag', 255, [0.66080672, 0.21526712, 0.23069468]],
  ['icefire', 128, [0.12284806, 0.1179729, 0.11772022]],
  ['mako', 255, [0.87218969, 0.95960708, 0.89725384]],
  ['viridis', 0, [0.267004, 0.004874, 0.329415]],
  ['viridis', 128, [0.127568, 0.566949, 0.550556]],
  ['viridis', 255, [0.993248, 0.906157, 0.143936]],
];

function bytes(c: Rgb): Rgb {
  return [Math.round(c[0] * 255), Math.round(c[1] * 255), Math.round(c[2] * 255)];
}

function seaborn(name: string, k: number): Rgb {
  const e = SEABORN_ENTRIES.find(([n, i]) => n === name && i === k);
  if (!e) throw new Error(`no recorded entry ${name}[${k}]`);
  return bytes(e[2]);
}

const ROCKET_TOP = seaborn('rocket', 255);
const ROCKET_BOTTOM = seaborn('rocket', 0);
const ROCKET_MIDDLE = seaborn('rocket', 128); // value 0 for vmin -1, vmax 1: floor(0.5 * 256) = 128

const PYTHON = '/usr/bin/python3';
const GENERATOR = path.join(__dirname, 'fixtures', 'heatmap', 'make_colormaps.py');

// --- helpers ---------------------------------------------------------------------------------

interface Cell {
  x: number;
  y: number;
  w: number;
  h: number;
  fill: string;
}

/** The cell rectangles of a heatmap SVG, row-major. */
function cellRects(svg: string): Cell[] {
  const start = svg.indexOf('<g class="cells"');
  expect(start).toBeGreaterThanOrEqual(0);
  const group = svg.slice(start, svg.indexOf('</g>', start));
  const re = /<rect x="([\d.]+)" y="([\d.]+)" width="([\d.]+)" height="([\d.]+)" fill="([^"]+)"\/>/g;
  const cells: Cell[] = [];
  for (let m = re.exec(group); m; m = re.exec(group)) {
    cells.push({ x: +m[1], y: +m[2], w: +m[3], h: +m[4], fill: m[5] });
  }
  return cells;
}

/** The <image> standing for the cells of a large matrix. */
function cellImage(svg: string): { x: number; y: number; w: number; h: number } {
  const m = /<image x="([\d.]+)" y="([\d.]+)" width="([\d.]+)" height="([\d.]+)"/.exec(svg);
  if (!m) throw new Error('no <image> in the SVG');
  return { x: +m[1], y: +m[2], w: +m[3], h: +m[4] };
}

function decode(png: Buffer): PNG {
  return PNG.sync.read(png);
}

function pixel(img: PNG, x: number, y: number): Rgb {
  const k = 4 * (Math.floor(y) * img.width + Math.floor(x));
  return [img.data[k], img.data[k + 1], img.data[k + 2]];
}

/** Pixel near a cell's top-left corner, clear of its annotation and of anti-aliased edges. */
function cellCorner(img: PNG, c: Cell): Rgb {
  return pixel(img, c.x + Math.min(2, c.w / 2), c.y + Math.min(2, c.h / 2));
}

function hex(c: Rgb): string {
  return `#${c.map((v) => v.toString(16).padStart(2, '0')).join('')}`;
}

function identity(n: number): number[][] {
  return Array.from({ length: n }, (_, i) => Array.from({ length: n }, (_, j) => (i === j ? 1 : 0)));
}

function filled(rows: number, cols: number, f: (i: number, j: number) => number): number[][] {
  return Array.from({ length: rows }, (_, i) => Array.from({ length: cols }, (_, j) => f(i, j)));
}

function count(s: string, needle: RegExp): number {
  return (s.match(needle) || []).length;
}

function annotationTexts(svg: string): string[] {
  const start = svg.indexOf('<g class="annotations"');
  if (start < 0) return [];
  const group = svg.slice(start, svg.indexOf('</g>', start));
  return Array.from(group.matchAll(/<text [^>]*>([^<]*)<\/text>/g), (m) => m[1]);
}

/** seaborn.utils.relative_luminance for an 8-bit colour (WCAG 2 relative luminance). */
function luminance(c: Rgb): number {
  const lin = c.map((v) => {
    const s = v / 255;
    return s <= 0.03928 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
  });
  return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2];
}

/** A stand-in for pairloss's Tensor: `shape` and a `data()` method. */
class MatrixWithDataMethod {
  constructor(private readonly values: Float32Array, readonly shape: number[]) {}
  data(): Float32Array {
    return this.values;
  }
}

// --- readMatrix ------------------------------------------------------------------------------

describe('readMatrix', () => {
  test('reads number[][], { data, shape } and an object with a data() method', () => {
    const a = readMatrix([[1, 2, 3], [4, 5, 6]]);
    expect([a.rows, a.cols, Array.from(a.data)]).toEqual([2, 3, [1, 2, 3, 4, 5, 6]]);
    const f64 = new Float64Array([1, 2, 3, 4, 5, 6]);
    const b = readMatrix({ data: f64, shape: [3, 2] });
    expect([b.rows, b.cols]).toEqual([3, 2]);
    expect(b.data).toBe(f64); // no copy
    const f32 = new Float32Array([0.5, -0.5]);
    const c = readMatrix(new MatrixWithDataMethod(f32, [1, 2]));
    expect([c.rows, c.cols]).toEqual([1, 2]);
    expect(c.data).toBe(f32);
  });

  test.each<[string, unknown, typeof TypeError | typeof RangeError, RegExp]>([
    ['a string', 'abc', TypeError, /^Expected a number\[\]\[\].* for matrix but received "abc"/],
    ['null', null, TypeError, /^Expected .* for matrix but received null/],
    ['a typed array', new Float32Array(4), TypeError, /^Expected .* for matrix but received a Float32Array/],
    ['an empty array', [], RangeError, /^matrix: expected at least one row and one column/],
    ['empty rows', [[], []], RangeError, /^matrix: expected at least one row and one column/],
    ['a 1-D array', [1, 2, 3], RangeError, /^matrix: expected 2-D/],
    ['a ragged array', [[1, 2], [3]], RangeError, /^matrix: expected a rectangular matrix: row 1 has 1 value\(s\) but row 0 has 2/],
    ['a non-array row', [[1, 2], 'ab'], TypeError, /^Expected an array of numbers.* for matrix\[1\]/],
    ['a string cell', [[1, '2']], TypeError, /^Expected a number for matrix\[0\]\[1\] but received "2"/],
    ['a 3-D shape', { data: new Float32Array(8), shape: [2, 2, 2] }, RangeError, /^matrix: expected 2-D .*\[2, 2, 2\]/],
    ['a 1-D shape', { data: new Float32Array(4), shape: [4] }, RangeError, /^matrix: expected 2-D .*\[4\]/],
    ['a length mismatch', { data: new Float32Array(5), shape: [2, 3] }, RangeError, /^matrix\.data: has 5 value\(s\) but shape \[2, 3\] needs 6/],
    ['a zero-size shape', { data: new Float32Array(0), shape: [0, 3] }, RangeError, /^matrix: expected at least one row .*\[0, 3\]/],
    ['an Int32Array', { data: new Int32Array(4), shape: [2, 2] }, TypeError, /^Expected a Float32Array or a Float64Array for matrix\.data but received an Int32Array/],
    ['no shape', { data: new Float32Array(4) }, TypeError, /^Expected an array.* for matrix\.shape/],
    ['a fractional shape', { data: new Float32Array(4), shape: [1.5, 2] }, RangeError, /^matrix\.shape: expected non-negative integers/],
    ['a data() returning an array', { shape: [1, 1], data: () => [1] }, TypeError, /^Expected a Float32Array.* for matrix\.data/],
  ])('rejects %s', (_what, bad, cls, pattern) => {
    expect(() => readMatrix(bad)).toThrow(cls);
    expect(() => readMatrix(bad)).toThrow(pattern);
  });

  test('a detached buffer is a length mismatch, not a crash', () => {
    const data = new Float32Array(4);
    structuredClone(data.buffer, { transfer: [data.buffer] });
    expect(() => readMatrix({ data, shape: [2, 2] })).toThrow(/^matrix\.data: has 0 value\(s\) but shape \[2, 2\] needs 4/);
  });
});

// --- colour maps -----------------------------------------------------------------------------

describe('colour maps', () => {
  test('lib/colormaps.ts holds seaborn\'s and matplotlib\'s tables (recorded entries)', () => {
    for (const [name, k, rgb] of SEABORN_ENTRIES) {
      expect([name, k, colormapColors(name)[k]]).toEqual([name, k, bytes(rgb)]);
    }
    for (const name of Object.keys(COLORMAP_TABLES)) {
      expect(colormapColors(name)).toHaveLength(256);
      expect(colormapColors(`${name}_r`)).toEqual(colormapColors(name).reverse());
    }
  });

  // Where python has seaborn and matplotlib (Debian: python3-seaborn python3-matplotlib),
  // the generator rebuilds the whole file from their sources.
  const sources = spawnSync(PYTHON, ['-c', 'import importlib.util as u; print(all(u.find_spec(m) for m in ("seaborn", "matplotlib")))'], { encoding: 'utf8' });
  testIf(sources.stdout.trim() === 'True', `${PYTHON} has no seaborn and matplotlib (apt-get install python3-seaborn python3-matplotlib)`)(
    "lib/colormaps.ts is what the installed seaborn's and matplotlib's sources give", () => {
      const live = spawnSync(PYTHON, [GENERATOR], { encoding: 'utf8' });
      expect(live.stderr).toBe('');
      expect(live.status).toBe(0);
      const tables = (s: string) => s.slice(s.indexOf('export const COLORMAP_TABLES'));
      const current = fs.readFileSync(path.join(__dirname, '..', 'lib', 'colormaps.ts'), 'utf8');
      expect(tables(live.stdout)).toContain('export const COLORMAP_TABLES');
      expect(tables(live.stdout)).toEqual(tables(current));
    });

  test('names', () => {
    for (const name of ['rocket', 'vlag', 'icefire', 'viridis', 'mako', 'rocket_r']) {
      expect(HEATMAP_COLORMAPS).toContain(name);
    }
    expect(() => colormapColors('jet')).toThrow(RangeError);
    expect(() => colormapColors('jet')).toThrow(/^Expected one of rocket, rocket_r.* for name/);
  });
});

// --- PNG pixels ------------------------------------------------------------------------------

describe('PNG colours at known cells', () => {
  test('identity: diagonal has the vmax colour (rocket\'s last), the rest the colour of 0 (its middle)', () => {
    const m = identity(5);
    const opts: HeatmapOptions = { annotate: false };
    const cells = cellRects(heatmapSvg(m, opts));
    expect(cells).toHaveLength(25);
    const img = decode(heatmapPng(m, opts));
    for (let i = 0; i < 5; i++) {
      for (let j = 0; j < 5; j++) {
        const c = cells[i * 5 + j];
        const want = i === j ? ROCKET_TOP : ROCKET_MIDDLE;
        expect([i, j, cellCorner(img, c)]).toEqual([i, j, want]);
        // and the centre of the cell too (no annotation there)
        expect(pixel(img, c.x + c.w / 2, c.y + c.h / 2)).toEqual(want);
      }
    }
  });

  test('values beyond vmin/vmax are clipped to the end colours; ends and the middle map as matplotlib', () => {
    const values = [[5, Infinity, 1, -7], [-Infinity, -1, -1e-9, 0]];
    const opts: HeatmapOptions = { annotate: false };
    const cells = cellRects(heatmapSvg(values, opts));
    const img = decode(heatmapPng(values, opts));
    const want = [ROCKET_TOP, ROCKET_TOP, ROCKET_TOP, ROCKET_BOTTOM, ROCKET_BOTTOM, ROCKET_BOTTOM, seaborn('rocket', 127), ROCKET_MIDDLE];
    expect(cells.map((c) => cellCorner(img, c))).toEqual(want);
    expect(cells.map((c) => c.fill)).toEqual(want.map(hex));
  });

  test('diverging maps: the middle of vlag/icefire sits at (vmin + vmax) / 2', () => {
    const m = [[0, -1, 1]];
    for (const cmap of ['vlag', 'icefire']) {
      const img = decode(heatmapPng(m, { cmap, annotate: false }));
      const cells = cellRects(heatmapSvg(m, { cmap, annotate: false }));
      expect(cellCorner(img, cells[0])).toEqual(seaborn(cmap, 128));
    }
    const img = decode(heatmapPng(m, { cmap: 'vlag', annotate: false }));
    const cells = cellRects(heatmapSvg(m, { cmap: 'vlag', annotate: false }));
    expect(cellCorner(img, cells[1])).toEqual(seaborn('vlag', 0));
    expect(cellCorner(img, cells[2])).toEqual(seaborn('vlag', 255));
    // Another range: 5 is the middle of [0, 10].
    const shifted = decode(heatmapPng([[5]], { cmap: 'vlag', vmin: 0, vmax: 10, annotate: false }));
    const c = cellRects(heatmapSvg([[5]], { cmap: 'vlag', vmin: 0, vmax: 10, annotate: false }))[0];
    expect(cellCorner(shifted, c)).toEqual(seaborn('vlag', 128));
  });

  test('typed input and a Tensor-like object draw the same as number[][]', () => {
    const rows = [[0.25, -0.5], [1, 0]];
    const flat = new Float32Array([0.25, -0.5, 1, 0]);
    const a = heatmapPng(rows);
    expect(heatmapPng({ data: flat, shape: [2, 2] }).equals(a)).toBe(true);
    expect(heatmapPng(new MatrixWithDataMethod(flat, [2, 2])).equals(a)).toBe(true);
  });

  test('NaN cells are hatched grey on white, unannotated, distinct from every map colour', () => {
    const m = [[NaN, 0.5], [0.5, NaN]];
    const svg = heatmapSvg(m);
    const cells = cellRects(svg);
    expect(cells[0].fill).toBe('url(#pairloss-nan)');
    expect(annotationTexts(svg)).toEqual(['0.50', '0.50']);
    const img = decode(heatmapPng(m));
    const seen = new Set<string>();
    const c = cells[0];
    for (let y = c.y + 1; y < c.y + c.h - 1; y++) {
      for (let x = c.x + 1; x < c.x + c.w - 1; x++) seen.add(hex(pixel(img, x, y)));
    }
    expect(seen.has('#ffffff')).toBe(true); // white ground
    const greys = [...seen].filter((s) => s.slice(1, 3) === s.slice(3, 5) && s.slice(3, 5) === s.slice(5, 7) && s < '#e0');
    expect(greys.length).toBeGreaterThan(0); // grey hatching
    const rocket = new Set(colormapColors('rocket').map(hex));
    expect([...seen].filter((s) => rocket.has(s))).toEqual([]);
  });

  test('annotation text: light on dark cells, dark on light cells (seaborn: luminance < 0.408 => white)', () => {
    const m = [[-1, 1, 0]]; // rocket's darkest, lightest, middle
    const svg = heatmapSvg(m);
    const fills = Array.from(svg.matchAll(/<text x="[\d.]+" y="[\d.]+" fill="(#[0-9a-f]{6})">/g), (x) => x[1]);
    expect(fills).toEqual([
      luminance(ROCKET_BOTTOM) < 0.408 ? '#ffffff' : '#262626',
      luminance(ROCKET_TOP) < 0.408 ? '#ffffff' : '#262626',
      luminance(ROCKET_MIDDLE) < 0.408 ? '#ffffff' : '#262626',
    ]);
    expect(fills).toEqual(['#ffffff', '#262626', '#ffffff']);
    // In the PNG: the dark cell holds near-white text pixels, the light cell near-#262626 ones.
    const img = decode(heatmapPng(m));
    const cells = cellRects(svg);
    const extremes = (c: Cell) => {
      let lo = 255 * 3;
      let hi = 0;
      for (let y = c.y; y < c.y + c.h; y++) {
        for (let x = c.x; x < c.x + c.w; x++) {
          const p = pixel(img, x, y);
          lo = Math.min(lo, p[0] + p[1] + p[2]);
          hi = Math.max(hi, p[0] + p[1] + p[2]);
        }
      }
      return { lo, hi };
    };
    expect(extremes(cells[0]).hi).toBeGreaterThan(3 * 200);
    expect(extremes(cells[1]).lo).toBeLessThan(3 * 80);
    // Every rocket colour: the rule at the threshold, from the map's own colours.
    const lut = colormapColors('rocket');
    const values = lut.map((_, k) => -1 + (2 * (k + 0.5)) / 256);
    const all = heatmapSvg([values], { annotate: true, cellSize: 40 });
    const allFills = Array.from(all.matchAll(/<text x="[\d.]+" y="[\d.]+" fill="(#[0-9a-f]{6})">/g), (x) => x[1]);
    expect(allFills).toEqual(lut.map((c) => (luminance(c) < 0.408 ? '#ffffff' : '#262626')));
    expect(new Set(allFills).size).toBe(2);
  });

  test('large matrices (above 128 x 128) draw the cells as one image, exact colours, NaN hatched', () => {
    const n = 150;
    const m = filled(n, n, (i, j) => (i === j ? 1 : i === 7 && j === 3 ? NaN : 0));
    const svg = heatmapSvg(m);
    expect(count(svg, /<rect /g)).toBeLessThan(10);
    const box = cellImage(svg);
    const cell = box.w / n;
    expect(cell).toBeGreaterThanOrEqual(2);
    const img = decode(heatmapPng(m));
    for (const k of [0, 1, 74, 149]) {
      expect(pixel(img, box.x + (k + 0.5) * cell, box.y + (k + 0.5) * cell)).toEqual(ROCKET_TOP);
      expect(pixel(img, box.x + (((k + 1) % n) + 0.5) * cell, box.y + (k + 0.5) * cell)).toEqual(ROCKET_MIDDLE);
    }
    // The NaN cell: not a rocket colour (the hatching shows through).
    const nan = pixel(img, box.x + 3.5 * cell, box.y + 7.5 * cell);
    expect(new Set(colormapColors('rocket').map(hex)).has(hex(nan))).toBe(false);
  });

  test('300 x 300: readable size, thinned tick labels, fast', () => {
    const n = 300;
    const m = filled(n, n, (i, j) => Math.cos((i - j) / 10));
    const t0 = Date.now();
    const png = heatmapPng(m);
    expect(Date.now() - t0).toBeLessThan(10000);
    const img = decode(png);
    expect(img.width).toBeGreaterThanOrEqual(600);
    expect(img.width).toBeLessThan(1200);
    expect(img.height).toBeLessThan(1200);
    const svg = heatmapSvg(m);
    expect(annotationTexts(svg)).toEqual([]); // annotations off by default above 32
    const yLabels = Array.from(svg.slice(svg.indexOf('<g class="yticks"')).matchAll(/>(\d+)<\/text>/g), (x) => x[1]);
    expect(yLabels.length).toBeGreaterThan(5);
    expect(yLabels.length).toBeLessThan(60);
    expect(yLabels[0]).toBe('0');
    const step = Number(yLabels[1]);
    expect(yLabels).toEqual(yLabels.map((_, k) => String(k * step)));
  });

  test('text is rendered with a real font (tick labels leave dark pixels left of the plot)', () => {
    const m = identity(3);
    const cells = cellRects(heatmapSvg(m));
    const img = decode(heatmapPng(m));
    let dark = 0;
    for (let y = cells[0].y; y < cells[0].y + cells[0].h; y++) {
      for (let x = 0; x < cells[0].x - 6; x++) {
        const p = pixel(img, x, y);
        if (p[0] + p[1] + p[2] < 3 * 100) dark++;
      }
    }
    expect(dark).toBeGreaterThan(5); // the "0" of row 0
  });

  test('scale zooms the PNG', () => {
    const a = decode(heatmapPng(identity(2)));
    const b = decode(heatmapPng(identity(2), { scale: 2 }));
    expect([b.width, b.height]).toEqual([a.width * 2, a.height * 2]);
  });
});

// --- SVG structure ---------------------------------------------------------------------------

describe('SVG structure', () => {
  test('one rect per cell, a colour bar with the whole map and ticks, parses as SVG', () => {
    const svg = heatmapSvg(filled(4, 7, (i, j) => (i - j) / 7));
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
    expect(cellRects(svg)).toHaveLength(28);
    const cells = cellRects(svg);
    expect(new Set(cells.map((c) => `${c.w}x${c.h}`)).size).toBe(1); // all the same size
    expect(cells[0].w).toBe(cells[0].h); // square
    expect(svg).toContain('<g class="colorbar">');
    expect(count(svg, /<stop /g)).toBe(512); // 256 flat bands
    const cbar = svg.slice(svg.indexOf('<g class="colorbar">'));
    const ticks = Array.from(cbar.matchAll(/>([^<>]+)<\/text>/g), (x) => x[1]);
    expect(ticks).toEqual(['\u22121.00', '\u22120.75', '\u22120.50', '\u22120.25', '0.00', '0.25', '0.50', '0.75', '1.00']);
    const r = new Resvg(svg);
    expect([r.width, r.height]).toEqual([
      Number(/width="(\d+)"/.exec(svg)![1]),
      Number(/height="(\d+)"/.exec(svg)![1]),
    ]);
    expect(heatmapSvg(identity(3), { colorbar: false })).not.toContain('class="colorbar"');
  });

  test('annotations: on up to 32 x 32, off above, options override', () => {
    expect(annotationTexts(heatmapSvg(filled(32, 32, () => 0.5)))).toHaveLength(1024);
    expect(annotationTexts(heatmapSvg(filled(33, 2, () => 0.5)))).toHaveLength(0);
    expect(annotationTexts(heatmapSvg(filled(2, 33, () => 0.5)))).toHaveLength(0);
    expect(annotationTexts(heatmapSvg(filled(40, 40, () => 0.5), { annotate: true }))).toHaveLength(1600);
    expect(annotationTexts(heatmapSvg(identity(4), { annotate: false }))).toHaveLength(0);
    expect(annotationTexts(heatmapSvg([[0.123, -0.456, 1]]))).toEqual(['0.12', '-0.46', '1.00']);
  });

  test('fmt writes numbers as Python does', () => {
    const values = [0.123456, -2.5e-7, 1234.5678, -0.987, 3, 0, Infinity, -Infinity];
    const cases: Array<[string, string[]]> = [
      ['.2f', ['0.12', '-0.00', '1234.57', '-0.99', '3.00', '0.00', 'inf', '-inf']],
      ['.0f', ['0', '-0', '1235', '-1', '3', '0', 'inf', '-inf']],
      ['.3e', ['1.235e-01', '-2.500e-07', '1.235e+03', '-9.870e-01', '3.000e+00', '0.000e+00', 'inf', '-inf']],
      ['.1%', ['12.3%', '-0.0%', '123456.8%', '-98.7%', '300.0%', '0.0%', 'inf', '-inf']],
    ];
    for (const [fmt, want] of cases) {
      expect([fmt, annotationTexts(heatmapSvg([values], { fmt }))]).toEqual([fmt, want]);
    }
    // Integers: values rounded.
    expect(annotationTexts(heatmapSvg([[0, 1.4, 2.6, -3]], { fmt: 'd', vmin: -5, vmax: 5 }))).toEqual(['0', '1', '3', '-3']);
    // The same specs through Python's format() (infinities print as inf/-inf in both, percent too).
    const py = spawnSync(PYTHON, ['-c', [
      'import json, sys',
      'vals, fmts = json.loads(sys.argv[1]), json.loads(sys.argv[2])',
      'print(json.dumps([[format(float(v), f) for v in vals] for f in fmts]))',
    ].join('\n'), JSON.stringify(values.slice(0, 6)), JSON.stringify(cases.map((c) => c[0]))], { encoding: 'utf8' });
    expect(py.status).toBe(0);
    expect(JSON.parse(py.stdout)).toEqual(cases.map((c) => c[1].slice(0, 6)));
  });

  test('title, labels and tick labels are escaped', () => {
    const nasty = '<script>alert("x")</script> & \'q\'';
    const svg = heatmapSvg(identity(2), {
      title: nasty,
      xLabel: 'a<b',
      yLabel: 'c>d',
      xTickLabels: ['<0>', '&1'],
      yTickLabels: [0, 'y"1'],
    });
    expect(svg).not.toContain('<script>');
    expect(svg).not.toContain('a<b');
    expect(svg).toContain('&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;q&#39;');
    expect(svg).toContain('<title>&lt;script&gt;');
    expect(svg).toContain('>a&lt;b</text>');
    expect(svg).toContain('>c&gt;d</text>');
    expect(svg).toContain('>&lt;0&gt;</text>');
    expect(svg).toContain('>&amp;1</text>');
    expect(svg).toContain('>y&quot;1</text>');
    expect(() => new Resvg(svg)).not.toThrow(); // still well-formed XML
  });

  test('tick labels: indices by default, thinned on large matrices, custom labels as given', () => {
    const small = heatmapSvg(identity(5));
    const xs = small.slice(small.indexOf('<g class="xticks"'), small.indexOf('<g class="yticks"'));
    expect(Array.from(xs.matchAll(/>(\d+)<\/text>/g), (x) => x[1])).toEqual(['0', '1', '2', '3', '4']);
    const words = ['spelling', 'pronunciation', 'x'];
    const svg = heatmapSvg(identity(3), { xTickLabels: words, yTickLabels: words });
    for (const w of words) expect(count(svg, new RegExp(`>${w}</text>`, 'g'))).toBe(2);
  });
});

// --- writeHeatmap ----------------------------------------------------------------------------

describe('writeHeatmap', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pairloss-heatmap-'));
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  test('writes PNG and SVG by extension', () => {
    const m = identity(4);
    const png = path.join(dir, 'sim.png');
    const svg = path.join(dir, 'sim.svg');
    const upper = path.join(dir, 'SIM.PNG');
    writeHeatmap(png, m, { title: 'identity' });
    writeHeatmap(svg, m, { title: 'identity' });
    writeHeatmap(upper, m);
    const pngBytes = fs.readFileSync(png);
    expect([...pngBytes.subarray(0, 8)]).toEqual([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
    expect(pngBytes.equals(heatmapPng(m, { title: 'identity' }))).toBe(true);
    expect(fs.readFileSync(svg, 'utf8')).toBe(heatmapSvg(m, { title: 'identity' }));
    expect([...fs.readFileSync(upper).subarray(0, 4)]).toEqual([0x89, 0x50, 0x4e, 0x47]);
  });

  test('bad paths', () => {
    expect(() => writeHeatmap(path.join(dir, 'sim.jpg'), identity(2))).toThrow(RangeError);
    expect(() => writeHeatmap(path.join(dir, 'sim.jpg'), identity(2))).toThrow(/^path: expected a path ending in \.png or \.svg.*sim\.jpg/);
    expect(() => writeHeatmap(path.join(dir, 'sim'), identity(2))).toThrow(/^path: expected a path ending in \.png or \.svg/);
    expect(() => writeHeatmap(42 as unknown as string, identity(2))).toThrow(TypeError);
    expect(() => writeHeatmap(42 as unknown as string, identity(2))).toThrow(/^Expected a file path string.* for path/);
    expect(() => writeHeatmap(path.join(dir, 'no', 'such', 'x.png'), identity(2))).toThrow(/ENOENT/);
    expect(fs.existsSync(path.join(dir, 'sim.jpg'))).toBe(false);
  });
});

// --- bad arguments ---------------------------------------------------------------------------

const FUNCTIONS: Array<[string, (m: HeatmapMatrix, o?: HeatmapOptions) => unknown]> = [
  ['heatmapSvg', heatmapSvg],
  ['heatmapPng', heatmapPng],
  ['writeHeatmap', (m, o) => writeHeatmap(path.join(os.tmpdir(), 'pairloss-never-written.svg'), m, o)],
];

const BAD_OPTIONS: Array<[string, unknown, typeof TypeError | typeof RangeError, RegExp]> = [
  ['opts null', null, TypeError, /^Expected an object of heatmap options for opts but received null/],
  ['opts a string', 'rocket', TypeError, /^Expected an object.* for opts/],
  ['unknown option', { annot: true }, RangeError, /^opts\.annot: is not a heatmap option; expected one of annotate, /],
  ['annotate string', { annotate: 'yes' }, TypeError, /^Expected a boolean for opts\.annotate but received "yes"/],
  ['vmin string', { vmin: '0' }, TypeError, /^Expected a number for opts\.vmin but received "0"/],
  ['vmin NaN', { vmin: NaN }, RangeError, /^Expected a finite number for opts\.vmin but received NaN/],
  ['vmax Infinity', { vmax: Infinity }, RangeError, /^Expected a finite number for opts\.vmax but received Infinity/],
  ['vmin == vmax', { vmin: 1, vmax: 1 }, RangeError, /^opts\.vmin: expected less than opts\.vmax, got vmin 1 and vmax 1/],
  ['vmin > default vmax', { vmin: 2 }, RangeError, /^opts\.vmin: expected less than opts\.vmax, got vmin 2 and vmax 1/],
  ['cmap number', { cmap: 3 }, TypeError, /^Expected a colour map name \(string\) for opts\.cmap but received 3/],
  ['cmap unknown', { cmap: 'jet' }, RangeError, /^Expected one of rocket, .*vlag.* for opts\.cmap but received "jet"/],
  ['fmt number', { fmt: 2 }, TypeError, /^Expected a format string.* for opts\.fmt/],
  ['fmt bad', { fmt: '%.2f' }, RangeError, /^Expected '\.Nf', '\.Ne', '\.N%' \(N in 0\.\.20\) or 'd' for opts\.fmt but received "%\.2f"/],
  ['fmt too precise', { fmt: '.30f' }, RangeError, /^Expected .* for opts\.fmt/],
  ['fmt g', { fmt: '.2g' }, RangeError, /^Expected .* for opts\.fmt/],
  ['title number', { title: 5 }, TypeError, /^Expected a string for opts\.title but received 5/],
  ['xLabel object', { xLabel: {} }, TypeError, /^Expected a string for opts\.xLabel but received an object/],
  ['yLabel array', { yLabel: ['a'] }, TypeError, /^Expected a string for opts\.yLabel but received an array/],
  ['xTickLabels string', { xTickLabels: 'abc' }, TypeError, /^Expected an array of strings.* for opts\.xTickLabels/],
  ['xTickLabels too few', { xTickLabels: ['a'] }, RangeError, /^opts\.xTickLabels: expected one label per column \(2\), got 1/],
  ['yTickLabels too many', { yTickLabels: ['a', 'b', 'c'] }, RangeError, /^opts\.yTickLabels: expected one label per row \(2\), got 3/],
  ['yTickLabels null entry', { yTickLabels: ['a', null] }, TypeError, /^Expected a string or a number for opts\.yTickLabels\[1\] but received null/],
  ['cellSize string', { cellSize: '10' }, TypeError, /^Expected a number.* for opts\.cellSize/],
  ['cellSize zero', { cellSize: 0 }, RangeError, /^Expected a size in pixels in 1\.\.500 for opts\.cellSize but received 0/],
  ['cellSize NaN', { cellSize: NaN }, RangeError, /^Expected a finite number for opts\.cellSize but received NaN/],
  ['colorbar number', { colorbar: 1 }, TypeError, /^Expected a boolean for opts\.colorbar but received 1/],
  ['scale negative', { scale: -1 }, RangeError, /^Expected a zoom factor in \(0, 16\] for opts\.scale but received -1/],
  ['scale string', { scale: '2' }, TypeError, /^Expected a number.* for opts\.scale/],
];

describe.each(FUNCTIONS)('%s: bad arguments', (_name, fn) => {
  test.each(BAD_OPTIONS)('%s', (_what, opts, cls, pattern) => {
    const call = () => fn(identity(2), opts as HeatmapOptions);
    expect(call).toThrow(cls);
    expect(call).toThrow(pattern);
  });

  test.each<[string, unknown, typeof TypeError | typeof RangeError, RegExp]>([
    ['a number', 5, TypeError, /^Expected a number\[\]\[\].* for matrix/],
    ['ragged rows', [[1, 2], [3]], RangeError, /^matrix: expected a rectangular matrix/],
    ['an empty matrix', [], RangeError, /^matrix: expected at least one row and one column/],
    ['a 3-D tensor', new MatrixWithDataMethod(new Float32Array(8), [2, 2, 2]), RangeError, /^matrix: expected 2-D/],
    ['a length mismatch', { data: new Float64Array(3), shape: [2, 2] }, RangeError, /^matrix\.data: has 3 value\(s\) but shape \[2, 2\] needs 4/],
  ])('matrix: %s', (_what, bad, cls, pattern) => {
    const call = () => fn(bad as HeatmapMatrix);
    expect(call).toThrow(cls);
    expect(call).toThrow(pattern);
  });

  test('too many cells or too large an image', () => {
    const huge = { data: new Float32Array(2049 * 2048), shape: [2049, 2048] };
    expect(() => fn(huge)).toThrow(RangeError);
    expect(() => fn(huge)).toThrow(/^matrix: has 2049 x 2048 = \d+ cells; a heatmap draws at most \d+/);
    expect(() => fn(identity(200), { cellSize: 100 })).toThrow(RangeError);
    expect(() => fn(identity(200), { cellSize: 100 })).toThrow(/^opts: the heatmap would be \d+ x \d+ px, more than 16384 px a side/);
  });
});
