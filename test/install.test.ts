// `npm i pairloss` as a user does it: the project is packed (`npm pack`,
// whose prepack step makes the prebuilt addon), the tarball installed into a
// scratch project from npm's cache only (`npm ci --offline`, with a lockfile
// made from the repository's: no registry request), and the installed copy
// used from CommonJS, ESM and TypeScript (`tsc --strict`), its CLI and its
// examples run, its file list checked. npm 11 does not run a dependency's
// install script unless approved, so the module must load from what the
// tarball ships.
import { spawnSync, SpawnSyncOptions } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as pl from '../lib';
import { testIf } from './helpers/skip';

const ROOT = path.resolve(__dirname, '..');
const TSC = path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
const TAG = `${process.platform}-${process.arch}`;
let scratch: string;
let tarball: string;
let packed: string[];

function run(cmd: string, args: string[], opts: SpawnSyncOptions = {}): { code: number | null; out: string; err: string } {
  const r = spawnSync(cmd, args, { cwd: scratch, encoding: 'utf8', timeout: 240_000, maxBuffer: 1 << 26, ...opts });
  return { code: r.status, out: String(r.stdout ?? ''), err: String(r.stderr ?? '') };
}

function node(args: string[], env: NodeJS.ProcessEnv = {}): { code: number | null; out: string; err: string } {
  // npm_* variables from `npm test` would point npm and node at the repository
  const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^npm_/i.test(k)));
  return run(process.execPath, args, { env: { ...clean, ...env } });
}

/**
 * A lockfile for the scratch project: the tarball, and its dependencies'
 * entries taken from the repository's own package-lock.json. `npm ci
 * --offline` then installs everything from npm's cache (which the
 * repository's `npm ci` filled), with no registry request.
 */
function scratchLock(tarballName: string): object {
  const repoLock = JSON.parse(fs.readFileSync(path.join(ROOT, 'package-lock.json'), 'utf8')) as { packages: Record<string, Record<string, unknown>> };
  const manifest = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8'));
  const packages: Record<string, object> = {};
  // npm's lookup: <from>/node_modules/<name>, then each folder above it
  const locate = (from: string, name: string): string => {
    for (let dir = from; ; dir = dir.includes('/node_modules/') ? dir.slice(0, dir.lastIndexOf('/node_modules/')) : '') {
      const key = `${dir ? `${dir}/` : ''}node_modules/${name}`;
      if (repoLock.packages[key]) return key;
      if (!dir) throw new Error(`${name} (needed by ${from || 'pairloss'}) is not in package-lock.json`);
    }
  };
  const visit = (from: string, deps: Record<string, string> | undefined): void => {
    for (const name of Object.keys(deps ?? {})) {
      const key = locate(from, name);
      if (packages[key]) continue;
      const { dev, devOptional, peer, ...entry } = repoLock.packages[key];
      void dev; void devOptional; void peer;
      packages[key] = entry;
      visit(key, entry.dependencies as Record<string, string> | undefined);
    }
  };
  visit('', manifest.dependencies);
  return {
    name: 'scratch', version: '1.0.0', lockfileVersion: 3, requires: true,
    packages: {
      '': { name: 'scratch', version: '1.0.0', dependencies: { pairloss: `file:${tarballName}` } },
      'node_modules/pairloss': {
        version: manifest.version, resolved: `file:${tarballName}`, hasInstallScript: true, license: manifest.license,
        dependencies: manifest.dependencies, bin: manifest.bin, engines: manifest.engines,
        peerDependencies: manifest.peerDependencies, peerDependenciesMeta: manifest.peerDependenciesMeta,
      },
      ...packages,
    },
  };
}

beforeAll(() => {
  scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'pairloss-install-'));
  const pack = run('npm', ['pack', '--json', '--pack-destination', scratch], { cwd: ROOT });
  if (pack.code !== 0) throw new Error(`npm pack failed:\n${pack.err}`);
  const info = JSON.parse(pack.out.slice(pack.out.indexOf('['))) as Array<{ filename: string; files: Array<{ path: string }> }>;
  tarball = path.join(scratch, info[0].filename);
  packed = info[0].files.map((f) => f.path).sort();
  const name = path.basename(tarball);
  fs.writeFileSync(path.join(scratch, 'package.json'), JSON.stringify({ name: 'scratch', version: '1.0.0', private: true, dependencies: { pairloss: `file:${name}` } }));
  fs.writeFileSync(path.join(scratch, 'package-lock.json'), JSON.stringify(scratchLock(name), null, 2));
  const install = run('npm', ['ci', '--offline', '--no-audit', '--no-fund']);
  if (install.code !== 0) throw new Error(`npm ci --offline failed:\n${install.out}\n${install.err}`);
}, 300_000);

afterAll(() => {
  if (scratch) fs.rmSync(scratch, { recursive: true, force: true });
});

describe('the tarball', () => {
  it('holds what a user needs and no CI or development files', () => {
    for (const f of ['LICENSE', 'README.md', 'package.json', 'CMakeLists.txt', 'dist/lib/index.js', 'dist/lib/index.d.ts',
      'dist/lib/heatmap.js', 'dist/lib/heatmap.d.ts', 'dist/lib/tfjs.js', 'dist/lib/tfjs.d.ts', 'dist/lib/cli/main.js', 'scripts/build-addon.js', 'scripts/install.js',
      'examples/basic.js', 'examples/distributed-train.js', `prebuilds/${TAG}/pairloss.node`, `prebuilds/${TAG}/pairloss.json`]) {
      expect(packed).toContain(f);
    }
    expect(packed.some((f) => /^src\/.*\.cpp$/.test(f))).toBe(true);
    expect(packed.some((f) => /^binding\/.*\.cc$/.test(f))).toBe(true);
    const forbidden = packed.filter((f) =>
      /^(\.ci|test|bench|packages|docs|lib)\//.test(f) || /^scripts\/(trixie|asan|gpu|setup|leak|netns|oracle|make-fixtures|prebuild)/.test(f));
    expect(forbidden).toEqual([]);
  });

  it('ships a prebuilt addon for this LibTorch, linked against libtorch_cpu', () => {
    const meta = JSON.parse(fs.readFileSync(path.join(scratch, 'node_modules', 'pairloss', 'prebuilds', TAG, 'pairloss.json'), 'utf8'));
    expect(meta.torchVersion).toBe(pl.torchVersion);
    expect(meta.needed.some((n: string) => /^libtorch_cpu\.so/.test(n))).toBe(true);
  });

  testIf(fs.existsSync('/usr/bin/dpkg'), 'no dpkg here to say which package owns each library')(
    'the prebuilt addon\'s libraries come from runtime packages (dpkg), none from a -dev package', () => {
    const meta = JSON.parse(fs.readFileSync(path.join(scratch, 'node_modules', 'pairloss', 'prebuilds', TAG, 'pairloss.json'), 'utf8'));
    expect((meta.needed as string[]).length).toBeGreaterThan(0);
    const cache = spawnSync('ldconfig', ['-p'], { encoding: 'utf8' }).stdout;
    for (const soname of meta.needed as string[]) {
      const found = new RegExp(`^\\s*${soname.replace(/[.+]/g, '\\$&')} \\(.*\\) => (\\S+)$`, 'm').exec(cache);
      expect([soname, found !== null]).toEqual([soname, true]);
      // dpkg knows a file by the path its package installed (merged /usr: /lib/... or /usr/lib/...)
      const real = fs.realpathSync(found![1]);
      const paths = [...new Set([found![1], real, real.replace(/^\/usr\/lib\//, '/lib/'), real.replace(/^\/lib\//, '/usr/lib/')])];
      const owner = spawnSync('dpkg', ['-S', ...paths], { encoding: 'utf8' }).stdout.split(':')[0];
      // e.g. libtorch1.13 or libtorch2.6 for libtorch_cpu, libc6, libstdc++6
      expect([soname, owner]).toEqual([soname, expect.not.stringMatching(/-dev$|^$/)]);
    }
  });
});

describe('the installed package', () => {
  it('loads the shipped prebuilt addon without building anything', () => {
    expect(fs.existsSync(path.join(scratch, 'node_modules', 'pairloss', 'build'))).toBe(false);
    const r = node(['-e', "const p = require('pairloss'); const r = p.npairsLoss([[1, 0.5], [0.2, 1]], [[1, 0], [0, 1]], { temperature: 0.5 }); console.log(JSON.stringify({ loss: r.loss, v: p.torchVersion }))"]);
    expect(r.err).toBe('');
    const out = JSON.parse(r.out);
    expect(out.v).toBe(pl.torchVersion);
    expect(out.loss).toBe(pl.npairsLoss([[1, 0.5], [0.2, 1]], [[1, 0], [0, 1]], { temperature: 0.5 }).loss);
  });

  it('loads from ESM, and pairloss/heatmap never loads the addon', () => {
    const esm = node(['--input-type=module', '-e', "import { npairsLoss, Tensor } from 'pairloss'; " +
      "const x = Tensor.from(new Float64Array([1, 0, 0, 1]), [2, 2]); console.log(npairsLoss(x, x).loss > 0, x.dtype)"]);
    expect(esm.err).toBe('');
    expect(esm.out.trim()).toBe('true float64');
    const heat = node(['--input-type=module', '-e', "import { heatmapSvg } from 'pairloss/heatmap'; import { readFileSync } from 'fs'; " +
      "const svg = heatmapSvg([[1, 0], [0, 1]]); console.log(svg.startsWith('<svg'), readFileSync('/proc/self/maps', 'utf8').includes('libtorch'))"]);
    expect(heat.err).toBe('');
    expect(heat.out.trim()).toBe('true false');
    const cjs = node(['-e', "require('pairloss'); console.log(require('fs').readFileSync('/proc/self/maps', 'utf8').includes('libtorch'))"]);
    expect(cjs.out.trim()).toBe('false');
  });

  it('PNG heatmaps and pairloss/tfjs say which optional package they need when it is not installed', () => {
    const r = node(['-e', "try { require('pairloss/heatmap').heatmapPng([[1]]) } catch (e) { console.log(e.message) }"]);
    expect(r.out).toMatch(/@resvg\/resvg-js, which is not installed: `npm install @resvg\/resvg-js`/);
    const tf = node(['-e', "try { require('pairloss/tfjs') } catch (e) { console.log(e.message) }"]);
    expect(tf.out).toMatch(/@tensorflow\/tfjs/);
  });

  it('compiles from TypeScript under --strict with the shipped types (node16 and node10 resolution)', () => {
    fs.writeFileSync(path.join(scratch, 'index.ts'), [
      "import { Tensor, npairsLoss, correlationLoss, version } from 'pairloss';",
      "import { heatmapSvg } from 'pairloss/heatmap';",
      'const N = 4, D = 8;',
      'const x1 = Tensor.from(Float32Array.from({ length: N * D }, Math.random), [N, D]);',
      'const x2 = Tensor.from(Float32Array.from({ length: N * D }, Math.random), [N, D]);',
      'const r = npairsLoss(x1, x2, { temperature: 0.07, symmetric: true });',
      'const bt = correlationLoss(x1, x2, { mode: \'features\' });',
      'const svg: string = heatmapSvg([[1, 0], [0, 1]]);',
      // the README's example: gradients are typed as present unless grad: false
      'const g: Float32Array | Float64Array = r.grad1.data();',
      'const rows: number[][] = bt.grad2.toArray();',
      'console.log(version, r.loss.toFixed(4), bt.onDiagonal > 0, svg.length > 0 && g.length === N * D && rows.length === N);',
      '',
    ].join('\n'));
    for (const resolution of ['node16', 'node10']) {
      const tsconfig = {
        compilerOptions: {
          strict: true, target: 'ES2022', module: resolution === 'node16' ? 'node16' : 'commonjs', moduleResolution: resolution,
          outDir: `out-${resolution}`, types: ['node'], typeRoots: [path.join(ROOT, 'node_modules', '@types')],
        },
        files: ['index.ts'],
      };
      fs.writeFileSync(path.join(scratch, 'tsconfig.json'), JSON.stringify(tsconfig));
      const tsc = node([TSC, '-p', 'tsconfig.json']);
      expect([resolution, tsc.out + tsc.err]).toEqual([resolution, '']);
      const ran = node([path.join(`out-${resolution}`, 'index.js')]);
      expect(ran.err).toBe('');
      expect(ran.out.trim()).toMatch(new RegExp(`^${pl.version.replace(/\./g, '\\.')} \\d+\\.\\d{4} true true$`));
    }
  });

  it('runs its CLI (info, build --help) and its examples from the user\'s project', () => {
    const info = node([path.join('node_modules', '.bin', 'pairloss'), 'info']);
    expect(info.code).toBe(0);
    expect(info.out).toMatch(new RegExp(`prebuilds/${TAG}/pairloss\\.node \\(prebuild\\): loaded`));
    expect(info.out).toMatch(/^prebuilt addon +LibTorch /m);
    const help = node([path.join('node_modules', '.bin', 'pairloss'), 'build', '--help']);
    expect(help.code).toBe(0);
    expect(help.out).toMatch(/^Usage: pairloss build/);
    const demo = node([path.join('node_modules', '.bin', 'pairloss'), 'train']);
    expect(demo.code).toBe(2);
    expect(demo.err).toMatch(/@pairloss\/cli, which is not installed/);
    const example = node([path.join('node_modules', 'pairloss', 'examples', 'basic.js')]);
    expect(example.err).toBe('');
    expect(example.out).toMatch(/^N-pairs loss \d/m);
    expect(fs.existsSync(path.join(scratch, 'similarity.svg'))).toBe(true);
  });

  it('its install step finds the prebuilt addon and builds nothing', () => {
    const r = node([path.join('node_modules', 'pairloss', 'scripts', 'install.js')]);
    expect(r.code).toBe(0);
    expect(r.err).toMatch(new RegExp(`native addon prebuilds/${TAG}/pairloss\\.node loads; nothing to build`));
  });

  it('says every path tried and what to run when no addon loads', () => {
    const prebuilt = path.join(scratch, 'node_modules', 'pairloss', 'prebuilds');
    fs.renameSync(prebuilt, `${prebuilt}.away`);
    try {
      const r = node(['-e', "require('pairloss').npairsLoss([[1]], [[1]])"]);
      expect(r.code).not.toBe(0);
      expect(r.err).toMatch(/Could not load the pairloss native addon/);
      expect(r.err).toMatch(/build\/Release\/pairloss\.node \(build\): not there/);
      expect(r.err).toMatch(new RegExp(`prebuilds/${TAG}/pairloss\\.node \\(prebuild\\): not there`));
      expect(r.err).toMatch(/npx pairloss build/);
      expect(r.err).toMatch(/npm install-scripts approve pairloss/);
      const info = node([path.join('node_modules', '.bin', 'pairloss'), 'info']);
      expect(info.code).toBe(1);
      expect(info.out).toMatch(/No native addon loads\. Possible solutions:/);
    } finally {
      fs.renameSync(`${prebuilt}.away`, prebuilt);
    }
  });

  it('a LIBTORCH_DIR or Torch_DIR that holds no LibTorch is a build error naming it, not a fallback', () => {
    const pkg = path.join(scratch, 'node_modules', 'pairloss');
    const r = node([path.join('node_modules', '.bin', 'pairloss'), 'build'], { LIBTORCH_DIR: '/nonexistent/libtorch' });
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/LIBTORCH_DIR=\/nonexistent\/libtorch does not exist/);
    const t = node([path.join('node_modules', '.bin', 'pairloss'), 'build'], { Torch_DIR: scratch });
    expect(t.code).toBe(1);
    expect(t.err).toMatch(new RegExp(`Torch_DIR=${scratch.replace(/[.]/g, '\\.')} holds no TorchConfig\\.cmake`));
    expect(fs.existsSync(path.join(pkg, 'build', 'Release', 'pairloss.node'))).toBe(false);
  });
});
