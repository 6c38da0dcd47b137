/**
 * `pairloss-demo heatmap`: a `.npy` matrix, or the cosine similarity of two `.npy`
 * embedding files, drawn as a PNG or SVG heatmap.
 */
import * as path from 'path';
import { CommandSpec, FlagValues, helpHint, numberFlag, stringFlag, UsageError } from './args';
import { readNpyMatrix } from './npy';

/** The flags and help of `pairloss-demo heatmap`. */
export const HEATMAP_SPEC: CommandSpec = {
  name: 'heatmap',
  summary: 'draw a .npy matrix, or the cosine similarity of two .npy embedding files, as a PNG or SVG heatmap',
  usage: '<matrix.npy> | <x1.npy> <x2.npy>  [-o out.png|out.svg] [flags]',
  details: [
    'One file: the 2-D array itself. Two files ([N, D] and [M, D]): their [N, M] cosine similarity,',
    'computed by pairloss (normalize(x1) @ normalize(x2).T). The format follows the extension of --out.',
    'Colour range: --vmin/--vmax when given; otherwise [-1, 1] for a similarity matrix (two files, or',
    'every value in [-1, 1]), else the data\'s own min and max, as seaborn does without vmin/vmax.',
    'The line it prints says which range it used, and how many values fell outside it.',
  ],
  flags: {
    out: { type: 'string', short: 'o', value: 'FILE', description: 'output file, .png or .svg', defaultText: 'heatmap.png' },
    cmap: { type: 'string', value: 'NAME', description: "colour map: 'rocket' (seaborn's default), 'vlag' or 'icefire' (diverging), ...", defaultText: 'rocket' },
    vmin: { type: 'string', value: 'X', description: 'value at the bottom of the colour map; lower values take its first colour', defaultText: "-1 for a similarity matrix, else the data's min" },
    vmax: { type: 'string', value: 'X', description: 'value at the top of the colour map; higher values take its last colour', defaultText: "1 for a similarity matrix, else the data's max" },
    annotate: { type: 'boolean', description: 'write each value in its cell', defaultText: 'on up to 32 x 32' },
    'no-annotate': { type: 'boolean', description: 'no values in the cells' },
    fmt: { type: 'string', value: 'SPEC', description: "annotation format, Python's spec without % or {}: '.Nf', '.Ne', '.N%' (N in 0..20) or 'd'", defaultText: '.2f' },
    title: { type: 'string', value: 'TEXT', description: 'title above the heatmap' },
    scale: { type: 'string', value: 'X', description: 'PNG zoom factor (2 for high-DPI)', defaultText: '1' },
  },
  positionals: { min: 1, max: 2 },
  examples: [
    'pairloss-demo heatmap similarity.npy -o similarity.svg',
    'pairloss-demo heatmap image_emb.npy text_emb.npy -o sim.png --cmap vlag --title "image vs text"',
  ],
};

/** The flag behind each heatmap option, for the library's messages ("opts.fmt must be ..." -> "--fmt must be ..."). */
const FLAG_OF: Record<string, string> = { vmin: 'vmin', vmax: 'vmax', cmap: 'cmap', fmt: 'fmt', title: 'title', scale: 'scale', annotate: 'annotate' };

/** The colour range of a heatmap and where it came from. */
export interface ColourRange {
  vmin: number;
  vmax: number;
  /** 'flags': both given; 'similarity': [-1, 1] (with any flag given); 'data': the data's min and/or max. */
  source: 'flags' | 'similarity' | 'data';
  /** Values below vmin or above vmax (±Infinity included, NaN not): drawn in the end colours. */
  outside: number;
}

/**
 * The colour range: `--vmin`/`--vmax` when given; otherwise [-1, 1] for a
 * similarity matrix (`similarity`: the cosine similarity of two files, or
 * every finite value within [-1, 1]), else the smallest and largest finite
 * value, as seaborn's heatmap does without vmin/vmax (a constant matrix gets
 * ±10% around its value).
 * @throws UsageError when a given bound leaves no range (e.g. --vmin above the data's largest value).
 */
export function colourRange(data: ArrayLike<number>, similarity: boolean, vmin?: number, vmax?: number): ColourRange {
  let lo = Infinity;
  let hi = -Infinity;
  for (let i = 0; i < data.length; i++) {
    const x = data[i];
    if (Number.isFinite(x)) {
      if (x < lo) lo = x;
      if (x > hi) hi = x;
    }
  }
  const isSimilarity = similarity || lo > hi || (lo >= -1 && hi <= 1);
  const givenMin = vmin !== undefined;
  let source: ColourRange['source'] = 'flags';
  if (vmin === undefined || vmax === undefined) {
    source = isSimilarity ? 'similarity' : 'data';
    if (!isSimilarity && vmin === undefined && vmax === undefined && lo === hi) {
      const pad = Math.abs(lo) / 10;
      vmin = lo - pad;
      vmax = hi + pad;
    }
    vmin ??= isSimilarity ? -1 : lo;
    vmax ??= isSimilarity ? 1 : hi;
  }
  if (!(vmin < vmax)) {
    const of = source === 'similarity' ? 'for a similarity matrix' : 'from the data';
    throw givenMin
      ? new UsageError(`--vmin ${short(vmin)} is not below ${short(vmax)}, the top of the colour range ${of}`, `give --vmax too, or a lower --vmin`)
      : new UsageError(`--vmax ${short(vmax)} is not above ${short(vmin)}, the bottom of the colour range ${of}`, `give --vmin too, or a higher --vmax`);
  }
  let outside = 0;
  for (let i = 0; i < data.length; i++) if (data[i] < vmin || data[i] > vmax) outside++;
  return { vmin, vmax, source, outside };
}

function short(v: number): string {
  return String(Number(v.toPrecision(6)));
}

/** Runs `pairloss-demo heatmap`. */
export async function runHeatmap(v: FlagValues, files: string[]): Promise<void> {
  const c = 'heatmap';
  const out = stringFlag(v, 'out', 'heatmap.png');
  const ext = path.extname(out).toLowerCase();
  if (ext !== '.png' && ext !== '.svg') {
    throw new UsageError(`--out must end in .png or .svg (the format is taken from it), got ${JSON.stringify(out)}`, helpHint(c));
  }
  if (v.annotate === true && v['no-annotate'] === true) throw new UsageError('--annotate and --no-annotate contradict each other', 'give one of them');
  const heat = await import('pairloss/heatmap');
  const cmap = stringFlag(v, 'cmap');
  if (cmap !== undefined && !heat.HEATMAP_COLORMAPS.includes(cmap)) {
    throw new UsageError(`--cmap must be one of ${heat.HEATMAP_COLORMAPS.join(', ')}, got ${JSON.stringify(cmap)}`, helpHint(c));
  }
  const vmin = stringFlag(v, 'vmin') === undefined ? undefined : numberFlag(c, v, 'vmin', -1);
  const vmax = stringFlag(v, 'vmax') === undefined ? undefined : numberFlag(c, v, 'vmax', 1);
  if (vmin !== undefined && vmax !== undefined && !(vmin < vmax)) {
    throw new UsageError(`--vmin must be below --vmax, got ${vmin} and ${vmax}`, helpHint(c));
  }
  const opts: import('pairloss/heatmap').HeatmapOptions = { scale: numberFlag(c, v, 'scale', 1, { min: 0, above: true, max: 16 }) };
  if (cmap !== undefined) opts.cmap = cmap;
  if (v.annotate === true) opts.annotate = true;
  if (v['no-annotate'] === true) opts.annotate = false;
  const fmt = stringFlag(v, 'fmt');
  if (fmt !== undefined) opts.fmt = fmt;
  const title = stringFlag(v, 'title');
  if (title !== undefined) opts.title = title;
  // Every style flag is checked by the library itself, on a 1 x 1 matrix, before any file is read:
  // what it refuses is a usage error naming the flag.
  try {
    heat.heatmapSvg([[0]], opts);
  } catch (e) {
    if (!(e instanceof TypeError || e instanceof RangeError)) throw e;
    throw new UsageError(e.message.replace(/\bopts\.(\w+)/g, (m, k: string) => (FLAG_OF[k] ? `--${FLAG_OF[k]}` : m)), helpHint(c));
  }

  let matrix: { data: Float32Array | Float64Array; shape: number[] };
  let what: string;
  if (files.length === 1) {
    matrix = readNpyMatrix(files[0], 'matrix');
    what = `${files[0]}`;
  } else {
    const a = readNpyMatrix(files[0], 'x1');
    const b = readNpyMatrix(files[1], 'x2');
    const lib = await import('pairloss');
    const s = lib.cosineSimilarity(a, b);
    matrix = { data: s.data(), shape: [...s.shape] };
    what = `cosine similarity of ${files[0]} and ${files[1]}`;
  }
  const range = colourRange(matrix.data, files.length === 2, vmin, vmax);
  opts.vmin = range.vmin;
  opts.vmax = range.vmax;
  const dir = path.dirname(out);
  if (dir && dir !== '.') (await import('fs')).mkdirSync(dir, { recursive: true });
  heat.writeHeatmap(out, matrix, opts);
  const from = range.source !== 'data' ? '' : vmin === undefined && vmax === undefined ? " (the data's)" : vmin === undefined ? " (the data's min)" : " (the data's max)";
  const outside = range.outside > 0 ? `, ${range.outside} value${range.outside === 1 ? '' : 's'} outside it in the end colours` : '';
  process.stdout.write(`wrote ${out} (${matrix.shape[0]} x ${matrix.shape[1]}, ${what}; colour range [${short(range.vmin)}, ${short(range.vmax)}]${from}${outside})\n`);
}
