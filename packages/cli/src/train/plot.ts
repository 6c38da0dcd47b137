/**
 * The training job's curves as an SVG line chart (rendered to PNG by resvg,
 * as the heatmaps are): the loss of every step, smoothed, with the epoch
 * boundaries, and beside it the held-out recall of every epoch against chance.
 */
import * as fs from 'fs';
import { Resvg } from '@resvg/resvg-js';

const FONT = "'DejaVu Sans', 'Bitstream Vera Sans', Verdana, Arial, Helvetica, sans-serif";
const DEJAVU_SANS = '/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf';

/** What {@link trainingCurvesSvg} draws. */
export interface CurveData {
  /** Loss of each training step. */
  stepLosses: readonly number[];
  /** Steps per epoch (for the epoch marks). */
  stepsPerEpoch: number;
  /** Held-out recall@1 and @10 per epoch, epoch 0 first (before training). */
  recall1: readonly number[];
  recall10: readonly number[];
  /** Chance level of recall@1 and @10. */
  chance1: number;
  chance10: number;
  /** Title above the loss panel. */
  title?: string;
}

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** About `count` round tick values covering [lo, hi]. */
export function niceTicks(lo: number, hi: number, count = 5): number[] {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag;
  const ticks: number[] = [];
  for (let v = Math.ceil(lo / step - 1e-9) * step; v <= hi + step * 1e-9; v += step) ticks.push(Number(v.toPrecision(12)));
  return ticks;
}

function fmtTick(v: number): string {
  if (v === 0) return '0';
  const a = Math.abs(v);
  if (a >= 1000) return `${Math.round(v / 100) / 10}k`;
  return String(Number(v.toPrecision(3)));
}

/** Centred moving average over `2 * half + 1` values (fewer at the ends), so the curve does not lag. */
export function smooth(values: readonly number[], half: number): number[] {
  const prefix = [0];
  for (const v of values) prefix.push(prefix[prefix.length - 1] + v);
  return values.map((_, i) => {
    const lo = Math.max(0, i - half);
    const hi = Math.min(values.length, i + half + 1);
    return (prefix[hi] - prefix[lo]) / (hi - lo);
  });
}

interface Panel {
  x: number;
  y: number;
  w: number;
  h: number;
  x0: number;
  x1: number;
  y0: number;
  y1: number;
}

function px(p: Panel, v: number): number {
  return p.x + ((v - p.x0) / (p.x1 - p.x0 || 1)) * p.w;
}
function py(p: Panel, v: number): number {
  return p.y + p.h - ((v - p.y0) / (p.y1 - p.y0 || 1)) * p.h;
}

function axes(p: Panel, xTicks: number[], yTicks: number[], xLabel: string, yLabel: string, title: string, yFmt = fmtTick): string {
  const parts: string[] = [];
  parts.push(`<rect x="${p.x}" y="${p.y}" width="${p.w}" height="${p.h}" fill="#eaeaf2"/>`);
  for (const t of yTicks) {
    const y = py(p, t).toFixed(1);
    parts.push(`<line x1="${p.x}" y1="${y}" x2="${p.x + p.w}" y2="${y}" stroke="#fff" stroke-width="1"/>`);
    parts.push(`<text x="${p.x - 6}" y="${y}" font-size="11" text-anchor="end" dominant-baseline="middle" fill="#333">${esc(yFmt(t))}</text>`);
  }
  for (const t of xTicks) {
    const x = px(p, t).toFixed(1);
    parts.push(`<line x1="${x}" y1="${p.y}" x2="${x}" y2="${p.y + p.h}" stroke="#fff" stroke-width="1"/>`);
    parts.push(`<text x="${x}" y="${p.y + p.h + 15}" font-size="11" text-anchor="middle" fill="#333">${esc(fmtTick(t))}</text>`);
  }
  parts.push(`<text x="${p.x + p.w / 2}" y="${p.y + p.h + 34}" font-size="12" text-anchor="middle" fill="#222">${esc(xLabel)}</text>`);
  const ly = p.y + p.h / 2;
  parts.push(`<text x="${p.x - 44}" y="${ly}" font-size="12" text-anchor="middle" fill="#222" transform="rotate(-90 ${p.x - 44} ${ly})">${esc(yLabel)}</text>`);
  parts.push(`<text x="${p.x + p.w / 2}" y="${p.y - 10}" font-size="13" text-anchor="middle" fill="#111">${esc(title)}</text>`);
  return parts.join('\n');
}

function polyline(p: Panel, xs: readonly number[], ys: readonly number[], style: string): string {
  const pts: string[] = [];
  for (let i = 0; i < xs.length; i++) {
    if (Number.isFinite(ys[i])) pts.push(`${px(p, xs[i]).toFixed(1)},${py(p, ys[i]).toFixed(1)}`);
  }
  return pts.length ? `<polyline fill="none" ${style} points="${pts.join(' ')}"/>` : '';
}

/**
 * Draws the training curves as an SVG document (960 x 400 px): left, the loss of each step (light)
 * and its moving average (dark) with dashed epoch marks; right, held-out recall@1 and @10 per
 * epoch on a log scale with their chance levels dashed.
 */
export function trainingCurvesSvg(d: CurveData): string {
  const W = 960;
  const H = 400;
  const parts: string[] = [];
  // left panel: loss per step; a log scale when every loss is positive (it spans decades)
  const losses = d.stepLosses.filter((v) => Number.isFinite(v));
  const positive = losses.length > 0 && losses.every((v) => v > 0);
  const tf = positive ? Math.log10 : (v: number): number => v;
  const lo = losses.length ? Math.min(...losses) : 0;
  const hi = losses.length ? Math.max(...losses) : 1;
  let yTicks: number[];
  let yFmt = fmtTick;
  let y0: number;
  let y1: number;
  if (positive) {
    y0 = Math.floor(Math.log10(lo));
    y1 = Math.ceil(Math.log10(hi));
    if (y1 === y0) y1 = y0 + 1;
    yTicks = [];
    for (let k = y0; k <= y1; k++) yTicks.push(k);
    yFmt = (k: number): string => fmtTick(Number((10 ** k).toPrecision(3)));
  } else {
    yTicks = niceTicks(Math.min(0, lo), hi, 5);
    y0 = Math.min(0, lo, yTicks[0] ?? 0);
    y1 = Math.max(hi, yTicks[yTicks.length - 1] ?? hi);
  }
  const nSteps = Math.max(1, d.stepLosses.length);
  const xTicks = niceTicks(0, nSteps, 6).filter((t) => t <= nSteps);
  const left: Panel = { x: 70, y: 40, w: 500, h: 300, x0: 0, x1: nSteps, y0, y1 };
  parts.push(axes(left, xTicks, yTicks, 'step', positive ? 'loss (log scale)' : 'loss', d.title ?? 'training loss', yFmt));
  for (let e = 1; d.stepsPerEpoch > 0 && e * d.stepsPerEpoch < nSteps; e++) {
    const x = px(left, e * d.stepsPerEpoch).toFixed(1);
    parts.push(`<line x1="${x}" y1="${left.y}" x2="${x}" y2="${left.y + left.h}" stroke="#888" stroke-dasharray="4 3"/>`);
    parts.push(`<text x="${Number(x) + 3}" y="${left.y + left.h - 6}" font-size="10" fill="#666">epoch ${e + 1}</text>`);
  }
  const steps = d.stepLosses.map((_, i) => i + 1);
  parts.push(polyline(left, steps, d.stepLosses.map(tf), 'stroke="#9ecae1" stroke-width="1"'));
  parts.push(polyline(left, steps, smooth(d.stepLosses, Math.max(1, Math.round(nSteps / 80))).map(tf), 'stroke="#08519c" stroke-width="2"'));
  // legend of the loss panel
  parts.push(`<line x1="${left.x + left.w - 150}" y1="${left.y + 14}" x2="${left.x + left.w - 132}" y2="${left.y + 14}" stroke="#9ecae1" stroke-width="2"/>`);
  parts.push(`<text x="${left.x + left.w - 126}" y="${left.y + 14}" font-size="10" dominant-baseline="middle" fill="#333">each step</text>`);
  parts.push(`<line x1="${left.x + left.w - 150}" y1="${left.y + 28}" x2="${left.x + left.w - 132}" y2="${left.y + 28}" stroke="#08519c" stroke-width="2"/>`);
  parts.push(`<text x="${left.x + left.w - 126}" y="${left.y + 28}" font-size="10" dominant-baseline="middle" fill="#333">moving average</text>`);

  // right panel: held-out recall per epoch, log scale from below chance to 1
  const epochs = d.recall1.map((_, i) => i);
  const floor = Math.max(1e-6, Math.min(d.chance1, ...d.recall1.filter((v) => v > 0)) / 2);
  const logLo = Math.floor(Math.log10(floor));
  const log = (v: number): number => Math.log10(Math.max(v, 10 ** logLo));
  const right: Panel = {
    x: 690, y: 40, w: 240, h: 300,
    x0: 0, x1: Math.max(1, epochs.length - 1),
    y0: logLo, y1: 0,
  };
  const logTicks: number[] = [];
  for (let k = logLo; k <= 0; k++) logTicks.push(k);
  const pct = (k: number): string => {
    const v = 100 * 10 ** k;
    return `${v >= 1 ? String(Math.round(v)) : String(Number(v.toPrecision(1)))}%`;
  };
  parts.push(axes(right, niceTicks(0, right.x1, Math.min(5, right.x1)).filter(Number.isInteger), logTicks, 'epoch', 'held-out recall (log)', 'spelling \u2192 pronunciation', pct));
  const chance = (v: number, colour: string): string => {
    const y = py(right, log(v)).toFixed(1);
    return `<line x1="${right.x}" y1="${y}" x2="${right.x + right.w}" y2="${y}" stroke="${colour}" stroke-dasharray="5 4" stroke-width="1.2"/>`;
  };
  parts.push(chance(d.chance10, '#fdae6b'), chance(d.chance1, '#a1d99b'));
  parts.push(polyline(right, epochs, d.recall10.map(log), 'stroke="#e6550d" stroke-width="2"'));
  parts.push(polyline(right, epochs, d.recall1.map(log), 'stroke="#31a354" stroke-width="2"'));
  for (let i = 0; i < epochs.length; i++) {
    parts.push(`<circle cx="${px(right, i).toFixed(1)}" cy="${py(right, log(d.recall10[i])).toFixed(1)}" r="3" fill="#e6550d"/>`);
    parts.push(`<circle cx="${px(right, i).toFixed(1)}" cy="${py(right, log(d.recall1[i])).toFixed(1)}" r="3" fill="#31a354"/>`);
  }
  // legend
  const lx = right.x + right.w - 96;
  const ly = right.y + right.h * 0.42;
  const legend: Array<[string, string, boolean]> = [
    ['#31a354', 'recall@1', false], ['#e6550d', 'recall@10', false],
    ['#a1d99b', 'chance @1', true], ['#fdae6b', 'chance @10', true],
  ];
  parts.push(`<rect x="${lx - 4}" y="${ly - 10}" width="92" height="62" fill="#fff" fill-opacity="0.85"/>`);
  legend.forEach(([colour, label, dashed], i) => {
    const y = ly + i * 14;
    parts.push(`<line x1="${lx}" y1="${y}" x2="${lx + 18}" y2="${y}" stroke="${colour}" stroke-width="2"${dashed ? ' stroke-dasharray="5 4"' : ''}/>`);
    parts.push(`<text x="${lx + 24}" y="${y}" font-size="10" dominant-baseline="middle" fill="#333">${label}</text>`);
  });
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="${FONT}">`,
    `<rect width="${W}" height="${H}" fill="#fff"/>`,
    ...parts.filter((s) => s.length > 0),
    '</svg>',
  ].join('\n');
}

/** Renders an SVG document to PNG bytes with resvg (DejaVu Sans when installed, else the system's fonts). */
export function svgToPng(svg: string): Buffer {
  const font = fs.existsSync(DEJAVU_SANS)
    ? { fontFiles: [DEJAVU_SANS], loadSystemFonts: false, defaultFontFamily: 'DejaVu Sans', sansSerifFamily: 'DejaVu Sans' }
    : { loadSystemFonts: true };
  return new Resvg(svg, { font, background: '#ffffff' }).render().asPng();
}
