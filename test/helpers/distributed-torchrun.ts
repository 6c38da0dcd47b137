// Runs Debian's real torchrun (python3-torch's torch.distributed.run) on the
// test workers (distributed-torchrun-worker.js, distributed_torchrun_worker.py)
// and collects what each worker wrote. Every run is bounded: torchrun and its
// workers run in a process group of their own, killed whole on timeout.
import { spawn, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { PYTHON } from './distributed';

export const NODE_WORKER = path.join(__dirname, 'distributed-torchrun-worker.js');
export const PYTHON_WORKER = path.join(__dirname, 'distributed_torchrun_worker.py');
export const REGISTER = path.join(__dirname, 'register-ts.js');

/** torchrun's flags as torch 1.13 spells them; `-r 1 -t 1` because its Std.from_str fails for 0 on Python 3.11. */
export const TORCHRUN = [PYTHON, '-m', 'torch.distributed.run'];
export const QUIRKS = ['-r', '1', '-t', '1'];

let probed: boolean | undefined;

/**
 * True when this torch's torchrun can start a job at all: one worker running
 * `true` under the default (static) rendezvous. Debian 13's torch 2.6 cannot
 * (its TCPStore asks for libuv, which that build lacks: "use_libuv was
 * requested but PyTorch was build without libuv support", for Python workers
 * as much as for ours); the torchrun tests are then skipped, said so on
 * stderr, and counted as skipped.
 */
export function hasTorchrun(): boolean {
  if (probed !== undefined) return probed;
  const port = String(20000 + Math.floor(Math.random() * 30000));
  const r = spawnSync(PYTHON, ['-m', 'torch.distributed.run', ...QUIRKS, '--nproc_per_node', '1', '--master_port', port, '--no_python', 'true'],
    { timeout: 60000, encoding: 'utf8' });
  probed = r.status === 0;
  if (!probed) {
    const why = `${r.stderr ?? ''}`.split('\n').filter((l) => /Error|error:/.test(l)).slice(-1)[0] ?? `exit ${r.status}`;
    process.stderr.write(`[torchrun tests] skipped: this torch's torchrun cannot start a one-worker job (${why.trim()})\n`);
  }
  return probed;
}

export interface TorchrunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  output: string;
  /** `rank<R>.attempt<N>` -> what that worker wrote. */
  results: Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
  timedOut: boolean;
}

/** The Node.js worker's command line, for after torchrun's --no_python. */
export function nodeWorker(jobFile: string): string[] {
  return ['node', '-r', REGISTER, NODE_WORKER, jobFile];
}

/** A job file (with `out`, the folder the workers write to). */
export function makeJob(job: Record<string, unknown>): { jobFile: string; out: string } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pairloss-torchrun-'));
  const out = path.join(dir, 'out');
  fs.mkdirSync(out);
  const jobFile = path.join(dir, 'job.json');
  fs.writeFileSync(jobFile, JSON.stringify({ timeoutMs: 20000, ...job, out }));
  return { jobFile, out };
}

export function readResults(out: string): Record<string, any> { // eslint-disable-line @typescript-eslint/no-explicit-any
  const results: Record<string, unknown> = {};
  for (const f of fs.readdirSync(out)) {
    if (f.endsWith('.json')) results[f.slice(0, -5)] = JSON.parse(fs.readFileSync(path.join(out, f), 'utf8'));
  }
  return results;
}

/**
 * Spawns `prefix... python3 -m torch.distributed.run args...` (prefix: e.g.
 * `ip netns exec NS`) and waits, killing its whole process group after `timeoutMs`.
 */
export function spawnTorchrun(args: string[], timeoutMs: number, prefix: string[] = []): Promise<Omit<TorchrunResult, 'results'>> {
  const argv = [...prefix, ...TORCHRUN, ...args];
  const child = spawn(argv[0], argv.slice(1), { detached: true, stdio: ['ignore', 'pipe', 'pipe'], env: process.env });
  let output = '';
  child.stdout!.on('data', (d) => { output += d; });
  child.stderr!.on('data', (d) => { output += d; });
  return new Promise((resolve) => {
    let timedOut = false;
    const kill = (signal: NodeJS.Signals): void => {
      try {
        process.kill(-child.pid!, signal);
      } catch {
        // already gone
      }
    };
    const timer = setTimeout(() => {
      timedOut = true;
      kill('SIGTERM');
      setTimeout(() => kill('SIGKILL'), 3000).unref();
    }, timeoutMs);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      // workers left behind by a failed agent
      kill('SIGKILL');
      resolve({ code, signal, output, timedOut });
    });
  });
}

/** One torchrun job on this host: `flags` then `--no_python` and the worker command. */
export async function runTorchrun(flags: string[], command: string[], out: string, timeoutMs = 90000): Promise<TorchrunResult> {
  const logDir = fs.mkdtempSync(path.join(os.tmpdir(), 'pairloss-torchrun-logs-'));
  const r = await spawnTorchrun([...flags, ...QUIRKS, '--log_dir', logDir, '--no_python', ...command], timeoutMs);
  return { ...r, results: readResults(out) };
}

/** PyTorch's N-pairs loss (cross entropy over cosine similarity / T) of the workers' inputs, all ranks' rows together. */
export function torchNpairsLoss(worldSize: number, n: number, d: number, temperature: number): number {
  const script = `
import math, torch, torch.nn.functional as F
W, n, d, T = ${worldSize}, ${n}, ${d}, ${temperature}
def inputs(which):
    return torch.tensor([[math.sin(1.3 * (r * n + i) + 0.7 * j + which) + 0.1 * j for j in range(d)] for r in range(W) for i in range(n)], dtype=torch.float64)
x1, x2 = inputs(0), inputs(1)
logits = F.normalize(x1, dim=1) @ F.normalize(x2, dim=1).T / T
print(repr(F.cross_entropy(logits, torch.arange(W * n)).item()))
`;
  const r = spawnSync(PYTHON, ['-c', script], { encoding: 'utf8', timeout: 60000 });
  if (r.status !== 0) throw new Error(`reference loss failed: ${r.stderr}`);
  return Number(r.stdout.trim());
}
