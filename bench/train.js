#!/usr/bin/env node
// `npm run bench:train`: the training job of `pairloss-demo train` against
// the same job in PyTorch (bench/train_torch.py: the same dictionary,
// features, split, initial weights and batch order, checked bit for bit),
// back to back in one run, and the ratio to the fastest PyTorch setup.
//
//   node bench/train.js [--rounds N] [--epochs N] [--variants LIST] [--threads N] [--coretypes LIST]
//
// PyTorch setups: nn.Linear over dense batches ('dense') and
// F.embedding_bag(mode='sum', per_sample_weights) ('embbag'), each with 1
// and 2 intra-op threads, OMP_WAIT_POLICY unset and PASSIVE. --variants
// takes a comma-separated subset, e.g. embbag-1-default,dense-2-passive.
// Every side runs in a process of its own; the figure is the training
// steps' time (the trainer's `trainSeconds`), not loading or evaluation.
// With --rounds N each setup runs N times, in turn, and the median is
// reported.
//
// BLAS kernels: both sides of a table run with the same OPENBLAS_CORETYPE,
// so with the same OpenBLAS kernels. --coretypes LIST names the tables:
// 'default' (the variable unset: OpenBLAS's own choice; the demo runs with
// --blas-kernels openblas, so it does not set it itself) or a core name
// (OPENBLAS_CORETYPE=NAME for both sides), e.g. --coretypes default,Haswell.
// Without it: the environment's OPENBLAS_CORETYPE where it is set; else
// 'default', and also 'Haswell' where OpenBLAS falls back to its generic
// Prescott kernels on a CPU with AVX2 and FMA (what `pairloss-demo train`
// then runs by default, packages/cli/src/blas.ts).
'use strict';

const { spawnSync } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');

const root = path.resolve(__dirname, '..');
const PYTHON = process.env.PAIRLOSS_PYTHON || '/usr/bin/python3';
const ALL = [];
for (const variant of ['embbag', 'dense']) for (const threads of [1, 2]) for (const omp of ['default', 'passive']) ALL.push(`${variant}-${threads}-${omp}`);

function arg(name, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  return i < 0 ? fallback : process.argv[i + 1];
}

function intArg(name, fallback) {
  const v = Number(arg(name, fallback));
  if (!Number.isInteger(v) || v < 1) {
    process.stderr.write(`--${name} must be a positive integer, got ${arg(name)}\n`);
    process.exit(2);
  }
  return v;
}

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

function run(cmd, argv, env) {
  const r = spawnSync(cmd, argv, { cwd: root, encoding: 'utf8', env: env ?? process.env, maxBuffer: 1 << 26 });
  if (r.status !== 0) {
    process.stderr.write(`${cmd} ${argv.join(' ')} failed (exit ${r.status}${r.signal ? `, ${r.signal}` : ''}):\n${r.stderr || r.stdout}\n`);
    process.exit(1);
  }
  return r.stdout;
}

// OpenBLAS's own choice of kernels on this machine (a fresh process, the variable unset).
function defaultCore() {
  const env = { ...process.env };
  delete env.OPENBLAS_CORETYPE;
  const r = spawnSync(process.execPath, ['-e', "process.stdout.write(require('./dist/lib').blasCore)"], { cwd: root, encoding: 'utf8', env });
  return r.status === 0 ? r.stdout.trim() : '';
}

function hasAvx2Fma() {
  try {
    const flags = /^flags\s*:(.*)$/m.exec(fs.readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? '';
    return /\bavx2\b/.test(flags) && /\bfma\b/.test(flags);
  } catch {
    return false;
  }
}

function coretypes(ownCore) {
  const given = arg('coretypes');
  if (given !== undefined) return given.split(',').filter(Boolean);
  if (process.env.OPENBLAS_CORETYPE) return [process.env.OPENBLAS_CORETYPE];
  return ownCore === 'Prescott' && process.platform === 'linux' && process.arch === 'x64' && hasAvx2Fma() ? ['default', 'Haswell'] : ['default'];
}

// One table: every setup with the same OPENBLAS_CORETYPE (unset for 'default').
function table(coretype, ownCore, { rounds, epochs, variants, threads, work, job }) {
  const env = { ...process.env };
  delete env.OPENBLAS_CORETYPE;
  if (coretype !== 'default') env.OPENBLAS_CORETYPE = coretype;
  const demo = path.join(root, 'packages', 'cli', 'dist', 'main.js');
  const setting = coretype === 'default'
    ? `OPENBLAS_CORETYPE unset on both sides: OpenBLAS's own choice (${ownCore || 'not OpenBLAS'} kernels)`
    : `OPENBLAS_CORETYPE=${coretype} on both sides`;
  console.log('');
  console.log(`${setting}; load average ${os.loadavg().map((x) => x.toFixed(2)).join(' ')} at the start`);
  const times = { pairloss: [] };
  const facts = {};
  for (const v of variants) times[v] = [];
  for (let r = 0; r < rounds; r++) {
    const out = path.join(work, `pairloss-${coretype}-${r}`);
    // --blas-kernels openblas: the demo keeps the OPENBLAS_CORETYPE it is given (or none)
    const flags = ['train', '--no-progress', '--epochs', String(epochs), '--out', out, '--blas-kernels', 'openblas'];
    if (threads) flags.push('--threads', threads);
    run(process.execPath, [demo, ...flags], env);
    const summary = JSON.parse(fs.readFileSync(path.join(out, 'summary.json'), 'utf8'));
    times.pairloss.push(summary.timing.trainSeconds);
    facts.pairloss = { recall1: summary.final.recall1, recall10: summary.final.recall10, threads: summary.threads, steps: summary.stepLosses.length };
    process.stdout.write(`  round ${r + 1}: pairloss ${summary.timing.trainSeconds.toFixed(2)} s`);
    for (const v of variants) {
      const [variant, t, omp] = v.split('-');
      const venv = omp === 'passive' ? { ...env, OMP_WAIT_POLICY: 'PASSIVE' } : env;
      const argv = [path.join(__dirname, 'train_torch.py'), job, '--variant', variant, '--threads', t, '--summary', path.join(out, 'summary.json')];
      const res = JSON.parse(run(PYTHON, argv, venv).trim().split('\n').pop());
      times[v].push(res.trainSeconds);
      facts[v] = res;
      process.stdout.write(`, ${v} ${res.trainSeconds.toFixed(2)} s`);
    }
    process.stdout.write('\n');
  }
  const pairs = facts.pairloss.steps * 512;
  const fastest = variants.reduce((best, v) => (best === null || median(times[v]) < median(times[best]) ? v : best), null);
  const rows = [['setup', 'training time', 'pairs/s', 'vs fastest PyTorch', 'recall@1', 'recall@10', 'step losses vs pairloss']];
  const fmt = (x) => `${(100 * x).toFixed(1)}%`;
  const ratio = (s) => (fastest ? `${(s / median(times[fastest])).toFixed(2)}×` : '');
  const p = median(times.pairloss);
  rows.push([`pairloss-demo train (${facts.pairloss.threads} threads)`, `${p.toFixed(2)} s`, Math.round(pairs / p).toLocaleString('en-US'), ratio(p), fmt(facts.pairloss.recall1), fmt(facts.pairloss.recall10), '']);
  for (const v of variants) {
    const [variant, t, omp] = v.split('-');
    const sec = median(times[v]);
    const name = `PyTorch ${variant === 'dense' ? 'nn.Linear (dense)' : 'EmbeddingBag'}, ${t} thread${t === '1' ? '' : 's'}, OMP_WAIT_POLICY ${omp}`;
    rows.push([name, `${sec.toFixed(2)} s`, Math.round(pairs / sec).toLocaleString('en-US'), ratio(sec), fmt(facts[v].recall1), fmt(facts[v].recall10),
      `max Δ ${facts[v].stepLossMaxDiff.toExponential(1)}`]);
  }
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  console.log('');
  for (const [i, r] of rows.entries()) {
    console.log(`| ${r.map((c, j) => c.padEnd(widths[j])).join(' | ')} |`);
    if (i === 0) console.log(`|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`);
  }
  console.log('');
  if (fastest) console.log(`${setting}: pairloss-demo train ${(p / median(times[fastest])).toFixed(2)}× the training time of the fastest PyTorch setup (${fastest}).`);
}

function main() {
  const rounds = intArg('rounds', 1);
  const epochs = intArg('epochs', 4);
  const variants = (arg('variants', ALL.join(','))).split(',').filter(Boolean);
  for (const v of variants) {
    if (!ALL.includes(v)) {
      process.stderr.write(`unknown variant ${v}; one of ${ALL.join(', ')}\n`);
      process.exit(2);
    }
  }
  const threads = arg('threads');
  const ownCore = defaultCore();
  const cores = coretypes(ownCore);
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'pairloss-bench-train-'));
  const job = path.join(work, 'job');
  const load = os.loadavg().map((x) => x.toFixed(2)).join(' ');
  console.log(`bench:train — ${os.cpus().length} CPUs (${os.cpus()[0].model}), load average ${load} at the start`);
  console.log(`${epochs} epochs, batch 512, dim 64, 2048 hash buckets, seed 1; ${rounds} round(s); BLAS tables: ${cores.join(', ')} ` +
    `(OpenBLAS's own choice here: ${ownCore || 'not OpenBLAS'})`);
  run(process.execPath, [path.join(__dirname, 'train_job.js'), job, '--epochs', String(epochs)]);
  for (const coretype of cores) table(coretype, ownCore, { rounds, epochs, variants, threads, work, job });
  console.log(`load average at the end: ${os.loadavg().map((x) => x.toFixed(2)).join(' ')}`);
  fs.rmSync(work, { recursive: true, force: true });
}

main();
