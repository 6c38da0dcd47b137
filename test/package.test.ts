// The package as a user loads it: require() and import, the typings, the
// runtime facts, and the load error's advice.
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import * as pl from '../lib';
import { binding } from '../lib/binding';
import { testIf } from './helpers/skip';

const root = path.resolve(__dirname, '..');
const main = path.join(root, 'dist', 'lib', 'index.js');

function node(args: string[], env: NodeJS.ProcessEnv = {}) {
  return spawnSync(process.execPath, args, { encoding: 'utf8', env: { ...process.env, ...env }, cwd: root });
}

describe('package', () => {
  it('loads with require() and exposes the DESIGN.md API', () => {
    const r = node(['-e', `const p = require(${JSON.stringify(main)}); console.log(JSON.stringify(Object.keys(p).sort()))`]);
    expect(r.status).toBe(0);
    const keys: string[] = JSON.parse(r.stdout);
    for (const name of ['Tensor', 'tensor', 'normalize', 'matmul', 'crossEntropy', 'batchNorm1d', 'cosineSimilarity',
      'npairsLoss', 'npairsLossAsync', 'correlationLoss', 'correlationLossAsync', 'heatmapSvg', 'heatmapPng',
      'writeHeatmap', 'version', 'torchVersion', 'cuda', 'getNumThreads', 'setNumThreads']) {
      expect(keys).toContain(name);
    }
  });

  it('loads with import (named exports from ESM)', () => {
    const code = `import { npairsLoss, torchVersion } from ${JSON.stringify(main)}; ` +
      'const r = npairsLoss([[1, 0], [0, 1]], [[1, 0], [0, 1]]); console.log(typeof npairsLoss, torchVersion, r.loss > 0);';
    const r = node(['--input-type=module', '-e', code]);
    expect(r.stderr).toBe('');
    expect(r.stdout.trim()).toMatch(/^function \d+\.\d+\.\d+ true$/);
  });

  it('ships its typings', () => {
    const manifest = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));
    expect(fs.existsSync(path.join(root, manifest.types))).toBe(true);
    const dts = fs.readFileSync(path.join(root, manifest.types), 'utf8');
    expect(dts).toMatch(/npairsLoss/);
  });

  it('reports versions, threads and CUDA', () => {
    expect(pl.version).toBe(JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')).version);
    expect(pl.torchVersion).toMatch(/^\d+\.\d+\.\d+/);
    const before = pl.getNumThreads();
    expect(before).toBeGreaterThanOrEqual(1);
    pl.setNumThreads(1);
    expect(pl.getNumThreads()).toBe(1);
    pl.setNumThreads(before);
  });

  testIf(!binding().cudaCompiled, 'this LibTorch has CUDA')('a LibTorch without CUDA reports no CUDA device', () => {
    expect(pl.cuda.isAvailable()).toBe(false);
    expect(pl.cuda.deviceCount()).toBe(0);
  });

  // the driver's own count of GPUs (all of them visible: CUDA_VISIBLE_DEVICES unset)
  const smi = spawnSync('nvidia-smi', ['-L'], { encoding: 'utf8' });
  const gpus = smi.status === 0 ? smi.stdout.split('\n').filter((l) => /^GPU \d+:/.test(l)).length : undefined;
  testIf(binding().cudaCompiled && gpus !== undefined && process.env.CUDA_VISIBLE_DEVICES === undefined,
    'needs a LibTorch with CUDA, nvidia-smi, and CUDA_VISIBLE_DEVICES unset')('a CUDA LibTorch reports the GPUs nvidia-smi lists', () => {
    expect(pl.cuda.deviceCount()).toBe(gpus);
    expect(pl.cuda.isAvailable()).toBe((gpus as number) > 0);
  });

  it('says what to do when the addon cannot be loaded', () => {
    const r = node(['-e', `require(${JSON.stringify(main)}).torchVersion`], { PAIRLOSS_ADDON: '/nonexistent/pairloss.node' });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/Could not load the pairloss native addon/);
    expect(r.stderr).toMatch(/Possible solutions/);
    expect(r.stderr).toMatch(/tried:\n {4}\/nonexistent\/pairloss\.node \(PAIRLOSS_ADDON\): not there/);
    expect(r.stderr).toMatch(/npx pairloss build/);
  });
});
