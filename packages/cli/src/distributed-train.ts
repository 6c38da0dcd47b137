/**
 * `pairloss-demo train --world-size W`: W local processes (ranks) train one model
 * through a Gloo process group. This process spawns the ranks with torchrun's
 * variables (RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT); each rank takes its
 * share of every global batch, the loss is the global one, the weight
 * gradients are summed across ranks, so every rank applies the same update.
 * Rank 0 prints the progress and writes the output folder.
 */
import { spawn } from 'child_process';
import * as net from 'net';
import * as path from 'path';
import { CliError, UsageError } from './args';
import type { TrainArgs } from './train-run';

/** Set in the environment of the spawned ranks. */
export const WORKER_ENV = 'PAIRLOSS_TRAIN_WORKER';

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/**
 * Launched as one rank: spawned by `--world-size`, started by torchrun
 * (TORCHELASTIC_RUN_ID), or by another launcher that set RANK, WORLD_SIZE,
 * MASTER_ADDR and MASTER_PORT (e.g. srun with SLURM_PROCID, SLURM_NTASKS mapped).
 */
export function launchedAsRank(env: NodeJS.ProcessEnv = process.env): boolean {
  if (env[WORKER_ENV] === '1' || env.TORCHELASTIC_RUN_ID !== undefined) return true;
  return ['RANK', 'WORLD_SIZE', 'MASTER_ADDR', 'MASTER_PORT'].every((name) => env[name] !== undefined && env[name] !== '');
}

/** Runs the training job on `a.worldSize` ranks (or, inside a launched rank, as that rank). */
export async function runDistributedTrain(a: TrainArgs): Promise<void> {
  if (launchedAsRank()) {
    await runRank(a);
    return;
  }
  const lib = await import('pairloss');
  if (!lib.backends.gloo) {
    throw new CliError(`--world-size ${a.worldSize}: LibTorch ${lib.torchVersion} was built without Gloo`, 'use a LibTorch with Gloo (Debian: libtorch-dev), or run with --world-size 1');
  }
  const port = await freePort();
  const script = path.join(__dirname, 'main.js');
  const argv = process.argv.slice(2);
  const children = Array.from({ length: a.worldSize }, (_, rank) =>
    spawn(process.execPath, [script, ...argv], {
      env: {
        ...process.env,
        [WORKER_ENV]: '1',
        RANK: String(rank),
        WORLD_SIZE: String(a.worldSize),
        MASTER_ADDR: '127.0.0.1',
        MASTER_PORT: String(port),
      },
      // rank 0 talks to the user; the others only report their errors
      stdio: rank === 0 ? 'inherit' : ['ignore', 'ignore', 'inherit'],
    }),
  );
  const results = await Promise.all(
    children.map(
      (child, rank) =>
        new Promise<{ rank: number; code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
          child.once('exit', (code, signal) => {
            if (code !== 0) {
              // one rank failed: the others cannot finish without it
              for (const other of children) if (other !== child && other.exitCode === null && other.pid !== undefined) other.kill('SIGTERM');
            }
            resolve({ rank, code, signal });
          });
          child.once('error', () => resolve({ rank, code: 1, signal: null }));
        }),
    ),
  );
  const failed = results.filter((r) => r.code !== 0);
  if (failed.length === 0) return;
  const first = failed.find((r) => r.signal === null) ?? failed[0];
  // the failing rank printed its own one-line error; this is the exit status (2 when that was a usage error)
  if (first.code === 2) {
    throw new UsageError(`rank ${first.rank} of ${a.worldSize} refused the flags`, 'see the rank error above');
  }
  throw new CliError(
    `rank ${first.rank} of ${a.worldSize} ${first.signal ? `was stopped by ${first.signal}` : `exited with code ${first.code}`}`,
    'see the rank error above; rerun with --world-size 1 to check the run alone',
  );
}

async function runRank(a: TrainArgs): Promise<void> {
  const { ProcessGroup } = await import('pairloss');
  const { trainInProcess } = await import('./train-run');
  const group = await ProcessGroup.fromEnv({ backend: 'gloo', timeoutMs: 120000 });
  try {
    if (a.config.batchSize % group.worldSize !== 0) {
      // every rank sees the same, so all stop here
      throw new CliError(`--batch-size ${a.config.batchSize} is not a multiple of the launcher's WORLD_SIZE ${group.worldSize}`, `use a batch size divisible by ${group.worldSize}`);
    }
    await trainInProcess(a, { group, lead: group.rank === 0 });
  } finally {
    await group.destroy();
  }
}
