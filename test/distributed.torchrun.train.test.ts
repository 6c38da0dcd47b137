// The main job under torchrun: `torchrun --nproc_per_node 2 --no_python
// node packages/cli/dist/main.js train ...` (each worker joins as a rank from
// torchrun's environment, static rendezvous) trains the same model as
// `pairloss-demo train --world-size 2`: the same step losses and held-out recall.
// Skipped without python3-torch.
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { freePort, hasPythonTorch } from './helpers/distributed';
import { hasTorchrun, QUIRKS, spawnTorchrun } from './helpers/distributed-torchrun';

const ROOT = path.resolve(__dirname, '..');
const CLI = path.join(ROOT, 'packages', 'cli', 'dist', 'main.js');
const SMALL = ['--max-pairs', '6000', '--test-size', '500', '--epochs', '5', '--batch-size', '128', '--dim', '32', '--feature-dim', '1024', '--no-progress', '--seed', '11'];

const available = hasPythonTorch() && hasTorchrun();
const maybe = available ? test : test.skip;

function newest(dir: string): number {
  let t = 0;
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    t = Math.max(t, e.isDirectory() ? newest(p) : fs.statSync(p).mtimeMs);
  }
  return t;
}

beforeAll(() => {
  // the demo's dist/ as fresh as lib/ and its sources (npm test's setup builds it too)
  const sources = Math.max(newest(path.join(ROOT, 'lib')), newest(path.join(ROOT, 'packages', 'cli', 'src')));
  if (fs.existsSync(CLI) && fs.statSync(CLI).mtimeMs >= sources) return;
  spawnSync(process.execPath, [path.join(ROOT, 'scripts', 'setup.js'), '--build-only', '--quiet'], { cwd: ROOT, timeout: 300000 });
}, 300000);

maybe('pairloss-demo train under torchrun (2 workers) gives the same run as --world-size 2', async () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'pairloss-torchrun-train-'));
  const ws2 = spawnSync(process.execPath, [CLI, 'train', ...SMALL, '--world-size', '2', '--out', path.join(tmp, 'ws2')], { cwd: ROOT, encoding: 'utf8', timeout: 180000 });
  expect({ code: ws2.status, stderr: ws2.stderr }).toEqual({ code: 0, stderr: '' });
  const port = await freePort();
  const r = await spawnTorchrun([
    '--nproc_per_node', '2', '--master_port', String(port), ...QUIRKS, '--log_dir', path.join(tmp, 'logs'),
    '--no_python', process.execPath, CLI, 'train', ...SMALL, '--out', path.join(tmp, 'torchrun'),
  ], 180000);
  expect({ code: r.code, timedOut: r.timedOut }).toEqual({ code: 0, timedOut: false });
  const a = JSON.parse(fs.readFileSync(path.join(tmp, 'ws2', 'summary.json'), 'utf8'));
  const b = JSON.parse(fs.readFileSync(path.join(tmp, 'torchrun', 'summary.json'), 'utf8'));
  expect(b.worldSize).toBe(2);
  expect(b.stepLosses).toHaveLength(a.stepLosses.length);
  // the same global batches from the same weights; torchrun's OMP_NUM_THREADS=1 may round differently
  for (let i = 0; i < a.stepLosses.length; i++) expect(Math.abs(b.stepLosses[i] - a.stepLosses[i])).toBeLessThanOrEqual(1e-4 * a.stepLosses[i]);
  expect(Math.abs(b.final.recall1 - a.final.recall1)).toBeLessThanOrEqual(0.01);
  expect(Math.abs(b.final.recall10 - a.final.recall10)).toBeLessThanOrEqual(0.01);
  console.log(`recall@1 ${a.final.recall1} (--world-size 2) vs ${b.final.recall1} (torchrun); recall@10 ${a.final.recall10} vs ${b.final.recall10}`);
  fs.rmSync(tmp, { recursive: true, force: true });
}, 400000);
