#!/usr/bin/env node
// Writes test/fixtures/parity/parity.json: the cases of test/helpers/cases.js
// for a fixed seed with PyTorch's results, computed by scripts/oracle.py on
// Debian's python3-torch, and the torch version that made them.
//   node scripts/make-fixtures.js [seed]
'use strict';
const { spawnSync } = require('child_process');
const fs = require('fs');
const path = require('path');
const { makeCases } = require('../test/helpers/cases.js');

const root = path.resolve(__dirname, '..');
const seed = Number(process.argv[2] || 20260101);
const python = process.env.PAIRLOSS_PYTHON || '/usr/bin/python3';
const cases = makeCases(seed);
const r = spawnSync(python, [path.join(root, 'scripts', 'oracle.py')], { input: JSON.stringify(cases), encoding: 'utf8', maxBuffer: 1 << 28 });
if (r.status !== 0) {
  process.stderr.write(r.stderr || String(r.error));
  process.exit(1);
}
const { torch, results } = JSON.parse(r.stdout);
const out = path.join(root, 'test', 'fixtures', 'parity', 'parity.json');
fs.mkdirSync(path.dirname(out), { recursive: true });
fs.writeFileSync(out, JSON.stringify({ torch, python, seed, generated: new Date().toISOString().slice(0, 10), cases: cases.map((c, i) => ({ ...c, expected: results[i] })) }));
console.log(`wrote ${cases.length} cases from torch ${torch} to ${path.relative(root, out)}`);
