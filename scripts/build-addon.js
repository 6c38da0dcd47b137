#!/usr/bin/env node
// Builds the native addon from source in the package's own folder
// (build/Release/pairloss.node) with cmake-js, against Debian's LibTorch or
// the one that Torch_DIR / LIBTORCH_DIR name. Used by the install step
// (scripts/install.js), by `npx pairloss build` from an installed copy, and by
// scripts/setup.js in a checkout. Plain Node.js: no dependency but cmake-js
// (found with require.resolve, wherever npm put it) and node-addon-api, which
// are the repository's devDependencies and not the package's dependencies: a
// project that loads the prebuilt addon never installs them, and a source
// build without them says the npm command that gets them.
// Downloads nothing: cmake-js takes Node-API's headers from the
// node-api-headers package.
'use strict';

const { spawnSync } = require('child_process');
const fs = require('fs');
const path = require('path');

const root = path.resolve(__dirname, '..');

function have(cmd) {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
}

/** The one screen a failed build prints: what it needs and how to get it. */
function helpScreen(problem, details = []) {
  const lines = [
    `pairloss: the native addon could not be built: ${problem}`,
    ...details.map((d) => `  ${d}`),
    '',
    'It needs LibTorch (with its CMake files), cmake >= 3.18 and a C++17 compiler:',
    '  Debian/Ubuntu:   sudo apt-get install libtorch-dev libgloo-dev libopenblas0-pthread cmake g++ make',
    '  another LibTorch: LIBTORCH_DIR=/path/to/libtorch npx pairloss build   (an unpacked archive: the folder with lib/ and share/cmake/Torch)',
    '                    Torch_DIR=/path/to/share/cmake/Torch npx pairloss build',
    '  a pip torch:      Torch_DIR="$(python3 -c \'import torch; print(torch.utils.cmake_prefix_path)\')/Torch" npx pairloss build',
    '',
    'Then rebuild from your project with `npx pairloss build` (or `npm rebuild pairloss` once its install script is approved:',
    '`npm install-scripts approve pairloss`). `npx pairloss info` shows what loads and why not.',
  ];
  return lines.join('\n');
}

/** Checks Torch_DIR / LIBTORCH_DIR before CMake sees them: a wrong one is an error, never a silent fallback. */
function checkTorchDirs(env) {
  if (env.Torch_DIR) {
    const dir = env.Torch_DIR;
    if (!fs.existsSync(dir)) return `Torch_DIR=${dir} does not exist`;
    if (!fs.existsSync(path.join(dir, 'TorchConfig.cmake'))) return `Torch_DIR=${dir} holds no TorchConfig.cmake (it must be the folder .../share/cmake/Torch)`;
  } else if (env.LIBTORCH_DIR) {
    const dir = env.LIBTORCH_DIR;
    if (!fs.existsSync(dir)) return `LIBTORCH_DIR=${dir} does not exist`;
    if (!fs.existsSync(path.join(dir, 'share', 'cmake', 'Torch', 'TorchConfig.cmake'))) {
      return `LIBTORCH_DIR=${dir} holds no LibTorch (no share/cmake/Torch/TorchConfig.cmake under it)`;
    }
  }
  return null;
}

/** The npm packages a source build needs, with the versions this package was built with (its devDependencies). */
const BUILD_TOOLS = ['cmake-js', 'node-addon-api'];

/**
 * Finds cmake-js and node-addon-api the way the build does (from the
 * package's folder up, as Node resolves them). Returns { cmakeJs, missing,
 * install }: `install` is the npm command that gets what is missing.
 */
function buildTools() {
  const manifest = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));
  const wanted = (manifest.devDependencies || {});
  const found = (request) => {
    try {
      return require.resolve(request, { paths: [root] });
    } catch {
      return null;
    }
  };
  const cmakeJs = found('cmake-js/bin/cmake-js');
  const missing = [];
  if (!cmakeJs) missing.push('cmake-js');
  if (!found('node-addon-api')) missing.push('node-addon-api');
  const install = `npm install --save-dev ${BUILD_TOOLS.map((t) => (wanted[t] ? `${t}@${wanted[t]}` : t)).join(' ')}`;
  return { cmakeJs, missing, install };
}

/** What a build prints when it starts: what it does and how long it takes. */
function startLine(env) {
  const torch = env.Torch_DIR ? `Torch_DIR=${env.Torch_DIR}` : env.LIBTORCH_DIR ? `LIBTORCH_DIR=${env.LIBTORCH_DIR}` : "Debian's LibTorch";
  const cores = require('os').availableParallelism ? require('os').availableParallelism() : require('os').cpus().length;
  return `pairloss: building the native addon from source with cmake-js against ${torch} ` +
    `(usually about 1.5 minutes on 2 cores, less with more; ${cores} here)`;
}

/**
 * Builds the addon. Returns { ok, log, message }: `message` is the help
 * screen when it failed. Output goes to the terminal unless `quiet`; the
 * whole log is also written to build/build.log. Unless `announce` is false it
 * says on stderr when it starts (what, against which LibTorch, how long it
 * usually takes) and how long it took.
 */
function buildAddon({ quiet = false, env = process.env, announce = true } = {}) {
  const torchProblem = checkTorchDirs(env);
  if (torchProblem) return { ok: false, log: '', message: helpScreen(torchProblem) };
  const tools = buildTools();
  if (tools.missing.length) {
    return { ok: false, log: '', message: helpScreen(`the build tools ${tools.missing.join(' and ')} are not installed`, [
      'A source build needs them; a project that loads the prebuilt addon does not, so pairloss does not install them.',
      `Install them next to pairloss, then rebuild:  ${tools.install}`,
    ]) };
  }
  const cmakeJs = tools.cmakeJs;
  const missing = ['cmake', 'make'].filter((c) => !have(c));
  if (!have('c++') && !have('g++') && !have('clang++')) missing.push('a C++ compiler (g++ or clang++)');
  if (missing.length) return { ok: false, log: '', message: helpScreen(`missing ${missing.join(', ')}`) };
  fs.mkdirSync(path.join(root, 'build'), { recursive: true });
  if (announce) process.stderr.write(`${startLine(env)}\n`);
  const started = Date.now();
  const r = spawnSync(process.execPath, [cmakeJs, 'compile', '--CDCMAKE_BUILD_TYPE=Release'], {
    cwd: root, env, encoding: 'utf8', stdio: quiet ? 'pipe' : ['ignore', 'inherit', 'inherit'],
  });
  const log = `${r.stdout || ''}\n${r.stderr || ''}`;
  if (quiet) fs.writeFileSync(path.join(root, 'build', 'build.log'), log);
  const seconds = Math.round((Date.now() - started) / 1000);
  if (r.status === 0) {
    if (announce) process.stderr.write(`pairloss: built build/Release/pairloss.node in ${seconds} s\n`);
    return { ok: true, log, message: '' };
  }
  const details = log.split('\n').filter((l) => /CMake Error|error:|pairloss:|Could not find/i.test(l)).slice(0, 10).map((l) => l.trim());
  if (quiet) details.push(`(the whole output: ${path.join(root, 'build', 'build.log')})`);
  return { ok: false, log, message: helpScreen('the build failed', details) };
}

module.exports = { buildAddon, buildTools, checkTorchDirs, helpScreen, root };

if (require.main === module) {
  const result = buildAddon({ quiet: process.argv.includes('--quiet') });
  if (!result.ok) {
    process.stderr.write(`\n${result.message}\n`);
    process.exit(1);
  }
}
