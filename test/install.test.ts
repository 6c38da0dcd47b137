// `npm i pairloss` as a user does it: the library is packed (`npm pack`,
// whose prepack step makes the prebuilt addon), the tarball installed into a
// scratch project from npm's cache only (`npm ci --offline`, with a lockfile
// made from the repository's: no registry request), and the installed copy
// used from CommonJS, ESM and TypeScript (TypeScript 5 and 7, `tsc --init`'s
// settings, --strict), its CLI and its examples run, its file list checked;
// it installs no other package (no build tools). The demo package
// (@pairloss/cli) is packed too and installed beside it in a second scratch
// project, and its `pairloss-demo` command run there. npm 11 does not run a
// dependency's install script unless approved, so the module must load from
// what the tarball ships.
import { spawnSync, SpawnSyncOptions } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as pl from '../lib';
import { readNpyMatrix } from '../packages/cli/src/npy';
import { testIf } from './helpers/skip';

const ROOT = path.resolve(__dirname, '..');
/** The compilers a consumer is checked with: TypeScript 5 and 7 (devDependencies `typescript` and `typescript7`). */
const COMPILERS: Record<string, string> = {
  5: path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'),
  7: path.join(ROOT, 'node_modules', 'typescript7', 'bin', 'tsc'),
};
/** The consumer: the README's example, typed; it prints through globalThis so that it needs no DOM or Node types. */
const CONSUMER = [
  "import { Tensor, npairsLoss, correlationLoss, version } from 'pairloss';",
  "import { heatmapPng, heatmapSvg } from 'pairloss/heatmap';",
  'const N = 4, D = 8;',
  'const x1 = Tensor.from(Float32Array.from({ length: N * D }, Math.random), [N, D]);',
  'const x2 = Tensor.from(Float32Array.from({ length: N * D }, Math.random), [N, D]);',
  'const r = npairsLoss(x1, x2, { temperature: 0.07, symmetric: true });',
  "const bt = correlationLoss(x1, x2, { mode: 'features' });",
  'const svg: string = heatmapSvg([[1, 0], [0, 1]]);',
  // the bytes are a Uint8Array whether or not the project has Node's types
  'const png: Uint8Array | undefined = Math.random() > 2 ? heatmapPng([[1]]) : undefined;',
  // the README's example: gradients are typed as present unless grad: false
  'const g: Float32Array | Float64Array = r.grad1.data();',
  'const rows: number[][] = bt.grad2.toArray();',
  'const out = (globalThis as unknown as { console: { log(...a: unknown[]): void } }).console;',
  'out.log(version, r.loss.toFixed(4), bt.onDiagonal > 0, svg.length > 0 && g.length === N * D && rows.length === N, png === undefined);',
  '',
].join('\n');
const TAG = `${process.platform}-${process.arch}`;
let scratch: string;
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

interface Packed { tarball: string; manifest: Record<string, any>; files: string[] }

/**
 * A lockfile for a scratch project: the tarballs, and their dependencies'
 * entries taken from the repository's own package-lock.json. `npm ci
 * --offline` then installs everything from npm's cache (which the
 * repository's `npm ci` filled), with no registry request.
 */
function scratchLock(tarballs: Packed[]): object {
  const repoLock = JSON.parse(fs.readFileSync(path.join(ROOT, 'package-lock.json'), 'utf8')) as { packages: Record<string, Record<string, unknown>> };
  const ours = new Set(tarballs.map((t) => t.manifest.name as string));
  const packages: Record<string, object> = {};
  // npm's lookup: <from>/node_modules/<name>, then each folder above it
  const locate = (from: string, name: string): string => {
    for (let dir = from; ; dir = dir.includes('/node_modules/') ? dir.slice(0, dir.lastIndexOf('/node_modules/')) : '') {
      const key = `${dir ? `${dir}/` : ''}node_modules/${name}`;
      if (repoLock.packages[key]) return key;
      if (!dir) throw new Error(`${name} (needed by ${from || 'the scratch project'}) is not in package-lock.json`);
    }
  };
  const visit = (from: string, deps: Record<string, string> | undefined): void => {
    for (const name of Object.keys(deps ?? {})) {
      if (ours.has(name)) continue;
      const key = locate(from, name);
      if (packages[key]) continue;
      const { dev, devOptional, peer, ...entry } = repoLock.packages[key];
      void dev; void devOptional; void peer;
      packages[key] = entry;
      // optional ones too (resvg's per-platform packages): npm ci wants every one in the lock
      visit(key, { ...(entry.dependencies as Record<string, string>), ...(entry.optionalDependencies as Record<string, string>) });
    }
  };
  for (const t of tarballs) visit('', t.manifest.dependencies);
  const own = Object.fromEntries(tarballs.map(({ tarball, manifest: m }) => [`node_modules/${m.name}`, {
    version: m.version, resolved: `file:${path.basename(tarball)}`, hasInstallScript: m.scripts?.install ? true : undefined, license: m.license,
    dependencies: m.dependencies, bin: m.bin, engines: m.engines, peerDependencies: m.peerDependencies, peerDependenciesMeta: m.peerDependenciesMeta,
  }]));
  const dependencies = Object.fromEntries(tarballs.map((t) => [t.manifest.name, `file:${path.basename(t.tarball)}`]));
  return {
    name: 'scratch', version: '1.0.0', lockfileVersion: 3, requires: true,
    packages: { '': { name: 'scratch', version: '1.0.0', dependencies }, ...own, ...packages },
  };
}

/** `npm pack` of the package in `dir` into `dest` (its prepack step builds what it ships). */
function pack(dir: string, dest: string): Packed {
  const r = run('npm', ['pack', '--json', '--pack-destination', dest], { cwd: dir });
  if (r.code !== 0) throw new Error(`npm pack in ${dir} failed:\n${r.err}`);
  const info = JSON.parse(r.out.slice(r.out.indexOf('['))) as Array<{ filename: string; files: Array<{ path: string }> }>;
  return {
    tarball: path.join(dest, info[0].filename),
    manifest: JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8')),
    files: info[0].files.map((f) => f.path).sort(),
  };
}

/** A fresh project in `dir` depending on the tarballs (copied there), installed offline with `npm ci`. */
function project(dir: string, tarballs: Packed[]): void {
  fs.mkdirSync(dir, { recursive: true });
  for (const t of tarballs) fs.copyFileSync(t.tarball, path.join(dir, path.basename(t.tarball)));
  const dependencies = Object.fromEntries(tarballs.map((t) => [t.manifest.name, `file:${path.basename(t.tarball)}`]));
  fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name: 'scratch', version: '1.0.0', private: true, dependencies }));
  fs.writeFileSync(path.join(dir, 'package-lock.json'), JSON.stringify(scratchLock(tarballs), null, 2));
  const install = run('npm', ['ci', '--offline', '--no-audit', '--no-fund'], { cwd: dir });
  if (install.code !== 0) throw new Error(`npm ci --offline in ${dir} failed:\n${install.out}\n${install.err}`);
}

let library: Packed;
let demo: Packed;

beforeAll(() => {
  scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'pairloss-install-'));
  const tarballs = path.join(scratch, '..', `${path.basename(scratch)}-tarballs`);
  fs.mkdirSync(tarballs);
  library = pack(ROOT, tarballs);
  demo = pack(path.join(ROOT, 'packages', 'cli'), tarballs);
  packed = library.files;
  project(scratch, [library]);
  project(path.join(scratch, 'with-demo'), [library, demo]);
}, 400_000);

afterAll(() => {
  if (scratch) {
    fs.rmSync(scratch, { recursive: true, force: true });
    fs.rmSync(`${scratch}-tarballs`, { recursive: true, force: true });
  }
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
  it('installs nothing but itself: no build tools (cmake-js, node-addon-api) where the prebuild loads', () => {
    const installed = fs.readdirSync(path.join(scratch, 'node_modules')).filter((n) => !n.startsWith('.'));
    expect(installed).toEqual(['pairloss']);
    const lock = JSON.parse(fs.readFileSync(path.join(scratch, 'node_modules', '.package-lock.json'), 'utf8'));
    expect(Object.keys(lock.packages)).toEqual(['node_modules/pairloss']);
    expect(library.manifest.dependencies).toBeUndefined();
  });

  it('a source build without the build tools says the npm command that gets them, and builds nothing', () => {
    const r = node([path.join('node_modules', '.bin', 'pairloss'), 'build']);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/the build tools cmake-js and node-addon-api are not installed/);
    const wanted = library.manifest.devDependencies;
    expect(r.err).toContain(`npm install --save-dev cmake-js@${wanted['cmake-js']} node-addon-api@${wanted['node-addon-api']}`);
    expect(fs.existsSync(path.join(scratch, 'node_modules', 'pairloss', 'build', 'Release', 'pairloss.node'))).toBe(false);
    // the install step's fallback says the same when no addon loads
    const prebuilt = path.join(scratch, 'node_modules', 'pairloss', 'prebuilds');
    fs.renameSync(prebuilt, `${prebuilt}.away`);
    try {
      const install = node([path.join('node_modules', 'pairloss', 'scripts', 'install.js')]);
      expect(install.code).toBe(1);
      expect(install.err).toContain(`npm install --save-dev cmake-js@${wanted['cmake-js']} node-addon-api@${wanted['node-addon-api']}`);
    } finally {
      fs.renameSync(`${prebuilt}.away`, prebuilt);
    }
  });

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

  // A user's project as each compiler's `tsc --init` makes it (--strict is on
  // there; both write module nodenext, `types: []`, verbatimModuleSyntax,
  // exactOptionalPropertyTypes), an ES module, with nothing added: no `types`,
  // no @types/node in the project. Also with the declaration files checked
  // (`--skipLibCheck false`: a name they lack, such as Node's `Buffer`, is an
  // error there and silently `any` otherwise), TypeScript 5's node10
  // resolution (typesVersions), and with Node's types, where heatmapPng's
  // bytes are a Buffer.
  it.each(Object.keys(COMPILERS))('compiles under --strict with TypeScript %s and the settings `tsc --init` gives', (major) => {
    const tsc = COMPILERS[major];
    const dir = path.join(scratch, `ts${major}`);
    fs.mkdirSync(dir, { recursive: true });
    const version = node([tsc, '--version']).out.trim();
    expect(version).toMatch(new RegExp(`^Version ${major}\\.`));
    const init = run(process.execPath, [tsc, '--init'], { cwd: dir });
    expect([init.code, init.err]).toEqual([0, '']);
    const config = fs.readFileSync(path.join(dir, 'tsconfig.json'), 'utf8');
    expect(config).toMatch(/^\s*"strict": true/m);
    fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name: `ts${major}`, private: true, type: 'module' }));
    fs.writeFileSync(path.join(dir, 'index.ts'), CONSUMER);
    const compile = (extra: string[] = []): string => {
      const r = run(process.execPath, [tsc, '-p', 'tsconfig.json', '--outDir', 'out', ...extra], { cwd: dir });
      return `${version}${extra.length ? ` ${extra.join(' ')}` : ''}: exit ${r.code}\n${r.out}${r.err}`;
    };
    const clean = (extra: string[] = []): string => `${version}${extra.length ? ` ${extra.join(' ')}` : ''}: exit 0\n`;
    expect(compile()).toBe(clean());
    const ran = run(process.execPath, [path.join('out', 'index.js')], { cwd: dir });
    expect(ran.err).toBe('');
    expect(ran.out.trim()).toMatch(new RegExp(`^${pl.version.replace(/\./g, '\\.')} \\d+\\.\\d{4} true true true$`));
    const variants = [['--skipLibCheck', 'false']];
    if (major === '5') variants.push(['--skipLibCheck', 'false', '--module', 'commonjs', '--moduleResolution', 'node10', '--verbatimModuleSyntax', 'false']);
    for (const v of variants) expect(compile(v)).toBe(clean(v));
    // with Node's types (the repository's @types/node), heatmapPng is typed as a Buffer
    fs.writeFileSync(path.join(dir, 'buffer.ts'), "import { heatmapPng } from 'pairloss/heatmap';\nexport const b64: string = heatmapPng([[1]]).toString('base64');\n");
    const withNode = ['--skipLibCheck', 'false', '--types', 'node', '--typeRoots', path.join(ROOT, 'node_modules', '@types')];
    expect(compile(withNode)).toBe(clean(withNode));
    // and without them a Uint8Array: a Buffer's own toString('base64') is a type error there, not silently `any`
    expect(compile()).toMatch(/buffer\.ts\(2,\d+\): error TS2554/);
    fs.rmSync(path.join(dir, 'buffer.ts'));
  });

  it('runs its CLI (info, build --help) and its examples from the user\'s project', () => {
    const info = node([path.join('node_modules', '.bin', 'pairloss'), 'info']);
    expect(info.code).toBe(0);
    expect(info.out).toMatch(new RegExp(`prebuilds/${TAG}/pairloss\\.node \\(prebuild\\): loaded`));
    expect(info.out).toMatch(/^prebuilt addon +LibTorch /m);
    const help = node([path.join('node_modules', '.bin', 'pairloss'), 'build', '--help']);
    expect(help.code).toBe(0);
    expect(help.out).toMatch(/^Usage: pairloss build/m);
    // the library's command knows only its own commands; asked for the demo's, it says whose and how to run it
    const train = node([path.join('node_modules', '.bin', 'pairloss'), 'train']);
    expect(train.code).toBe(2);
    expect(train.err).toMatch(/^pairloss: train is a command of the demo, pairloss-demo \(the package @pairloss\/cli\), not of the library; run 'npx -p @pairloss\/cli pairloss-demo train'/);
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

describe('the demo package (@pairloss/cli), installed beside the library from its tarball', () => {
  const dir = (): string => path.join(scratch, 'with-demo');
  const demoRun = (args: string[]): { code: number | null; out: string; err: string } =>
    run(process.execPath, [path.join('node_modules', '.bin', 'pairloss-demo'), ...args], { cwd: dir() });

  it('ships its compiled command and nothing of the repository', () => {
    expect(demo.files).toContain('dist/main.js');
    expect(demo.files).toContain('package.json');
    expect(demo.files.filter((f) => !/^dist\/|^package\.json$|^README\.md$/.test(f))).toEqual([]);
    expect(demo.manifest.private).toBeUndefined();
    expect(demo.manifest.bin).toEqual({ 'pairloss-demo': 'dist/main.js' });
    expect(demo.manifest.dependencies.pairloss).toBe(`^${library.manifest.version}`);
  });

  it('has its own command, pairloss-demo, with train, loss and heatmap, in the library\'s help layout', () => {
    const help = demoRun(['--help']);
    expect([help.code, help.err]).toEqual([0, '']);
    expect(help.out).toMatch(/^Usage: pairloss-demo <command> \[flags\]$/m);
    for (const c of ['train', 'loss', 'heatmap']) expect(help.out).toMatch(new RegExp(`^  ${c} +\\S`, 'm'));
    const own = run(process.execPath, [path.join('node_modules', '.bin', 'pairloss'), '--help'], { cwd: dir() });
    const layout = (t: string): string[] => t.split('\n').map((l) => l.replace(/^(\S+):.*$/, '$1:').replace(/^( {2}\S+) +.*$/, '$1').replace(/pairloss(-demo)?/g, 'P'));
    expect(layout(help.out).filter((l) => !/^ {2}/.test(l))).toEqual(layout(own.out).filter((l) => !/^ {2}/.test(l)));
  });

  it('runs as the library\'s `pairloss train` says to run it (npx -p @pairloss/cli pairloss-demo), from the installed package', () => {
    const said = run(process.execPath, [path.join('node_modules', '.bin', 'pairloss'), 'train'], { cwd: dir() });
    const command = /run '(npx -p @pairloss\/cli pairloss-demo train)'/.exec(said.err)?.[1];
    expect(command).toBe('npx -p @pairloss/cli pairloss-demo train');
    const [npx, ...args] = command!.split(' ');
    const r = run(npx, ['--offline', ...args, '--help'], { cwd: dir() });
    expect([r.code, r.err]).toEqual([0, '']);
    expect(r.out).toMatch(/^pairloss-demo train: \S/);
  });

  it('computes a loss with the installed library, as the library does', () => {
    const fixtures = path.join(ROOT, 'test', 'fixtures', 'npy');
    const r = demoRun(['loss', path.join(fixtures, 'x1_f32.npy'), path.join(fixtures, 'x2_f32.npy'), '--temperature', '0.5', '--json']);
    expect([r.code, r.err]).toEqual([0, '']);
    const out = JSON.parse(r.out);
    expect(out.kind).toBe('npairs');
    const m1 = readNpyMatrix(path.join(fixtures, 'x1_f32.npy'), 'x1');
    const m2 = readNpyMatrix(path.join(fixtures, 'x2_f32.npy'), 'x2');
    const x1 = pl.Tensor.from(Float32Array.from(m1.data), [...m1.shape]);
    const x2 = pl.Tensor.from(Float32Array.from(m2.data), [...m2.shape]);
    expect(out.loss).toBe(pl.npairsLoss(x1, x2, { temperature: 0.5 }).loss);
  });

  it('trains (a short run) from the user\'s project', () => {
    const r = demoRun(['train', '--epochs', '1', '--max-pairs', '1500', '--test-size', '100', '--batch-size', '64', '--no-progress', '--out', 'run']);
    expect([r.code, r.err]).toEqual([0, '']);
    expect(r.out).toMatch(/^epoch 1\/1 +loss +\d/m);
    expect(JSON.parse(fs.readFileSync(path.join(dir(), 'run', 'summary.json'), 'utf8'))).toBeTruthy();
  }, 120_000);
});
