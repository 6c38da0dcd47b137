#!/usr/bin/env node
// pairloss's install step (package.json "install"): when an addon already
// loads -- the prebuilt one shipped in the package, or an earlier build in
// place -- there is nothing to do; otherwise build from source
// (scripts/build-addon.js) and, when that fails, print in one screen what it
// needs. In a checkout of the repository it does nothing: scripts/setup.js
// (run by npm start / npm test) installs and builds there.
//
// npm 11 runs a dependency's install script only once approved
// (`npm install-scripts approve pairloss`); without it, the package still
// loads its prebuilt addon, and the load error says what to run otherwise.
'use strict';

const { spawnSync } = require('child_process');
const fs = require('fs');
const path = require('path');
const { buildAddon } = require('./build-addon');

const root = path.resolve(__dirname, '..');

function loads() {
  // In a child process: a failed dlopen must not stay in this one, and the
  // loader's own code (dist/lib/loader.js) says where it looked.
  const loader = path.join(root, 'dist', 'lib', 'loader.js');
  if (!fs.existsSync(loader)) return { ok: false, text: '' };
  const code = `const l = require(${JSON.stringify(loader)}); const r = l.tryLoadAddon();
    process.stdout.write(JSON.stringify({ ok: r.addon !== null, path: r.path, attempts: r.attempts }));`;
  const r = spawnSync(process.execPath, ['-e', code], { encoding: 'utf8' });
  try {
    return JSON.parse(r.stdout);
  } catch {
    return { ok: false, attempts: [] };
  }
}

function main() {
  // A checkout (the tarball has no jest.config.js): scripts/setup.js builds there.
  if (process.env.PAIRLOSS_SKIP_INSTALL === '1' || fs.existsSync(path.join(root, 'jest.config.js'))) return 0;
  const found = loads();
  if (found.ok) {
    process.stderr.write(`pairloss: native addon ${path.relative(root, found.path)} loads; nothing to build\n`);
    return 0;
  }
  for (const a of found.attempts || []) process.stderr.write(`pairloss: ${path.relative(root, a.path)}: ${a.reason}\n`);
  // buildAddon says what it builds, how long that usually takes, and how long it took.
  const result = buildAddon({ quiet: true });
  if (!result.ok) {
    process.stderr.write(`\n${result.message}\n`);
    return 1;
  }
  return 0;
}

process.exitCode = main();
