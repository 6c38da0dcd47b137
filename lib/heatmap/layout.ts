/**
 * The heatmap's geometry, computed once before anything is drawn: cell size,
 * annotation font, which rows and columns get a tick label, the colour bar and
 * its ticks, and where everything sits in the image. Sizes are in px.
 */
import { rangeError } from '../errors';
import type { MatrixView } from './matrix';
import type { ResolvedOptions } from './options';
import { textWidth } from './text';

export const TICK_FONT = 12; // px, tick labels (matplotlib: 10 pt at 100 dpi ~ 14 px)
export const LABEL_FONT = 13; // px, axis labels
export const TITLE_FONT = 16; // px
export const TICK_LEN = 4;
export const TICK_PAD = 4;
export const PAD = 12; // outer margin
const TARGET_SIDE = 480; // px, default length of the matrix's longer side
const MAX_CELL = 80;
const MIN_SHORT_SIDE = 160; // px, the shorter side of the matrix spans at least this much
const MIN_CELL = 2;
const MIN_ANNOT_FONT = 7;
const MAX_ANNOT_FONT = 14;
const MIN_COLORBAR = 120; // px, the colour bar is at least this tall
const MAX_SIDE = 16384; // px, largest image side
const MAX_CELLS = 2048 * 2048;

/** Where the colour bar sits and its ticks (values, their y and their labels). */
export interface ColorbarLayout {
  x: number;
  y: number;
  width: number;
  height: number;
  ticks: Array<{ y: number; label: string }>;
}

/** Everything the drawing needs to know about positions and sizes. */
export interface Layout {
  /** The image's size, whole pixels. */
  width: number;
  height: number;
  /** The matrix's top-left corner (whole pixels) and size. */
  plotX: number;
  plotY: number;
  plotW: number;
  plotH: number;
  /** One cell's size. */
  cellW: number;
  cellH: number;
  /** Each cell's annotation, row-major (`''` for NaN); null when annotations are off. */
  annotations: string[] | null;
  /** Font size of the annotations (0 when off). */
  annotFont: number;
  /** A label for every column and row; only those in `xTicks`/`yTicks` are drawn. */
  xNames: string[];
  yNames: string[];
  xTicks: number[];
  yTicks: number[];
  /** Column labels written vertically (custom labels too wide for their cell). */
  xVertical: boolean;
  /** Bottom of the column tick labels; the x label goes below. */
  xLabelsBottom: number;
  /** The colour bar; null when `opts.colorbar` is false. */
  colorbar: ColorbarLayout | null;
}

/**
 * Lays out the heatmap of `m` with options `o`.
 *
 * @throws RangeError when the matrix has more than 2048 x 2048 cells, or the image
 *   (times `o.scale`) would be more than 16384 px a side.
 */
export function computeLayout(m: MatrixView, o: ResolvedOptions): Layout {
  const { rows, cols } = m;
  if (rows * cols > MAX_CELLS) {
    throw rangeError('matrix', `has ${rows} x ${cols} = ${rows * cols} cells; a heatmap draws at most ${MAX_CELLS}: downsample it first`,
    );
  }
  // Annotation strings first: their width sets the cell size.
  const { annotations, widestEm } = annotationText(m, o);
  const { cellW, cellH } = cellSize(rows, cols, o.cellSize, annotations !== null, widestEm);
  const annotFont = annotations ? annotationFont(cellW, cellH, widestEm) : 0;
  const plotW = cols * cellW;
  const plotH = rows * cellH;
  const ticks = tickLabels(rows, cols, o, cellW, cellH);
  const bar = o.colorbar ? colorbarSize(o.vmin, o.vmax, plotW, plotH) : null;
  const cbarH = bar ? bar.height : 0;

  // Figure geometry: the plot and the colour bar side by side, both centred on the taller.
  const bodyH = Math.max(plotH, cbarH);
  // Whole pixels for the plot's corner, so cells of whole pixels have sharp edges.
  const left = Math.ceil(PAD + (o.yLabel ? LABEL_FONT + 8 : 0) + ticks.yWidest + TICK_LEN + TICK_PAD);
  const top = PAD + (o.title ? TITLE_FONT + 10 : 0);
  const plotX = left;
  const plotY = top + Math.floor((bodyH - plotH) / 2);
  let colorbar: ColorbarLayout | null = null;
  let rightEdge: number;
  if (bar) {
    const x = plotX + plotW + bar.gap;
    const y = top + (bodyH - cbarH) / 2;
    // A tick's height on the bar: vmin at the bottom, vmax at the top.
    const tickYs = bar.values.map((v) => y + cbarH * (1 - (v - o.vmin) / (o.vmax - o.vmin)));
    colorbar = { x, y, width: bar.width, height: cbarH, ticks: tickYs.map((ty, t) => ({ y: ty, label: bar.labels[t] })) };
    rightEdge = x + bar.width + TICK_LEN + TICK_PAD + bar.labelWidth + PAD;
  } else {
    // Without a colour bar the last column label may reach past the plot.
    const { xNames, xTicks } = ticks;
    const lastXHalf = ticks.xVertical ? 0 : textWidth(xNames[xTicks[xTicks.length - 1]], TICK_FONT) / 2;
    rightEdge = plotX + plotW + Math.max(0, lastXHalf - cellW / 2) + PAD;
  }
  const xLabelsBottom = plotY + plotH + TICK_LEN + TICK_PAD + ticks.xExtent;
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
  return {
    width, height, plotX, plotY, plotW, plotH, cellW, cellH, annotations, annotFont,
    xNames: ticks.xNames, yNames: ticks.yNames, xTicks: ticks.xTicks, yTicks: ticks.yTicks, xVertical: ticks.xVertical,
    xLabelsBottom, colorbar,
  };
}

/** Each cell's value in `o.format` ('' for NaN), and the widest of them in em; null when not annotated. */
function annotationText(m: MatrixView, o: ResolvedOptions): { annotations: string[] | null; widestEm: number } {
  if (!o.annotate) return { annotations: null, widestEm: 0 };
  const n = m.rows * m.cols;
  const annotations = new Array<string>(n);
  let widestEm = 0;
  for (let k = 0; k < n; k++) {
    const v = m.data[k];
    annotations[k] = Number.isNaN(v) ? '' : o.format(v);
    widestEm = Math.max(widestEm, textWidth(annotations[k], 1));
  }
  return { annotations, widestEm };
}

/**
 * Cell size: `opts.cellSize`, else square cells sized from the longer side (wide enough for the
 * annotations); a short side is stretched (cells taller or wider) until it spans MIN_SHORT_SIDE px,
 * as seaborn fills its axes.
 */
function cellSize(
  rows: number, cols: number, fixed: number | null, annotated: boolean, widestEm: number,
): { cellW: number; cellH: number } {
  if (fixed !== null) return { cellW: fixed, cellH: fixed };
  let cell = Math.min(MAX_CELL, Math.max(MIN_CELL, Math.floor(TARGET_SIDE / Math.max(rows, cols))));
  if (annotated) cell = Math.max(cell, Math.ceil(widestEm * MIN_ANNOT_FONT + 6), Math.ceil(MIN_ANNOT_FONT * 2));
  const cellW = cols * cell < MIN_SHORT_SIDE ? Math.max(cell, Math.min(MAX_CELL, Math.ceil(MIN_SHORT_SIDE / cols))) : cell;
  const cellH = rows * cell < MIN_SHORT_SIDE ? Math.max(cell, Math.min(MAX_CELL, Math.ceil(MIN_SHORT_SIDE / rows))) : cell;
  return { cellW, cellH };
}

/** The annotation font: the largest that fits the widest value in a cell, in half pixels. */
function annotationFont(cellW: number, cellH: number, widestEm: number): number {
  const font = Math.min(
    MAX_ANNOT_FONT,
    Math.min(cellW, cellH) * 0.3,
    cellH * 0.6,
    widestEm > 0 ? (cellW - 6) / widestEm : MAX_ANNOT_FONT,
  );
  return Math.max(1, Math.floor(font * 2) / 2);
}

/** Tick labels, thinned to fit, and the room they take left of and below the plot. */
function tickLabels(rows: number, cols: number, o: ResolvedOptions, cellW: number, cellH: number) {
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
  // Room for the row labels drawn; the widest of all when every drawn one is empty.
  const yWidest = Math.max(...yTicks.map((i) => textWidth(yNames[i], TICK_FONT)), 0) || yWidestAll;
  // Height of the column labels: one line, or the longest vertical label.
  const xExtent = xVertical
    ? Math.max(...xTicks.map((j) => textWidth(xNames[j], TICK_FONT)))
    : TICK_FONT;
  return { xNames, yNames, xTicks, yTicks, xVertical, yWidest, xExtent };
}

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

/** The colour bar's size, gap to the plot, tick values and labels, from the plot's size. */
function colorbarSize(vmin: number, vmax: number, plotW: number, plotH: number) {
  const height = Math.max(plotH, MIN_COLORBAR);
  const width = Math.min(24, Math.max(10, Math.round(height / 20)));
  const gap = Math.min(30, Math.max(12, Math.round(plotW * 0.05)));
  const ticks = colorbarTicks(vmin, vmax, Math.min(9, Math.floor(height / 24) + 1));
  const labels = ticks.values.map((v) => colorbarLabel(v, ticks.decimals));
  const labelWidth = Math.max(0, ...labels.map((s) => textWidth(s, TICK_FONT)));
  return { height, width, gap, values: ticks.values, labels, labelWidth };
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
