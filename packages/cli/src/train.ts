/**
 * `pairloss-demo train`: trains the two-tower spelling/pronunciation model on the
 * CMU Pronouncing Dictionary with a progress bar, prints held-out retrieval
 * per epoch and writes heatmaps, curves and a summary into the output folder.
 */
import * as path from 'path';
import { CliError, CommandSpec, enumFlag, FlagValues, intFlag, numberFlag, stringFlag, UsageError, helpHint } from './args';
import { BLAS_KERNEL_CHOICES, BLAS_KERNELS_ENV, blasKernelChoice } from './blas';
import { trainInProcess, TrainArgs } from './train-run';
import { DEFAULT_TRAIN_CONFIG, TrainConfig, TRAIN_LOSSES } from './train/trainer';

// The training defaults are the trainer's own; the rest are the command's.
const D = {
  ...DEFAULT_TRAIN_CONFIG,
  out: path.join('runs', 'latest'),
  worldSize: 1,
  testSize: 5000,
  featureDim: 2048,
};

/** The flags and help of `pairloss-demo train`. */
export const TRAIN_SPEC: CommandSpec = {
  name: 'train',
  summary: 'train a two-tower contrastive model (spelling <-> pronunciation) on the CMU Pronouncing Dictionary',
  usage: '[flags]',
  details: [
    'Each of the ~125,000 words is a pair of two views: its spelling (hashed character n-grams) and its',
    'pronunciation (hashed phoneme n-grams). One tower per view maps them to embeddings; pairloss computes',
    'the loss and its gradients, the towers backpropagate through pairloss.sparseMatmul (CSR batches, no dense',
    'copies) and matmul, pairloss.adam updates them; every step writes into memory allocated once.',
    'After each epoch: held-out recall@1/@10 of spelling -> pronunciation retrieval, with chance level.',
    'Writes heatmap-before/after.{png,svg}, loss.{png,svg} and summary.json into --out.',
  ],
  flags: {
    loss: { type: 'string', value: 'NAME', description: "'npairs' (symmetric, CLIP style), 'siglip' (sigmoid), 'supcon' (homophones as extra positives), 'ntxent' (SimCLR), 'vicreg', 'correlation' (Barlow Twins) 'dcl' (decoupled contrastive) or 'triplet' (batch-hard triplet margin)", defaultText: D.loss },
    epochs: { type: 'string', value: 'N', description: 'passes over the training pairs', defaultText: String(D.epochs) },
    'batch-size': { type: 'string', value: 'N', description: 'pairs per step (global, across ranks)', defaultText: String(D.batchSize) },
    dim: { type: 'string', value: 'N', description: 'embedding size', defaultText: String(D.dim) },
    hidden: { type: 'string', value: 'N', description: 'hidden units per tower; 0 = linear towers', defaultText: String(D.hidden) },
    temperature: { type: 'string', value: 'T', description: 'temperature of npairs, supcon, ntxent and dcl (logits = cosine / T)', defaultText: String(D.temperature) },
    lr: { type: 'string', value: 'RATE', description: "Adam's learning rate", defaultText: String(D.lr) },
    seed: { type: 'string', value: 'N', description: 'seed of the weights and batch order (same seed, same numbers)', defaultText: String(D.seed) },
    out: { type: 'string', short: 'o', value: 'DIR', description: 'output folder', defaultText: D.out },
    'world-size': { type: 'string', value: 'W', description: 'train on W local processes (ranks) through a Gloo process group', defaultText: String(D.worldSize) },
    device: { type: 'string', value: 'DEV', description: "where the loss runs: 'cpu', 'cuda' or 'cuda:N' (the sparse towers run on the CPU)", defaultText: D.device },
    'test-size': { type: 'string', value: 'N', description: 'held-out pairs (a fixed split, whatever --seed)', defaultText: String(D.testSize) },
    'feature-dim': { type: 'string', value: 'N', description: 'hash buckets per view', defaultText: String(D.featureDim) },
    'max-pairs': { type: 'string', value: 'N', description: 'use only N pairs of the dictionary (quick runs)', defaultText: 'all' },
    threads: { type: 'string', value: 'N', description: "LibTorch's intra-op threads", defaultText: "LibTorch's default" },
    'blas-kernels': {
      type: 'string',
      value: 'WHICH',
      description: `'auto': where OpenBLAS does not know the CPU and falls back to its generic Prescott kernels on a CPU with AVX2 and FMA (and OPENBLAS_CORETYPE is unset), the run restarts itself once with OPENBLAS_CORETYPE=Haswell; 'openblas': OpenBLAS's own choice (also ${BLAS_KERNELS_ENV}=openblas)`,
      defaultText: 'auto',
    },
    'no-progress': { type: 'boolean', description: 'no progress bar' },
  },
  positionals: { min: 0, max: 0 },
  examples: [
    'pairloss-demo train',
    'pairloss-demo train --epochs 2 --dim 32 --out runs/small',
    'pairloss-demo train --loss correlation --lr 0.003',
  ],
};

export function trainArgs(v: FlagValues): TrainArgs {
  const c = 'train';
  const device = stringFlag(v, 'device', D.device);
  if (!/^(cpu|cuda(:\d+)?)$/.test(device)) {
    throw new UsageError(`--device must be 'cpu', 'cuda' or 'cuda:N', got ${JSON.stringify(device)}`, helpHint(c));
  }
  const config: TrainConfig = {
    loss: enumFlag(c, v, 'loss', TRAIN_LOSSES, D.loss),
    epochs: intFlag(c, v, 'epochs', D.epochs, 0, 10000),
    batchSize: intFlag(c, v, 'batch-size', D.batchSize, 2, 1 << 20),
    dim: intFlag(c, v, 'dim', D.dim, 2, 65536),
    hidden: intFlag(c, v, 'hidden', D.hidden, 0, 65536),
    temperature: numberFlag(c, v, 'temperature', D.temperature, { min: 0, above: true }),
    lr: numberFlag(c, v, 'lr', D.lr, { min: 0, above: true }),
    seed: intFlag(c, v, 'seed', D.seed, 0, 2 ** 31 - 1),
    device,
  };
  const maxPairsText = stringFlag(v, 'max-pairs');
  const testSize = intFlag(c, v, 'test-size', D.testSize, 10, 1 << 20);
  const maxPairs = maxPairsText === undefined ? undefined : intFlag(c, v, 'max-pairs', 0, 20);
  if (maxPairs !== undefined && maxPairs < testSize + config.batchSize) {
    throw new UsageError(
      `--max-pairs ${maxPairs} leaves fewer than one batch (${config.batchSize}) after the ${testSize} held-out pairs`,
      'raise --max-pairs or lower --test-size / --batch-size',
    );
  }
  const worldSize = intFlag(c, v, 'world-size', D.worldSize, 1, 64);
  if (config.loss === 'triplet' && worldSize > 1) {
    throw new UsageError('--loss triplet runs in one process (tripletMarginLoss has no process group)', 'drop --world-size, or use another --loss');
  }
  if (config.batchSize % worldSize !== 0) {
    throw new UsageError(
      `--batch-size ${config.batchSize} is not a multiple of --world-size ${worldSize}`,
      `use a batch size divisible by ${worldSize}, e.g. ${worldSize * Math.max(1, Math.round(config.batchSize / worldSize))}`,
    );
  }
  return {
    config,
    out: stringFlag(v, 'out', D.out),
    worldSize,
    testSize,
    featureDim: intFlag(c, v, 'feature-dim', D.featureDim, 16, 1 << 20),
    maxPairs,
    threads: stringFlag(v, 'threads') === undefined ? undefined : intFlag(c, v, 'threads', 1, 1, 1024),
    progress: v['no-progress'] !== true,
    blasKernels: stringFlag(v, 'blas-kernels') === undefined ? blasKernelChoice(undefined) : enumFlag(c, v, 'blas-kernels', BLAS_KERNEL_CHOICES, 'auto'),
  };
}

export function checkOutWritable(dir: string): void {
  // eslint-disable-next-line @typescript-eslint/no-var-requires
  const fs = require('fs') as typeof import('fs');
  try {
    fs.mkdirSync(dir, { recursive: true });
    const probe = path.join(dir, `.pairloss-write-check-${process.pid}`);
    fs.writeFileSync(probe, '');
    fs.rmSync(probe, { force: true });
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? 'error';
    const why: Record<string, string> = {
      EEXIST: 'it is a file, not a folder',
      ENOTDIR: 'a part of the path is a file, not a folder',
      EACCES: 'permission denied',
      EPERM: 'permission denied',
      EROFS: 'a read-only file system',
      ENOSPC: 'no space left on the device',
    };
    throw new CliError(`--out ${JSON.stringify(dir)} cannot be written (${code}: ${why[code] ?? (e instanceof Error ? e.message : String(e))}); nothing was trained`, 'choose another --out folder');
  }
}

/** Runs `pairloss-demo train` with parsed flags; resolves when the files are written. */
export async function runTrain(v: FlagValues): Promise<void> {
  const a = trainArgs(v);
  // the launching process checks; the ranks it spawns need not
  if (process.env.PAIRLOSS_TRAIN_WORKER !== '1') checkOutWritable(a.out);
  const { launchedAsRank } = await import('./distributed-train');
  if (a.worldSize > 1 || launchedAsRank()) {
    const { runDistributedTrain } = await import('./distributed-train');
    await runDistributedTrain(a);
    return;
  }
  await trainInProcess(a, null);
}
