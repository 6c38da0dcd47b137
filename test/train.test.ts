// The training job: its pieces against PyTorch (the towers' chain rule, Adam),
// and `pairloss-demo train` run as a user runs it, on a small slice of the
// dictionary: it learns, it is deterministic for a seed, and it writes its files.
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { PNG } from 'pngjs';
import * as pl from '../lib';
import { buildDataset, countRows, readCmudictPairs, spellingBuckets } from '../packages/cli/src/train/data';
import { recallAtK, retrievalTask } from '../packages/cli/src/train/metrics';
import { Adam, Tower } from '../packages/cli/src/train/model';
import { createRng } from '../packages/cli/src/train/rng';
import { testIf } from './helpers/skip';

const ROOT = path.resolve(__dirname, '..');
const CLI = path.join(ROOT, 'packages', 'cli', 'dist', 'main.js');
const PYTHON = process.env.PAIRLOSS_PYTHON ?? '/usr/bin/python3';


/** Builds what is stale (npm test's setup does this too). */
function ensureBuilt(): void {
  // scripts/setup.js builds what is stale: the addon, lib/ and the demo CLI package (packages/cli).
  const r = spawnSync(process.execPath, [path.join(ROOT, 'scripts', 'setup.js'), '--build-only', '--quiet'], { cwd: ROOT, encoding: 'utf8' });
  if (r.status !== 0 || !fs.existsSync(CLI)) throw new Error(`could not build the CLI:\n${r.stdout}${r.stderr}`);
}

function python(script: string, input: unknown): unknown {
  const r = spawnSync(PYTHON, ['-c', script], { input: JSON.stringify(input), encoding: 'utf8', maxBuffer: 1 << 26 });
  if (r.status !== 0) throw new Error(`python failed: ${r.stderr}`);
  return JSON.parse(r.stdout);
}

function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, rtol: number, atol: number): void {
  expect(actual.length).toBe(expected.length);
  let worst = 0;
  for (let i = 0; i < actual.length; i++) {
    const excess = Math.abs(actual[i] - expected[i]) - (atol + rtol * Math.abs(expected[i]));
    worst = Math.max(worst, excess);
  }
  expect(worst).toBeLessThanOrEqual(0);
}

interface Run { code: number | null; stdout: string; stderr: string }
/**
 * Runs the CLI. Its bound is CPU time (RLIMIT_CPU, SIGXCPU beyond it), which
 * follows the work a run does whatever else the machine runs: a SMALL run
 * takes a few CPU-seconds, 600 is a runaway. (A wall-clock timeout failed
 * two runs at load 8-20.) The wall-clock guard only catches a run that waits
 * forever without computing.
 */
const CPU_SECONDS = 600;
function cli(args: string[]): Run {
  const r = spawnSync('/bin/sh', ['-c', `ulimit -t ${CPU_SECONDS} && exec "$0" "$@"`, process.execPath, CLI, ...args],
    { cwd: ROOT, encoding: 'utf8', timeout: 30 * 60_000 });
  if (r.signal === 'SIGXCPU') throw new Error(`pairloss ${args.join(' ')} used more than ${CPU_SECONDS} CPU-seconds`);
  if (r.signal) throw new Error(`pairloss ${args.join(' ')} ended by ${r.signal} (the 30 min guard: it waited without computing)\n${r.stdout}${r.stderr}`);
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

// a small, quick slice of the dictionary
const SMALL = ['--max-pairs', '6000', '--test-size', '500', '--epochs', '5', '--batch-size', '128', '--dim', '32', '--feature-dim', '1024', '--no-progress'];

let tmp: string;
beforeAll(() => {
  ensureBuilt();
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'pairloss-train-'));
});
afterAll(() => {
  fs.rmSync(tmp, { recursive: true, force: true });
});

const TORCH_TOWERS = `
import json, sys, torch
import torch.nn.functional as F
d = json.load(sys.stdin)
def t(a, shape, grad=False):
    x = torch.tensor(a, dtype=torch.float32).reshape(shape)
    return x.requires_grad_(grad)
rows, din, h, dout = d['rows'], d['inDim'], d['hidden'], d['outDim']
x1, x2 = t(d['x1'], [rows, din]), t(d['x2'], [rows, din])
def tower(p, x):
    if h == 0:
        w = t(p['w'], [din, dout], True)
        return [w], x @ w
    w1, b1, w2 = t(p['w1'], [din, h], True), t(p['b1'], [h], True), t(p['w2'], [h, dout], True)
    return [w1, b1, w2], torch.relu(x @ w1 + b1) @ w2
p1, z1 = tower(d['spell'], x1)
p2, z2 = tower(d['pron'], x2)
logits = F.normalize(z1, dim=1) @ F.normalize(z2, dim=1).t() / d['temperature']
target = torch.arange(rows)
loss = (F.cross_entropy(logits, target) + F.cross_entropy(logits.t(), target)) / 2
loss.backward()
print(json.dumps({'loss': loss.item(), 'grads': [p.grad.flatten().tolist() for p in p1 + p2]}))
`;

describe('the towers backpropagate as PyTorch autograd does', () => {
  it.each([
    ['linear', 0],
    ['two-layer', 5],
  ])('%s towers under the symmetric N-pairs loss', (_name, hidden) => {
    const rng = createRng(3);
    const rows = 6;
    const inDim = 9;
    const outDim = 4;
    const spell = new Tower({ inDim, hidden, outDim }, rng);
    const pron = new Tower({ inDim, hidden, outDim }, rng);
    const x1 = Float32Array.from({ length: rows * inDim }, () => (rng.next() < 0.4 ? rng.next() : 0));
    const x2 = Float32Array.from({ length: rows * inDim }, () => (rng.next() < 0.4 ? rng.next() : 0));
    // the towers take CSR batches: the non-zeros of each dense row
    const csr = (x: Float32Array): pl.CsrTensor => {
      const indptr = [0];
      const indices: number[] = [];
      const values: number[] = [];
      for (let i = 0; i < rows; i++) {
        for (let j = 0; j < inDim; j++) {
          if (x[i * inDim + j] !== 0) {
            indices.push(j);
            values.push(x[i * inDim + j]);
          }
        }
        indptr.push(indices.length);
      }
      return pl.csrTensor({ indptr: Int32Array.from(indptr), indices: Int32Array.from(indices), values: Float32Array.from(values), shape: [rows, inDim] });
    };
    const c1 = csr(x1);
    const c2 = csr(x2);
    const temperature = 0.1;
    const z1 = spell.forward(c1);
    const z2 = pron.forward(c2);
    const r = pl.npairsLoss(pl.Tensor.from(z1, [rows, outDim]), pl.Tensor.from(z2, [rows, outDim]), { temperature, symmetric: true });
    spell.backward(c1, r.grad1.data() as Float32Array);
    pron.backward(c2, r.grad2.data() as Float32Array);
    const named = (t: Tower): Record<string, number[]> => Object.fromEntries(t.params.map((p) => [p.name, Array.from(p.value)]));
    const ref = python(TORCH_TOWERS, {
      rows, inDim, hidden, outDim, temperature, x1: Array.from(x1), x2: Array.from(x2), spell: named(spell), pron: named(pron),
    }) as { loss: number; grads: number[][] };
    expectClose([r.loss], [ref.loss], 1e-5, 1e-6);
    const ours = [...spell.params, ...pron.params];
    expect(ours).toHaveLength(hidden ? 6 : 2);
    ours.forEach((p, i) => expectClose(p.grad, ref.grads[i], 1e-4, 1e-6));
  });
});

describe('Adam', () => {
  it('matches torch.optim.Adam over three steps', () => {
    const value = Float32Array.from([0.5, -1, 2, 0.25]);
    const grads = [[0.1, -0.2, 0.3, 0], [1, 0.5, -0.5, 2], [-0.3, 0.2, 0.1, -1]];
    const p = { name: 'w', shape: [4], value, grad: new Float32Array(4) };
    const opt = new Adam([p], { lr: 0.01 });
    for (const g of grads) {
      p.grad.set(g);
      opt.step();
    }
    const ref = python(`
import json, sys, torch
d = json.load(sys.stdin)
w = torch.tensor(d['w'], dtype=torch.float32, requires_grad=True)
opt = torch.optim.Adam([w], lr=0.01)
for g in d['grads']:
    w.grad = torch.tensor(g, dtype=torch.float32)
    opt.step()
print(json.dumps(w.detach().tolist()))
`, { w: [0.5, -1, 2, 0.25], grads }) as number[];
    expectClose(value, ref, 1e-6, 1e-7);
  });
});

describe('data and metrics', () => {
  it('reads the CMU dictionary as one pronunciation per word, and splits it by a fixed hash', () => {
    const pairs = readCmudictPairs();
    expect(pairs.length).toBeGreaterThan(120000);
    const words = new Set(pairs.map((p) => p[0]));
    expect(words.size).toBe(pairs.length);
    expect(pairs.find((p) => p[0] === 'cat')?.[1]).toBe('K AE1 T');
    const a = buildDataset(pairs.slice(0, 3000), { testSize: 100, featureDim: 256 });
    const b = buildDataset(pairs.slice(0, 3000).reverse(), { testSize: 100, featureDim: 256 });
    // the held-out words depend on the words only, not on their order
    expect(Array.from(a.test, (i) => a.words[i]).sort()).toEqual(Array.from(b.test, (i) => b.words[i]).sort());
    expect(a.train.length + a.test.length).toBe(3000);
    const held = new Set(Array.from(a.test, (i) => a.words[i]));
    for (const i of a.train) expect(held.has(a.words[i])).toBe(false);
  });

  it('featurises into L2-normalised hashed n-gram counts', () => {
    const rows = countRows([spellingBuckets('abab', 64), spellingBuckets('abab', 64), spellingBuckets('xyz', 64)], 64);
    for (let r = 0; r < 3; r++) {
      let s = 0;
      for (let k = rows.ptr[r]; k < rows.ptr[r + 1]; k++) s += rows.val[k] ** 2;
      expect(s).toBeCloseTo(1, 6);
    }
    // the same word gives the same row; ^abab$ has 6+5+4+3 n-grams with repeats ('a', 'b', 'ab')
    expect(Array.from(rows.idx.subarray(rows.ptr[0], rows.ptr[1]))).toEqual(Array.from(rows.idx.subarray(rows.ptr[1], rows.ptr[2])));
    expect(spellingBuckets('abab', 64)).toHaveLength(18);
  });

  it('counts recall@k over distinct pronunciations, ties against the query', () => {
    const task = retrievalTask([0, 1, 2, 3], ['A', 'B', 'A', 'C']);
    expect(Array.from(task.gallery)).toEqual([0, 1, 3]);
    expect(Array.from(task.target)).toEqual([0, 1, 0, 2]);
    // queries: q0 -> item 0 (right), q1 -> item 0 (wrong), q2 -> tie between 0 and 2 (counts as wrong), q3 -> item 2 (right)
    const q = Float32Array.from([1, 0, 0, 1, 0, 0, 0.7071, 0, 0.7071, 0, 0, 1]);
    const g = Float32Array.from([1, 0, 0, 0, 1, 0, 0, 0, 1]);
    const q1 = Float32Array.from(q);
    q1.set([1, 0.1, 0], 3);
    const r = recallAtK(q1, g, 3, task.target);
    expect(r.recall1).toBe(0.5);
    expect(r.recall10).toBe(1);
    expect(r.chance1).toBeCloseTo(1 / 3, 12);
    expect(r.chance10).toBe(1);
    expect(r.meanRank).toBe((1 + 2 + 2 + 1) / 4);
  });
});

describe('pairloss-demo train', () => {
  let first: Run;
  let summary: {
    config: Record<string, unknown>;
    epochs: Array<{ epoch: number; loss: number | null; recall1: number; recall10: number; chance1: number; chance10: number; pairsPerSecond: number | null; seconds: number }>;
    final: { recall1: number; recall10: number; chance1: number; chance10: number };
    stepLosses: number[];
    heatmapBatch: { words: string[]; diagonalBefore: number; diagonalAfter: number; offDiagonalAfter: number };
    dataset: { pairs: number; train: number; heldOut: number; galleryItems: number };
    files: string[];
  };
  const out1 = (): string => path.join(tmp, 'run1');

  beforeAll(() => {
    first = cli(['train', ...SMALL, '--seed', '11', '--out', out1()]);
    if (first.code === 0) summary = JSON.parse(fs.readFileSync(path.join(out1(), 'summary.json'), 'utf8'));
  });

  it('prints the run, then loss, recall@1/@10 with chance and throughput per epoch', () => {
    expect(first.stderr).toBe('');
    expect(first.code).toBe(0);
    expect(first.stdout).toMatch(/^pairloss \S+ on LibTorch \S+ \(cpu, \d+ threads?\)$/m);
    expect(first.stdout).toMatch(/^data: CMU Pronouncing Dictionary .* 6,000 spelling\/pronunciation pairs: 5,500 train, 500 held out/m);
    expect(first.stdout).toMatch(/^model: linear towers 1024 -> 32, symmetric N-pairs loss \(temperature 0\.05\), Adam lr 0\.01, batch 128, 5 epochs, seed 11$/m);
    expect(first.stdout).toMatch(/^epoch 0\/5 +untrained +recall@1 +\S+% +recall@10 +\S+% +\(chance \S+% \/ \S+%\)$/m);
    for (let e = 1; e <= 5; e++) {
      expect(first.stdout).toMatch(new RegExp(`^epoch ${e}/5 +loss +\\d+\\.\\d{4} +recall@1 +\\S+% +recall@10 +\\S+% +\\(chance \\S+% / \\S+%\\) +[\\d,]+ pairs/s$`, 'm'));
    }
    expect(first.stdout).toMatch(/^held-out retrieval .*recall@1 \S+% \(chance \S+%\), recall@10 \S+% \(chance \S+%\)$/m);
  });

  it('learns: held-out recall@1 far above chance, loss falling', () => {
    const { final, epochs, stepLosses } = summary;
    expect(final.chance1).toBeCloseTo(1 / summary.dataset.galleryItems, 12);
    expect(final.chance1).toBeLessThan(0.0025);
    // before training: about chance; after: at least 50x chance and above 20% absolute
    expect(epochs[0].recall1).toBeLessThan(0.02);
    expect(final.recall1).toBeGreaterThan(Math.max(0.3, 50 * final.chance1));
    expect(final.recall10).toBeGreaterThan(final.recall1);
    expect(epochs[5].loss as number).toBeLessThan(epochs[1].loss as number);
    const head = stepLosses.slice(0, 5).reduce((a, b) => a + b, 0) / 5;
    const tail = stepLosses.slice(-5).reduce((a, b) => a + b, 0) / 5;
    expect(tail).toBeLessThan(head / 2);
    const steps = Math.floor(5500 / 128);
    expect(stepLosses).toHaveLength(5 * steps);
    // each epoch's record: 42 steps of 128 pairs over its own time, its loss the mean of its steps'
    for (let e = 1; e <= 5; e++) {
      const { pairsPerSecond, seconds, loss } = epochs[e] as { pairsPerSecond: number; seconds: number; loss: number };
      expect(seconds).toBeGreaterThan(0);
      expect(Math.abs(pairsPerSecond * seconds - steps * 128)).toBeLessThanOrEqual(1e-9 * steps * 128);
      const mean = stepLosses.slice((e - 1) * steps, e * steps).reduce((a, b) => a + b, 0) / steps;
      expect(Math.abs(loss - mean)).toBeLessThanOrEqual(1e-12 * Math.abs(mean));
    }
  });

  it('writes the heatmaps before/after (PNG+SVG), the loss curve and summary.json', () => {
    const files = ['heatmap-before.png', 'heatmap-before.svg', 'heatmap-after.png', 'heatmap-after.svg', 'loss.png', 'loss.svg', 'summary.json'];
    expect(summary.files.sort()).toEqual([...files].sort());
    for (const f of files) expect(fs.statSync(path.join(out1(), f)).size).toBeGreaterThan(200);
    for (const f of ['heatmap-before.png', 'heatmap-after.png', 'loss.png']) {
      const png = PNG.sync.read(fs.readFileSync(path.join(out1(), f)));
      expect(png.width).toBeGreaterThan(300);
    }
    const svg = fs.readFileSync(path.join(out1(), 'heatmap-after.svg'), 'utf8');
    expect(svg).toMatch(/^<svg[^>]*xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
    expect(svg).toContain('after 5 epochs');
    for (const w of summary.heatmapBatch.words) expect(svg).toContain(`>${w}<`);
    expect(summary.heatmapBatch.words).toHaveLength(16);
    // the diagonal lights up: matched pairs far more similar than the others
    expect(summary.heatmapBatch.diagonalAfter).toBeGreaterThan(summary.heatmapBatch.offDiagonalAfter + 0.3);
    expect(summary.heatmapBatch.diagonalAfter).toBeGreaterThan(summary.heatmapBatch.diagonalBefore);
    expect(fs.readFileSync(path.join(out1(), 'loss.svg'), 'utf8')).toContain('recall@1');
  });

  it('is deterministic for a --seed, and --seed matters', () => {
    const out2 = path.join(tmp, 'run2');
    const out3 = path.join(tmp, 'run3');
    expect(cli(['train', ...SMALL, '--seed', '11', '--out', out2]).code).toBe(0);
    expect(cli(['train', ...SMALL, '--seed', '12', '--epochs', '1', '--out', out3]).code).toBe(0);
    const again = JSON.parse(fs.readFileSync(path.join(out2, 'summary.json'), 'utf8'));
    const other = JSON.parse(fs.readFileSync(path.join(out3, 'summary.json'), 'utf8'));
    const numbers = (s: typeof summary): unknown => ({
      steps: s.stepLosses,
      epochs: s.epochs.map((e) => [e.loss, e.recall1, e.recall10]),
      heat: s.heatmapBatch,
    });
    expect(numbers(again)).toEqual(numbers(summary));
    expect(fs.readFileSync(path.join(out2, 'heatmap-after.svg'), 'utf8')).toBe(fs.readFileSync(path.join(out1(), 'heatmap-after.svg'), 'utf8'));
    expect(other.stepLosses[0]).not.toBe(summary.stepLosses[0]);
  });

  it('gives the numbers of the trainer before the training-step rebuild (dense towers, Adam in JavaScript), within 1e-5', () => {
    // recorded with commit 99364ac's trainer: the CSR towers, sparseMatmul, the native adam and the out
    // buffers change how the step computes, not what it computes
    const before = JSON.parse(fs.readFileSync(path.join(__dirname, 'fixtures', 'train', 'small-before-rebuild.json'), 'utf8')) as
      { flags: string[]; stepLosses: number[]; recall1: number; recall10: number };
    const out = path.join(tmp, 'rebuild');
    expect(cli(['train', ...before.flags, '--no-progress', '--seed', '1', '--out', out]).code).toBe(0);
    const now = JSON.parse(fs.readFileSync(path.join(out, 'summary.json'), 'utf8')) as { stepLosses: number[]; final: { recall1: number; recall10: number } };
    expect(now.stepLosses).toHaveLength(before.stepLosses.length);
    const worst = Math.max(...now.stepLosses.map((l, i) => Math.abs(l - before.stepLosses[i])));
    expect(worst).toBeLessThanOrEqual(1e-5);
    expect([now.final.recall1, now.final.recall10]).toEqual([before.recall1, before.recall10]);
  });

  it('trains with the correlation (Barlow Twins) loss too', () => {
    const out = path.join(tmp, 'corr');
    const r = cli(['train', ...SMALL, '--loss', 'correlation', '--out', out]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("Barlow Twins correlation loss (mode 'features')");
    const s = JSON.parse(fs.readFileSync(path.join(out, 'summary.json'), 'utf8'));
    expect(s.final.recall1).toBeGreaterThan(20 * s.final.chance1);
  });

  it.each([
    ['supcon', /SupCon over both views, homophones as positives too \(temperature 0\.05\)/],
    ['ntxent', /NT-Xent, SimCLR over both views \(temperature 0\.05\)/],
    ['siglip', /SigLIP sigmoid loss \(scale and bias learned from 10 and -10\)/],
    ['vicreg', /VICReg loss \(weights 25 \/ 25 \/ 1\)/],
    ['dcl', /DCL, decoupled contrastive loss over both views \(temperature 0\.05\)/],
    ['triplet', /triplet margin loss, batch-hard over both views, homophones as positives too \(margin 0\.05\)/],
  ])('trains with --loss %s', (loss, described) => {
    const out = path.join(tmp, loss);
    const r = cli(['train', ...SMALL, '--loss', loss, '--out', out]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(described);
    const s = JSON.parse(fs.readFileSync(path.join(out, 'summary.json'), 'utf8'));
    expect(s.config.loss).toBe(loss);
    expect(s.final.recall1).toBeGreaterThan(Math.max(0.3, 50 * s.final.chance1));
    expect(s.epochs[5].loss).toBeLessThan(s.epochs[1].loss);
  });

  it('rejects a slice smaller than the held-out split plus one batch in one line', () => {
    const r = cli(['train', '--max-pairs', '300', '--test-size', '100', '--batch-size', '512', '--no-progress', '--out', path.join(tmp, 'x')]);
    expect(r.code).toBe(2);
    // a usage error: the line, then the usage line
    expect(r.stderr.trimEnd().split('\n')).toEqual([expect.any(String), 'Usage: pairloss-demo train [flags]']);
    expect(r.stderr).toMatch(/^pairloss-demo train: --max-pairs 300 leaves fewer than one batch \(512\) after the 100 held-out pairs; raise --max-pairs/m);
    expect(fs.existsSync(path.join(tmp, 'x'))).toBe(false);
  });

  const groups = typeof (require(path.join(ROOT, 'build', 'Release', 'pairloss.node')) as Record<string, unknown>).processGroupConnect === 'function' &&
    pl.backends.gloo;
  testIf(!groups, 'this build has process groups with Gloo')('--world-size 2 without process groups or Gloo says why it cannot', () => {
    const r = cli(['train', ...SMALL, '--seed', '11', '--world-size', '2', '--out', path.join(tmp, 'ws2-none')]);
    expect(r.code).toBe(1);
    expect(r.stderr.trimEnd().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/^pairloss-demo train: --world-size 2: .*; (rebuild it|use a LibTorch with Gloo)/);
  });

  testIf(groups, 'this build has no process groups with Gloo')('--world-size 2 trains the same model on two Gloo ranks', () => {
    const out = path.join(tmp, 'ws2');
    const r = cli(['train', ...SMALL, '--seed', '11', '--world-size', '2', '--out', out]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/\(cpu, \d+ threads? x 2 ranks\)/);
    // one header and one line per epoch: only rank 0 prints
    expect(r.stdout.match(/^epoch 1\/5 /gm)).toHaveLength(1);
    const two = JSON.parse(fs.readFileSync(path.join(out, 'summary.json'), 'utf8'));
    expect(two.worldSize).toBe(2);
    // the global loss of the same global batch from the same weights: the first step matches one process
    expect(Math.abs(two.stepLosses[0] - summary.stepLosses[0])).toBeLessThanOrEqual(1e-5 * summary.stepLosses[0]);
    expect(two.stepLosses).toHaveLength(summary.stepLosses.length);
    // and training goes as in one process (rounding differences aside)
    expect(Math.abs(two.final.recall1 - summary.final.recall1)).toBeLessThan(0.05);
  });

  it('--world-size must divide the batch', () => {
    const r = cli(['train', ...SMALL, '--world-size', '3', '--out', path.join(tmp, 'ws3')]);
    // a usage error: the line, then the usage line
    expect(r.code).toBe(2);
    expect(r.stderr.trimEnd().split('\n')).toEqual([expect.stringMatching(/--world-size 3/), 'Usage: pairloss-demo train [flags]']);
  });

  it('asks for CUDA only where it exists', () => {
    const r = cli(['train', ...SMALL, '--epochs', '1', '--device', 'cuda', '--out', path.join(tmp, 'cuda')]);
    if (pl.cuda.isAvailable()) {
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(/\(cuda, /);
    } else {
      expect(r.code).toBe(1);
      expect(r.stderr.trimEnd().split('\n')).toHaveLength(1);
      expect(r.stderr).toMatch(/^pairloss-demo train: --device cuda: CUDA is not available .*; use --device cpu/);
    }
  });
});
