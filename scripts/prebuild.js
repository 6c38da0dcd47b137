#!/usr/bin/env node
// Makes the prebuilt addon that the package ships (run by `npm pack` /
// `npm publish` through "prepack"): build/Release/pairloss.node, stripped, as
// prebuilds/<platform>-<arch>/pairloss.node, with pairloss.json saying what it
// was built against (N-API version, LibTorch version, the shared libraries it
// links) so that the loader can say why it does not load on a machine.
'use strict';

const { spawnSync } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');

const root = path.resolve(__dirname, '..');
const addon = path.join(root, 'build', 'Release', 'pairloss.node');
if (!fs.existsSync(addon)) {
  process.stderr.write('prebuild: build/Release/pairloss.node is missing: run `npm run build` first\n');
  process.exit(1);
}
const tag = `${process.platform}-${process.arch}`;
const dir = path.join(root, 'prebuilds', tag);
fs.rmSync(path.join(root, 'prebuilds'), { recursive: true, force: true });
fs.mkdirSync(dir, { recursive: true });
const out = path.join(dir, 'pairloss.node');
fs.copyFileSync(addon, out);
spawnSync('strip', ['--strip-unneeded', out], { stdio: 'inherit' });

const readelf = spawnSync('readelf', ['-d', out], { encoding: 'utf8' });
const needed = [...(readelf.stdout || '').matchAll(/\(NEEDED\)\s+Shared library: \[([^\]]+)\]/g)].map((m) => m[1]);
const torchVersion = require(addon).torchVersion;
const manifest = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));
let builtOn = `${os.type()} ${os.release()}`;
try {
  builtOn = /^PRETTY_NAME="?([^"\n]*)/m.exec(fs.readFileSync('/etc/os-release', 'utf8'))[1];
} catch {
  // keep the kernel's name
}
const cache = fs.readFileSync(path.join(root, 'build', 'CMakeCache.txt'), 'utf8');
const info = {
  napi: manifest.binary.napi_versions[0],
  torchVersion,
  needed,
  builtOn,
  torchDir: (/^Torch_DIR:[A-Z]+=(.*)$/m.exec(cache) || [])[1] || '',
};
fs.writeFileSync(path.join(dir, 'pairloss.json'), `${JSON.stringify(info, null, 2)}\n`);
process.stderr.write(`prebuild: ${path.relative(root, out)} (${(fs.statSync(out).size / 1e6).toFixed(1)} MB), LibTorch ${torchVersion}, links ${needed.join(' ')}\n`);
