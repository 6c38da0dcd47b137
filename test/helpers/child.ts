// Child processes for the tests that need a process of their own (gc(), an
// environment variable read at first use, a CPU set): they load dist/lib, run a
// script and print one JSON line, which the test reads back.
import { spawn } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

export const ROOT = path.resolve(__dirname, '..', '..');
/** dist/lib/index.js: what the child scripts `require` (as `DIST`). */
export const DIST = path.join(ROOT, 'dist', 'lib', 'index.js');

/** Fails with a clear message when dist/lib is older than lib/ (the child processes load dist/lib). */
export function checkDistFresh(): void {
  const stale = fs.readdirSync(path.join(ROOT, 'lib'))
    .filter((f) => f.endsWith('.ts'))
    .filter((f) => {
      const js = path.join(ROOT, 'dist', 'lib', f.replace(/\.ts$/, '.js'));
      return !fs.existsSync(js) || fs.statSync(js).mtimeMs < fs.statSync(path.join(ROOT, 'lib', f)).mtimeMs;
    });
  if (stale.length > 0) throw new Error(`dist/lib is older than lib/ (${stale.join(', ')}): run \`npm run build:ts\` first`);
}

export interface ChildOptions {
  /** Node's own flags, e.g. ['--expose-gc']. */
  nodeArgs?: string[];
  /** A command the child runs under, e.g. ['taskset', '-c', '0']. */
  prefix?: string[];
  /** Added to this process's environment. */
  env?: Record<string, string>;
  timeoutMs?: number;
}

/**
 * Writes `source` to a temporary file, runs it with node and resolves with
 * the last line it printed, parsed as JSON; rejects with its output when it
 * exits with an error or prints no JSON.
 */
export function runChild<T = Record<string, unknown>>(source: string, opts: ChildOptions = {}): Promise<T> {
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'pairloss-child-')), 'child.js');
  fs.writeFileSync(file, source);
  const argv = [...(opts.prefix ?? []), process.execPath, ...(opts.nodeArgs ?? []), file];
  return new Promise((resolve, reject) => {
    const proc = spawn(argv[0], argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...opts.env } });
    let out = '';
    let err = '';
    const timer = setTimeout(() => proc.kill('SIGKILL'), opts.timeoutMs ?? 120_000);
    proc.stdout.on('data', (b) => (out += b));
    proc.stderr.on('data', (b) => (err += b));
    proc.on('close', (code, signal) => {
      clearTimeout(timer);
      fs.rmSync(path.dirname(file), { recursive: true, force: true });
      if (code !== 0) return reject(new Error(`child exited with ${code ?? signal}\n${err}\n${out}`));
      const lines = out.trim().split('\n');
      try {
        resolve(JSON.parse(lines[lines.length - 1]) as T);
      } catch {
        reject(new Error(`child printed no JSON result:\n${out}\n${err}`));
      }
    });
  });
}
