#!/usr/bin/env node
// Prepares a checkout for `npm start`, `npm test` and `npm run bench`:
// system packages (installed when root on Debian/Ubuntu, otherwise the exact
// command is printed), `npm ci` when node_modules is missing, and the native
// and TypeScript builds when they are stale. Downloads nothing but npm and
// apt packages. Plain Node.js: it runs before any dependency is installed.
//
//   node scripts/setup.js [--build-only] [--force] [--quiet]
'use strict';

const { spawnSync } = require('child_process');
const fs = require('fs');
const path = require('path');

const root = path.resolve(__dirname, '..');
const args = new Set(process.argv.slice(2));
const force = args.has('--force');
const quiet = args.has('--quiet') || process.env.PAIRLOSS_SETUP_QUIET === '1';

// What the build, the run and the PyTorch oracle of the tests need.
const SYSTEM_PACKAGES = [
  'cmake', 'g++', 'make', 'libtorch-dev', 'libgloo-dev', 'libopenblas0-pthread',
  'python3-torch', 'python3-numpy', 'fonts-dejavu-core',
];

function log(message) {
  if (!quiet) process.stderr.write(`[pairloss setup] ${message}\n`);
}

function fail(message, help) {
  process.stderr.write(`\n[pairloss setup] ${message}\n`);
  if (help && help.length) process.stderr.write(`\nWhat to do:\n  ${help.join('\n  ')}\n\n`);
  process.exit(1);
}

function run(cmd, argv, opts = {}) {
  const r = spawnSync(cmd, argv, { cwd: root, stdio: opts.capture ? 'pipe' : 'inherit', encoding: 'utf8', env: opts.env || process.env });
  return r;
}

function have(cmd) {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
}

function customTorch() {
  return Boolean(process.env.Torch_DIR || process.env.LIBTORCH_DIR);
}

function systemPackages() {
  if (process.env.PAIRLOSS_SKIP_SYSTEM === '1') return;
  if (process.platform !== 'linux' || !have('dpkg-query')) {
    if (!customTorch()) {
      log('Not a Debian-like system: make sure LibTorch, cmake and a C++17 compiler are installed, and set Torch_DIR or LIBTORCH_DIR.');
    }
    return;
  }
  const installed = (p) => {
    const r = spawnSync('dpkg-query', ['-W', '-f=${Status}', p], { encoding: 'utf8' });
    return r.status === 0 && /install ok installed/.test(r.stdout);
  };
  // Debian's CUDA LibTorch (libtorch-cuda-dev, libgloo-cuda-dev) stands in for the CPU one.
  const alternative = { 'libtorch-dev': 'libtorch-cuda-dev', 'libgloo-dev': 'libgloo-cuda-dev' };
  const wanted = customTorch() ? SYSTEM_PACKAGES.filter((p) => !/^libtorch|^libgloo/.test(p)) : SYSTEM_PACKAGES;
  const missing = wanted.filter((p) => !installed(p) && !(alternative[p] && installed(alternative[p])));
  if (missing.length === 0) return;
  const command = `apt-get update && apt-get install -y --no-install-recommends ${missing.join(' ')}`;
  if (typeof process.getuid === 'function' && process.getuid() === 0) {
    log(`installing system packages: ${missing.join(' ')}`);
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    let r = run('apt-get', ['update', '-qq'], { env });
    if (r.status === 0) r = run('apt-get', ['install', '-y', '-q', '--no-install-recommends', ...missing], { env });
    if (r.status !== 0) fail('Installing system packages failed.', [`Run it yourself: ${command}`]);
    return;
  }
  fail(`Missing system packages: ${missing.join(' ')}`, [
    `sudo sh -c '${command}'`,
    'or, with your own LibTorch, set Torch_DIR (folder of TorchConfig.cmake) or LIBTORCH_DIR and rerun.',
  ]);
}

function npmInstall() {
  if (fs.existsSync(path.join(root, 'node_modules', '.package-lock.json')) && !force) return;
  log('installing npm dependencies (npm ci: about half a minute from a warm npm cache, a few minutes from the registry)');
  const r = run('npm', ['ci', '--no-audit', '--no-fund']);
  if (r.status !== 0) fail('npm ci failed.', ['Check your network access to the npm registry and rerun `npm ci`.']);
}

function newest(dirs, exts) {
  let latest = 0;
  const walk = (p) => {
    if (!fs.existsSync(p)) return;
    const st = fs.statSync(p);
    if (st.isDirectory()) {
      for (const e of fs.readdirSync(p)) walk(path.join(p, e));
    } else if (exts.some((e) => p.endsWith(e))) {
      latest = Math.max(latest, st.mtimeMs);
    }
  };
  dirs.forEach((d) => walk(path.join(root, d)));
  return latest;
}

function mtime(file) {
  const p = path.join(root, file);
  return fs.existsSync(p) ? fs.statSync(p).mtimeMs : 0;
}

function nativeBuild() {
  const addon = 'build/Release/pairloss.node';
  const sources = Math.max(newest(['src', 'binding'], ['.cpp', '.cc', '.h', '.hpp']), mtime('CMakeLists.txt'));
  if (!force && mtime(addon) >= sources) return;
  // buildAddon says what it builds and how long that usually takes (about 1.5 minutes on 2 cores).
  const result = require('./build-addon').buildAddon({ quiet: true, announce: !quiet });
  if (!result.ok) {
    process.stderr.write(`\n${result.message}\n`);
    process.exit(1);
  }
}

// The demo package (packages/cli) imports the library by its name: in the
// repository that is this checkout, linked as node_modules/pairloss (npm
// would install a copy of a `file:` dependency on the root with some
// versions, so the link is made here, the same with every npm).
function selfLink() {
  const link = path.join(root, 'node_modules', 'pairloss');
  let target = null;
  try {
    target = fs.readlinkSync(link);
  } catch {
    // missing, or not a link
  }
  if (target === '..') return;
  if (!fs.existsSync(path.join(root, 'node_modules'))) return;
  fs.rmSync(link, { recursive: true, force: true });
  fs.symlinkSync('..', link, 'dir');
}

// The library (lib/ -> dist/lib), then the demo CLI package, which imports it
// (packages/cli/src -> packages/cli/dist).
const TS_PROJECTS = [
  { config: 'tsconfig.json', sources: ['lib'], out: 'dist/lib/index.js' },
  { config: 'packages/cli/tsconfig.json', sources: ['lib', 'packages/cli/src'], out: 'packages/cli/dist/main.js' },
];

function tsBuild() {
  const tsc = path.join(root, 'node_modules', 'typescript', 'bin', 'tsc');
  for (const p of TS_PROJECTS) {
    if (!force && mtime(p.out) >= newest(p.sources, ['.ts'])) continue;
    log(`compiling TypeScript (${p.config}; about 20 s on 2 cores)`);
    // A clean output folder: files of moved or deleted sources must not linger (npm pack ships dist/lib).
    fs.rmSync(path.join(root, path.dirname(p.config), 'dist'), { recursive: true, force: true });
    const r = run(process.execPath, [tsc, '-p', p.config]);
    if (r.status !== 0) fail('TypeScript compilation failed (see above).', ['Fix the errors, then rerun.']);
  }
}

if (!args.has('--build-only')) {
  systemPackages();
  npmInstall();
}
nativeBuild();
selfLink();
tsBuild();
