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
  log('installing npm dependencies (npm ci)');
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
  log('building the native addon (cmake-js; a few minutes the first time)');
  fs.mkdirSync(path.join(root, 'build'), { recursive: true });
  const cmakeJs = path.join(root, 'node_modules', 'cmake-js', 'bin', 'cmake-js');
  const r = run(process.execPath, [cmakeJs, 'compile', '--CDCMAKE_BUILD_TYPE=Release'], { capture: true });
  fs.writeFileSync(path.join(root, 'build', 'build.log'), `${r.stdout || ''}\n${r.stderr || ''}`);
  if (r.status !== 0) {
    const out = `${r.stdout || ''}\n${r.stderr || ''}`;
    const errors = out.split('\n').filter((l) => /error|Could not find|not found/i.test(l)).slice(0, 12);
    const help = [];
    if (/Torch/.test(out) && /find_package|TorchConfig|Could not find/.test(out)) {
      help.push('LibTorch was not found: `sudo apt-get install libtorch-dev libgloo-dev libopenblas0-pthread`,');
      help.push('or point the build at yours: Torch_DIR=/path/to/share/cmake/Torch (or LIBTORCH_DIR=/path/to/libtorch) npm run build');
    } else if (/CMAKE_CXX_COMPILER|No CMAKE_CXX/.test(out)) {
      help.push('No C++ compiler: `sudo apt-get install g++ cmake make`.');
    } else {
      help.push('See build/build.log for the full output; rebuild with `npm run build`.');
    }
    fail(`The native build failed:\n  ${errors.join('\n  ')}`, help);
  }
}

function tsBuild() {
  const out = 'dist/lib/index.js';
  if (!force && mtime(out) >= newest(['lib'], ['.ts'])) return;
  log('compiling TypeScript');
  const tsc = path.join(root, 'node_modules', 'typescript', 'bin', 'tsc');
  const r = run(process.execPath, [tsc, '-p', 'tsconfig.json']);
  if (r.status !== 0) fail('TypeScript compilation failed (see above).', ['Fix the errors, then rerun.']);
}

if (!args.has('--build-only')) {
  systemPackages();
  npmInstall();
}
nativeBuild();
tsBuild();
