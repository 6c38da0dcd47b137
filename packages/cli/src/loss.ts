/**
 * `pairloss-demo loss`: the loss and gradient norms of two `.npy` embedding files.
 */
import * as fs from 'fs';
import * as path from 'path';
import { CliError, CommandSpec, enumFlag, FlagValues, helpHint, numberFlag, stringFlag, UsageError } from './args';
import { readNpyMatrix, writeNpy } from './npy';

/** The flags and help of `pairloss-demo loss`. */
export const LOSS_SPEC: CommandSpec = {
  name: 'loss',
  summary: 'compute a loss and the norms of its gradients for two .npy files of embeddings',
  usage: '<x1.npy> <x2.npy> [flags]',
  details: [
    'x1.npy and x2.npy hold 2-D float32 or float64 arrays (np.save): [N, D] and [M, D] for npairs',
    '(M >= N: extra negatives), [N, D] and [N, D] for correlation. Prints the loss and the Frobenius',
    'norms of its gradients with respect to each input, as PyTorch autograd computes them.',
  ],
  flags: {
    loss: { type: 'string', value: 'NAME', description: "'npairs' (N-pairs / InfoNCE) or 'correlation' (Barlow Twins)", defaultText: 'npairs' },
    temperature: { type: 'string', value: 'T', description: 'npairs: logits = similarity / T', defaultText: '1' },
    symmetric: { type: 'boolean', description: 'npairs: mean of row- and column-wise cross entropies (CLIP)' },
    'label-smoothing': { type: 'string', value: 'E', description: 'npairs: label smoothing in [0, 1]', defaultText: '0' },
    similarity: { type: 'string', value: 'KIND', description: "npairs: 'cosine' or 'dot' (Sohn's original)", defaultText: 'cosine' },
    'l2-reg': { type: 'string', value: 'W', description: "npairs: Sohn's L2 penalty weight", defaultText: '0' },
    reduction: { type: 'string', value: 'R', description: "npairs: 'mean' or 'sum'", defaultText: 'mean' },
    mode: { type: 'string', value: 'MODE', description: "correlation: 'samples' (each sample standardised over its features, corr [N, N]) or 'features' (Barlow Twins: each feature over the batch, corr [D, D])", defaultText: 'samples' },
    lambda: { type: 'string', value: 'L', description: 'correlation: weight of the off-diagonal term', defaultText: '0.005' },
    scale: { type: 'string', value: 'S', description: 'correlation: final scale', defaultText: '0.025' },
    device: { type: 'string', value: 'DEV', description: "'cpu', 'cuda' or 'cuda:N'", defaultText: 'cpu' },
    grads: { type: 'string', value: 'DIR', description: 'also write grad1.npy and grad2.npy into DIR' },
    'check-finite': { type: 'boolean', description: 'NaN or Infinity in x1/x2 is an error naming the first one; so is a loss or gradient that is not finite' },
    json: { type: 'boolean', description: 'print one JSON object instead of text' },
  },
  positionals: { min: 2, max: 2 },
  examples: [
    'pairloss-demo loss image_emb.npy text_emb.npy --temperature 0.07 --symmetric',
    'pairloss-demo loss z1.npy z2.npy --loss correlation --mode features --json',
    'pairloss-demo loss a.npy b.npy --grads out/',
    'pairloss-demo loss a.npy b.npy --check-finite',
  ],
};

const NPAIRS_ONLY = ['temperature', 'symmetric', 'label-smoothing', 'similarity', 'l2-reg', 'reduction'];
const CORRELATION_ONLY = ['mode', 'lambda', 'scale'];

/** The first NaN or ±Infinity of a row-major [rows, cols] matrix: its value, [row, col] and how many there are. */
export function firstNonFinite(data: Float32Array | Float64Array, cols: number): { value: number; at: [number, number]; count: number } | null {
  let first = -1;
  let count = 0;
  for (let i = 0; i < data.length; i++) {
    if (!Number.isFinite(data[i])) {
      if (first < 0) first = i;
      count++;
    }
  }
  if (first < 0) return null;
  const c = Math.max(cols, 1);
  return { value: data[first], at: [Math.floor(first / c), first % c], count };
}

function describeNonFinite(f: { value: number; at: [number, number]; count: number }): string {
  return `${f.value} at [${f.at.join(', ')}]${f.count > 1 ? ` (${f.count} values that are not finite in all)` : ''}`;
}

function norm(a: Float32Array | Float64Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * a[i];
  return Math.sqrt(s);
}

/** What `pairloss-demo loss --json` prints. */
export interface LossReport {
  loss: number;
  kind: 'npairs' | 'correlation';
  options: Record<string, unknown>;
  x1: { file: string; shape: number[]; dtype: string };
  x2: { file: string; shape: number[]; dtype: string };
  grad1Norm: number;
  grad2Norm: number;
  gradTemperature?: number;
  onDiagonal?: number;
  offDiagonal?: number;
  grads?: string[];
}

/** Runs `pairloss-demo loss`. */
export async function runLoss(v: FlagValues, files: string[]): Promise<void> {
  const c = 'loss';
  const kind = enumFlag(c, v, 'loss', ['npairs', 'correlation'] as const, 'npairs');
  const misplaced = (kind === 'npairs' ? CORRELATION_ONLY : NPAIRS_ONLY).find((f) => v[f] !== undefined);
  if (misplaced) {
    throw new UsageError(`--${misplaced} does not apply to --loss ${kind}`, `drop it, or use --loss ${kind === 'npairs' ? 'correlation' : 'npairs'}`);
  }
  const device = stringFlag(v, 'device', 'cpu');
  if (!/^(cpu|cuda(:\d+)?)$/.test(device)) throw new UsageError(`--device must be 'cpu', 'cuda' or 'cuda:N', got ${JSON.stringify(device)}`, helpHint(c));
  const options: Record<string, unknown> =
    kind === 'npairs'
      ? {
          temperature: numberFlag(c, v, 'temperature', 1, { min: 0, above: true }),
          symmetric: v.symmetric === true,
          labelSmoothing: numberFlag(c, v, 'label-smoothing', 0, { min: 0, max: 1 }),
          similarity: enumFlag(c, v, 'similarity', ['cosine', 'dot'] as const, 'cosine'),
          l2Reg: numberFlag(c, v, 'l2-reg', 0, { min: 0 }),
          reduction: enumFlag(c, v, 'reduction', ['mean', 'sum'] as const, 'mean'),
        }
      : {
          mode: enumFlag(c, v, 'mode', ['samples', 'features'] as const, 'samples'),
          lambda: numberFlag(c, v, 'lambda', 5e-3),
          scale: numberFlag(c, v, 'scale', 0.025),
        };
  const gradsDir = stringFlag(v, 'grads');
  const a = readNpyMatrix(files[0], 'x1');
  const b = readNpyMatrix(files[1], 'x2');
  const lib = await import('pairloss');
  if (device !== 'cpu' && !lib.cuda.isAvailable()) {
    throw new CliError(`--device ${device}: CUDA is not available (LibTorch ${lib.torchVersion} sees no CUDA device)`, 'use --device cpu');
  }
  const checkFinite = v['check-finite'] === true;
  if (checkFinite) {
    for (const [name, m, file] of [['x1', a, files[0]], ['x2', b, files[1]]] as const) {
      const bad = firstNonFinite(m.data, m.shape[1]);
      if (bad) {
        throw new CliError(`${name}: ${JSON.stringify(file)} holds ${describeNonFinite(bad)}, refused by --check-finite`, 'fix the data, or drop --check-finite (the loss is then NaN, as PyTorch gives)');
      }
    }
  }
  const x1 = lib.Tensor.from(a.data, a.shape, { device });
  const x2 = lib.Tensor.from(b.data, b.shape, { device });
  const r = kind === 'npairs' ? lib.npairsLoss(x1, x2, { ...options, checkFinite }) : lib.correlationLoss(x1, x2, { ...options, checkFinite });
  const g1 = r.grad1?.data();
  const g2 = r.grad2?.data();
  if (!g1 || !g2) throw new Error('the loss returned no gradients');
  if (checkFinite) {
    // finite inputs can still overflow (a temperature too small for float32, a huge scale)
    const overflow = 'the options overflow the computation in this dtype: try milder options (e.g. a larger --temperature) or float64 inputs';
    if (!Number.isFinite(r.loss)) throw new CliError(`the loss is ${r.loss} though x1 and x2 are finite (--check-finite)`, overflow);
    for (const [name, g, shape] of [['dloss/dx1', g1, a.shape], ['dloss/dx2', g2, b.shape]] as const) {
      const bad = firstNonFinite(g, shape[1]);
      if (bad) throw new CliError(`${name} holds ${describeNonFinite(bad)} though x1 and x2 are finite (--check-finite)`, overflow);
    }
  }
  const report: LossReport = {
    loss: r.loss,
    kind,
    options,
    x1: { file: files[0], shape: a.shape, dtype: a.dtype },
    x2: { file: files[1], shape: b.shape, dtype: b.dtype },
    grad1Norm: norm(g1),
    grad2Norm: norm(g2),
  };
  if ('gradTemperature' in r && r.gradTemperature !== undefined) report.gradTemperature = r.gradTemperature;
  if ('onDiagonal' in r) {
    report.onDiagonal = r.onDiagonal;
    report.offDiagonal = r.offDiagonal;
  }
  if (gradsDir !== undefined) {
    fs.mkdirSync(gradsDir, { recursive: true });
    const p1 = path.join(gradsDir, 'grad1.npy');
    const p2 = path.join(gradsDir, 'grad2.npy');
    writeNpy(p1, g1, a.shape);
    writeNpy(p2, g2, b.shape);
    report.grads = [p1, p2];
  }
  if (v.json === true) {
    process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
    return;
  }
  const digits = a.dtype === 'float64' ? 17 : 9;
  const num = (x: number): string => (Number.isFinite(x) ? x.toPrecision(digits).replace(/\.?0+(e|$)/, '$1') : String(x));
  const opts = Object.entries(options).map(([k, val]) => `${k} ${val}`).join(', ');
  const lines = [
    `${kind} loss (${opts}): ${num(report.loss)}`,
    `x1 ${files[0]} [${a.shape.join(', ')}] ${a.dtype}   |dloss/dx1| = ${num(report.grad1Norm)}`,
    `x2 ${files[1]} [${b.shape.join(', ')}] ${b.dtype}   |dloss/dx2| = ${num(report.grad2Norm)}`,
  ];
  if (report.gradTemperature !== undefined) lines.push(`dloss/dtemperature = ${num(report.gradTemperature)}`);
  if (report.onDiagonal !== undefined) lines.push(`on-diagonal ${num(report.onDiagonal)}, off-diagonal ${num(report.offDiagonal ?? NaN)}`);
  if (report.grads) lines.push(`wrote ${report.grads.join(', ')}`);
  process.stdout.write(`${lines.join('\n')}\n`);
}
