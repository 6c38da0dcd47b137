/**
 * `pairloss heatmap`: a `.npy` matrix, or the cosine similarity of two `.npy`
 * embedding files, drawn as a PNG or SVG heatmap.
 */
import * as path from 'path';
import { CommandSpec, FlagValues, helpHint, numberFlag, stringFlag, UsageError } from './args';
import { readNpyMatrix } from './npy';

/** The flags and help of `pairloss heatmap`. */
export const HEATMAP_SPEC: CommandSpec = {
  name: 'heatmap',
  summary: 'draw a .npy matrix, or the cosine similarity of two .npy embedding files, as a PNG or SVG heatmap',
  usage: '<matrix.npy> | <x1.npy> <x2.npy>  [-o out.png|out.svg] [flags]',
  details: [
    'One file: the 2-D array itself. Two files ([N, D] and [M, D]): their [N, M] cosine similarity,',
    'computed by pairloss (normalize(x1) @ normalize(x2).T). The format follows the extension of --out.',
  ],
  flags: {
    out: { type: 'string', short: 'o', value: 'FILE', description: 'output file, .png or .svg', defaultText: 'heatmap.png' },
    cmap: { type: 'string', value: 'NAME', description: "colour map: 'rocket' (seaborn's default), 'vlag' or 'icefire' (diverging), ...", defaultText: 'rocket' },
    vmin: { type: 'string', value: 'X', description: 'value at the bottom of the colour map', defaultText: '-1' },
    vmax: { type: 'string', value: 'X', description: 'value at the top of the colour map', defaultText: '1' },
    annotate: { type: 'boolean', description: 'write each value in its cell', defaultText: 'on up to 32 x 32' },
    'no-annotate': { type: 'boolean', description: 'no values in the cells' },
    fmt: { type: 'string', value: 'SPEC', description: "annotation format, e.g. '.2f', '.1e', 'd'", defaultText: '.2f' },
    title: { type: 'string', value: 'TEXT', description: 'title above the heatmap' },
    scale: { type: 'string', value: 'X', description: 'PNG zoom factor (2 for high-DPI)', defaultText: '1' },
  },
  positionals: { min: 1, max: 2 },
  examples: [
    'pairloss heatmap similarity.npy -o similarity.svg',
    'pairloss heatmap image_emb.npy text_emb.npy -o sim.png --cmap vlag --title "image vs text"',
  ],
};

/** Runs `pairloss heatmap`. */
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
  const opts: import('pairloss/heatmap').HeatmapOptions = {
    vmin: numberFlag(c, v, 'vmin', -1),
    vmax: numberFlag(c, v, 'vmax', 1),
    scale: numberFlag(c, v, 'scale', 1, { min: 0, above: true, max: 16 }),
  };
  if (opts.vmin !== undefined && opts.vmax !== undefined && !(opts.vmin < opts.vmax)) {
    throw new UsageError(`--vmin must be below --vmax, got ${opts.vmin} and ${opts.vmax}`, helpHint(c));
  }
  if (cmap !== undefined) opts.cmap = cmap;
  if (v.annotate === true) opts.annotate = true;
  if (v['no-annotate'] === true) opts.annotate = false;
  const fmt = stringFlag(v, 'fmt');
  if (fmt !== undefined) opts.fmt = fmt;
  const title = stringFlag(v, 'title');
  if (title !== undefined) opts.title = title;

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
  const dir = path.dirname(out);
  if (dir && dir !== '.') (await import('fs')).mkdirSync(dir, { recursive: true });
  heat.writeHeatmap(out, matrix, opts);
  process.stdout.write(`wrote ${out} (${matrix.shape[0]} x ${matrix.shape[1]}, ${what})\n`);
}
