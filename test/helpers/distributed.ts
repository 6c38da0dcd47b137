// Multi-process tests: runs a group of ranks, each a child process (Node.js:
// test/helpers/distributed-rank.js; Python: distributed_rank.py), on a
// 127.0.0.1 port picked at random in [20000, 40000) and checked free, with a
// retry on a new port when rank 0 cannot listen. Every run is bounded: the
// children are killed after `timeoutMs`.
import { ChildProcess, fork, spawn } from 'child_process';
import * as fs from 'fs';
import * as net from 'net';
import * as os from 'os';
import * as path from 'path';

export const PYTHON = process.env.PAIRLOSS_PYTHON ?? '/usr/bin/python3';
const HELPERS = __dirname;
const RANK_JS = path.join(HELPERS, 'distributed-rank.js');
const RANK_PY = path.join(HELPERS, 'distributed_rank.py');
const REGISTER = path.join(HELPERS, 'register-ts.js');

export type RankKind = 'node' | 'python';

export interface RankOutcome {
  rank: number;
  kind: RankKind;
  result?: any; // eslint-disable-line @typescript-eslint/no-explicit-any
  error?: { name: string; message: string };
  code: number | null;
  signal: NodeJS.Signals | null;
  exitTime?: number;
  stderr: string;
}

export interface Event {
  rank: number;
  name: string;
  time: number;
}

export interface GroupRun {
  outcomes: RankOutcome[];
  events: Event[];
  port: number;
  job: Record<string, unknown>;
}

export interface RunOptions {
  /** Kill everything after this long (ms). Default 60000. */
  timeoutMs?: number;
  /** Called with each event as it arrives, with the children (to kill one, say). */
  onEvent?: (event: Event, events: Event[], children: ChildProcess[]) => void;
}

/** True when `python3 -c "import torch"` works (the PyTorch oracle). */
export function hasPythonTorch(): boolean {
  try {
    const r = require('child_process').spawnSync(PYTHON, ['-c', 'import torch.distributed as d; assert d.is_available()'], { timeout: 60000 });
    return r.status === 0;
  } catch {
    return false;
  }
}

function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(false));
    server.listen({ port, host: '0.0.0.0', exclusive: true }, () => server.close(() => resolve(true)));
  });
}

/** A free TCP port in [20000, 40000), picked at random (so parallel runs do not collide). */
export async function freePort(): Promise<number> {
  for (let i = 0; i < 50; i++) {
    const port = 20000 + Math.floor(Math.random() * 20000);
    if (await portIsFree(port)) return port;
  }
  throw new Error('no free port found in [20000, 40000)');
}

function startRank(kind: RankKind, jobFile: string, rank: number, outcome: RankOutcome, events: Event[],
  onMessage: (e: Event) => void): ChildProcess {
  const env = { ...process.env };
  let child: ChildProcess;
  if (kind === 'node') {
    child = fork(RANK_JS, [jobFile, String(rank)], { execArgv: ['-r', REGISTER], env, stdio: ['ignore', 'pipe', 'pipe', 'ipc'] });
    child.on('message', (m: any) => { // eslint-disable-line @typescript-eslint/no-explicit-any
      if (m.type === 'result') {
        outcome.result = m.result;
        onMessage({ rank, name: 'result', time: Date.now() });
      }
      else if (m.type === 'error') outcome.error = { name: m.name, message: m.message };
      else if (m.type === 'event') {
        const e = { rank, name: m.name, time: m.time };
        events.push(e);
        onMessage(e);
      }
    });
  } else {
    // stdin: the harness writes "exit" once every rank has its result or has
    // exited (a Python rank waits for it, then leaves without a teardown)
    child = spawn(PYTHON, [RANK_PY, jobFile, String(rank)], { env, stdio: ['pipe', 'pipe', 'pipe'] });
    child.stdin!.on('error', () => {}); // a rank that already exited
    let out = '';
    child.stdout!.on('data', (d) => {
      out += d;
      const line = out.split('\n').find((l) => l.startsWith('RESULT '));
      if (line && outcome.result === undefined) {
        outcome.result = JSON.parse(line.slice(7));
        onMessage({ rank, name: 'result', time: Date.now() });
      }
    });
  }
  child.stderr!.on('data', (d) => {
    outcome.stderr += d;
  });
  child.stdout?.resume();
  return child;
}

/**
 * Runs one group: `kinds[r]` is rank r's kind; `job` is handed to every rank
 * (with `port`, `worldSize`, `timeoutMs` added).
 */
export async function runGroup(kinds: RankKind[], job: Record<string, unknown>, opts: RunOptions = {}): Promise<GroupRun> {
  const timeoutMs = opts.timeoutMs ?? 60000;
  for (let attempt = 0; ; attempt++) {
    const port = await freePort();
    const full = { timeoutMs: 20000, hardTimeoutMs: timeoutMs + 5000, ...job, port, port2: await freePort(), worldSize: kinds.length };
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pairloss-dist-'));
    const jobFile = path.join(dir, 'job.json');
    fs.writeFileSync(jobFile, JSON.stringify(full));
    const events: Event[] = [];
    const outcomes: RankOutcome[] = kinds.map((kind, rank) => ({ rank, kind, code: null, signal: null, stderr: '' }));
    const children: ChildProcess[] = [];
    // job.startTogether (Node ranks only): every rank loads LibTorch, then all are told to go at once
    // Python ranks leave only when every rank is done (its result out, or exited):
    // no rank closes its sockets while a peer may still be in a collective
    let released = false;
    const release = (): void => {
      if (released || !outcomes.every((o) => o.result !== undefined || o.code !== null || o.signal !== null)) return;
      released = true;
      children.forEach((c, r) => { if (kinds[r] === 'python') c.stdin?.end('exit\n'); });
    };
    const onEvent = (e: Event): void => {
      if (e.name === 'result') { release(); return; }
      if (job.startTogether && e.name === 'loaded' && events.filter((x) => x.name === 'loaded').length === kinds.length) {
        for (const c of children) c.send('go');
      }
      opts.onEvent?.(e, events, children);
    };
    const done = kinds.map((kind, rank) => {
      const child = startRank(kind, jobFile, rank, outcomes[rank], events, onEvent);
      children.push(child);
      return new Promise<void>((resolve) => {
        child.on('exit', (code, signal) => {
          outcomes[rank].code = code;
          outcomes[rank].signal = signal;
          outcomes[rank].exitTime = Date.now();
          release();
          resolve();
        });
      });
    });
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      for (const c of children) c.kill('SIGKILL');
    }, timeoutMs);
    await Promise.all(done);
    clearTimeout(timer);
    fs.rmSync(dir, { recursive: true, force: true });
    const inUse = outcomes.some((o) => /address already in use|EADDRINUSE/i.test(`${o.error?.message ?? ''}${o.stderr}`));
    if (inUse && attempt < 3) continue;
    if (timedOut) {
      const detail = outcomes.map((o) => `rank ${o.rank} (${o.kind}): code ${o.code} ${o.signal ?? ''} ${o.error?.message ?? ''} ${o.stderr.slice(-500)}`).join('\n');
      throw new Error(`group run timed out after ${timeoutMs} ms\n${detail}`);
    }
    return { outcomes, events, port, job: full };
  }
}

/** The results of a run where every rank must have succeeded (else a readable failure). */
export function resultsOf(run: GroupRun): any[] { // eslint-disable-line @typescript-eslint/no-explicit-any
  for (const o of run.outcomes) {
    if (o.result === undefined) {
      throw new Error(`rank ${o.rank} (${o.kind}) gave no result: code ${o.code} ${o.signal ?? ''} ${o.error ? `${o.error.name}: ${o.error.message}` : ''}\n${o.stderr.slice(-2000)}`);
    }
  }
  return run.outcomes.map((o) => o.result);
}

/** mulberry32 normal samples: seeded inputs that every process can be given. */
export function randn(seed: number, count: number): number[] {
  let a = seed >>> 0;
  const uniform = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return Array.from({ length: count }, () => Math.sqrt(-2 * Math.log(uniform() + 1e-12)) * Math.cos(2 * Math.PI * uniform()));
}

/** Largest |a - b| - (atol + rtol·|b|) over two arrays (<= 0: within tolerance). */
export function excess(a: ArrayLike<number>, b: ArrayLike<number>, rtol: number, atol: number): number {
  if (a.length !== b.length) return Infinity;
  let worst = -Infinity;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]) - (atol + rtol * Math.abs(b[i])));
  return a.length ? worst : 0;
}
