/**
 * The heatmap's SVG document: a layout computed once ({@link computeLayout}),
 * then each part drawn by its own function, in paint order, onto one list of
 * lines.
 */
import { colormapColors, hexColor, lutIndex, textColorFor } from './colors';
import type { RgbColor } from './colors';
import { computeLayout, LABEL_FONT, PAD, TICK_FONT, TICK_LEN, TICK_PAD, TITLE_FONT } from './layout';
import type { Layout } from './layout';
import type { MatrixView } from './matrix';
import type { ResolvedOptions } from './options';
import { encodePng } from './png';
import { SVG_FONT_FAMILY } from './text';

/** Up to this many cells, one <rect> a cell; above, one embedded image with one pixel a cell. */
const MAX_VECTOR_CELLS = 128 * 128;

/**
 * The SVG of matrix `m` drawn with options `o`.
 *
 * @throws RangeError as {@link computeLayout} (too many cells, image too large).
 */
export function buildSvg(m: MatrixView, o: ResolvedOptions): string {
  const layout = computeLayout(m, o);
  const lut = colormapColors(o.cmap);
  // The colour of each cell (null for NaN).
  const colors = new Array<RgbColor | null>(m.rows * m.cols);
  for (let k = 0; k < m.rows * m.cols; k++) {
    const idx = lutIndex(m.data[k], o.vmin, o.vmax, lut.length);
    colors[k] = idx < 0 ? null : lut[idx];
  }
  const out: string[] = [];
  drawHeader(out, layout, o, lut);
  drawCells(out, layout, m, colors);
  drawAnnotations(out, layout, m, colors);
  drawTickLabels(out, layout);
  drawAxisLabels(out, layout, o);
  drawColorbar(out, layout);
  drawTitle(out, layout, o);
  out.push('</svg>');
  return out.join('\n');
}

/** The `<svg>` element, its `<title>`, the NaN hatching and colour bar gradient, the white background. */
function drawHeader(out: string[], layout: Layout, o: ResolvedOptions, lut: RgbColor[]): void {
  const { width, height } = layout;
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
  if (layout.colorbar) {
    // One flat band per colour-map entry, bottom (vmin) to top (vmax), as matplotlib's colour bar.
    const n = lut.length;
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
}

/** The cells: a `<rect>` each, or for many cells one image of a pixel a cell. */
function drawCells(out: string[], layout: Layout, m: MatrixView, colors: Array<RgbColor | null>): void {
  const { rows, cols } = m;
  const { plotX, plotY, plotW, plotH, cellW, cellH } = layout;
  if (rows * cols <= MAX_VECTOR_CELLS) {
    const cw = r2(cellW);
    const ch = r2(cellH);
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
    return;
  }
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

/** Each cell's value, centred in it in a colour readable on the cell; none on NaN cells. */
function drawAnnotations(out: string[], layout: Layout, m: MatrixView, colors: Array<RgbColor | null>): void {
  const { annotations, annotFont, plotX, plotY, cellW, cellH } = layout;
  if (!annotations) return;
  const { rows, cols } = m;
  out.push(`<g class="annotations" font-size="${annotFont}" text-anchor="middle">`);
  for (let i = 0; i < rows; i++) {
    // The baseline sits 0.36 em below the cell's centre.
    const y = r2(plotY + (i + 0.5) * cellH + 0.36 * annotFont);
    for (let j = 0; j < cols; j++) {
      const k = i * cols + j;
      const c = colors[k];
      if (c === null || annotations[k] === '') continue;
      out.push(
        `<text x="${r2(plotX + (j + 0.5) * cellW)}" y="${y}" fill="${textColorFor(c)}">${escapeXml(annotations[k])}</text>`,
      );
    }
  }
  out.push('</g>');
}

/** Column labels below the plot, row labels left of it, and one path of all their tick marks. */
function drawTickLabels(out: string[], layout: Layout): void {
  const { plotX, plotY, plotH, cellW, cellH, xNames, yNames, xTicks, yTicks, xVertical } = layout;
  const tickPath: string[] = [];
  out.push(`<g class="xticks" font-size="${TICK_FONT}" fill="#000000" text-anchor="${xVertical ? 'end' : 'middle'}">`);
  const xTextY = plotY + plotH + TICK_LEN + TICK_PAD;
  for (const j of xTicks) {
    const x = plotX + (j + 0.5) * cellW;
    tickPath.push(`M${r2(x)},${r2(plotY + plotH)}v${TICK_LEN}`);
    if (xVertical) {
      // Rotated about its end, which sits under the tick.
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
}

/** `opts.xLabel` under the column labels, `opts.yLabel` rotated at the left edge. */
function drawAxisLabels(out: string[], layout: Layout, o: ResolvedOptions): void {
  const { plotX, plotY, plotW, plotH, xLabelsBottom } = layout;
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
}

/** The colour bar (the gradient of drawHeader) with its ticks and their labels on the right. */
function drawColorbar(out: string[], layout: Layout): void {
  const bar = layout.colorbar;
  if (!bar) return;
  out.push('<g class="colorbar">');
  out.push(
    `<rect x="${r2(bar.x)}" y="${r2(bar.y)}" width="${bar.width}" height="${r2(bar.height)}" fill="url(#pairloss-cbar)"/>`,
  );
  const d: string[] = [];
  const labels: string[] = [];
  for (const { y, label } of bar.ticks) {
    d.push(`M${r2(bar.x + bar.width)},${r2(y)}h${TICK_LEN}`);
    labels.push(
      `<text x="${r2(bar.x + bar.width + TICK_LEN + TICK_PAD)}" y="${r2(y + 0.36 * TICK_FONT)}">${escapeXml(label)}</text>`,
    );
  }
  out.push(`<path d="${d.join('')}" stroke="#000000" stroke-width="1" fill="none"/>`);
  out.push(`<g font-size="${TICK_FONT}" fill="#000000">${labels.join('')}</g>`);
  out.push('</g>');
}

/** `opts.title`, centred above the plot. */
function drawTitle(out: string[], layout: Layout, o: ResolvedOptions): void {
  if (!o.title) return;
  out.push(
    `<text class="title" x="${r2(layout.plotX + layout.plotW / 2)}" y="${r2(PAD + 0.8 * TITLE_FONT)}" font-size="${TITLE_FONT}" ` +
      `text-anchor="middle">${escapeXml(o.title)}</text>`,
  );
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
